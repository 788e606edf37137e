"""Setting up, unloading and removing WakeHub entries, against the simulator."""

from __future__ import annotations

from datetime import timedelta
import importlib
import time
from typing import TYPE_CHECKING

from homeassistant.config_entries import ConfigEntryState
from homeassistant.helpers import device_registry as dr, issue_registry as ir
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import async_fire_time_changed

from custom_components.wakehub.channels import DockerHost, ProxmoxHost
from custom_components.wakehub.compat import async_get_node_device
from custom_components.wakehub.const import DOMAIN

from .conftest import node_id_of

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant
    from pytest_homeassistant_custom_component.common import MockConfigEntry

    from tests.homelab.thread import HomelabThread


async def test_setup_machine_off_is_instant_and_silent(
    hass: HomeAssistant, homelab: HomelabThread, mock_config_entry: MockConfigEntry
) -> None:
    """A machine that is off sets up at once, all off, without one API request."""
    homelab.reset_requests()
    mock_config_entry.add_to_hass(hass)
    started = time.monotonic()
    assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    assert time.monotonic() - started < 0.5

    assert mock_config_entry.state is ConfigEntryState.LOADED
    assert homelab.requests()["total"] == 0
    for name in ("Machine1", "VM-Docker", "VM-Ubuntu", "plex", "sandbox"):
        assert (
            hass.states.get(f"sensor.{name.lower().replace('-', '_')}_status").state
            == "off"
        )


async def test_setup_machine_off_is_instant_with_the_real_probe_timeout(
    hass: HomeAssistant,
    homelab: HomelabThread,
    mock_config_entry: MockConfigEntry,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A silent machine costs the 2 s probe timeout, but not its entry's set-up.

    The set-up takes a quick look; the full probe comes with the next poll, a
    second later, and finds the machine off too.
    """
    # The package exports a function named ``probe``: fetch the module itself.
    probe_module = importlib.import_module("custom_components.wakehub.channels.probe")
    monkeypatch.setattr(probe_module, "DEFAULT_PROBE_TIMEOUT", 2.0)
    homelab.reset_requests()
    mock_config_entry.add_to_hass(hass)
    started = time.monotonic()
    assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
    # Well under the 2 s probe: a quick look (0.3 s at most) and the set-up,
    # which a loaded machine stretches (0.53 s seen with CI's phases side by side).
    assert time.monotonic() - started < 1.2
    assert hass.states.get("sensor.machine1_status").state == "off"
    coordinator = mock_config_entry.runtime_data.coordinator
    assert coordinator.update_interval == timedelta(seconds=1)
    refreshes: list[bool] = []
    coordinator.async_add_listener(lambda: refreshes.append(True))

    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=1))
    await hass.async_block_till_done(wait_background_tasks=True)
    assert time.monotonic() - started >= 2.0
    assert refreshes
    assert hass.states.get("sensor.machine1_status").state == "off"
    assert homelab.requests()["total"] == 0
    # Back to the normal interval once the machine was probed in full.
    assert coordinator.update_interval == timedelta(seconds=30)


async def test_unload(hass: HomeAssistant, init_integration: MockConfigEntry) -> None:
    """Unloading removes the entities' states from service."""
    assert await hass.config_entries.async_unload(init_integration.entry_id)
    await hass.async_block_till_done()
    assert init_integration.state is ConfigEntryState.NOT_LOADED
    assert hass.states.get("sensor.machine1_status").state == "unavailable"


async def test_auth_failure_starts_reauth(
    hass: HomeAssistant, homelab: HomelabThread, mock_config_entry: MockConfigEntry
) -> None:
    """A 401 from the Proxmox API fails the setup and starts reauthentication."""
    homelab.set_power("Machine1", "on")
    homelab.fault("Machine1", "api_status", 401)
    mock_config_entry.add_to_hass(hass)
    assert not await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()

    assert mock_config_entry.state is ConfigEntryState.SETUP_ERROR
    flows = hass.config_entries.flow.async_progress()
    assert [flow["context"]["source"] for flow in flows] == ["reauth"]
    assert flows[0]["context"]["entry_id"] == mock_config_entry.entry_id


@pytest.mark.parametrize("managed", [("VM-Docker", "plex")])
async def test_missing_node_repair_and_device_removal(
    hass: HomeAssistant,
    homelab: HomelabThread,
    mock_config_entry: MockConfigEntry,
    issue_registry: ir.IssueRegistry,
) -> None:
    """A managed node its answering host no longer lists raises a repair issue.

    The user may then delete its device, which drops it from the managed
    nodes; live nodes and the machine cannot be deleted.
    """
    ready = homelab.ready
    vm_docker = node_id_of(ready, "VM-Docker")
    ghost = f"{vm_docker}/docker/ghost"
    nodes = dict(mock_config_entry.options["nodes"])
    nodes[ghost] = {**nodes[node_id_of(ready, "plex")], "key": "ghost", "name": "ghost"}
    mock_config_entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        mock_config_entry, options={**mock_config_entry.options, "nodes": nodes}
    )
    homelab.set_power("plex", "on")
    assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()

    issue = issue_registry.async_get_issue(DOMAIN, f"node_missing_{ghost}")
    assert issue is not None
    assert issue.translation_placeholders == {
        "node": "ghost",
        "host": "VM-Docker",
        "key": "ghost",
    }
    assert hass.states.get("sensor.ghost_status").state == "unavailable"
    assert hass.states.get("sensor.plex_status").state == "on"

    devices = {
        key: async_get_node_device(hass, mock_config_entry.entry_id, node)
        for key, node in (
            ("machine", node_id_of(ready, "Machine1")),
            ("plex", node_id_of(ready, "plex")),
            ("ghost", ghost),
        )
    }
    result = {}
    for key, device in devices.items():
        assert device is not None
        result[key] = await _remove_device(hass, device.id, mock_config_entry.entry_id)
    assert result == {"machine": False, "plex": False, "ghost": True}
    await hass.async_block_till_done()
    assert ghost not in mock_config_entry.options["nodes"]
    assert issue_registry.async_get_issue(DOMAIN, f"node_missing_{ghost}") is None


