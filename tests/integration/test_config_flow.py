"""The config flow, through Home Assistant's flow manager, against the simulator.

Every reference machine is added end to end; every error path recovers to a
created entry. Nothing is mocked: the flow talks to the simulated homelab's
real SSH, Proxmox VE and Docker servers on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import tempfile
from typing import TYPE_CHECKING, Any
from unittest.mock import AsyncMock, patch

from homeassistant.config_entries import (
    SOURCE_DHCP,
    SOURCE_REAUTH,
    SOURCE_RECONFIGURE,
    SOURCE_USER,
)
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.loader import async_get_dhcp
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
import pytest_socket
import trustme

from custom_components.wakehub.compat import DhcpServiceInfo
from custom_components.wakehub.const import DOMAIN
from custom_components.wakehub.core.ids import guest_id
from custom_components.wakehub.flows import host_key, machine
from tests.channels.test_docker_tls import TlsDocker

from .conftest import entry_data_for
from .flow_helpers import (
    LOOPBACK,
    choose,
    machine_input,
    node_doc,
    proxmox_password_input,
    proxmox_token_input,
    ssh_input,
    start_machine_flow,
    through_ssh,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

    from homeassistant.core import HomeAssistant

pytestmark = pytest.mark.usefixtures("enable_custom_integrations", "mock_setup_entry")


@pytest.fixture
def mock_setup_entry(hass: HomeAssistant) -> Iterator[AsyncMock]:
    """Keep the created entries from being set up: only the flow is tested here."""
    with patch(
        "custom_components.wakehub.async_setup_entry", return_value=True
    ) as mock:
        yield mock


async def test_nas_wol_and_ssh_only(hass: HomeAssistant, homelab: Any) -> None:
    """The NAS: a machine with SSH and no API, added while powered on."""
    homelab.set_power("NAS", "on")
    nas = node_doc(homelab, "NAS")
    result = await start_machine_flow(hass, homelab, "NAS")
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "ssh"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], ssh_input(homelab, "NAS", use_key=True, use_sudo=True)
    )
    assert result["step_id"] == "ssh_host_key"
    assert (
        result["description_placeholders"]["fingerprint"]
        == nas["ssh"]["host_key_fingerprint"]
    )
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    assert result["step_id"] == "capabilities"
    assert result["menu_options"] == ["proxmox", "docker", "finish"]
    result = await choose(hass, result, "finish")

    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "NAS"
    entry = result["result"]
    assert entry.unique_id == nas["mac"]
    assert result["data"] == {
        "name": "NAS",
        "host": nas["host"],
        "mac": nas["mac"],
        "broadcast_address": homelab.ready["wol"]["host"],
        "broadcast_port": homelab.ready["wol"]["port"],
        "probe_port": nas["ssh"]["port"],
        "ssh": {
            "port": nas["ssh"]["port"],
            "username": nas["ssh"]["username"],
            "private_key": nas["ssh"]["private_key"],
            "host_key": nas["ssh"]["host_key"],
            "shutdown_command": "systemctl poweroff",
            "use_sudo": True,
            "forced_command": False,
        },
    }
    assert result["options"] == {
        "scan_interval": 30,
        "nodes": {},
        "machine": {
            "confirm_shutdown": None,
            "pinned": False,
            "url": None,
            "start_timeout": None,
            "stop_timeout": None,
        },
        "dependencies": [],
    }


async def test_machine1_token_trusted_certificate(
    hass: HomeAssistant, homelab: Any
) -> None:
    """Machine1: Proxmox with an API token, node discovered, its CA pinned."""
    homelab.set_power("Machine1", "on")
    doc = node_doc(homelab, "Machine1")
    result = await through_ssh(hass, homelab, "Machine1")
    result = await choose(hass, result, "proxmox")
    assert result["description_placeholders"]["privileges"] == (
        "VM.Audit VM.PowerMgmt Sys.Audit"
    )
    result = await choose(hass, result, "proxmox_token")
    assert result["step_id"] == "proxmox_token"
    token = proxmox_token_input(homelab, "Machine1")
    del token["node"]
    result = await hass.config_entries.flow.async_configure(result["flow_id"], token)
    assert result["step_id"] == "proxmox_trust"
    assert (
        result["description_placeholders"]["fingerprint"]
        == doc["proxmox"]["fingerprint"]
    )
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    assert result["step_id"] == "capabilities"
    assert result["menu_options"] == ["docker", "finish"]
    result = await choose(hass, result, "finish")
    assert result["step_id"] == "services"
    mac = doc["mac"]
    options = {opt["value"]: opt["label"] for opt in _select_options(result)}
    assert options == {
        guest_id(mac, 101): "VM-Docker (VM 101)",
        guest_id(mac, 102): "VM-Ubuntu (VM 102)",
    }
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"nodes": [guest_id(mac, 101)]}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"]["proxmox"] == {
        "host": doc["host"],
        "port": doc["proxmox"]["port"],
        "node": "pve1",
        "token_user": "wakehub@pve",
        "token_name": "wakehub",
        "token_value": doc["proxmox"]["token_value"],
        "verify_tls": False,
        # The certificate was confirmed; the CA that signed it is pinned.
        "fingerprint": None,
        "ca": doc["proxmox"]["ca_certificate"],
    }
    assert result["options"]["nodes"] == {
        guest_id(mac, 101): {
            "kind": "vm",
            "key": "101",
            "parent": mac,
            "name": "VM-Docker",
            "confirm_shutdown": None,
            "pinned": False,
            "url": None,
            "start_timeout": None,
            "stop_timeout": None,
            "docker": None,
        }
    }


async def test_machine2_password_verify_then_trust(
    hass: HomeAssistant, homelab: Any
) -> None:
    """Machine2: password auth; verifying the self-signed cert fails, trust works."""
    homelab.set_power("Machine2", "on")
    doc = node_doc(homelab, "Machine2")
    result = await through_ssh(hass, homelab, "Machine2")
    result = await choose(hass, result, "proxmox")
    result = await choose(hass, result, "proxmox_password")
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        proxmox_password_input(homelab, "Machine2", verify_tls=True),
    )
    assert result["errors"] == {"base": "tls_error"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], proxmox_password_input(homelab, "Machine2")
    )
    assert result["step_id"] == "proxmox_trust"
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    result = await choose(hass, result, "finish")
    assert result["step_id"] == "services"
    labels = sorted(opt["label"] for opt in _select_options(result))
    assert labels == [
        "Cloudflared (LXC 203)",
        "Home-Assistant (VM 201)",
        "Jellyfin (LXC 202)",
    ]
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"nodes": []}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"]["proxmox"]["username"] == "root"
    assert result["data"]["proxmox"]["realm"] == "pam"
    assert result["data"]["proxmox"]["password"] == doc["proxmox"]["password"]
    assert result["data"]["proxmox"]["node"] == "pve2"
    assert result["options"]["nodes"] == {}


def _select_options(result: Any) -> list[dict[str, str]]:
    """The options of the single select field of a form."""
    schema = result["data_schema"].schema
    (selector,) = schema.values()
    options: list[dict[str, str]] = selector.config["options"]
    return options


async def test_duplicate_mac_aborts(hass: HomeAssistant, homelab: Any) -> None:
    """A second entry for the same MAC (any spelling) is refused."""
    nas = node_doc(homelab, "NAS")
    MockConfigEntry(domain=DOMAIN, unique_id=nas["mac"], data={}).add_to_hass(hass)
    result = await start_machine_flow(
        hass, homelab, "NAS", mac=nas["mac"].replace(":", "-").upper()
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


async def test_invalid_machine_fields_recover(
    hass: HomeAssistant, homelab: Any
) -> None:
    """Bad MAC, host and broadcast address are field errors; fixed, it goes on."""
    result = await start_machine_flow(
        hass,
        homelab,
        "NAS",
        mac="not-a-mac",
        host="bad host!",
        broadcast_address="-nope-",
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {
        "mac": "invalid_mac",
        "host": "invalid_host",
        "broadcast_address": "invalid_host",
    }
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], machine_input(homelab, "NAS")
    )
    # The NAS is off: the powered-off menu, then save without testing.
    assert result["step_id"] == "powered_off"
    result = await choose(hass, result, "save_untested")
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], ssh_input(homelab, "NAS")
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY


async def test_powered_off_save_untested(hass: HomeAssistant, homelab: Any) -> None:
    """Saved while off: nothing is tested, the host key is left to pin at boot."""
    result = await start_machine_flow(hass, homelab, "NAS")
    assert result["type"] is FlowResultType.MENU
    assert result["menu_options"] == ["wake", "save_untested"]
    result = await choose(hass, result, "save_untested")
    assert result["step_id"] == "ssh"
    no_auth = ssh_input(homelab, "NAS")
    del no_auth["password"]
    result = await hass.config_entries.flow.async_configure(result["flow_id"], no_auth)
    assert result["errors"] == {"base": "auth_required"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], ssh_input(homelab, "NAS")
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"]["ssh"]["host_key"] is None
    assert result["data"]["verify_at_boot"] is True
    assert homelab.state("NAS") == "off"


async def test_powered_off_wake_and_continue(hass: HomeAssistant, homelab: Any) -> None:
    """Wake it now: a real magic packet boots it, and the flow goes on."""
    result = await start_machine_flow(hass, homelab, "NAS")
    result = await choose(hass, result, "wake")
    assert result["type"] is FlowResultType.SHOW_PROGRESS
    assert result["progress_action"] == "wake"
    await hass.async_block_till_done(wait_background_tasks=True)
    result = await hass.config_entries.flow.async_configure(result["flow_id"])
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "ssh"
    assert any(e["action"] == "wol" for e in homelab.log())
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], ssh_input(homelab, "NAS")
    )
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    result = await choose(hass, result, "finish")
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert "verify_at_boot" not in result["data"]


async def test_wake_timeout_back_to_menu(
    hass: HomeAssistant, homelab: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A machine that ignores WoL: back to the menu, then it is saved untested."""
    monkeypatch.setattr(machine, "WAKE_TIMEOUT", 0.3)
    monkeypatch.setattr(machine, "WAKE_PROBE_INTERVAL", 0.05)
    homelab.fault("NAS", "ignore_wol")
    result = await start_machine_flow(hass, homelab, "NAS")
    result = await choose(hass, result, "wake")
    assert result["type"] is FlowResultType.SHOW_PROGRESS
    await hass.async_block_till_done(wait_background_tasks=True)
    result = await hass.config_entries.flow.async_configure(result["flow_id"])
    assert result["type"] is FlowResultType.MENU
    assert result["step_id"] == "wake_failed"
    result = await choose(hass, result, "save_untested")
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], ssh_input(homelab, "NAS")
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY


