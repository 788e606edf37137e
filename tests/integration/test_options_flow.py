"""The options flow, on an entry loaded against the simulator.

"Services to configure" reads the coordinator's discovered children; every
save keeps the options it does not touch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from homeassistant.data_entry_flow import FlowResultType, InvalidData
import pytest

from custom_components.wakehub.core.ids import container_id, guest_id
from custom_components.wakehub.flows.options_node import _identify_node

from .flow_helpers import node_doc

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant
    from pytest_homeassistant_custom_component.common import MockConfigEntry


@pytest.fixture
def managed() -> list[str]:
    """Machine1 manages only VM-Docker: VM-Ubuntu is left to configure."""
    return ["VM-Docker"]


@pytest.fixture(autouse=True)
def machine1_on(homelab: Any) -> None:
    """Machine1 runs, so its Proxmox API answers the first refresh."""
    homelab.set_power("Machine1", "on")


async def _menu(hass: HomeAssistant, entry: MockConfigEntry) -> Any:
    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert result["type"] is FlowResultType.MENU
    return result


async def _pick(hass: HomeAssistant, result: Any, step: str) -> Any:
    return await hass.config_entries.options.async_configure(
        result["flow_id"], {"next_step_id": step}
    )


async def _vm_docker_settings(
    hass: HomeAssistant,
    entry: MockConfigEntry,
    mac: str,
    docker: str,
    *,
    confirm_shutdown: bool = False,
) -> Any:
    """Submit VM-Docker's settings (node settings) with ``docker`` as its API."""
    result = await _pick(hass, await _menu(hass, entry), "node_settings")
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"node": guest_id(mac, 101)}
    )
    return await hass.config_entries.options.async_configure(
        result["flow_id"],
        {
            "name": "VM-Docker",
            "confirm_shutdown": confirm_shutdown,
            "pinned": False,
            "start_timeout": 180,
            "stop_timeout": 180,
            "docker": docker,
        },
    )


async def test_menu_counts_services_to_configure(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """The menu shows how many discovered services are not managed."""
    result = await _menu(hass, init_integration)
    assert result["menu_options"] == [
        "services",
        "node_settings",
        "dependencies",
        "inactivity",
        "polling",
    ]
    # The dialog says which machine it belongs to.
    assert result["description_placeholders"] == {
        "count": "1",
        "machine": init_integration.title,
    }


async def test_configure_a_discovered_service(
    hass: HomeAssistant, homelab: Any, init_integration: MockConfigEntry
) -> None:
    """VM-Ubuntu, pre-filled from the API, becomes a managed node."""
    mac = node_doc(homelab, "Machine1")["mac"]
    before = dict(init_integration.options)
    result = await _pick(hass, await _menu(hass, init_integration), "services")
    assert result["step_id"] == "services"
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"node": guest_id(mac, 102)}
    )
    assert result["step_id"] == "node"
    assert "VMID 102" in result["description_placeholders"]["details"]
    assert "2 vCPU" in result["description_placeholders"]["details"]
    defaults = {
        str(key): key.default()
        for key in result["data_schema"].schema
        if key.default is not None and callable(key.default)
    }
    assert defaults["name"] == "VM-Ubuntu"
    assert defaults["confirm_shutdown"] is False
    assert defaults["start_timeout"] == 180
    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {
            "name": "Ubuntu",
            "confirm_shutdown": False,
            "pinned": True,
            "url": "https://ubuntu.lan",
            "start_timeout": 120,
            "stop_timeout": 60,
            "docker": "none",
        },
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    options = init_integration.options
    assert options["nodes"][guest_id(mac, 102)] == {
        "kind": "vm",
        "key": "102",
        "parent": mac,
        "name": "Ubuntu",
        "confirm_shutdown": False,
        "pinned": True,
        "url": "https://ubuntu.lan",
        "start_timeout": 120,
        "stop_timeout": 60,
        "docker": None,
        # Nothing known of its service: "running" plus the settle time; and
        # Proxmox's own shutdown, never forced.
        "readiness": "running",
        "readiness_ports": [],
        "settle_time": 30,
        "shutdown_timeout": None,
        "force_stop": False,
    }
    # Nothing else was lost.
    for key in ("scan_interval", "machine", "dependencies"):
        assert options.get(key) == before.get(key)
    assert guest_id(mac, 101) in options["nodes"]


