"""The domain-level cascade sensor follows the loaded entries.

It lives on one entry (its "home") with the "WakeHub" service device. When
that entry unloads, the same entity and the same device move to another
loaded entry; when the last entry unloads, the sensor goes (only the
restored "unavailable" state of an unloaded entry's entity is left); the next
entry to load brings it back.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import ATTR_ENTITY_ID, SERVICE_TURN_ON, Platform
from homeassistant.helpers import device_registry as dr, entity_registry as er
from homeassistant.helpers.entity_platform import async_get_platforms
import pytest

from custom_components.wakehub.compat import async_get_node_device
from custom_components.wakehub.const import DOMAIN
from custom_components.wakehub.service_device import (
    CASCADE_SENSOR_UNIQUE_ID,
    SERVICE_DEVICE_ID,
)

from .conftest import node_id_of
from .hub_helpers import (
    MACHINES,
    async_setup_homelab,
    async_wait_idle,
    hub_of,
    switch_id,
)

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant

    from tests.homelab.thread import HomelabThread

SENSOR = "sensor.wakehub_cascade"


pytestmark = pytest.mark.usefixtures("fast_polls")


def _home(hass: HomeAssistant) -> er.RegistryEntry:
    """The cascade sensor's registry entry (its config entry is the home)."""
    ent_reg = er.async_get(hass)
    entity_id = ent_reg.async_get_entity_id(
        Platform.SENSOR, DOMAIN, CASCADE_SENSOR_UNIQUE_ID
    )
    assert entity_id == SENSOR
    entry = ent_reg.async_get(entity_id)
    assert entry is not None
    return entry


def _service_devices(hass: HomeAssistant) -> list[dr.DeviceEntry]:
    """Every device of WakeHub's entries carrying the service identifier."""
    registry = dr.async_get(hass)
    identifier = (DOMAIN, SERVICE_DEVICE_ID)
    found = {
        device.id: device
        for entry in hass.config_entries.async_entries(DOMAIN)
        for device in dr.async_entries_for_config_entry(registry, entry.entry_id)
        if identifier in device.identifiers
    }
    return list(found.values())


async def test_moves_to_another_entry_then_goes_with_the_last(
    hass: HomeAssistant, homelab: HomelabThread
) -> None:
    """Unload the home entry after entry: the sensor moves, then goes, then returns."""
    entries = await async_setup_homelab(hass, homelab)
    first = _home(hass)
    device = async_get_node_device(hass, first.config_entry_id or "", "wakehub")
    assert device is not None
    assert device.name == "WakeHub"
    assert device.entry_type is dr.DeviceEntryType.SERVICE
    assert first.device_id == device.id
    state = hass.states.get(SENSOR)
    assert state is not None
    assert state.state == "idle"

    loaded = dict(entries)
    moved_through: list[str] = []
    while len(loaded) > 1:
        home = _home(hass)
        old = home.config_entry_id
        assert old is not None
        (name,) = [n for n, e in loaded.items() if e.entry_id == old]
        assert await hass.config_entries.async_unload(old)
        await hass.async_block_till_done()
        del loaded[name]

        moved = _home(hass)
        new = moved.config_entry_id
        assert new in {e.entry_id for e in loaded.values()}
        moved_through.append(name)
        # The same registry entry and the same device, now on another entry;
        # no copy of either is left behind on the unloaded one.
        assert moved.id == first.id
        assert moved.entity_id == SENSOR
        assert moved.device_id == device.id
        (only,) = _service_devices(hass)
        assert only.id == device.id
        assert async_get_node_device(hass, new or "", "wakehub") == only
        assert async_get_node_device(hass, old, "wakehub") is None
        state = hass.states.get(SENSOR)
        assert state is not None, f"after unloading {name}"
        assert state.state == "idle"

    assert len(moved_through) == len(MACHINES) - 1
    # Still a working sensor on its last home: it follows a cascade there.
    (target, last) = next(iter(loaded.items()))  # start that machine
    await hass.services.async_call(
        Platform.SWITCH,
        SERVICE_TURN_ON,
        {ATTR_ENTITY_ID: switch_id(target)},
        blocking=True,
    )
    state = hass.states.get(SENSOR)
    assert state is not None
    assert state.state == "running"
    await async_wait_idle(hass)
    state = hass.states.get(SENSOR)
    assert state is not None
    assert state.state == "idle"
    assert state.attributes["target_name"] == target
    assert state.attributes["status"] == "completed"

    # The last entry unloads: the sensor goes with it.
    assert await hass.config_entries.async_unload(last.entry_id)
    await hass.async_block_till_done()
    assert all(e.state is ConfigEntryState.NOT_LOADED for e in entries.values())
    # Like every entity of an unloaded entry, it is only a restored
    # "unavailable" state now: no entity object follows the hub any more.
    state = hass.states.get(SENSOR)
    assert state is not None
    assert state.state == "unavailable"
    assert state.attributes.get("restored") is True
    switch = hass.states.get(switch_id("NAS"))
    assert switch is not None
    assert switch.state == "unavailable"
    assert CASCADE_SENSOR_UNIQUE_ID not in {
        entity.unique_id
        for platform in async_get_platforms(hass, DOMAIN)
        for entity in platform.entities.values()
    }

    # The next entry to load brings it back, the same entity on the same device.
    again = entries["NAS"]
    assert await hass.config_entries.async_setup(again.entry_id)
    await hass.async_block_till_done()
    back = _home(hass)
    assert back.config_entry_id == again.entry_id
    assert back.id == first.id
    (only,) = _service_devices(hass)
    assert only.id == device.id
    assert back.device_id == device.id
    state = hass.states.get(SENSOR)
    assert state is not None
    assert state.state == "idle"