async def test_wake_send_failure_back_to_menu(
    hass: HomeAssistant, homelab: Any
) -> None:
    """Magic packets that cannot be sent count as a timeout, and it recovers."""
    result = await start_machine_flow(
        hass, homelab, "NAS", broadcast_address="nonexistent.invalid"
    )
    result = await choose(hass, result, "wake")
    await hass.async_block_till_done(wait_background_tasks=True)
    result = await hass.config_entries.flow.async_configure(result["flow_id"])
    assert result["step_id"] == "wake_failed"
    result = await choose(hass, result, "save_untested")
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], ssh_input(homelab, "NAS")
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY


async def test_ssh_errors_recover(hass: HomeAssistant, homelab: Any) -> None:
    """Refused login, missing auth and an unreachable SSH port all recover."""
    homelab.set_power("NAS", "on")
    result = await start_machine_flow(hass, homelab, "NAS")
    flow_id = result["flow_id"]
    no_auth = ssh_input(homelab, "NAS")
    del no_auth["password"]
    result = await hass.config_entries.flow.async_configure(flow_id, no_auth)
    assert result["errors"] == {"base": "auth_required"}
    # Nothing listens on port 1: the host key cannot be fetched.
    result = await hass.config_entries.flow.async_configure(
        flow_id, ssh_input(homelab, "NAS", port=1)
    )
    assert result["errors"] == {"base": "cannot_connect"}
    result = await hass.config_entries.flow.async_configure(
        flow_id, ssh_input(homelab, "NAS", password="wrong")
    )
    assert result["step_id"] == "ssh_host_key"
    result = await hass.config_entries.flow.async_configure(flow_id, {})
    assert result["step_id"] == "ssh"
    assert result["errors"] == {"base": "invalid_auth"}
    result = await hass.config_entries.flow.async_configure(
        flow_id, ssh_input(homelab, "NAS")
    )
    result = await hass.config_entries.flow.async_configure(flow_id, {})
    result = await choose(hass, result, "finish")
    assert result["type"] is FlowResultType.CREATE_ENTRY