async def test_machine_settings_in_minutes(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """The machine's timeouts are entered in minutes and stored in seconds."""
    result = await _pick(hass, await _menu(hass, init_integration), "node_settings")
    assert result["step_id"] == "node_settings"
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"node": "machine"}
    )
    assert result["step_id"] == "node"
    assert "name" not in {str(key) for key in result["data_schema"].schema}
    # No "-" for what the API reports: the machine is named by its MAC.
    placeholders = result["description_placeholders"]
    assert placeholders["machine"] == init_integration.title
    assert placeholders["details"] == f"MAC {init_integration.data['mac']}"
    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {
            "confirm_shutdown": True,
            "pinned": True,
            "start_timeout": 8,
            "stop_timeout": 4,
        },
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    machine = init_integration.options["machine"]
    assert machine["start_timeout"] == 480
    assert machine["stop_timeout"] == 240
    assert machine["url"] is None
    assert machine["pinned"] is True


async def test_guest_readiness_and_shutdown_settings(
    hass: HomeAssistant, homelab: Any, init_integration: MockConfigEntry
) -> None:
    """The readiness check and the shutdown settings of a guest, validated."""
    mac = node_doc(homelab, "Machine1")["mac"]
    node_id = guest_id(mac, 101)
    base = {
        "name": "VM-Docker",
        "confirm_shutdown": False,
        "pinned": False,
        "start_timeout": 180,
        "stop_timeout": 180,
        "docker": "none",
        "settle_time": 20,
        "force_stop": False,
    }
    result = await _pick(hass, await _menu(hass, init_integration), "node_settings")
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"node": node_id}
    )
    flow_id = result["flow_id"]
    fields = {str(key) for key in result["data_schema"].schema}
    assert {"readiness", "readiness_ports", "shutdown_timeout", "force_stop"} <= fields
    # The port check needs a URL, and ports that are ports.
    result = await hass.config_entries.options.async_configure(
        flow_id, {**base, "readiness": "tcp"}
    )
    assert result["errors"] == {"url": "readiness_needs_url"}
    result = await hass.config_entries.options.async_configure(
        flow_id,
        {**base, "readiness": "tcp", "url": "http://vm.lan", "readiness_ports": "0"},
    )
    assert result["errors"] == {"readiness_ports": "invalid_ports"}
    result = await hass.config_entries.options.async_configure(
        flow_id, {**base, "readiness": "tcp", "url": "http://vm.lan"}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    node = init_integration.options["nodes"][node_id]
    assert node["readiness_ports"] == [80]  # http's own port
    assert node["settle_time"] == 20
    assert node["shutdown_timeout"] is None  # Proxmox's own


async def test_guest_port_check_from_the_service_url(
    hass: HomeAssistant, homelab: Any, init_integration: MockConfigEntry
) -> None:
    """No port given: the service URL's port; a timeout and a forced stop."""
    mac = node_doc(homelab, "Machine1")["mac"]
    node_id = guest_id(mac, 101)
    result = await _pick(hass, await _menu(hass, init_integration), "node_settings")
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"node": node_id}
    )
    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {
            "name": "VM-Docker",
            "confirm_shutdown": False,
            "pinned": False,
            "url": "http://vm.lan:8096/web",
            "start_timeout": 180,
            "stop_timeout": 180,
            "docker": "none",
            "readiness": "tcp",
            "settle_time": 30,
            "shutdown_timeout": 600,
            "force_stop": True,
        },
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    node = init_integration.options["nodes"][node_id]
    assert node["readiness"] == "tcp"
    assert node["readiness_ports"] == [8096]
    assert node["shutdown_timeout"] == 600
    assert node["force_stop"] is True
    # Edited again, the form shows the saved check and ports.
    result = await _pick(hass, await _menu(hass, init_integration), "node_settings")
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"node": node_id}
    )
    suggested = {
        str(key): (key.description or {}).get("suggested_value")
        for key in result["data_schema"].schema
    }
    assert suggested["readiness_ports"] == "8096"
    assert suggested["shutdown_timeout"] == 600


