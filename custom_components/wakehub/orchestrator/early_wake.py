"""Early wake (opt-in, per machine): the one exception to "one command at a time".

A start cascade sends, in the background, the Wake-on-LAN of the machines
of its plan that opted in (``early_wake``), each one its stagger after the
previous one, so that they boot while the sequence goes on:

* at once, before the plan is made, the machines that the target needs,
  that the last polls found off and that have no dependency of their own.
  The plan waits for a look at the machines that were off; a magic packet
  needs no such look: one sent to a machine that came up meanwhile does
  nothing, and a machine the target needs that is off is in the plan (the
  plan is everything the target needs that is not up). A machine the polls
  found on gets nothing (its packets would take room in its host's
  budget); should the plan find it off after all, it is woken then;
* once the plan is made, the other machines of the plan whose own
  dependencies are already met (none of them is in the plan).

Every other command stays one at a time, in plan order. Each machine woken
early is then watched, as its own step would (its probe, then the APIs the
steps after it go through): its state is shown as soon as it is up, and its
step, when it comes, only takes a look to confirm it (its skip rests on that
live look). A machine not yet up when its step begins gets its magic packets
again from the step (a lost packet must not cost the step's whole timeout),
and the step waits through the watch. When the cascade fails or is
cancelled, the machines it woke and never reached go to the re-evaluation
(shutdown proposals for machines, by default).

See ``docs/design.md``, "Starting a node".
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
import logging

from custom_components.wakehub.channels.errors import ChannelError
from custom_components.wakehub.core.errors import CoreError
from custom_components.wakehub.core.model import Capability, Channel, PowerState
from custom_components.wakehub.core.planner import Action, Step, plan_start

from .base import _name_of
from .cascade import Cascade, StepStatus
from .events import NodeReached
from .power import Sent
from .step_wait import StepWait

_LOGGER = logging.getLogger(__name__)


@dataclass(slots=True, eq=False)
class Waking:
    """One start cascade's early wakes."""

    woken: list[str] = field(default_factory=list)
    """The machines woken early (they were off), in the order woken."""
    ready: set[str] = field(default_factory=set)
    """The machines woken early that their watch saw ready."""
    planned: asyncio.Event = field(default_factory=asyncio.Event)
    """Set once the cascade's plan is made."""
    sent: set[str] = field(default_factory=set)
    """The machines whose early wake was begun."""
    tasks: dict[str, asyncio.Task[None]] = field(default_factory=dict)
    """Each machine's wake, then its watch."""
    chain: asyncio.Task[None] | None = None
    """The wakes in order, their staggers between them."""


