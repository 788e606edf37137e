"""Per-node usage figures: CPU, RAM, network counters, established connections.

Every node has defaults that read as idle (low CPU, a quarter of its RAM,
slowly growing network counters, no connection); ``POST /metrics`` on the
control API overrides them (``Node.metrics``), so tests can drive a node's
inactivity. The figures are served where a real homelab serves them:

* Proxmox VE ``GET /cluster/resources`` (pve-manager ``PVE/API2/Cluster.pm``,
  ``resources``): ``cpu`` is the fraction of the guest's ``maxcpu`` in use,
  ``mem``/``maxmem`` bytes, ``netin``/``netout`` cumulative bytes since the
  guest started (they restart from zero with it); ``node`` entries carry
  ``cpu``, ``mem`` and ``maxmem`` only.
* Docker Engine API ``GET /containers/{id}/stats?stream=false`` (API 1.43,
  ``ContainerStats``): ``cpu_stats``/``precpu_stats`` in nanoseconds (the CLI
  computes ``cpu_delta / system_delta * online_cpus * 100``),
  ``memory_stats.usage``/``limit`` and per-interface ``networks`` rx/tx bytes.
  The stream itself is not simulated: one document, as ``stream=false``.
* Over SSH, two fixed read-only commands: ``ss -Htn state established``
  (iproute2: ``Recv-Q Send-Q Local:Port Peer:Port``, no header, no State
  column with a single state filter), which lists the SSH session it runs in
  too, as the real one does; and ``cat /proc/stat /proc/meminfo`` (proc(5):
  cumulative jiffies at 100 Hz per CPU, ``MemTotal``/``MemAvailable`` in kB).

Override keys (``null`` restores the default): ``cpu`` (fraction 0-1),
``mem`` (bytes), ``netin``/``netout`` (the counters' values; a value below the
previous one is a reboot's reset), ``connections`` (a list of local ports or
of ``{"port", "peer"}``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Final

from .model import Node, wall_time

KEYS: Final = ("cpu", "mem", "netin", "netout", "connections")
SS_WORDS: Final = ["ss", "-Htn", "state", "established"]
PROC_WORDS: Final = ["cat", "/proc/stat", "/proc/meminfo"]
HZ: Final = 100
CONTAINER_MEM: Final = 64 * 1024**2
NET_IN_PER_S: Final = 1200
NET_OUT_PER_S: Final = 800
_BUSY: Final = "_busy"  # (jiffies at, wall time at, boot wall time)


def cpu(node: Node) -> float:
    """The node's CPU use, a fraction of its CPUs."""
    value = node.metrics.get("cpu")
    if value is not None:
        return float(value)
    if not node.is_up:
        return 0.0
    if node.is_machine:
        return 0.01
    if node.kind == "container":
        return 0.005
    return round(0.013 + (node.vmid or 0) % 7 / 1000, 4)


def mem(node: Node, maxmem: int) -> int:
    """The node's RAM in use, in bytes."""
    value = node.metrics.get("mem")
    if value is not None:
        return int(value)
    if not node.is_up:
        return 0
    if node.is_machine:
        return maxmem // 5
    if node.kind == "container":
        return CONTAINER_MEM
    return maxmem // 4


def counter(node: Node, key: str) -> int:
    """``netin`` or ``netout``: bytes since the node came up, or the override."""
    value = node.metrics.get(key)
    if value is not None:
        return int(value)
    per_s = NET_IN_PER_S if key == "netin" else NET_OUT_PER_S
    return per_s * node.uptime() if node.is_up else 0


def set_metrics(node: Node, values: dict[str, Any]) -> None:
    """Apply ``POST /metrics`` overrides; ``None`` restores a default."""
    unknown = set(values) - set(KEYS)
    if unknown:
        raise ValueError(f"unknown metrics: {sorted(unknown)}")
    if "cpu" in values:
        # Keep /proc/stat's busy jiffies continuous across a change of slope.
        node.metrics[_BUSY] = (_busy_jiffies(node), wall_time(), node.started_wall)
    for key, value in values.items():
        if value is None:
            node.metrics.pop(key, None)
        elif key == "connections":
            node.metrics[key] = [_connection(item) for item in value]
        elif key == "cpu":
            if not 0 <= float(value) <= 1:
                raise ValueError("cpu is a fraction 0-1")
            node.metrics[key] = float(value)
        else:
            node.metrics[key] = int(value)


