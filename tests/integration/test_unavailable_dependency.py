"""An edge to a node whose entry is not loaded is kept, refused at start, repaired.

docs/design.md, "Unavailable nodes": Machine2's entry fails to load (its
Proxmox API refuses the token) or is disabled. sandbox (on Machine1) depends
on Jellyfin (on Machine2): the edge stays in the topology, a start of sandbox
is refused naming Jellyfin and why, and a repair issue says so until Machine2
loads.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from homeassistant.config_entries import ConfigEntryDisabler, ConfigEntryState
from homeassistant.const import SERVICE_TURN_ON
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import issue_registry as ir
import pytest

from custom_components.wakehub.availability import UNAVAILABLE_PREFIX
from custom_components.wakehub.const import DOMAIN
from custom_components.wakehub.core.planner import Action

from .conftest import node_id_of, state_of
from .hub_helpers import (
    async_setup_homelab,
    async_turn,
    async_wait_idle,
    commands,
    hub_of,
)

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant

    from tests.homelab.thread import HomelabThread


pytestmark = pytest.mark.usefixtures("fast_polls")


def _unavailable_issues(issue_registry: ir.IssueRegistry) -> list[ir.IssueEntry]:
    return [
        issue
        for (domain, issue_id), issue in issue_registry.issues.items()
        if domain == DOMAIN and issue_id.startswith(UNAVAILABLE_PREFIX)
    ]


async def test_failed_entry_keeps_the_edge_refuses_the_start_and_repairs(
    hass: HomeAssistant, homelab: HomelabThread, issue_registry: ir.IssueRegistry
) -> None:
    """Machine2's setup fails: sandbox's start is refused, then works once it loads."""
    homelab.set_power("Machine2", "on")
    homelab.fault("Machine2", "api_status", 401)
    entries = await async_setup_homelab(hass, homelab)
    assert entries["Machine2"].state is ConfigEntryState.SETUP_ERROR
    ready = homelab.ready
    sandbox, jellyfin = node_id_of(ready, "sandbox"), node_id_of(ready, "Jellyfin")
    hub = hub_of(hass)
    assert (sandbox, jellyfin) in hub.topology.dependency_edges()

    (issue,) = _unavailable_issues(issue_registry)
    assert issue.translation_key == "dependency_failed"
    assert issue.severity is ir.IssueSeverity.ERROR
    assert issue.translation_placeholders == {
        "dependent": "sandbox",
        "dependency": "Jellyfin",
        "entry": "Machine2",
    }

    with pytest.raises(ServiceValidationError) as err:
        await async_turn(hass, SERVICE_TURN_ON, "sandbox")
    assert err.value.translation_key == "dependency_failed"
    assert err.value.translation_placeholders == {
        "target": "sandbox",
        "dependency": "Jellyfin",
        "entry": "Machine2",
    }
    assert str(err.value).startswith(
        "sandbox cannot start: it needs Jellyfin, whose machine entry Machine2"
        " failed to load. Fix that entry, or remove the dependency"
    )
    await hass.async_block_till_done()
    assert hub.orchestrator.running is None
    assert not hub.orchestrator.queued
    assert ("wol", "NAS") not in commands(homelab)

    # A start that does not need Machine2 is not affected.
    cascade = await hub.async_request(Action.START, node_id_of(ready, "plex"))
    await async_wait_idle(hass)
    assert cascade.error is None
    assert state_of(hass, "plex") == "on"

    homelab.fault("Machine2", "api_status", None)
    assert await hass.config_entries.async_reload(entries["Machine2"].entry_id)
    await hass.async_block_till_done()
    assert entries["Machine2"].state is ConfigEntryState.LOADED
    assert not _unavailable_issues(issue_registry)
    cascade = await hub.async_request(Action.START, sandbox)
    await async_wait_idle(hass, timeout=60)
    assert cascade.error is None
    assert state_of(hass, "sandbox") == "on"


async def test_disabled_entry_keeps_the_edge_and_says_so(
    hass: HomeAssistant, homelab: HomelabThread, issue_registry: ir.IssueRegistry
) -> None:
    """Machine2 disabled: the issue and the refusal say so; enabling clears them."""
    entries = await async_setup_homelab(hass, homelab)
    machine2 = entries["Machine2"]
    assert not _unavailable_issues(issue_registry)

    assert await hass.config_entries.async_set_disabled_by(
        machine2.entry_id, ConfigEntryDisabler.USER
    )
    await hass.async_block_till_done()
    (issue,) = _unavailable_issues(issue_registry)
    assert issue.translation_key == "dependency_disabled"
    assert issue.translation_placeholders is not None
    assert issue.translation_placeholders["dependency"] == "Jellyfin"
    with pytest.raises(ServiceValidationError) as err:
        await async_turn(hass, SERVICE_TURN_ON, "sandbox")
    assert err.value.translation_key == "dependency_disabled"

    assert await hass.config_entries.async_set_disabled_by(machine2.entry_id, None)
    await hass.async_block_till_done()
    assert machine2.state is ConfigEntryState.LOADED
    assert not _unavailable_issues(issue_registry)


async def test_unloaded_entry_refuses_a_start_until_it_loads_again(
    hass: HomeAssistant, homelab: HomelabThread, issue_registry: ir.IssueRegistry
) -> None:
    """Machine2 unloaded (not failed, not disabled): refused, but no repair issue."""
    entries = await async_setup_homelab(hass, homelab)
    assert await hass.config_entries.async_unload(entries["Machine2"].entry_id)
    await hass.async_block_till_done()
    assert not _unavailable_issues(issue_registry)
    with pytest.raises(ServiceValidationError) as err:
        await async_turn(hass, SERVICE_TURN_ON, "sandbox")
    assert err.value.translation_key == "dependency_not_loaded"
    assert err.value.translation_placeholders == {
        "target": "sandbox",
        "dependency": "Jellyfin",
        "entry": "Machine2",
    }
    # An unknown node is the orchestrator's to refuse, as before.
    with pytest.raises(ServiceValidationError) as err:
        await hub_of(hass).async_request(Action.START, "nobody")
    assert err.value.translation_key == "unknown_node"
