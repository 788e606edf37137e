"""A Proxmox guest that migrated to another node of its cluster moves with it.

A guest's node id is its machine plus its vmid, and a vmid is unique in a
cluster. When the guest leaves its node (``qm migrate``) and the node it
went to is another machine WakeHub manages, its settings, its containers,
its dependency edges and its Home Assistant entities and device move to that
machine's entry under their new ids: the guest is not "gone" on one machine
and "new" on the other.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from homeassistant.core import callback
from homeassistant.helpers import (
    device_registry as dr,
    entity_registry as er,
    issue_registry as ir,
)

from .compat import get_node_device, move_node_device
from .const import (
    CONF_DEPENDENCIES,
    CONF_KEY,
    CONF_MAC,
    CONF_NODE,
    CONF_NODES,
    CONF_PARENT,
    CONF_PROXMOX,
    DOMAIN,
)
from .core.ids import guest_id, machine_id

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from homeassistant.config_entries import ConfigEntry
    from homeassistant.core import HomeAssistant

_LOGGER = logging.getLogger(__package__)


def _renamed_edges(edges: list[Any], renamed: Mapping[str, str]) -> list[list[str]]:
    """Every edge with the moved node ids replaced by their new ones."""
    return [
        [
            renamed.get(str(dependent), str(dependent)),
            renamed.get(str(dependency), str(dependency)),
        ]
        for dependent, dependency in edges
    ]


@callback
def async_move_guest(
    hass: HomeAssistant, source: ConfigEntry, target: ConfigEntry, node_id: str
) -> str | None:
    """Move managed guest ``node_id`` of ``source`` to ``target``; return its new id.

    Its containers move with it. The edges whose dependent moved go to the
    target entry (where the dependent now lives); every other edge naming a
    moved node is renamed where it is. Entities keep their entity ids and
    history (their unique ids change), the devices their ids. Returns
    ``None`` and changes nothing when the guest is not managed by
    ``source`` or already managed by ``target``.
    """
    nodes = dict(source.options.get(CONF_NODES, {}))
    record = nodes.get(node_id)
    target_machine = machine_id(target.data[CONF_MAC])
    if record is None:
        return None
    new_id = guest_id(target_machine, int(record[CONF_KEY]))
    target_nodes = dict(target.options.get(CONF_NODES, {}))
    if new_id in target_nodes:
        return None
    prefix = f"{node_id}/"
    renamed = {
        old: new_id + old[len(node_id) :]
        for old in nodes
        if old == node_id or old.startswith(prefix)
    }
    for old, new in renamed.items():
        moved = dict(nodes.pop(old))
        moved[CONF_PARENT] = (
            target_machine if old == node_id else renamed[str(moved[CONF_PARENT])]
        )
        target_nodes[new] = moved

    _move_registries(hass, source, target, renamed)

    kept: list[list[str]] = []
    carried: list[list[str]] = []
    for edge in _renamed_edges(source.options.get(CONF_DEPENDENCIES, []), renamed):
        (carried if edge[0] in renamed.values() else kept).append(edge)
    for entry in hass.config_entries.async_entries(DOMAIN):
        if entry.entry_id in (source.entry_id, target.entry_id):
            continue
        edges = [list(edge) for edge in entry.options.get(CONF_DEPENDENCIES, [])]
        if (updated := _renamed_edges(edges, renamed)) != edges:
            hass.config_entries.async_update_entry(
                entry, options={**entry.options, CONF_DEPENDENCIES: updated}
            )
    target_edges = _renamed_edges(target.options.get(CONF_DEPENDENCIES, []), renamed)
    hass.config_entries.async_update_entry(
        target,
        options={
            **target.options,
            CONF_NODES: target_nodes,
            CONF_DEPENDENCIES: target_edges + carried,
        },
    )
    hass.config_entries.async_update_entry(
        source, options={**source.options, CONF_NODES: nodes, CONF_DEPENDENCIES: kept}
    )
    for old in renamed:
        ir.async_delete_issue(hass, DOMAIN, f"node_missing_{old}")
    _LOGGER.info(
        "%s migrated from %s to %s: its settings, dependencies and entities follow it",
        record.get("name", node_id),
        source.title,
        target.title,
    )
    return new_id


def _move_registries(
    hass: HomeAssistant,
    source: ConfigEntry,
    target: ConfigEntry,
    renamed: Mapping[str, str],
) -> None:
    """Give the moved nodes' entities and devices their new ids and entry."""
    entities = er.async_get(hass)
    for entity in er.async_entries_for_config_entry(entities, source.entry_id):
        node, sep, key = entity.unique_id.rpartition("-")
        if sep and (new := renamed.get(node)) is not None:
            entities.async_update_entity(
                entity.entity_id,
                new_unique_id=f"{new}-{key}",
                config_entry_id=target.entry_id,
            )
    devices = dr.async_get(hass)
    for old, new in renamed.items():
        device = get_node_device(devices, source.entry_id, old)
        if device is None:  # pragma: no cover - every managed node has a device
            continue
        devices.async_update_device(device.id, new_identifiers={(DOMAIN, new)})
        move_node_device(devices, new, source.entry_id, target.entry_id)


@callback
def async_check_migrations(
    hass: HomeAssistant, entry: ConfigEntry, entries: Iterable[ConfigEntry]
) -> None:
    """Move the guests of ``entry`` that migrated to another loaded entry's node.

    A guest its node no longer runs, which the cluster reports on the node of
    another of ``entries``, moves there (:func:`async_move_guest`).
    """
    snapshot = entry.runtime_data.coordinator.data
    if snapshot is None or not snapshot.migrated:
        return
    for node_id, pve_node in snapshot.migrated.items():
        target = next(
            (
                other
                for other in entries
                if other.entry_id != entry.entry_id
                and (other.data.get(CONF_PROXMOX) or {}).get(CONF_NODE) == pve_node
            ),
            None,
        )
        if target is not None:
            async_move_guest(hass, entry, target, node_id)
