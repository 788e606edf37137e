"""A node's error after a failed cascade: listed for the card, cleared by hand or by reaching its goal.

The card shows a failed row with Retry and Dismiss; it reads the node's error
from the cascade sensor's node list (which stays when the node's own status
sensor is unavailable). Dismiss is ``wakehub.clear_error``; a node that
reaches the state the failed action aimed at is no longer in error.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from homeassistant.const import SERVICE_TURN_ON
import pytest

from custom_components.wakehub.const import DOMAIN

from .hub_helpers import async_setup_homelab, async_turn, async_wait_idle, hub_of

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant

    from tests.homelab.thread import HomelabThread


pytestmark = pytest.mark.usefixtures("fast_polls")

CASCADE = "sensor.wakehub_cascade"
NAS = "sensor.nas_status"


def _listed(hass: HomeAssistant, name: str) -> dict[str, Any]:
    """The cascade sensor's node list item of ``name``."""
    nodes = hass.states.get(CASCADE).attributes["nodes"]
    (item,) = [n for n in nodes if n["name"] == name]
    return dict(item)


def _cascade_notification(notifications: dict[str, Any]) -> dict[str, str]:
    """The one notification of a failed cascade: its title and its message."""
    (notification,) = [
        n for key, n in notifications.items() if key.startswith("wakehub_cascade_")
    ]
    return {"title": notification["title"], "message": notification["message"]}


async def _fail_start_on_http_500(
    hass: HomeAssistant, homelab: HomelabThread, api_host: str, target: str
) -> None:
    """The API on ``api_host`` answers HTTP 500 to ``target``'s start."""
    homelab.set_power("NAS", "on")
    homelab.set_power(api_host, "on" if api_host == "Machine2" else "running")
    await async_setup_homelab(hass, homelab)
    homelab.fault(api_host, "api_status", 500)
    await async_turn(hass, SERVICE_TURN_ON, target)
    await async_wait_idle(hass)


async def _fail_nas(hass: HomeAssistant, homelab: HomelabThread) -> None:
    """Jellyfin's start fails at step 1: the NAS ignores its Wake-on-LAN."""
    homelab.fault("NAS", "ignore_wol")
    await async_setup_homelab(hass, homelab, settings={"NAS": {"start_timeout": 1}})
    await async_turn(hass, SERVICE_TURN_ON, "Jellyfin")
    await async_wait_idle(hass)
    assert hass.states.get(NAS).state == "error"
    listed = _listed(hass, "NAS")
    assert listed["error_code"] == "timeout"
    assert "NAS was not up" in listed["error_message"]
    assert "error_code" not in _listed(hass, "Jellyfin")


async def test_clear_error_dismisses_it(
    hass: HomeAssistant, homelab: HomelabThread
) -> None:
    """wakehub.clear_error (the card's Dismiss): the polled state shows again."""
    await _fail_nas(hass, homelab)

    await hass.services.async_call(
        DOMAIN, "clear_error", target={"entity_id": NAS}, blocking=True
    )
    await hass.async_block_till_done()

    status = hass.states.get(NAS)
    assert status.state == "off"
    assert "error_code" not in status.attributes
    assert "error_code" not in _listed(hass, "NAS")
    # The failed cascade is still the last one the sensor reports.
    assert hass.states.get(CASCADE).attributes["status"] == "failed"


async def test_error_clears_when_the_node_reaches_its_goal(
    hass: HomeAssistant, homelab: HomelabThread
) -> None:
    """The NAS boots after all (by hand): its failed start's goal is reached."""
    await _fail_nas(hass, homelab)

    homelab.set_power("NAS", "on")
    await hub_of(hass).coordinator_of(_listed(hass, "NAS")["node_id"]).async_refresh()
    await hass.async_block_till_done()

    status = hass.states.get(NAS)
    assert status.state == "on"
    assert "error_code" not in status.attributes
    assert "error_code" not in _listed(hass, "NAS")


async def test_error_stays_while_the_goal_is_not_reached(
    hass: HomeAssistant, homelab: HomelabThread
) -> None:
    """A poll that finds the NAS still off leaves its error (and the card's Retry)."""
    await _fail_nas(hass, homelab)

    await hub_of(hass).coordinator_of(_listed(hass, "NAS")["node_id"]).async_refresh()
    await hass.async_block_till_done()

    assert hass.states.get(NAS).state == "error"
    assert _listed(hass, "NAS")["error_code"] == "timeout"


async def test_proxmox_error_said_for_people(
    hass: HomeAssistant, homelab: HomelabThread, notifications: dict[str, Any]
) -> None:
    """Proxmox answers HTTP 500 to Jellyfin's start: what answered, where, what to check."""
    await _fail_start_on_http_500(hass, homelab, "Machine2", "Jellyfin")

    notification = _cascade_notification(notifications)
    assert notification["title"] == "WakeHub: Jellyfin failed"
    message = notification["message"]
    assert message.startswith(
        "Step 1/1 failed: Proxmox on Machine2 answered HTTP 500 (internal error)"
        " when starting Jellyfin: see the Proxmox task log."
    ), message
    assert "api_error" not in message
    assert message.count("HTTP 500") == 1
    assert "Retry from the WakeHub card" in message
    # The card reads the same error from the node list.
    assert _listed(hass, "Jellyfin")["error_code"] == "api_error"


async def test_docker_error_said_for_people(
    hass: HomeAssistant, homelab: HomelabThread, notifications: dict[str, Any]
) -> None:
    """VM-Docker's Docker API answers HTTP 500 to plex's start: Docker, on VM-Docker."""
    await _fail_start_on_http_500(hass, homelab, "VM-Docker", "plex")

    message = _cascade_notification(notifications)["message"]
    assert "Docker on VM-Docker answered HTTP 500 (simulated daemon error)" in message
    assert "when starting plex: see the Docker daemon's log on VM-Docker." in message


async def test_other_errors_keep_the_general_text(
    hass: HomeAssistant, homelab: HomelabThread, notifications: dict[str, Any]
) -> None:
    """A machine that does not wake is no API's answer: the general text."""
    await _fail_nas(hass, homelab)
    message = _cascade_notification(notifications)["message"]
    assert message.startswith("Step 1/3 failed: NAS was not up")
    assert "Retry from the WakeHub card, or start Jellyfin again." in message
