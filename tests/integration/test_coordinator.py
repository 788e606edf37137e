"""The coordinator against the simulator: states, failures, hooks, persistence."""

from __future__ import annotations

import asyncio
import logging
import os
from typing import TYPE_CHECKING

from homeassistant.config_entries import ConfigEntryState
from homeassistant.helpers import issue_registry as ir
import pytest

from custom_components.wakehub.channels import Machine
from custom_components.wakehub.channels.docker import DockerHost
from custom_components.wakehub.const import CONF_VERIFY_AT_BOOT, DOMAIN
from custom_components.wakehub.core.model import PowerState
from custom_components.wakehub.orchestrator import NodeActivity

from .conftest import async_next_poll, entity_id_of, node_id_of, state_of

if TYPE_CHECKING:
    from freezegun.api import FrozenDateTimeFactory
    from homeassistant.core import HomeAssistant
    from pytest_homeassistant_custom_component.common import MockConfigEntry

    from tests.homelab.thread import HomelabThread

MACHINE1_TREE = ("Machine1", "VM-Docker", "VM-Ubuntu", "plex", "sandbox")
LOGGER = "custom_components.wakehub"


def _states(hass: HomeAssistant) -> dict[str, str]:
    return {name: state_of(hass, name) for name in MACHINE1_TREE}


