"""Shared helpers for the orchestration tests: the whole reference homelab in HA.

:func:`async_setup_homelab` adds one entry per simulated machine (NAS,
Machine1, Machine2, RaspberryPi), every child managed, with the reference
dependency edges stored in the options of the entry owning each dependent
(sandbox and plex on Machine1, Jellyfin on Machine2), then sets WakeHub up.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from homeassistant.const import ATTR_ENTITY_ID, Platform
from homeassistant.setup import async_setup_component

from custom_components.wakehub.const import CONF_DEPENDENCIES, DOMAIN
from custom_components.wakehub.hub import HUB_KEY, WakeHubHub

from .conftest import entry_data_for, machine_entry, node_id_of

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from homeassistant.core import HomeAssistant
    from pytest_homeassistant_custom_component.common import MockConfigEntry

    from tests.homelab.thread import HomelabThread

MACHINES: Final = ("NAS", "Machine1", "Machine2", "RaspberryPi")
REFERENCE_EDGES: Final = (("sandbox", "Jellyfin"), ("plex", "NAS"), ("Jellyfin", "NAS"))


def machine_of(ready: Mapping[str, Any], name: str) -> str:
    """The machine a simulated node runs on (itself for a machine)."""
    node = ready["nodes"][name]
    while node["parent"] is not None:
        node = ready["nodes"][node["parent"]]
    return str(node["name"])


async def async_setup_homelab(
    hass: HomeAssistant,
    homelab: HomelabThread,
    edges: Iterable[tuple[str, str]] = REFERENCE_EDGES,
    settings: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, MockConfigEntry]:
    """Add and set up the four machines; return their entries by name.

    ``settings`` maps a node name to option settings to merge into its node
    (or machine) settings, e.g. ``{"NAS": {"start_timeout": 1}}``.
    """
    ready = homelab.ready
    entries: dict[str, MockConfigEntry] = {}
    for name in MACHINES:
        data, options = entry_data_for(homelab, name)
        options[CONF_DEPENDENCIES] = [
            [node_id_of(ready, a), node_id_of(ready, b)]
            for a, b in edges
            if machine_of(ready, a) == name
        ]
        for node_name, extra in (settings or {}).items():
            if machine_of(ready, node_name) != name:
                continue
            if node_name == name:
                options["machine"] = {**options["machine"], **extra}
            else:
                node_id = node_id_of(ready, node_name)
                options["nodes"][node_id] = {**options["nodes"][node_id], **extra}
        entry = machine_entry(name, data, options)
        entry.add_to_hass(hass)
        entries[name] = entry
    assert await async_setup_component(hass, DOMAIN, {})
    await hass.async_block_till_done()
    return entries


def hub_of(hass: HomeAssistant) -> WakeHubHub:
    """The domain-wide hub."""
    return hass.data[HUB_KEY]


async def async_wait_idle(hass: HomeAssistant, timeout: float = 20.0) -> None:
    """Wait until no cascade runs or waits, then let HA settle."""
    hub = hub_of(hass)
    async with __import__("asyncio").timeout(timeout):
        while hub.orchestrator.running is not None or hub.orchestrator.queued:
            cascade = hub.orchestrator.running or hub.orchestrator.queued[0]
            await cascade.wait()
            await hass.async_block_till_done()
    await hass.async_block_till_done()


def commands(homelab: HomelabThread) -> list[tuple[str, str]]:
    """The simulator's power log as ``(action, node name)``, in order.

    A wake-up is a burst of magic packets (the integration sends several, as
    NICs may miss one): consecutive packets to one machine count once.
    """
    found: list[tuple[str, str]] = []
    for entry in homelab.log():
        command = (entry["action"], entry["node"])
        if command[0] == "wol" and found and found[-1] == command:
            continue
        found.append(command)
    return found


def switch_id(name: str) -> str:
    """The entity id of a node's power switch (the device's main entity)."""
    return f"switch.{name.lower().replace('-', '_')}"


async def async_turn(hass: HomeAssistant, service: str, name: str) -> None:
    """Call a switch ``service`` (turn_on/turn_off) on a node's power switch."""
    await hass.services.async_call(
        Platform.SWITCH, service, {ATTR_ENTITY_ID: switch_id(name)}, blocking=True
    )
