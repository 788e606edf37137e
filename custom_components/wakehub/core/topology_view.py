"""The read side of the topology: its storage, its queries and its walks.

:class:`TopologyView` holds the two layers in plain dicts of lists (one per
relation, in insertion order) and answers questions about them; the
:class:`~.topology.Topology` subclass adds the changes and their validation.

A plan walks the graph once per request, so the walks read precomputed
tables rather than rebuilding each node's neighbours on every visit: for each
node, the entries that lead from it, already in the order the walk pops them.
Those tables and anything else derived from the graph (the planner keeps its
steps there, see :meth:`TopologyView.derived`) are built on first use and dropped at
the next change. See ``docs/design.md``, "The core".
"""

from __future__ import annotations

from collections import deque
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, cast

from .errors import UnknownNodeError
from .model import Channel, Node

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence

WalkEntry = tuple[str, str | None, bool, Channel]
"""One node of a plan walk: ``(node, via, hosting, channel)``.

``via`` is the node whose needs (or whose "needed by") first reached it,
``None`` for the target; ``hosting`` tells whether it was reached through the
hosting tree (as the parent of ``via`` in a start walk, as a child of ``via``
in a stop walk) rather than through a dependency; ``channel`` is the node's
start channel in a start walk and its stop channel in a stop walk.
"""

WalkTable = dict[str, tuple[WalkEntry, ...]]
"""For each node, the entries a walk pushes from it, last visited first (a
tuple: its items sit in the tuple itself, one memory read fewer than a list)."""


def post_order[E: tuple[Any, ...]](
    first: E, table: Mapping[str, Sequence[E]]
) -> list[E]:
    """Return the depth-first post-order from ``first`` along ``table``.

    Entries are tuples whose first item is a node id (a :data:`WalkEntry`, or
    the planner's ``Step``); ``table[node]`` lists the entries leading from
    ``node`` in reverse visiting order, so that pushing them as they are
    pops them in order. A node's entry comes after the entries of everything
    it leads to; a node reached twice keeps its first entry. The recursion
    runs on an explicit stack, so any depth is fine: ``None`` on the stack
    marks the end of the node on top of ``path``.
    """
    order: list[E] = []
    seen: set[str] = set()
    path: list[E] = []
    stack: list[E | None] = [first]
    while stack:
        entry = stack.pop()
        if entry is None:  # everything the top of the path leads to is done
            order.append(path.pop())
            continue
        node_id = entry[0]
        if node_id in seen:
            continue
        seen.add(node_id)
        path.append(entry)
        stack.append(None)
        stack.extend(table[node_id])
    return order


