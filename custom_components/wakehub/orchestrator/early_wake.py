"""Early wake (opt-in, per machine): the one exception to "one command at a time".

A start cascade first sends, in the background, the Wake-on-LAN of every
machine of its plan that opted in (``early_wake``) and whose own
dependencies are already met (none of them is in the plan), in plan order,
each one its stagger after the previous one: the machines boot while the
sequence goes on. Every other command stays one at a time, in plan order; a
machine's own step then finds it booting, or up, and waits for it as usual.
When the cascade fails or is cancelled, the machines it woke and never
reached go to the re-evaluation (shutdown proposals for machines, by
default).

See ``docs/design.md``, "Starting a node".
"""

from __future__ import annotations

import asyncio
import logging

from custom_components.wakehub.channels.errors import ChannelError
from custom_components.wakehub.core.model import Channel
from custom_components.wakehub.core.planner import Action, Step

from .cascade import Cascade, StepStatus
from .power import Sent
from .reevaluation import Reevaluation

_LOGGER = logging.getLogger(__name__)


class EarlyWake(Reevaluation):
    """Sends the magic packets of a start plan's machines at its start."""

    def _wake_early(
        self, cascade: Cascade, woken: list[str]
    ) -> asyncio.Task[None] | None:
        """Start waking the plan's machines in the background (if enabled).

        ``woken`` receives each machine woken, as it is.
        """
        if not self._early_wake or cascade.action is not Action.START:
            return None
        in_plan = {cstep.node for cstep in cascade.steps}
        machines = [
            cstep.step
            for cstep in cascade.steps
            if cstep.step.channel is Channel.WOL
            and cstep.node in self._early_wake
            and not in_plan.intersection(self._topology.dependencies(cstep.node))
        ]
        if not machines:
            return None
        return asyncio.get_running_loop().create_task(
            self._send_wakes(cascade, machines, woken),
            name=f"wakehub_early_wake_{cascade.id}",
        )

    async def _send_wakes(
        self, cascade: Cascade, machines: list[Step], woken: list[str]
    ) -> None:
        """Wake ``machines`` in order, each its stagger after the previous one.

        The stagger runs from one wake's start to the next (a wake itself
        takes a look and its magic packets' spacing): without a stagger, the
        machines are woken together. A machine whose own step has begun is
        left to it. A failure is only logged: the machine's own step will
        report it.
        """
        wakes: list[asyncio.Task[None]] = []
        try:
            for position, step in enumerate(machines):
                stagger = self._early_wake.get(step.node, 0.0)
                if position and stagger > 0:
                    await asyncio.sleep(stagger)
                wakes.append(asyncio.create_task(self._send_wake(cascade, step, woken)))
            await asyncio.gather(*wakes)
        finally:
            for wake in wakes:
                wake.cancel()

    async def _send_wake(self, cascade: Cascade, step: Step, woken: list[str]) -> None:
        """Wake one machine early, unless its own step has begun."""
        cstep = next(c for c in cascade.steps if c.node == step.node)
        if cstep.status is not StepStatus.PENDING:
            return
        try:
            if await self._driver.execute(step) is not Sent.NOTHING:
                woken.append(step.node)
                self._marks.add(step.node)
        except ChannelError as err:
            _LOGGER.info("Early wake of %s failed: %s", cstep.name, err.message)
