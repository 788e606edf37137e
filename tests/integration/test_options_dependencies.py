"""The options flow's Dependencies step, across loaded entries.

The machines are off in the simulator: every entry loads with all its nodes
off, which is all this step needs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from homeassistant.data_entry_flow import FlowResultType, InvalidData
import pytest

from custom_components.wakehub.const import CONF_DEPENDENCIES

from .conftest import entry_data_for, machine_entry, node_id_of

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant
    from pytest_homeassistant_custom_component.common import MockConfigEntry

    from tests.homelab.thread import HomelabThread


@pytest.fixture
def ids(homelab: HomelabThread) -> dict[str, str]:
    """Node ids by simulator name."""
    return {name: node_id_of(homelab.ready, name) for name in homelab.ready["nodes"]}


@pytest.fixture
async def entries(
    hass: HomeAssistant, homelab: HomelabThread, ids: dict[str, str]
) -> dict[str, MockConfigEntry]:
    """NAS, Machine1 and Machine2 loaded; sandbox depends on Jellyfin."""
    loaded: dict[str, MockConfigEntry] = {}
    for name in ("NAS", "Machine1", "Machine2"):
        data, options = entry_data_for(homelab, name)
        if name == "Machine1":
            options[CONF_DEPENDENCIES] = [[ids["sandbox"], ids["Jellyfin"]]]
        entry = machine_entry(name, data, options)
        entry.add_to_hass(hass)
        assert await hass.config_entries.async_setup(entry.entry_id)
        await hass.async_block_till_done()
        loaded[name] = entry
    # RaspberryPi exists but is not loaded: its nodes are not offered.
    data, options = entry_data_for(homelab, "RaspberryPi")
    machine_entry("RaspberryPi", data, options).add_to_hass(hass)
    return loaded


async def _edit(hass: HomeAssistant, entry: MockConfigEntry, node: str) -> Any:
    """Open the options, pick Dependencies, then the node."""
    result: Any = await hass.config_entries.options.async_init(entry.entry_id)
    assert result["type"] is FlowResultType.MENU
    assert "dependencies" in result["menu_options"]
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"next_step_id": "dependencies"}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "dependencies"
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"node": node}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "dependencies_edit"
    return result


def _offered(result: Any) -> dict[str, str]:
    selector = result["data_schema"].schema[CONF_DEPENDENCIES]
    return {opt["value"]: opt["label"] for opt in selector.config["options"]}


def _default(result: Any) -> list[str]:
    for key in result["data_schema"].schema:
        if str(key) == CONF_DEPENDENCIES:
            return list(key.default())
    raise AssertionError("no dependencies field")


async def test_add_across_entries_then_remove(
    hass: HomeAssistant, entries: dict[str, MockConfigEntry], ids: dict[str, str]
) -> None:
    """Jellyfin (Machine2) depends on the NAS (another entry); then it does not."""
    machine2 = entries["Machine2"]
    before = dict(machine2.options)
    result = await _edit(hass, machine2, ids["Jellyfin"])
    offered = _offered(result)
    assert ids["Jellyfin"] not in offered
    assert offered[ids["NAS"]] == "NAS"
    assert offered[ids["plex"]] == "plex (Machine1)"
    assert ids["pihole"] not in offered  # RaspberryPi is not loaded
    assert _default(result) == []
    assert result["description_placeholders"]["node"] == "Jellyfin (Machine2)"

    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_DEPENDENCIES: [ids["NAS"]]}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert machine2.options[CONF_DEPENDENCIES] == [[ids["Jellyfin"], ids["NAS"]]]
    assert {k: v for k, v in machine2.options.items() if k != CONF_DEPENDENCIES} == {
        k: v for k, v in before.items() if k != CONF_DEPENDENCIES
    }
    # Nothing is stored in the dependency's entry.
    assert entries["NAS"].options[CONF_DEPENDENCIES] == []

    # Pre-selected next time; unselecting removes the edge.
    result = await _edit(hass, machine2, ids["Jellyfin"])
    assert _default(result) == [ids["NAS"]]
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_DEPENDENCIES: []}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert machine2.options[CONF_DEPENDENCIES] == []


async def test_other_edges_of_the_entry_are_kept(
    hass: HomeAssistant, entries: dict[str, MockConfigEntry], ids: dict[str, str]
) -> None:
    """Editing plex leaves sandbox's edge of the same entry alone."""
    machine1 = entries["Machine1"]
    result = await _edit(hass, machine1, ids["plex"])
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_DEPENDENCIES: [ids["NAS"]]}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert machine1.options[CONF_DEPENDENCIES] == [
        [ids["sandbox"], ids["Jellyfin"]],
        [ids["plex"], ids["NAS"]],
    ]