async def test_ssh_step_proves_the_shutdown_will_be_allowed(
    hass: HomeAssistant, homelab: Any
) -> None:
    """A login is not enough: a non-root user without sudo, or a sudo that
    asks for a password, is refused with its own error; sudo that allows the
    command is accepted. Nothing is shut down by the test."""
    homelab.set_power("NAS", "on")
    user = node_doc(homelab, "NAS")["ssh"]["unprivileged_username"]
    result = await start_machine_flow(hass, homelab, "NAS")
    flow_id = result["flow_id"]

    async def submit(**overrides: Any) -> Any:
        result = await hass.config_entries.flow.async_configure(
            flow_id, ssh_input(homelab, "NAS", username=user, **overrides)
        )
        assert result["step_id"] == "ssh_host_key"
        return await hass.config_entries.flow.async_configure(flow_id, {})

    result = await submit()
    assert result["step_id"] == "ssh"
    assert result["errors"] == {"base": "shutdown_not_root"}
    homelab.fault("NAS", "sudo_password_required")
    result = await submit(use_sudo=True)
    assert result["errors"] == {"base": "shutdown_sudo_refused"}
    homelab.fault("NAS", "sudo_password_required", None)
    result = await submit(use_sudo=True)
    assert result["type"] is FlowResultType.MENU
    assert [c["command"] for c in homelab.commands() if c["node"] == "NAS"] == [
        "id -u",
        "sudo -n -l systemctl poweroff",
        "sudo -n -l systemctl poweroff",
    ]
    assert homelab.state("NAS") == "on"


