"""The power switch of every node, through Home Assistant, against the simulator.

The switch is the node's main entity (it takes the device's name), its state
follows the polled one except while a cascade is about the node (see
``switch.py``), turning it on or off returns while the cascade still runs,
and a request the hub refuses raises a translated error at once.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from homeassistant.const import SERVICE_TURN_OFF, SERVICE_TURN_ON
from homeassistant.core import callback
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.entity_platform import async_get_platforms
import pytest

from custom_components.wakehub.compat import async_get_node_device
from custom_components.wakehub.const import DOMAIN, EVENT_CASCADE_STEP

from .conftest import node_id_of, state_of
from .hub_helpers import (
    async_setup_homelab,
    async_turn,
    async_wait_idle,
    commands,
    hub_of,
    machine_of,
    switch_id,
)

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant, State
    from homeassistant.helpers.entity import Entity

    from tests.homelab.thread import HomelabThread


pytestmark = pytest.mark.usefixtures("fast_polls")


def _state(hass: HomeAssistant, entity_id: str) -> State:
    state = hass.states.get(entity_id)
    assert state is not None, entity_id
    return state


def _switch(hass: HomeAssistant, name: str) -> str:
    return _state(hass, switch_id(name)).state


def _step_started(hass: HomeAssistant, name: str) -> asyncio.Event:
    """Set once the step of the node called ``name`` has started."""
    started = asyncio.Event()

    @callback
    def on_step(event: Any) -> None:
        if event.data["name"] == name and event.data["status"] == "started":
            started.set()

    hass.bus.async_listen(EVENT_CASCADE_STEP, on_step)
    return started


def _entity_object(hass: HomeAssistant, entity_id: str) -> Entity:
    """The live entity object behind ``entity_id`` (WakeHub's platforms)."""
    for platform in async_get_platforms(hass, DOMAIN):
        if (entity := platform.entities.get(entity_id)) is not None:
            return entity
    raise AssertionError(entity_id)


async def test_main_entity_unique_id_and_device(
    hass: HomeAssistant, homelab: HomelabThread
) -> None:
    """One switch per node, named after its device, on the node's device."""
    entries = await async_setup_homelab(hass, homelab)
    ready = homelab.ready
    ent_reg = er.async_get(hass)
    switches = [
        e
        for e in ent_reg.entities.values()
        if e.platform == DOMAIN and e.domain == "switch"
    ]
    # Every node of every entry has exactly one switch.
    assert len(switches) == len(hub_of(hass).topology.nodes)
    assert len({e.unique_id for e in switches}) == len(switches)

    for name in ("NAS", "Machine2", "Jellyfin", "VM-Docker", "sandbox", "pihole"):
        node_id = node_id_of(ready, name)
        entry = entries[machine_of(ready, name)]
        entity = ent_reg.async_get(switch_id(name))
        assert entity is not None, name
        assert entity.unique_id == f"{node_id}-power"
        assert entity.config_entry_id == entry.entry_id
        assert entity.has_entity_name is True
        assert entity.original_name is None
        device = async_get_node_device(hass, entry.entry_id, node_id)
        assert device is not None, name
        assert entity.device_id == device.id
        assert device.name == name
        # The main entity: its friendly name is the device's name alone.
        state = hass.states.get(switch_id(name))
        assert state is not None
        assert state.attributes["friendly_name"] == name


async def test_is_on_follows_the_polled_state(
    hass: HomeAssistant, homelab: HomelabThread
) -> None:
    """Outside a cascade the switch is the polled state, whoever changed it."""
    homelab.set_power("NAS", "on")
    entries = await async_setup_homelab(hass, homelab)
    assert _switch(hass, "NAS") == "on"
    assert _switch(hass, "Machine2") == "off"

    homelab.set_power("Machine2", "on")
    homelab.set_power("NAS", "off")
    for name in ("NAS", "Machine2"):
        await entries[name].runtime_data.coordinator.async_refresh()
    await hass.async_block_till_done()
    assert _switch(hass, "NAS") == "off"
    assert _switch(hass, "Machine2") == "on"
    assert commands(homelab) == []


async def test_turn_on_returns_while_the_cascade_runs(
    hass: HomeAssistant, homelab: HomelabThread
) -> None:
    """The call returns at once; target and the node being started show on.

    The NAS ignores Wake-on-LAN, so the cascade waits at step 1 for as long
    as the test likes; powering the NAS by hand lets it go on.
    """
    homelab.fault("NAS", "ignore_wol")
    await async_setup_homelab(hass, homelab)
    nas_started = _step_started(hass, "NAS")

    await async_turn(hass, SERVICE_TURN_ON, "Jellyfin")
    await asyncio.wait_for(nas_started.wait(), 10)
    await hass.async_block_till_done()

    cascade = hub_of(hass).orchestrator.running
    assert cascade is not None
    assert not cascade.done
    assert cascade.target_name == "Jellyfin"
    assert _state(hass, "sensor.wakehub_cascade").state == "running"
    # The target shows the state it is heading for, and so does the node a
    # running step is starting; a later step's node still shows its own.
    assert _switch(hass, "Jellyfin") == "on"
    assert _switch(hass, "NAS") == "on"
    assert state_of(hass, "NAS") == "starting"
    assert _switch(hass, "Machine2") == "off"
    # Nothing past step 1 (its magic packets may still be on their way).
    assert all(node == "NAS" for _, node in commands(homelab))

    homelab.fault("NAS", "ignore_wol", None)
    homelab.set_power("NAS", "on")
    await async_wait_idle(hass)
    assert cascade.status == "completed"
    assert commands(homelab)[-2:] == [("wol", "Machine2"), ("pve_start", "Jellyfin")]
    for name in ("NAS", "Machine2", "Jellyfin"):
        assert _switch(hass, name) == "on", name
    assert _state(hass, "sensor.wakehub_cascade").state == "idle"


async def test_turn_off_shows_off_while_the_stop_runs(
    hass: HomeAssistant, homelab: HomelabThread
) -> None:
    """Off at once, and while the step stopping the node runs.

    Machine2's Proxmox API answers slowly (real seconds), so the step is
    still running when the test looks.
    """
    homelab.set_power("NAS", "on")
    homelab.set_power("Jellyfin", "running")
    await async_setup_homelab(hass, homelab)
    assert _switch(hass, "Jellyfin") == "on"
    homelab.fault("Machine2", "latency", 0.3)
    jellyfin_started = _step_started(hass, "Jellyfin")

    await async_turn(hass, SERVICE_TURN_OFF, "Jellyfin")
    assert _switch(hass, "Jellyfin") == "off"
    await asyncio.wait_for(jellyfin_started.wait(), 10)
    cascade = hub_of(hass).orchestrator.running
    assert cascade is not None
    assert not cascade.done
    assert state_of(hass, "Jellyfin") == "stopping"
    assert _switch(hass, "Jellyfin") == "off"

    homelab.fault("Machine2", "latency", None)
    await async_wait_idle(hass)
    assert cascade.status == "completed"
    assert _switch(hass, "Jellyfin") == "off"
    assert _switch(hass, "Machine2") == "on"


async def test_error_shows_the_polled_state(
    hass: HomeAssistant, homelab: HomelabThread
) -> None:
    """A stop that fails leaves the node in ``error``: the switch is on again."""
    homelab.set_power("NAS", "on")
    await async_setup_homelab(hass, homelab)
    homelab.fault("NAS", "hostkey_change")

    await async_turn(hass, SERVICE_TURN_OFF, "NAS")
    assert _switch(hass, "NAS") == "off"  # queued: the target state at once
    await async_wait_idle(hass)

    last = hub_of(hass).last_cascade
    assert last is not None
    assert last.status == "failed"
    assert state_of(hass, "NAS") == "error"
    assert commands(homelab) == []  # nothing sent to an unknown key
    # The NAS never went down: the switch says so again.
    assert _switch(hass, "NAS") == "on"


async def test_cancelled_start_no_longer_shows_its_target(
    hass: HomeAssistant, homelab: HomelabThread
) -> None:
    """A start cancelled by a stop shows the polled state before it ends."""
    homelab.fault("NAS", "ignore_wol")
    await async_setup_homelab(hass, homelab)
    nas_started = _step_started(hass, "NAS")
    await async_turn(hass, SERVICE_TURN_ON, "sandbox")
    await asyncio.wait_for(nas_started.wait(), 10)
    # The step's first magic packet (which the NAS ignores) has arrived: on a
    # loaded machine the step could otherwise still be looking whether the
    # NAS is up when the test powers it on below, and send none.
    async with asyncio.timeout(10):
        while ("wol", "NAS") not in commands(homelab):
            await asyncio.sleep(0.05)
    start = hub_of(hass).orchestrator.running
    assert start is not None
    assert _switch(hass, "sandbox") == "on"

    # Jellyfin is on sandbox's way: stopping it cancels the start at the
    # next step boundary, which has not come yet.
    await async_turn(hass, SERVICE_TURN_OFF, "Jellyfin")
    await hass.async_block_till_done()
    assert not start.done
    assert start.cancel_reason is not None
    assert _switch(hass, "sandbox") == "off"
    assert _switch(hass, "Jellyfin") == "off"

    homelab.fault("NAS", "ignore_wol", None)
    homelab.set_power("NAS", "on")
    await async_wait_idle(hass)
    assert start.status == "cancelled"
    # Nothing but the NAS was sent a command (it ignored the magic packets
    # sent before its fault was lifted; its step may even have found it up).
    assert {node for _, node in commands(homelab)} <= {"NAS"}
    assert _switch(hass, "sandbox") == "off"


async def test_node_of_an_unloaded_entry_is_refused(
    hass: HomeAssistant, homelab: HomelabThread
) -> None:
    """A switch whose entry went away raises a translated error, sends nothing.

    The node stays in the topology, unavailable (docs/design.md, "Unavailable
    nodes"): the error names its entry and why it is not loaded.
    """
    entries = await async_setup_homelab(hass, homelab)
    switch = _entity_object(hass, switch_id("Jellyfin"))
    assert await hass.config_entries.async_unload(entries["Machine2"].entry_id)
    await hass.async_block_till_done()

    for turn in (switch.async_turn_on, switch.async_turn_off):  # type: ignore[attr-defined]
        with pytest.raises(ServiceValidationError) as err:
            await turn()
        assert err.value.translation_domain == DOMAIN
        assert err.value.translation_key == "node_unavailable"
        assert err.value.translation_placeholders == {
            "node": "Jellyfin",
            "entry": "Machine2",
        }
    assert hub_of(hass).orchestrator.running is None
    assert commands(homelab) == []


async def test_turn_on_after_shutdown_is_refused(
    hass: HomeAssistant, homelab: HomelabThread
) -> None:
    """Once the orchestrator is shut down, a switch raises a translated error."""
    await async_setup_homelab(hass, homelab)
    await hub_of(hass).async_shutdown()
    with pytest.raises(HomeAssistantError) as err:
        await async_turn(hass, SERVICE_TURN_ON, "NAS")
    assert err.value.translation_domain == DOMAIN
    assert err.value.translation_key == "orchestrator_closed"
    assert commands(homelab) == []


async def test_queued_start_shows_its_target(
    hass: HomeAssistant, homelab: HomelabThread
) -> None:
    """A start queued behind a running cascade shows on before it runs."""
    homelab.fault("NAS", "ignore_wol")
    await async_setup_homelab(hass, homelab)
    nas_started = _step_started(hass, "NAS")
    await async_turn(hass, SERVICE_TURN_ON, "Jellyfin")
    await asyncio.wait_for(nas_started.wait(), 10)

    await async_turn(hass, SERVICE_TURN_ON, "pihole")
    orchestrator = hub_of(hass).orchestrator
    assert [c.target_name for c in orchestrator.queued] == ["pihole"]
    assert _switch(hass, "pihole") == "on"
    assert _switch(hass, "RaspberryPi") == "off"
    cascade = _state(hass, "sensor.wakehub_cascade")
    assert cascade.attributes["queued"] == ["pihole"]

    homelab.fault("NAS", "ignore_wol", None)
    homelab.set_power("NAS", "on")
    await async_wait_idle(hass)
    assert commands(homelab)[-2:] == [
        ("wol", "RaspberryPi"),
        ("docker_start", "pihole"),
    ]
    assert _switch(hass, "pihole") == "on"
