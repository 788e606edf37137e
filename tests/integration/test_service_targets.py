"""Actions take what the target picker offers: areas, floors and labels too.

services.yaml declares a ``target`` for the node actions, and Home
Assistant's target picker offers areas, floors and labels with it. The
schemas used to refuse ``area_id`` (and the others): the picker offered a
choice the action then rejected. An area, floor or label now stands for the
WakeHub devices in it (and the WakeHub entities placed there themselves);
anything else in it is left out.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import (
    area_registry as ar,
    device_registry as dr,
    entity_registry as er,
    floor_registry as fr,
    label_registry as lr,
)
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.wakehub.compat import async_get_node_device
from custom_components.wakehub.const import DOMAIN

from .conftest import node_id_of
from .hub_helpers import async_setup_homelab, switch_id

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant

    from tests.homelab.thread import HomelabThread

pytestmark = pytest.mark.usefixtures("fast_polls")


def _device_id(
    hass: HomeAssistant,
    homelab: HomelabThread,
    entries: dict[str, MockConfigEntry],
    machine: str,
    name: str,
) -> str:
    device = async_get_node_device(
        hass, entries[machine].entry_id, node_id_of(homelab.ready, name)
    )
    assert device is not None
    return device.id


async def _plan_targets(hass: HomeAssistant, target: dict[str, object]) -> list[str]:
    """The names of the targets ``wakehub.plan`` sees (one target: its name)."""
    response = await hass.services.async_call(
        DOMAIN,
        "plan",
        {**target, "action": "start"},
        blocking=True,
        return_response=True,
    )
    assert response is not None
    return [str(response["name"])]


async def test_area_floor_and_label_targets(
    hass: HomeAssistant, homelab: HomelabThread
) -> None:
    """Jellyfin's device in an area on a floor, plex's switch with a label."""
    entries = await async_setup_homelab(hass, homelab)
    floor = fr.async_get(hass).async_create("Basement")
    area = ar.async_get(hass).async_create("Media", floor_id=floor.floor_id)
    label = lr.async_get(hass).async_create("Streaming")
    devices = dr.async_get(hass)
    jellyfin = _device_id(hass, homelab, entries, "Machine2", "Jellyfin")
    devices.async_update_device(jellyfin, area_id=area.id)
    # Another integration's device in the same area is not a WakeHub node.
    other = MockConfigEntry(domain="other")
    other.add_to_hass(hass)
    devices.async_get_or_create(
        config_entry_id=other.entry_id,
        identifiers={("other", "tv")},
        name="TV",
        suggested_area="Media",
    )
    er.async_get(hass).async_update_entity(switch_id("plex"), labels={label.label_id})

    assert await _plan_targets(hass, {"area_id": area.id}) == ["Jellyfin"]
    assert await _plan_targets(hass, {"floor_id": floor.floor_id}) == ["Jellyfin"]
    assert await _plan_targets(hass, {"label_id": label.label_id}) == ["plex"]

    # Several at once: explicit references first, then the groups, once each.
    response = await hass.services.async_call(
        DOMAIN,
        "start",
        {
            "entity_id": switch_id("plex"),
            "area_id": area.id,
            "label_id": label.label_id,
        },
        blocking=True,
        return_response=True,
    )
    assert response is not None
    assert [c["target_name"] for c in response["cascades"]] == ["plex", "Jellyfin"]


async def test_an_area_without_wakehub_nodes_is_no_target(
    hass: HomeAssistant, homelab: HomelabThread
) -> None:
    """An empty area refuses the call like no target at all, translated."""
    await async_setup_homelab(hass, homelab)
    area = ar.async_get(hass).async_create("Attic")
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(
            DOMAIN, "start", {"area_id": area.id}, blocking=True
        )
    assert err.value.translation_key == "no_target"
