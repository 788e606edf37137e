"""One cascade, step by step.

A step
    1. ``driver.execute(step)`` reads the node's live state once and sends
       the command, unless the node already is at the step's goal: then
       nothing is sent and the step is *skipped*. (The plan comes from the
       polled states, which may lag; the skip decision must not.) A command
       whose own answer says the node is there (Docker's stop) needs no
       readiness check.
    2. Then the worker waits for the node (:mod:`.step_wait`): a booting
       node that has a look that sends no request (``driver.look``: its
       probe, its service ports, its APIs' ports) is looked at every 50 ms;
       then ``driver.is_ready`` is checked at once, and again after waits
       that grow from a tenth of a second to a quarter of a second
       (:mod:`.readiness`), one at a time, until the node is ready: up (and
       the APIs that later steps go through answer) for a start, down for a
       stop. The checks sent to one host stay under a rate
       (:class:`~.readiness.HostLimiter`).
    3. The whole step is bounded by ``driver.step_timeout``. A timeout, or a
       ``ChannelError`` from the driver, fails the step: the cascade stops
       there, the next command is never sent, the node is marked ``error``
       with the code and the platform's message. Nothing is rolled back.

A host gone away
    A start step that fails because its host cannot be reached (the plan
    trusted a poll from before the host went down) re-plans the cascade
    once, from fresh states with that step's hosts counted as off, so that
    the host is woken first; a second such failure is reported.

Early wake (opt-in, per machine): see :mod:`.early_wake`.
"""

from __future__ import annotations

import asyncio
import logging
import time

from custom_components.wakehub.channels.errors import ChannelError, UnreachableError
from custom_components.wakehub.core.errors import CoreError
from custom_components.wakehub.core.model import (
    PowerState,
)
from custom_components.wakehub.core.planner import (
    Action,
    ReasonKind,
    plan_start,
)

from .base import (
    ERROR_INTERRUPTED,
    ERROR_TIMEOUT,
    ERROR_UNEXPECTED,
    NodeActivity,
)
from .cascade import Cascade, CascadeError, CascadeStatus, StepStatus
from .early_wake import EarlyWake, Waking
from .events import CascadeStarted, StepChanged, StepEventKind
from .power import Sent

_LOGGER = logging.getLogger(__name__)