def public(node: Node) -> dict[str, Any]:
    """The overrides, as the control API shows them."""
    return {key: value for key, value in node.metrics.items() if key in KEYS}


def _connection(item: Any) -> tuple[int, str]:
    if isinstance(item, dict):
        return int(item["port"]), str(item.get("peer", "192.168.1.50:50000"))
    return int(item), "192.168.1.50:50000"


def _busy_jiffies(node: Node) -> float:
    if not node.is_up:
        return 0.0
    now = wall_time()
    base, at, boot = node.metrics.get(_BUSY, (0.0, node.started_wall, None))
    if boot != node.started_wall:
        base, at = 0.0, node.started_wall
    return base + cpu(node) * max(0.0, now - at) * HZ * node.maxcpu


def proc_output(node: Node) -> str:
    """``cat /proc/stat /proc/meminfo``."""
    total = int(max(0.0, wall_time() - node.started_wall) * HZ * node.maxcpu)
    busy = min(total, int(_busy_jiffies(node)))
    user, system = busy * 3 // 4, busy - busy * 3 // 4
    idle = total - busy
    mem_kb = node.maxmem // 1024
    used_kb = mem(node, node.maxmem) // 1024
    return (
        f"cpu  {user} 0 {system} {idle} 0 0 0 0 0 0\n"
        f"intr 0\nctxt 0\nbtime {int(node.started_wall)}\n"
        f"MemTotal:       {mem_kb} kB\n"
        f"MemFree:        {max(0, mem_kb - used_kb - 1024)} kB\n"
        f"MemAvailable:   {max(0, mem_kb - used_kb)} kB\n"
    )


def ss_output(node: Node, session: tuple[str, str] | None) -> str:
    """``ss -Htn state established``: the overrides, then the SSH session."""
    lines = [
        f"0      0      192.168.1.20:{port}      {peer}"
        for port, peer in node.metrics.get("connections", ())
    ]
    if session is not None:
        lines.append(f"0      0      {session[0]}      {session[1]}")
    return "".join(f"{line}\n" for line in lines)


def _iso(epoch: float) -> str:
    if epoch <= 0:
        return "0001-01-01T00:00:00Z"
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def docker_stats(container: Node, host: Node) -> dict[str, Any]:
    """One ``GET /containers/{id}/stats?stream=false`` document."""
    up = container.is_up
    now = wall_time()
    cpus = host.maxcpu
    ns = 1_000_000_000

    def cpu_stats(at: float) -> dict[str, Any]:
        if not up:
            return {"cpu_usage": {"total_usage": 0}, "throttling_data": {}}
        # One second of head start keeps precpu_stats (a second earlier)
        # meaningful for a container started less than a second ago.
        running = max(0.0, at - container.started_wall + 1.0)
        system = int(at * ns * cpus)
        total = int(cpu(container) * running * ns * cpus)
        return {
            "cpu_usage": {
                "total_usage": total,
                "usage_in_kernelmode": total // 4,
                "usage_in_usermode": total - total // 4,
            },
            "system_cpu_usage": system,
            "online_cpus": cpus,
            "throttling_data": {
                "periods": 0,
                "throttled_periods": 0,
                "throttled_time": 0,
            },
        }

    document: dict[str, Any] = {
        "read": _iso(now if up else 0),
        "preread": _iso(now - 1 if up else 0),
        "id": container.container_id,
        "name": f"/{container.name}",
        "num_procs": 0,
        "pids_stats": {"current": 4 if up else 0},
        "blkio_stats": {"io_service_bytes_recursive": None},
        "cpu_stats": cpu_stats(now),
        "precpu_stats": cpu_stats(now - 1),
        "memory_stats": (
            {
                "usage": mem(container, host.maxmem),
                "limit": host.maxmem,
                "stats": {"inactive_file": 0},
            }
            if up
            else {}
        ),
    }
    if up:
        document["networks"] = {
            "eth0": {
                "rx_bytes": counter(container, "netin"),
                "rx_packets": 0,
                "rx_errors": 0,
                "rx_dropped": 0,
                "tx_bytes": counter(container, "netout"),
                "tx_packets": 0,
                "tx_errors": 0,
                "tx_dropped": 0,
            }
        }
    return document