async def test_ssh_unexpected_error_recovers(
    hass: HomeAssistant, homelab: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An unexpected exception is reported as ``unknown`` and logged."""
    homelab.set_power("NAS", "on")
    result = await start_machine_flow(hass, homelab, "NAS")
    real = host_key.async_pin_and_log_in

    async def _boom(host: str, ssh: Any, key_line: str) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(host_key, "async_pin_and_log_in", _boom)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], ssh_input(homelab, "NAS")
    )
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    assert result["errors"] == {"base": "unknown"}
    monkeypatch.setattr(host_key, "async_pin_and_log_in", real)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], ssh_input(homelab, "NAS")
    )
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    result = await choose(hass, result, "finish")
    assert result["type"] is FlowResultType.CREATE_ENTRY


@pytest.mark.parametrize(
    ("fault", "overrides", "error"),
    [
        (None, {"token_value": "wrong"}, "invalid_auth"),
        (("api_status", 403), {}, "permission_denied"),
        (("api_status", 500), {}, "cannot_connect"),
        (None, {"port": 1}, "cannot_connect"),
        (None, {"host": "bad host!"}, "invalid_host"),
        (None, {"verify_tls": True}, "tls_error"),
    ],
)
async def test_proxmox_errors_recover(
    hass: HomeAssistant,
    homelab: Any,
    fault: tuple[str, int] | None,
    overrides: dict[str, Any],
    error: str,
) -> None:
    """Each Proxmox error is shown on the form; fixed, the entry is created."""
    homelab.set_power("Machine1", "on")
    result = await through_ssh(hass, homelab, "Machine1")
    result = await choose(hass, result, "proxmox")
    result = await choose(hass, result, "proxmox_token")
    if fault is not None:
        homelab.fault("Machine1", *fault)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], proxmox_token_input(homelab, "Machine1", **overrides)
    )
    if result["step_id"] == "proxmox_trust":
        # The credentials are tested with the pinned certificate.
        result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    assert result["step_id"] == "proxmox_token"
    field = "host" if error == "invalid_host" else "base"
    assert result["errors"] == {field: error}
    if error == "permission_denied":
        assert result["description_placeholders"]["privilege"]
    if fault is not None:
        homelab.fault("Machine1", fault[0], None)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], proxmox_token_input(homelab, "Machine1")
    )
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    result = await choose(hass, result, "finish")
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"nodes": []}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"]["proxmox"]["node"] == "pve1"


async def test_proxmox_empty_node_list_recovers(
    hass: HomeAssistant, homelab: Any
) -> None:
    """A Proxmox API that cannot list its nodes: error, then fixed by naming it."""
    homelab.set_power("Machine1", "on")
    result = await through_ssh(hass, homelab, "Machine1")
    result = await choose(hass, result, "proxmox")
    result = await choose(hass, result, "proxmox_token")
    token = proxmox_token_input(homelab, "Machine1", node="")
    result = await hass.config_entries.flow.async_configure(result["flow_id"], token)
    homelab.fault("Machine1", "api_status", 401)
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    assert result["errors"] == {"base": "invalid_auth"}
    homelab.fault("Machine1", "api_status", None)
    result = await hass.config_entries.flow.async_configure(result["flow_id"], token)
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    result = await choose(hass, result, "finish")
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"nodes": []}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY


async def test_proxmox_certificate_unreachable_recovers(
    hass: HomeAssistant, homelab: Any
) -> None:
    """The certificate cannot be fetched: cannot_connect, then fixed."""
    homelab.set_power("Machine2", "on")
    result = await through_ssh(hass, homelab, "Machine2")
    result = await choose(hass, result, "proxmox")
    result = await choose(hass, result, "proxmox_password")
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], proxmox_password_input(homelab, "Machine2", port=1)
    )
    assert result["errors"] == {"base": "cannot_connect"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], proxmox_password_input(homelab, "Machine2")
    )
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    result = await choose(hass, result, "finish")
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"nodes": []}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY


async def test_user_flow_starts_empty(hass: HomeAssistant) -> None:
    """The first form has every machine field, with the documented defaults."""
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_USER}
    )
    defaults = {str(key): key.default() for key in result["data_schema"].schema}
    assert defaults["broadcast_address"] == "255.255.255.255"
    assert defaults["broadcast_port"] == 9
    assert defaults["probe_port"] == 22


async def test_raspberrypi_docker_tcp(hass: HomeAssistant, homelab: Any) -> None:
    """RaspberryPi: Docker over TCP, tested, then containers picked."""
    homelab.set_power("RaspberryPi", "on")
    doc = node_doc(homelab, "RaspberryPi")
    result = await through_ssh(hass, homelab, "RaspberryPi")
    result = await choose(hass, result, "docker")
    result = await choose(hass, result, "docker_tcp")
    flow_id = result["flow_id"]
    result = await hass.config_entries.flow.async_configure(
        flow_id, {"host": "bad host!", "port": doc["docker"]["port"]}
    )
    assert result["errors"] == {"host": "invalid_host"}
    result = await hass.config_entries.flow.async_configure(
        flow_id, {"host": doc["host"], "port": 1}
    )
    assert result["errors"] == {"base": "cannot_connect"}
    result = await hass.config_entries.flow.async_configure(
        flow_id, {"host": doc["host"], "port": doc["docker"]["port"]}
    )
    assert result["menu_options"] == ["proxmox", "finish"]
    result = await choose(hass, result, "finish")
    assert result["step_id"] == "services"
    labels = {
        opt["label"].split(" ")[0]: opt["value"] for opt in _select_options(result)
    }
    assert set(labels) == {"pihole", "uptime-kuma"}
    result = await hass.config_entries.flow.async_configure(
        flow_id, {"nodes": [labels["pihole"]]}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"]["docker"] == {
        "mode": "tcp",
        "host": doc["host"],
        "port": doc["docker"]["port"],
    }
    node = result["options"]["nodes"][labels["pihole"]]
    assert node["kind"] == "container"
    assert node["key"] == "pihole"
    assert node["parent"] == doc["mac"]


async def test_raspberrypi_docker_through_ssh(
    hass: HomeAssistant, homelab: Any
) -> None:
    """RaspberryPi: Docker through the machine's SSH, with its pinned key."""
    homelab.set_power("RaspberryPi", "on")
    doc = node_doc(homelab, "RaspberryPi")
    result = await through_ssh(hass, homelab, "RaspberryPi")
    result = await choose(hass, result, "docker")
    result = await choose(hass, result, "docker_ssh")
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"socket_path": doc["docker"]["socket_path"]}
    )
    result = await choose(hass, result, "finish")
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"nodes": []}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    docker = result["data"]["docker"]
    assert docker["mode"] == "ssh"
    assert docker["host_key"] == doc["ssh"]["host_key"]
    assert docker["port"] == doc["ssh"]["port"]
    assert docker["socket_path"] == doc["docker"]["socket_path"]


