"""A flow error's text is complete: every placeholder it has is filled.

A Docker API that answers 403 (an authorization plugin, a proxy) used to show
``permission_denied``, whose text names a missing Proxmox privilege that the
Docker steps never filled: the form read "a privilege is missing:
{privilege}". It has its own text now, in the config and the options flow.
"""

from __future__ import annotations

import json
from pathlib import Path
import string
from typing import TYPE_CHECKING, Any

from homeassistant.data_entry_flow import FlowResultType

from custom_components.wakehub.core.ids import guest_id

from .flow_helpers import choose, node_doc, through_ssh

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant
    from pytest_homeassistant_custom_component.common import MockConfigEntry

STRINGS = json.loads(
    (
        Path(__file__).resolve().parents[2]
        / "custom_components"
        / "wakehub"
        / "strings.json"
    ).read_text(encoding="utf-8")
)


def _unfilled(flow: str, result: Any) -> set[str]:
    """The placeholders of the shown errors' texts the flow did not give."""
    given = set(result.get("description_placeholders") or {})
    wanted: set[str] = set()
    for error in (result.get("errors") or {}).values():
        text = STRINGS[flow]["error"][error]
        wanted |= {f for _, f, _, _ in string.Formatter().parse(text) if f}
    return wanted - given


async def test_config_flow_docker_forbidden(hass: HomeAssistant, homelab: Any) -> None:
    """RaspberryPi's Docker API refuses (403): a complete text, then it recovers."""
    homelab.set_power("RaspberryPi", "on")
    doc = node_doc(homelab, "RaspberryPi")
    result = await through_ssh(hass, homelab, "RaspberryPi")
    result = await choose(hass, result, "docker")
    result = await choose(hass, result, "docker_tcp")
    homelab.fault("RaspberryPi", "api_status", 403)
    docker = {"host": doc["host"], "port": doc["docker"]["port"]}
    result = await hass.config_entries.flow.async_configure(result["flow_id"], docker)
    assert result["errors"] == {"base": "docker_permission_denied"}
    assert not _unfilled("config", result)
    homelab.fault("RaspberryPi", "api_status", None)
    result = await hass.config_entries.flow.async_configure(result["flow_id"], docker)
    assert result["type"] is FlowResultType.MENU
    assert result["step_id"] == "capabilities"


async def test_options_flow_docker_forbidden(
    hass: HomeAssistant, homelab: Any, init_integration: MockConfigEntry
) -> None:
    """VM-Docker's Docker API refuses (403) in the node settings: the same text."""
    homelab.set_power("Machine1", "on")
    homelab.set_power("VM-Docker", "running")
    await init_integration.runtime_data.coordinator.async_refresh()
    mac = node_doc(homelab, "Machine1")["mac"]
    vm = node_doc(homelab, "VM-Docker")
    result = await hass.config_entries.options.async_init(init_integration.entry_id)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"next_step_id": "node_settings"}
    )
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"node": guest_id(mac, 101)}
    )
    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {
            "name": "VM-Docker",
            "confirm_shutdown": False,
            "pinned": False,
            "start_timeout": 180,
            "stop_timeout": 180,
            "docker": "tcp",
        },
    )
    assert result["step_id"] == "node_docker"
    homelab.fault("VM-Docker", "api_status", 403)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"host": vm["host"], "port": vm["docker"]["port"]}
    )
    assert result["errors"] == {"base": "docker_permission_denied"}
    assert not _unfilled("options", result)