async def test_states_follow_the_homelab_within_one_refresh(
    hass: HomeAssistant,
    homelab: HomelabThread,
    init_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Each refresh shows what the simulator runs, at O(hosts) requests."""
    assert _states(hass) == dict.fromkeys(MACHINE1_TREE, "off")

    homelab.set_power("plex", "running")
    await async_next_poll(hass, freezer)
    assert _states(hass) == {
        "Machine1": "on",
        "VM-Docker": "on",
        "VM-Ubuntu": "off",
        "plex": "on",
        "sandbox": "off",
    }

    # Steady state: one Proxmox listing plus one Docker listing, nothing else.
    homelab.set_power("VM-Ubuntu", "running")
    homelab.set_power("plex", "stopped")
    homelab.reset_requests()
    await async_next_poll(hass, freezer)
    assert _states(hass) == {
        "Machine1": "on",
        "VM-Docker": "on",
        "VM-Ubuntu": "on",
        "plex": "off",
        "sandbox": "off",
    }
    assert homelab.requests()["endpoints"] == {
        "proxmox GET /cluster/resources": 1,
        "docker GET /containers/json": 1,
    }

    # VM-Docker stops: its containers are off and its Docker API is not asked.
    homelab.set_power("VM-Docker", "stopped")
    homelab.reset_requests()
    await async_next_poll(hass, freezer)
    assert _states(hass)["VM-Docker"] == "off"
    assert _states(hass)["plex"] == "off"
    assert homelab.requests()["endpoints"] == {"proxmox GET /cluster/resources": 1}

    # The machine goes down: everything is off, and no API is asked at all.
    homelab.set_power("Machine1", "off")
    homelab.reset_requests()
    await async_next_poll(hass, freezer)
    assert _states(hass) == dict.fromkeys(MACHINE1_TREE, "off")
    assert homelab.requests()["total"] == 0


@pytest.mark.parametrize(
    ("faulty", "unavailable", "still_on"),
    [
        ("Machine1", {"VM-Docker", "VM-Ubuntu", "plex", "sandbox"}, {"Machine1"}),
        ("VM-Docker", {"plex", "sandbox"}, {"Machine1", "VM-Docker"}),
    ],
    ids=["proxmox", "docker"],
)
async def test_api_failure_is_unavailable_then_recovers(
    hass: HomeAssistant,
    homelab: HomelabThread,
    init_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
    faulty: str,
    unavailable: set[str],
    still_on: set[str],
) -> None:
    """A host whose API fails makes its children unavailable, logged once each way."""
    caplog.set_level(logging.INFO, logger=LOGGER)
    homelab.set_power("plex", "running")
    await async_next_poll(hass, freezer)
    assert _states(hass)["plex"] == "on"

    homelab.fault(faulty, "api_status", 500)
    for _ in range(3):
        await async_next_poll(hass, freezer)
        states = _states(hass)
        assert {name for name, s in states.items() if s == "unavailable"} == unavailable
        assert {name for name, s in states.items() if s == "on"} == still_on
    coordinator = init_integration.runtime_data.coordinator
    assert coordinator.data.failed_hosts == {node_id_of(homelab.ready, faulty)}
    assert coordinator.last_update_success  # the machine itself answers

    homelab.fault(faulty, "api_status", None)
    for _ in range(2):
        await async_next_poll(hass, freezer)
    assert _states(hass)["plex"] == "on"
    assert not coordinator.data.failed_hosts

    messages = [r.getMessage() for r in caplog.records if r.name == LOGGER]
    down = [m for m in messages if m.startswith(f"The API of {faulty} is unavailable")]
    up = [m for m in messages if m == f"The API of {faulty} is available again"]
    assert len(down) == 1
    assert "api_error" in down[0]
    assert len(up) == 1


async def test_api_failure_then_machine_off(
    hass: HomeAssistant,
    homelab: HomelabThread,
    init_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Once the machine is off, its API failure no longer matters: all off."""
    homelab.set_power("Machine1", "on")
    homelab.fault("Machine1", "api_status", 500)
    await async_next_poll(hass, freezer)
    assert _states(hass)["VM-Docker"] == "unavailable"

    homelab.set_power("Machine1", "off")
    await async_next_poll(hass, freezer)
    assert _states(hass) == dict.fromkeys(MACHINE1_TREE, "off")
    assert not init_integration.runtime_data.coordinator.data.failed_hosts


async def test_unauthorized_starts_reauth(
    hass: HomeAssistant,
    homelab: HomelabThread,
    init_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """A 401 during polling starts a reauthentication flow for the entry."""
    homelab.set_power("Machine1", "on")
    homelab.fault("Machine1", "api_status", 401)
    await async_next_poll(hass, freezer)

    flows = hass.config_entries.flow.async_progress()
    assert [(f["context"]["source"], f["context"]["entry_id"]) for f in flows] == [
        ("reauth", init_integration.entry_id)
    ]
    assert init_integration.state is ConfigEntryState.LOADED
    assert not init_integration.runtime_data.coordinator.last_update_success
    assert state_of(hass, "Machine1") == "unavailable"
    # What stays known while the machine's API refuses us is not shown either.
    assert state_of(hass, "Machine1", "services_to_configure") == "unavailable"


async def test_orchestrator_hooks(
    hass: HomeAssistant,
    homelab: HomelabThread,
    init_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """A cascade overlays transient states on the polled ones."""
    coordinator = init_integration.runtime_data.coordinator
    ready = homelab.ready
    plex = node_id_of(ready, "plex")
    assert coordinator.node_state("not-a-node") is PowerState.UNKNOWN

    coordinator.async_set_overlay(
        plex,
        activity=NodeActivity(state=PowerState.STARTING, cascade_id="c1"),
        step={"number": 1, "total": 2, "detail": "waiting_up", "placeholders": {}},
    )
    await hass.async_block_till_done()
    state = hass.states.get(entity_id_of("plex"))
    assert state is not None
    assert state.state == "starting"
    assert state.attributes["step"]["detail"] == "waiting_up"
    assert "error_code" not in state.attributes

    coordinator.async_set_overlay(
        plex,
        activity=NodeActivity(
            state=PowerState.ERROR,
            cascade_id="c1",
            code="timeout",
            message="plex did not start in 60 s",
        ),
        step="start plex",
    )
    await hass.async_block_till_done()
    state = hass.states.get(entity_id_of("plex"))
    assert state is not None
    assert state.state == "error"
    assert state.attributes["error_code"] == "timeout"
    assert state.attributes["error_message"] == "plex did not start in 60 s"

    coordinator.async_set_overlay(plex, activity=None, step=None)
    # nothing left to clear: no update
    coordinator.async_set_overlay(plex, activity=None, step=None)
    await hass.async_block_till_done()
    state = hass.states.get(entity_id_of("plex"))
    assert state is not None
    assert state.state == "off"
    assert "step" not in state.attributes

    await hass.async_block_till_done(wait_background_tasks=True)
    homelab.set_power("Machine1", "on")
    await coordinator.async_refresh()
    await hass.async_block_till_done()
    assert state_of(hass, "Machine1") == "on"

    homelab.set_power("Machine1", "off")
    await coordinator.async_refresh()
    await hass.async_block_till_done()
    assert state_of(hass, "Machine1") == "off"


async def test_refresh_before_a_plan_looks_quickly_at_a_machine_still_off(
    hass: HomeAssistant,
    homelab: HomelabThread,
    init_integration: MockConfigEntry,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Before a plan, a machine that was off and is still silent is off after
    a quick look; one that was on gets the full probe (it may be slow)."""
    coordinator = init_integration.runtime_data.coordinator
    # The full probe that follows the set-up's quick look (the next poll, a
    # second later) is done first: on a loaded machine that second passed
    # before the first plan and the spy saw its full look.
    await coordinator.async_refresh()
    looks: list[bool] = []
    is_on = Machine.is_on

    async def spy(machine: Machine, *, quick: bool = False) -> bool:
        looks.append(quick)
        return await is_on(machine, quick=quick)

    monkeypatch.setattr(Machine, "is_on", spy)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert state_of(hass, "Machine1") == "off"

    await coordinator.async_refresh_for_plan()
    assert looks == [True]
    assert state_of(hass, "Machine1") == "off"

    homelab.set_power("Machine1", "on")
    await coordinator.async_refresh_for_plan()  # was off: a quick look, it answers
    assert looks == [True, True]
    assert state_of(hass, "Machine1") == "on"

    homelab.set_power("Machine1", "off")
    await coordinator.async_refresh_for_plan()  # was on: the full probe
    await coordinator.async_refresh()  # and a regular poll: the full probe too
    assert looks == [True, True, False, False]
    assert state_of(hass, "Machine1") == "off"


@pytest.mark.parametrize("managed", [("VM-Docker", "plex")])
async def test_persisted_tree_survives_a_restart(
    hass: HomeAssistant,
    homelab: HomelabThread,
    init_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """With the machine off at start-up, the last known tree still shows, off."""
    homelab.set_power("sandbox", "running")
    await async_next_poll(hass, freezer)
    assert state_of(hass, "VM-Docker", "services_to_configure") == "1"
    assert state_of(hass, "Machine1", "services_to_configure") == "1"

    homelab.set_power("Machine1", "off")
    assert await hass.config_entries.async_reload(init_integration.entry_id)
    await hass.async_block_till_done()

    assert init_integration.state is ConfigEntryState.LOADED
    assert state_of(hass, "VM-Docker") == "off"
    assert state_of(hass, "plex") == "off"
    # The unmanaged children are still known, from the store.
    for host, child in (("VM-Docker", "sandbox"), ("Machine1", "VM-Ubuntu")):
        state = hass.states.get(entity_id_of(host, "services_to_configure"))
        assert state is not None
        assert state.state == "1"
        assert [s["name"] for s in state.attributes["services"]] == [child]


async def test_persisted_tree_in_a_new_home_assistant(
    hass: HomeAssistant,
    homelab: HomelabThread,
    init_integration: MockConfigEntry,
    hass_storage: dict[str, object],
) -> None:
    """The store holds the stable facts only, under the entry's own key."""
    homelab.set_power("plex", "running")
    await init_integration.runtime_data.coordinator.async_refresh()
    await hass.async_block_till_done()
    stored = hass_storage[f"{DOMAIN}.{init_integration.entry_id}"]
    assert isinstance(stored, dict)
    children = stored["data"]["children"]
    vm_docker = node_id_of(homelab.ready, "VM-Docker")
    plex = next(c for c in children[vm_docker] if c["key"] == "plex")
    assert plex["kind"] == "container"
    assert "image" in plex["details"]
    guests = children[node_id_of(homelab.ready, "Machine1")]
    assert {g["name"] for g in guests} >= {"VM-Docker", "VM-Ubuntu"}
    assert all("cpu" not in g["details"] for g in guests)


async def test_missing_node_issue_goes_when_it_comes_back(
    hass: HomeAssistant,
    homelab: HomelabThread,
    init_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    issue_registry: ir.IssueRegistry,
) -> None:
    """A managed container that disappears raises an issue, cleared on return."""
    vm_docker = node_id_of(homelab.ready, "VM-Docker")
    plex = node_id_of(homelab.ready, "plex")
    coordinator = init_integration.runtime_data.coordinator
    homelab.set_power("VM-Docker", "running")
    await async_next_poll(hass, freezer)
    assert state_of(hass, "plex") == "off"

    # Rename plex's key in the managed tree: its host no longer reports it.
    nodes = dict(init_integration.options["nodes"])
    nodes[plex] = {**nodes[plex], "key": "plex-old"}
    hass.config_entries.async_update_entry(
        init_integration, options={**init_integration.options, "nodes": nodes}
    )
    await hass.async_block_till_done()
    coordinator = init_integration.runtime_data.coordinator
    assert coordinator.data.missing == {plex}
    assert issue_registry.async_get_issue(DOMAIN, f"node_missing_{plex}")
    assert state_of(hass, "plex") == "unavailable"
    assert vm_docker in coordinator.hosts

    nodes = {**nodes, plex: {**nodes[plex], "key": "plex"}}
    hass.config_entries.async_update_entry(
        init_integration, options={**init_integration.options, "nodes": nodes}
    )
    await hass.async_block_till_done()
    assert not issue_registry.async_get_issue(DOMAIN, f"node_missing_{plex}")
    assert state_of(hass, "plex") == "off"


def _untested(entry: MockConfigEntry, **ssh_changes: object) -> dict[str, object]:
    """The entry's data as "save without testing" stores it."""
    ssh = {**entry.data["ssh"], "host_key": None, **ssh_changes}
    return {**entry.data, "ssh": ssh, CONF_VERIFY_AT_BOOT: True}


async def test_untested_entry_pins_the_host_key_at_first_boot(
    hass: HomeAssistant,
    homelab: HomelabThread,
    mock_config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    issue_registry: ir.IssueRegistry,
) -> None:
    """Trust on first use: the key is pinned and the login tested, once up."""
    mock_config_entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        mock_config_entry, data=_untested(mock_config_entry)
    )
    assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    coordinator = mock_config_entry.runtime_data.coordinator
    assert coordinator.channels.machine.ssh is None  # nothing to shut down with

    homelab.set_power("Machine1", "on")
    await async_next_poll(hass, freezer)

    assert (
        mock_config_entry.data["ssh"]["host_key"]
        == (homelab.ready["nodes"]["Machine1"]["ssh"]["host_key"])
    )
    assert CONF_VERIFY_AT_BOOT not in mock_config_entry.data
    assert coordinator.channels.machine.ssh is not None
    # Pinning the key changed only the data: no reload was needed.
    assert mock_config_entry.runtime_data.coordinator is coordinator
    assert not issue_registry.async_get_issue(
        DOMAIN, f"ssh_failed_at_boot_{mock_config_entry.entry_id}"
    )
    assert not hass.config_entries.flow.async_progress()
    assert state_of(hass, "Machine1") == "on"


async def test_untested_entry_with_bad_credentials_raises_an_issue(
    hass: HomeAssistant,
    homelab: HomelabThread,
    mock_config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    issue_registry: ir.IssueRegistry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A refused login at first boot: a repair issue and a reauth flow, once."""
    mock_config_entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        mock_config_entry, data=_untested(mock_config_entry, password="wrong")
    )
    assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()

    homelab.set_power("Machine1", "on")
    await async_next_poll(hass, freezer)
    await async_next_poll(hass, freezer)

    issue = issue_registry.async_get_issue(
        DOMAIN, f"ssh_failed_at_boot_{mock_config_entry.entry_id}"
    )
    assert issue is not None
    assert issue.translation_key == "ssh_failed_at_boot"
    assert issue.severity is ir.IssueSeverity.ERROR
    assert issue.translation_placeholders is not None
    assert issue.translation_placeholders["name"] == "Machine1"
    assert "authentication refused" in issue.translation_placeholders["message"]
    flows = hass.config_entries.flow.async_progress()
    assert [f["context"]["source"] for f in flows] == ["reauth"]
    # Nothing was pinned, the marker stays, and the polls go on.
    assert mock_config_entry.data["ssh"]["host_key"] is None
    assert mock_config_entry.data[CONF_VERIFY_AT_BOOT] is True
    assert state_of(hass, "Machine1") == "on"
    failures = [r for r in caplog.records if "failed at its first boot" in r.message]
    assert len(failures) == 1  # tested once per boot, not at every poll

    # The next boot tests again; removing the entry removes the issue.
    homelab.set_power("Machine1", "off")
    await async_next_poll(hass, freezer)
    homelab.set_power("Machine1", "on")
    await async_next_poll(hass, freezer)
    failures = [r for r in caplog.records if "failed at its first boot" in r.message]
    assert len(failures) == 2
    assert await hass.config_entries.async_remove(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    assert not issue_registry.async_get_issue(
        DOMAIN, f"ssh_failed_at_boot_{mock_config_entry.entry_id}"
    )


def _docker_through_ssh(
    hass: HomeAssistant, homelab: HomelabThread, entry: MockConfigEntry
) -> None:
    """The RaspberryPi's entry, its Docker API reached through SSH, powered on."""
    ssh = homelab.ready["nodes"]["RaspberryPi"]["ssh"]
    data = dict(entry.data)
    data["docker"] = {
        "mode": "ssh",
        "host": data["host"],
        "port": ssh["port"],
        "username": ssh["username"],
        "password": ssh["password"],
        "host_key": ssh["host_key"],
        "socket_path": "/var/run/docker.sock",
    }
    entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(entry, data=data)
    homelab.set_power("RaspberryPi", "on")


@pytest.mark.parametrize("machine_name", ["RaspberryPi"])
async def test_docker_tunnel_closes_on_unload(
    hass: HomeAssistant, homelab: HomelabThread, mock_config_entry: MockConfigEntry
) -> None:
    """Docker through SSH: the private unix socket and the SSH connection
    live while the entry is loaded and are gone once it is unloaded."""
    _docker_through_ssh(hass, homelab, mock_config_entry)
    await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    assert state_of(hass, "pihole") == "off"
    (docker,) = mock_config_entry.runtime_data.channels.docker.values()
    assert isinstance(docker, DockerHost)
    path = docker.tunnel_path
    assert path is not None
    assert os.path.exists(path)

    def sshd_connections() -> int:
        return homelab.call(lambda lab: len(lab.ssh["RaspberryPi"].connections))

    assert sshd_connections() == 1
    assert await hass.config_entries.async_unload(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    assert not os.path.exists(os.path.dirname(path))
    assert docker.tunnel_path is None
    async with asyncio.timeout(5):
        while sshd_connections():
            await asyncio.sleep(0.05)


@pytest.mark.parametrize("machine_name", ["RaspberryPi"])
async def test_host_key_change_on_the_docker_tunnel_starts_reauth(
    hass: HomeAssistant,
    homelab: HomelabThread,
    mock_config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Docker through SSH meets a new host key: unavailable, and a reauth.

    The flow asks the user to review the new key; once it is pinned (in the
    SSH access and the Docker tunnel) the containers are read again.
    """
    _docker_through_ssh(hass, homelab, mock_config_entry)
    saved = homelab.call(lambda lab: dict(lab.host_keys))
    try:
        await hass.config_entries.async_setup(mock_config_entry.entry_id)
        await hass.async_block_till_done()
        assert state_of(hass, "pihole") == "off"
        homelab.fault("RaspberryPi", "hostkey_change")
        # The tunnel open before the change drops; the next one meets the key.
        await async_next_poll(hass, freezer)
        await async_next_poll(hass, freezer)
        assert state_of(hass, "pihole") == "unavailable"
        (flow,) = hass.config_entries.flow.async_progress()
        assert flow["context"]["source"] == "reauth"
        assert flow["step_id"] == "host_key_changed"
        new = homelab.call(lambda lab: lab.ready_document())["nodes"]["RaspberryPi"]
        result = await hass.config_entries.flow.async_configure(
            flow["flow_id"], {"accept_host_key": True}
        )
        await hass.async_block_till_done()
        assert result["reason"] == "reauth_successful"
        data = mock_config_entry.data
        assert data["ssh"]["host_key"] == new["ssh"]["host_key"]
        assert data["docker"]["host_key"] == new["ssh"]["host_key"]
        await async_next_poll(hass, freezer)
        assert state_of(hass, "pihole") == "off"
    finally:
        homelab.call(lambda lab: lab.host_keys.update(saved))
        homelab.reset()
