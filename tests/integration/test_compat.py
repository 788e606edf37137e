"""The compatibility layer: each release gets its own schemas and device links.

The device helpers are tested against the running Home Assistant's registry,
and, for the behaviour of the other releases, against minimal registries that
have only what those releases offer.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from typing import TYPE_CHECKING, Any

from homeassistant.helpers import config_validation as cv, selector
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.wakehub import compat
from custom_components.wakehub.compat import (
    async_get_node_device,
    async_move_node_device,
    async_register_node_device,
    vol,
)
from custom_components.wakehub.const import DOMAIN

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant
    from homeassistant.helpers.device_registry import DeviceInfo


def test_vol_is_the_schema_library_of_home_assistant() -> None:
    """probatio where Home Assistant has it, voluptuous before; cv agrees."""
    expected = "probatio" if importlib.util.find_spec("probatio") else "voluptuous"
    assert importlib.import_module(expected) is vol
    schema = vol.Schema(
        {
            vol.Required("name"): cv.string,
            vol.Optional("mode", default="a"): vol.In(["a", "b"]),
            vol.Optional("text"): selector.TextSelector(),
        }
    )
    assert schema({"name": "x", "text": "y"}) == {"name": "x", "mode": "a", "text": "y"}
    # Home Assistant's validators raise the errors of the same library.
    with pytest.raises(vol.Invalid):
        schema({"name": None})
    with pytest.raises(vol.Invalid):
        cv.string(None)


def test_vol_falls_back_to_voluptuous(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without probatio (Home Assistant before 2026), schemas are voluptuous."""
    monkeypatch.setitem(sys.modules, "probatio", None)  # import fails
    spec = importlib.util.spec_from_file_location(
        "custom_components.wakehub._compat_without_probatio", compat.__file__
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.vol is importlib.import_module("voluptuous")


def _info(node_id: str) -> DeviceInfo:
    return {"identifiers": {(DOMAIN, node_id)}, "name": node_id}


async def test_devices_linked_in_this_release(hass: HomeAssistant) -> None:
    """Parents first, each child linked to its parent; lookups are per entry."""
    entry = MockConfigEntry(domain=DOMAIN, title="Machine")
    entry.add_to_hass(hass)
    other = MockConfigEntry(domain=DOMAIN, title="Other")
    other.add_to_hass(hass)

    machine = async_register_node_device(hass, entry.entry_id, _info("m"), None)
    guest = async_register_node_device(hass, entry.entry_id, _info("m/101"), "m")
    container = async_register_node_device(
        hass, entry.entry_id, _info("m/101/docker/plex"), "m/101"
    )
    assert machine.via_device_id is None
    assert guest.via_device_id == machine.id
    assert container.via_device_id == guest.id

    # Registering again (as the entities do) keeps the link.
    again = async_register_node_device(hass, entry.entry_id, _info("m/101"), "m")
    assert again.id == guest.id
    assert again.via_device_id == machine.id

    assert async_get_node_device(hass, entry.entry_id, "m/101") == again
    assert async_get_node_device(hass, entry.entry_id, "nope") is None
    assert async_get_node_device(hass, other.entry_id, "m/101") is None


async def test_device_moves_to_another_entry(hass: HomeAssistant) -> None:
    """The same device (same id) changes hands; nothing is left behind."""
    first = MockConfigEntry(domain=DOMAIN, title="First")
    first.add_to_hass(hass)
    second = MockConfigEntry(domain=DOMAIN, title="Second")
    second.add_to_hass(hass)
    device = async_register_node_device(hass, first.entry_id, _info("hub"), None)

    assert async_move_node_device(hass, "nope", first.entry_id, second.entry_id) is None
    assert async_move_node_device(hass, "hub", first.entry_id, first.entry_id) == (
        device
    )
    moved = async_move_node_device(hass, "hub", first.entry_id, second.entry_id)
    assert moved is not None
    assert moved.id == device.id
    assert async_get_node_device(hass, first.entry_id, "hub") is None
    assert async_get_node_device(hass, second.entry_id, "hub") == moved
    again = async_register_node_device(hass, second.entry_id, _info("hub"), None)
    assert again.id == device.id


class _Device:
    def __init__(self, device_id: str, entry_id: str) -> None:
        self.id = device_id
        self.config_entries = {entry_id}


def _update(registry: Any, device_id: str, **changes: Any) -> _Device:
    registry.updates.append((device_id, changes))
    return _Device(device_id, "")


class _RegistryByIdentifier:
    """What Home Assistant 2026 offers: per-entry lookups, links by id."""

    def __init__(self) -> None:
        self.devices: dict[tuple[tuple[str, str], str], _Device] = {}
        self.created: list[dict[str, Any]] = []
        self.updates: list[tuple[str, dict[str, Any]]] = []

    def async_update_device(
        self, device_id: str, *, new_config_entry_id: str | None = None
    ) -> _Device:
        return _update(self, device_id, new_config_entry_id=new_config_entry_id)

    def async_get_device_by_identifier(
        self, identifier: tuple[str, str], config_entry_id: str
    ) -> _Device | None:
        return self.devices.get((identifier, config_entry_id))

    def async_get_or_create(
        self, *, config_entry_id: str, via_device_id: str | None = None, **kwargs: Any
    ) -> _Device:
        self.created.append({"via_device_id": via_device_id, **kwargs})
        (identifier,) = kwargs["identifiers"]
        device = _Device(f"id-{identifier[1]}", config_entry_id)
        self.devices[identifier, config_entry_id] = device
        return device


class _RegistryByTuple:
    """What Home Assistant 2025 offers: global lookups, links by identifier."""

    def __init__(self) -> None:
        self.devices: dict[tuple[str, str], _Device] = {}
        self.created: list[dict[str, Any]] = []
        self.updates: list[tuple[str, dict[str, Any]]] = []

    def async_update_device(
        self,
        device_id: str,
        *,
        add_config_entry_id: str | None = None,
        remove_config_entry_id: str | None = None,
    ) -> _Device:
        return _update(
            self,
            device_id,
            add_config_entry_id=add_config_entry_id,
            remove_config_entry_id=remove_config_entry_id,
        )

    def async_get_device(self, identifiers: set[tuple[str, str]]) -> _Device | None:
        (identifier,) = identifiers
        return self.devices.get(identifier)

    def async_get_or_create(
        self,
        *,
        config_entry_id: str,
        via_device: tuple[str, str] | None = None,
        **kwargs: Any,
    ) -> _Device:
        self.created.append({"via_device": via_device, **kwargs})
        (identifier,) = kwargs["identifiers"]
        device = _Device(f"id-{identifier[1]}", config_entry_id)
        self.devices[identifier] = device
        return device


def test_links_by_registry_id() -> None:
    """Where devices link by id, the parent's registry id is passed."""
    registry: Any = _RegistryByIdentifier()
    assert compat.links_by_registry_id(registry)
    compat.register_node_device(registry, "e1", _info("m"), None)
    compat.register_node_device(registry, "e1", _info("m/101"), "m")
    assert [c["via_device_id"] for c in registry.created] == [None, "id-m"]
    assert "via_device" not in registry.created[1]
    assert compat.get_node_device(registry, "e1", "m/101").id == "id-m/101"
    assert compat.get_node_device(registry, "e2", "m/101") is None
    # A parent must be registered first: a link is never silently dropped.
    with pytest.raises(ValueError, match="register the parents first"):
        compat.register_node_device(registry, "e2", _info("m/102"), "m")
    # A device moves to another entry with new_config_entry_id.
    assert compat.move_node_device(registry, "m", "e1", "e2").id == "id-m"
    assert registry.updates == [("id-m", {"new_config_entry_id": "e2"})]


def test_links_by_identifier() -> None:
    """Where devices link by identifier, the parent's identifier is passed."""
    registry: Any = _RegistryByTuple()
    assert not compat.links_by_registry_id(registry)
    compat.register_node_device(registry, "e1", _info("m"), None)
    compat.register_node_device(registry, "e1", _info("m/101"), "m")
    assert [c["via_device"] for c in registry.created] == [None, (DOMAIN, "m")]
    assert compat.get_node_device(registry, "e1", "m/101").id == "id-m/101"
    assert compat.get_node_device(registry, "e2", "m/101") is None
    assert compat.get_node_device(registry, "e1", "nope") is None
    # A device moves by adding the new entry and removing the old one.
    assert compat.move_node_device(registry, "m", "e1", "e2").id == "id-m"
    assert registry.updates == [
        ("id-m", {"add_config_entry_id": "e2", "remove_config_entry_id": None}),
        ("id-m", {"add_config_entry_id": None, "remove_config_entry_id": "e1"}),
    ]


def test_dhcp_service_info_is_the_one_home_assistant_hands_over() -> None:
    """The class the dhcp integration builds, from its current home."""
    from homeassistant.helpers.service_info import dhcp

    assert compat.DhcpServiceInfo is dhcp.DhcpServiceInfo
    info = compat.DhcpServiceInfo(
        ip="192.0.2.1", hostname="nas", macaddress="525400000001"
    )
    assert info.macaddress == "525400000001"
