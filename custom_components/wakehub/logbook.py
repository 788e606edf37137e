"""Describe WakeHub's events in the logbook, in plain words.

The hub fires the cascade events (``wakehub_cascade_started``, ``_step``,
``_completed``, ``_failed``); the proposal manager fires
``wakehub_shutdown_proposed``, ``wakehub_shutdown_proposal_closed`` and
``wakehub_node_kept``. Each entry is attached to the node's main entity (its
power switch, else its status sensor) when it has one, so it also shows on the
node's device page.

Event data, as the hub and :mod:`.proposals` fire them:

* cascade events: ``cascade_id``, ``action`` (start/stop), ``target``,
  ``target_name``, ``origin`` (request/reevaluation/confirmation),
  ``status``; a step adds ``node``, ``name``, ``step``, ``total`` and
  ``status`` (started/done/skipped/failed); a failure adds ``node``,
  ``name``, ``step``, ``total``, ``error_code``, ``error_message`` (status
  ``interrupted`` after a restart); a completion adds ``cancel_reason``;
* ``wakehub_shutdown_proposed``: ``proposal_id``, ``node``, ``name``,
  ``expires_at``;
* ``wakehub_shutdown_proposal_closed``: the same plus ``outcome``;
* ``wakehub_node_kept``: ``node``, ``name``, ``reason`` (dependents,
  children or manual), ``dependent_names``, ``child_names``;
* ``wakehub_node_idle`` (:mod:`.idle`): ``node``, ``name``, ``minutes``,
  ``action`` (stop or propose), ``criteria`` (each reading) and
  ``description`` (the readings in words).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

from homeassistant.const import Platform
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.helpers import entity_registry as er

from .const import (
    DOMAIN,
    EVENT_CASCADE_COMPLETED,
    EVENT_CASCADE_FAILED,
    EVENT_CASCADE_STARTED,
    EVENT_CASCADE_STEP,
    EVENT_NODE_IDLE,
    EVENT_NODE_KEPT,
    EVENT_PROPOSAL_CLOSED,
    EVENT_SHUTDOWN_PROPOSED,
)

# The keys of a logbook entry (``homeassistant.components.logbook.const``,
# which its package does not re-export).
LOGBOOK_ENTRY_ENTITY_ID: Final = "entity_id"
LOGBOOK_ENTRY_MESSAGE: Final = "message"
LOGBOOK_ENTRY_NAME: Final = "name"

_FALLBACK_NAME: Final = "WakeHub"

type Describer = Callable[[Mapping[str, Any]], tuple[str | None, str, str | None]]
"""Event data → (display name, message, node id for the entity)."""


def _action_words(data: Mapping[str, Any]) -> tuple[str, str]:
    """('starting', 'started') or ('shutting down', 'shut down')."""
    if data.get("action") == "stop":
        return "shutting down", "shut down"
    return "starting", "started"


def _join(names: list[str]) -> str:
    """'A', 'A and B', 'A, B and C'."""
    if len(names) <= 1:
        return "".join(names)
    return f"{', '.join(names[:-1])} and {names[-1]}"


def _of_total(data: Mapping[str, Any]) -> str:
    step, total = data.get("step"), data.get("total")
    if step is None:
        return ""
    return f"step {step}/{total}" if total is not None else f"step {step}"


_ORIGINS: Final = {
    "reevaluation": " because nothing needs it any more",
    "confirmation": " after the shutdown was confirmed",
}


def _cascade_started(data: Mapping[str, Any]) -> tuple[str | None, str, str | None]:
    doing, _ = _action_words(data)
    steps = data.get("steps")
    count = len(steps) if isinstance(steps, list) else None
    plan = (
        " (nothing to do)"
        if count == 0
        else f" ({count} step{'s' if count != 1 else ''})"
        if count is not None
        else ""
    )
    origin = _ORIGINS.get(str(data.get("origin")), "")
    return (
        data.get("target_name") or data.get("target"),
        f"began {doing}{origin}{plan}",
        data.get("target"),
    )


def _cascade_step(data: Mapping[str, Any]) -> tuple[str | None, str, str | None]:
    doing, done = _action_words(data)
    target = data.get("target_name") or data.get("target") or "?"
    where = _of_total(data)
    context = f" ({where} of {doing} {target})" if where else f" ({doing} {target})"
    status = data.get("status")
    if status == "done":
        verb = done
    elif status == "skipped":
        verb = "skipped, already " + ("off" if data.get("action") == "stop" else "on")
    elif status == "failed":
        verb = "failed"
    else:
        verb = doing
    detail = data.get("detail")
    suffix = f": {detail}" if detail and status in ("started", "failed") else ""
    return (
        data.get("name") or data.get("node"),
        f"{verb}{context}{suffix}",
        data.get("node"),
    )


def _cascade_completed(data: Mapping[str, Any]) -> tuple[str | None, str, str | None]:
    doing, done = _action_words(data)
    if data.get("status") == "cancelled":
        why = data.get("cancel_reason")
        message = f"{doing} was cancelled" + (f": {why}" if why else "")
    else:
        message = f"was {done}"
    return data.get("target_name") or data.get("target"), message, data.get("target")


def _cascade_failed(data: Mapping[str, Any]) -> tuple[str | None, str, str | None]:
    doing, _ = _action_words(data)
    where = _of_total(data)
    node = data.get("name") or data.get("node")
    at = f" at {where}" if where else ""
    if node and node != data.get("target_name"):
        at += f" ({node})"
    if data.get("status") == "interrupted" or data.get("error_code") == "interrupted":
        message = f"{doing} was interrupted by a restart{at}"
    else:
        code, text = data.get("error_code"), data.get("error_message")
        why = ": ".join(str(part) for part in (code, text) if part)
        message = f"{doing} failed{at}" + (f": {why}" if why else "")
    return data.get("target_name") or data.get("target"), message, data.get("target")


def _shutdown_proposed(data: Mapping[str, Any]) -> tuple[str | None, str, str | None]:
    return (
        data.get("name") or data.get("node"),
        "has no more active dependents: shutting it down awaits confirmation",
        data.get("node"),
    )


_OUTCOMES: Final = {
    "confirmed": "shutdown confirmed",
    "dismissed": "shutdown declined: it stays on",
    "expired": "shutdown proposal expired without an answer: it stays on",
    "withdrawn": "shutdown proposal withdrawn: it is needed again or already off",
}


def _proposal_closed(data: Mapping[str, Any]) -> tuple[str | None, str, str | None]:
    outcome = str(data.get("outcome"))
    return (
        data.get("name") or data.get("node"),
        _OUTCOMES.get(outcome, f"shutdown proposal closed ({outcome})"),
        data.get("node"),
    )


def _node_kept(data: Mapping[str, Any]) -> tuple[str | None, str, str | None]:
    reason = data.get("reason")
    dependents = [str(name) for name in data.get("dependent_names") or []]
    children = [str(name) for name in data.get("child_names") or []]
    if reason == "manual":
        why = "it was started on its own"
    elif reason == "starting":
        needed_by = data.get("needed_by_name") or data.get("needed_by") or "?"
        why = f"the start of {needed_by} needs it"
    else:
        parts = []
        if dependents:
            parts.append(f"still needed by {_join(dependents)}")
        if children:
            parts.append(f"still hosts {_join(children)}")
        why = " and ".join(parts) or "it is still in use"
    return data.get("name") or data.get("node"), f"stays on: {why}", data.get("node")


def _node_idle(data: Mapping[str, Any]) -> tuple[str | None, str, str | None]:
    minutes = data.get("minutes")
    what = (
        "shutting it down awaits confirmation"
        if data.get("action") == "propose"
        else "shutting it down"
    )
    criteria = data.get("description") or "no criterion"
    return (
        data.get("name") or data.get("node"),
        f"idle for {minutes} min ({criteria}): {what}",
        data.get("node"),
    )


DESCRIBERS: Final[dict[str, Describer]] = {
    EVENT_CASCADE_STARTED: _cascade_started,
    EVENT_CASCADE_STEP: _cascade_step,
    EVENT_CASCADE_COMPLETED: _cascade_completed,
    EVENT_CASCADE_FAILED: _cascade_failed,
    EVENT_SHUTDOWN_PROPOSED: _shutdown_proposed,
    EVENT_PROPOSAL_CLOSED: _proposal_closed,
    EVENT_NODE_KEPT: _node_kept,
    EVENT_NODE_IDLE: _node_idle,
}


def _entity_of(hass: HomeAssistant, node_id: str) -> str | None:
    """The node's power switch, else its status sensor, if registered."""
    registry = er.async_get(hass)
    for platform, key in ((Platform.SWITCH, "power"), (Platform.SENSOR, "status")):
        if entity_id := registry.async_get_entity_id(
            platform, DOMAIN, f"{node_id}-{key}"
        ):
            return entity_id
    return None


@callback
def async_describe_events(
    hass: HomeAssistant,
    async_describe_event: Callable[[str, str, Callable[[Event], dict[str, str]]], None],
) -> None:
    """Register a description for every WakeHub event."""

    def _make(describer: Describer) -> Callable[[Event], dict[str, str]]:
        @callback
        def _describe(event: Event) -> dict[str, str]:
            name, message, node = describer(event.data)
            entry = {
                LOGBOOK_ENTRY_NAME: str(name or _FALLBACK_NAME),
                LOGBOOK_ENTRY_MESSAGE: message,
            }
            if node and (entity_id := _entity_of(hass, str(node))):
                entry[LOGBOOK_ENTRY_ENTITY_ID] = entity_id
            return entry

        return _describe

    for event_type, describer in DESCRIBERS.items():
        async_describe_event(DOMAIN, event_type, _make(describer))
