"""What the orchestrator reports while it works.

Listeners receive one immutable event object per occurrence, synchronously,
on the event loop. The Home Assistant glue maps them to bus events
(``wakehub_cascade_*``, ``wakehub_shutdown_proposed``), to entity updates
(the per-node status sensor, the cascade sensor) and to persistent
notifications. A listener must not block; an exception it raises is logged
and does not disturb the cascade.

Every event carries the :class:`~.cascade.Cascade` it belongs to (a live
object: serialise it with ``as_dict()`` at once if a snapshot is needed),
except :class:`NodeActivityChanged`, which is about one node.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from custom_components.wakehub.core.model import Capability, PowerState
    from custom_components.wakehub.core.planner import Decision

    from .cascade import Cascade, CascadeStep, StepDetail


class StepEventKind(StrEnum):
    """What happened to a step."""

    STARTED = "started"
    WAITING = "waiting"
    DONE = "done"
    SKIPPED = "skipped"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class CascadeStarted:
    """The worker picked a cascade up; ``cascade.steps`` is the final plan."""

    cascade: Cascade


@dataclass(frozen=True, slots=True)
class StepChanged:
    """A step started, began waiting for readiness, ended, was skipped or failed.

    ``index`` is zero-based; ``total`` is the number of steps. ``step`` is the
    live step (its status and detail move on); ``detail`` is a snapshot of its
    English, human description at the time of the event (``"waiting for Machine2's Proxmox API"``);
    ``waiting_for`` says which API the wait is about (``None`` for the node
    itself), so a translated text can be built from it.
    """

    cascade: Cascade
    kind: StepEventKind
    index: int
    total: int
    step: CascadeStep
    detail: str | None = None
    waiting_for: Capability | None = None
    info: StepDetail | None = None
    """``detail`` as a code and its placeholders, for translated texts."""
    reached: PowerState | None = None
    """For a done or skipped step, the state the node reached (ON or OFF):
    the glue shows it at once, before the next poll confirms it."""


@dataclass(frozen=True, slots=True)
class CascadeEnded:
    """The cascade completed, failed, was cancelled or was interrupted.

    ``cascade.status`` says which; ``cascade.error`` says why it failed.
    """

    cascade: Cascade


@dataclass(frozen=True, slots=True)
class NodeReached:
    """A node of the cascade reached ``state`` before its own step: a machine
    woken early is up. The glue shows it at once; its step confirms it later."""

    cascade: Cascade
    node: str
    state: PowerState


@dataclass(frozen=True, slots=True)
class NodeActivityChanged:
    """A node's transient state changed.

    ``state`` is ``STARTING`` or ``STOPPING`` while a step acts on the node,
    ``ERROR`` after a failed step (with ``code`` and ``message``), and
    ``None`` once the orchestrator has nothing to say about the node any more
    (the polled state applies again).
    """

    node: str
    state: PowerState | None
    code: str | None = None
    message: str | None = None
    cascade_id: str | None = None


@dataclass(frozen=True, slots=True)
class Reevaluated:
    """The re-evaluation that follows a completed stop cascade.

    ``decisions`` are the planner's verdicts. For every STOP verdict a
    follow-up stop cascade was queued; ``follow_ups`` maps the node id to it.
    CONFIRM verdicts are shutdown proposals that the glue persists and
    notifies; the user answers through :meth:`Orchestrator.async_confirm_shutdown`
    (or simply does not). KEEP verdicts carry the active dependents and
    children that keep the node on.
    """

    cascade: Cascade
    decisions: tuple[Decision, ...]
    follow_ups: dict[str, Cascade]


type OrchestratorEvent = (
    CascadeStarted
    | StepChanged
    | NodeReached
    | CascadeEnded
    | NodeActivityChanged
    | Reevaluated
)
"""Every event a listener may receive."""

type Listener = Callable[[OrchestratorEvent], None]
"""A callback receiving every orchestrator event."""
