"""A step's wait for its node: readiness checks on schedule, under the host's rate.

See ``docs/design.md``, "Readiness", and :mod:`.readiness` for the schedule
and the per-host limiter.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from custom_components.wakehub.core.model import Capability, NodeKind
from custom_components.wakehub.core.planner import Action

from .early_wake import EarlyWake
from .events import StepChanged, StepEventKind
from .readiness import IN_FLIGHT, backoff

if TYPE_CHECKING:
    from .cascade import Cascade, CascadeStep


class StepWait(EarlyWake):
    """Waits until a step's node is ready, for :class:`~.execution.CascadeExecution`."""

    async def _wait_ready(
        self, cascade: Cascade, index: int, needs: frozenset[Capability]
    ) -> None:
        """Check until the step's node is ready (the caller bounds the time).

        The first check goes right after the command; the next ones start
        at waits that grow (:func:`~.readiness.backoff`), whether the previous
        check has answered or not: a machine that is still booting answers
        nothing, and each look at it lasts its whole deadline, which must not
        stretch the time between looks. At most :data:`~.readiness.IN_FLIGHT`
        checks run at once, and the checks sent to one host stay under the
        limiter's rate.
        """
        cstep = cascade.steps[index]
        step = cstep.step
        host = self._request_host(step.node)
        waits = backoff(self._poll_interval)
        checks: set[asyncio.Task[bool]] = set()
        loop = asyncio.get_running_loop()
        announced = False
        try:
            while True:
                # One request while the node is not up (its probe, or one
                # read of its host's API); the APIs in ``needs`` only once it is.
                await self._limiter.acquire(host)
                checks.add(
                    asyncio.create_task(
                        self._driver.is_ready(
                            step.node, action=step.action, needs=needs
                        )
                    )
                )
                next_check = loop.time() + next(waits)
                while checks:
                    left = next_check - loop.time()
                    if left <= 0 and len(checks) < IN_FLIGHT:
                        break
                    done, checks = await asyncio.wait(
                        checks,
                        timeout=max(left, 0) if len(checks) < IN_FLIGHT else None,
                        return_when=asyncio.FIRST_COMPLETED,
                    )
                    if not done:
                        break
                    if any(check.result() for check in done):
                        return
                if not announced:
                    announced = True
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
                if (left := next_check - loop.time()) > 0:
                    await asyncio.sleep(left)
        finally:
            for check in checks:
                check.cancel()

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
