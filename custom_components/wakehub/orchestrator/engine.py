"""The orchestrator: runs start and stop cascades one step at a time.

This module holds the requests, the queue and its worker; the parts of the
orchestrator each have their own module (see :mod:`.base`).

Execution model
    One worker task drains a queue of :class:`~.cascade.Cascade` objects; it
    exists only while there is work, so nothing lingers when the orchestrator
    is idle. The worker runs one cascade at a time and, inside it, one step at
    a time, so **exactly one command is in flight at any moment** across the
    whole homelab (docs/design.md, "Concurrency").

Steps, readiness, early wake
    See :mod:`.execution`: each step sends its command, then checks readiness
    at once and with growing waits (:mod:`.readiness`), bounded by the step's
    timeout; a start step whose host went away re-plans once; the opt-in
    early wake sends the plan's magic packets at the cascade's start.

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
    See :mod:`.reevaluation`: after every completed stop cascade (and after a
    start that woke machines early and then failed), what may be orphaned
    is stopped, proposed for shutdown or kept.

Shutdown
    :meth:`Orchestrator.async_shutdown` cancels the worker: the running
    cascade and every queued one end ``interrupted``, and every transient
    ``starting``/``stopping`` state is cleared, so nothing stays in progress.

This module imports nothing from Home Assistant.
"""

from __future__ import annotations

import asyncio
import logging

from custom_components.wakehub.core.planner import Action, Step

from .base import (
    DEFAULT_POLL_INTERVAL,
    ERROR_INTERRUPTED,
    ERROR_TIMEOUT,
    ERROR_UNEXPECTED,
    NodeActivity,
    NodeNeededError,
    OrchestratorClosedError,
)
from .cascade import CANCEL_STOP_REQUESTED, Cascade, CascadeError, CascadeStatus, Origin
from .execution import CascadeExecution

_LOGGER = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_POLL_INTERVAL",
    "ERROR_INTERRUPTED",
    "ERROR_TIMEOUT",
    "ERROR_UNEXPECTED",
    "NodeActivity",
    "NodeNeededError",
    "Orchestrator",
    "OrchestratorClosedError",
]


class Orchestrator(CascadeExecution):
    """Runs cascades against a :class:`NodeDriver`, one command at a time."""

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
        # A first view of the plan, from the last polls: the worker plans
        # again from fresh states when the cascade's turn comes.
        steps = self._plan(action, target, self._driver.known_states())
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

    def _cancel_starts_of(self, stop: Cascade) -> None:
        """Cancel the start cascades that need the node ``stop`` stops.

        Everything ``stop`` stops needs its target, so a start needs one of
        them exactly when it needs the target (see :meth:`starts_needing`).
        """
        reason = f"stop of {stop.target_name} requested"
        for cascade in self.starts_needing(stop.target):
            cascade.cancel_reason = reason
            cascade.cancel_code = CANCEL_STOP_REQUESTED
            cascade.cancel_placeholders = {"target": stop.target_name}
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
