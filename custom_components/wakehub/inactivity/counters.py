"""Rates from cumulative byte counters (Proxmox netin/netout, Docker rx/tx).

Counters only grow while the node runs; one that goes back means the node (or
its network interface) restarted and counts from zero again. That is not
activity: the reading is :attr:`~.rule.Note.COUNTER_RESET` and the new value
becomes the baseline.
"""

from __future__ import annotations

from dataclasses import dataclass

from .rule import Note


def counter_delta(previous: int, current: int) -> int | None:
    """Return how much a counter grew, or ``None`` when it went back."""
    if current < previous:
        return None
    return current - previous


@dataclass(slots=True)
class CounterRate:
    """Bytes per minute between consecutive samples of one counter.

    ``now`` is a monotonic time in seconds. The baseline is not persisted: a
    monotonic clock means nothing after a restart, so the first sample after
    one is a new baseline (:attr:`~.rule.Note.BASELINE`, not activity).
    """

    _value: int | None = None
    _at: float | None = None

    def update(self, value: int | None, now: float) -> float | Note:
        """Take a new counter value; return the rate since the previous one."""
        if value is None:
            return Note.UNKNOWN
        previous, at = self._value, self._at
        self._value, self._at = value, now
        if previous is None or at is None:
            return Note.BASELINE
        delta = counter_delta(previous, value)
        if delta is None:
            return Note.COUNTER_RESET
        elapsed = now - at
        if elapsed <= 0:
            return Note.BASELINE
        return delta * 60.0 / elapsed

    def clear(self) -> None:
        """Forget the baseline (the node went off)."""
        self._value = self._at = None
