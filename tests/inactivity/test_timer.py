"""Idle-time accounting: accrual, reset, suspension, restart semantics."""

from __future__ import annotations

import json

import pytest

from custom_components.wakehub.inactivity import IdleTimer, Suspension, TimerState

PERIOD = 600.0


def _run(
    timer: IdleTimer, start: float, stop: float, step: float, *, idle: bool = True
):
    status = None
    now = start
    while now <= stop:
        status = timer.observe(now, idle=idle)
        now += step
    return status


def test_first_sample_is_a_baseline() -> None:
    """Nothing is counted before there is an interval."""
    timer = IdleTimer(PERIOD)
    status = timer.observe(100.0, idle=True)
    assert (status.state, status.idle_s, status.remaining_s) == (
        TimerState.IDLE,
        0.0,
        PERIOD,
    )


def test_idle_samples_accumulate_until_due_once() -> None:
    """Idle for the period: due exactly once, then counting from zero again."""
    timer = IdleTimer(PERIOD)
    states = [timer.observe(float(t), idle=True) for t in range(0, 660, 30)]
    due = [s for s in states if s.due]
    assert len(due) == 1
    assert states.index(due[0]) == 20  # 20 intervals of 30 s = the period
    assert states[19].state is TimerState.IDLE
    assert states[19].remaining_s == 30.0
    assert states[21].idle_s == 30.0


def test_activity_resets_the_count() -> None:
    """Any active sample sets the idle time back to zero."""
    timer = IdleTimer(PERIOD)
    _run(timer, 0, 300, 30)
    assert timer.idle_s == 300
    status = timer.observe(330.0, idle=False)
    assert (status.state, status.idle_s) == (TimerState.ACTIVE, 0.0)
    status = timer.observe(360.0, idle=True)
    assert status.idle_s == 30.0
    assert timer.status().state is TimerState.IDLE


def test_explicit_reset_needs_a_new_baseline() -> None:
    """An explicit start resets the count and the baseline."""
    timer = IdleTimer(PERIOD)
    _run(timer, 0, 300, 30)
    timer.reset()
    assert timer.status().state is TimerState.ACTIVE
    assert timer.observe(1000.0, idle=True).idle_s == 0.0
    assert timer.observe(1030.0, idle=True).idle_s == 30.0


def test_a_long_gap_counts_at_most_max_step() -> None:
    """A stalled loop is no proof of idleness."""
    timer = IdleTimer(PERIOD, max_step_s=60)
    timer.observe(0.0, idle=True)
    assert timer.observe(500.0, idle=True).idle_s == 60.0


def test_cascade_holds_the_count() -> None:
    """While a cascade involves the node nothing is counted nor reset."""
    timer = IdleTimer(PERIOD)
    _run(timer, 0, 300, 30)
    status = timer.observe(330.0, idle=True, suspension=Suspension.CASCADE)
    assert (status.state, status.idle_s, status.suspension) == (
        TimerState.SUSPENDED,
        300.0,
        Suspension.CASCADE,
    )
    assert timer.observe(360.0, idle=True).idle_s == 330.0


def test_active_dependent_resets_and_suspends() -> None:
    """An active dependent uses the node: the count restarts after it."""
    timer = IdleTimer(PERIOD)
    _run(timer, 0, 300, 30)
    for now in (330.0, 360.0, 10_000.0):
        status = timer.observe(now, idle=True, suspension=Suspension.DEPENDENT_ACTIVE)
        assert status.state is TimerState.SUSPENDED
        assert status.idle_s == 0.0
    assert timer.observe(10_030.0, idle=True).idle_s == 30.0


def test_restart_keeps_the_idle_time() -> None:
    """A restart neither resets the count nor counts its own downtime."""
    timer = IdleTimer(PERIOD)
    _run(timer, 0, 420, 30)
    stored = json.loads(json.dumps(timer.as_dict()))
    restored = IdleTimer.restore(stored, PERIOD)
    assert restored.idle_s == 420.0
    # The monotonic clock restarted: the first sample is a baseline only.
    assert restored.observe(5.0, idle=True).idle_s == 420.0
    assert restored.observe(35.0, idle=True).idle_s == 450.0


def test_restart_past_the_period_is_not_due_at_once() -> None:
    """Restored at its period, the node is due one idle interval later."""
    restored = IdleTimer.restore({"version": 1, "idle_s": 9999}, PERIOD)
    assert restored.idle_s == PERIOD
    first = restored.observe(1.0, idle=True)
    assert not first.due
    assert restored.observe(31.0, idle=True).due


def test_restart_with_a_shorter_period_caps_the_count() -> None:
    """A period shortened while Home Assistant was down caps the idle time."""
    assert IdleTimer.restore({"version": 1, "idle_s": 500}, 300).idle_s == 300


@pytest.mark.parametrize(
    "data", [None, {}, {"version": 99, "idle_s": 10}, {"version": 1, "idle_s": "x"}]
)
def test_unknown_stored_data_starts_at_zero(data: dict[str, object] | None) -> None:
    """Missing or foreign stored data is not trusted."""
    assert IdleTimer.restore(data, PERIOD).idle_s == 0.0


def test_a_period_must_be_positive() -> None:
    """A zero period would be due at every sample."""
    with pytest.raises(ValueError):
        IdleTimer(0)


def test_a_new_period_keeps_the_count_and_the_baseline() -> None:
    """A rule changed mid-count: same idle time, next interval still counts."""
    timer = IdleTimer(PERIOD)
    _run(timer, 0, 300, 30)
    longer = timer.with_period(2 * PERIOD)
    assert longer.observe(330.0, idle=True).idle_s == 330.0
    shorter = timer.with_period(100)
    assert shorter.idle_s == 100
    assert shorter.observe(330.0, idle=True).due
