"""A machine's changed SSH host key, met by a cascade: reviewed, then re-pinned.

The cascade sends nothing; its notification points to the re-authentication
the hub starts for the machine, where the user compares both fingerprints and
pins the new key; the same stop then goes through.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from homeassistant.components import persistent_notification
from homeassistant.config_entries import SOURCE_REAUTH
from homeassistant.const import SERVICE_TURN_OFF
import pytest

from .conftest import node_id_of
from .hub_helpers import (
    async_setup_homelab,
    async_turn,
    async_wait_idle,
    commands,
    hub_of,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

    from homeassistant.core import HomeAssistant

    from tests.homelab.thread import HomelabThread


pytestmark = pytest.mark.usefixtures("fast_polls")


@pytest.fixture
def restore_host_keys(homelab: HomelabThread) -> Iterator[HomelabThread]:
    """Put the SSH host keys back after the test (``reset()`` keeps them)."""
    saved = homelab.call(lambda lab: dict(lab.host_keys))
    yield homelab
    homelab.call(lambda lab: lab.host_keys.update(saved))
    homelab.reset()


async def _stop(hass: HomeAssistant, name: str) -> None:
    await async_turn(hass, SERVICE_TURN_OFF, name)
    await async_wait_idle(hass)


def _cascade_notification(hass: HomeAssistant) -> dict[str, Any]:
    notifications = persistent_notification._async_get_or_create_notifications(hass)
    (notification,) = [
        n for key, n in notifications.items() if key.startswith("wakehub_cascade_")
    ]
    return dict(notification)


@pytest.mark.usefixtures("restore_host_keys")
async def test_cascade_host_key_change_reviewed_and_repinned(
    hass: HomeAssistant, homelab: HomelabThread
) -> None:
    """Stop refused on a new key, reauth offered; accepted, the stop works."""
    homelab.set_power("NAS", "on")
    entries = await async_setup_homelab(hass, homelab)
    entry = entries["NAS"]
    homelab.fault("NAS", "hostkey_change")
    new = homelab.call(lambda lab: lab.ready_document())["nodes"]["NAS"]["ssh"]

    await _stop(hass, "NAS")

    assert commands(homelab) == []
    message = _cascade_notification(hass)["message"]
    assert "Step 1/1 failed on NAS" in message
    assert "re-authentication of NAS" in message
    (flow,) = entry.async_get_active_flows(hass, {SOURCE_REAUTH})
    assert flow["step_id"] == "host_key_changed"
    result = await hass.config_entries.flow.async_configure(
        flow["flow_id"], {"accept_host_key": True}
    )
    assert result["reason"] == "reauth_successful"
    await hass.async_block_till_done()
    assert entry.data["ssh"]["host_key"] == new["host_key"]

    await _stop(hass, "NAS")
    assert commands(homelab) == [("ssh_shutdown", "NAS")]


async def test_host_key_of_another_host_starts_no_reauth(
    hass: HomeAssistant, homelab: HomelabThread
) -> None:
    """A guest's Docker tunnel, or a node no entry has: no machine reauth."""
    await async_setup_homelab(hass, homelab)
    hub = hub_of(hass)
    assert hub.reporter.async_review_host_key(node_id_of(homelab.ready, "plex")) is None
    assert hub.reporter.async_review_host_key("nobody") is None
    assert not hass.config_entries.flow.async_progress()