async def test_docker_through_ssh_without_the_docker_group(
    hass: HomeAssistant, homelab: Any
) -> None:
    """An SSH user who may not use docker.sock gets a clear error, not
    "cannot connect"."""
    homelab.set_power("RaspberryPi", "on")
    doc = node_doc(homelab, "RaspberryPi")
    # The machine's login is the unprivileged user, who may shut down
    # through sudo but is not in the docker group.
    result = await through_ssh(
        hass,
        homelab,
        "RaspberryPi",
        username=doc["ssh"]["unprivileged_username"],
        use_sudo=True,
    )
    result = await choose(hass, result, "docker")
    result = await choose(hass, result, "docker_ssh")
    flow_id = result["flow_id"]
    result = await hass.config_entries.flow.async_configure(
        flow_id, {"socket_path": doc["docker"]["socket_path"]}
    )
    assert result["errors"] == {"base": "docker_socket_denied"}


@pytest.fixture
def _unix_sockets(_loopback_sockets: None) -> None:
    """Also allow unix sockets, still restricting TCP to 127.0.0.1."""
    pytest_socket.socket_allow_hosts(["127.0.0.1"], allow_unix_socket=True)


async def _forward(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    writer.close()


async def _finish_docker(hass: HomeAssistant, result: Any) -> Any:
    """From the capabilities menu after a Docker step, to the created entry."""
    assert result["type"] is FlowResultType.MENU
    result = await choose(hass, result, "finish")
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"nodes": []}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    return result


@pytest.mark.usefixtures("_unix_sockets")
async def test_docker_unix_error_recovers(hass: HomeAssistant, homelab: Any) -> None:
    """A unix socket that fails shows the form again; the right path works.

    The socket is a byte-for-byte forwarder to the simulator's Docker API, as
    a local dockerd's socket would be.
    """
    homelab.set_power("RaspberryPi", "on")
    port = node_doc(homelab, "RaspberryPi")["docker"]["port"]

    async def _handle(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        up_reader, up_writer = await asyncio.open_connection(LOOPBACK, port)
        await asyncio.gather(_forward(reader, up_writer), _forward(up_reader, writer))

    directory = tempfile.mkdtemp(prefix="wakehub-", dir="/tmp")
    path = os.path.join(directory, "docker.sock")
    server = await asyncio.start_unix_server(_handle, path)
    try:
        result = await through_ssh(hass, homelab, "RaspberryPi")
        result = await choose(hass, result, "docker")
        result = await choose(hass, result, "docker_unix")
        flow_id = result["flow_id"]
        result = await hass.config_entries.flow.async_configure(
            flow_id, {"socket_path": os.path.join(directory, "missing.sock")}
        )
        assert result["type"] is FlowResultType.FORM
        assert result["step_id"] == "docker_unix"
        assert result["errors"] == {"socket_path": "cannot_connect"}
        result = await hass.config_entries.flow.async_configure(
            flow_id, {"socket_path": path}
        )
        result = await _finish_docker(hass, result)
    finally:
        server.close()
        await server.wait_closed()
        shutil.rmtree(directory, ignore_errors=True)
    assert result["data"]["docker"] == {"mode": "unix", "socket_path": path}


async def test_docker_tls_errors_recover(hass: HomeAssistant, homelab: Any) -> None:
    """Docker over TLS: bad PEM text, then an unreachable port, then it works.

    The form keeps what was typed after each error. The endpoint is a mutual
    TLS front (a throwaway CA) for the simulator's Docker API.
    """
    homelab.set_power("RaspberryPi", "on")
    front = TlsDocker(trustme.CA(), node_doc(homelab, "RaspberryPi")["docker"]["port"])
    await front.start()
    try:
        config = front.config()
        good = {
            "host": LOOPBACK,
            "port": front.port,
            "ca": config.tls_ca,
            "cert": config.tls_cert,
            "key": config.tls_key,
        }
        result = await through_ssh(hass, homelab, "RaspberryPi")
        result = await choose(hass, result, "docker")
        result = await choose(hass, result, "docker_tls")
        flow_id = result["flow_id"]
        result = await hass.config_entries.flow.async_configure(
            flow_id, {**good, "ca": "not a certificate"}
        )
        assert result["step_id"] == "docker_tls"
        assert result["errors"] == {"base": "invalid_tls_material"}
        result = await hass.config_entries.flow.async_configure(
            flow_id, {**good, "port": 1}
        )
        assert result["step_id"] == "docker_tls"
        assert result["errors"] == {"base": "cannot_connect"}
        suggested = {
            str(key): key.description["suggested_value"]
            for key in result["data_schema"].schema
            if key.description and "suggested_value" in key.description
        }
        assert suggested["cert"] == good["cert"]
        result = await hass.config_entries.flow.async_configure(flow_id, good)
        result = await _finish_docker(hass, result)
    finally:
        await front.stop()
    assert result["data"]["docker"] == {"mode": "tls", **good}


async def _start(hass: HomeAssistant, entry: Any, source: str) -> Any:
    """Start a reauth or reconfigure flow for ``entry``."""
    return await hass.config_entries.flow.async_init(
        DOMAIN,
        context={"source": source, "entry_id": entry.entry_id},
        data=dict(entry.data) if source == SOURCE_REAUTH else None,
    )


async def _created_entry(
    hass: HomeAssistant, homelab: Any, name: str, auth: str = "token"
) -> Any:
    """Add machine ``name`` through the flow (Proxmox when it has one)."""
    homelab.set_power(name, "on")
    result = await through_ssh(hass, homelab, name)
    if node_doc(homelab, name)["proxmox"] is not None:
        result = await choose(hass, result, "proxmox")
        result = await choose(hass, result, f"proxmox_{auth}")
        form = (
            proxmox_token_input(homelab, name)
            if auth == "token"
            else proxmox_password_input(homelab, name)
        )
        result = await hass.config_entries.flow.async_configure(result["flow_id"], form)
        result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    result = await choose(hass, result, "finish")
    if result["type"] is FlowResultType.FORM:
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {"nodes": []}
        )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    return result["result"]


