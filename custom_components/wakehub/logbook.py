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
  ``interrupted`` after a restart), ``error_placeholders``, ``api`` and
  ``host`` (what answered, where); a step adds ``detail_key`` and
  ``detail_placeholders``; a completion adds ``cancel_reason``,
  ``cancel_code`` and ``cancel_placeholders``;
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
from homeassistant.helpers.translation import (
    async_get_cached_translations,
    async_get_translations,
)

from .cascade_failure import EXPLAINED_CODES
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
from .orchestrator import CANCEL_CODES, STEP_DETAIL_KEYS

# The keys of a logbook entry (``homeassistant.components.logbook.const``,
# which its package does not re-export).
LOGBOOK_ENTRY_ENTITY_ID: Final = "entity_id"
LOGBOOK_ENTRY_MESSAGE: Final = "message"
LOGBOOK_ENTRY_NAME: Final = "name"

_FALLBACK_NAME: Final = "WakeHub"

type Text = Callable[..., str]
"""A translated text: ``text("logbook_kept", why=...)`` (see :func:`texts`)."""

type Describer = Callable[[Text, Mapping[str, Any]], tuple[str | None, str, str | None]]
"""(texts, event data) → (display name, message, node id for the entity)."""


def _act(data: Mapping[str, Any]) -> str:
    """``start`` or ``stop``: the suffix of the texts that depend on it."""
    return "stop" if data.get("action") == "stop" else "start"


def _join(text: Text, names: list[str]) -> str:
    """'A', 'A and B', 'A, B and C' (the language's "and")."""
    if len(names) <= 1:
        return "".join(names)
    return f"{', '.join(names[:-1])} {text('logbook_and')} {names[-1]}"


def _at(text: Text, data: Mapping[str, Any]) -> str:
    """' at step 2/3', ' at step 2', or nothing."""
    step, total = data.get("step"), data.get("total")
    if step is None:
        return ""
    if total is None:
        return " " + text("logbook_at_step_n", step=step)
    return " " + text("logbook_at_step", step=step, total=total)


def _cascade_started(
    text: Text, data: Mapping[str, Any]
) -> tuple[str | None, str, str | None]:
    steps = data.get("steps")
    count = len(steps) if isinstance(steps, list) else None
    if count is None:
        plan = ""
    elif count == 0:
        plan = f" ({text('logbook_plan_none')})"
    elif count == 1:
        plan = f" ({text('logbook_plan_one')})"
    else:
        plan = f" ({text('logbook_plan_many', count=count)})"
    origin = str(data.get("origin"))
    if origin in ("reevaluation", "confirmation"):
        origin = " " + text(f"logbook_origin_{origin}")
    else:
        origin = ""
    return (
        data.get("target_name") or data.get("target"),
        text(f"logbook_began_{_act(data)}", origin=origin, plan=plan),
        data.get("target"),
    )


def _cascade_step(
    text: Text, data: Mapping[str, Any]
) -> tuple[str | None, str, str | None]:
    act = _act(data)
    what = text(
        f"logbook_of_{act}",
        target=data.get("target_name") or data.get("target") or "?",
    )
    step, total = data.get("step"), data.get("total")
    if step is not None and total is not None:
        what = text("logbook_step_of", step=step, total=total, what=what)
    elif step is not None:
        what = text("logbook_step_n_of", step=step, what=what)
    status = data.get("status")
    if status in ("done", "skipped"):
        verb = text(f"logbook_step_{status}_{act}")
    elif status == "failed":
        verb = text("logbook_step_failed")
    else:
        verb = text(f"logbook_step_started_{act}")
    detail = _step_detail(text, data) if status == "started" else None
    suffix = f": {detail}" if detail else ""
    return (
        data.get("name") or data.get("node"),
        f"{verb} ({what}){suffix}",
        data.get("node"),
    )


