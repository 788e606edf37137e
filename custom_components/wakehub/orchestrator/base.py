"""The orchestrator's state and reporting, shared by its parts.

:class:`OrchestratorBase` holds what every part of the orchestrator reads and
writes: the topology, the queue and the running cascade, the nodes' activities,
the "started for a dependent" marks, the history, and the listeners it reports
to. The parts build on it, one job each:

* :mod:`.reevaluation`: what a cascade leaves orphaned, and what to do with it;
* :mod:`.early_wake`: the magic packets a start plan sends at its start;
* :mod:`.execution`: one cascade, step by step, with the readiness waits
  (:mod:`.readiness`) and the re-plan of a host gone away;
* :mod:`.engine`: the requests, the queue and its single worker
  (:class:`~.engine.Orchestrator`).

This module imports nothing from Home Assistant.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
import logging
from typing import TYPE_CHECKING
import uuid

from custom_components.wakehub.channels.budget import MAX_REQUESTS_PER_SECOND
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
    Step,
    plan_start,
    plan_stop,
)

from .cascade import (
    STEP_COMMAND,
    STEP_COMMAND_VIA,
    STEP_WAITING_APIS,
    STEP_WAITING_STOP,
    STEP_WAITING_UP,
    Cascade,
    CascadeError,
    CascadeStatus,
    CascadeStep,
    Origin,
    StepDetail,
)
from .events import CascadeEnded, Listener, NodeActivityChanged, OrchestratorEvent
from .readiness import HostLimiter

if TYPE_CHECKING:
    import asyncio
    from collections.abc import Callable, Iterable, Mapping

    from custom_components.wakehub.core.topology import Topology

    from .driver import NodeDriver

_LOGGER = logging.getLogger(__name__)

DEFAULT_POLL_INTERVAL = 1.0
"""The orchestrator's time unit, in seconds: the readiness waits grow from a
tenth of it to a quarter of it, and each host gets at most 5 checks per unit (see
:mod:`.readiness`). Tests shorten it to run at a faster clock."""

HISTORY_SIZE = 20
"""How many ended cascades :attr:`Orchestrator.history` keeps."""

ERROR_TIMEOUT = "timeout"
ERROR_INTERRUPTED = "interrupted"
ERROR_UNEXPECTED = "unexpected_error"


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
    placeholders: Mapping[str, str] | None = None
    """The error's own placeholders (:attr:`CascadeError.placeholders`)."""


class OrchestratorBase:
    """The state every part of the orchestrator shares, and its reporting."""

    def __init__(
        self,
        topology: Topology,
        driver: NodeDriver,
        *,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        started_for_dependents: Iterable[str] = (),
        early_wake: Mapping[str, float] | None = None,
        max_requests_per_second: float = MAX_REQUESTS_PER_SECOND,
    ) -> None:
        """Create an idle orchestrator over ``topology``.

        ``started_for_dependents`` restores the marks of the nodes a previous
        run started for a dependent (see :attr:`started_for_dependents`).
        ``early_wake`` maps each machine that may be woken at the start of a
        start cascade to its stagger, the seconds to wait after the previous
        early wake (see :mod:`.execution`);
        ``max_requests_per_second`` bounds the readiness checks per host
        (per ``poll_interval``, a second by default).
        """
        self._topology = topology
        self._marks: set[str] = set(started_for_dependents)
        self._driver = driver
        self._poll_interval = poll_interval
        self._early_wake: dict[str, float] = dict(early_wake or {})
        # Per second at the default poll interval of a second.
        self._limiter = HostLimiter(max_requests_per_second, window=poll_interval)
        self._queue: deque[Cascade] = deque()
        self._running: Cascade | None = None
        self._worker: asyncio.Task[None] | None = None
        self._listeners: list[Listener] = []
        self._activities: dict[str, NodeActivity] = {}
        self._history: deque[Cascade] = deque(maxlen=HISTORY_SIZE)
        self._closed = False

    @property
    def early_wake(self) -> Mapping[str, float]:
        """The machines woken early, with their staggers (seconds)."""
        return dict(self._early_wake)

    def set_early_wake(self, machines: Mapping[str, float]) -> None:
        """The machines woken early, with their staggers (from the next cascade)."""
        self._early_wake = dict(machines)

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

    # -- plans and cascades --------------------------------------------------

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

    def _command_detail(self, step: Step) -> StepDetail:
        nodes = self._topology.nodes
        node: Node | None = nodes.get(step.node)
        placeholders = {
            "node": node.name if node is not None else step.node,
            "action": str(step.action),
            "channel": str(step.channel),
        }
        if step.channel in (Channel.PROXMOX, Channel.DOCKER) and node is not None:
            host = node.parent if node.kind is not NodeKind.MACHINE else None
            if host is not None and host in nodes:
                placeholders["host"] = nodes[host].name
                return StepDetail(STEP_COMMAND_VIA, placeholders)
        return StepDetail(STEP_COMMAND, placeholders)

    @staticmethod
    def _wait_detail(cstep: CascadeStep, needs: frozenset[Capability]) -> StepDetail:
        if cstep.step.action is Action.STOP:
            return StepDetail(STEP_WAITING_STOP, {"node": cstep.name})
        if needs:
            apis = ",".join(str(need) for need in sorted(needs))
            return StepDetail(STEP_WAITING_APIS, {"node": cstep.name, "apis": apis})
        return StepDetail(STEP_WAITING_UP, {"node": cstep.name})