@pytest.mark.parametrize("auth", ["token", "password"])
async def test_reauth_ssh_and_proxmox(
    hass: HomeAssistant, homelab: Any, auth: str
) -> None:
    """Reauth asks SSH and Proxmox secrets, tests them, and recovers from errors."""
    entry = await _created_entry(hass, homelab, "Machine1", auth)
    doc = node_doc(homelab, "Machine1")
    result = await _start(hass, entry, SOURCE_REAUTH)
    assert result["step_id"] == "reauth_confirm"
    secret_key = "token_value" if auth == "token" else "proxmox_password"
    secret = doc["proxmox"]["token_value" if auth == "token" else "password"]
    flow_id = result["flow_id"]
    result = await hass.config_entries.flow.async_configure(
        flow_id, {secret_key: secret}
    )
    assert result["errors"] == {"base": "auth_required"}
    result = await hass.config_entries.flow.async_configure(
        flow_id, {"password": "wrong", secret_key: secret}
    )
    assert result["errors"] == {"base": "invalid_auth"}
    result = await hass.config_entries.flow.async_configure(
        flow_id, {"password": doc["ssh"]["password"], secret_key: "wrong"}
    )
    assert result["errors"] == {"base": "invalid_auth"}
    if auth == "token":
        homelab.fault("Machine1", "api_status", 403)
        result = await hass.config_entries.flow.async_configure(
            flow_id, {"password": doc["ssh"]["password"], secret_key: secret}
        )
        assert result["errors"] == {"base": "permission_denied"}
        homelab.fault("Machine1", "api_status", None)
    result = await hass.config_entries.flow.async_configure(
        flow_id, {"private_key": doc["ssh"]["private_key"], secret_key: secret}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reauth_successful"
    assert entry.data["ssh"]["private_key"] == doc["ssh"]["private_key"]
    assert "password" not in entry.data["ssh"]


async def test_reauth_machine_off_is_saved_untested(
    hass: HomeAssistant, homelab: Any
) -> None:
    """With the machine off, new SSH secrets are stored for the next boot."""
    entry = await _created_entry(hass, homelab, "NAS")
    homelab.set_power("NAS", "off")
    result = await _start(hass, entry, SOURCE_REAUTH)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"password": "new-password"}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reauth_successful"
    assert entry.data["ssh"]["password"] == "new-password"


async def test_reconfigure_host_ports_and_capabilities(
    hass: HomeAssistant, homelab: Any
) -> None:
    """Reconfigure: new ports, the Proxmox API replaced, then removed; Docker added."""
    entry = await _created_entry(hass, homelab, "Machine1")
    doc = node_doc(homelab, "Machine1")
    result = await _start(hass, entry, SOURCE_RECONFIGURE)
    assert result["step_id"] == "reconfigure"
    flow_id = result["flow_id"]
    base = {
        "host": doc["host"],
        "broadcast_address": LOOPBACK,
        "broadcast_port": homelab.ready["wol"]["port"],
        "probe_port": doc["ssh"]["port"],
        "port": doc["ssh"]["port"],
    }
    result = await hass.config_entries.flow.async_configure(
        flow_id, {**base, "host": "bad host!"}
    )
    assert result["errors"] == {"host": "invalid_host"}
    result = await hass.config_entries.flow.async_configure(
        flow_id, {**base, "broadcast_address": "bad address!"}
    )
    assert result["errors"] == {"broadcast_address": "invalid_host"}
    result = await hass.config_entries.flow.async_configure(
        flow_id, {**base, "broadcast_port": 7}
    )
    assert result["menu_options"] == [
        "proxmox",
        "remove_proxmox",
        "docker",
        "finish",
    ]
    result = await choose(hass, result, "remove_proxmox")
    assert result["menu_options"] == ["proxmox", "docker", "finish"]
    result = await choose(hass, result, "finish")
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    assert entry.data["broadcast_port"] == 7
    assert "proxmox" not in entry.data
    assert entry.data["ssh"]["host_key"] == doc["ssh"]["host_key"]


async def test_reconfigure_removes_docker(hass: HomeAssistant, homelab: Any) -> None:
    """A Docker API can be removed by reconfiguring."""
    homelab.set_power("RaspberryPi", "on")
    doc = node_doc(homelab, "RaspberryPi")
    result = await through_ssh(hass, homelab, "RaspberryPi")
    result = await choose(hass, result, "docker")
    result = await choose(hass, result, "docker_tcp")
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"host": doc["host"], "port": doc["docker"]["port"]}
    )
    result = await choose(hass, result, "finish")
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"nodes": []}
    )
    entry = result["result"]
    result = await _start(hass, entry, SOURCE_RECONFIGURE)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {
            "host": doc["host"],
            "broadcast_address": LOOPBACK,
            "broadcast_port": homelab.ready["wol"]["port"],
            "probe_port": doc["ssh"]["port"],
            "port": doc["ssh"]["port"],
        },
    )
    result = await choose(hass, result, "remove_docker")
    result = await choose(hass, result, "finish")
    assert result["reason"] == "reconfigure_successful"
    assert "docker" not in entry.data


# ---------------------------------------------------------------------------
# A changed SSH host key: reviewed and re-pinned through reauth / reconfigure
# ---------------------------------------------------------------------------


