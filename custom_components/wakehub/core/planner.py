"""Start, stop and re-evaluation plans, as pure functions.

The planner never talks to a machine: it turns a :class:`~.topology.Topology`
and the current power states into ordered steps, which the orchestrator then
runs one at a time. A node without a state in ``states`` counts as OFF.

* :func:`plan_start` returns the target's closure under "needs" (dependencies
  and hosting parents) in a true topological order: every node comes after
  everything it depends on and everything it runs on. Nodes already ON are
  skipped, but the walk still goes through them.
* :func:`plan_stop` returns the target's closure under "is needed by" (hosted
  children and dependents, recursively) bottom-up: every node comes before
  anything it runs on or depends on. Nodes already OFF are skipped.
* :func:`reevaluate` decides, for each dependency orphaned by a cascade,
  whether to stop it, to ask first, or to keep it for an active dependent.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from .model import Channel, PowerState, is_active

if TYPE_CHECKING:
    from collections.abc import Collection, Mapping

    from .topology import Topology


class Action(StrEnum):
    """What a step does."""

    START = "start"
    STOP = "stop"


class ReasonKind(StrEnum):
    """Why a step is in a plan.

    ``TARGET``: the node asked for. ``DEPENDENCY``: ``of`` depends on it.
    ``HOST``: ``of`` runs on it. ``DEPENDENT``: it depends on ``of``.
    ``HOSTED``: it runs on ``of``.
    """

    TARGET = "target"
    DEPENDENCY = "dependency"
    HOST = "host"
    DEPENDENT = "dependent"
    HOSTED = "hosted"


@dataclass(frozen=True, slots=True)
class Reason:
    """Why a step is there, and because of which node (``None`` for a target)."""

    kind: ReasonKind
    of: str | None = None


TARGET_REASON = Reason(ReasonKind.TARGET)


@dataclass(frozen=True, slots=True)
class Step:
    """One command of a cascade: power ``node`` through ``channel``."""

    node: str
    action: Action
    channel: Channel
    reason: Reason


class Verdict(StrEnum):
    """What a re-evaluation decides for an orphaned dependency."""

    STOP = "stop"
    CONFIRM = "confirm"
    KEEP = "keep"


@dataclass(frozen=True, slots=True)
class Decision:
    """The verdict on one dependency, with what keeps it on (for KEEP)."""

    node: str
    verdict: Verdict
    active_dependents: tuple[str, ...] = ()
    active_children: tuple[str, ...] = ()


def plan_start(
    topology: Topology, states: Mapping[str, PowerState], target: str
) -> list[Step]:
    """Return the steps that bring ``target`` up, in a safe order.

    Each node is emitted after its dependencies (in insertion order) and then
    its parent have been: a depth-first post-order, hence a true topological
    order over both layers. Nodes whose state is ON are skipped, but the walk
    still goes through them.
    """
    nodes = topology.nodes
    on = PowerState.ON
    start = Action.START
    plan: list[Step] = []
    for node_id, via, hosting in topology.start_walk(target):
        if states.get(node_id) == on:
            continue
        if via is None:
            reason = TARGET_REASON
        else:
            reason = Reason(ReasonKind.HOST if hosting else ReasonKind.DEPENDENCY, via)
        plan.append(Step(node_id, start, nodes[node_id].start_channel, reason))
    return plan


def plan_stop(
    topology: Topology, states: Mapping[str, PowerState], target: str
) -> list[Step]:
    """Return the steps that bring ``target`` down, bottom-up.

    The plan holds the target's hosted subtree and its functional dependents,
    recursively and mixed. Each node is emitted after its children (in
    insertion order) and then its dependents have been. Nodes already OFF
    (or without a state) are skipped, but the walk still goes through them.
    """
    nodes = topology.nodes
    off = PowerState.OFF
    stop = Action.STOP
    plan: list[Step] = []
    for node_id, via, hosting in topology.stop_walk(target):
        state = states.get(node_id)
        if state is None or state == off:
            continue
        if via is None:
            reason = TARGET_REASON
        else:
            reason = Reason(ReasonKind.HOSTED if hosting else ReasonKind.DEPENDENT, via)
        plan.append(Step(node_id, stop, nodes[node_id].stop_channel, reason))
    return plan


def reevaluate(
    topology: Topology, states: Mapping[str, PowerState], stopped: Collection[str]
) -> list[Decision]:
    """Decide the fate of every dependency that ``stopped`` may have orphaned.

    The candidates are the direct dependencies of the stopped nodes that are
    not stopped themselves and are still active. A candidate with an active
    dependent or an active hosted child outside ``stopped`` is kept (ERROR and
    UNKNOWN count as active); otherwise it is stopped, or proposed for
    confirmation when :attr:`Node.needs_confirmation` says so. Decisions come
    in topology order. A STOP decision is meant to run as a new stop cascade,
    re-evaluated in turn.
    """
    done = set(stopped)
    candidates: set[str] = set()
    for node_id in done:
        for dependency in topology.dependencies(node_id):
            if dependency not in done and is_active(states.get(dependency)):
                candidates.add(dependency)
    decisions: list[Decision] = []
    if not candidates:
        return decisions
    for node_id, node in topology.nodes.items():
        if node_id not in candidates:
            continue
        active_dependents = tuple(
            dependent
            for dependent in topology.dependents(node_id)
            if dependent not in done and is_active(states.get(dependent))
        )
        active_children = tuple(
            child
            for child in topology.children(node_id)
            if child not in done and is_active(states.get(child))
        )
        if active_dependents or active_children:
            verdict = Verdict.KEEP
        elif node.needs_confirmation:
            verdict = Verdict.CONFIRM
        else:
            verdict = Verdict.STOP
        decisions.append(Decision(node_id, verdict, active_dependents, active_children))
    return decisions
