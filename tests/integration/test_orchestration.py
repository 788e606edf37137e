"""Orchestration through Home Assistant, against the homelab simulator.

The four reference machines are entries with the reference edges; every
assertion on commands reads the simulator's own log, in order.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from homeassistant.const import SERVICE_TURN_OFF, SERVICE_TURN_ON
from homeassistant.core import callback
import pytest
from pytest_homeassistant_custom_component.common import async_capture_events

from custom_components.wakehub.const import (
    EVENT_CASCADE_COMPLETED,
    EVENT_CASCADE_FAILED,
    EVENT_CASCADE_STEP,
)
from custom_components.wakehub.core.planner import Action

from .conftest import state_of
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


async def test_scenario_1_start_jellyfin(
    hass: HomeAssistant, homelab: HomelabThread
) -> None:
    """WoL NAS, WoL Machine2, start LXC 202; nothing else."""
    await async_setup_homelab(hass, homelab)
    assert hass.states.get(switch_id("Jellyfin")).state == "off"

    await async_turn(hass, SERVICE_TURN_ON, "Jellyfin")
    # Queued, not finished: the switch shows the target state at once.
    assert hass.states.get(switch_id("Jellyfin")).state == "on"
    await async_wait_idle(hass)

    assert commands(homelab) == [
        ("wol", "NAS"),
        ("wol", "Machine2"),
        ("pve_start", "Jellyfin"),
    ]
    for name in ("NAS", "Machine2", "Jellyfin"):
        assert hass.states.get(switch_id(name)).state == "on", name
        assert state_of(hass, name) == "on", name
    for name in ("Machine1", "RaspberryPi", "Cloudflared"):
        assert hass.states.get(switch_id(name)).state == "off", name


async def test_scenario_2_start_sandbox(
    hass: HomeAssistant, homelab: HomelabThread
) -> None:
    """NAS, Machine2, Jellyfin, Machine1, VM-Docker (Docker API), sandbox."""
    await async_setup_homelab(hass, homelab)
    events: list[dict[str, Any]] = []
    hass.bus.async_listen(
        EVENT_CASCADE_COMPLETED, callback(lambda e: events.append(e.data))
    )

    await async_turn(hass, SERVICE_TURN_ON, "sandbox")
    await async_wait_idle(hass)

    assert commands(homelab) == [
        ("wol", "NAS"),
        ("wol", "Machine2"),
        ("pve_start", "Jellyfin"),
        ("wol", "Machine1"),
        ("pve_start", "VM-Docker"),
        ("docker_start", "sandbox"),
    ]
    assert state_of(hass, "sandbox") == "on"
    assert [e["target_name"] for e in events] == ["sandbox"]
    assert events[0]["status"] == "completed"


async def test_scenario_4_stop_jellyfin_while_sandbox_runs(
    hass: HomeAssistant, homelab: HomelabThread
) -> None:
    """The plan is sandbox first, then Jellyfin."""
    homelab.set_power("NAS", "on")
    for name in ("sandbox", "Jellyfin", "plex"):
        homelab.set_power(name, "running")
    await async_setup_homelab(hass, homelab)
    assert state_of(hass, "sandbox") == "on"

    await async_turn(hass, SERVICE_TURN_OFF, "Jellyfin")
    await async_wait_idle(hass)

    assert commands(homelab) == [
        ("docker_stop", "sandbox"),
        ("pve_shutdown", "Jellyfin"),
    ]
    assert state_of(hass, "sandbox") == "off"
    assert state_of(hass, "Jellyfin") == "off"
    # plex still needs the NAS: it stays on.
    assert state_of(hass, "NAS") == "on"


async def test_failure_stops_at_step_1(
    hass: HomeAssistant,
    homelab: HomelabThread,
    notifications: dict[str, Any],
) -> None:
    """A NAS ignoring WoL: step 1 times out, nothing else is sent."""
    homelab.fault("NAS", "ignore_wol")
    await async_setup_homelab(hass, homelab, settings={"NAS": {"start_timeout": 1}})
    failed: list[dict[str, Any]] = []
    hass.bus.async_listen(
        EVENT_CASCADE_FAILED, callback(lambda e: failed.append(e.data))
    )

    await async_turn(hass, SERVICE_TURN_ON, "Jellyfin")
    await async_wait_idle(hass)

    assert {action for action, _ in commands(homelab)} == {"wol"}
    assert {node for _, node in commands(homelab)} == {"NAS"}
    status = hass.states.get("sensor.nas_status")
    assert status.state == "error"
    assert status.attributes["error_code"] == "timeout"
    # The step as a code and placeholders, which the card translates.
    assert status.attributes["step"] == {
        "number": 1,
        "total": 3,
        "detail": "waiting_up",
        "placeholders": {"node": "NAS"},
    }
    assert status.attributes["error_placeholders"]["goal"] == "up"
    assert state_of(hass, "Jellyfin") == "off"
    assert hass.states.get(switch_id("Jellyfin")).state == "off"
    assert len(failed) == 1
    assert failed[0]["node"] == hub_of(hass).topology.nodes[failed[0]["node"]].id
    assert failed[0]["name"] == "NAS"
    assert failed[0]["step"] == 1
    assert failed[0]["total"] == 3
    assert failed[0]["error_code"] == "timeout"
    assert failed[0]["target_name"] == "Jellyfin"
    (notification,) = [
        n for key, n in notifications.items() if key.startswith("wakehub_cascade_")
    ]
    # How long WakeHub waited, in a sentence of the user's language (not
    # WakeHub's English description of the wait).
    assert notification["message"].startswith(
        "Step 1/3 failed: NAS was not up after 1 s; check that it boots."
    )
    assert "waiting for" not in notification["message"]
    assert "Jellyfin" in notification["title"]

    # A retry is a new start; the error clears once the NAS answers.
    homelab.fault("NAS", "ignore_wol", None)
    await async_turn(hass, SERVICE_TURN_ON, "Jellyfin")
    await async_wait_idle(hass)
    assert state_of(hass, "NAS") == "on"
    assert state_of(hass, "Jellyfin") == "on"


async def test_failure_notification_in_french(
    hass: HomeAssistant,
    homelab: HomelabThread,
    notifications: dict[str, Any],
) -> None:
    """The notification follows the user's language."""
    hass.config.language = "fr"
    homelab.fault("NAS", "ignore_wol")
    await async_setup_homelab(hass, homelab, settings={"NAS": {"start_timeout": 1}})
    await async_turn(hass, SERVICE_TURN_ON, "NAS")
    await async_wait_idle(hass)
    (notification,) = [
        n for key, n in notifications.items() if key.startswith("wakehub_cascade_")
    ]
    assert notification["message"].startswith(
        "L'étape 1/1 a échoué : NAS n'était pas démarré après 1 s ; vérifiez"
    )
    assert "waiting" not in notification["message"]