@pytest.fixture
def restore_host_keys(homelab: Any) -> Iterator[Any]:
    """The homelab, with its SSH host keys put back after the test.

    A ``hostkey_change`` fault replaces a key for the rest of the session
    (``reset()`` keeps it); restoring it keeps later tests consistent.
    """
    saved = homelab.call(lambda lab: dict(lab.host_keys))
    yield homelab
    homelab.call(lambda lab: lab.host_keys.update(saved))
    homelab.reset()


def _change_host_key(homelab: Any, name: str) -> dict[str, Any]:
    """Give machine ``name`` a new SSH host key; return its new ``ssh`` doc."""
    homelab.fault(name, "hostkey_change", True)
    ssh: dict[str, Any] = homelab.call(lambda lab: lab.ready_document())["nodes"][name][
        "ssh"
    ]
    return ssh


@pytest.mark.usefixtures("restore_host_keys")
async def test_reauth_host_key_changed_repinned(
    hass: HomeAssistant, homelab: Any
) -> None:
    """Both fingerprints shown; nothing pinned until accepted; then pinned."""
    entry = await _created_entry(hass, homelab, "NAS")
    old = node_doc(homelab, "NAS")["ssh"]
    new = _change_host_key(homelab, "NAS")
    assert new["host_key"] != old["host_key"]
    result = await _start(hass, entry, SOURCE_REAUTH)
    assert result["step_id"] == "host_key_changed"
    placeholders = result["description_placeholders"]
    assert placeholders["pinned"] == old["host_key_fingerprint"]
    assert placeholders["presented"] == new["host_key_fingerprint"]
    flow_id = result["flow_id"]
    result = await hass.config_entries.flow.async_configure(
        flow_id, {"accept_host_key": False}
    )
    assert result["errors"] == {"accept_host_key": "host_key_not_accepted"}
    assert entry.data["ssh"]["host_key"] == old["host_key"]
    # The SSH server goes away meanwhile: an error, and the same form.
    homelab.fault("NAS", "ssh_refuse", True)
    result = await hass.config_entries.flow.async_configure(
        flow_id, {"accept_host_key": True}
    )
    assert result["step_id"] == "host_key_changed"
    assert result["errors"] == {"base": "cannot_connect"}
    assert entry.data["ssh"]["host_key"] == old["host_key"]
    homelab.fault("NAS", "ssh_refuse", None)
    result = await hass.config_entries.flow.async_configure(
        flow_id, {"accept_host_key": True}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reauth_successful"
    assert entry.data["ssh"]["host_key"] == new["host_key"]
    assert entry.data["ssh"]["password"] == old["password"]


@pytest.mark.usefixtures("restore_host_keys")
async def test_reauth_host_key_changed_then_credentials(
    hass: HomeAssistant, homelab: Any
) -> None:
    """A reinstalled host: new key accepted, login refused, new secret asked.

    The stored key is unreadable here: its fingerprint shows as ``?``.
    """
    entry = await _created_entry(hass, homelab, "NAS")
    hass.config_entries.async_update_entry(
        entry,
        data={
            **entry.data,
            "ssh": {**entry.data["ssh"], "password": "old", "host_key": "garbage"},
        },
    )
    new = _change_host_key(homelab, "NAS")
    result = await _start(hass, entry, SOURCE_REAUTH)
    assert result["step_id"] == "host_key_changed"
    assert result["description_placeholders"]["pinned"] == "?"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"accept_host_key": True}
    )
    assert result["step_id"] == "reauth_confirm"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"password": new["password"]}
    )
    assert result["reason"] == "reauth_successful"
    assert entry.data["ssh"]["host_key"] == new["host_key"]
    assert entry.data["ssh"]["password"] == new["password"]


async def test_reauth_key_unreadable_or_not_pinned_asks_credentials(
    hass: HomeAssistant, homelab: Any
) -> None:
    """No key to compare (saved untested) or none readable: the credentials."""
    entry = await _created_entry(hass, homelab, "Machine1")
    doc = node_doc(homelab, "Machine1")
    # The probe answers (on the Proxmox port) but SSH refuses: no key read.
    hass.config_entries.async_update_entry(
        entry, data={**entry.data, "probe_port": doc["proxmox"]["port"]}
    )
    homelab.fault("Machine1", "ssh_refuse", True)
    result = await _start(hass, entry, SOURCE_REAUTH)
    assert result["step_id"] == "reauth_confirm"
    hass.config_entries.flow.async_abort(result["flow_id"])
    homelab.fault("Machine1", "ssh_refuse", None)
    hass.config_entries.async_update_entry(
        entry, data={**entry.data, "ssh": {**entry.data["ssh"], "host_key": None}}
    )
    result = await _start(hass, entry, SOURCE_REAUTH)
    assert result["step_id"] == "reauth_confirm"


async def _created_docker_ssh_entry(hass: HomeAssistant, homelab: Any) -> Any:
    """Add RaspberryPi with its Docker API through its SSH."""
    homelab.set_power("RaspberryPi", "on")
    doc = node_doc(homelab, "RaspberryPi")
    result = await through_ssh(hass, homelab, "RaspberryPi")
    result = await choose(hass, result, "docker")
    result = await choose(hass, result, "docker_ssh")
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"socket_path": doc["docker"]["socket_path"]}
    )
    return (await _finish_docker(hass, result))["result"]


