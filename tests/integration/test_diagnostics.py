"""Diagnostics: what the entry and the last refresh hold, every secret redacted."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from syrupy.filters import props

from custom_components.wakehub.diagnostics import TO_REDACT

from .conftest import node_id_of

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant
    from pytest_homeassistant_custom_component.common import MockConfigEntry
    from pytest_homeassistant_custom_component.typing import ClientSessionGenerator
    from syrupy.assertion import SnapshotAssertion

    from tests.homelab.thread import HomelabThread

# What changes from one run of the simulator (ports, ids) or one poll to the
# next (figures): kept out of the snapshot.
VOLATILE = props(
    "port",
    "url",  # a simulated service URL carries its port
    "readiness_ports",
    "probe_port",
    "broadcast_port",
    "id",
    "cpu",
    "mem",
    "uptime",
    "netin",
    "netout",
    "diskread",
    "diskwrite",
    "disk",
    "status_text",
    "pve_version",
    "health",
)

FAKE_PEM_KEY = (
    "-----BEGIN PRIVATE KEY-----\nc2VjcmV0LWtleQ==\n-----END PRIVATE KEY-----"
)


def _secrets(tree: Any) -> set[str]:
    """Every value stored under a secret key, anywhere in ``tree``.

    A managed node's own ``key`` is its vmid or container name, not a secret.
    """
    found: set[str] = set()
    if isinstance(tree, dict):
        for key, value in tree.items():
            secret = key in TO_REDACT and not (key == "key" and "kind" in tree)
            if secret and isinstance(value, str) and value:
                found.add(value)
            found |= _secrets(value)
    return found


def _with_docker_secrets(
    hass: HomeAssistant, entry: MockConfigEntry, homelab: HomelabThread
) -> None:
    """Give VM-Ubuntu a Docker API through SSH: a password, a key, a host key."""
    ready = homelab.ready
    ubuntu = node_id_of(ready, "VM-Ubuntu")
    nodes = dict(entry.options["nodes"])
    nodes[ubuntu] = {
        **nodes[ubuntu],
        "docker": {
            "mode": "ssh",
            "host": "127.0.0.1",
            "port": 22,
            "username": "dockeruser",
            "password": "docker-ssh-password",
            "private_key": ready["nodes"]["Machine1"]["ssh"]["private_key"],
            "passphrase": "docker-key-passphrase",
            "host_key": ready["nodes"]["Machine1"]["ssh"]["host_key"],
            "socket_path": "/var/run/docker.sock",
        },
    }
    hass.config_entries.async_update_entry(
        entry, options={**entry.options, "nodes": nodes}
    )


async def test_diagnostics(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    homelab: HomelabThread,
    mock_config_entry: MockConfigEntry,
    snapshot: SnapshotAssertion,
) -> None:
    """The snapshot shows the tree and its states, and no secret."""
    mock_config_entry.add_to_hass(hass)
    _with_docker_secrets(hass, mock_config_entry, homelab)
    # sandbox once ran then stopped ("exited", whatever ran before this test).
    homelab.set_power("sandbox", "running")
    homelab.set_power("sandbox", "stopped")
    homelab.set_power("plex", "running")
    assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()

    diagnostics = await get_diagnostics_for_config_entry(
        hass, hass_client, mock_config_entry
    )
    assert diagnostics == snapshot(exclude=VOLATILE)

    dump = json.dumps(diagnostics)
    secrets = _secrets(dict(mock_config_entry.data)) | _secrets(
        dict(mock_config_entry.options)
    )
    assert len(secrets) >= 9  # SSH, Proxmox and the node's Docker-over-SSH
    assert not [secret for secret in secrets if secret in dump]
    assert diagnostics["snapshot"]["nodes"][node_id_of(homelab.ready, "plex")][
        "state"
    ] == ("on")


@pytest.mark.parametrize("managed", [("VM-Docker",)])
async def test_diagnostics_redact_docker_tls(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    homelab: HomelabThread,
    mock_config_entry: MockConfigEntry,
) -> None:
    """A TLS client key is redacted; a node's own ``key`` (vmid, name) is kept."""
    tls = {
        "mode": "tls",
        "host": "127.0.0.1",
        # A port of Machine1, which is off: silent (a refusing port would
        # be an answer, and the machine on).
        "port": homelab.ready["nodes"]["Machine1"]["proxmox"]["port"],
        "ca": "-----BEGIN CERTIFICATE-----\nY2E=\n-----END CERTIFICATE-----",
        "cert": "-----BEGIN CERTIFICATE-----\nY2VydA==\n-----END CERTIFICATE-----",
        "key": FAKE_PEM_KEY,
    }
    vm_docker = node_id_of(homelab.ready, "VM-Docker")
    nodes = {
        vm_docker: {**mock_config_entry.options["nodes"][vm_docker], "docker": tls}
    }
    mock_config_entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        mock_config_entry,
        data={**mock_config_entry.data, "docker": tls},
        options={**mock_config_entry.options, "nodes": nodes},
    )
    assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()

    diagnostics = await get_diagnostics_for_config_entry(
        hass, hass_client, mock_config_entry
    )
    dump = json.dumps(diagnostics)
    assert "c2VjcmV0LWtleQ" not in dump
    assert "Y2VydA" not in dump
    node = diagnostics["entry"]["options"]["nodes"][vm_docker]
    assert node["key"] == "101"
    assert node["docker"]["key"] == "**REDACTED**"
    assert diagnostics["entry"]["data"]["docker"]["key"] == "**REDACTED**"
    assert diagnostics["snapshot"]["machine_up"] is False


@pytest.mark.parametrize("managed", [()])
async def test_diagnostics_without_managed_nodes(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    init_integration: MockConfigEntry,
) -> None:
    """A machine alone: its entry and its (off) state, nothing else."""
    diagnostics = await get_diagnostics_for_config_entry(
        hass, hass_client, init_integration
    )
    assert diagnostics["entry"]["options"]["nodes"] == {}
    assert list(diagnostics["snapshot"]["nodes"].values()) == [
        {"state": "off", "status": None, "details": {}}
    ]
