"""The shutdown proposal life cycle through Home Assistant, against the simulator.

Each test makes a real proposal: the NAS on, plex running, plex stopped; the
re-evaluation finds the NAS without an active dependent and asks.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from homeassistant.components import persistent_notification
from homeassistant.components.switch import DOMAIN as SWITCH_DOMAIN
from homeassistant.const import ATTR_ENTITY_ID, SERVICE_TURN_OFF, SERVICE_TURN_ON
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import async_capture_events

from custom_components.wakehub import hub as hub_module
from custom_components.wakehub.const import (
    CONF_PROPOSAL_EXPIRY,
    DOMAIN,
    EVENT_PROPOSAL_CLOSED,
)
from custom_components.wakehub.notifications import proposal_notification_id

from .conftest import node_id_of, state_of
from .hub_helpers import (
    async_setup_homelab,
    async_wait_idle,
    commands,
    hub_of,
    switch_id,
)

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant

    from tests.homelab.thread import HomelabThread


pytestmark = pytest.mark.usefixtures("fast_polls")


async def _propose(hass: HomeAssistant, homelab: HomelabThread) -> str:
    """Stop plex with the NAS otherwise unused; return the proposal id."""
    homelab.set_power("NAS", "on")
    homelab.set_power("plex", "running")
    await async_setup_homelab(hass, homelab)
    await hass.services.async_call(
        SWITCH_DOMAIN, SERVICE_TURN_OFF, {ATTR_ENTITY_ID: switch_id("plex")}, True
    )
    await async_wait_idle(hass)
    (proposal,) = hub_of(hass).proposals.proposals
    assert proposal["name"] == "NAS"
    return proposal["proposal_id"]


def _has_notification(hass: HomeAssistant, homelab: HomelabThread) -> bool:
    notifications = persistent_notification._async_get_or_create_notifications(hass)
    return proposal_notification_id(node_id_of(homelab.ready, "NAS")) in notifications


async def test_dismiss_through_the_service(
    hass: HomeAssistant, homelab: HomelabThread
) -> None:
    """wakehub.dismiss_shutdown declines: the NAS stays on, nothing sent."""
    proposal_id = await _propose(hass, homelab)
    closed = async_capture_events(hass, EVENT_PROPOSAL_CLOSED)
    await hass.services.async_call(
        DOMAIN, "dismiss_shutdown", {"proposal_id": proposal_id}, blocking=True
    )
    await async_wait_idle(hass)
    assert [e.data["outcome"] for e in closed] == ["dismissed"]
    assert not _has_notification(hass, homelab)
    assert commands(homelab) == [("docker_stop", "plex")]
    assert state_of(hass, "NAS") == "on"


async def test_dismissing_the_notification_declines(
    hass: HomeAssistant, homelab: HomelabThread
) -> None:
    """Closing the persistent notification declines the proposal."""
    await _propose(hass, homelab)
    closed = async_capture_events(hass, EVENT_PROPOSAL_CLOSED)
    persistent_notification.async_dismiss(
        hass, proposal_notification_id(node_id_of(homelab.ready, "NAS"))
    )
    await hass.async_block_till_done()
    assert [e.data["outcome"] for e in closed] == ["dismissed"]
    assert hub_of(hass).proposals.proposals == []


async def test_expiry_follows_the_entry_option(
    hass: HomeAssistant, homelab: HomelabThread
) -> None:
    """The NAS entry's proposal_expiry (minutes) sets when its proposal expires."""
    homelab.set_power("NAS", "on")
    homelab.set_power("plex", "running")
    entries = await async_setup_homelab(hass, homelab)
    hass.config_entries.async_update_entry(
        entries["NAS"], options={**entries["NAS"].options, CONF_PROPOSAL_EXPIRY: 5}
    )
    await hass.async_block_till_done()
    await hass.services.async_call(
        SWITCH_DOMAIN, SERVICE_TURN_OFF, {ATTR_ENTITY_ID: switch_id("plex")}, True
    )
    await async_wait_idle(hass)
    (proposal,) = hub_of(hass).proposals.proposals
    created = dt_util.parse_datetime(proposal["created_at"])
    expires = dt_util.parse_datetime(proposal["expires_at"])
    assert created is not None
    assert expires is not None
    assert expires - created == timedelta(minutes=5)
    # Another entry's node keeps the default hour.
    plex = node_id_of(homelab.ready, "plex")
    assert hub_of(hass).proposals.expiry_of(plex) == timedelta(hours=1)


async def test_survives_a_reload_and_is_withdrawn_when_needed_again(
    hass: HomeAssistant, homelab: HomelabThread
) -> None:
    """Reloading every entry keeps the proposal; starting Jellyfin withdraws it."""
    proposal_id = await _propose(hass, homelab)
    for entry in hass.config_entries.async_entries(DOMAIN):
        assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    assert [p["proposal_id"] for p in hub_of(hass).proposals.proposals] == [proposal_id]
    assert _has_notification(hass, homelab)

    closed = async_capture_events(hass, EVENT_PROPOSAL_CLOSED)
    await hass.services.async_call(
        SWITCH_DOMAIN, SERVICE_TURN_ON, {ATTR_ENTITY_ID: switch_id("Jellyfin")}, True
    )
    await async_wait_idle(hass)
    assert [(e.data["proposal_id"], e.data["outcome"]) for e in closed] == [
        (proposal_id, "withdrawn")
    ]
    assert not _has_notification(hass, homelab)
    assert state_of(hass, "NAS") == "on"


async def test_proposal_persisted_for_a_restart(
    hass: HomeAssistant, homelab: HomelabThread, hass_storage: dict[str, Any]
) -> None:
    """A second hub on the same storage brings the proposal back."""
    proposal_id = await _propose(hass, homelab)
    hub = hub_of(hass)
    await hub.async_shutdown()
    stored = hass_storage["wakehub.proposals"]["data"]["proposals"]
    assert [p["proposal_id"] for p in stored] == [proposal_id]
    restarted = hub_module.WakeHubHub(hass)
    await restarted.async_setup()
    assert [p["proposal_id"] for p in restarted.proposals.proposals] == [proposal_id]
    await restarted.async_shutdown()