class EarlyWake(StepWait):
    """Sends the magic packets of a start plan's machines at its start."""

    def _begin_waking(self, cascade: Cascade) -> Waking | None:
        """Before the plan: wake the machines the target needs that have no
        dependency of their own (if early wake applies to this cascade)."""
        if not self._early_wake or cascade.action is not Action.START:
            return None
        waking = Waking()
        try:
            needed = plan_start(
                self._topology, self._driver.known_states(), cascade.target
            )
        except CoreError:
            return waking  # the plan itself reports it
        self._wake_in_turn(
            cascade,
            waking,
            [
                step
                for step in needed
                if self._wakes_early(step)
                and not self._topology.dependencies(step.node)
            ],
        )
        return waking

    def _planned(self, cascade: Cascade, waking: Waking | None) -> None:
        """The plan is made: wake the rest of its machines whose own
        dependencies are met (none of them is in the plan)."""
        if waking is None:
            return
        waking.planned.set()
        in_plan = {cstep.node for cstep in cascade.steps}
        self._wake_in_turn(
            cascade,
            waking,
            [
                cstep.step
                for cstep in cascade.steps
                if self._wakes_early(cstep.step)
                and cstep.node not in waking.sent
                and not in_plan.intersection(self._topology.dependencies(cstep.node))
            ],
        )

    async def _end_waking(self, waking: Waking | None) -> None:
        """Stop every wake and watch still under way."""
        if waking is None:
            return
        tasks = [*waking.tasks.values()]
        if waking.chain is not None:
            tasks.append(waking.chain)
        for task in tasks:
            task.cancel()
        for outcome in await asyncio.gather(*tasks, return_exceptions=True):
            if isinstance(outcome, Exception):
                _LOGGER.error("Early wake failed unexpectedly", exc_info=outcome)

    async def _up_already(self, waking: Waking | None, step: Step) -> bool:
        """Whether a machine's start step finds it up, as its watch saw it.

        A live look confirms it: the skip rests on live state.
        """
        if waking is None or step.node not in waking.ready:
            return False
        return await self._driver.is_ready(
            step.node, action=Action.START, needs=frozenset()
        )

    async def _step_ready(
        self,
        cascade: Cascade,
        index: int,
        needs: frozenset[Capability],
        waking: Waking | None,
    ) -> None:
        """Wait until the step's node is ready: through the watch of a
        machine woken early, while it goes on, else with the step's own
        checks (the caller bounds the time)."""
        node_id = cascade.steps[index].node
        watch = waking.tasks.get(node_id) if waking is not None else None
        if waking is not None and watch is not None and not watch.done():
            self._announce_wait(cascade, index, needs)
            await watch
            if node_id in waking.ready:
                return
        await self._wait_ready(cascade, index, needs)

    def _wakes_early(self, step: Step) -> bool:
        return step.channel is Channel.WOL and step.node in self._early_wake

    def _wake_in_turn(
        self, cascade: Cascade, waking: Waking, machines: list[Step]
    ) -> None:
        """Wake ``machines`` in order, after the wakes already under way."""
        if not machines:
            return
        waking.sent.update(step.node for step in machines)
        waking.chain = asyncio.get_running_loop().create_task(
            self._send_wakes(cascade, waking, machines, waking.chain),
            name=f"wakehub_early_wake_{cascade.id}",
        )

    async def _send_wakes(
        self,
        cascade: Cascade,
        waking: Waking,
        machines: list[Step],
        before: asyncio.Task[None] | None,
    ) -> None:
        """Wake ``machines`` in order, each its stagger after the previous one.

        The stagger runs from one wake's start to the next (a wake itself
        takes a look and its magic packets' spacing): without a stagger, the
        machines are woken together. ``before`` is the chain of wakes begun
        earlier: these come after it.
        """
        if before is not None:
            await before
        for step in machines:
            stagger = self._early_wake.get(step.node, 0.0)
            if waking.tasks and stagger > 0:
                await asyncio.sleep(stagger)
            began = asyncio.Event()
            waking.tasks[step.node] = asyncio.create_task(
                self._wake_and_watch(cascade, waking, step, began)
            )
            await began.wait()  # the next stagger runs from this wake's start

    async def _wake_and_watch(
        self, cascade: Cascade, waking: Waking, step: Step, began: asyncio.Event
    ) -> None:
        """Wake one machine early, unless its own step has begun; then watch
        it until it is ready. A failure is only logged: the machine's own
        step will report it. ``began`` is set as the wake begins."""
        began.set()
        if self._begun(cascade, step.node):
            return
        name = _name_of(self._topology.nodes, step.node)
        try:
            if await self._driver.execute(step, eager=True) is Sent.NOTHING:
                return
        except ChannelError as err:
            _LOGGER.info("Early wake of %s failed: %s", name, err.message)
            return
        waking.woken.append(step.node)
        self._marks.add(step.node)
        await waking.planned.wait()
        index = next(
            (i for i, c in enumerate(cascade.steps) if c.node == step.node), None
        )
        if index is None or self._begun(cascade, step.node):
            return  # its step has begun: it waits for the machine itself
        try:
            await self._until_ready(
                step.node, Action.START, self._needs(cascade.steps, index)
            )
        except ChannelError as err:
            _LOGGER.debug("Watch of %s ended: %s", name, err.message)
            return
        waking.ready.add(step.node)
        if not self._begun(cascade, step.node):
            self._emit(NodeReached(cascade, step.node, PowerState.ON))

    @staticmethod
    def _begun(cascade: Cascade, node_id: str) -> bool:
        """Whether ``node_id``'s own step has begun."""
        return any(
            cstep.node == node_id and cstep.status is not StepStatus.PENDING
            for cstep in cascade.steps
        )
