"""Snapshots of every platform: states, entity registry entries and devices.

The whole reference homelab is set up as the orchestration tests do it (four
machine entries with their guests and containers, the reference edges), with
the simulator's machines off, and each platform's entities are snapshotted
with their state and registry entry; the devices get a snapshot of their own.

One snapshot serves every supported Home Assistant version. Registry entries
are not snapshotted as objects, since their reprs change between versions
(2026.x adds fields); instead each test builds a normalised dict of the
fields that WakeHub sets and that every version has. In it:

* the ids Home Assistant draws at random (device ids, registry ids) are
  replaced by what they point to (the device's name);
* the simulator's ports, drawn per run, are replaced by ``<port>``;
* enums become their values, sets sorted lists;
* timestamps (``created_at``, ``last_changed``...) are left out;
* the domain-wide service device and its cascade sensor live in whichever
  entry loaded first, which varies from run to run: their entry is checked to
  be a WakeHub entry and shown as ``<a WakeHub entry>``. The cascade
  sensor's ``nodes`` follow the entries' load order, which varies too: they
  are sorted by node id.

A change to an entity, its translation, its attributes or its device then
fails here; after a deliberate one, regenerate with ``--snapshot-update`` and
read the diff.
"""

from __future__ import annotations

from enum import Enum
import re
from typing import TYPE_CHECKING, Any

from homeassistant.const import Platform
from homeassistant.helpers import device_registry as dr, entity_registry as er
import pytest

from custom_components.wakehub.const import DOMAIN

from .hub_helpers import async_setup_homelab

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant
    from syrupy.assertion import SnapshotAssertion

    from tests.homelab.thread import HomelabThread

PORT = re.compile(r"(127\.0\.0\.1|localhost):\d+")

ENTITY_FIELDS = (
    "unique_id",
    "platform",
    "translation_key",
    "has_entity_name",
    "original_name",
    "original_device_class",
    "original_icon",
    "entity_category",
    "disabled_by",
    "hidden_by",
    "capabilities",
    "supported_features",
    "unit_of_measurement",
    "options",
)
DEVICE_FIELDS = (
    "name",
    "manufacturer",
    "model",
    "model_id",
    "sw_version",
    "hw_version",
    "serial_number",
    "identifiers",
    "connections",
    "configuration_url",
    "entry_type",
    "suggested_area",
    "disabled_by",
)


def _plain(value: Any) -> Any:
    """``value`` with enums as values, sets sorted and ports masked."""
    if isinstance(value, Enum):
        return _plain(value.value)
    if isinstance(value, str):
        return PORT.sub(r"\1:<port>", value)
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, (set, frozenset)):
        return sorted((_plain(item) for item in value), key=repr)
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


ANY_ENTRY = "<a WakeHub entry>"


def _home(hass: HomeAssistant, entry_ids: list[str], domain_wide: bool) -> Any:
    """The entries of a device or entity, or ``ANY_ENTRY`` if it is domain-wide."""
    if not domain_wide:
        return sorted(entry_ids)
    wakehub = {entry.entry_id for entry in hass.config_entries.async_entries(DOMAIN)}
    assert len(entry_ids) == 1
    assert entry_ids[0] in wakehub
    return ANY_ENTRY


def _in_stable_order(attributes: dict[str, Any]) -> dict[str, Any]:
    """``attributes`` with the cascade sensor's node list sorted by node id."""
    nodes = attributes.get("nodes")
    if isinstance(nodes, list):
        attributes["nodes"] = sorted(nodes, key=lambda node: node["node_id"])
    return attributes


def _device_name(device_registry: dr.DeviceRegistry, device_id: str | None) -> Any:
    """The name of a device, for a snapshot that must not hold its random id."""
    if device_id is None:
        return None
    device = device_registry.async_get(device_id)
    assert device is not None
    return device.name


def _is_service(device_registry: dr.DeviceRegistry, device_id: str) -> bool:
    """Whether a device is WakeHub's domain-wide service device."""
    device = device_registry.async_get(device_id)
    assert device is not None
    return device.entry_type is dr.DeviceEntryType.SERVICE


@pytest.fixture
async def registries(
    hass: HomeAssistant, homelab: HomelabThread
) -> tuple[er.EntityRegistry, dr.DeviceRegistry]:
    """The reference homelab, set up and settled; both registries."""
    await async_setup_homelab(hass, homelab)
    await hass.async_block_till_done()
    return er.async_get(hass), dr.async_get(hass)


@pytest.mark.parametrize("platform", [Platform.SENSOR, Platform.SWITCH])
async def test_platform(
    hass: HomeAssistant,
    registries: tuple[er.EntityRegistry, dr.DeviceRegistry],
    snapshot: SnapshotAssertion,
    platform: Platform,
) -> None:
    """Every entity of ``platform``: its registry entry, device and state.

    An entity disabled by default has no state (``None``).
    """
    entity_registry, device_registry = registries
    entries = sorted(
        (
            entry
            for entry in entity_registry.entities.values()
            if entry.platform == DOMAIN and entry.domain == platform
        ),
        key=lambda entry: entry.entity_id,
    )
    assert entries
    snapshots: dict[str, Any] = {}
    for entry in entries:
        state = hass.states.get(entry.entity_id)
        snapshots[entry.entity_id] = {
            "entry": {
                **{field: _plain(getattr(entry, field)) for field in ENTITY_FIELDS},
                "config_entries": _home(
                    hass,
                    [entry.config_entry_id] if entry.config_entry_id else [],
                    entry.device_id is not None
                    and _is_service(device_registry, entry.device_id),
                ),
                "device": _device_name(device_registry, entry.device_id),
            },
            "state": None
            if state is None
            else {
                "state": state.state,
                "attributes": _plain(_in_stable_order(dict(state.attributes))),
            },
        }
    assert snapshots == snapshot


async def test_devices(
    hass: HomeAssistant,
    registries: tuple[er.EntityRegistry, dr.DeviceRegistry],
    snapshot: SnapshotAssertion,
) -> None:
    """Every device of WakeHub's entries, with its place in the hosting tree."""
    _, device_registry = registries
    # The entries each device is listed under: 2026.x devices have one
    # (``config_entry_id``), 2025.x ones a set (``config_entries``).
    found: dict[str, tuple[dr.DeviceEntry, list[str]]] = {}
    for entry in hass.config_entries.async_entries(DOMAIN):
        for device in dr.async_entries_for_config_entry(
            device_registry, entry.entry_id
        ):
            found.setdefault(device.id, (device, []))[1].append(entry.entry_id)
    assert found
    snapshots = [
        {
            **{field: _plain(getattr(device, field)) for field in DEVICE_FIELDS},
            "config_entries": _home(
                hass, entry_ids, device.entry_type is dr.DeviceEntryType.SERVICE
            ),
            "via_device": _device_name(device_registry, device.via_device_id),
        }
        for device, entry_ids in sorted(
            found.values(), key=lambda item: sorted(item[0].identifiers)
        )
    ]
    assert snapshots == snapshot