async def test_lists_every_node_even_when_its_sensor_is_unavailable(
    hass: HomeAssistant, homelab: HomelabThread
) -> None:
    """Proxmox answers HTTP 500: Jellyfin's status is unavailable, still listed.

    Home Assistant drops an unavailable sensor's attributes; the card finds
    the node, its kind and its pin in the cascade sensor's ``nodes``.
    """
    homelab.set_power("NAS", "on")
    homelab.set_power("Jellyfin", "running")
    entries = await async_setup_homelab(hass, homelab)
    jellyfin_id = node_id_of(homelab.ready, "Jellyfin")
    nodes = {n["node_id"]: n for n in hass.states.get(SENSOR).attributes["nodes"]}
    assert len(nodes) == len(hub_of(hass).topology.nodes)
    # What the status sensor says of the node while it is available.
    status = hass.states.get("sensor.jellyfin_status").attributes
    assert nodes[jellyfin_id] == {
        "node_id": jellyfin_id,
        "kind": "lxc",
        "pinned": False,
        "url": status["url"],
        "name": "Jellyfin",
        "status_entity": "sensor.jellyfin_status",
        # For the graph card: what it runs on, what it needs.
        "parent": node_id_of(homelab.ready, "Machine2"),
        "dependencies": [node_id_of(homelab.ready, "NAS")],
    }
    assert nodes[node_id_of(homelab.ready, "NAS")]["kind"] == "machine"
    assert nodes[node_id_of(homelab.ready, "NAS")]["parent"] is None

    homelab.fault("Machine2", "api_status", 500)
    coordinator = hub_of(hass).coordinator_of(jellyfin_id)
    assert coordinator is not None
    await coordinator.async_refresh()
    await hass.async_block_till_done()
    status = hass.states.get("sensor.jellyfin_status")
    assert status.state == "unavailable"
    assert "node_id" not in status.attributes
    nodes = {n["node_id"]: n for n in hass.states.get(SENSOR).attributes["nodes"]}
    assert nodes[jellyfin_id]["status_entity"] == "sensor.jellyfin_status"

    # A pin set in the options shows at once.
    entry = entries["Machine2"]
    options = dict(entry.options)
    options["nodes"] = {
        **options["nodes"],
        jellyfin_id: {**options["nodes"][jellyfin_id], "pinned": True},
    }
    hass.config_entries.async_update_entry(entry, options=options)
    await hass.async_block_till_done()
    nodes = {n["node_id"]: n for n in hass.states.get(SENSOR).attributes["nodes"]}
    assert nodes[jellyfin_id]["pinned"] is True
