"""The orchestrator: runs start and stop cascades one step at a time.

Execution model
    One worker task drains a queue of :class:`~.cascade.Cascade` objects; it
    exists only while there is work, so nothing lingers when the orchestrator
    is idle. The worker runs one cascade at a time and, inside it, one step at
    a time, so **exactly one command is in flight at any moment** across the
    whole homelab (docs/design.md, "Concurrency").

A step
    1. ``driver.execute(step)`` reads the node's live state once and sends
       the command, unless the node already is at the step's goal: then
       nothing is sent and the step is *skipped*. (The plan comes from the
       polled states, which may lag; the skip decision must not.)
    2. Then the worker polls ``driver.is_ready`` every ``poll_interval``
       seconds until the node is ready: up (and the APIs that later steps go
       through answer) for a start, down for a stop.
    3. The whole step is bounded by ``driver.step_timeout``. A timeout, or a
       ``ChannelError`` from the driver, fails the step: the cascade stops
       there, the next command is never sent, the node is marked ``error``
       with the code and the platform's message. Nothing is rolled back.

Requests
    :meth:`Orchestrator.async_start` and :meth:`Orchestrator.async_stop`
    validate and plan at once (an unknown node raises the core's error) and
    return the queued cascade without waiting for it; ``await cascade.wait()``
    waits for its end. The plan is computed again, from fresh states, when the
    worker picks the cascade up.

    * The same target with the same action, while queued or running, joins:
      the existing cascade is returned.
    * A stop of a node that a queued or running *start* cascade needs (its
      target, or any of the target's dependencies and hosts, recursively, up
      already or not: the stop would take the started target down again)
      cancels that cascade: a queued one at once, the running one at the next
      step boundary (the step in flight finishes, readiness included, since a
      machine can only be shut down once it answers). The stop then runs
      first. :meth:`Orchestrator.starts_needing` says beforehand which starts
      a stop would cancel.
    * The confirmation of a shutdown proposal is refused
      (:class:`NodeNeededError`) while a queued or running start needs the
      node: a stale proposal never undoes a start.
    * Anything else queues in FIFO order. Different targets are serialised
      rather than merged: it keeps "one command at a time" trivially true and
      each cascade's plan is made from the states its predecessors left (a
      second start simply skips what the first one brought up).

Re-evaluation
    After every *completed* stop cascade the planner's :func:`reevaluate`
    runs over the nodes the cascade stopped (those nodes do not count as
    active; nodes in ``error`` do), their dependencies and the hosts WakeHub
    started for a cascade (:attr:`Orchestrator.started_for_dependents`). A
    node that a queued start needs is kept. STOP verdicts become follow-up
    stop cascades, queued ahead of everything else and re-evaluated in turn;
    CONFIRM verdicts are reported as shutdown proposals; KEEP verdicts are
    reported with what keeps the node on.

Shutdown
    :meth:`Orchestrator.async_shutdown` cancels the worker: the running
    cascade and every queued one end ``interrupted``, and every transient
    ``starting``/``stopping`` state is cleared, so nothing stays in progress.

This module imports nothing from Home Assistant.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass
import logging
import time
from typing import TYPE_CHECKING
import uuid

from custom_components.wakehub.channels.errors import ChannelError
from custom_components.wakehub.core.errors import CoreError
from custom_components.wakehub.core.model import (
    Capability,
    Channel,
    Node,
    NodeKind,
    PowerState,
)
from custom_components.wakehub.core.planner import (
    Action,
    Decision,
    ReasonKind,
    Step,
    Verdict,
    plan_start,
    plan_stop,
    reevaluate,
)

from .cascade import (
    Cascade,
    CascadeError,
    CascadeStatus,
    CascadeStep,
    Origin,
    StepStatus,
)
from .events import (
    CascadeEnded,
    CascadeStarted,
    Listener,
    NodeActivityChanged,
    OrchestratorEvent,
    Reevaluated,
    StepChanged,
    StepEventKind,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping

    from custom_components.wakehub.core.topology import Topology

    from .driver import NodeDriver

_LOGGER = logging.getLogger(__name__)

DEFAULT_POLL_INTERVAL = 1.0
"""Seconds between two readiness polls of the node a step waits for."""

HISTORY_SIZE = 20
"""How many ended cascades :attr:`Orchestrator.history` keeps."""

ERROR_TIMEOUT = "timeout"
ERROR_INTERRUPTED = "interrupted"
ERROR_UNEXPECTED = "unexpected_error"

_CHANNEL_LABEL: Mapping[Channel, str] = {
    Channel.WOL: "Wake-on-LAN",
    Channel.SSH: "SSH",
    Channel.PROXMOX: "Proxmox API",
    Channel.DOCKER: "Docker API",
}
_CAPABILITY_LABEL: Mapping[Capability, str] = {
    Capability.PROXMOX: "Proxmox API",
    Capability.DOCKER: "Docker API",
}


def _name_of(nodes: Mapping[str, Node], node_id: str) -> str:
    """Return a node's display name, or its id when it is unknown."""
    node = nodes.get(node_id)
    return node.name if node is not None else node_id


