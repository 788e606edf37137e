"""Inactivity rules: when an idle node is shut down (pure, no Home Assistant).

:mod:`.rule` holds a node's rule and evaluates one sample; :mod:`.counters`
turns byte counters into rates; :mod:`.timer` counts the idle time, with its
suspensions and what survives a restart. The integration feeds them states
and channel reads and acts on a due timer (a stop cascade or a proposal).
"""

from __future__ import annotations

from .counters import CounterRate, counter_delta
from .rule import (
    DEFAULT_CPU_PERCENT,
    DEFAULT_MINUTES,
    DEFAULT_NETWORK_BYTES_PER_MINUTE,
    DEFAULT_RAM_PERCENT,
    Criterion,
    EntitySignal,
    Note,
    Reading,
    Rule,
    Sample,
    SignalKind,
    Verdict,
    evaluate,
)
from .timer import IdleTimer, Suspension, TimerState, TimerStatus

__all__ = [
    "DEFAULT_CPU_PERCENT",
    "DEFAULT_MINUTES",
    "DEFAULT_NETWORK_BYTES_PER_MINUTE",
    "DEFAULT_RAM_PERCENT",
    "CounterRate",
    "Criterion",
    "EntitySignal",
    "IdleTimer",
    "Note",
    "Reading",
    "Rule",
    "Sample",
    "SignalKind",
    "Suspension",
    "TimerState",
    "TimerStatus",
    "Verdict",
    "counter_delta",
    "evaluate",
]