async def test_the_agent_check_is_for_vms(
    hass: HomeAssistant, homelab: Any, init_integration: MockConfigEntry
) -> None:
    """An LXC has no QEMU guest agent; a service URL must be http(s).

    An ``ftp://`` URL has no port a TCP check could use: it is refused as a
    URL (the validator), before the check would ask for ports.
    """
    homelab.set_power("Machine1", "on")
    mac = node_doc(homelab, "Machine1")["mac"]
    result = await _pick(hass, await _menu(hass, init_integration), "services")
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"node": guest_id(mac, 102)}
    )
    flow_id = result["flow_id"]
    values = {
        "name": "VM-Ubuntu",
        "confirm_shutdown": False,
        "pinned": False,
        "start_timeout": 180,
        "stop_timeout": 180,
        "docker": "none",
        "settle_time": 30,
        "force_stop": False,
    }
    result = await hass.config_entries.options.async_configure(
        flow_id, {**values, "readiness": "tcp", "url": "ftp://vm.lan"}
    )
    assert result["errors"] == {"url": "invalid_url"}
    result = await hass.config_entries.options.async_configure(
        flow_id, {**values, "readiness": "agent"}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert init_integration.options["nodes"][guest_id(mac, 102)]["readiness"] == (
        "agent"
    )


async def test_machine_probe_ports_and_wol_source(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """More probe ports and the Wake-on-LAN source address, in the machine's
    settings: checked, saved, and used by the reloaded entry's machine."""
    menu = await _menu(hass, init_integration)
    result = await _pick(hass, menu, "node_settings")
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"node": "machine"}
    )
    keys = {str(key) for key in result["data_schema"].schema}
    assert {"probe_ports", "wol_interface"} <= keys
    settings = {
        "confirm_shutdown": True,
        "pinned": False,
        "start_timeout": 5,
        "stop_timeout": 5,
    }
    flow_id = result["flow_id"]
    # 192.0.2.1 (TEST-NET-1) is never one of this host's addresses.
    result = await hass.config_entries.options.async_configure(
        flow_id,
        {**settings, "probe_ports": "445, http", "wol_interface": "192.0.2.1"},
    )
    assert result["errors"] == {
        "probe_ports": "invalid_probe_ports",
        "wol_interface": "invalid_interface",
    }
    result = await hass.config_entries.options.async_configure(
        flow_id, {**settings, "probe_ports": "70000", "wol_interface": "::1"}
    )
    assert result["errors"] == {
        "probe_ports": "invalid_probe_ports",
        "wol_interface": "invalid_interface",
    }
    result = await hass.config_entries.options.async_configure(
        flow_id,
        {**settings, "probe_ports": "445; 8080, 445", "wol_interface": "127.0.0.1"},
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    machine = init_integration.options["machine"]
    assert machine["probe_ports"] == [445, 8080]
    assert machine["wol_interface"] == "127.0.0.1"
    await hass.async_block_till_done()
    built = init_integration.runtime_data.channels.machine
    assert built.extra_probe_ports == (445, 8080)
    assert built.wol is not None
    assert built.wol.interface == "127.0.0.1"
    # Cleared again: the system chooses the source address.
    result = await _pick(hass, await _menu(hass, init_integration), "node_settings")
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"node": "machine"}
    )
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], settings
    )
    assert init_integration.options["machine"]["wol_interface"] is None
    assert init_integration.options["machine"]["probe_ports"] == []


async def test_guest_docker_api_tcp(
    hass: HomeAssistant, homelab: Any, init_integration: MockConfigEntry
) -> None:
    """VM-Docker gets its Docker API (tcp), tested; errors recover."""
    homelab.set_power("VM-Docker", "running")
    mac = node_doc(homelab, "Machine1")["mac"]
    vm = node_doc(homelab, "VM-Docker")
    result = await _vm_docker_settings(hass, init_integration, mac, "tcp")
    assert result["step_id"] == "node_docker"
    flow_id = result["flow_id"]
    result = await hass.config_entries.options.async_configure(
        flow_id, {"host": "bad host!", "port": 1}
    )
    assert result["errors"] == {"host": "invalid_host"}
    result = await hass.config_entries.options.async_configure(
        flow_id, {"host": vm["host"], "port": 1}
    )
    assert result["errors"] == {"base": "cannot_connect"}
    result = await hass.config_entries.options.async_configure(
        flow_id, {"host": vm["host"], "port": vm["docker"]["port"]}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    node = init_integration.options["nodes"][guest_id(mac, 101)]
    assert node["docker"] == {
        "mode": "tcp",
        "host": vm["host"],
        "port": vm["docker"]["port"],
    }
    # The containers on VM-Docker are discovered at the reload, then offered.
    await hass.async_block_till_done()
    await init_integration.runtime_data.coordinator.async_refresh()
    result = await _menu(hass, init_integration)
    result = await _pick(hass, result, "services")
    values = {
        opt["value"]
        for opt in next(iter(result["data_schema"].schema.values())).config["options"]
    }
    plex = container_id(guest_id(mac, 101), "plex")
    assert plex in values
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"node": plex}
    )
    assert result["step_id"] == "node"
    assert result["description_placeholders"]["details"].startswith("image ")
    assert "docker" not in {str(key) for key in result["data_schema"].schema}
    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {
            "name": "plex",
            "confirm_shutdown": False,
            "pinned": True,
            "url": "http://plex.lan:32400",
            "start_timeout": 60,
            "stop_timeout": 60,
        },
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert init_integration.options["nodes"][plex]["parent"] == guest_id(mac, 101)