class TopologyView:
    """The hosting tree and the dependency graph, read-only: a topology's read side."""

    __slots__ = (
        "_children",
        "_dependencies",
        "_dependents",
        "_derived",
        "_edges",
        "_next_position",
        "_nodes",
        "_position",
    )

    def __init__(self) -> None:
        """Create an empty topology."""
        self._nodes: dict[str, Node] = {}
        # For each node, in insertion order: the nodes it hosts, the nodes it
        # depends on and the nodes that depend on it.
        self._children: dict[str, list[str]] = {}
        self._dependencies: dict[str, list[str]] = {}
        self._dependents: dict[str, list[str]] = {}
        # Every edge as (dependent, dependency), in insertion order (a dict
        # used as an ordered set).
        self._edges: dict[tuple[str, str], None] = {}
        # Each node's insertion rank, for sort_ids() (gaps after removals).
        self._position: dict[str, int] = {}
        self._next_position = 0
        # Tables built from the graph on first use, by their builder; every
        # change empties it (see derived()).
        self._derived: dict[Callable[[Any], object], object] = {}

    # ------------------------------------------------------------------ nodes

    def node(self, node_id: str) -> Node:
        """Return the node ``node_id``; raise :class:`UnknownNodeError`."""
        try:
            return self._nodes[node_id]
        except KeyError:
            raise UnknownNodeError(node_id) from None

    @property
    def nodes(self) -> Mapping[str, Node]:
        """A read-only view of every node by id, in insertion order."""
        return MappingProxyType(self._nodes)

    def __contains__(self, node_id: object) -> bool:
        """Return whether ``node_id`` is a node of the topology."""
        return node_id in self._nodes

    def __iter__(self) -> Iterator[str]:
        """Iterate over node ids in insertion order."""
        return iter(self._nodes)

    def __len__(self) -> int:
        """Return the number of nodes."""
        return len(self._nodes)

    def __repr__(self) -> str:
        """Summarise the size of the topology."""
        return f"<Topology {len(self._nodes)} nodes, {len(self._edges)} dependencies>"

    def dependency_edges(self) -> list[tuple[str, str]]:
        """Return every edge as ``(dependent, dependency)``, in insertion order."""
        return list(self._edges)

    # ---------------------------------------------------------------- queries

    def parent(self, node_id: str) -> str | None:
        """Return the id of the node hosting ``node_id``, if any."""
        return self.node(node_id).parent

    def children(self, node_id: str) -> list[str]:
        """Return the nodes hosted directly on ``node_id``, in insertion order."""
        self.node(node_id)
        return list(self._children[node_id])

    def ancestors(self, node_id: str) -> list[str]:
        """Return the hosting chain above ``node_id``, nearest first."""
        result: list[str] = []
        parent = self.node(node_id).parent
        while parent is not None:
            result.append(parent)
            parent = self._nodes[parent].parent
        return result

    def hosted_subtree(self, node_id: str) -> list[str]:
        """Return every node hosted on ``node_id``, directly or not (pre-order)."""
        self.node(node_id)
        result: list[str] = []
        stack = list(reversed(self._children[node_id]))
        while stack:
            current = stack.pop()
            result.append(current)
            stack.extend(reversed(self._children[current]))
        return result

    def dependencies(self, node_id: str, *, transitive: bool = False) -> list[str]:
        """Return what ``node_id`` depends on (breadth-first when transitive)."""
        self.node(node_id)
        if not transitive:
            return list(self._dependencies[node_id])
        return _breadth_first(self._dependencies, node_id)

    def dependents(self, node_id: str, *, transitive: bool = False) -> list[str]:
        """Return what depends on ``node_id`` (breadth-first when transitive)."""
        self.node(node_id)
        if not transitive:
            return list(self._dependents[node_id])
        return _breadth_first(self._dependents, node_id)

    def sort_ids(self, node_ids: Iterable[str]) -> list[str]:
        """Return ``node_ids`` in insertion order (O(k log k) for k ids)."""
        return sorted(node_ids, key=self._position.__getitem__)

    # ------------------------------------------------------------------ walks

    def walk_up(self, target: str) -> Iterator[WalkEntry]:
        """Yield ``target``'s closure under "needs", each node after its needs.

        A depth-first post-order that, for each node, first visits its
        dependencies (insertion order), then its parent: a topological order
        over both layers. ``hosting`` is true when a node was reached as the
        parent of ``via`` (a node that is both the parent and a dependency
        of ``via`` is reached as a dependency, since dependencies come first).
        Each entry carries the node's start channel.
        """
        return iter(self.start_walk(target))

    def walk_down(self, target: str) -> Iterator[WalkEntry]:
        """Yield what needs ``target`` (recursively, with it), bottom-up.

        A depth-first post-order that, for each node, first visits its hosted
        children (insertion order), then its dependents. ``hosting`` is true
        when a node was reached as a child of ``via``. Each entry carries the
        node's stop channel.
        """
        return iter(self.stop_walk(target))

    def start_walk(self, target: str) -> list[WalkEntry]:
        """:meth:`walk_up` as a list."""
        first = (target, None, False, self.node(target).start_channel)
        return post_order(first, self.start_table())

    def stop_walk(self, target: str) -> list[WalkEntry]:
        """:meth:`walk_down` as a list."""
        first = (target, None, False, self.node(target).stop_channel)
        return post_order(first, self.stop_table())

    def derived[T](self, build: Callable[[TopologyView], T]) -> T:
        """Return ``build(self)``, built once until the next change.

        For tables computed from the whole graph, such as the walk tables
        here and the planner's steps: ``build`` must not keep a reference to
        mutable parts of the graph, and the caller must not modify what it
        gets.
        """
        try:
            return cast("T", self._derived[build])
        except KeyError:
            value = self._derived[build] = build(self)
            return value

    def start_table(self) -> WalkTable:
        """The start walk's table: from each node, what it needs."""
        return self.derived(TopologyView._build_start_table)

    def stop_table(self) -> WalkTable:
        """The stop walk's table: from each node, what needs it."""
        return self.derived(TopologyView._build_stop_table)

    def _changed(self) -> None:
        """Drop every derived table: the graph has changed."""
        self._derived.clear()

    def _needs(self, node_id: str) -> list[str]:
        """What ``node_id`` needs running: its dependencies, then its parent."""
        parent = self._nodes[node_id].parent
        if parent is None:
            return self._dependencies[node_id]
        return [*self._dependencies[node_id], parent]

    def _needed_by(self, node_id: str) -> list[str]:
        """What needs ``node_id`` running: its dependents, then its children."""
        return [*self._dependents[node_id], *self._children[node_id]]

    def _build_start_table(self) -> WalkTable:
        """Each node's start-walk entries: its dependencies, then its parent.

        Reversed, since :func:`post_order` pops them. A parent that is also a
        dependency is listed once, as a dependency.

        Each entry names its node by the node's own id (``Node.id``, the
        string the tables and ``_nodes`` are keyed by), not by the equal
        string an edge or a ``parent`` field was given: a walk then looks
        its nodes up by identity, without comparing the characters of a
        second copy that sits elsewhere in memory. On 100k nodes that copy
        cost a walk a third of its time (``scripts/bench planner``).
        """
        nodes = self._nodes
        table: WalkTable = {}
        for node_id, node in nodes.items():
            entries: list[WalkEntry] = [
                (dependency.id, node_id, False, dependency.start_channel)
                for dependency in map(nodes.__getitem__, self._dependencies[node_id])
            ]
            parent = node.parent
            if parent is not None and (node_id, parent) not in self._edges:
                host = nodes[parent]
                entries.append((host.id, node_id, True, host.start_channel))
            entries.reverse()
            table[node_id] = tuple(entries)
        return table

    def _build_stop_table(self) -> WalkTable:
        """Each node's stop-walk entries: its hosted children, then its dependents.

        Reversed, since :func:`post_order` pops them. A child that also depends
        on the node is listed once, as a child. Entries name their nodes by
        ``Node.id``, as in :meth:`_build_start_table`.
        """
        nodes = self._nodes
        table: WalkTable = {}
        for node_id, children in self._children.items():
            entries: list[WalkEntry] = [
                (child.id, node_id, True, child.stop_channel)
                for child in map(nodes.__getitem__, children)
            ]
            entries.extend(
                (dependent.id, node_id, False, dependent.stop_channel)
                for dependent in map(nodes.__getitem__, self._dependents[node_id])
                if dependent.parent != node_id
            )
            entries.reverse()
            table[node_id] = tuple(entries)
        return table


def _breadth_first(adjacency: dict[str, list[str]], start: str) -> list[str]:
    """Every node reachable from ``start`` (excluded), nearest first."""
    seen = {start}
    result: list[str] = []
    queue = deque([start])
    while queue:
        for following in adjacency[queue.popleft()]:
            if following not in seen:
                seen.add(following)
                result.append(following)
                queue.append(following)
    return result
