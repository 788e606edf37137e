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
* :func:`reevaluate` decides, for each dependency (and each host WakeHub
  started for a cascade) orphaned by a cascade, whether to stop it, to ask
  first, or to keep it (for an active dependent or child, for a start that
  needs it, or because it was not started for a dependent: see its
  docstring).

Both plans cost O(closure): one walk of the topology, over a table of the
steps each node leads to, built once per version of the topology (see
:meth:`~.topology_view.TopologyView.derived`): a step depends only on the edge that reaches
its node, so a plan allocates no step of its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, NamedTuple

from .model import Channel, PowerState, is_active
from .topology_view import WalkTable, post_order

if TYPE_CHECKING:
    from collections.abc import Collection, Iterable, Mapping

    from .topology import Topology
    from .topology_view import TopologyView


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


class Reason(NamedTuple):
    """Why a step is there, and because of which node (``None`` for a target).

    An immutable named tuple: compare, hash and read it by field name.
    """

    kind: ReasonKind
    of: str | None = None


TARGET_REASON = Reason(ReasonKind.TARGET)


class Step(NamedTuple):
    """One command of a cascade: power ``node`` through ``channel``.

    An immutable named tuple: compare, hash and read it by field name.
    """

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
    """The verdict on one dependency or host, with what keeps it on (for KEEP).

    A KEEP has one of three reasons. Something still needs the node:
    ``active_dependents`` and/or ``active_children`` name it. Or a queued or
    running start needs it: ``needed_by`` is that start's target. Or nothing
    does, but the node was not started by WakeHub for a dependent (it was
    started on its own, see :func:`reevaluate`): then the lists are empty,
    ``needed_by`` is ``None`` and ``independent`` is true. ``independent``
    is false for every other verdict. ``host`` is true for a node that is a
    candidate only as the host of a stopped node (not as a dependency).
    """

    node: str
    verdict: Verdict
    active_dependents: tuple[str, ...] = ()
    active_children: tuple[str, ...] = ()
    independent: bool = False
    needed_by: str | None = None
    host: bool = False


def plan_start(
    topology: Topology, states: Mapping[str, PowerState], target: str
) -> list[Step]:
    """Return the steps that bring ``target`` up, in a safe order.

    Each node is emitted after its dependencies (in insertion order) and then
    its parent have been: a depth-first post-order, hence a true topological
    order over both layers. Nodes whose state is ON are skipped, but the walk
    still goes through them.
    """
    first = Step(
        target, Action.START, topology.node(target).start_channel, TARGET_REASON
    )
    walk = post_order(first, topology.derived(_start_steps))
    return [step for step in walk if states.get(step.node) != PowerState.ON]


def plan_stop(
    topology: Topology, states: Mapping[str, PowerState], target: str
) -> list[Step]:
    """Return the steps that bring ``target`` down, bottom-up.

    The plan holds the target's hosted subtree and its functional dependents,
    recursively and mixed. Each node is emitted after its children (in
    insertion order) and then its dependents have been. Nodes already OFF
    (or without a state) are skipped, but the walk still goes through them.
    """
    first = Step(target, Action.STOP, topology.node(target).stop_channel, TARGET_REASON)
    walk = post_order(first, topology.derived(_stop_steps))
    off = PowerState.OFF
    return [step for step in walk if states.get(step.node, off) != off]


def _start_steps(view: TopologyView) -> dict[str, tuple[Step, ...]]:
    """For each node, the start steps of what it needs, as the walk pops them."""
    return _steps(view.start_table(), Action.START, ReasonKind.HOST)


def _stop_steps(view: TopologyView) -> dict[str, tuple[Step, ...]]:
    """For each node, the stop steps of what needs it, as the walk pops them."""
    return _steps(view.stop_table(), Action.STOP, ReasonKind.HOSTED)


def _steps(
    table: WalkTable, action: Action, hosting_kind: ReasonKind
) -> dict[str, tuple[Step, ...]]:
    """Turn a walk table into steps: one per edge, with its reason.

    The edges leaving one node share its two reasons (reached through the
    hosting tree, or through a dependency).
    """
    other_kind = (
        ReasonKind.DEPENDENCY if action is Action.START else ReasonKind.DEPENDENT
    )
    steps: dict[str, tuple[Step, ...]] = {}
    for via, entries in table.items():
        hosting_reason = Reason(hosting_kind, via)
        other_reason = Reason(other_kind, via)
        steps[via] = tuple(
            Step(node, action, channel, hosting_reason if hosting else other_reason)
            for node, _via, hosting, channel in entries
        )
    return steps


