"""Reference scenarios 3, 5 and 7 end to end through Home Assistant.

The four reference machines are entries with the reference edges, against
the homelab simulator; every assertion on commands reads the simulator's own
log, in order. Also: the autoremove chain, two targets at once, and the
autoremove marks surviving a restart.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from homeassistant.components import persistent_notification
from homeassistant.components.switch import DOMAIN as SWITCH_DOMAIN
from homeassistant.config_entries import SOURCE_REAUTH
from homeassistant.const import ATTR_ENTITY_ID, SERVICE_TURN_OFF, SERVICE_TURN_ON
from homeassistant.core import callback
import pytest
from pytest_homeassistant_custom_component.common import async_capture_events

from custom_components.wakehub import hub as hub_module
from custom_components.wakehub.const import (
    DOMAIN,
    EVENT_NODE_KEPT,
    EVENT_SHUTDOWN_PROPOSED,
)
from custom_components.wakehub.proposals import notification_id_for

from .conftest import node_id_of, state_of
from .hub_helpers import (
    async_setup_homelab,
    async_turn,
    async_wait_idle,
    commands,
    hub_of,
    switch_id,
)

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant

    from tests.homelab.thread import HomelabThread


pytestmark = pytest.mark.usefixtures("fast_polls")


def _notifications(hass: HomeAssistant) -> dict[str, Any]:
    return dict(persistent_notification._async_get_or_create_notifications(hass))


def _kept(events: list[Any]) -> dict[str, tuple[str, list[str]]]:
    return {
        e.data["name"]: (e.data["reason"], e.data["dependent_names"]) for e in events
    }


MACHINE1_STOP = [
    ("docker_stop", "plex"),
    ("docker_stop", "sandbox"),
    ("pve_shutdown", "VM-Docker"),
    ("pve_shutdown", "VM-Ubuntu"),
    ("ssh_shutdown", "Machine1"),
]


async def test_scenario_3_jellyfin_started_on_its_own(
    hass: HomeAssistant, homelab: HomelabThread
) -> None:
    """Stop Machine1: nothing else stops; Jellyfin and the NAS stay on, why said."""
    homelab.set_power("NAS", "on")
    for name in ("sandbox", "plex", "VM-Ubuntu", "Jellyfin"):
        homelab.set_power(name, "running")
    await async_setup_homelab(hass, homelab)
    kept = async_capture_events(hass, EVENT_NODE_KEPT)
    proposed = async_capture_events(hass, EVENT_SHUTDOWN_PROPOSED)

    await async_turn(hass, SERVICE_TURN_OFF, "Machine1")
    await async_wait_idle(hass)

    assert commands(homelab) == MACHINE1_STOP
    for name in ("Machine1", "VM-Docker", "VM-Ubuntu", "sandbox", "plex"):
        assert state_of(hass, name) == "off", name
    for name in ("NAS", "Machine2", "Jellyfin"):
        assert state_of(hass, name) == "on", name
    reasons = _kept(kept)
    # Jellyfin lost its dependent, but it was started on its own.
    assert reasons["Jellyfin"] == ("manual", [])
    # The NAS is still needed by Jellyfin.
    assert reasons["NAS"] == ("dependents", ["Jellyfin"])
    assert proposed == []


async def test_scenario_3_jellyfin_off_proposes_the_nas(
    hass: HomeAssistant, homelab: HomelabThread
) -> None:
    """Jellyfin off: the NAS is proposed; confirming shuts it down over SSH."""
    homelab.set_power("NAS", "on")
    for name in ("sandbox", "plex", "VM-Ubuntu"):
        homelab.set_power(name, "running")
    await async_setup_homelab(hass, homelab)
    proposed = async_capture_events(hass, EVENT_SHUTDOWN_PROPOSED)

    await async_turn(hass, SERVICE_TURN_OFF, "Machine1")
    await async_wait_idle(hass)

    assert commands(homelab) == MACHINE1_STOP
    assert state_of(hass, "NAS") == "on"
    (event,) = proposed
    proposal_id = event.data["proposal_id"]
    assert proposal_id.startswith("p_")
    assert event.data["name"] == "NAS"
    nas = node_id_of(homelab.ready, "NAS")
    notification = _notifications(hass)[notification_id_for(nas)]
    assert notification["title"] == "Shut down NAS?"
    assert proposal_id in notification["message"]

    await hass.services.async_call(
        DOMAIN, "confirm_shutdown", {"proposal_id": proposal_id}, blocking=True
    )
    await async_wait_idle(hass)
    assert commands(homelab) == [*MACHINE1_STOP, ("ssh_shutdown", "NAS")]
    assert [c["command"] for c in homelab.commands()][-1] == "systemctl poweroff"
    assert state_of(hass, "NAS") == "off"
    assert notification_id_for(nas) not in _notifications(hass)
    assert hub_of(hass).proposals.proposals == []


async def test_autoremove_chain(hass: HomeAssistant, homelab: HomelabThread) -> None:
    """Start sandbox, stop it: Jellyfin (started for it) stops, the NAS is asked."""
    await async_setup_homelab(hass, homelab)
    await async_turn(hass, SERVICE_TURN_ON, "sandbox")
    await async_wait_idle(hass)
    homelab_start = commands(homelab)
    proposed = async_capture_events(hass, EVENT_SHUTDOWN_PROPOSED)

    await async_turn(hass, SERVICE_TURN_OFF, "sandbox")
    await async_wait_idle(hass)

    assert commands(homelab)[len(homelab_start) :] == [
        ("docker_stop", "sandbox"),
        ("pve_shutdown", "Jellyfin"),
    ]
    assert state_of(hass, "sandbox") == "off"
    assert state_of(hass, "Jellyfin") == "off"
    assert state_of(hass, "NAS") == "on"
    assert sorted(e.data["name"] for e in proposed) == ["NAS"]


async def test_scenario_5_shared_nas(
    hass: HomeAssistant, homelab: HomelabThread
) -> None:
    """Stopping plex while Jellyfin runs never proposes the NAS."""
    homelab.set_power("NAS", "on")
    for name in ("plex", "Jellyfin"):
        homelab.set_power(name, "running")
    await async_setup_homelab(hass, homelab)
    kept = async_capture_events(hass, EVENT_NODE_KEPT)
    proposed = async_capture_events(hass, EVENT_SHUTDOWN_PROPOSED)

    await async_turn(hass, SERVICE_TURN_OFF, "plex")
    await async_wait_idle(hass)

    assert commands(homelab) == [("docker_stop", "plex")]
    assert state_of(hass, "NAS") == "on"
    assert _kept(kept)["NAS"] == ("dependents", ["Jellyfin"])
    assert proposed == []


async def test_scenario_7_proxmox_401(
    hass: HomeAssistant, homelab: HomelabThread
) -> None:
    """An expired token: the cascade fails at Machine2 and a reauth flow starts."""
    entries = await async_setup_homelab(hass, homelab)
    homelab.fault("Machine2", "api_status", 401)
    failed = async_capture_events(hass, hub_module.EVENT_CASCADE_FAILED)

    await async_turn(hass, SERVICE_TURN_ON, "Jellyfin")
    await async_wait_idle(hass)
    await hass.async_block_till_done()

    assert commands(homelab) == [("wol", "NAS"), ("wol", "Machine2")]
    (event,) = failed
    assert event.data["name"] == "Machine2"
    assert event.data["error_code"] == "auth_failed"
    assert hass.states.get("sensor.wakehub_cascade").attributes["status"] == "failed"
    assert state_of(hass, "Jellyfin") != "on"
    flows = entries["Machine2"].async_get_active_flows(hass, {SOURCE_REAUTH})
    assert len(list(flows)) == 1


async def test_scenario_7_host_key_change(
    hass: HomeAssistant, homelab: HomelabThread
) -> None:
    """A new SSH host key: the shutdown is refused, translated, nothing sent."""
    homelab.set_power("NAS", "on")
    await async_setup_homelab(hass, homelab)
    homelab.fault("NAS", "hostkey_change")
    failed = async_capture_events(hass, hub_module.EVENT_CASCADE_FAILED)

    await async_turn(hass, SERVICE_TURN_OFF, "NAS")
    await async_wait_idle(hass)

    assert homelab.commands() == []
    assert commands(homelab) == []
    (event,) = failed
    assert event.data["error_code"] == "host_key_mismatch"
    assert state_of(hass, "NAS") == "error"
    (notification,) = [
        n
        for key, n in _notifications(hass).items()
        if key.startswith("wakehub_cascade_")
    ]
    assert "Step 1/1 failed on NAS" in notification["message"]
    assert "host key" in notification["message"].lower()


async def test_two_targets_at_once(hass: HomeAssistant, homelab: HomelabThread) -> None:
    """Two starts queued together run one after the other, one command at a time."""
    await async_setup_homelab(hass, homelab)
    ended: list[str] = []
    hass.bus.async_listen(
        hub_module.EVENT_CASCADE_COMPLETED,
        callback(lambda e: ended.append(e.data["target_name"])),
    )
    await hass.services.async_call(
        SWITCH_DOMAIN,
        SERVICE_TURN_ON,
        {ATTR_ENTITY_ID: [switch_id("Jellyfin"), switch_id("pihole")]},
        blocking=True,
    )
    await async_wait_idle(hass)

    assert sorted(ended) == ["Jellyfin", "pihole"]
    log = commands(homelab)
    jellyfin = [("wol", "NAS"), ("wol", "Machine2"), ("pve_start", "Jellyfin")]
    pihole = [("wol", "RaspberryPi"), ("docker_start", "pihole")]
    # Serialised, not interleaved: one cascade's commands, then the other's.
    assert log in ([*jellyfin, *pihole], [*pihole, *jellyfin])
    for name in ("Jellyfin", "pihole"):
        assert state_of(hass, name) == "on"


async def test_marks_survive_a_restart(
    hass: HomeAssistant, homelab: HomelabThread, hass_storage: dict[str, Any]
) -> None:
    """The nodes started for a dependent are stored, and restored at setup."""
    await async_setup_homelab(hass, homelab)
    await async_turn(hass, SERVICE_TURN_ON, "Jellyfin")
    await async_wait_idle(hass)
    hub = hub_of(hass)
    ready = homelab.ready
    marked = {node_id_of(ready, "NAS"), node_id_of(ready, "Machine2")}
    assert hub.orchestrator.started_for_dependents == marked
    await hub.async_shutdown()
    assert set(hass_storage["wakehub.cascade"]["data"]["marks"]) == marked

    restarted = hub_module.WakeHubHub(hass)
    await restarted.async_setup()
    assert restarted.orchestrator.started_for_dependents == marked
    await restarted.async_shutdown()
