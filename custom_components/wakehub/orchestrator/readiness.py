"""Readiness timing: the looks at a booting node, its checks, the per-host rate.

A node is waited for in two phases (docs/design.md, "Readiness"):

* its **look**, when it has one: TCP connects that no API serves (a
  machine's probe, a guest's service ports, the ports of the APIs the next
  steps go through). A connect costs the host nothing, so a booting node is
  looked at every :data:`LOOK_DELAY` of the poll interval (50 ms of 1 s),
  with up to :data:`IN_FLIGHT` looks under way (a look at a node still off
  lasts its whole deadline, 0.3 s): its boot's end is seen within 50 ms;
* its **readiness check** proper (an agent ping, an API read, a container's
  state), once the look passes, or at once when there is no look: right
  away, then after a delay that starts at :data:`FIRST_DELAY` of the poll
  interval (0.1 s of 1 s) and grows by :data:`BACKOFF` up to
  :data:`LONGEST_DELAY` of it (0.25 s), one at a time. Those checks are
  requests to the node's host (its Proxmox or Docker API);
  :class:`HostLimiter` keeps them to at most :data:`MAX_REQUESTS_PER_SECOND`
  per host over any second of a cascade, and the host's request budget
  (``channels/budget.py``) bounds them with every other call it receives.
"""

from __future__ import annotations

import asyncio
from collections import deque
import time
from typing import TYPE_CHECKING, Final

from custom_components.wakehub.channels.budget import MAX_REQUESTS_PER_SECOND

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Iterator

FIRST_DELAY: Final = 0.1
"""The wait between the first readiness check and the second, as a share of
the poll interval (0.1 s of the default 1 s)."""

BACKOFF: Final = 1.5
"""How much each wait grows over the previous one."""


LOOK_DELAY: Final = 0.05
"""The wait between two looks at a booting node, as a share of the poll
interval (50 ms of the default 1 s)."""

IN_FLIGHT: Final = 6
"""The looks at one node that may run at once: a look at a silent machine
lasts its whole deadline (0.3 s), six times the wait between two."""

LONGEST_DELAY: Final = 0.25
"""The longest wait between two checks, as a share of the poll interval: the
time from "up" to "seen" is at most that (and half of it on average)."""


def backoff(poll_interval: float) -> Iterator[float]:
    """Yield the waits between readiness checks, growing, then steady.

    For a poll interval of 1 s: ``0.1, 0.15, 0.225, 0.25, 0.25, ...``.
    A shorter poll interval (a test's scaled time) scales them all.
    """
    delay = poll_interval * FIRST_DELAY
    longest = poll_interval * LONGEST_DELAY
    while True:
        yield delay
        delay = min(delay * BACKOFF, longest)


def steady(poll_interval: float) -> Iterator[float]:
    """Yield the waits between two looks: :data:`LOOK_DELAY` of the poll
    interval, forever (a look costs the host nothing)."""
    while True:
        yield poll_interval * LOOK_DELAY


class HostLimiter:
    """At most ``rate`` requests per host in any sliding ``window`` seconds.

    :meth:`acquire` waits, when needed, until the host's oldest request of
    the last window is a window old. The window is a second; the
    orchestrator scales it with its poll interval, so that tests running at
    a faster clock keep the same proportions. ``clock`` and ``sleep`` are the
    monotonic clock and the wait, replaceable by a test's fake time.
    """

    def __init__(
        self,
        rate: float = MAX_REQUESTS_PER_SECOND,
        *,
        window: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        """Allow ``rate`` requests per ``window`` seconds and per host."""
        self._rate = max(1, int(rate))
        self._window = window
        self._clock = clock
        self._sleep = sleep
        self._sent: dict[str, deque[float]] = {}

    async def acquire(self, host: str, requests: int = 1) -> None:
        """Wait until ``host`` may receive ``requests`` more, and count them."""
        sent = self._sent.setdefault(host, deque())
        for _ in range(min(requests, self._rate)):
            while True:
                now = self._clock()
                while sent and now - sent[0] >= self._window:
                    sent.popleft()
                if len(sent) < self._rate:
                    break
                await self._sleep(sent[0] + self._window - now)
            sent.append(now)