def dependency_marks(plan: Iterable[Step]) -> set[str]:
    """Return the nodes a start plan brings up for a dependent.

    That is every step but the target's: the dependencies and hosts started
    on the way. The caller keeps these marks (adding them when the cascade
    starts each node, dropping a node's mark when the user starts it
    explicitly or it goes off) and passes them to :func:`reevaluate` as
    ``started_for_dependents``, the way ``apt`` marks packages "installed
    automatically" for ``apt autoremove``.
    """
    return {step.node for step in plan if step.reason.kind is not ReasonKind.TARGET}


def reevaluate(
    topology: Topology,
    states: Mapping[str, PowerState],
    stopped: Collection[str],
    *,
    started_for_dependents: Collection[str] | None = None,
    needed: Mapping[str, str] | None = None,
    woken: Collection[str] = (),
) -> list[Decision]:
    """Decide the fate of every node that ``stopped`` may have orphaned.

    The candidates are still active and not stopped themselves:

    * the direct dependencies of the stopped nodes;
    * ``woken``: the machines a start cascade woke early and then did not
      need, since it failed or was cancelled first (candidates whatever
      their polled state, since they are still booting);
    * the hosts WakeHub started for a cascade (docs/design.md, "Re-evaluation"):
      for each stopped node, the first active node up its hosting chain
      (the hosts in between are off), when it is in
      ``started_for_dependents``. A host the user started, or that was
      already on, is no candidate: it stays on, and nothing is reported.

    For each, in topology order:

    * it has an active dependent or an active hosted child outside
      ``stopped`` (ERROR and UNKNOWN count as active), or a queued or running
      start needs it (``needed`` maps it to that start's target): KEEP,
      naming them;
    * otherwise, when :attr:`Node.needs_confirmation` says so (machines by
      default): CONFIRM, since asking is harmless;
    * otherwise, when WakeHub itself started it for a dependent: STOP. A STOP
      decision is meant to run as a new stop cascade, re-evaluated in turn;
    * otherwise: KEEP with ``independent=True``: it was started on its own,
      not for a dependent, so nothing asked for it to go (reference homelab,
      scenario 3: Jellyfin stays on when sandbox stops with Machine1).

    ``started_for_dependents`` holds the nodes that a start cascade brought
    up as a dependency or a host of another node (and that the user has not
    started explicitly since), like ``apt``'s "automatically installed"
    marks; :func:`dependency_marks` computes them from a start plan. ``None``
    (the default) applies docs/design.md, "Re-evaluation", literally: every
    dependency counts as started for its dependents, so a candidate that
    needs no confirmation is always stopped; no host is a candidate then,
    since nothing says WakeHub started it.

    Cost: O(k log k + the degrees of the stopped nodes and candidates + the
    hosting chains above the stopped nodes), with k candidates; the size of
    the topology does not matter.
    """
    done = set(stopped)
    candidates: set[str] = set()
    for node_id in done:
        for dependency in topology.dependencies(node_id):
            if dependency not in done and is_active(states.get(dependency)):
                candidates.add(dependency)
    candidates.update(node_id for node_id in woken if node_id not in done)
    hosts: set[str] = set()
    if started_for_dependents is not None:
        climbed: set[str] = set()
        for node_id in done:
            host = topology.parent(node_id)
            while (
                host is not None
                and host not in done
                and host not in climbed
                and not is_active(states.get(host))
            ):
                climbed.add(host)
                host = topology.parent(host)
            if (
                host is not None
                and host not in done
                and host in started_for_dependents
                and is_active(states.get(host))
            ):
                hosts.add(host)
    needed_by = needed or {}
    decisions: list[Decision] = []
    for node_id in topology.sort_ids(candidates | hosts):
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
        needing = needed_by.get(node_id)
        independent = False
        if active_dependents or active_children or needing is not None:
            verdict = Verdict.KEEP
        elif topology.node(node_id).needs_confirmation:
            verdict = Verdict.CONFIRM
        elif started_for_dependents is None or node_id in started_for_dependents:
            verdict = Verdict.STOP
        else:
            verdict = Verdict.KEEP
            independent = True
        decisions.append(
            Decision(
                node_id,
                verdict,
                active_dependents,
                active_children,
                independent,
                needing,
                node_id not in candidates,
            )
        )
    return decisions