def _step_detail(text: Text, data: Mapping[str, Any]) -> str | None:
    """What a started step does, from its code (``detail_key``), translated.

    The event's English ``detail`` is for automations and the log; the
    logbook speaks Home Assistant's language (docs/design.md).
    """
    key = data.get("detail_key")
    placeholders = data.get("detail_placeholders") or {}
    if key not in STEP_DETAIL_KEYS or not isinstance(placeholders, Mapping):
        return None
    values = {name: str(value) for name, value in placeholders.items()}
    channels = [values.get("channel", "")] if "channel" in values else []
    if "apis" in values:
        channels = values["apis"].split(",")
    labels = [text(f"logbook_channel_{channel}") for channel in channels if channel]
    values["channel"] = values["apis"] = _join(text, labels)
    act = "stop" if values.get("action") == "stop" else "start"
    if key in ("command", "command_via"):
        return text(f"logbook_detail_{key}_{act}", **values)
    return text(f"logbook_detail_{key}", **values)


def _cascade_completed(
    text: Text, data: Mapping[str, Any]
) -> tuple[str | None, str, str | None]:
    act = _act(data)
    if data.get("status") == "cancelled":
        why = None
        code = data.get("cancel_code")
        placeholders = data.get("cancel_placeholders") or {}
        if code in CANCEL_CODES and isinstance(placeholders, Mapping):
            values = {name: str(value) for name, value in placeholders.items()}
            why = text(f"logbook_cancel_{code}", **values)
        message = text(f"logbook_cancelled_{act}", why=f": {why}" if why else "")
    else:
        message = text(f"logbook_done_{act}")
    return data.get("target_name") or data.get("target"), message, data.get("target")


def _cascade_failed(
    text: Text, data: Mapping[str, Any]
) -> tuple[str | None, str, str | None]:
    act = _act(data)
    node = data.get("name") or data.get("node")
    at = _at(text, data)
    if node and node != data.get("target_name"):
        at += f" ({node})"
    if data.get("status") == "interrupted" or data.get("error_code") == "interrupted":
        message = text(f"logbook_interrupted_{act}", at=at)
    else:
        message = text(f"logbook_failed_{act}", at=at, why=_error_why(text, act, data))
    return data.get("target_name") or data.get("target"), message, data.get("target")


def _error_why(text: Text, act: str, data: Mapping[str, Any]) -> str:
    """': <what went wrong>', translated; an API's own words stay verbatim."""
    code, detail = data.get("error_code"), data.get("error_message")
    placeholders = data.get("error_placeholders") or {}
    if (
        code == "timeout"
        and isinstance(placeholders, Mapping)
        and placeholders.get("seconds")
    ):
        return ": " + text(f"logbook_not_ready_{act}", seconds=placeholders["seconds"])
    if not code:
        return f": {detail}" if detail else ""
    if code in EXPLAINED_CODES and data.get("api") and data.get("host"):
        # WakeHub's own message is English: the code's sentence instead.
        return ": " + text(
            f"cascade_error_{code}",
            api=data["api"],
            host=data["host"],
            node=data.get("name") or data.get("node") or "?",
        )
    if not detail:
        return ": " + text("logbook_error_code", code=code)
    return ": " + text("logbook_error", code=code, message=detail)


def _shutdown_proposed(
    text: Text, data: Mapping[str, Any]
) -> tuple[str | None, str, str | None]:
    return (
        data.get("name") or data.get("node"),
        text("logbook_proposed"),
        data.get("node"),
    )


_OUTCOMES: Final = frozenset({"confirmed", "dismissed", "expired", "withdrawn"})


def _proposal_closed(
    text: Text, data: Mapping[str, Any]
) -> tuple[str | None, str, str | None]:
    outcome = str(data.get("outcome"))
    message = (
        text(f"logbook_closed_{outcome}")
        if outcome in _OUTCOMES
        else text("logbook_closed_other", outcome=outcome)
    )
    return data.get("name") or data.get("node"), message, data.get("node")


