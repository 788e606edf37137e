"""WakeHub's actions, registered once in ``async_setup``.

- ``wakehub.start`` / ``wakehub.stop``: target entities or devices of
  WakeHub nodes, or the areas, floors and labels that hold them (what the
  target picker offers); ``wait: true`` waits for the end and returns the
  cascades.
- ``wakehub.plan``: response only, the steps a start or stop would run now
  (for a stop, also the dependents it takes down and the starts it cancels).
- ``wakehub.add_dependency`` / ``wakehub.remove_dependency``: ``dependent``
  and ``dependency`` are the entity id of any WakeHub entity of a node, or its
  device id. The edge is stored in the options of the entry that owns the
  dependent; a cycle is refused (naming it) and nothing is stored.
- ``wakehub.confirm_shutdown`` / ``wakehub.dismiss_shutdown``: answer a
  shutdown proposal, by its id or by its node.

Bad input raises ``ServiceValidationError``; anything else a translated
``HomeAssistantError``.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, Final

from homeassistant.const import (
    ATTR_AREA_ID,
    ATTR_DEVICE_ID,
    ATTR_ENTITY_ID,
    ATTR_FLOOR_ID,
    ATTR_LABEL_ID,
)
from homeassistant.core import (
    HomeAssistant,
    ServiceCall,
    ServiceResponse,
    SupportsResponse,
    callback,
)
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import (
    area_registry as ar,
    config_validation as cv,
    device_registry as dr,
    entity_registry as er,
)

from .compat import vol
from .const import DOMAIN
from .core.errors import CoreError
from .core.planner import Action, ReasonKind
from .graph import edit_edge
from .hub import HUB_KEY

if TYPE_CHECKING:
    from .hub import WakeHubHub
    from .orchestrator import Cascade

SERVICE_START: Final = "start"
SERVICE_STOP: Final = "stop"
SERVICE_PLAN: Final = "plan"
SERVICE_ADD_DEPENDENCY: Final = "add_dependency"
SERVICE_REMOVE_DEPENDENCY: Final = "remove_dependency"
SERVICE_CONFIRM_SHUTDOWN: Final = "confirm_shutdown"
SERVICE_DISMISS_SHUTDOWN: Final = "dismiss_shutdown"
SERVICE_CLEAR_ERROR: Final = "clear_error"

ATTR_WAIT: Final = "wait"
ATTR_ACTION: Final = "action"
ATTR_DEPENDENT: Final = "dependent"
ATTR_DEPENDENCY: Final = "dependency"
ATTR_PROPOSAL_ID: Final = "proposal_id"

_IDS: Final = vol.All(cv.ensure_list, [cv.string])
_TARGET: Final[dict[vol.Marker, Any]] = {
    vol.Optional(ATTR_ENTITY_ID): cv.entity_ids,
    vol.Optional(ATTR_DEVICE_ID): _IDS,
    vol.Optional(ATTR_AREA_ID): _IDS,
    vol.Optional(ATTR_FLOOR_ID): _IDS,
    vol.Optional(ATTR_LABEL_ID): _IDS,
}
POWER_SCHEMA: Final = vol.Schema(
    {**_TARGET, vol.Optional(ATTR_WAIT, default=False): cv.boolean}
)
PLAN_SCHEMA: Final = vol.Schema(
    {**_TARGET, vol.Required(ATTR_ACTION): vol.In([a.value for a in Action])}
)
DEPENDENCY_SCHEMA: Final = vol.Schema(
    {vol.Required(ATTR_DEPENDENT): cv.string, vol.Required(ATTR_DEPENDENCY): cv.string}
)
PROPOSAL_SCHEMA: Final = vol.Schema(
    {**_TARGET, vol.Optional(ATTR_PROPOSAL_ID): cv.string}
)
TARGET_SCHEMA: Final = vol.Schema(_TARGET)


def _invalid(key: str, **placeholders: str) -> ServiceValidationError:
    return ServiceValidationError(
        translation_domain=DOMAIN,
        translation_key=key,
        translation_placeholders=placeholders or None,
    )


def _node_of_device(hub: WakeHubHub, device_id: str) -> str | None:
    device = dr.async_get(hub.hass).async_get(device_id)
    if device is None:
        return None
    for domain, identifier in device.identifiers:
        if domain == DOMAIN and identifier in hub.topology:
            return identifier
    return None


def resolve_node(hub: WakeHubHub, reference: str) -> str:
    """The node id behind an entity id (any WakeHub entity) or a device id."""
    node: str | None = None
    if (entry := er.async_get(hub.hass).async_get(reference)) is not None:
        if entry.platform == DOMAIN and entry.device_id is not None:
            node = _node_of_device(hub, entry.device_id)
    else:
        node = _node_of_device(hub, reference)
    if node is None:
        raise _invalid("not_a_node", reference=reference)
    return node


def _grouped_nodes(hub: WakeHubHub, call: ServiceCall) -> list[str]:
    """The WakeHub nodes in the targeted areas, floors and labels.

    As Home Assistant expands a target: the devices there, and the entities
    placed there themselves. Anything that is not a WakeHub node is left out.
    """
    areas = ar.async_get(hub.hass)
    devices = dr.async_get(hub.hass)
    entities = er.async_get(hub.hass)
    area_ids = list(call.data.get(ATTR_AREA_ID, []))
    for floor_id in call.data.get(ATTR_FLOOR_ID, []):
        area_ids += [area.id for area in ar.async_entries_for_floor(areas, floor_id)]
    device_ids: list[str] = []
    entity_entries: list[er.RegistryEntry] = []
    for label_id in call.data.get(ATTR_LABEL_ID, []):
        area_ids += [area.id for area in ar.async_entries_for_label(areas, label_id)]
        device_ids += [d.id for d in dr.async_entries_for_label(devices, label_id)]
        entity_entries += er.async_entries_for_label(entities, label_id)
    for area_id in dict.fromkeys(area_ids):
        device_ids += [d.id for d in dr.async_entries_for_area(devices, area_id)]
        entity_entries += er.async_entries_for_area(entities, area_id)
    device_ids += [
        entry.device_id
        for entry in entity_entries
        if entry.platform == DOMAIN and entry.device_id is not None
    ]
    nodes = (_node_of_device(hub, device_id) for device_id in device_ids)
    return [node for node in nodes if node is not None]


def _targets(hub: WakeHubHub, call: ServiceCall) -> list[str]:
    """The nodes a call targets, in order, without duplicates."""
    references = [
        *call.data.get(ATTR_ENTITY_ID, []),
        *call.data.get(ATTR_DEVICE_ID, []),
    ]
    nodes = [resolve_node(hub, ref) for ref in references]
    nodes += _grouped_nodes(hub, call)
    if not nodes:
        raise _invalid("no_target")
    return list(dict.fromkeys(nodes))


def _response(cascades: list[Cascade]) -> dict[str, Any]:
    return {"cascades": [cascade.as_dict() for cascade in cascades]}


@callback
def async_setup_services(hass: HomeAssistant) -> None:
    """Register WakeHub's actions."""

    def hub() -> WakeHubHub:
        return hass.data[HUB_KEY]

    async def power(call: ServiceCall, action: Action) -> ServiceResponse:
        the_hub = hub()
        nodes = _targets(the_hub, call)
        cascades = [await the_hub.async_request(action, node) for node in nodes]
        if call.data[ATTR_WAIT]:
            await asyncio.gather(*(cascade.wait() for cascade in cascades))
        return _response(cascades) if call.return_response else None

    async def start(call: ServiceCall) -> ServiceResponse:
        return await power(call, Action.START)

    async def stop(call: ServiceCall) -> ServiceResponse:
        return await power(call, Action.STOP)

    async def plan(call: ServiceCall) -> ServiceResponse:
        the_hub = hub()
        nodes = _targets(the_hub, call)
        if len(nodes) != 1:
            raise _invalid("one_target")
        target = nodes[0]
        action = Action(call.data[ATTR_ACTION])
        try:
            steps = await the_hub.orchestrator.async_plan(action, target)
        except CoreError as err:
            raise _invalid("invalid_request", message=str(err)) from err
        response: dict[str, Any] = {
            "target": target,
            "name": the_hub.name_of(target),
            "action": action.value,
            "steps": [
                {
                    "node": step.node,
                    "name": the_hub.name_of(step.node),
                    "action": step.action.value,
                    "channel": step.channel.value,
                    "reason": step.reason.kind.value,
                    "reason_of": step.reason.of,
                }
                for step in steps
            ],
        }
        if action is Action.STOP:
            response["dependents"] = [
                {
                    "node": step.node,
                    "name": the_hub.name_of(step.node),
                    "reason": step.reason.kind.value,
                }
                for step in steps
                if step.reason.kind is not ReasonKind.TARGET
            ]
            # The queued or running starts this stop would cancel (they need
            # the target): the card names them before the user confirms.
            response["cancels"] = [
                {
                    "cascade_id": cascade.id,
                    "target": cascade.target,
                    "name": cascade.target_name,
                    "status": str(cascade.status),
                }
                for cascade in the_hub.orchestrator.starts_needing(target)
            ]
        return response

    async def dependency(call: ServiceCall, add: bool) -> None:
        the_hub = hub()
        dependent = resolve_node(the_hub, call.data[ATTR_DEPENDENT])
        dependency = resolve_node(the_hub, call.data[ATTR_DEPENDENCY])
        coordinator = the_hub.coordinator_of(dependent)
        assert coordinator is not None  # resolve_node found it in the topology
        entry = coordinator.config_entry
        try:
            options = edit_edge(
                the_hub.topology, entry.options, (dependent, dependency), add=add
            )
        except CoreError as err:
            raise _invalid(err.code, **err.placeholders) from err
        hass.config_entries.async_update_entry(entry, options=options)
        # The update listener rebuilds the topology without reloading; do it
        # now as well, so the answer of this call already reflects the edge.
        the_hub.async_rebuild()

    async def add_dependency(call: ServiceCall) -> None:
        await dependency(call, add=True)

    async def remove_dependency(call: ServiceCall) -> None:
        await dependency(call, add=False)

    def proposal_refs(call: ServiceCall) -> list[str]:
        if (proposal := call.data.get(ATTR_PROPOSAL_ID)) is not None:
            return [proposal]
        return _targets(hub(), call)

    async def confirm_shutdown(call: ServiceCall) -> None:
        for ref in proposal_refs(call):
            await hub().async_confirm_shutdown(ref)

    async def dismiss_shutdown(call: ServiceCall) -> None:
        for ref in proposal_refs(call):
            await hub().proposals.async_dismiss(ref)

    async def clear_error(call: ServiceCall) -> None:
        the_hub = hub()
        for node_id in _targets(the_hub, call):
            the_hub.clear_error(node_id)

    register = hass.services.async_register
    register(
        DOMAIN,
        SERVICE_START,
        start,
        schema=POWER_SCHEMA,
        supports_response=SupportsResponse.OPTIONAL,
    )
    register(
        DOMAIN,
        SERVICE_STOP,
        stop,
        schema=POWER_SCHEMA,
        supports_response=SupportsResponse.OPTIONAL,
    )
    register(
        DOMAIN,
        SERVICE_PLAN,
        plan,
        schema=PLAN_SCHEMA,
        supports_response=SupportsResponse.ONLY,
    )
    register(DOMAIN, SERVICE_ADD_DEPENDENCY, add_dependency, schema=DEPENDENCY_SCHEMA)
    register(
        DOMAIN, SERVICE_REMOVE_DEPENDENCY, remove_dependency, schema=DEPENDENCY_SCHEMA
    )
    register(DOMAIN, SERVICE_CONFIRM_SHUTDOWN, confirm_shutdown, schema=PROPOSAL_SCHEMA)
    register(DOMAIN, SERVICE_DISMISS_SHUTDOWN, dismiss_shutdown, schema=PROPOSAL_SCHEMA)
    register(DOMAIN, SERVICE_CLEAR_ERROR, clear_error, schema=TARGET_SCHEMA)
