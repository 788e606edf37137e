"""The record of one cascade: what it plans, how far it got, how it ended.

A :class:`Cascade` is created when a start or stop request is accepted and is
updated by the orchestrator's single worker as the cascade runs. It is the
object a caller awaits (:meth:`Cascade.wait`) and the one the Home Assistant
glue serialises (:meth:`Cascade.as_dict`) for the cascade sensor's attributes
and for the response of a service called with ``wait: true``.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from enum import StrEnum
import time
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from collections.abc import Mapping

    from custom_components.wakehub.core.model import Node
    from custom_components.wakehub.core.planner import Action, Step


class CascadeStatus(StrEnum):
    """Where a cascade is in its life."""

    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"

    @property
    def is_final(self) -> bool:
        """Whether the cascade has ended (nothing of it runs any more)."""
        return self not in (CascadeStatus.QUEUED, CascadeStatus.RUNNING)


class StepStatus(StrEnum):
    """Where one step of a cascade is.

    ``skipped`` means no command was sent because the node was already in the
    wanted state when the step came; ``cancelled`` marks the steps a
    cancellation or an interruption kept from running (including the step that
    was running when the orchestrator shut down).
    """

    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    SKIPPED = "skipped"
    FAILED = "failed"
    CANCELLED = "cancelled"


class Origin(StrEnum):
    """Why a cascade exists."""

    REQUEST = "request"
    """A user or an automation asked for it (switch, service)."""
    REEVALUATION = "reevaluation"
    """A re-evaluation decided to stop a dependency that nobody needs any more."""
    CONFIRMATION = "confirmation"
    """The user confirmed a shutdown proposal."""


@dataclass(frozen=True, slots=True)
class CascadeError:
    """Why a cascade failed: the failing node, a stable code and a message.

    ``code`` is a ``ChannelError`` code (``timeout``, ``auth_failed``,
    ``host_key_mismatch``...), a core error code when re-planning failed, or
    ``interrupted`` when the orchestrator shut down. ``message`` is the
    platform's own message (or WakeHub's English description of a timeout).
    """

    code: str
    message: str
    node: str | None = None
    step: int | None = None
    placeholders: Mapping[str, str] = field(default_factory=dict)
    """What a translated text of ``code`` needs beyond the node and the
    action (a readiness timeout's ``seconds``): the user's language is the
    card's or the translations' business, never this module's."""

    def as_dict(self) -> dict[str, Any]:
        """Return the error as plain data."""
        return {
            "code": self.code,
            "message": self.message,
            "node": self.node,
            "step": self.step,
            "placeholders": dict(self.placeholders),
        }


@dataclass(frozen=True, slots=True)
class StepDetail:
    """What a running step does, as a code and its placeholders.

    Home Assistant, the card and the logbook render it in the user's
    language (docs/design.md: codes, not sentences). ``key`` is one of
    :data:`STEP_DETAIL_KEYS`; ``placeholders`` are ``node`` (the step's node
    name), ``action`` (start/stop), ``channel`` (wol, ssh, proxmox, docker),
    ``host`` (the name of the node whose API is used) and ``apis`` (the
    capabilities waited for, comma-separated: ``proxmox,docker``).
    :attr:`text` is the English sentence, for the log and the bus events.
    """

    key: str
    placeholders: Mapping[str, str]

    @property
    def text(self) -> str:
        """The English description (``"waiting for Machine2's Proxmox API"``)."""
        p = self.placeholders
        verb = "starting" if p.get("action") == "start" else "stopping"
        label = _CHANNEL_TEXT.get(p.get("channel", ""), p.get("channel", ""))
        if self.key == STEP_COMMAND_VIA:
            return f"{verb} {p['node']} through {p['host']}'s {label}"
        if self.key == STEP_COMMAND:
            return f"{verb} {p['node']} through {label}"
        if self.key == STEP_WAITING_STOP:
            return f"waiting for {p['node']} to stop"
        if self.key == STEP_WAITING_APIS:
            apis = " and ".join(
                _CHANNEL_TEXT.get(api, api) for api in p["apis"].split(",")
            )
            return f"waiting for {p['node']}'s {apis}"
        return f"waiting for {p['node']} to be up"

    def as_dict(self) -> dict[str, Any]:
        """The code and its placeholders, as plain data."""
        return {"key": self.key, "placeholders": dict(self.placeholders)}


STEP_COMMAND: Final = "command"
STEP_COMMAND_VIA: Final = "command_via"
STEP_WAITING_STOP: Final = "waiting_stop"
STEP_WAITING_APIS: Final = "waiting_apis"
STEP_WAITING_UP: Final = "waiting_up"
STEP_DETAIL_KEYS: Final = (
    STEP_COMMAND,
    STEP_COMMAND_VIA,
    STEP_WAITING_STOP,
    STEP_WAITING_APIS,
    STEP_WAITING_UP,
)
"""Every :attr:`StepDetail.key`: each has a text in every language."""

CANCEL_STOP_REQUESTED: Final = "stop_requested"
"""The one :attr:`Cascade.cancel_code`: the stop of ``{target}`` (its
``cancel_placeholders``) cancelled this start."""
CANCEL_CODES: Final = (CANCEL_STOP_REQUESTED,)

_CHANNEL_TEXT: Final[Mapping[str, str]] = {
    "wol": "Wake-on-LAN",
    "ssh": "SSH",
    "proxmox": "Proxmox API",
    "docker": "Docker API",
}


@dataclass(slots=True)
class CascadeStep:
    """One step of a cascade, with its live status."""

    step: Step
    name: str
    reason_of_name: str | None = None
    status: StepStatus = StepStatus.PENDING
    detail: str | None = None
    info: StepDetail | None = None
    """``detail`` as a code and placeholders, for translated texts."""
    error: CascadeError | None = None
    started_at: float | None = None
    finished_at: float | None = None

    @property
    def node(self) -> str:
        """The id of the node this step powers."""
        return self.step.node

    def as_dict(self) -> dict[str, Any]:
        """Return the step as plain data (node id, display name, status...)."""
        return {
            "node": self.step.node,
            "name": self.name,
            "action": str(self.step.action),
            "channel": str(self.step.channel),
            "reason": str(self.step.reason.kind),
            "reason_of": self.step.reason.of,
            "reason_of_name": self.reason_of_name,
            "status": str(self.status),
            "detail": self.detail,
            "detail_key": self.info.key if self.info else None,
            "detail_placeholders": dict(self.info.placeholders) if self.info else None,
            "error": self.error.as_dict() if self.error else None,
        }


@dataclass(eq=False, slots=True, kw_only=True)
class Cascade:
    """A start or stop cascade and its progress.

    ``steps`` are replaced by a fresh plan when the worker picks the cascade
    up, because the states may have changed while it was queued; a caller
    that keeps a reference always sees the plan actually executed.

    ``reevaluation`` is set on a completed stop cascade: one entry per
    decision, ``{"node", "name", "verdict", "active_dependents",
    "active_children", "independent", "needed_by", "host", "follow_up"}``
    (``needed_by``: the target of a queued start that keeps the node on;
    ``host``: a candidate only as a host WakeHub started; ``follow_up``: the
    follow-up cascade's id for a STOP verdict). :meth:`wait` returns only once it is known.
    """

    id: str
    target: str
    target_name: str
    action: Action
    origin: Origin = Origin.REQUEST
    parent_id: str | None = None
    steps: list[CascadeStep] = field(default_factory=list)
    status: CascadeStatus = CascadeStatus.QUEUED
    error: CascadeError | None = None
    created_at: float = field(default_factory=time.time)
    started_at: float | None = None
    finished_at: float | None = None
    cancel_reason: str | None = None
    """Why the cascade was cancelled, in English (the log)."""
    cancel_code: str | None = None
    """``cancel_reason`` as a code (:data:`CANCEL_CODES`) for translated texts."""
    cancel_placeholders: Mapping[str, str] = field(default_factory=dict)
    reevaluation: list[dict[str, Any]] | None = None
    _done: asyncio.Event = field(default_factory=asyncio.Event, repr=False)

    @property
    def current_step(self) -> int | None:
        """The index of the running step, if any."""
        for index, step in enumerate(self.steps):
            if step.status is StepStatus.RUNNING:
                return index
        return None

    @property
    def nodes(self) -> set[str]:
        """Every node the cascade acts on: its target and its steps' nodes."""
        return {self.target, *(step.node for step in self.steps)}

    @property
    def done(self) -> bool:
        """Whether the cascade has ended."""
        return self.status.is_final

    async def wait(self) -> Cascade:
        """Wait until the cascade has ended, then return it."""
        await self._done.wait()
        return self

    def set_steps(self, steps: list[Step], nodes: Mapping[str, Node]) -> None:
        """Replace the plan (all steps pending), naming each node."""
        self.steps = [
            CascadeStep(
                step=step,
                name=_name(nodes, step.node),
                reason_of_name=(
                    _name(nodes, step.reason.of) if step.reason.of is not None else None
                ),
            )
            for step in steps
        ]

    def finish(
        self,
        status: CascadeStatus,
        error: CascadeError | None = None,
        *,
        release: bool = True,
    ) -> None:
        """End the cascade: no step is left pending or running afterwards.

        With ``release=False`` the waiters are released later, by
        :meth:`release` (after the re-evaluation of a stop cascade).
        """
        self.status = status
        self.error = error
        self.finished_at = time.time()
        for step in self.steps:
            if step.status in (StepStatus.PENDING, StepStatus.RUNNING):
                step.status = StepStatus.CANCELLED
                step.detail = None
                step.info = None
                if step.finished_at is None and step.started_at is not None:
                    step.finished_at = self.finished_at
        if release:
            self._done.set()

    def release(self) -> None:
        """Wake everything waiting for this (ended) cascade."""
        self._done.set()

    def as_dict(self) -> dict[str, Any]:
        """Return the cascade as plain data, for attributes and responses."""
        return {
            "id": self.id,
            "target": self.target,
            "target_name": self.target_name,
            "action": str(self.action),
            "origin": str(self.origin),
            "parent_id": self.parent_id,
            "status": str(self.status),
            "current_step": self.current_step,
            "total_steps": len(self.steps),
            "steps": [step.as_dict() for step in self.steps],
            "error": self.error.as_dict() if self.error else None,
            "cancel_reason": self.cancel_reason,
            "cancel_code": self.cancel_code,
            "cancel_placeholders": dict(self.cancel_placeholders),
            "reevaluation": self.reevaluation,
            "created_at": self.created_at,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
        }


def _name(nodes: Mapping[str, Node], node_id: str) -> str:
    """Return a node's display name, or its id when it is unknown."""
    node = nodes.get(node_id)
    return node.name if node is not None else node_id
