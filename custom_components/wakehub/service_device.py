"""The "WakeHub" service device and its home among the entries.

The domain-wide cascade sensor sits on a small "WakeHub" service device, and
both belong to one loaded config entry, their *home* (the first one loaded;
see docs/design.md, "Where each thing lives"). When the home entry unloads,
the sensor is added again through another loaded entry's sensor platform
(same unique id: the entity registry moves it), and the device moves along.
The device also moves from a former home that is no longer loaded (after the
last entry unloaded, or a restart where another entry loads first): Home
Assistant 2026 would otherwise keep a second "WakeHub" device.

Each entry's sensor platform registers how to add the cascade sensor through
it (:meth:`ServiceDeviceHome.async_register_platform`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from homeassistant.const import Platform
from homeassistant.core import callback
from homeassistant.helpers import device_registry as dr, entity_registry as er
from homeassistant.helpers.device_registry import DeviceEntryType, DeviceInfo

from .compat import async_get_node_device, async_move_node_device
from .const import DOMAIN

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from homeassistant.core import CALLBACK_TYPE, HomeAssistant

SERVICE_DEVICE_ID: Final = "wakehub"
"""The identifier of the "WakeHub" service device that holds the cascade sensor."""
CASCADE_SENSOR_UNIQUE_ID: Final = f"{DOMAIN}-cascade"

SERVICE_DEVICE: Final = DeviceInfo(
    identifiers={(DOMAIN, SERVICE_DEVICE_ID)},
    name="WakeHub",
    manufacturer="WakeHub",
    model="Orchestrator",
    entry_type=DeviceEntryType.SERVICE,
)


class ServiceDeviceHome:
    """Which loaded entry holds the service device and the cascade sensor."""

    def __init__(self, hass: HomeAssistant) -> None:
        """No home yet: no entry loaded."""
        self.hass = hass
        self.entry_id: str | None = None
        self._add_sensor: dict[str, Callable[[], None]] = {}

    @callback
    def async_register_platform(
        self, entry_id: str, add_sensor: Callable[[], None]
    ) -> CALLBACK_TYPE:
        """Let the sensor platform of ``entry_id`` add the cascade sensor."""
        self._add_sensor[entry_id] = add_sensor

        @callback
        def remove() -> None:
            if self._add_sensor.get(entry_id) is add_sensor:
                del self._add_sensor[entry_id]

        return remove

    @callback
    def async_entry_added(self, entry_id: str) -> None:
        """Make ``entry_id`` the home when there is none."""
        if self.entry_id is None:
            self._async_move_to(entry_id)

    @callback
    def async_entry_removed(self, entry_id: str, loaded: Iterable[str]) -> None:
        """Move the home to another of the ``loaded`` entries when it was this one."""
        if self.entry_id != entry_id:
            return
        self.entry_id = None
        for other in loaded:
            if self._async_move_to(other, previous=entry_id):
                break

    @callback
    def _async_move_to(self, entry_id: str, previous: str | None = None) -> bool:
        """Add the cascade sensor through ``entry_id``'s sensor platform."""
        add_sensor = self._add_sensor.get(entry_id)
        if add_sensor is None:
            return False
        self.entry_id = entry_id
        if previous is None:
            # A former home (before the last entry unloaded, or before a
            # restart) may still hold the device: it moves from there too.
            previous = self._holder_other_than(entry_id)
        if previous is not None:
            # The same device changes hands (see compat): no copy is left behind.
            async_move_node_device(self.hass, SERVICE_DEVICE_ID, previous, entry_id)
        dr.async_get(self.hass).async_get_or_create(
            config_entry_id=entry_id, **SERVICE_DEVICE
        )
        if previous is not None:
            ent_reg = er.async_get(self.hass)
            if entity_id := ent_reg.async_get_entity_id(
                Platform.SENSOR, DOMAIN, CASCADE_SENSOR_UNIQUE_ID
            ):
                ent_reg.async_update_entity(entity_id, config_entry_id=entry_id)
        add_sensor()
        return True

    def _holder_other_than(self, entry_id: str) -> str | None:
        """Another WakeHub entry that holds the "WakeHub" service device."""
        for other in self.hass.config_entries.async_entries(DOMAIN):
            if other.entry_id != entry_id and (
                async_get_node_device(self.hass, other.entry_id, SERVICE_DEVICE_ID)
                is not None
            ):
                return other.entry_id
        return None
