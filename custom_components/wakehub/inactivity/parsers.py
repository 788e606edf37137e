"""Parsers for the fixed read-only commands run over a machine's SSH connection.

- ``ss -Htn state established`` (iproute2): one line per established TCP
  connection, ``Recv-Q Send-Q Local:Port Peer:Port``; with a single state
  filter ``ss`` leaves the State column out, and ``-H`` the header.
- ``cat /proc/stat /proc/meminfo`` (proc(5)): the first ``cpu`` line gives the
  cumulative jiffies per mode; ``MemTotal`` and ``MemAvailable`` give the RAM
  in use.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .counters import counter_delta

if TYPE_CHECKING:
    from collections.abc import Collection

SS_COMMAND = "ss -Htn state established"
PROC_COMMAND = "cat /proc/stat /proc/meminfo"


def _port(address: str) -> int | None:
    _, _, port = address.rpartition(":")
    return int(port) if port.isdigit() else None


def count_connections(
    output: str, ports: Collection[int] = (), exclude: Collection[int] = ()
) -> int:
    """Count the established connections whose local port is in ``ports``.

    Empty ``ports`` counts every connection. ``exclude`` leaves local ports
    out (the SSH connection WakeHub reads this through is not activity).
    """
    count = 0
    for line in output.splitlines():
        fields = line.split()
        if len(fields) < 4:
            continue
        port = _port(fields[2])
        if port is None or port in exclude:
            continue
        if not ports or port in ports:
            count += 1
    return count


@dataclass(frozen=True, slots=True)
class CpuTimes:
    """Cumulative jiffies from ``/proc/stat``'s ``cpu`` line."""

    busy: int
    total: int


def parse_proc(output: str) -> tuple[CpuTimes | None, float | None]:
    """Return the CPU times and the RAM in use (percent) from :data:`PROC_COMMAND`."""
    cpu: CpuTimes | None = None
    mem: dict[str, int] = {}
    for line in output.splitlines():
        fields = line.split()
        if not fields:
            continue
        if fields[0] == "cpu" and cpu is None:
            values = [int(value) for value in fields[1:] if value.isdigit()]
            if len(values) >= 4:
                # user nice system idle iowait ...: idle and iowait are not busy.
                idle = values[3] + (values[4] if len(values) > 4 else 0)
                cpu = CpuTimes(busy=sum(values) - idle, total=sum(values))
        elif fields[0] in ("MemTotal:", "MemAvailable:") and fields[-2].isdigit():
            mem[fields[0]] = int(fields[-2])
    total, available = mem.get("MemTotal:"), mem.get("MemAvailable:")
    ram = None
    if total and available is not None:
        ram = 100.0 * (total - available) / total
    return cpu, ram


def cpu_percent(previous: CpuTimes | None, current: CpuTimes | None) -> float | None:
    """Return the CPU use between two readings, or ``None`` without a delta.

    Jiffies that went back (a reboot) give no figure either.
    """
    if previous is None or current is None:
        return None
    total = counter_delta(previous.total, current.total)
    busy = counter_delta(previous.busy, current.busy)
    if not total or busy is None:
        return None
    return min(100.0, 100.0 * busy / total)
