"""Fixtures for the Home Assistant side of WakeHub, against the homelab simulator.

- :func:`entry_data_for` builds a complete config entry (``data``, ``options``)
  for one machine of the simulator's ready document, with Wake-on-LAN pointed
  at the simulator's loopback listener; useful to every HA-side test.
  :func:`machine_entry` makes the ``MockConfigEntry`` of such an entry.
- ``machine_name`` (default ``Machine1``) and ``managed`` (default: every child
  the simulator has) parametrize ``mock_config_entry``.
- ``init_integration`` adds that entry and sets it up through HA's own config
  entries.
- ``fast_polls`` (not autouse) polls readiness every 50 ms, for tests that
  run cascades against the simulator.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from homeassistant.components import persistent_notification
from homeassistant.core import callback
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
)
from pytest_homeassistant_custom_component.syrupy import HomeAssistantSnapshotExtension

from custom_components.wakehub import hub as hub_module
from custom_components.wakehub.const import (
    CONF_BROADCAST_ADDRESS,
    CONF_BROADCAST_PORT,
    CONF_DOCKER,
    CONF_FINGERPRINT,
    CONF_HOST,
    CONF_HOST_KEY,
    CONF_KIND,
    CONF_MAC,
    CONF_MACHINE,
    CONF_MODE,
    CONF_NAME,
    CONF_NODE,
    CONF_NODES,
    CONF_PARENT,
    CONF_PASSWORD,
    CONF_PORT,
    CONF_PROBE_PORT,
    CONF_PROXMOX,
    CONF_SCAN_INTERVAL,
    CONF_SHUTDOWN_COMMAND,
    CONF_SSH,
    CONF_TOKEN_NAME,
    CONF_TOKEN_USER,
    CONF_TOKEN_VALUE,
    CONF_USE_SUDO,
    CONF_USERNAME,
    CONF_VERIFY_TLS,
    DOCKER_MODE_TCP,
    DOMAIN,
)
from custom_components.wakehub.core.ids import container_id, guest_id, machine_id

# The simulator's fixtures, until tests/conftest.py registers them for everyone.
from tests.homelab.fixtures import homelab, homelab_server  # noqa: F401

# Every flow step a test reaches is rendered as the frontend does (en, fr).
from .flow_rendering import render_every_flow_step  # noqa: F401

if TYPE_CHECKING:
    from collections.abc import Collection

    from freezegun.api import FrozenDateTimeFactory
    from homeassistant.core import HomeAssistant
    from syrupy.assertion import SnapshotAssertion

    from tests.homelab.thread import HomelabThread


@pytest.fixture
def snapshot(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    """Home Assistant's snapshot flavour, stored in ``snapshots/``.

    The plugin defines the same fixture, but syrupy's own may win the lookup.
    """
    return snapshot.use_extension(HomeAssistantSnapshotExtension)


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(enable_custom_integrations: None) -> None:
    """Let Home Assistant load WakeHub from this repository."""


@pytest.fixture
def fast_polls(monkeypatch: pytest.MonkeyPatch) -> None:
    """Poll readiness every 50 ms: the simulator runs 50 times faster.

    Use it with ``pytestmark = pytest.mark.usefixtures("fast_polls")``.
    """
    monkeypatch.setattr(hub_module, "POLL_INTERVAL", 0.05)


def node_id_of(ready: dict[str, Any], name: str) -> str:
    """Return WakeHub's node id of the simulator node called ``name``."""
    node = ready["nodes"][name]
    if node["kind"] == "machine":
        return machine_id(node["mac"])
    parent = node_id_of(ready, node["parent"])
    if node["kind"] == "container":
        return container_id(parent, name)
    return guest_id(parent, int(node["vmid"]))


def _docker_settings(node: dict[str, Any]) -> dict[str, Any] | None:
    """Direct TCP access to a simulated Docker engine."""
    if node["docker"] is None:
        return None
    return {
        CONF_MODE: DOCKER_MODE_TCP,
        CONF_HOST: node["host"],
        CONF_PORT: node["docker"]["port"],
    }