async def test_cycle_refused_with_the_path(
    hass: HomeAssistant, entries: dict[str, MockConfigEntry], ids: dict[str, str]
) -> None:
    """Reference scenario 6: "NAS depends on sandbox" closes sandbox → Jellyfin → NAS.

    The list leaves sandbox out once Jellyfin needs the NAS; a form opened
    before that edge was added still offers it, and its answer is refused.
    """
    nas = entries["NAS"]
    stale = await _edit(hass, nas, ids["NAS"])
    assert ids["sandbox"] in _offered(stale)

    machine2 = entries["Machine2"]
    result = await _edit(hass, machine2, ids["Jellyfin"])
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_DEPENDENCIES: [ids["NAS"]]}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()

    fresh = _offered(await _edit(hass, nas, ids["NAS"]))
    assert ids["sandbox"] not in fresh
    assert ids["Jellyfin"] not in fresh
    assert ids["Cloudflared"] in fresh

    result = await hass.config_entries.options.async_configure(
        stale["flow_id"], {CONF_DEPENDENCIES: [ids["sandbox"]]}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "dependency_cycle"}
    assert result["description_placeholders"]["path"] == (
        "sandbox → Jellyfin → NAS → sandbox"
    )
    assert _default(result) == [ids["sandbox"]]
    assert nas.options[CONF_DEPENDENCIES] == []

    # The form recovers: a harmless choice is saved.
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_DEPENDENCIES: [ids["Cloudflared"]]}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert nas.options[CONF_DEPENDENCIES] == [[ids["NAS"], ids["Cloudflared"]]]


async def test_hosts_and_hosted_nodes_left_out(
    hass: HomeAssistant, entries: dict[str, MockConfigEntry], ids: dict[str, str]
) -> None:
    """Neither a node's hosts nor what runs on it are offered as dependencies."""
    plex = _offered(await _edit(hass, entries["Machine1"], ids["plex"]))
    assert ids["VM-Docker"] not in plex  # its host
    assert ids["Machine1"] not in plex  # its host's host
    assert ids["plex"] not in plex
    assert {ids["sandbox"], ids["NAS"], ids["Jellyfin"], ids["Machine2"]} <= set(plex)
    machine2 = _offered(await _edit(hass, entries["Machine2"], ids["Machine2"]))
    hosted = {ids["Jellyfin"], ids["Cloudflared"], ids["Home-Assistant"]}
    assert not hosted & set(machine2)
    assert ids["NAS"] in machine2
    # sandbox needs Jellyfin, which runs on Machine2: Machine2 needing sandbox
    # would close a cycle.
    assert ids["sandbox"] not in machine2
    assert ids["VM-Docker"] in machine2


async def test_cycle_through_the_hosting_tree(
    hass: HomeAssistant, entries: dict[str, MockConfigEntry], ids: dict[str, str]
) -> None:
    """A machine cannot depend on a guest it hosts: not offered, not accepted."""
    machine2 = entries["Machine2"]
    result = await _edit(hass, machine2, ids["Machine2"])
    assert ids["Jellyfin"] not in _offered(result)
    with pytest.raises(InvalidData):
        await hass.config_entries.options.async_configure(
            result["flow_id"], {CONF_DEPENDENCIES: [ids["Jellyfin"]]}
        )
    assert machine2.options[CONF_DEPENDENCIES] == []


async def test_dangling_dependency_listed_for_removal(
    hass: HomeAssistant, entries: dict[str, MockConfigEntry], ids: dict[str, str]
) -> None:
    """An edge to a vanished node stays selectable so that it can be removed."""
    machine2 = entries["Machine2"]
    gone = f"{ids['RaspberryPi']}/docker/gone"
    orphan = f"{ids['Machine2']}/999/docker/orphan"
    hass.config_entries.async_update_entry(
        machine2,
        options={
            **machine2.options,
            # A stored node whose host is not managed is left out, like the
            # other node's edge to it.
            "nodes": {
                **machine2.options["nodes"],
                orphan: {
                    "kind": "container",
                    "key": "orphan",
                    "parent": f"{ids['Machine2']}/999",
                    "name": "orphan",
                },
            },
            CONF_DEPENDENCIES: [
                [ids["Jellyfin"], gone],
                [ids["Cloudflared"], orphan],
            ],
        },
    )
    await hass.async_block_till_done()
    result = await _edit(hass, machine2, ids["Jellyfin"])
    assert _offered(result)[gone] == gone
    assert orphan not in _offered(result)
    assert _default(result) == [gone]
    # Kept as is when still selected (the repair issue reports it) ...
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_DEPENDENCIES: [gone, ids["NAS"]]}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert machine2.options[CONF_DEPENDENCIES] == [
        [ids["Cloudflared"], orphan],
        [ids["Jellyfin"], gone],
        [ids["Jellyfin"], ids["NAS"]],
    ]
    await hass.async_block_till_done()
    # ... and removed when unselected.
    result = await _edit(hass, machine2, ids["Jellyfin"])
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_DEPENDENCIES: [ids["NAS"]]}
    )
    assert machine2.options[CONF_DEPENDENCIES] == [
        [ids["Cloudflared"], orphan],
        [ids["Jellyfin"], ids["NAS"]],
    ]


async def test_nodes_named_with_their_host(
    hass: HomeAssistant, entries: dict[str, MockConfigEntry], ids: dict[str, str]
) -> None:
    """The node list names each child with what it runs on, not a raw kind."""
    result: Any = await hass.config_entries.options.async_init(
        entries["Machine1"].entry_id
    )
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"next_step_id": "dependencies"}
    )
    selector = result["data_schema"].schema["node"]
    labels = {opt["value"]: opt["label"] for opt in selector.config["options"]}
    assert labels[ids["Machine1"]] == "Machine1"
    assert labels[ids["VM-Docker"]] == "VM-Docker (Machine1)"
    assert labels[ids["sandbox"]] == "sandbox (VM-Docker)"
    assert not [label for label in labels.values() if "(vm)" in label]