async def test_library_error_reaches_the_user(
    hass: HomeAssistant,
    homelab: HomelabThread,
    monkeypatch: pytest.MonkeyPatch,
    notifications: dict[str, Any],
) -> None:
    """A library that lacks a call (a wakeonlan older or newer than the one we
    coded against): the step fails with the library's own type and message,
    in the node's attributes, the event and the notification."""
    import wakeonlan

    await async_setup_homelab(hass, homelab)
    monkeypatch.delattr(wakeonlan, "send_magic_packet")
    failed: list[dict[str, Any]] = []
    hass.bus.async_listen(
        EVENT_CASCADE_FAILED, callback(lambda e: failed.append(e.data))
    )
    await async_turn(hass, SERVICE_TURN_ON, "NAS")
    await async_wait_idle(hass)

    expected = (
        "NAS: AttributeError: module 'wakeonlan' has no attribute 'send_magic_packet'"
    )
    assert commands(homelab) == []
    status = hass.states.get("sensor.nas_status")
    assert status.attributes["error_code"] == "library_error"
    assert status.attributes["error_message"] == expected
    assert failed[0]["error_code"] == "library_error"
    assert failed[0]["error_message"] == expected
    (notification,) = [
        n for key, n in notifications.items() if key.startswith("wakehub_cascade_")
    ]
    assert expected in notification["message"]
    assert "(code library_error)" in notification["message"]
    assert "unexpected" not in notification["message"]


async def test_stop_fails_while_sshd_refuses_and_the_api_answers(
    hass: HomeAssistant,
    homelab: HomelabThread,
    notifications: dict[str, Any],
) -> None:
    """Machine1's sshd is down (its probe port, the SSH port, refuses) but
    its Proxmox API answers: every signal must agree before a machine is off,
    so Machine1 shows on, and "Stop Machine1" fails with its own reason
    instead of completing while Machine1 is still on."""
    homelab.set_power("Machine1", "on")
    homelab.fault("Machine1", "ssh_refuse")
    await async_setup_homelab(hass, homelab)
    assert state_of(hass, "Machine1") == "on"
    assert hass.states.get(switch_id("Machine1")).state == "on"
    failed: list[dict[str, Any]] = []
    hass.bus.async_listen(
        EVENT_CASCADE_FAILED, callback(lambda e: failed.append(e.data))
    )

    await async_turn(hass, SERVICE_TURN_OFF, "Machine1")
    await async_wait_idle(hass)

    assert homelab.state("Machine1") == "on"
    assert commands(homelab) == []
    assert [(f["name"], f["error_code"]) for f in failed] == [
        ("Machine1", "not_controllable")
    ]
    assert "refuses SSH connections" in failed[0]["error_message"]
    (notification,) = [
        n for key, n in notifications.items() if key.startswith("wakehub_cascade_")
    ]
    # What refuses, in the translated sentence; WakeHub's English message
    # stays in the event and the log.
    assert "its SSH server refuses WakeHub's connection" in notification["message"]
    assert "refuses SSH connections" not in notification["message"]
    status = hass.states.get("sensor.machine1_status")
    assert status.state == "error"
    assert status.attributes["error_code"] == "not_controllable"

    # sshd is back: the same stop goes through.
    homelab.fault("Machine1", "ssh_refuse", None)
    await async_turn(hass, SERVICE_TURN_OFF, "Machine1")
    await async_wait_idle(hass)
    assert state_of(hass, "Machine1") == "off"
    # Its services stop before the power does.
    await homelab.async_wait_state("Machine1", "off", timeout=10)


