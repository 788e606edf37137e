"""Orchestration through Home Assistant, against the homelab simulator.

The four reference machines are entries with the reference edges; every
assertion on commands reads the simulator's own log, in order.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from homeassistant.components.switch import DOMAIN as SWITCH_DOMAIN
from homeassistant.const import ATTR_ENTITY_ID, SERVICE_TURN_OFF, SERVICE_TURN_ON
import pytest

from custom_components.wakehub import hub as hub_module

from .conftest import state_of
from .hub_helpers import (
    async_setup_homelab,
    async_wait_idle,
    commands,
    switch_id,
)

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant

    from tests.homelab.thread import HomelabThread


@pytest.fixture(autouse=True)
def fast_polls(monkeypatch: pytest.MonkeyPatch) -> None:
    """Poll readiness every 50 ms: the simulator runs 50 times faster."""
    monkeypatch.setattr(hub_module, "POLL_INTERVAL", 0.05)


async def _turn(hass: HomeAssistant, service: str, name: str) -> None:
    await hass.services.async_call(
        SWITCH_DOMAIN, service, {ATTR_ENTITY_ID: switch_id(name)}, blocking=True
    )


async def test_scenario_1_start_jellyfin(
    hass: HomeAssistant, homelab: HomelabThread
) -> None:
    """WoL NAS, WoL Machine2, start LXC 202; nothing else."""
    await async_setup_homelab(hass, homelab)
    assert hass.states.get(switch_id("Jellyfin")).state == "off"

    await _turn(hass, SERVICE_TURN_ON, "Jellyfin")
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
        hub_module.EVENT_CASCADE_COMPLETED, lambda e: events.append(e.data)
    )

    await _turn(hass, SERVICE_TURN_ON, "sandbox")
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

    await _turn(hass, SERVICE_TURN_OFF, "Jellyfin")
    await async_wait_idle(hass)

    assert commands(homelab) == [
        ("docker_stop", "sandbox"),
        ("pve_shutdown", "Jellyfin"),
    ]
    assert state_of(hass, "sandbox") == "off"
    assert state_of(hass, "Jellyfin") == "off"
    # plex still needs the NAS: it stays on.
    assert state_of(hass, "NAS") == "on"