async def test_guest_docker_api_through_ssh(
    hass: HomeAssistant, homelab: Any, init_integration: MockConfigEntry
) -> None:
    """Docker through SSH to the guest: host key confirmed, pinned, tested."""
    homelab.set_power("VM-Docker", "running")
    mac = node_doc(homelab, "Machine1")["mac"]
    vm = node_doc(homelab, "VM-Docker")
    machine = node_doc(homelab, "Machine1")
    # The simulated guest is reached through its machine's SSH server.
    ssh = vm["ssh"] or machine["ssh"]
    result = await _vm_docker_settings(hass, init_integration, mac, "ssh")
    flow_id = result["flow_id"]
    form = {
        "host": vm["host"],
        "port": ssh["port"],
        "username": ssh["username"],
        "socket_path": "/var/run/docker.sock",
    }
    result = await hass.config_entries.options.async_configure(flow_id, form)
    assert result["errors"] == {"base": "auth_required"}
    result = await hass.config_entries.options.async_configure(
        flow_id, {**form, "port": 1, "password": "x"}
    )
    assert result["errors"] == {"base": "cannot_connect"}
    result = await hass.config_entries.options.async_configure(
        flow_id, {**form, "password": "wrong"}
    )
    assert result["step_id"] == "node_docker_host_key"
    assert (
        result["description_placeholders"]["fingerprint"] == ssh["host_key_fingerprint"]
    )
    result = await hass.config_entries.options.async_configure(flow_id, {})
    assert result["step_id"] == "node_docker"
    assert result["errors"] == {"base": "invalid_auth"}
    result = await hass.config_entries.options.async_configure(
        flow_id, {**form, "password": ssh["password"]}
    )
    result = await hass.config_entries.options.async_configure(flow_id, {})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    docker = init_integration.options["nodes"][guest_id(mac, 101)]["docker"]
    assert docker["mode"] == "ssh"
    assert docker["host_key"] == ssh["host_key"]