class CascadeExecution(EarlyWake):
    """Runs one cascade: its steps, their readiness, early wake, re-plan."""

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
        waking = self._begin_waking(cascade)
        try:
            status, error = await self._plan_and_run(cascade, waking)
        finally:
            await self._end_waking(waking)
        # A completed stop re-evaluates what it stopped; a start that ended
        # early, the machines it woke early and never reached.
        reached = {c.node for c in cascade.steps if c.status is not StepStatus.PENDING}
        left = [
            node for node in (waking.woken if waking else ()) if node not in reached
        ]
        if (cascade.action is Action.START and not left) or (
            cascade.action is Action.STOP and status is not CascadeStatus.COMPLETED
        ):
            self._end(cascade, status, error)
            return
        self._end(cascade, status, error, release=False)
        try:
            await self._reevaluate(cascade, woken=left)
        except ChannelError as err:
            _LOGGER.warning(
                "Could not re-evaluate the dependencies after cascade %s: %s",
                cascade.id,
                err.message,
            )
        finally:
            cascade.release()

    async def _plan_and_run(
        self, cascade: Cascade, waking: Waking | None
    ) -> tuple[CascadeStatus, CascadeError | None]:
        """Plan from fresh states, then run the steps; return how it ends."""
        try:
            steps = self._plan(
                cascade.action, cascade.target, await self._driver.states()
            )
        except CoreError as err:
            return CascadeStatus.FAILED, CascadeError(
                err.code,
                str(err),
                node=cascade.target,
                placeholders={k: str(v) for k, v in err.placeholders.items()},
            )
        cascade.set_steps(steps, self._topology.nodes)
        self._emit(CascadeStarted(cascade))
        self._planned(cascade, waking)
        return await self._run_steps(cascade, waking)

    async def _run_steps(
        self, cascade: Cascade, waking: Waking | None
    ) -> tuple[CascadeStatus, CascadeError | None]:
        """Run the steps in order; return how the cascade ends."""
        replanned = False
        index = 0
        while index < len(cascade.steps):
            if cascade.cancel_reason is not None:
                return CascadeStatus.CANCELLED, None
            error = await self._run_step(cascade, index, waking)
            if error is None:
                index += 1
                continue
            if not replanned and await self._replan(cascade, index, error):
                replanned = True
                continue
            self._report_failure(cascade, index, error)
            return CascadeStatus.FAILED, error
        return CascadeStatus.COMPLETED, None

    async def _replan(self, cascade: Cascade, index: int, error: CascadeError) -> bool:
        """Re-plan once after a start step found its host unreachable.

        The steps from ``index`` on are replaced by a fresh plan in which the
        failed node's hosts count as off (their own steps then skip them if
        they are up after all). Return whether a new plan was made.
        """
        cstep = cascade.steps[index]
        node = self._topology.nodes.get(cstep.node)
        if (
            cascade.action is not Action.START
            or error.code != UnreachableError.code
            or node is None
            or node.parent is None
        ):
            return False
        states = dict(await self._driver.states())
        for host in self._topology.ancestors(node.id):
            states[host] = PowerState.UNKNOWN
        try:
            steps = plan_start(self._topology, states, cascade.target)
        except CoreError:
            return False
        _LOGGER.info(
            "Cascade %s: %s could not be reached through its host (%s);"
            " planning again with its host woken first",
            cascade.id,
            cstep.name,
            error.message,
        )
        self._set_activity(cstep.node, None)
        done = cascade.steps[:index]
        cascade.set_steps(steps, self._topology.nodes)
        cascade.steps = [*done, *cascade.steps]
        return True

    async def _run_step(
        self, cascade: Cascade, index: int, waking: Waking | None = None
    ) -> CascadeError | None:
        """Run one step; return its error, or ``None`` when it succeeded.

        A machine woken early and already seen up by its watch only takes a
        look (:meth:`~.early_wake.EarlyWake._up_already`).

        A failure is reported by the caller (:meth:`_report_failure`), once it
        knows that no re-plan follows.
        """
        cstep = cascade.steps[index]
        step = cstep.step
        total = len(cascade.steps)
        cstep.status = StepStatus.RUNNING
        cstep.started_at = time.time()
        cstep.info = self._command_detail(step)
        cstep.detail = cstep.info.text
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
                cascade,
                StepEventKind.STARTED,
                index,
                total,
                cstep,
                cstep.detail,
                info=cstep.info,
            )
        )
        needs = self._needs(cascade.steps, index)
        goal = PowerState.ON if step.action is Action.START else PowerState.OFF
        skipped = False
        timeout = 0.0
        try:
            timeout = await self._driver.step_timeout(step.node, step.action)
            async with asyncio.timeout(timeout):
                if await self._up_already(waking, step):
                    skipped = True
                else:
                    sent = await self._driver.execute(step)
                    skipped = sent is Sent.NOTHING
                    if sent is not Sent.AT_GOAL or needs:
                        await self._step_ready(cascade, index, needs, waking)
        except TimeoutError:
            error = CascadeError(
                ERROR_TIMEOUT,
                f"{cstep.name} was not {'up' if goal is PowerState.ON else 'down'}"
                f" after {timeout:g} s ({cstep.detail})",
                node=step.node,
                step=index,
                placeholders={
                    "seconds": f"{timeout:g}",
                    "goal": "up" if goal is PowerState.ON else "down",
                },
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
            cstep.info = None
            cstep.finished_at = time.time()
            kind = StepEventKind.SKIPPED if skipped else StepEventKind.DONE
            # The reached state first, then the activity goes: a listener
            # never shows the poll from before the step in between.
            self._emit(StepChanged(cascade, kind, index, total, cstep, reached=goal))
            self._set_activity(step.node, None)
            return None
        return error

    def _report_failure(
        self, cascade: Cascade, index: int, error: CascadeError
    ) -> None:
        """Mark the step failed, its node in error, and tell the listeners."""
        cstep = cascade.steps[index]
        cstep.status = StepStatus.FAILED
        cstep.error = error
        cstep.finished_at = time.time()
        self._set_activity(
            cstep.node,
            NodeActivity(
                PowerState.ERROR,
                cascade.id,
                error.code,
                error.message,
                dict(error.placeholders),
            ),
        )
        self._emit(
            StepChanged(
                cascade,
                StepEventKind.FAILED,
                index,
                len(cascade.steps),
                cstep,
                f"{cstep.name}: {error.message}",
            )
        )
