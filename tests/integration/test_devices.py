"""The device registry is the hosting tree."""

from __future__ import annotations

from typing import TYPE_CHECKING

from homeassistant.helpers import device_registry as dr
import pytest

from custom_components.wakehub.compat import async_get_node_device

from .conftest import async_next_poll, node_id_of

if TYPE_CHECKING:
    from freezegun.api import FrozenDateTimeFactory
    from homeassistant.core import HomeAssistant
    from pytest_homeassistant_custom_component.common import MockConfigEntry

    from tests.homelab.thread import HomelabThread


def _device(
    hass: HomeAssistant, entry: MockConfigEntry, homelab: HomelabThread, name: str
) -> dr.DeviceEntry:
    device = async_get_node_device(
        hass, entry.entry_id, node_id_of(homelab.ready, name)
    )
    assert device is not None, name
    return device


async def test_device_tree_is_the_hosting_tree(
    hass: HomeAssistant,
    homelab: HomelabThread,
    mock_config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """plex -> VM-Docker -> Machine1, with complete device information."""
    ready = homelab.ready
    port = ready["nodes"]["Machine1"]["proxmox"]["port"]
    nodes = dict(mock_config_entry.options["nodes"])
    plex = node_id_of(ready, "plex")
    nodes[plex] = {**nodes[plex], "url": "http://127.0.0.1:32400/web"}
    mock_config_entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        mock_config_entry,
        options={
            **mock_config_entry.options,
            "nodes": nodes,
            "machine": {**mock_config_entry.options["machine"], "url": None},
        },
    )
    assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()

    machine = _device(hass, mock_config_entry, homelab, "Machine1")
    vm_docker = _device(hass, mock_config_entry, homelab, "VM-Docker")
    vm_ubuntu = _device(hass, mock_config_entry, homelab, "VM-Ubuntu")
    plex_device = _device(hass, mock_config_entry, homelab, "plex")
    sandbox = _device(hass, mock_config_entry, homelab, "sandbox")

    assert machine.via_device_id is None
    assert vm_docker.via_device_id == machine.id
    assert vm_ubuntu.via_device_id == machine.id
    assert plex_device.via_device_id == vm_docker.id
    assert sandbox.via_device_id == vm_docker.id

    mac = ready["nodes"]["Machine1"]["mac"]
    assert machine.connections == {(dr.CONNECTION_NETWORK_MAC, mac)}
    assert machine.name == "Machine1"
    assert machine.manufacturer == "Proxmox Server Solutions"
    assert machine.model == "Proxmox VE host"
    assert machine.sw_version is None  # off since setup: not read yet
    assert machine.configuration_url == f"https://127.0.0.1:{port}/"

    assert vm_docker.model == "QEMU virtual machine"
    assert vm_docker.configuration_url == (
        f"https://127.0.0.1:{port}/#v1:0:=qemu%2F101"
    )
    assert plex_device.manufacturer == "Docker"
    assert plex_device.model == "Docker container"
    assert plex_device.configuration_url == "http://127.0.0.1:32400/web"
    assert sandbox.configuration_url is None

    # The PVE version is read once the machine is up, and shown as sw_version.
    homelab.set_power("Machine1", "on")
    await async_next_poll(hass, freezer)
    machine = _device(hass, mock_config_entry, homelab, "Machine1")
    assert machine.sw_version
    assert machine.sw_version == (
        mock_config_entry.runtime_data.coordinator.pve_version
    )
    homelab.reset_requests()
    await async_next_poll(hass, freezer)
    assert "proxmox GET /version" not in homelab.requests()["endpoints"]


@pytest.mark.parametrize(
    ("machine_name", "manufacturer", "model", "lxc"),
    [
        ("RaspberryPi", "Docker", "Docker host", None),
        ("NAS", None, "Wake-on-LAN machine", None),
        ("Machine2", "Proxmox Server Solutions", "Proxmox VE host", "Jellyfin"),
    ],
)
async def test_machine_models(
    hass: HomeAssistant,
    homelab: HomelabThread,
    init_integration: MockConfigEntry,
    machine_name: str,
    manufacturer: str | None,
    model: str,
    lxc: str | None,
) -> None:
    """Each topology's machine says what it is; an LXC is an LXC."""
    machine = _device(hass, init_integration, homelab, machine_name)
    assert machine.manufacturer == manufacturer
    assert machine.model == model
    assert machine.connections == {
        (dr.CONNECTION_NETWORK_MAC, homelab.ready["nodes"][machine_name]["mac"])
    }
    if lxc is not None:
        assert _device(hass, init_integration, homelab, lxc).model == "LXC container"


@pytest.mark.parametrize("managed", [()])
async def test_machine_url_and_ipv6_proxmox(
    hass: HomeAssistant,
    homelab: HomelabThread,
    mock_config_entry: MockConfigEntry,
) -> None:
    """The machine's own service URL wins; an IPv6 Proxmox host is bracketed."""
    mock_config_entry.add_to_hass(hass)
    proxmox = {**mock_config_entry.data["proxmox"], "host": "::1", "port": 8006}
    hass.config_entries.async_update_entry(
        mock_config_entry, data={**mock_config_entry.data, "proxmox": proxmox}
    )
    assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    coordinator = mock_config_entry.runtime_data.coordinator
    from custom_components.wakehub.entity import proxmox_url

    assert proxmox_url(coordinator) == "https://[::1]:8006/"
    assert _device(hass, mock_config_entry, homelab, "Machine1").configuration_url == (
        "https://[::1]:8006/"
    )

    hass.config_entries.async_update_entry(
        mock_config_entry,
        options={
            **mock_config_entry.options,
            "machine": {
                **mock_config_entry.options["machine"],
                "url": "https://pve.example.invalid/",
            },
        },
    )
    await hass.async_block_till_done()
    assert _device(hass, mock_config_entry, homelab, "Machine1").configuration_url == (
        "https://pve.example.invalid/"
    )
