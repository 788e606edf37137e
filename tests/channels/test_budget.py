"""The per-host request budget (channels/budget.py)."""

from __future__ import annotations

import asyncio
import time

from custom_components.wakehub.channels.budget import SLACK, RequestBudget


async def test_the_sixth_call_of_a_window_waits_for_room() -> None:
    """Five calls begin at once; the sixth waits until the first is a window old."""
    budget = RequestBudget(5, window=0.2)
    began = time.monotonic()
    for _ in range(5):
        await budget.take()
    assert time.monotonic() - began < 0.1
    assert budget.room_in() > 0
    await budget.take()
    assert time.monotonic() - began >= 0.2 * SLACK - 0.01


async def test_a_smaller_limit_leaves_room_for_the_others() -> None:
    """A caller asking with limit 4 waits once 4 calls began; others still fit."""
    budget = RequestBudget(5, window=10)
    for _ in range(4):
        await budget.take()
    assert budget.room_in(4) > 0
    assert budget.room_in() == 0


async def test_a_call_is_counted_from_when_it_really_left() -> None:
    """A call held in a queue sets its cell when it leaves: the window runs
    from then, not from when it was counted."""
    budget = RequestBudget(1, window=0.1)
    held = await budget.take()
    await asyncio.sleep(0.1 * SLACK)
    held[0] = time.monotonic()  # counted a window ago, but it leaves only now
    assert budget.room_in() > 0.05
    other = RequestBudget(1, window=0.1)
    await other.take()
    await asyncio.sleep(0.1 * SLACK)
    assert other.room_in() == 0  # left when counted: its window has run out


async def test_waiters_never_exceed_the_limit_together() -> None:
    """Several callers waiting at once still begin at most ``limit`` per window."""
    budget = RequestBudget(2, window=0.1)
    starts: list[float] = []

    async def call() -> None:
        await budget.take()
        starts.append(time.monotonic())

    await asyncio.gather(*(call() for _ in range(6)))
    window = budget.window
    for at in starts:
        assert sum(1 for t in starts if at - window < t <= at) <= 2
