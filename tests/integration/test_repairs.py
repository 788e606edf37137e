"""The dangling-edge repair, end to end through Home Assistant's repairs flows.

Machine2's entry says Jellyfin depends on the NAS; the NAS entry is removed.
The edge is not dropped: it becomes a fixable issue whose fix flow removes
the edge from Machine2's options, and only that.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from homeassistant.components.repairs import repairs_flow_manager
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import issue_registry as ir
from homeassistant.setup import async_setup_component
import pytest

from custom_components.wakehub.const import CONF_DEPENDENCIES, DOMAIN
from custom_components.wakehub.models import build_tree
from custom_components.wakehub.repairs import (
    async_check_dangling_edges,
    async_create_fix_flow,
    async_remove_edge,
    dangling_issue_id,
)

from .conftest import entry_data_for, machine_entry, node_id_of

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant
    from pytest_homeassistant_custom_component.common import MockConfigEntry

    from tests.homelab.thread import HomelabThread


def _entry(
    hass: HomeAssistant,
    homelab: HomelabThread,
    name: str,
    edges: list[list[str]] | None = None,
) -> MockConfigEntry:
    """An entry (not set up: the check reads only entries and options)."""
    data, options = entry_data_for(homelab, name)
    options[CONF_DEPENDENCIES] = edges or []
    entry = machine_entry(name, data, options)
    entry.add_to_hass(hass)
    return entry


@pytest.fixture
def ids(homelab: HomelabThread) -> dict[str, str]:
    """Node ids by simulator name."""
    return {name: node_id_of(homelab.ready, name) for name in homelab.ready["nodes"]}


def _known(*entries: MockConfigEntry) -> set[str]:
    return {node for entry in entries for node in build_tree(entry)}


async def test_dangling_edge_fixed_through_the_repairs_flow(
    hass: HomeAssistant, homelab: HomelabThread, ids: dict[str, str]
) -> None:
    """Issue raised with display names; the fix flow removes only that edge."""
    assert await async_setup_component(hass, "repairs", {})
    edges = [
        [ids["Jellyfin"], ids["NAS"]],
        [ids["Cloudflared"], ids["Home-Assistant"]],
    ]
    machine2 = _entry(hass, homelab, "Machine2", edges)
    nas = _entry(hass, homelab, "NAS")
    assert async_check_dangling_edges(hass, _known(machine2, nas)) == []
    # WakeHub loaded (its machines are off), so its repairs platform is found.
    assert await async_setup_component(hass, DOMAIN, {})
    await hass.async_block_till_done()

    await hass.config_entries.async_remove(nas.entry_id)
    dangling = async_check_dangling_edges(hass, _known(machine2))
    assert dangling == [(machine2.entry_id, ids["Jellyfin"], ids["NAS"])]
    issue_id = dangling_issue_id(machine2.entry_id, ids["Jellyfin"], ids["NAS"])
    issue = ir.async_get(hass).async_get_issue(DOMAIN, issue_id)
    assert issue is not None
    assert issue.is_fixable
    assert issue.translation_key == "dangling_dependency"
    assert issue.translation_placeholders == {
        "dependent": "Jellyfin",
        "dependency": ids["NAS"],
        "entry": "Machine2",
    }
    # Checking again changes nothing (one issue per edge).
    async_check_dangling_edges(hass, _known(machine2))
    assert len(ir.async_get(hass).issues) == 1

    manager = repairs_flow_manager(hass)
    assert manager is not None
    result: Any = await manager.async_init(DOMAIN, data={"issue_id": issue_id})
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "confirm"
    assert result["description_placeholders"]["dependent"] == "Jellyfin"
    before = dict(machine2.options)
    result = await manager.async_configure(result["flow_id"], {})
    assert result["type"] is FlowResultType.CREATE_ENTRY

    assert machine2.options[CONF_DEPENDENCIES] == [
        [ids["Cloudflared"], ids["Home-Assistant"]]
    ]
    assert {k: v for k, v in machine2.options.items() if k != CONF_DEPENDENCIES} == {
        k: v for k, v in before.items() if k != CONF_DEPENDENCIES
    }
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is None
    assert async_check_dangling_edges(hass, _known(machine2)) == []


async def test_vanished_container_and_issue_cleanup(
    hass: HomeAssistant, homelab: HomelabThread, ids: dict[str, str]
) -> None:
    """A removed container dangles (named by its name); a comeback clears it."""
    nas = _entry(hass, homelab, "NAS")
    machine1 = _entry(hass, homelab, "Machine1", [[ids["plex"], ids["NAS"]]])
    edge_issue = dangling_issue_id(machine1.entry_id, ids["plex"], ids["NAS"])

    # plex is removed from Machine1's managed nodes (its device deleted).
    nodes = dict(machine1.options["nodes"])
    plex = nodes.pop(ids["plex"])
    hass.config_entries.async_update_entry(
        machine1, options={**machine1.options, "nodes": nodes}
    )
    assert async_check_dangling_edges(hass, _known(nas, machine1)) == [
        (machine1.entry_id, ids["plex"], ids["NAS"])
    ]
    issue = ir.async_get(hass).async_get_issue(DOMAIN, edge_issue)
    assert issue is not None
    assert issue.translation_placeholders is not None
    assert issue.translation_placeholders["dependent"] == "plex"

    # Managed again: the issue no longer applies and is deleted.
    hass.config_entries.async_update_entry(
        machine1,
        options={**machine1.options, "nodes": {**nodes, ids["plex"]: plex}},
    )
    assert async_check_dangling_edges(hass, _known(nas, machine1)) == []
    assert ir.async_get(hass).async_get_issue(DOMAIN, edge_issue) is None


async def test_entry_not_loaded_is_not_dangling(
    hass: HomeAssistant, homelab: HomelabThread, ids: dict[str, str]
) -> None:
    """A node of an entry that exists but is not loaded still exists."""
    machine2 = _entry(hass, homelab, "Machine2", [[ids["Jellyfin"], ids["NAS"]]])
    _entry(hass, homelab, "NAS")
    assert async_check_dangling_edges(hass, _known(machine2)) == []


async def test_fix_flow_edge_cases(
    hass: HomeAssistant, homelab: HomelabThread, ids: dict[str, str]
) -> None:
    """Removing an edge that is gone, or of a gone entry, is harmless."""
    machine2 = _entry(hass, homelab, "Machine2", [[ids["Jellyfin"], ids["NAS"]]])
    assert not async_remove_edge(hass, "no_such_entry", ids["Jellyfin"], ids["NAS"])
    assert not async_remove_edge(hass, machine2.entry_id, ids["Jellyfin"], "x")
    assert async_remove_edge(hass, machine2.entry_id, ids["Jellyfin"], ids["NAS"])
    assert machine2.options[CONF_DEPENDENCIES] == []
    with pytest.raises(ValueError, match="no fix flow"):
        await async_create_fix_flow(hass, "node_missing_x", None)