def entry_data_for(
    homelab: HomelabThread,  # noqa: F811
    machine_name: str,
    managed: Collection[str] | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Return ``(data, options)`` of a complete entry for one simulated machine.

    ``managed`` names the children (guests, containers) to manage; by default
    every descendant of the machine is managed. Wake-on-LAN goes to the
    simulator's loopback listener, never to a broadcast address.
    """
    ready = homelab.ready
    machine = ready["nodes"][machine_name]
    ssh = machine["ssh"]
    data: dict[str, Any] = {
        CONF_NAME: machine_name,
        CONF_HOST: machine["host"],
        CONF_MAC: machine["mac"],
        CONF_BROADCAST_ADDRESS: ready["wol"]["host"],
        CONF_BROADCAST_PORT: ready["wol"]["port"],
        CONF_PROBE_PORT: ssh["port"],
        CONF_SSH: {
            CONF_PORT: ssh["port"],
            CONF_USERNAME: ssh["username"],
            CONF_PASSWORD: ssh["password"],
            CONF_HOST_KEY: ssh["host_key"],
            CONF_SHUTDOWN_COMMAND: "systemctl poweroff",
            CONF_USE_SUDO: False,
        },
    }
    if (proxmox := machine["proxmox"]) is not None:
        data[CONF_PROXMOX] = {
            CONF_HOST: machine["host"],
            CONF_PORT: proxmox["port"],
            CONF_NODE: proxmox["node"],
            CONF_TOKEN_USER: proxmox["token_user"],
            CONF_TOKEN_NAME: proxmox["token_name"],
            CONF_TOKEN_VALUE: proxmox["token_value"],
            CONF_VERIFY_TLS: False,
            CONF_FINGERPRINT: proxmox["fingerprint"],
        }
    if (docker := _docker_settings(machine)) is not None:
        data[CONF_DOCKER] = docker

    nodes: dict[str, Any] = {}
    for name, node in ready["nodes"].items():
        if node["kind"] == "machine" or (managed is not None and name not in managed):
            continue
        ancestor = node
        while ancestor["parent"] is not None:
            ancestor = ready["nodes"][ancestor["parent"]]
        if ancestor["name"] != machine_name:
            continue
        nodes[node_id_of(ready, name)] = {
            CONF_KIND: node["kind"],
            "key": str(node["vmid"]) if node["kind"] != "container" else name,
            CONF_PARENT: node_id_of(ready, node["parent"]),
            CONF_NAME: name,
            "confirm_shutdown": None,
            "pinned": False,
            "url": None,
            "start_timeout": None,
            "stop_timeout": None,
            CONF_DOCKER: _docker_settings(node)
            if node["kind"] != "container"
            else None,
        }
        if node["kind"] in ("vm", "lxc"):
            # The readiness check a user would pick: the guest agent when the
            # guest has one, else its service's port (from its service URL).
            nodes[node_id_of(ready, name)].update(
                {"readiness": "agent"}
                if node["agent"]
                else {
                    "url": node["service"]["url"],
                    "readiness": "tcp",
                    "readiness_ports": [node["service"]["port"]],
                }
            )
    options: dict[str, Any] = {
        CONF_SCAN_INTERVAL: 30,
        CONF_NODES: nodes,
        CONF_MACHINE: {
            "confirm_shutdown": None,
            "pinned": False,
            "url": None,
            "start_timeout": None,
            "stop_timeout": None,
        },
        "dependencies": [],
    }
    return data, options


def machine_entry(
    name: str, data: dict[str, Any], options: dict[str, Any]
) -> MockConfigEntry:
    """The WakeHub entry of machine ``name`` (not added to HA yet).

    Its unique id is the machine's id (from the MAC), its entry id
    ``entry_<name in lower case>``.
    """
    return MockConfigEntry(
        domain=DOMAIN,
        title=name,
        unique_id=machine_id(data[CONF_MAC]),
        data=data,
        options=options,
        entry_id=f"entry_{name.lower()}",
    )


@pytest.fixture
def notifications(hass: HomeAssistant) -> dict[str, Any]:
    """Every persistent notification the test creates or updates, by id."""
    shown: dict[str, Any] = {}
    persistent_notification.async_register_callback(
        hass, callback(lambda _type, updated: shown.update(updated))
    )
    return shown


@pytest.fixture
def machine_name() -> str:
    """The simulated machine the entry is for (override or parametrize)."""
    return "Machine1"


@pytest.fixture
def managed() -> Collection[str] | None:
    """The children the entry manages; ``None`` means all of them."""
    return None


@pytest.fixture
def mock_config_entry(
    hass: HomeAssistant,
    homelab: HomelabThread,  # noqa: F811
    machine_name: str,
    managed: Collection[str] | None,
) -> MockConfigEntry:
    """A WakeHub entry for ``machine_name`` in the simulator."""
    data, options = entry_data_for(homelab, machine_name, managed)
    return machine_entry(machine_name, data, options)


@pytest.fixture
async def init_integration(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry
) -> MockConfigEntry:
    """Set the entry up through Home Assistant's config entries."""
    mock_config_entry.add_to_hass(hass)
    await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    return mock_config_entry


def entity_id_of(name: str, key: str = "status") -> str:
    """The entity id HA gives sensor ``key`` of the node called ``name``."""
    return f"sensor.{name.lower().replace('-', '_')}_{key}"


def state_of(hass: HomeAssistant, name: str, key: str = "status") -> str:
    """The state of sensor ``key`` of the node called ``name``."""
    state = hass.states.get(entity_id_of(name, key))
    assert state is not None, entity_id_of(name, key)
    return state.state


async def async_next_poll(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, seconds: float = 30
) -> None:
    """Move the clock to the next poll and wait until that refresh is done."""
    freezer.tick(timedelta(seconds=seconds))
    async_fire_time_changed(hass)
    await hass.async_block_till_done(wait_background_tasks=True)