def _node_kept(
    text: Text, data: Mapping[str, Any]
) -> tuple[str | None, str, str | None]:
    reason = data.get("reason")
    dependents = [str(name) for name in data.get("dependent_names") or []]
    children = [str(name) for name in data.get("child_names") or []]
    if reason == "manual":
        why = text("logbook_kept_manual")
    elif reason == "starting":
        needed_by = data.get("needed_by_name") or data.get("needed_by") or "?"
        why = text("logbook_kept_starting", name=needed_by)
    else:
        parts = []
        if dependents:
            parts.append(text("logbook_kept_needed", names=_join(text, dependents)))
        if children:
            parts.append(text("logbook_kept_hosts", names=_join(text, children)))
        why = f" {text('logbook_and')} ".join(parts) or text("logbook_kept_in_use")
    return (
        data.get("name") or data.get("node"),
        text("logbook_kept", why=why),
        data.get("node"),
    )


def _node_idle(
    text: Text, data: Mapping[str, Any]
) -> tuple[str | None, str, str | None]:
    action = "propose" if data.get("action") == "propose" else "stop"
    readings = data.get("criteria")
    described = [
        _reading(text, reading)
        for reading in (readings if isinstance(readings, list) else [])
        if isinstance(reading, Mapping)
    ]
    criteria = "; ".join(described) or text("logbook_idle_no_criterion")
    return (
        data.get("name") or data.get("node"),
        text(f"logbook_idle_{action}", minutes=data.get("minutes"), criteria=criteria),
        data.get("node"),
    )


_CRITERIA: Final = frozenset({"cpu", "ram", "network", "connections"})
_NOTES: Final = frozenset({"unknown", "baseline", "counter_reset"})


def _number(value: Any) -> str:
    """A reading's figure: ``12.5``, ``3`` (no ``.0``)."""
    if isinstance(value, float):
        return f"{value:.1f}".removesuffix(".0")
    return str(value)


def _reading(text: Text, reading: Mapping[str, Any]) -> str:
    """One inactivity reading (the event's ``criteria`` item), translated.

    The event's English ``description`` is for automations and the log.
    """
    criterion = str(reading.get("criterion"))
    entity = reading.get("entity_id")
    name = (
        str(entity)
        if entity
        else text(f"logbook_criterion_{criterion}")
        if criterion in _CRITERIA
        else criterion
    )
    if (note := reading.get("note")) is not None:
        key = f"logbook_reading_{note}" if note in _NOTES else "logbook_reading_unknown"
        return text(key, name=name)
    value, threshold = _number(reading.get("value")), _number(reading.get("threshold"))
    if criterion in _CRITERIA:
        return text(f"logbook_reading_{criterion}", value=value, threshold=threshold)
    return text("logbook_reading_entity", name=name, value=value)


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


def texts(hass: HomeAssistant) -> Text:
    """The logbook's texts in Home Assistant's language, English for the rest.

    The texts are ``exceptions.logbook_*`` of the translations, read from
    Home Assistant's cache (a description is synchronous), which
    :func:`async_describe_events` fills; a text in neither language shows
    its key.
    """
    found: dict[str, str] = {}
    for language in (hass.config.language, "en"):
        for key, value in async_get_cached_translations(
            hass, language, "exceptions", DOMAIN
        ).items():
            found.setdefault(key, value)

    def text(key: str, **placeholders: Any) -> str:
        template = found.get(f"component.{DOMAIN}.exceptions.{key}.message", key)
        try:
            return template.format(**placeholders)
        except (KeyError, IndexError, ValueError):
            return template

    return text


async def async_load_texts(hass: HomeAssistant) -> None:
    """Load the logbook's texts (Home Assistant's language and English)."""
    for language in dict.fromkeys((hass.config.language, "en")):
        await async_get_translations(hass, language, "exceptions", [DOMAIN])


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

    hass.async_create_task(async_load_texts(hass), eager_start=True)

    def _make(describer: Describer) -> Callable[[Event], dict[str, str]]:
        @callback
        def _describe(event: Event) -> dict[str, str]:
            name, message, node = describer(texts(hass), event.data)
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