async def test_nas_whose_only_probe_refuses_is_on_and_its_stop_fails(
    hass: HomeAssistant,
    homelab: HomelabThread,
    notifications: dict[str, Any],
) -> None:
    """The NAS's only signal is its SSH port. Its sshd crashed (the port
    refuses) while it stays on: a refusal is an answer, so Home Assistant
    shows the NAS on (neither off nor unavailable), and "Stop NAS" fails with
    the translated not_controllable reason, never "completed" with no step."""
    homelab.set_power("NAS", "on")
    homelab.fault("NAS", "ssh_refuse")
    await async_setup_homelab(hass, homelab)
    assert state_of(hass, "NAS") == "on"
    assert hass.states.get(switch_id("NAS")).state == "on"
    failed: list[dict[str, Any]] = []
    hass.bus.async_listen(
        EVENT_CASCADE_FAILED, callback(lambda e: failed.append(e.data))
    )
    completed = async_capture_events(hass, EVENT_CASCADE_COMPLETED)

    await async_turn(hass, SERVICE_TURN_OFF, "NAS")
    await async_wait_idle(hass)

    assert homelab.state("NAS") == "on"
    assert commands(homelab) == []
    assert completed == []
    assert [(f["name"], f["error_code"]) for f in failed] == [
        ("NAS", "not_controllable")
    ]
    (notification,) = [
        n for key, n in notifications.items() if key.startswith("wakehub_cascade_")
    ]
    # The reason, in the user's language (translations' exceptions).
    assert notification["title"] == (
        "WakeHub: NAS failed, NAS is on but cannot be stopped"
    )
    assert notification["message"].startswith(
        "Step 1/1 failed on NAS: it answers on the network, so it is still on"
    )
    assert "its SSH server refuses WakeHub's connection" in notification["message"]
    status = hass.states.get("sensor.nas_status")
    assert status.state == "error"
    assert status.attributes["error_code"] == "not_controllable"
    # Still on, never shown off.
    assert hass.states.get(switch_id("NAS")).state == "on"


async def test_double_start_joins(hass: HomeAssistant, homelab: HomelabThread) -> None:
    """A second start of the same node joins the running cascade."""
    await async_setup_homelab(hass, homelab)
    hub = hub_of(hass)
    node = next(n for n in hub.topology.nodes.values() if n.name == "Jellyfin")
    first = await hub.async_request(Action.START, node.id)
    await async_turn(hass, SERVICE_TURN_ON, "Jellyfin")
    second = await hub.async_request(Action.START, node.id)
    assert second is first
    await async_wait_idle(hass)
    assert commands(homelab) == [
        ("wol", "NAS"),
        ("wol", "Machine2"),
        ("pve_start", "Jellyfin"),
    ]


async def test_stop_during_start_cancels_at_step_boundary(
    hass: HomeAssistant, homelab: HomelabThread
) -> None:
    """Stopping Jellyfin while sandbox starts: the start ends after Jellyfin's step."""
    await async_setup_homelab(hass, homelab)
    jellyfin_started = asyncio.Event()
    ended: list[dict[str, Any]] = []

    @callback
    def on_step(event: Any) -> None:
        if event.data["name"] == "Jellyfin" and event.data["status"] == "started":
            jellyfin_started.set()

    hass.bus.async_listen(EVENT_CASCADE_STEP, on_step)
    hass.bus.async_listen(
        EVENT_CASCADE_COMPLETED, callback(lambda e: ended.append(e.data))
    )
    await async_turn(hass, SERVICE_TURN_ON, "sandbox")
    await asyncio.wait_for(jellyfin_started.wait(), 10)
    await async_turn(hass, SERVICE_TURN_OFF, "Jellyfin")
    await async_wait_idle(hass)

    assert commands(homelab) == [
        ("wol", "NAS"),
        ("wol", "Machine2"),
        ("pve_start", "Jellyfin"),
        ("pve_shutdown", "Jellyfin"),
    ]
    assert [(e["target_name"], e["status"]) for e in ended] == [
        ("sandbox", "cancelled"),
        ("Jellyfin", "completed"),
    ]
    assert state_of(hass, "Jellyfin") == "off"
    assert state_of(hass, "Machine1") == "off"