async def test_guest_docker_removed(
    hass: HomeAssistant, homelab: Any, init_integration: MockConfigEntry
) -> None:
    """Choosing "none" clears a guest's Docker API."""
    mac = node_doc(homelab, "Machine1")["mac"]
    result = await _vm_docker_settings(
        hass, init_integration, mac, "none", confirm_shutdown=True
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    node = init_integration.options["nodes"][guest_id(mac, 101)]
    assert node["docker"] is None
    assert node["confirm_shutdown"] is True


async def test_polling_interval(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """The polling interval is saved without touching the nodes."""
    nodes = dict(init_integration.options["nodes"])
    result = await _pick(hass, await _menu(hass, init_integration), "polling")
    assert result["step_id"] == "polling"
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"scan_interval": 60}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert init_integration.options["scan_interval"] == 60
    assert init_integration.options["nodes"] == nodes


@pytest.mark.parametrize("managed", [None])
async def test_no_service_to_configure(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """Everything is managed: the services step says so."""
    result = await _menu(hass, init_integration)
    assert result["description_placeholders"]["count"] == "0"
    result = await _pick(hass, result, "services")
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "no_services"


async def test_entry_not_loaded_has_nothing_discovered(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry
) -> None:
    """An entry that is not loaded offers no service to configure."""
    mock_config_entry.add_to_hass(hass)
    result = await _menu(hass, mock_config_entry)
    assert result["description_placeholders"]["count"] == "0"


async def test_proposal_expiry(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """The proposals' expiry: 60 min by default, kept, bounded; nothing else moves.

    Saving it keeps every other option (the polling interval included) and
    the next form shows the stored value.
    """
    options = dict(init_integration.options)
    assert "proposal_expiry" not in options

    result = await _pick(hass, await _menu(hass, init_integration), "polling")
    assert result["step_id"] == "polling"
    schema = result["data_schema"].schema
    defaults = {str(key): key.default() for key in schema}
    assert defaults == {"scan_interval": 30, "proposal_expiry": 60}
    # Out of range (one minute to one week): refused, nothing stored.
    for minutes in (0, 7 * 24 * 60 + 1):
        with pytest.raises(InvalidData) as err:
            await hass.config_entries.options.async_configure(
                result["flow_id"], {"scan_interval": 30, "proposal_expiry": minutes}
            )
        assert "proposal_expiry" in err.value.schema_errors
    assert dict(init_integration.options) == options

    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"scan_interval": 30, "proposal_expiry": 15}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert init_integration.options == {**options, "proposal_expiry": 15}
    await hass.async_block_till_done()

    result = await _pick(hass, await _menu(hass, init_integration), "polling")
    defaults = {str(key): key.default() for key in result["data_schema"].schema}
    assert defaults == {"scan_interval": 30, "proposal_expiry": 15}
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"scan_interval": 30, "proposal_expiry": 7 * 24 * 60}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert init_integration.options == {**options, "proposal_expiry": 7 * 24 * 60}


def test_only_a_vm_has_a_guest_agent() -> None:
    """The agent check on an LXC is refused (the form's validation)."""
    from custom_components.wakehub.flows.options_node import _guest_settings

    node: dict[str, Any] = {"url": None}
    errors = _guest_settings(
        "lxc",
        node,
        {"readiness": "agent", "settle_time": 30, "force_stop": False},
    )
    assert errors == {"readiness": "agent_needs_vm"}


async def test_the_agent_check_is_offered_when_the_agent_is_enabled(
    hass: HomeAssistant, homelab: Any, init_integration: MockConfigEntry
) -> None:
    """No check chosen yet, no service URL: Proxmox's ``agent: 1`` picks it."""
    mac = node_doc(homelab, "Machine1")["mac"]
    node_id = guest_id(mac, 101)  # VM-Docker: its guest agent is enabled
    options = dict(init_integration.options)
    nodes = dict(options["nodes"])
    nodes[node_id] = {
        key: value for key, value in nodes[node_id].items() if key != "readiness"
    }
    hass.config_entries.async_update_entry(
        init_integration, options={**options, "nodes": nodes}
    )
    await hass.async_block_till_done()

    async def default_check() -> str:
        result = await _pick(hass, await _menu(hass, init_integration), "node_settings")
        result = await hass.config_entries.options.async_configure(
            result["flow_id"], {"node": node_id}
        )
        defaults = {
            str(key): key.default()
            for key in result["data_schema"].schema
            if callable(key.default)
        }
        hass.config_entries.options.async_abort(result["flow_id"])
        return str(defaults["readiness"])

    assert await default_check() == "agent"
    # The API failing: nothing known, so "running".
    homelab.fault("Machine1", "api_status", 500)
    assert await default_check() == "running"


def test_the_default_readiness_check() -> None:
    """Stored, else the service URL's port, else the agent, else running."""
    from custom_components.wakehub.flows.options_node import _default_readiness

    assert _default_readiness({"readiness": "agent"}, agent=False) == "agent"
    assert _default_readiness({"url": "http://jf.lan:8096"}, agent=True) == "tcp"
    assert _default_readiness({"url": None}, agent=True) == "agent"
    assert _default_readiness({}, agent=False) == "running"


def test_a_node_the_api_does_not_list_is_identified() -> None:
    """Without the API's figures, the node's description names it, never "-".

    With identifiers and the tools' own names only, no English word: the
    placeholder reads the same in every language.
    """
    assert _identify_node("aa:bb:cc:00:00:02/202", {"kind": "lxc"}, "x") == (
        "Proxmox VMID 202"
    )
    assert (
        _identify_node(
            "aa:bb:cc:00:00:03/101/docker/sandbox", {"kind": "container"}, "x"
        )
        == "Docker sandbox"
    )
    assert _identify_node("machine", {}, "aa:bb:cc:00:00:01") == (
        "MAC aa:bb:cc:00:00:01"
    )


async def test_the_service_urls_port_is_suggested(
    hass: HomeAssistant, homelab: Any, init_integration: MockConfigEntry
) -> None:
    """A guest with a service URL and no ports of its own: the URL's port."""
    mac = node_doc(homelab, "Machine1")["mac"]
    node_id = guest_id(mac, 101)
    options = dict(init_integration.options)
    nodes = dict(options["nodes"])
    nodes[node_id] = {
        **nodes[node_id],
        "url": "http://vm-docker.lan:8920",
        "readiness_ports": [],
    }
    hass.config_entries.async_update_entry(
        init_integration, options={**options, "nodes": nodes}
    )
    await hass.async_block_till_done()
    result = await _pick(hass, await _menu(hass, init_integration), "node_settings")
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"node": node_id}
    )
    suggested = {
        str(key): (key.description or {}).get("suggested_value")
        for key in result["data_schema"].schema
    }
    assert suggested["readiness_ports"] == "8920"
