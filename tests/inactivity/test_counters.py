"""Counter deltas and rates, and the fixed SSH commands' parsers."""

from __future__ import annotations

import pytest

from custom_components.wakehub.inactivity import CounterRate, Note, counter_delta
from custom_components.wakehub.inactivity.parsers import (
    CpuTimes,
    count_connections,
    cpu_percent,
    parse_proc,
)


def test_counter_delta() -> None:
    """A counter that goes back (a reboot) has no delta."""
    assert counter_delta(100, 250) == 150
    assert counter_delta(100, 100) == 0
    assert counter_delta(100, 5) is None


def test_rate_in_bytes_per_minute() -> None:
    """The rate between two samples, per minute of monotonic time."""
    rate = CounterRate()
    assert rate.update(1_000, 0.0) is Note.BASELINE
    assert rate.update(1_600, 30.0) == 1_200.0
    assert rate.update(1_600, 30.0) is Note.BASELINE  # no time passed
    assert rate.update(None, 60.0) is Note.UNKNOWN


def test_reboot_is_not_activity_and_rebases() -> None:
    """After a counter went back, the next rate is from the new value."""
    rate = CounterRate()
    rate.update(10_000_000, 0.0)
    assert rate.update(2_000, 60.0) is Note.COUNTER_RESET
    assert rate.update(2_600, 120.0) == 600.0


def test_clear_forgets_the_baseline() -> None:
    """A node that went off starts with a new baseline."""
    rate = CounterRate()
    rate.update(1, 0.0)
    rate.clear()
    assert rate.update(5_000_000, 60.0) is Note.BASELINE


SS_OUTPUT = """\
0      0      192.168.1.20:22      192.168.1.2:40212
0      0      192.168.1.20:445     192.168.1.30:51234
0      36     192.168.1.20:445     192.168.1.31:51240
0      0      [::ffff:192.168.1.20]:8096 [::ffff:192.168.1.40]:60000
0      0      192.168.1.20:51000   192.168.1.10:2049
garbage
0 0 nonsense peer
"""


@pytest.mark.parametrize(
    ("ports", "exclude", "count"),
    [
        ((445,), (), 2),
        ((8096,), (), 1),
        ((445, 8096), (22,), 3),
        ((), (22,), 4),
        ((), (), 5),
        ((3306,), (), 0),
    ],
)
def test_count_connections(
    ports: tuple[int, ...], exclude: tuple[int, ...], count: int
) -> None:
    """Local ports of ``ss -Htn state established``, IPv4 and IPv6."""
    assert count_connections(SS_OUTPUT, ports, exclude) == count


PROC_OUTPUT = """\
cpu  4705 356 584 3699 23 0 10 0 0 0
cpu0 1393280 32966 572056 13343292 6130 0 17875 0 23933 0
intr 1462898
MemTotal:       16000000 kB
MemFree:         1000000 kB
MemAvailable:   12000000 kB
"""


def test_parse_proc() -> None:
    """The first ``cpu`` line and the RAM in use."""
    cpu, ram = parse_proc(PROC_OUTPUT)
    assert cpu == CpuTimes(busy=4705 + 356 + 584 + 10, total=9377)
    assert ram == 25.0


def test_parse_proc_without_figures() -> None:
    """Missing lines give no figure rather than a wrong one."""
    assert parse_proc("cpu 1 2\n\nMemTotal: x kB\n") == (None, None)


def test_cpu_percent_between_readings() -> None:
    """Busy jiffies over all jiffies between two readings."""
    assert cpu_percent(CpuTimes(100, 1000), CpuTimes(150, 2000)) == 5.0
    assert cpu_percent(None, CpuTimes(1, 2)) is None
    assert cpu_percent(CpuTimes(1, 2), CpuTimes(1, 2)) is None
    assert cpu_percent(CpuTimes(500, 9000), CpuTimes(10, 200)) is None