async def test_cascade_sensor(hass: HomeAssistant, homelab: HomelabThread) -> None:
    """Idle, then the last cascade with each step's status."""
    await async_setup_homelab(hass, homelab)
    state = hass.states.get("sensor.wakehub_cascade")
    assert state is not None
    assert state.state == "idle"
    await async_turn(hass, SERVICE_TURN_ON, "Jellyfin")
    assert hass.states.get("sensor.wakehub_cascade").state == "running"
    await async_wait_idle(hass)
    state = hass.states.get("sensor.wakehub_cascade")
    assert state.state == "idle"
    assert state.attributes["target_name"] == "Jellyfin"
    assert state.attributes["status"] == "completed"
    assert [(s["name"], s["status"]) for s in state.attributes["steps"]] == [
        ("NAS", "done"),
        ("Machine2", "done"),
        ("Jellyfin", "done"),
    ]


async def test_restart_marker_written_at_stop(
    hass: HomeAssistant, homelab: HomelabThread, hass_storage: dict[str, Any]
) -> None:
    """A cascade running when HA stops stays recorded as running."""
    homelab.fault("NAS", "ignore_wol")
    await async_setup_homelab(hass, homelab)
    waiting = asyncio.Event()
    hass.bus.async_listen(
        EVENT_CASCADE_STEP,
        callback(lambda e: waiting.set() if e.data["status"] == "started" else None),
    )
    await async_turn(hass, SERVICE_TURN_ON, "Jellyfin")
    await asyncio.wait_for(waiting.wait(), 10)
    await hub_of(hass).async_shutdown()
    marker = hass_storage["wakehub.cascade"]["data"]["running"]
    assert marker["target_name"] == "Jellyfin"
    assert marker["step"] == 1
    assert marker["name"] == "NAS"
    # Nothing stays "in progress".
    assert state_of(hass, "NAS") == "off"


async def test_interrupted_cascade_reported_at_start(
    hass: HomeAssistant,
    homelab: HomelabThread,
    hass_storage: dict[str, Any],
    notifications: dict[str, Any],
) -> None:
    """The stored marker becomes an "interrupted" failure at the next start."""
    hass_storage["wakehub.cascade"] = {
        "version": 1,
        "key": "wakehub.cascade",
        "data": {
            "running": {
                "id": "abc123",
                "action": "start",
                "target": "x",
                "target_name": "Jellyfin",
                "origin": "request",
                "total": 3,
                "step": 2,
                "node": "y",
                "name": "Machine2",
            }
        },
    }
    failed: list[dict[str, Any]] = []
    hass.bus.async_listen(
        EVENT_CASCADE_FAILED, callback(lambda e: failed.append(e.data))
    )
    await async_setup_homelab(hass, homelab)
    await hass.async_block_till_done()

    assert [(e["target_name"], e["error_code"], e["step"]) for e in failed] == [
        ("Jellyfin", "interrupted", 2)
    ]
    notification = notifications["wakehub_cascade_abc123"]
    assert "step 2/3 (Machine2)" in notification["message"]
    # Reported once: the marker is cleared.
    await hass.async_block_till_done()
    assert hass_storage["wakehub.cascade"]["data"]["running"] is None


async def test_stored_edges_the_topology_refuses_are_left_out(
    hass: HomeAssistant, homelab: HomelabThread, caplog: pytest.LogCaptureFixture
) -> None:
    """A cycle, a self loop and a duplicate stored by hand are each left out.

    The topology names the edge it refuses; the hub drops that one edge with
    a warning and keeps every other, in order.
    """
    await async_setup_homelab(
        hass,
        homelab,
        edges=[
            ("sandbox", "Jellyfin"),
            ("plex", "plex"),
            ("plex", "NAS"),
            ("plex", "NAS"),
            ("Jellyfin", "NAS"),
            ("NAS", "sandbox"),
        ],
    )
    hub = hub_of(hass)
    name = {node_id: node.name for node_id, node in hub.topology.nodes.items()}
    assert [(name[a], name[b]) for a, b in hub.topology.dependency_edges()] == [
        ("NAS", "sandbox"),
        ("sandbox", "Jellyfin"),
        ("plex", "NAS"),
    ]
    left_out = [
        record.getMessage()
        for record in caplog.records
        if record.getMessage().startswith("Dependency left out")
    ]
    assert "Dependency left out: plex cannot depend on itself" in left_out
    assert "Dependency left out: plex already depends on NAS" in left_out
    assert (
        "Dependency left out: Jellyfin cannot depend on NAS: that would create"
        " the cycle NAS → sandbox → Jellyfin → NAS"
    ) in left_out