async def _remove_device(hass: HomeAssistant, device_id: str, entry_id: str) -> bool:
    """Ask the integration whether a device may go, as the device page does."""
    from custom_components.wakehub import async_remove_config_entry_device

    entry = hass.config_entries.async_get_entry(entry_id)
    assert entry is not None
    device = dr.async_get(hass).async_get(device_id)
    assert device is not None
    return await async_remove_config_entry_device(hass, entry, device)


async def test_remove_entry_forgets_the_tree(
    hass: HomeAssistant,
    homelab: HomelabThread,
    init_integration: MockConfigEntry,
    hass_storage: dict[str, object],
) -> None:
    """Removing the entry deletes its persisted tree."""
    homelab.set_power("Machine1", "on")
    await init_integration.runtime_data.coordinator.async_refresh()
    await hass.async_block_till_done()
    assert f"{DOMAIN}.{init_integration.entry_id}" in hass_storage
    await hass.config_entries.async_remove(init_integration.entry_id)
    await hass.async_block_till_done()
    assert f"{DOMAIN}.{init_integration.entry_id}" not in hass_storage


async def test_unload_closes_the_channels(
    hass: HomeAssistant, homelab: HomelabThread, init_integration: MockConfigEntry
) -> None:
    """Unloading releases every API connection the entry holds."""
    channels = init_integration.runtime_data.channels
    coordinator = init_integration.runtime_data.coordinator
    homelab.set_power("plex", "running")
    await coordinator.async_refresh()
    docker = channels.docker[node_id_of(homelab.ready, "VM-Docker")]
    assert channels.proxmox is not None
    assert isinstance(docker, DockerHost)
    assert isinstance(channels.proxmox, ProxmoxHost)
    # Connected by the refresh.
    assert docker._docker is not None
    assert channels.proxmox._session is not None
    assert await hass.config_entries.async_unload(init_integration.entry_id)
    await hass.async_block_till_done()
    assert docker._docker is None
    assert channels.proxmox._session is None


async def test_a_stale_device_may_go(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    device_registry: dr.DeviceRegistry,
) -> None:
    """A device no node of the entry claims can be removed, options untouched."""
    device = device_registry.async_get_or_create(
        config_entry_id=init_integration.entry_id,
        identifiers={(DOMAIN, "52:54:00:00:00:02/999")},
    )
    options = init_integration.options
    assert await _remove_device(hass, device.id, init_integration.entry_id)
    assert init_integration.options is options


@pytest.mark.parametrize("machine_name", ["Machine2"])
async def test_proxmox_password_login(
    hass: HomeAssistant, homelab: HomelabThread, mock_config_entry: MockConfigEntry
) -> None:
    """A Proxmox user and password (no token) read the guests too."""
    proxmox_ready = homelab.ready["nodes"]["Machine2"]["proxmox"]
    user, realm = proxmox_ready["user"].split("@")
    proxmox = {
        key: value
        for key, value in mock_config_entry.data["proxmox"].items()
        if not key.startswith("token_")
    }
    proxmox.update(username=user, realm=realm, password=proxmox_ready["password"])
    mock_config_entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        mock_config_entry, data={**mock_config_entry.data, "proxmox": proxmox}
    )
    homelab.set_power("Jellyfin", "running")
    assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    assert hass.states.get("sensor.jellyfin_status").state == "on"
    assert hass.states.get("sensor.cloudflared_status").state == "off"


@pytest.mark.parametrize(
    ("machine_name", "child"), [("RaspberryPi", "pihole"), ("NAS", None)]
)
async def test_machines_without_proxmox(
    hass: HomeAssistant,
    homelab: HomelabThread,
    mock_config_entry: MockConfigEntry,
    machine_name: str,
    child: str | None,
) -> None:
    """A Docker host reads its containers in one request; a NAS only is probed."""
    homelab.set_power(child or machine_name, "running" if child else "on")
    homelab.reset_requests()
    mock_config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    assert hass.states.get(f"sensor.{machine_name.lower()}_status").state == "on"
    endpoints = homelab.requests()["endpoints"]
    if child is None:
        assert endpoints == {}
        return
    assert hass.states.get(f"sensor.{child}_status").state == "on"
    assert hass.states.get("sensor.uptime_kuma_status").state == "off"
    assert endpoints["docker GET /containers/json"] == 1
    assert "proxmox GET /version" not in endpoints


def test_models_docker_and_ssh_configs() -> None:
    """Every Docker mode of the entry layout becomes its channel configuration."""
    from custom_components.wakehub.channels import DockerEndpoint
    from custom_components.wakehub.entry_channels import docker_config, ssh_config

    unix = docker_config({"mode": "unix"})
    assert unix.endpoint is DockerEndpoint.UNIX
    assert unix.socket_path == "/var/run/docker.sock"
    key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"
    tunnel = docker_config(
        {
            "mode": "ssh",
            "host": "127.0.0.1",
            "username": "u",
            "private_key": "k",
            "host_key": key,
        }
    )
    assert tunnel.endpoint is DockerEndpoint.SSH
    assert tunnel.ssh is not None
    assert tunnel.ssh.port == 22
    assert tunnel.ssh.private_key == "k"
    # An SSH dict whose host key is not pinned yet gives no configuration.
    assert ssh_config("127.0.0.1", {"username": "u", "password": "p"}) is None
