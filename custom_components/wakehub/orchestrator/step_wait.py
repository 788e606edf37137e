"""A step's wait for its node: readiness checks on schedule, under the host's rate.

See ``docs/design.md``, "Readiness", and :mod:`.readiness` for the schedule
and the per-host limiter.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from custom_components.wakehub.core.model import Capability, NodeKind
from custom_components.wakehub.core.planner import Action

from .events import StepChanged, StepEventKind
from .readiness import IN_FLIGHT, backoff, steady
from .reevaluation import Reevaluation

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from .cascade import Cascade, CascadeStep


class StepWait(Reevaluation):
    """Waits until a step's node is ready, for :class:`~.execution.CascadeExecution`."""

    async def _wait_ready(
        self, cascade: Cascade, index: int, needs: frozenset[Capability]
    ) -> None:
        """Check until the step's node is ready (the caller bounds the time).

        After the first check that finds it not ready, the step says what it
        waits for (:meth:`_announce_wait`).
        """
        step = cascade.steps[index].step
        announced = False

        def announce() -> None:
            nonlocal announced
            if not announced:
                announced = True
                self._announce_wait(cascade, index, needs)

        await self._until_ready(step.node, step.action, needs, announce)

    def _announce_wait(
        self, cascade: Cascade, index: int, needs: frozenset[Capability]
    ) -> None:
        """Say what the step waits for (a ``waiting`` event)."""
        cstep = cascade.steps[index]
        cstep.info = self._wait_detail(cstep, needs)
        cstep.detail = cstep.info.text
        self._emit(
            StepChanged(
                cascade,
                StepEventKind.WAITING,
                index,
                len(cascade.steps),
                cstep,
                cstep.detail,
                waiting_for=min(needs) if needs else None,
                info=cstep.info,
            )
        )

    async def _until_ready(
        self,
        node_id: str,
        action: Action,
        needs: frozenset[Capability],
        announce: Callable[[], None] | None = None,
    ) -> None:
        """Check ``node_id`` until it reached ``action``'s goal (unbounded).

        A booting node that has a look that sends no request (TCP connects:
        a machine's probe, a guest's service ports, the ports of the APIs in
        ``needs``: ``driver.look``) is first looked at until the look passes:
        every 50 ms (:func:`~.readiness.steady`), up to
        :data:`~.readiness.IN_FLIGHT` looks at once, since a look at a node
        still off lasts its whole deadline. Then, and for every other node,
        the readiness check proper (``driver.is_ready``) reads an API and
        answers at once: one at a time, at waits that grow
        (:func:`~.readiness.backoff`), under the limiter's rate; never several
        waiting together for room in a host's budget, which would all go at
        once when it frees. ``announce`` is called after each check or look
        that found the node not ready.
        """
        look = (
            self._driver.look(node_id, needs=needs) if action is Action.START else None
        )
        if look is not None:
            await self._checks(look, node_id, looks=True, announce=announce)

        def check() -> Awaitable[bool]:
            return self._driver.is_ready(node_id, action=action, needs=needs)

        await self._checks(check, node_id, looks=False, announce=announce)

    async def _checks(
        self,
        check: Callable[[], Awaitable[bool]],
        node_id: str,
        *,
        looks: bool,
        announce: Callable[[], None] | None,
    ) -> None:
        """Run ``check`` until it passes; the first one goes at once.

        ``looks``: every :func:`~.readiness.steady` wait, whether the previous
        look has answered or not, up to :data:`~.readiness.IN_FLIGHT` at once.
        Otherwise one at a time, at the :func:`~.readiness.backoff` waits,
        each its wait after the previous one answered at the earliest, and
        each taking room in the per-host limiter first.
        """
        host = self._request_host(node_id)
        waits = (steady if looks else backoff)(self._poll_interval)
        in_flight = IN_FLIGHT if looks else 1
        checks: set[asyncio.Task[bool]] = set()
        loop = asyncio.get_running_loop()
        try:
            while True:
                if not looks:
                    await self._limiter.acquire(host)
                checks.add(asyncio.ensure_future(check()))
                wait = next(waits)
                next_check = loop.time() + wait
                while checks:
                    left = next_check - loop.time()
                    if left <= 0 and len(checks) < in_flight:
                        break
                    done, checks = await asyncio.wait(
                        checks,
                        timeout=max(left, 0) if len(checks) < in_flight else None,
                        return_when=asyncio.FIRST_COMPLETED,
                    )
                    if not done:
                        break
                    if any(task.result() for task in done):
                        return
                if announce is not None:
                    announce()
                if not looks:
                    # The next check comes its wait after this one answered:
                    # not at once because this one was held back (waiting for
                    # room in its host's budget), which would only ask again.
                    next_check = max(next_check, loop.time() + wait)
                if (left := next_check - loop.time()) > 0:
                    await asyncio.sleep(left)
        finally:
            for task in checks:
                task.cancel()

    def _request_host(self, node_id: str) -> str:
        """Where a node's readiness checks go: its host's API, or itself."""
        node = self._topology.nodes.get(node_id)
        if node is None or node.parent is None:
            return node_id
        return node.parent

    def _needs(self, steps: list[CascadeStep], index: int) -> frozenset[Capability]:
        """Return the APIs of a start step's node that later steps go through."""
        step = steps[index].step
        if step.action is not Action.START:
            return frozenset()
        nodes = self._topology.nodes
        needs: set[Capability] = set()
        for later in steps[index + 1 :]:
            child = nodes.get(later.node)
            if child is not None and child.parent == step.node:
                needs.add(
                    Capability.DOCKER
                    if child.kind is NodeKind.CONTAINER
                    else Capability.PROXMOX
                )
        return frozenset(needs)