def _reconfigure_input(homelab: Any, name: str) -> dict[str, Any]:
    doc = node_doc(homelab, name)
    return {
        "host": doc["host"],
        "broadcast_address": LOOPBACK,
        "broadcast_port": homelab.ready["wol"]["port"],
        "probe_port": doc["ssh"]["port"],
        "port": doc["ssh"]["port"],
    }


@pytest.mark.usefixtures("restore_host_keys")
async def test_reconfigure_host_key_changed(hass: HomeAssistant, homelab: Any) -> None:
    """Reconfigure finds the new key; accepted, it is pinned for SSH and Docker."""
    entry = await _created_docker_ssh_entry(hass, homelab)
    new = _change_host_key(homelab, "RaspberryPi")
    result = await _start(hass, entry, SOURCE_RECONFIGURE)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], _reconfigure_input(homelab, "RaspberryPi")
    )
    assert result["step_id"] == "host_key_changed"
    assert (
        result["description_placeholders"]["presented"] == (new["host_key_fingerprint"])
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"accept_host_key": True}
    )
    assert result["step_id"] == "capabilities"
    result = await choose(hass, result, "finish")
    assert result["reason"] == "reconfigure_successful"
    assert entry.data["ssh"]["host_key"] == new["host_key"]
    assert entry.data["docker"]["host_key"] == new["host_key"]


@pytest.mark.usefixtures("restore_host_keys")
async def test_reconfigure_host_key_changed_login_refused(
    hass: HomeAssistant, homelab: Any
) -> None:
    """New key accepted but the login refused: the SSH step, then on as usual."""
    entry = await _created_docker_ssh_entry(hass, homelab)
    hass.config_entries.async_update_entry(
        entry,
        data={
            **entry.data,
            "ssh": {**entry.data["ssh"], "password": "old"},
        },
    )
    new = _change_host_key(homelab, "RaspberryPi")
    result = await _start(hass, entry, SOURCE_RECONFIGURE)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], _reconfigure_input(homelab, "RaspberryPi")
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"accept_host_key": True}
    )
    assert result["step_id"] == "ssh"
    assert result["errors"] == {"base": "invalid_auth"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], ssh_input(homelab, "RaspberryPi")
    )
    assert result["step_id"] == "ssh_host_key"
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    result = await choose(hass, result, "finish")
    assert result["reason"] == "reconfigure_successful"
    assert entry.data["ssh"]["host_key"] == new["host_key"]
    assert entry.data["ssh"]["password"] == new["password"]
    assert entry.data["docker"]["host_key"] == new["host_key"]
    assert entry.data["docker"]["password"] == new["password"]


# ---------------------------------------------------------------------------
# DHCP: a known machine's new address
# ---------------------------------------------------------------------------


def _dhcp(ip: str, mac: str) -> DhcpServiceInfo:
    """What HA's dhcp integration reports (its MAC has no separators)."""
    return DhcpServiceInfo(
        ip=ip, hostname="machine", macaddress=mac.replace(":", "").lower()
    )


async def test_dhcp_matcher_in_manifest(hass: HomeAssistant) -> None:
    """HA's dhcp integration reports the packets of our registered devices."""
    matchers = await async_get_dhcp(hass)
    assert {"domain": DOMAIN, "registered_devices": True} in matchers


async def test_dhcp_unknown_machine_not_supported(
    hass: HomeAssistant, homelab: Any
) -> None:
    """A MAC WakeHub does not know cannot be set up from a DHCP packet."""
    result = await hass.config_entries.flow.async_init(
        DOMAIN,
        context={"source": SOURCE_DHCP},
        data=_dhcp("192.0.2.10", "52:54:00:ff:ff:ff"),
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "not_supported"


@pytest.mark.parametrize("host", [LOOPBACK, "nas.home.arpa"])
async def test_dhcp_same_address_or_host_name_unchanged(
    hass: HomeAssistant, homelab: Any, host: str
) -> None:
    """Same IP, or a machine configured by name: nothing changes."""
    data, options = entry_data_for(homelab, "NAS")
    entry = MockConfigEntry(
        domain=DOMAIN,
        unique_id=data["mac"],
        data={**data, "host": host},
        options=options,
    )
    entry.add_to_hass(hass)
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_DHCP}, data=_dhcp(LOOPBACK, data["mac"])
    )
    assert result["reason"] == "already_configured"
    assert entry.data["host"] == host


async def test_dhcp_new_address_updates_and_reloads(
    hass: HomeAssistant, homelab: Any, mock_setup_entry: AsyncMock
) -> None:
    """A new IP: the host and the APIs that were at the old one move; reload."""
    data, options = entry_data_for(homelab, "Machine1")
    old = "192.0.2.10"
    data = {
        **data,
        "host": old,
        "proxmox": {**data["proxmox"], "host": old},
        "docker": {"mode": "tcp", "host": "192.0.2.99", "port": 2375},
    }
    entry = MockConfigEntry(
        domain=DOMAIN, unique_id=data["mac"], data=data, options=options
    )
    entry.add_to_hass(hass)
    result = await hass.config_entries.flow.async_init(
        DOMAIN,
        context={"source": SOURCE_DHCP},
        data=_dhcp(LOOPBACK, data["mac"].upper()),
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
    assert entry.data["host"] == LOOPBACK
    assert entry.data["proxmox"]["host"] == LOOPBACK
    assert entry.data["docker"]["host"] == "192.0.2.99"  # elsewhere: kept
    assert entry.data["ssh"] == data["ssh"]
    assert mock_setup_entry.call_count == 1  # reloaded with the new address
