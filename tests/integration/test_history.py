"""What the recorder sees of a cascade: states that follow it without going back.

A start used to record Starting -> Off -> On within a second for its target
(and the switch flipped with it): between a step's end and the next poll the
node showed the poll from before the step. Here every state change of the
nodes' status sensors and switches during real cascades (against the
simulator) is recorded, as the recorder would, and checked.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from homeassistant.const import EVENT_STATE_CHANGED, SERVICE_TURN_OFF, SERVICE_TURN_ON
from homeassistant.core import Event, callback
import pytest

from .hub_helpers import async_setup_homelab, async_turn, async_wait_idle, switch_id

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant

    from tests.homelab.thread import HomelabThread


pytestmark = pytest.mark.usefixtures("fast_polls")

NODES = ("NAS", "Machine2", "Jellyfin")


def _record(hass: HomeAssistant) -> dict[str, list[str]]:
    """Every state each node's status sensor and switch takes, repeats merged."""
    watched = {f"sensor.{n.lower()}_status" for n in NODES} | {
        switch_id(n) for n in NODES
    }
    seen: dict[str, list[str]] = {entity_id: [] for entity_id in watched}

    @callback
    def _changed(event: Event) -> None:
        entity_id = event.data["entity_id"]
        if entity_id in watched and (new := event.data["new_state"]) is not None:
            states = seen[entity_id]
            if not states or states[-1] != new.state:
                states.append(new.state)

    hass.bus.async_listen(EVENT_STATE_CHANGED, _changed)
    return seen


async def test_a_start_never_goes_back(
    hass: HomeAssistant, homelab: HomelabThread
) -> None:
    """Jellyfin's start: each node goes off -> starting -> on, the switches off -> on."""
    await async_setup_homelab(hass, homelab)
    seen = _record(hass)

    await async_turn(hass, SERVICE_TURN_ON, "Jellyfin")
    await async_wait_idle(hass)
    # Polls after the cascade (the fast ones and a normal one) change nothing.
    for _ in range(3):
        for entry in hass.config_entries.async_entries("wakehub"):
            await entry.runtime_data.coordinator.async_refresh()
    await hass.async_block_till_done()

    for name in NODES:
        assert seen[f"sensor.{name.lower()}_status"] == ["starting", "on"], (
            name,
            seen,
        )
        assert seen[switch_id(name)] == ["on"], (name, seen)


async def test_a_stop_never_goes_back(
    hass: HomeAssistant, homelab: HomelabThread
) -> None:
    """Jellyfin's stop: stopping -> off, the switch on -> off once."""
    homelab.set_power("NAS", "on")
    homelab.set_power("Jellyfin", "running")
    await async_setup_homelab(hass, homelab)
    seen = _record(hass)

    await async_turn(hass, SERVICE_TURN_OFF, "Jellyfin")
    await async_wait_idle(hass)
    for entry in hass.config_entries.async_entries("wakehub"):
        await entry.runtime_data.coordinator.async_refresh()
    await hass.async_block_till_done()

    assert seen["sensor.jellyfin_status"] == ["stopping", "off"], seen
    assert seen[switch_id("Jellyfin")] == ["off"], seen
