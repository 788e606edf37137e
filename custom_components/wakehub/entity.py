"""The base entity of WakeHub: one node of the hosting tree, one device."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from homeassistant.core import callback
from homeassistant.helpers.device_registry import CONNECTION_NETWORK_MAC, DeviceInfo
from homeassistant.helpers.update_coordinator import CoordinatorEntity

from .compat import async_register_node_device
from .const import (
    CONF_HOST,
    CONF_MACHINE,
    CONF_PORT,
    CONF_PROXMOX,
    CONF_URL,
    DEFAULT_PROXMOX_PORT,
    DOMAIN,
)
from .coordinator import WakeHubCoordinator
from .core.model import NodeKind, PowerState

if TYPE_CHECKING:
    from collections.abc import Mapping

    from homeassistant.core import HomeAssistant
    from homeassistant.helpers.entity import EntityDescription

    from .models import TreeNode

_GUEST_MODELS = {NodeKind.VM: "QEMU virtual machine", NodeKind.LXC: "LXC container"}


class WakeHubEntity(CoordinatorEntity[WakeHubCoordinator]):
    """An entity of one node; the node is its device."""

    _attr_has_entity_name = True

    def __init__(
        self,
        coordinator: WakeHubCoordinator,
        node: TreeNode,
        description: EntityDescription,
    ) -> None:
        """Bind the entity to ``node`` and build its device once."""
        super().__init__(coordinator)
        self.node = node
        self.entity_description = description
        self._attr_unique_id = f"{node.id}-{description.key}"
        self._attr_device_info = device_info(coordinator, node)

    @property
    def available(self) -> bool:
        """Unavailable only when the node's host is up but its API fails."""
        return (
            super().available
            and self.coordinator.node_state(self.node.id) is not PowerState.UNKNOWN
        )


def proxmox_url(coordinator: WakeHubCoordinator, node: TreeNode | None = None) -> str:
    """Return the Proxmox VE web UI of the machine, at ``node`` when given."""
    proxmox = coordinator.config_entry.data[CONF_PROXMOX]
    host = proxmox[CONF_HOST]
    if ":" in host:  # an IPv6 literal
        host = f"[{host}]"
    url = f"https://{host}:{proxmox.get(CONF_PORT, DEFAULT_PROXMOX_PORT)}/"
    if node is not None:
        url += f"#v1:0:={'qemu' if node.kind is NodeKind.VM else 'lxc'}%2F{node.key}"
    return url


@callback
def async_register_devices(
    hass: HomeAssistant, coordinator: WakeHubCoordinator
) -> None:
    """Register the device of every node, hosts first, each linked to its host.

    The link to the host is made here, the way the running Home Assistant
    wants it (see :mod:`.compat`); the entities' ``DeviceInfo`` carry none.
    """
    entry_id = coordinator.config_entry.entry_id
    for node in coordinator.tree.values():  # parents before children
        async_register_node_device(
            hass, entry_id, device_info(coordinator, node), node.parent
        )


def node_settings(coordinator: WakeHubCoordinator, node: TreeNode) -> Mapping[str, Any]:
    """A node's own settings: the entry's machine settings, or the child's."""
    if node.kind is NodeKind.MACHINE:
        settings: Mapping[str, Any] = (
            coordinator.config_entry.options.get(CONF_MACHINE) or {}
        )
        return settings
    return node.settings


def device_info(coordinator: WakeHubCoordinator, node: TreeNode) -> DeviceInfo:
    """Return the device of a node, without its link to its host.

    :func:`async_register_devices` links it to its host's device.
    """
    entry = coordinator.config_entry
    if node.kind is NodeKind.MACHINE:
        url = entry.options.get(CONF_MACHINE, {}).get(CONF_URL)
        info = DeviceInfo(
            identifiers={(DOMAIN, node.id)},
            connections={(CONNECTION_NETWORK_MAC, node.id)},
            name=node.name,
        )
        if coordinator.has_proxmox:
            info["manufacturer"] = "Proxmox Server Solutions"
            info["model"] = "Proxmox VE host"
            info["sw_version"] = coordinator.pve_version
            url = url or proxmox_url(coordinator)
        elif coordinator.docker_hosts and node.id in coordinator.docker_hosts:
            info["manufacturer"] = "Docker"
            info["model"] = "Docker host"
        else:
            info["model"] = "Wake-on-LAN machine"
        if url:
            info["configuration_url"] = url
        return info

    assert node.parent is not None
    info = DeviceInfo(
        identifiers={(DOMAIN, node.id)},
        name=node.name,
    )
    url = node.settings.get(CONF_URL)
    if node.kind is NodeKind.CONTAINER:
        info["manufacturer"] = "Docker"
        info["model"] = "Docker container"
    else:
        info["manufacturer"] = "Proxmox Server Solutions"
        info["model"] = _GUEST_MODELS[node.kind]
        url = url or proxmox_url(coordinator, node)
    if url:
        info["configuration_url"] = url
    return info
