"""The global topology, built from config entries, and the one edge editor.

Every place that needs the graph of the whole homelab builds it here, the same
way (:func:`build_topology`): the hub for the orchestrator, the options flow to
refuse a cycle before it is stored. Every place that changes a dependency edge
goes through the functions below (:func:`check_dependencies`,
:func:`with_dependencies`, :func:`with_edge`, :func:`without_edge`), so that
an edge is refused for the same reasons, with the same error, wherever it is
edited: the options flow, the ``add_dependency``/``remove_dependency``
actions and the dangling-edge repair.

An edge ``[dependent, dependency]`` lives in the options of the entry that owns
the dependent (see :mod:`.const`); it may point at a node of another entry.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import logging
from typing import TYPE_CHECKING, Any

from .const import (
    CONF_CONFIRM_SHUTDOWN,
    CONF_DEPENDENCIES,
    CONF_DOCKER,
    CONF_MACHINE,
    CONF_PROXMOX,
    DOMAIN,
)
from .core.errors import TopologyError
from .core.model import Capability, Node, NodeKind
from .core.topology import Topology
from .models import build_tree

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from homeassistant.config_entries import ConfigEntry
    from homeassistant.core import HomeAssistant

_LOGGER = logging.getLogger(__package__)

type Edge = tuple[str, str]
"""A dependency edge: ``(dependent, dependency)``."""


@dataclass(slots=True)
class BuiltTopology:
    """A topology and where each of its nodes comes from.

    ``owners`` maps each node to the id of the entry whose tree holds it;
    ``labels`` gives each node a label that tells nodes of different entries
    apart (a guest or container is followed by its machine's entry title).
    ``left_out`` are the stored edges the topology refused (a cycle stored
    by hand), with the refusal.
    """

    topology: Topology
    owners: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    left_out: list[tuple[Edge, TopologyError]] = field(default_factory=list)


def entry_nodes(entry: ConfigEntry[Any]) -> list[Node]:
    """The topology nodes of one entry's hosting tree, parents first.

    Capabilities come from the entry alone: the machine serves Proxmox when
    the entry has a Proxmox API, and a node hosts Docker when it (or the
    machine, in ``data``) has a Docker API.
    """
    machine_settings: Mapping[str, Any] = entry.options.get(CONF_MACHINE) or {}
    nodes: list[Node] = []
    for tree_node in build_tree(entry).values():
        capabilities: set[Capability] = set()
        if tree_node.kind is NodeKind.MACHINE:
            settings = machine_settings
            if entry.data.get(CONF_PROXMOX):
                capabilities.add(Capability.PROXMOX)
            docker = entry.data.get(CONF_DOCKER)
        else:
            settings = tree_node.settings
            docker = settings.get(CONF_DOCKER)
        if docker:
            capabilities.add(Capability.DOCKER)
        nodes.append(
            Node(
                id=tree_node.id,
                kind=tree_node.kind,
                name=tree_node.name,
                parent=tree_node.parent,
                capabilities=frozenset(capabilities),
                confirm_shutdown=settings.get(CONF_CONFIRM_SHUTDOWN),
            )
        )
    return nodes


def stored_edges(options: Mapping[str, Any]) -> list[Edge]:
    """The well-formed edges stored in an entry's options."""
    return [
        (str(edge[0]), str(edge[1]))
        for edge in options.get(CONF_DEPENDENCIES, [])
        if isinstance(edge, list | tuple) and len(edge) == 2
    ]


def build_topology(entries: Iterable[ConfigEntry[Any]]) -> BuiltTopology:
    """One topology from the trees and the stored edges of ``entries``.

    A node its tree cannot hold (a guest on a machine without Proxmox, say)
    is left out with a warning. An edge to a node none of ``entries`` holds
    is left out here: the dangling-edge repair reports it
    (:mod:`.repairs`). An edge the topology refuses (a cycle stored by
    hand) is left out with a warning and kept in ``left_out``; each edge is
    tried once.
    """
    built = BuiltTopology(Topology())
    topology = built.topology
    entries = list(entries)
    for entry in entries:
        for node in entry_nodes(entry):
            try:
                topology.add_node(node)
            except TopologyError as err:
                _LOGGER.warning("Node %s left out: %s", node.name, err)
                continue
            built.owners[node.id] = entry.entry_id
            built.labels[node.id] = (
                node.name if node.parent is None else f"{node.name} ({entry.title})"
            )
    for entry in entries:
        for edge in stored_edges(entry.options):
            if edge[0] not in topology or edge[1] not in topology:
                continue
            try:
                topology.add_dependency(*edge)
            except TopologyError as err:
                _LOGGER.warning("Dependency left out: %s", err)
                built.left_out.append((edge, err))
    return built


def start_closure(topology: Topology, target: str) -> list[str]:
    """``target`` and every node its start needs: dependencies and hosts, recursively."""
    found: dict[str, None] = {}
    todo = [target]
    while todo:
        node_id = todo.pop()
        if node_id in found:
            continue
        found[node_id] = None
        todo.extend(topology.dependencies(node_id))
        if (parent := topology.parent(node_id)) is not None:
            todo.append(parent)
    return list(found)


def build_domain_topology(hass: HomeAssistant) -> BuiltTopology:
    """:func:`build_topology` over every WakeHub entry, loaded or not.

    The hub runs on it, and the options flow checks a new edge against it:
    both see the same nodes and edges, so an edge is refused the same way
    (an entry that is not loaded keeps its nodes: docs/design.md,
    "Unavailable nodes").
    """
    return build_topology(hass.config_entries.async_entries(DOMAIN))


def check_dependencies(
    topology: Topology, dependent: str, dependencies: Iterable[str]
) -> None:
    """Raise what storing ``dependent``'s new dependencies would break.

    ``dependencies`` replace the node's current ones. Raises the
    :class:`~.core.errors.TopologyError` of the first refused edge (a cycle,
    a dependency on itself, an unknown node); ``topology`` is not changed.
    """
    trial = topology.copy()
    if dependent in trial:
        for dependency in trial.dependencies(dependent):
            trial.remove_dependency(dependent, dependency)
    for dependency in dependencies:
        trial.add_dependency(dependent, dependency)


def dependency_choices(topology: Topology, node_id: str) -> set[str]:
    """The nodes ``node_id`` may come to depend on, for a picker.

    Not itself, not its hosts nor what runs on it (the hosting tree orders
    those already), and none whose edge :meth:`Topology.check_dependency`
    would refuse as a cycle (a node that needs ``node_id``, directly or not).
    """
    hosting = {node_id, *topology.ancestors(node_id), *topology.hosted_subtree(node_id)}
    return {
        other
        for other in topology.nodes
        if other not in hosting and topology.find_cycle_path(node_id, other) is None
    }


def with_dependencies(
    options: Mapping[str, Any], dependent: str, dependencies: Iterable[str]
) -> dict[str, Any]:
    """``options`` with ``dependent``'s edges replaced by ``dependencies``."""
    edges = [list(edge) for edge in stored_edges(options) if edge[0] != dependent]
    edges.extend([dependent, dependency] for dependency in dependencies)
    return {**options, CONF_DEPENDENCIES: edges}


def with_edge(options: Mapping[str, Any], edge: Edge) -> dict[str, Any]:
    """``options`` with one more edge (checked by the caller)."""
    edges = [list(stored) for stored in stored_edges(options)]
    edges.append(list(edge))
    return {**options, CONF_DEPENDENCIES: edges}


def without_edge(options: Mapping[str, Any], edge: Edge) -> dict[str, Any] | None:
    """``options`` without ``edge``, or ``None`` when it is not stored."""
    edges = stored_edges(options)
    if edge not in edges:
        return None
    return {
        **options,
        CONF_DEPENDENCIES: [list(stored) for stored in edges if stored != edge],
    }


def edit_edge(
    topology: Topology, options: Mapping[str, Any], edge: Edge, *, add: bool
) -> dict[str, Any]:
    """``options`` with ``edge`` added or removed, once ``topology`` allows it.

    Adding is refused as :meth:`Topology.add_dependency` refuses (a cycle, a
    duplicate, a dependency on itself); removing an edge the topology does
    not hold raises :class:`~.core.errors.UnknownDependencyError`. Nothing is
    changed on a refusal.
    """
    trial = topology.copy()
    if add:
        trial.add_dependency(*edge)
        return with_edge(options, edge)
    trial.remove_dependency(*edge)
    return without_edge(options, edge) or {**options}
