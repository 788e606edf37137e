"""Idle-time accounting for one node's rule, from monotonic samples.

The timer adds the time between two consecutive idle samples; any active
sample resets it. It is suspended while a dependent of the node is active or
while a cascade involves the node; an explicit start resets it. When the idle
time reaches the period the timer is *due* once, and counts again from zero
(a refused proposal or a failed stop gets another full period).

Restart semantics: :meth:`IdleTimer.as_dict` keeps the elapsed idle time, not
the monotonic baseline. A restored timer takes its first sample as a new
baseline, so the time Home Assistant was down is not counted as idle, the
count does not start over, and a timer restored at or past its period is due
only after one more idle interval, never at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from collections.abc import Mapping

STORAGE_VERSION: Final = 1
DEFAULT_MAX_STEP_S: Final = 300.0
"""The most one interval adds: a stalled loop or a suspended host is no proof
of idleness."""


class Suspension(StrEnum):
    """Why a rule is not counting."""

    DEPENDENT_ACTIVE = "dependent_active"
    CASCADE = "cascade"


class TimerState(StrEnum):
    """What the timer says after a sample."""

    ACTIVE = "active"
    IDLE = "idle"
    SUSPENDED = "suspended"
    DUE = "due"


@dataclass(frozen=True, slots=True)
class TimerStatus:
    """The timer after one sample."""

    state: TimerState
    idle_s: float
    period_s: float
    suspension: Suspension | None = None

    @property
    def remaining_s(self) -> float:
        """Seconds of idleness still needed before the node is due."""
        return max(0.0, self.period_s - self.idle_s)

    @property
    def due(self) -> bool:
        """Whether this sample completed the period."""
        return self.state is TimerState.DUE


class IdleTimer:
    """Counts a node's idle time against its rule's period."""

    __slots__ = ("_idle_s", "_last", "_max_step_s", "period_s")

    def __init__(
        self,
        period_s: float,
        *,
        idle_s: float = 0.0,
        max_step_s: float = DEFAULT_MAX_STEP_S,
    ) -> None:
        """Start a timer, optionally with idle time already counted."""
        if period_s <= 0:
            raise ValueError("the period must be positive")
        self.period_s = period_s
        self._max_step_s = max_step_s
        self._idle_s = max(0.0, min(idle_s, period_s))
        self._last: float | None = None

    @property
    def idle_s(self) -> float:
        """The idle time counted so far, in seconds."""
        return self._idle_s

    def status(self, suspension: Suspension | None = None) -> TimerStatus:
        """Return the current status without taking a sample."""
        if suspension is not None:
            return TimerStatus(
                TimerState.SUSPENDED, self._idle_s, self.period_s, suspension
            )
        state = TimerState.IDLE if self._idle_s > 0 else TimerState.ACTIVE
        return TimerStatus(state, self._idle_s, self.period_s)

    def observe(
        self, now: float, *, idle: bool, suspension: Suspension | None = None
    ) -> TimerStatus:
        """Take one sample at monotonic time ``now``.

        ``idle`` is the sample's verdict. A suspension keeps the count where
        it is, except an active dependent, which uses the node: that resets it.
        """
        last, self._last = self._last, now
        if suspension is not None:
            if suspension is Suspension.DEPENDENT_ACTIVE:
                self._idle_s = 0.0
            return self.status(suspension)
        if not idle:
            self._idle_s = 0.0
            return TimerStatus(TimerState.ACTIVE, 0.0, self.period_s)
        if last is None:
            return TimerStatus(TimerState.IDLE, self._idle_s, self.period_s)
        self._idle_s += min(max(0.0, now - last), self._max_step_s)
        if self._idle_s >= self.period_s:
            self._idle_s = 0.0
            return TimerStatus(TimerState.DUE, self.period_s, self.period_s)
        return TimerStatus(TimerState.IDLE, self._idle_s, self.period_s)

    def with_period(self, period_s: float) -> IdleTimer:
        """The same count against another period (the rule changed)."""
        timer = IdleTimer(period_s, idle_s=self._idle_s, max_step_s=self._max_step_s)
        timer._last = self._last
        return timer

    def reset(self) -> None:
        """Start the count over (activity, an explicit start, the node off)."""
        self._idle_s = 0.0
        self._last = None

    def as_dict(self) -> dict[str, Any]:
        """Return what survives a restart: the idle time, not the baseline."""
        return {"version": STORAGE_VERSION, "idle_s": round(self._idle_s, 3)}

    @classmethod
    def restore(
        cls,
        data: Mapping[str, Any] | None,
        period_s: float,
        *,
        max_step_s: float = DEFAULT_MAX_STEP_S,
    ) -> IdleTimer:
        """Rebuild a timer from :meth:`as_dict`; unknown data starts at zero.

        The idle time is capped at the period (which may have been shortened
        meanwhile); the first sample only sets the baseline.
        """
        idle_s = 0.0
        if data and data.get("version") == STORAGE_VERSION:
            try:
                idle_s = float(data.get("idle_s", 0.0))
            except (TypeError, ValueError):
                idle_s = 0.0
        return cls(period_s, idle_s=idle_s, max_step_s=max_step_s)
