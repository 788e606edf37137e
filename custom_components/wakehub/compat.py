"""What differs between the Home Assistant releases WakeHub supports.

WakeHub runs on Home Assistant 2025.4 (the floor) up to the newest release.
Each difference between them is hidden here behind one name, and the right
behaviour is chosen by *feature detection* (what the running Home Assistant
offers), never by comparing version strings:

``vol``
    The schema library of flows and actions. Home Assistant 2026 replaced
    voluptuous with probatio, its API-compatible successor; flows and actions
    must hand it probatio schemas. Older releases only have voluptuous. Every
    schema WakeHub builds goes through this name, so each release gets its
    native schemas (``homeassistant.helpers.config_validation`` and the
    selectors are built on the same library).

:func:`async_get_node_device`
    Finds the device of one node. Device identifiers are unique per config
    entry since Home Assistant 2026 (``async_get_device_by_identifier``); the
    global ``async_get_device`` is deprecated there and refused outside
    integrations.

:func:`async_register_node_device`
    Creates or updates the device of one node, linked to its host's device.
    Home Assistant 2026 links a device to its parent by the parent's registry
    id (``via_device_id``); older releases by the parent's identifier
    (``via_device``), which 2026 deprecates. Entities' ``DeviceInfo`` carry
    no link at all: the devices are registered here first, parents first.

:func:`async_move_node_device`
    Hands a node's device over to another config entry. A device belongs to
    one entry since Home Assistant 2026, and moves with
    ``new_config_entry_id``; before, a device listed several entries, and
    moved by adding the new one and removing the old one (deprecated there).

``DhcpServiceInfo``
    What Home Assistant's ``dhcp`` integration hands a config flow's
    ``async_step_dhcp``. It lives in ``homeassistant.helpers.service_info.dhcp``
    since Home Assistant 2025.2 (both 2025.4 and 2026 have it there);
    ``homeassistant.components.dhcp`` re-exported it, deprecated, until 2026,
    which removed it. The helper module is tried first, the old place only
    when it is missing.

``RepairsFlowResult`` (for annotations only)
    What the steps of a repair flow return: ``RepairsFlowResult`` since Home
    Assistant 2026, ``FlowResult`` before.
"""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any

from homeassistant.core import callback
from homeassistant.helpers import device_registry as dr

from .const import DOMAIN

try:
    import probatio as vol  # type: ignore[import-not-found, unused-ignore]
except ImportError:  # Home Assistant before probatio (tested by reloading)
    import voluptuous as vol  # type: ignore[no-redef, unused-ignore]

try:
    from homeassistant.helpers.service_info.dhcp import DhcpServiceInfo
except ImportError:  # pragma: no cover - Home Assistant before 2025.2
    from homeassistant.components.dhcp import (  # type: ignore[attr-defined, no-redef, unused-ignore]
        DhcpServiceInfo,
    )

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant
    from homeassistant.helpers.device_registry import DeviceInfo

    # What a repair flow's steps return: its own result type since Home
    # Assistant 2026 (RepairsFlow is generic there), the plain FlowResult before.
    try:
        from homeassistant.components.repairs import (  # type: ignore[attr-defined, unused-ignore]
            RepairsFlowResult as _RepairsFlowResult,
        )
    except ImportError:
        from homeassistant.data_entry_flow import (  # type: ignore[assignment, unused-ignore]
            FlowResult as _RepairsFlowResult,
        )
    RepairsFlowResult = _RepairsFlowResult

__all__ = [
    "DhcpServiceInfo",
    "async_get_node_device",
    "async_move_node_device",
    "async_register_node_device",
    "vol",
]


@callback
def async_get_node_device(
    hass: HomeAssistant, entry_id: str, node_id: str
) -> dr.DeviceEntry | None:
    """Return the device of node ``node_id`` of config entry ``entry_id``.

    Only a device that belongs to that entry is returned: another entry (or
    another integration) may use the same identifier.
    """
    return get_node_device(dr.async_get(hass), entry_id, node_id)


def get_node_device(
    registry: dr.DeviceRegistry, entry_id: str, node_id: str
) -> dr.DeviceEntry | None:
    """Look up a node's device in ``registry`` (see :func:`async_get_node_device`)."""
    identifier = (DOMAIN, node_id)
    if hasattr(registry, "async_get_device_by_identifier"):
        # Identifiers are unique per config entry: an exact lookup.
        found: dr.DeviceEntry | None = registry.async_get_device_by_identifier(
            identifier, entry_id
        )
        return found
    # Before: identifiers were global, and a device listed its entries.
    device = registry.async_get_device(identifiers={identifier})
    if device is None or entry_id not in device.config_entries:
        return None
    return device


def links_by_registry_id(registry: dr.DeviceRegistry) -> bool:
    """Whether ``registry`` links a device to its parent by the parent's id."""
    return "via_device_id" in inspect.signature(registry.async_get_or_create).parameters


@callback
def async_register_node_device(
    hass: HomeAssistant,
    entry_id: str,
    info: DeviceInfo,
    parent_node_id: str | None,
) -> dr.DeviceEntry:
    """Create or update a node's device, linked to its parent node's device.

    ``info`` must not name a parent itself. The parent, a node of the same
    entry, must be registered first: register a tree parents first.
    """
    return register_node_device(dr.async_get(hass), entry_id, info, parent_node_id)


def register_node_device(
    registry: dr.DeviceRegistry,
    entry_id: str,
    info: DeviceInfo,
    parent_node_id: str | None,
) -> dr.DeviceEntry:
    """Register a node's device in ``registry`` (see :func:`async_register_node_device`)."""
    kwargs: dict[str, Any] = dict(info)
    if parent_node_id is not None:
        if links_by_registry_id(registry):
            parent = get_node_device(registry, entry_id, parent_node_id)
            if parent is None:
                raise ValueError(
                    f"the device of {parent_node_id} is not registered: "
                    "register the parents first"
                )
            kwargs["via_device_id"] = parent.id
        else:
            kwargs["via_device"] = (DOMAIN, parent_node_id)
    return registry.async_get_or_create(config_entry_id=entry_id, **kwargs)


@callback
def async_move_node_device(
    hass: HomeAssistant, node_id: str, from_entry_id: str, to_entry_id: str
) -> dr.DeviceEntry | None:
    """Hand the device of ``node_id`` over from one config entry to another.

    The device keeps its id, area, labels and user-given name. Returns the
    moved device, or ``None`` when ``from_entry_id`` has no such device.
    """
    return move_node_device(dr.async_get(hass), node_id, from_entry_id, to_entry_id)


def move_node_device(
    registry: dr.DeviceRegistry, node_id: str, from_entry_id: str, to_entry_id: str
) -> dr.DeviceEntry | None:
    """Move a node's device in ``registry`` (see :func:`async_move_node_device`)."""
    device = get_node_device(registry, from_entry_id, node_id)
    if device is None or from_entry_id == to_entry_id:
        return device
    if (
        "new_config_entry_id"
        in inspect.signature(registry.async_update_device).parameters
    ):
        move: dict[str, Any] = {"new_config_entry_id": to_entry_id}
        return registry.async_update_device(device.id, **move)
    # Two steps: HA 2025.4 mixes up the entries' subentries when one update
    # both adds and removes an entry.
    registry.async_update_device(device.id, add_config_entry_id=to_entry_id)
    return registry.async_update_device(device.id, remove_config_entry_id=from_entry_id)
