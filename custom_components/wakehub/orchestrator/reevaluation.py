"""What a cascade leaves orphaned, and what becomes of it.

After every completed stop cascade, the planner's
:func:`~custom_components.wakehub.core.planner.reevaluate` runs over the
nodes the cascade stopped (those nodes do not count as active; nodes in
``error`` do), their dependencies and the hosts WakeHub started for a
cascade. After a start cascade that woke machines early and then failed or
was cancelled, it runs over the machines it woke and never reached. A node
that a queued start needs is kept. STOP verdicts become follow-up stop
cascades, queued ahead of everything else and re-evaluated in turn; CONFIRM
verdicts are reported as shutdown proposals; KEEP verdicts are reported
with what keeps the node on.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from custom_components.wakehub.core.model import PowerState
from custom_components.wakehub.core.planner import (
    Action,
    Decision,
    Verdict,
    reevaluate,
)

from .base import OrchestratorBase, _name_of
from .cascade import Cascade, Origin, StepStatus
from .events import Reevaluated

if TYPE_CHECKING:
    from collections.abc import Collection

_LOGGER = logging.getLogger(__name__)


class Reevaluation(OrchestratorBase):
    """The re-evaluation after a cascade (see the module docstring)."""

    async def _reevaluate(
        self, cascade: Cascade, *, woken: Collection[str] = ()
    ) -> None:
        """Re-evaluate what ``cascade`` may have left orphaned.

        For a completed stop: the dependencies of what it stopped, and the
        hosts WakeHub started for a cascade. For a start that failed or was
        cancelled after waking machines early: the machines it woke and did
        not reach (``woken``).
        """
        stopped: set[str] = set()
        if cascade.action is Action.STOP:
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
            if node in woken or states.get(node, PowerState.OFF) != PowerState.OFF
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
                woken=woken,
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
