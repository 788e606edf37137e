"""The sensors: status on every node, diagnostics from the same polls."""

from __future__ import annotations

from typing import TYPE_CHECKING

from homeassistant.const import STATE_UNKNOWN
from homeassistant.helpers import entity_registry as er
import pytest

from .conftest import async_next_poll, entity_id_of, node_id_of, state_of

if TYPE_CHECKING:
    from freezegun.api import FrozenDateTimeFactory
    from homeassistant.core import HomeAssistant
    from pytest_homeassistant_custom_component.common import MockConfigEntry

    from tests.homelab.thread import HomelabThread

DIAGNOSTIC = {
    "VM-Docker": ("cpu_usage", "memory_usage", "uptime"),
    "VM-Ubuntu": ("cpu_usage", "memory_usage", "uptime"),
    "plex": ("image", "health"),
    "sandbox": ("image", "health"),
}


async def _enable_diagnostics(
    hass: HomeAssistant, entry: MockConfigEntry, registry: er.EntityRegistry
) -> None:
    for name, keys in DIAGNOSTIC.items():
        for key in keys:
            registry.async_update_entity(entity_id_of(name, key), disabled_by=None)
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()


async def test_sensor_entities(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    entity_registry: er.EntityRegistry,
    homelab: HomelabThread,
) -> None:
    """Status everywhere; diagnostic sensors exist, disabled, on the right kinds."""
    entries = er.async_entries_for_config_entry(
        entity_registry, init_integration.entry_id
    )
    by_id = {entry.entity_id: entry for entry in entries}
    status = by_id[entity_id_of("plex")]
    assert status.unique_id == f"{node_id_of(homelab.ready, 'plex')}-status"
    assert status.translation_key == "status"
    assert status.disabled_by is None
    assert status.entity_category is None
    state = hass.states.get(entity_id_of("plex"))
    assert state is not None
    assert state.attributes["options"] == ["on", "off", "starting", "stopping", "error"]
    assert state.attributes["device_class"] == "enum"

    for name, keys in DIAGNOSTIC.items():
        for key in keys:
            entry = by_id[entity_id_of(name, key)]
            assert entry.disabled_by is er.RegistryEntryDisabler.INTEGRATION, key
            assert entry.entity_category == "diagnostic"
    # No guest figures on a container, no container figures on a guest.
    assert entity_id_of("plex", "cpu_usage") not in by_id
    assert entity_id_of("VM-Docker", "image") not in by_id
    assert entity_id_of("Machine1", "cpu_usage") not in by_id
    # "Services to configure" exists on hosts only, enabled, diagnostic.
    hosts = {e for e in by_id if e.endswith("_services_to_configure")}
    assert hosts == {
        entity_id_of("Machine1", "services_to_configure"),
        entity_id_of("VM-Docker", "services_to_configure"),
    }


async def test_diagnostic_sensors_when_enabled(
    hass: HomeAssistant,
    homelab: HomelabThread,
    init_integration: MockConfigEntry,
    entity_registry: er.EntityRegistry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """CPU, memory, uptime, image and health from the single listing requests."""
    await _enable_diagnostics(hass, init_integration, entity_registry)
    # Off: nothing to measure.
    assert state_of(hass, "VM-Docker", "cpu_usage") == STATE_UNKNOWN
    assert state_of(hass, "plex", "health") == STATE_UNKNOWN

    homelab.set_power("plex", "running")
    homelab.set_power("sandbox", "running")
    await homelab.async_wait_state("plex", "running")
    await hass.async_add_executor_job(
        lambda: homelab_wait_health(homelab, "plex", "healthy")
    )
    await async_next_poll(hass, freezer)

    # The simulator's running VM 101 reports a CPU load of 0.016 (a fraction
    # of its cores) and a quarter of its memory in use: in percent, rounded.
    assert float(state_of(hass, "VM-Docker", "cpu_usage")) == 1.6
    assert float(state_of(hass, "VM-Docker", "memory_usage")) == 25.0
    uptime = hass.states.get(entity_id_of("VM-Docker", "uptime"))
    assert uptime is not None
    assert uptime.attributes["unit_of_measurement"] == "h"
    assert uptime.attributes["device_class"] == "duration"
    # A stopped guest: Proxmox reports it idle, and so do we.
    assert float(state_of(hass, "VM-Ubuntu", "cpu_usage")) == 0.0
    assert float(state_of(hass, "VM-Ubuntu", "uptime")) == 0.0

    ready = homelab.ready["nodes"]
    assert state_of(hass, "plex", "image") == ready["plex"]["image"]
    assert state_of(hass, "plex", "health") == "healthy"
    assert state_of(hass, "sandbox", "image") == ready["sandbox"]["image"]
    assert state_of(hass, "sandbox", "health") == "none"  # no health check


def homelab_wait_health(homelab: HomelabThread, name: str, health: str) -> None:
    """Block until a container reports ``health`` (runs in the executor)."""
    import time

    deadline = time.monotonic() + 10
    while homelab.node(name)["health"] != health:
        assert time.monotonic() < deadline, homelab.node(name)
        time.sleep(0.02)


@pytest.mark.parametrize("managed", [("VM-Docker", "plex")])
async def test_services_to_configure(
    hass: HomeAssistant,
    homelab: HomelabThread,
    init_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Hosts count the children they report that the user does not manage."""
    ready = homelab.ready
    # Nothing known yet: the machine has been off since setup.
    assert state_of(hass, "Machine1", "services_to_configure") == "0"

    homelab.set_power("VM-Docker", "running")
    await async_next_poll(hass, freezer)
    machine = hass.states.get(entity_id_of("Machine1", "services_to_configure"))
    assert machine is not None
    assert machine.state == "1"
    (ubuntu,) = machine.attributes["services"]
    assert ubuntu["node_id"] == node_id_of(ready, "VM-Ubuntu")
    assert ubuntu["name"] == "VM-Ubuntu"
    assert ubuntu["kind"] == "vm"
    assert ubuntu["key"] == "102"
    assert "cpu" not in ubuntu  # figures that change at every poll stay out
    assert "maxmem" in ubuntu

    docker = hass.states.get(entity_id_of("VM-Docker", "services_to_configure"))
    assert docker is not None
    assert docker.state == "1"
    (sandbox,) = docker.attributes["services"]
    assert sandbox["node_id"] == node_id_of(ready, "sandbox")
    assert sandbox["kind"] == "container"
    assert sandbox["image"] == ready["nodes"]["sandbox"]["image"]

    # Still known, and available, once the machine is off again.
    homelab.set_power("Machine1", "off")
    await async_next_poll(hass, freezer)
    assert state_of(hass, "Machine1", "services_to_configure") == "1"
    assert state_of(hass, "VM-Docker", "services_to_configure") == "1"
    assert state_of(hass, "VM-Docker") == "off"
