"""WakeHub: power a homelab up and down in dependency order."""

from __future__ import annotations

from typing import TYPE_CHECKING

from homeassistant.const import Platform
from homeassistant.helpers import (
    config_validation as cv,
    device_registry as dr,
    issue_registry as ir,
)

from .card import async_register_card
from .const import CONF_DEPENDENCIES, CONF_NODES, DOMAIN
from .coordinator import WakeHubCoordinator
from .entity import async_register_devices
from .entry_channels import async_build_channels
from .hub import HUB_KEY, WakeHubHub
from .known_children import async_remove_persisted_tree
from .models import WakeHubConfigEntry, WakeHubRuntimeData, build_tree
from .option_issues import async_check_stored_options
from .services import async_setup_services

if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

    from homeassistant.core import HomeAssistant
    from homeassistant.helpers.typing import ConfigType

PLATFORMS: list[Platform] = [Platform.SENSOR, Platform.SWITCH]

CONFIG_SCHEMA = cv.config_entry_only_config_schema(DOMAIN)


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Create the domain-wide hub (topology, orchestrator) and the actions."""
    hub = WakeHubHub(hass)
    await hub.async_setup()
    hass.data[HUB_KEY] = hub
    async_setup_services(hass)
    await async_register_card(hass)
    return True


async def async_setup_entry(hass: HomeAssistant, entry: WakeHubConfigEntry) -> bool:
    """Set up one machine and its tree.

    A machine that is off is a normal state: the first refresh then only
    probes it, makes no API request, and every node shows ``off``.
    """
    await async_check_stored_options(hass, entry)
    channels = await async_build_channels(hass, entry)
    # Released on unload, and also when the first refresh fails the setup.
    entry.async_on_unload(channels.async_close)
    coordinator = WakeHubCoordinator(hass, entry, channels)
    await coordinator.async_config_entry_first_refresh()
    async_register_devices(hass, coordinator)
    entry.runtime_data = WakeHubRuntimeData(coordinator=coordinator, channels=channels)
    entry.async_on_unload(entry.add_update_listener(_async_update_listener))
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    hass.data[HUB_KEY].async_add_entry(entry)
    return True


async def async_unload_entry(hass: HomeAssistant, entry: WakeHubConfigEntry) -> bool:
    """Unload the platforms; the channels' connections close on unload."""
    if unloaded := await hass.config_entries.async_unload_platforms(entry, PLATFORMS):
        hass.data[HUB_KEY].async_remove_entry(entry)
    return unloaded


async def _async_update_listener(
    hass: HomeAssistant, entry: WakeHubConfigEntry
) -> None:
    """Reload the entry when its options (managed nodes, interval) change.

    A change of ``data`` alone (the SSH host key pinned at the first boot)
    needs no reload: the coordinator already uses it. Reauthentication and
    reconfiguration reload the entry themselves.
    """
    if _without_edges(entry.options) != _without_edges(
        entry.runtime_data.coordinator.options
    ):
        await hass.config_entries.async_reload(entry.entry_id)
    else:
        # Only dependency edges changed: no reload, which would interrupt a
        # running cascade; the hub rebuilds its topology instead.
        hass.data[HUB_KEY].async_rebuild()


def _without_edges(options: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in options.items() if k != CONF_DEPENDENCIES}


async def async_remove_entry(hass: HomeAssistant, entry: WakeHubConfigEntry) -> None:
    """Forget the persisted tree and the repair issues of a removed entry."""
    for node_id in build_tree(entry):
        ir.async_delete_issue(hass, DOMAIN, f"node_missing_{node_id}")
    ir.async_delete_issue(hass, DOMAIN, f"ssh_failed_at_boot_{entry.entry_id}")
    await async_remove_persisted_tree(hass, entry.entry_id)


async def async_remove_config_entry_device(
    hass: HomeAssistant, entry: WakeHubConfigEntry, device: dr.DeviceEntry
) -> bool:
    """Let the user remove the device of a node its host no longer reports.

    The machine itself and the nodes that still exist cannot be removed. A
    removed node leaves the entry's managed nodes, so it does not come back.
    """
    coordinator = entry.runtime_data.coordinator
    node_ids = {key for domain, key in device.identifiers if domain == DOMAIN}
    if coordinator.machine_id in node_ids:
        return False
    if node_ids & set(coordinator.tree) - coordinator.data.missing:
        return False
    nodes = dict(entry.options.get(CONF_NODES, {}))
    if removed := node_ids & set(nodes):
        for node_id in removed:
            del nodes[node_id]
            ir.async_delete_issue(hass, DOMAIN, f"node_missing_{node_id}")
        hass.config_entries.async_update_entry(
            entry, options={**entry.options, CONF_NODES: nodes}
        )
    return True
