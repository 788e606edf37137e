"""How often WakeHub may ask one host's API: a sliding-window request budget.

Every call an API channel sends its host (a Proxmox VE API, a Docker Engine)
first takes room in the channel's :class:`RequestBudget`: at most
:data:`MAX_REQUESTS_PER_SECOND` calls begin in any one-second window. The
coordinator's polls, a cascade's commands, its Proxmox task reads and its
readiness checks all go through the entry's one channel per host, so they
share that one budget, and a cascade never floods a host that has just
booted. See ``docs/design.md``, "Readiness".
"""

from __future__ import annotations

import asyncio
from collections import deque
import time
from typing import Final

MAX_REQUESTS_PER_SECOND: Final = 5
"""The calls one host's API may receive in any second."""

SLACK: Final = 1.1
"""The budget's window, as a multiple of the second it bounds: a call reaches
the host a little after it is counted (the network; for a call run in the
executor, the time it is sent is recorded from the executor's thread, see
:meth:`RequestBudget.take`), so calls spaced by exactly one second here
could arrive closer; five calls per 1.1 s keep any second of arrivals at five
or fewer."""


class RequestBudget:
    """At most ``limit`` calls begun in any sliding ``window`` seconds."""

    def __init__(
        self, limit: int = MAX_REQUESTS_PER_SECOND, *, window: float = 1.0
    ) -> None:
        """Allow ``limit`` calls per ``window`` seconds (and :data:`SLACK`)."""
        self.limit = limit
        self.window = window * SLACK
        # When each of the last ``limit`` calls was sent: one cell per call,
        # which its sender may move to the moment the call really left.
        self._sent: deque[list[float]] = deque(maxlen=limit)

    def room_in(self, limit: int | None = None) -> float:
        """Seconds until fewer than ``limit`` calls (default: the budget's
        own limit) began in the last window: 0 when there is room now.

        A caller that may wait (a Proxmox task's status reads) asks with a
        smaller limit, so that it leaves room for the others.
        """
        limit = self.limit if limit is None else min(limit, self.limit)
        now = time.monotonic()
        sent = self._sent
        while sent and now - sent[0][0] >= self.window:
            sent.popleft()
        if len(sent) < limit:
            return 0.0
        return max(0.0, sent[-limit][0] + self.window - now)

    async def take(self) -> list[float]:
        """Wait until a call may begin, count it, and return its cell.

        The cell holds the time the call was counted; a call that waits in
        the executor's queue sets it (``cell[0] = time.monotonic()``) from
        its thread when it really leaves, so that a queue that held several
        calls back and then let them go together is counted as it was.
        """
        while True:
            wait = self.room_in()
            if wait <= 0:
                break
            # Several callers may wait together: each looks again on waking.
            await asyncio.sleep(wait)
        cell = [time.monotonic()]
        self._sent.append(cell)
        return cell
