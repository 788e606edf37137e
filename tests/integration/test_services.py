"""WakeHub's actions against the simulated reference homelab."""

from __future__ import annotations

from typing import TYPE_CHECKING

from homeassistant.exceptions import ServiceValidationError
import pytest

from custom_components.wakehub import hub as hub_module
from custom_components.wakehub.compat import async_get_node_device
from custom_components.wakehub.const import CONF_DEPENDENCIES, DOMAIN

from .conftest import node_id_of, state_of
from .hub_helpers import async_setup_homelab, async_wait_idle, commands, switch_id

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant

    from tests.homelab.thread import HomelabThread


pytestmark = pytest.mark.usefixtures("fast_polls")


async def test_scenario_6_cycle_refused(
    hass: HomeAssistant, homelab: HomelabThread
) -> None:
    """NAS depends on sandbox: refused, naming the cycle; nothing stored."""
    entries = await async_setup_homelab(hass, homelab)
    before = dict(entries["NAS"].options)
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(
            DOMAIN,
            "add_dependency",
            {"dependent": switch_id("NAS"), "dependency": "sensor.sandbox_status"},
            blocking=True,
        )
    assert err.value.translation_key == "dependency_cycle"
    assert err.value.translation_placeholders is not None
    assert err.value.translation_placeholders["path"] == (
        "sandbox → Jellyfin → NAS → sandbox"
    )
    assert dict(entries["NAS"].options) == before


async def test_add_and_remove_dependency_by_device(
    hass: HomeAssistant, homelab: HomelabThread
) -> None:
    """An edge lands in the dependent's entry, without a reload; then goes."""
    entries = await async_setup_homelab(hass, homelab)
    ready = homelab.ready
    device = async_get_node_device(
        hass, entries["Machine2"].entry_id, node_id_of(ready, "Cloudflared")
    )
    assert device is not None
    edge = [node_id_of(ready, "Cloudflared"), node_id_of(ready, "pihole")]
    await hass.services.async_call(
        DOMAIN,
        "add_dependency",
        {"dependent": device.id, "dependency": switch_id("pihole")},
        blocking=True,
    )
    await hass.async_block_till_done()
    assert edge in entries["Machine2"].options[CONF_DEPENDENCIES]
    assert entries["Machine2"].runtime_data  # still loaded, same runtime
    hub = hub_module.HUB_KEY
    assert hass.data[hub].topology.dependencies(edge[0]) == [edge[1]]

    await hass.services.async_call(
        DOMAIN,
        "remove_dependency",
        {"dependent": device.id, "dependency": switch_id("pihole")},
        blocking=True,
    )
    await hass.async_block_till_done()
    assert edge not in entries["Machine2"].options[CONF_DEPENDENCIES]
    assert hass.data[hub].topology.dependencies(edge[0]) == []

    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(
            DOMAIN,
            "remove_dependency",
            {"dependent": device.id, "dependency": switch_id("pihole")},
            blocking=True,
        )
    assert err.value.translation_key == "unknown_dependency"


@pytest.mark.parametrize(
    ("service", "data", "key"),
    [
        ("start", {}, "no_target"),
        ("start", {"entity_id": "switch.not_wakehub"}, "not_a_node"),
        ("stop", {"device_id": "nope"}, "not_a_node"),
        ("plan", {"action": "start"}, "no_target"),
        (
            "plan",
            {"action": "stop", "entity_id": ["switch.nas", "switch.machine1"]},
            "one_target",
        ),
        (
            "add_dependency",
            {"dependent": "switch.nas", "dependency": "switch.nas"},
            "self_dependency",
        ),
        (
            "add_dependency",
            {"dependent": "switch.jellyfin", "dependency": "switch.nas"},
            "duplicate_dependency",
        ),
        ("confirm_shutdown", {"proposal_id": "nope"}, "unknown_proposal"),
        ("dismiss_shutdown", {"proposal_id": "nope"}, "unknown_proposal"),
    ],
)
async def test_validation_errors(
    hass: HomeAssistant,
    homelab: HomelabThread,
    service: str,
    data: dict[str, object],
    key: str,
) -> None:
    """Bad input raises a translated ServiceValidationError and sends nothing."""
    await async_setup_homelab(hass, homelab)
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(
            DOMAIN,
            service,
            data,
            blocking=True,
            return_response=service == "plan",
        )
    assert err.value.translation_domain == DOMAIN
    assert err.value.translation_key == key
    assert commands(homelab) == []


async def test_plan_stop_lists_dependents(
    hass: HomeAssistant, homelab: HomelabThread
) -> None:
    """wakehub.plan: the steps in execution order, and the dependents."""
    homelab.set_power("NAS", "on")
    for name in ("sandbox", "Jellyfin"):
        homelab.set_power(name, "running")
    await async_setup_homelab(hass, homelab)
    response = await hass.services.async_call(
        DOMAIN,
        "plan",
        {"entity_id": switch_id("Jellyfin"), "action": "stop"},
        blocking=True,
        return_response=True,
    )
    assert response is not None
    ready = homelab.ready
    assert response["steps"] == [
        {
            "node": node_id_of(ready, "sandbox"),
            "name": "sandbox",
            "action": "stop",
            "channel": "docker",
            "reason": "dependent",
            "reason_of": node_id_of(ready, "Jellyfin"),
        },
        {
            "node": node_id_of(ready, "Jellyfin"),
            "name": "Jellyfin",
            "action": "stop",
            "channel": "proxmox",
            "reason": "target",
            "reason_of": None,
        },
    ]
    assert [d["name"] for d in response["dependents"]] == ["sandbox"]
    assert commands(homelab) == []


async def test_start_with_wait_returns_the_cascade(
    hass: HomeAssistant, homelab: HomelabThread
) -> None:
    """wait: true returns once the cascade ended, with the cascade."""
    await async_setup_homelab(hass, homelab)
    response = await hass.services.async_call(
        DOMAIN,
        "start",
        {"entity_id": "sensor.jellyfin_status", "wait": True},
        blocking=True,
        return_response=True,
    )
    assert response is not None
    (cascade,) = response["cascades"]
    assert cascade["status"] == "completed"
    assert cascade["target_name"] == "Jellyfin"
    assert [s["name"] for s in cascade["steps"]] == ["NAS", "Machine2", "Jellyfin"]
    await async_wait_idle(hass)
    assert state_of(hass, "Jellyfin") == "on"

    response = await hass.services.async_call(
        DOMAIN,
        "stop",
        {"entity_id": switch_id("Jellyfin"), "wait": True},
        blocking=True,
        return_response=True,
    )
    assert response is not None
    assert response["cascades"][0]["status"] == "completed"
    assert commands(homelab)[-1] == ("pve_shutdown", "Jellyfin")
