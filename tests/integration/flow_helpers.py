"""Helpers for the config and options flow tests: form inputs from the homelab.

The simulator's ready document gives every node's ports, MAC, credentials,
host keys and fingerprints; these helpers turn it into what a user would type.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from homeassistant.config_entries import SOURCE_USER
from homeassistant.data_entry_flow import FlowResult, FlowResultType

from custom_components.wakehub.const import DOMAIN

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant

LOOPBACK = "127.0.0.1"


def node_doc(homelab: Any, name: str) -> dict[str, Any]:
    """The ready document's entry for node ``name``."""
    doc: dict[str, Any] = homelab.ready["nodes"][name]
    return doc


def machine_input(homelab: Any, name: str, **overrides: Any) -> dict[str, Any]:
    """The ``user`` step input for machine ``name`` (WoL to the simulator)."""
    node = node_doc(homelab, name)
    return {
        "name": name,
        "host": node["host"],
        "mac": node["mac"],
        "broadcast_address": homelab.ready["wol"]["host"],
        "broadcast_port": homelab.ready["wol"]["port"],
        "probe_port": node["ssh"]["port"],
        **overrides,
    }


def ssh_input(
    homelab: Any, name: str, *, use_key: bool = False, **overrides: Any
) -> dict[str, Any]:
    """The ``ssh`` step input for machine ``name``."""
    ssh = node_doc(homelab, name)["ssh"]
    auth = (
        {"private_key": ssh["private_key"]}
        if use_key
        else {"password": ssh["password"]}
    )
    return {
        "username": ssh["username"],
        "port": ssh["port"],
        **auth,
        "shutdown_command": "systemctl poweroff",
        "use_sudo": False,
        "forced_command": False,
        **overrides,
    }


def proxmox_token_input(homelab: Any, name: str, **overrides: Any) -> dict[str, Any]:
    """The ``proxmox_token`` step input for machine ``name``."""
    node = node_doc(homelab, name)
    proxmox = node["proxmox"]
    return {
        "host": node["host"],
        "port": proxmox["port"],
        "node": proxmox["node"],
        "verify_tls": False,
        "token_user": proxmox["token_user"],
        "token_name": proxmox["token_name"],
        "token_value": proxmox["token_value"],
        **overrides,
    }


def proxmox_password_input(homelab: Any, name: str, **overrides: Any) -> dict[str, Any]:
    """The ``proxmox_password`` step input for machine ``name``."""
    node = node_doc(homelab, name)
    proxmox = node["proxmox"]
    user, realm = proxmox["user"].split("@")
    return {
        "host": node["host"],
        "port": proxmox["port"],
        "node": proxmox["node"],
        "verify_tls": False,
        "username": user,
        "password": proxmox["password"],
        "realm": realm,
        **overrides,
    }


async def start_machine_flow(
    hass: HomeAssistant, homelab: Any, name: str, **overrides: Any
) -> FlowResult:
    """Start a user flow and submit the machine step."""
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_USER}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "user"
    return await hass.config_entries.flow.async_configure(
        result["flow_id"], machine_input(homelab, name, **overrides)
    )


async def through_ssh(
    hass: HomeAssistant, homelab: Any, name: str, **overrides: Any
) -> FlowResult:
    """From a powered-on machine, go through SSH and the host key to the menu."""
    result = await start_machine_flow(hass, homelab, name)
    assert result["step_id"] == "ssh"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], ssh_input(homelab, name, **overrides)
    )
    assert result["step_id"] == "ssh_host_key"
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    assert result["type"] is FlowResultType.MENU
    assert result["step_id"] == "capabilities"
    return result


async def choose(hass: HomeAssistant, result: FlowResult, step: str) -> FlowResult:
    """Pick ``step`` in a menu."""
    assert result["type"] is FlowResultType.MENU
    assert step in result["menu_options"]
    return await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": step}
    )
