"""Reference scenarios 3, 5 and 7 end to end through Home Assistant.

The four reference machines are entries with the reference edges, against
the homelab simulator; every assertion on commands reads the simulator's own
log, in order. Also: the autoremove chain, two targets at once, and the
autoremove marks surviving a restart.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from homeassistant.components import persistent_notification
from homeassistant.components.switch import DOMAIN as SWITCH_DOMAIN
from homeassistant.config_entries import SOURCE_REAUTH
from homeassistant.const import ATTR_ENTITY_ID, SERVICE_TURN_OFF, SERVICE_TURN_ON
from homeassistant.core import callback
from homeassistant.exceptions import ServiceValidationError
import pytest
from pytest_homeassistant_custom_component.common import async_capture_events

from custom_components.wakehub import hub as hub_module
from custom_components.wakehub.const import (
    DOMAIN,
    EVENT_CASCADE_COMPLETED,
    EVENT_CASCADE_FAILED,
    EVENT_NODE_KEPT,
    EVENT_PROPOSAL_CLOSED,
    EVENT_SHUTDOWN_PROPOSED,
)
from custom_components.wakehub.notifications import proposal_notification_id

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
    notification = _notifications(hass)[proposal_notification_id(nas)]
    assert notification["title"] == "Shut down NAS?"
    assert "on the [WakeHub card](/)" in notification["message"]

    await hass.services.async_call(
        DOMAIN, "confirm_shutdown", {"proposal_id": proposal_id}, blocking=True
    )
    await async_wait_idle(hass)
    assert commands(homelab) == [*MACHINE1_STOP, ("ssh_shutdown", "NAS")]
    assert [c["command"] for c in homelab.commands()][-1] == "systemctl poweroff"
    assert state_of(hass, "NAS") == "off"
    assert proposal_notification_id(nas) not in _notifications(hass)
    assert hub_of(hass).proposals.proposals == []


async def test_autoremove_chain(hass: HomeAssistant, homelab: HomelabThread) -> None:
    """Start sandbox, stop it: what was started for it goes, machines are asked.

    Jellyfin (a dependency) and VM-Docker (the host) were started only for
    sandbox: both stop. The NAS, Machine1 and Machine2, woken for the
    cascade and now running nothing needed, are proposed (docs/design.md,
    "Re-evaluation"): no host stays on forever unasked.
    """
    await async_setup_homelab(hass, homelab)
    await async_turn(hass, SERVICE_TURN_ON, "sandbox")
    await async_wait_idle(hass)
    homelab_start = commands(homelab)
    proposed = async_capture_events(hass, EVENT_SHUTDOWN_PROPOSED)

    await async_turn(hass, SERVICE_TURN_OFF, "sandbox")
    await async_wait_idle(hass)

    assert commands(homelab)[len(homelab_start) :] == [
        ("docker_stop", "sandbox"),
        ("pve_shutdown", "VM-Docker"),
        ("pve_shutdown", "Jellyfin"),
    ]
    for name in ("sandbox", "VM-Docker", "Jellyfin"):
        assert state_of(hass, name) == "off", name
    for name in ("NAS", "Machine1", "Machine2"):
        assert state_of(hass, name) == "on", name
    assert sorted(e.data["name"] for e in proposed) == ["Machine1", "Machine2", "NAS"]
    assert sorted(p["name"] for p in hub_of(hass).proposals.proposals) == [
        "Machine1",
        "Machine2",
        "NAS",
    ]


async def test_host_the_user_started_stays_on(
    hass: HomeAssistant, homelab: HomelabThread
) -> None:
    """Machine1 started by the user stays on, unasked, once plex stops."""
    await async_setup_homelab(hass, homelab)
    await async_turn(hass, SERVICE_TURN_ON, "Machine1")
    await async_wait_idle(hass)
    await async_turn(hass, SERVICE_TURN_ON, "plex")
    await async_wait_idle(hass)
    before = commands(homelab)
    proposed = async_capture_events(hass, EVENT_SHUTDOWN_PROPOSED)

    await async_turn(hass, SERVICE_TURN_OFF, "plex")
    await async_wait_idle(hass)

    # VM-Docker was started for plex: it goes; Machine1 was the user's.
    assert commands(homelab)[len(before) :] == [
        ("docker_stop", "plex"),
        ("pve_shutdown", "VM-Docker"),
    ]
    assert state_of(hass, "Machine1") == "on"
    assert sorted(e.data["name"] for e in proposed) == ["NAS"]


async def test_stale_proposal_never_undoes_a_start(
    hass: HomeAssistant, homelab: HomelabThread
) -> None:
    """The NAS's proposal goes the moment Jellyfin's start needs the NAS.

    The issue's case: the NAS is proposed after Jellyfin stopped; Jellyfin
    is started again and its cascade waits for Machine2. The proposal is
    withdrawn at once (not at the next poll), and a confirmation arriving
    then (a stale phone notification, a stale card) is refused with the
    reason; Jellyfin comes up and nothing is shut down.
    """
    await async_setup_homelab(hass, homelab)
    await async_turn(hass, SERVICE_TURN_ON, "Jellyfin")
    await async_wait_idle(hass)
    await async_turn(hass, SERVICE_TURN_OFF, "Jellyfin")
    await async_wait_idle(hass)
    hub = hub_of(hass)
    proposals = {p["name"]: p["proposal_id"] for p in hub.proposals.proposals}
    assert set(proposals) == {"NAS", "Machine2"}
    # Machine2 (woken for Jellyfin, now hosting nothing active) is shut down.
    await hass.services.async_call(
        DOMAIN,
        "confirm_shutdown",
        {"proposal_id": proposals["Machine2"]},
        blocking=True,
    )
    await async_wait_idle(hass)
    assert state_of(hass, "Machine2") == "off"
    before = commands(homelab)

    homelab.fault("Machine2", "ignore_wol")  # Jellyfin's start waits for it
    closed = async_capture_events(hass, EVENT_PROPOSAL_CLOSED)
    await async_turn(hass, SERVICE_TURN_ON, "Jellyfin")

    start = hub.orchestrator.running or hub.orchestrator.queued[0]
    assert not start.done
    assert [(e.data["name"], e.data["outcome"]) for e in closed] == [
        ("NAS", "withdrawn")
    ]
    assert hub.proposals.proposals == []
    nas = node_id_of(homelab.ready, "NAS")
    assert proposal_notification_id(nas) not in _notifications(hass)
    assert "proposal_id" not in hass.states.get("sensor.nas_status").attributes

    for data in ({"proposal_id": proposals["NAS"]}, {"entity_id": "switch.nas"}):
        with pytest.raises(ServiceValidationError) as refused:
            await hass.services.async_call(
                DOMAIN, "confirm_shutdown", data, blocking=True
            )
        assert refused.value.translation_key == "node_needed"
        assert refused.value.translation_placeholders == {
            "name": "NAS",
            "target": "Jellyfin",
        }
        assert str(refused.value) == (
            "NAS is needed by the start of Jellyfin: it stays on"
        )
    assert not start.done
    # Machine2's step reads its probe, then wakes it (ignored): wait for that
    # magic packet before powering it on, or the step finds it already up.
    async with asyncio.timeout(10):
        while ("wol", "Machine2") not in commands(homelab)[len(before) :]:
            await asyncio.sleep(0.02)

    homelab.fault("Machine2", "ignore_wol", None)
    homelab.set_power("Machine2", "on")
    await async_wait_idle(hass)
    assert start.status == "completed"
    assert commands(homelab)[len(before) :] == [
        ("wol", "Machine2"),
        ("pve_start", "Jellyfin"),
    ]
    assert state_of(hass, "Jellyfin") == "on"
    assert state_of(hass, "NAS") == "on"


async def test_stop_of_a_needed_dependency_cancels_the_start(
    hass: HomeAssistant, homelab: HomelabThread
) -> None:
    """Stopping the NAS (up) while Jellyfin starts cancels Jellyfin's start.

    The plan the card shows first names the start it cancels.
    """
    homelab.set_power("NAS", "on")
    homelab.fault("Machine2", "ignore_wol")
    await async_setup_homelab(hass, homelab)
    await async_turn(hass, SERVICE_TURN_ON, "Jellyfin")
    hub = hub_of(hass)
    start = hub.orchestrator.running or hub.orchestrator.queued[0]

    plan = await hass.services.async_call(
        DOMAIN,
        "plan",
        {"entity_id": "switch.nas", "action": "stop"},
        blocking=True,
        return_response=True,
    )
    (cancels,) = plan["cancels"]
    # Queued or already picked up by the worker: either is cancelled.
    assert cancels.pop("status") in ("queued", "running")
    assert cancels == {
        "cascade_id": start.id,
        "target": node_id_of(homelab.ready, "Jellyfin"),
        "name": "Jellyfin",
    }
    await async_turn(hass, SERVICE_TURN_OFF, "NAS")
    homelab.fault("Machine2", "ignore_wol", None)
    homelab.set_power("Machine2", "on")
    await async_wait_idle(hass)

    assert start.status == "cancelled"
    assert ("pve_start", "Jellyfin") not in commands(homelab)
    assert commands(homelab)[-1] == ("ssh_shutdown", "NAS")
    assert state_of(hass, "Jellyfin") == "off"


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
    failed = async_capture_events(hass, EVENT_CASCADE_FAILED)

    await async_turn(hass, SERVICE_TURN_ON, "Jellyfin")
    await async_wait_idle(hass)
    await hass.async_block_till_done()

    assert commands(homelab) == [("wol", "NAS"), ("wol", "Machine2")]
    (event,) = failed
    assert event.data["name"] == "Machine2"
    assert event.data["error_code"] == "auth_failed"
    # The notification says what refused, where, and what to do, in a
    # sentence of its own (not the channel's English message).
    (notification,) = [
        n for key, n in _notifications(hass).items() if key.startswith("wakehub_casc")
    ]
    assert notification["message"] == (
        "Step 2/3 failed: Proxmox on Machine2 refused WakeHub's credentials: update"
        " them in the machine's settings. Nothing after it was sent; what already"
        " started stays on. Retry from the WakeHub card, or start Jellyfin again."
    )
    cascade = hass.states.get("sensor.wakehub_cascade").attributes
    assert cascade["status"] == "failed"
    # For the card: Machine2's start failed on the Proxmox API it waited for.
    assert cascade["error"]["api"] == "proxmox"
    assert cascade["error"]["code"] == "auth_failed"
    assert state_of(hass, "Jellyfin") != "on"
    flows = entries["Machine2"].async_get_active_flows(hass, {SOURCE_REAUTH})
    assert len(list(flows)) == 1


async def test_scenario_7_proxmox_401_in_french(
    hass: HomeAssistant, homelab: HomelabThread
) -> None:
    """The same failure told to a French user: no English in the notification."""
    hass.config.language = "fr"
    await async_setup_homelab(hass, homelab)
    homelab.fault("Machine2", "api_status", 401)

    await async_turn(hass, SERVICE_TURN_ON, "Jellyfin")
    await async_wait_idle(hass)
    await hass.async_block_till_done()

    (notification,) = [
        n for key, n in _notifications(hass).items() if key.startswith("wakehub_casc")
    ]
    assert notification["message"] == (
        "L'étape 2/3 a échoué : Proxmox sur Machine2 a refusé les identifiants de"
        " WakeHub : mettez-les à jour dans les réglages de la machine. Rien n'a été"
        " envoyé après elle ; ce qui a déjà démarré reste allumé. Réessayez depuis la"
        " carte WakeHub, ou redémarrez Jellyfin."
    )


async def test_scenario_7_host_key_change(
    hass: HomeAssistant, homelab: HomelabThread
) -> None:
    """A new SSH host key: the shutdown is refused, translated, nothing sent."""
    homelab.set_power("NAS", "on")
    await async_setup_homelab(hass, homelab)
    homelab.fault("NAS", "hostkey_change")
    failed = async_capture_events(hass, EVENT_CASCADE_FAILED)

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
        EVENT_CASCADE_COMPLETED,
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


async def test_stop_of_a_dependency_that_is_waking_cancels_the_start(
    hass: HomeAssistant, homelab: HomelabThread
) -> None:
    """Stopping the NAS while it wakes for Jellyfin: once up, it is shut down."""
    homelab.fault("NAS", "ignore_wol")
    await async_setup_homelab(hass, homelab)
    await async_turn(hass, SERVICE_TURN_ON, "Jellyfin")
    hub = hub_of(hass)
    start = hub.orchestrator.running or hub.orchestrator.queued[0]
    await async_turn(hass, SERVICE_TURN_OFF, "NAS")
    homelab.fault("NAS", "ignore_wol", None)
    homelab.set_power("NAS", "on")
    await async_wait_idle(hass)

    assert start.status == "cancelled"
    assert ("pve_start", "Jellyfin") not in commands(homelab)
    assert commands(homelab)[-1] == ("ssh_shutdown", "NAS")
    assert state_of(hass, "Jellyfin") == "off"