class OrchestratorClosedError(RuntimeError):
    """A request reached an orchestrator that has been shut down."""


class NodeNeededError(CoreError):
    """A confirmed shutdown was refused: a queued or running start needs the node.

    ``cascade`` is that start. The placeholders (``name``, ``target``) fill
    the ``node_needed`` translation.
    """

    code = "node_needed"

    def __init__(self, name: str, cascade: Cascade) -> None:
        """Name the node and the start that needs it."""
        super().__init__(
            f"{name} is needed by the start of {cascade.target_name}",
            placeholders={"name": name, "target": cascade.target_name},
        )
        self.cascade = cascade


@dataclass(frozen=True, slots=True)
class NodeActivity:
    """What the orchestrator is doing to a node, or how it last failed.

    ``state`` is ``STARTING``, ``STOPPING`` or ``ERROR``. An error stays until
    a later cascade acts on the node again or :meth:`Orchestrator.clear_error`
    is called.
    """

    state: PowerState
    cascade_id: str
    code: str | None = None
    message: str | None = None


class Orchestrator:
    """Runs cascades against a :class:`NodeDriver`, one command at a time."""

    def __init__(
        self,
        topology: Topology,
        driver: NodeDriver,
        *,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        started_for_dependents: Iterable[str] = (),
    ) -> None:
        """Create an idle orchestrator over ``topology``.

        ``started_for_dependents`` restores the marks of the nodes a previous
        run started for a dependent (see :attr:`started_for_dependents`).
        """
        self._topology = topology
        self._marks: set[str] = set(started_for_dependents)
        self._driver = driver
        self._poll_interval = poll_interval
        self._queue: deque[Cascade] = deque()
        self._running: Cascade | None = None
        self._worker: asyncio.Task[None] | None = None
        self._listeners: list[Listener] = []
        self._activities: dict[str, NodeActivity] = {}
        self._history: deque[Cascade] = deque(maxlen=HISTORY_SIZE)
        self._closed = False

    # -- state ---------------------------------------------------------------

    @property
    def topology(self) -> Topology:
        """The topology plans are made from."""
        return self._topology

    def update_topology(self, topology: Topology) -> None:
        """Use ``topology`` from now on (entries loaded, unloaded, edited).

        The running cascade keeps its plan; each later step and every later
        plan use the new topology.
        """
        self._topology = topology

    @property
    def started_for_dependents(self) -> frozenset[str]:
        """The nodes WakeHub started for a dependent, not for themselves.

        A start cascade marks every node it brings up as a dependency or a
        host; the user starting a node explicitly, or the node going down,
        drops its mark. Re-evaluation stops automatically only marked nodes
        (like ``apt autoremove``): a service the user started on its own is
        never shut down just because a dependent went away. The HA glue
        persists this set across restarts.
        """
        return frozenset(self._marks)

    @property
    def running(self) -> Cascade | None:
        """The cascade being executed, if any."""
        return self._running

    @property
    def queued(self) -> tuple[Cascade, ...]:
        """The cascades waiting for the worker, in execution order."""
        return tuple(self._queue)

    @property
    def history(self) -> tuple[Cascade, ...]:
        """The most recent ended cascades, oldest first."""
        return tuple(self._history)

    @property
    def activities(self) -> Mapping[str, NodeActivity]:
        """Every node the orchestrator is acting on or saw fail, by node id."""
        return dict(self._activities)

    def starts_needing(self, node_id: str) -> list[Cascade]:
        """The queued or running start cascades that need ``node_id``.

        A start needs its target and every dependency and host of it,
        recursively, whether already up or not: stopping any of them would
        take the started target down again. In execution order (the running
        cascade first); a start that a stop already cancelled is left out.
        """
        return [
            cascade
            for cascade in self._live_starts()
            if node_id in self._closure(cascade)
        ]

    def needed_nodes(self) -> dict[str, Cascade]:
        """Every node a queued or running start needs, with the first such start."""
        needed: dict[str, Cascade] = {}
        for cascade in reversed(self._live_starts()):
            needed.update(dict.fromkeys(self._closure(cascade), cascade))
        return needed

    def _live_starts(self) -> list[Cascade]:
        """The running and queued start cascades no stop has cancelled."""
        return [
            cascade
            for cascade in (self._running, *self._queue)
            if cascade is not None
            and cascade.action is Action.START
            and not cascade.done
            and cascade.cancel_reason is None
        ]

    def _closure(self, cascade: Cascade) -> set[str]:
        """A start's target with its dependencies and hosts, recursively."""
        closure = cascade.nodes
        if cascade.target in self._topology:
            walk = self._topology.walk_up(cascade.target)
            closure.update(node_id for node_id, _via, _hosting, _channel in walk)
        return closure

    def node_activity(self, node_id: str) -> NodeActivity | None:
        """Return what the orchestrator is doing to ``node_id``, if anything."""
        return self._activities.get(node_id)

    def clear_error(self, node_id: str) -> None:
        """Forget a node's error (the polled state applies again)."""
        activity = self._activities.get(node_id)
        if activity is not None and activity.state is PowerState.ERROR:
            self._set_activity(node_id, None)

    def add_listener(self, listener: Listener) -> Callable[[], None]:
        """Register ``listener`` for every event; return its remover."""
        self._listeners.append(listener)

        def remove() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return remove

    # -- requests ------------------------------------------------------------

    async def async_plan(self, action: Action, target: str) -> list[Step]:
        """Return the steps a cascade would run now, without running anything.

        Raises the core's errors (``UnknownNodeError``) for a bad target.
        """
        self._topology.node(target)
        return self._plan(action, target, await self._driver.states())

    async def async_start(self, target: str) -> Cascade:
        """Queue a start cascade for ``target`` and return it (see module doc)."""
        return await self.async_request(Action.START, target)

    async def async_stop(self, target: str) -> Cascade:
        """Queue an explicit stop cascade for ``target`` and return it."""
        return await self.async_request(Action.STOP, target)

    async def async_confirm_shutdown(self, node_id: str) -> Cascade:
        """Run the stop cascade of an accepted shutdown proposal."""
        return await self.async_request(
            Action.STOP, node_id, origin=Origin.CONFIRMATION
        )

    async def async_request(
        self,
        action: Action,
        target: str,
        *,
        origin: Origin = Origin.REQUEST,
    ) -> Cascade:
        """Validate, plan and queue a cascade; return it without waiting.

        Returns the existing cascade when the same target and action is
        already queued or running. Raises ``CoreError`` subclasses for an
        invalid request and :class:`OrchestratorClosedError` after shutdown.
        """
        self._check_open()
        self._topology.node(target)
        steps = self._plan(action, target, await self._driver.states())
        # No await from here on: the queue cannot change under our feet.
        self._check_open()
        if origin is Origin.CONFIRMATION and (needing := self.starts_needing(target)):
            raise NodeNeededError(self._topology.nodes[target].name, needing[0])
        if action is Action.START:
            # The user wants this node for itself, whatever started it.
            self._marks.discard(target)
        existing = self._find(action, target)
        if existing is not None:
            return existing
        cascade = self._new_cascade(action, target, steps, origin=origin)
        if action is Action.STOP:
            self._cancel_starts_of(cascade)
            self._queue.appendleft(cascade)
        else:
            self._queue.append(cascade)
        self._ensure_worker()
        return cascade

    async def async_shutdown(self) -> None:
        """Stop the worker; every unfinished cascade ends ``interrupted``."""
        self._closed = True
        worker, self._worker = self._worker, None
        if worker is not None and not worker.done():
            worker.cancel()
            try:
                await worker
            except asyncio.CancelledError:
                current = asyncio.current_task()
                if current is not None and current.cancelling():
                    raise
        while self._queue:
            self._end(
                self._queue.popleft(),
                CascadeStatus.INTERRUPTED,
                CascadeError(ERROR_INTERRUPTED, "WakeHub was shut down"),
            )

    # -- internals: queue ----------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise OrchestratorClosedError("the WakeHub orchestrator is shut down")

    def _plan(
        self, action: Action, target: str, states: Mapping[str, PowerState]
    ) -> list[Step]:
        planner = plan_start if action is Action.START else plan_stop
        return planner(self._topology, states, target)

    def _find(self, action: Action, target: str) -> Cascade | None:
        candidates = [self._running, *self._queue]
        for cascade in candidates:
            if (
                cascade is not None
                and not cascade.done
                and cascade.cancel_reason is None
                and cascade.action is action
                and cascade.target == target
            ):
                return cascade
        return None

    def _new_cascade(
        self,
        action: Action,
        target: str,
        steps: list[Step],
        *,
        origin: Origin,
        parent_id: str | None = None,
    ) -> Cascade:
        nodes = self._topology.nodes
        cascade = Cascade(
            id=uuid.uuid4().hex[:12],
            target=target,
            target_name=nodes[target].name,
            action=action,
            origin=origin,
            parent_id=parent_id,
        )
        cascade.set_steps(steps, nodes)
        return cascade

    def _cancel_starts_of(self, stop: Cascade) -> None:
        """Cancel the start cascades that need the node ``stop`` stops.

        Everything ``stop`` stops needs its target, so a start needs one of
        them exactly when it needs the target (see :meth:`starts_needing`).
        """
        reason = f"stop of {stop.target_name} requested"
        for cascade in self.starts_needing(stop.target):
            cascade.cancel_reason = reason
            if cascade is self._running:
                _LOGGER.debug("Cancelling cascade %s: %s", cascade.id, reason)
                continue
            self._queue.remove(cascade)
            self._end(cascade, CascadeStatus.CANCELLED)

    def _ensure_worker(self) -> None:
        if self._worker is None:
            self._worker = asyncio.get_running_loop().create_task(
                self._work(), name="wakehub_orchestrator"
            )

    async def _work(self) -> None:
        """Drain the queue, one cascade at a time, then exit."""
        try:
            while self._queue:
                cascade = self._queue.popleft()
                self._running = cascade
                try:
                    await self._run(cascade)
                finally:
                    self._running = None
        finally:
            if self._worker is asyncio.current_task():
                self._worker = None

    # -- internals: one cascade ------------------------------------------------

    async def _run(self, cascade: Cascade) -> None:
        """Execute ``cascade``; it has ended, whatever happens, on return."""
        try:
            await self._execute(cascade)
        except asyncio.CancelledError:
            if cascade.done:  # cancelled while re-evaluating: it did complete
                cascade.release()
                raise
            self._clear_transient(cascade)
            self._end(
                cascade,
                CascadeStatus.INTERRUPTED,
                CascadeError(ERROR_INTERRUPTED, "WakeHub was shut down"),
            )
            raise
        except Exception as err:
            _LOGGER.exception("Cascade %s failed unexpectedly", cascade.id)
            if cascade.done:
                cascade.release()
                return
            self._clear_transient(cascade)
            self._end(
                cascade,
                CascadeStatus.FAILED,
                CascadeError(
                    ERROR_UNEXPECTED,
                    f"{type(err).__name__}: {err}" if str(err) else type(err).__name__,
                ),
            )

    async def _execute(self, cascade: Cascade) -> None:
        cascade.status = CascadeStatus.RUNNING
        cascade.started_at = time.time()
        try:
            steps = self._plan(
                cascade.action, cascade.target, await self._driver.states()
            )
        except CoreError as err:
            self._end(
                cascade,
                CascadeStatus.FAILED,
                CascadeError(err.code, str(err), node=cascade.target),
            )
            return
        cascade.set_steps(steps, self._topology.nodes)
        self._emit(CascadeStarted(cascade))
        for index in range(len(cascade.steps)):
            if cascade.cancel_reason is not None:
                self._end(cascade, CascadeStatus.CANCELLED)
                return
            error = await self._run_step(cascade, index)
            if error is not None:
                self._end(cascade, CascadeStatus.FAILED, error)
                return
        if cascade.action is Action.START:
            self._end(cascade, CascadeStatus.COMPLETED)
            return
        self._end(cascade, CascadeStatus.COMPLETED, release=False)
        try:
            await self._reevaluate(cascade)
        except ChannelError as err:
            _LOGGER.warning(
                "Could not re-evaluate the dependencies after cascade %s: %s",
                cascade.id,
                err.message,
            )
        finally:
            cascade.release()

    async def _run_step(self, cascade: Cascade, index: int) -> CascadeError | None:
        """Run one step; return its error, or ``None`` when it succeeded."""
        cstep = cascade.steps[index]
        step = cstep.step
        total = len(cascade.steps)
        cstep.status = StepStatus.RUNNING
        cstep.started_at = time.time()
        cstep.detail = self._command_detail(step)
        self._set_activity(
            step.node,
            NodeActivity(
                PowerState.STARTING
                if step.action is Action.START
                else PowerState.STOPPING,
                cascade.id,
            ),
        )
        self._emit(
            StepChanged(
                cascade, StepEventKind.STARTED, index, total, cstep, cstep.detail
            )
        )
        needs = self._needs(cascade.steps, index)
        goal = PowerState.ON if step.action is Action.START else PowerState.OFF
        skipped = False
        timeout = 0.0
        try:
            timeout = await self._driver.step_timeout(step.node, step.action)
            async with asyncio.timeout(timeout):
                skipped = not await self._driver.execute(step)
                if not skipped:
                    self._driver.request_refresh(step.node)
                await self._wait_ready(cascade, index, needs)
        except TimeoutError:
            error = CascadeError(
                ERROR_TIMEOUT,
                f"{cstep.name} was not {'up' if goal is PowerState.ON else 'down'}"
                f" after {timeout:g} s ({cstep.detail})",
                node=step.node,
                step=index,
            )
        except ChannelError as err:
            error = CascadeError(err.code, err.message, node=step.node, step=index)
        else:
            if step.action is Action.STOP:
                self._marks.discard(step.node)
            elif not skipped and step.reason.kind is not ReasonKind.TARGET:
                self._marks.add(step.node)
            cstep.status = StepStatus.SKIPPED if skipped else StepStatus.DONE
            cstep.detail = None
            cstep.finished_at = time.time()
            self._set_activity(step.node, None)
            self._driver.request_refresh(step.node)
            kind = StepEventKind.SKIPPED if skipped else StepEventKind.DONE
            self._emit(StepChanged(cascade, kind, index, total, cstep))
            return None
        cstep.status = StepStatus.FAILED
        cstep.error = error
        cstep.finished_at = time.time()
        self._set_activity(
            step.node,
            NodeActivity(PowerState.ERROR, cascade.id, error.code, error.message),
        )
        self._emit(
            StepChanged(
                cascade,
                StepEventKind.FAILED,
                index,
                total,
                cstep,
                f"{cstep.name}: {error.message}",
            )
        )
        return error

    async def _wait_ready(
        self, cascade: Cascade, index: int, needs: frozenset[Capability]
    ) -> None:
        """Poll until the step's node is ready (the caller bounds the time)."""
        cstep = cascade.steps[index]
        step = cstep.step
        announced = False
        while not await self._driver.is_ready(
            step.node, action=step.action, needs=needs
        ):
            if not announced:
                announced = True
                cstep.detail = self._wait_detail(cstep, needs)
                self._emit(
                    StepChanged(
                        cascade,
                        StepEventKind.WAITING,
                        index,
                        len(cascade.steps),
                        cstep,
                        cstep.detail,
                        waiting_for=min(needs) if needs else None,
                    )
                )
            self._driver.request_refresh(step.node)
            await asyncio.sleep(self._poll_interval)

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

    async def _reevaluate(self, cascade: Cascade) -> None:
        """Re-evaluate the dependencies of what ``cascade`` stopped."""
        stopped = {cascade.target} | {
            cstep.node
            for cstep in cascade.steps
            if cstep.status in (StepStatus.DONE, StepStatus.SKIPPED)
        }
        states = dict(await self._driver.states())
        for node_id, activity in self._activities.items():
            if activity.state is PowerState.ERROR:
                states[node_id] = PowerState.ERROR
        # A node that went down some other way no longer holds its mark.
        self._marks = {
            node
            for node in self._marks
            if states.get(node, PowerState.OFF) != PowerState.OFF
        }
        # A node that a queued start needs stays on (it would be started
        # again at once); such a start cannot be running here.
        needed = {node: needing.target for node, needing in self.needed_nodes().items()}
        decisions = tuple(
            reevaluate(
                self._topology,
                states,
                stopped,
                started_for_dependents=self._marks,
                needed=needed,
            )
        )
        follow_ups: dict[str, Cascade] = {}
        for decision in decisions:
            self._log_decision(cascade, decision)
            if decision.verdict is not Verdict.STOP or self._closed:
                continue
            existing = self._find(Action.STOP, decision.node)
            if existing is not None:
                follow_ups[decision.node] = existing
                continue
            follow_up = self._new_cascade(
                Action.STOP,
                decision.node,
                self._plan(Action.STOP, decision.node, states),
                origin=Origin.REEVALUATION,
                parent_id=cascade.id,
            )
            follow_ups[decision.node] = follow_up
        nodes = self._topology.nodes
        cascade.reevaluation = [
            {
                "node": decision.node,
                "name": _name_of(nodes, decision.node),
                "verdict": str(decision.verdict),
                "active_dependents": list(decision.active_dependents),
                "active_children": list(decision.active_children),
                "independent": decision.independent,
                "needed_by": decision.needed_by,
                "host": decision.host,
                "follow_up": (
                    follow_ups[decision.node].id
                    if decision.node in follow_ups
                    else None
                ),
            }
            for decision in decisions
        ]
        # Follow-ups run before anything else, in the planner's order.
        for follow_up in reversed([c for c in follow_ups.values() if not c.done]):
            if follow_up not in self._queue:
                self._queue.appendleft(follow_up)
        self._emit(Reevaluated(cascade, decisions, follow_ups))

    def _log_decision(self, cascade: Cascade, decision: Decision) -> None:
        nodes = self._topology.nodes
        name = nodes[decision.node].name if decision.node in nodes else decision.node
        if decision.independent:
            _LOGGER.info(
                "After cascade %s, %s stays on: it was started on its own,"
                " not for a dependent",
                cascade.id,
                name,
            )
        elif decision.needed_by is not None:
            _LOGGER.info(
                "After cascade %s, %s stays on: the start of %s needs it",
                cascade.id,
                name,
                _name_of(nodes, decision.needed_by),
            )
        elif decision.verdict is Verdict.KEEP:
            keepers = [
                nodes[node].name if node in nodes else node
                for node in (*decision.active_dependents, *decision.active_children)
            ]
            _LOGGER.info(
                "After cascade %s, %s stays on: still needed by %s",
                cascade.id,
                name,
                ", ".join(keepers),
            )
        else:
            _LOGGER.info(
                "After cascade %s, %s has no active dependent left: %s",
                cascade.id,
                name,
                "stopping it" if decision.verdict is Verdict.STOP else "asking first",
            )

    # -- internals: reporting ----------------------------------------------------

    def _end(
        self,
        cascade: Cascade,
        status: CascadeStatus,
        error: CascadeError | None = None,
        *,
        release: bool = True,
    ) -> None:
        cascade.finish(status, error, release=release)
        self._history.append(cascade)
        self._emit(CascadeEnded(cascade))

    def _clear_transient(self, cascade: Cascade) -> None:
        for node_id, activity in list(self._activities.items()):
            if (
                activity.cascade_id == cascade.id
                and activity.state is not PowerState.ERROR
            ):
                self._set_activity(node_id, None)

    def _set_activity(self, node_id: str, activity: NodeActivity | None) -> None:
        if self._activities.get(node_id) == activity:
            return
        if activity is None:
            self._activities.pop(node_id, None)
            self._emit(NodeActivityChanged(node_id, None))
            return
        self._activities[node_id] = activity
        self._emit(
            NodeActivityChanged(
                node_id,
                activity.state,
                code=activity.code,
                message=activity.message,
                cascade_id=activity.cascade_id,
            )
        )

    def _emit(self, event: OrchestratorEvent) -> None:
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:
                _LOGGER.exception("WakeHub listener %r failed on %r", listener, event)

    def _command_detail(self, step: Step) -> str:
        nodes = self._topology.nodes
        node: Node | None = nodes.get(step.node)
        name = node.name if node is not None else step.node
        verb = "starting" if step.action is Action.START else "stopping"
        label = _CHANNEL_LABEL.get(step.channel, str(step.channel))
        if step.channel in (Channel.PROXMOX, Channel.DOCKER) and node is not None:
            host = node.parent if node.kind is not NodeKind.MACHINE else None
            if host is not None and host in nodes:
                return f"{verb} {name} through {nodes[host].name}'s {label}"
        return f"{verb} {name} through {label}"

    @staticmethod
    def _wait_detail(cstep: CascadeStep, needs: frozenset[Capability]) -> str:
        if cstep.step.action is Action.STOP:
            return f"waiting for {cstep.name} to stop"
        if needs:
            apis = " and ".join(_CAPABILITY_LABEL[need] for need in sorted(needs))
            return f"waiting for {cstep.name}'s {apis}"
        return f"waiting for {cstep.name} to be up"
