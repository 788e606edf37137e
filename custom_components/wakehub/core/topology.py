"""The two-layer topology: the hosting tree and the dependency graph.

Layer 1, the hosting tree, says what runs on what: each node has zero or one
parent. Layer 2, the dependency graph, says what needs what: "A depends on B"
means A needs B running. A node *needs* its dependencies and its parent, so the
union of both layers must stay acyclic, or no start order would exist; every
change is validated and a refused change leaves the topology untouched.

Everything is deterministic (nodes and edges keep their insertion order),
iterative (a 100 000-deep chain does not touch the recursion limit) and linear
in the size of the graph.

The adjacency is kept in plain lists (one per node and direction), with a
dict of edges for the O(1) duplicate check, and each node's parent and
start/stop channels are cached in flat dicts: the plan walks, which run on
every cascade, then touch nothing but lists, dicts and a set.
"""

from __future__ import annotations

from collections import deque
from itertools import islice
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NamedTuple

from .errors import (
    DependencyCycleError,
    DuplicateDependencyError,
    DuplicateNodeError,
    InvalidNodeError,
    InvalidParentError,
    SelfDependencyError,
    UnknownDependencyError,
    UnknownNodeError,
)
from .model import Capability, Channel, Node, NodeKind

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Mapping

WalkEntry = tuple[str, str | None, bool, Channel]
"""One node of a plan walk: ``(node, via, hosting, channel)``.

``via`` is the node whose needs (or whose "needed by") first reached it,
``None`` for the target; ``hosting`` tells whether it was reached through the
hosting tree (as the parent of ``via`` in a start walk, as a child of ``via``
in a stop walk) rather than through a dependency; ``channel`` is the node's
start channel in a start walk and its stop channel in a stop walk.
"""


class IndexView(NamedTuple):
    """An integer-indexed snapshot of a topology, for the plan walks.

    Node ``i`` is ``ids[i]`` (insertion order); a parent of ``-1`` means none.
    Walking tuples of small integers (one object per node, with no separate
    item array to chase, unlike a list) and marking a ``bytearray`` keeps a
    100 000-node walk within the processor caches far better than hashing ids
    into dicts and sets, which is what keeps the plans linear in practice and
    not only on paper. The view is built on the first walk after a change
    (O(V + E)) and reused until the next change.
    """

    ids: list[str]
    position: dict[str, int]
    parent: list[int]
    parent_is_dependency: list[bool]
    needs: list[tuple[int, ...]]
    """What each node needs (its parent, then its dependencies reversed), in
    the order a depth-first walk pushes them: it then visits the dependencies
    in insertion order, then the parent."""
    needed_by: list[tuple[int, ...]]
    """What needs each node (its dependents reversed, then its children
    reversed), in push order: the walk visits the children in insertion
    order, then the dependents."""
    start_channel: list[Channel]
    stop_channel: list[Channel]
    memo: dict[str, list[Any]]
    """Caches the planner fills lazily, by name: immutable values that every
    plan on this view shares (see ``planner._reasons``). A new view, after
    any change, starts empty."""


class Walk(NamedTuple):
    """A plan walk as parallel lists: ``order[k]`` was reached from ``via[k]``.

    Both hold node indices of ``view``; ``via[k]`` is ``-1`` for the target.
    """

    view: IndexView
    order: list[int]
    via: list[int]


class Topology:
    """A validated hosting tree plus dependency graph."""

    __slots__ = (
        "_children",
        "_counter",
        "_dependencies",
        "_dependents",
        "_edges",
        "_nodes",
        "_parent",
        "_position",
        "_start_channel",
        "_stop_channel",
        "_view",
    )

    def __init__(self) -> None:
        """Create an empty topology."""
        self._nodes: dict[str, Node] = {}
        # Adjacency lists in insertion order; ``_edges`` (an ordered set of
        # ``(dependent, dependency)``) answers membership in O(1).
        self._children: dict[str, list[str]] = {}
        self._dependencies: dict[str, list[str]] = {}
        self._dependents: dict[str, list[str]] = {}
        self._edges: dict[tuple[str, str], None] = {}
        # Per-node caches for the walks and the planner.
        self._parent: dict[str, str | None] = {}
        self._start_channel: dict[str, Channel] = {}
        self._stop_channel: dict[str, Channel] = {}
        # Insertion rank of each node (gaps after removals), for sort_ids().
        self._position: dict[str, int] = {}
        self._counter = 0
        # The indexed snapshot the walks use; None after any change.
        self._view: IndexView | None = None

    @classmethod
    def from_parts(
        cls, nodes: Iterable[Node], edges: Iterable[tuple[str, str]]
    ) -> Topology:
        """Build a validated topology from every node and edge at once.

        The result, and any refusal, are exactly those of adding ``nodes`` one
        by one with :meth:`add_node` (each parent listed before its guests),
        then ``edges`` (``(dependent, dependency)``) one by one with
        :meth:`add_dependency`: the first offending node or edge raises the
        same error, with the same message and the same cycle path. The
        difference is the cost: the edges are checked in one pass (unknown
        nodes, self loops, duplicates) and the union of both layers is checked
        for a cycle with one Kahn pass, so a valid input costs O(V + E)
        instead of one search per edge. Only when there is a cycle are more
        passes spent (O((V + E) log E)) to blame the same edge, with the same
        path, as :meth:`add_dependency` would.
        """
        topology = cls()
        for node in nodes:
            topology.add_node(node)
        known = topology._nodes
        pairs = list(edges)
        dependencies = topology._dependencies
        dependents = topology._dependents
        seen: dict[tuple[str, str], None] = topology._edges
        problem: int | None = None  # index of the first non-cycle refusal
        for index, (dependent, dependency) in enumerate(pairs):
            source = known.get(dependent)
            target = known.get(dependency)
            if (
                source is None
                or target is None
                or dependent == dependency
                or (dependent, dependency) in seen
            ):
                problem = index
                break
            # The nodes' own id objects, as in _link().
            seen[source.id, target.id] = None
            dependencies[source.id].append(target.id)
            dependents[target.id].append(source.id)
        accepted = len(seen)
        if topology._is_acyclic(accepted):
            if problem is not None:
                topology.check_dependency(*pairs[problem])
            return topology
        # Some prefix closes a cycle: find the shortest one (acyclicity of a
        # prefix is monotone), rebuild the prefix before it and let
        # check_dependency() raise exactly what add_dependency() would.
        low, high = 0, accepted  # prefix ``low`` is acyclic, ``high`` is not
        while high - low > 1:
            middle = (low + high) // 2
            if topology._is_acyclic(middle):
                low = middle
            else:
                high = middle
        clean = cls()
        for node in topology._nodes.values():
            clean.add_node(node)
        for dependent, dependency in pairs[:low]:
            clean._link(dependent, dependency)
        clean.check_dependency(*pairs[low])
        raise AssertionError("unreachable: the edge closes a cycle")  # pragma: no cover

    # ------------------------------------------------------------------ nodes

    def add_node(self, node: Node) -> None:
        """Add ``node``; its parent, if any, must already be present."""
        if node.id in self._nodes:
            raise DuplicateNodeError(node.id, self._nodes[node.id].name)
        self._check_parent(node)
        self._view = None
        node_id = node.id
        self._nodes[node_id] = node
        self._children[node_id] = []
        self._dependencies[node_id] = []
        self._dependents[node_id] = []
        self._parent[node_id] = node.parent
        self._start_channel[node_id] = node.start_channel
        self._stop_channel[node_id] = node.stop_channel
        self._position[node_id] = self._counter
        self._counter += 1
        if node.parent is not None:
            self._children[node.parent].append(node_id)

    def replace_node(self, node: Node) -> None:
        """Replace the node with the same id, keeping its place and its edges.

        Use it to change a setting (name, capabilities, ``confirm_shutdown``,
        shutdown channel). The kind and the parent cannot change, and the new
        capabilities must still host every current child.
        """
        old = self.node(node.id)
        if node.kind is not old.kind:
            raise InvalidNodeError(
                f"{old.name} is a {old.kind} and cannot become a {node.kind}",
                code="kind_changed",
                placeholders={
                    "node": old.name,
                    "kind": str(old.kind),
                    "new_kind": str(node.kind),
                },
            )
        if node.parent != old.parent:
            raise InvalidParentError(
                f"{old.name} cannot move to another host",
                code="parent_changed",
                placeholders={"node": old.name},
            )
        for child_id in self._children[node.id]:
            problem = _parent_problem(self._nodes[child_id], node)
            if problem is not None:
                raise problem
        self._view = None
        self._nodes[node.id] = node
        self._stop_channel[node.id] = node.stop_channel

    def remove_node(self, node_id: str) -> list[str]:
        """Remove a node, its hosted subtree and every edge touching them.

        Returns the removed ids, deepest first and ``node_id`` last. Whether
        dangling dependencies are acceptable is the caller's decision, taken
        before calling this.
        """
        node = self.node(node_id)
        self._view = None
        removed = [*reversed(self.hosted_subtree(node_id)), node_id]
        gone = set(removed)
        # Each surviving list that names a removed node is filtered once, so
        # the whole removal stays linear in the edges it touches.
        touched_dependents: set[str] = set()
        touched_dependencies: set[str] = set()
        for removed_id in removed:
            for dependency in self._dependencies.pop(removed_id):
                self._edges.pop((removed_id, dependency), None)
                touched_dependents.add(dependency)
            for dependent in self._dependents.pop(removed_id):
                self._edges.pop((dependent, removed_id), None)
                touched_dependencies.add(dependent)
            del self._children[removed_id]
            del self._nodes[removed_id]
            del self._parent[removed_id]
            del self._start_channel[removed_id]
            del self._stop_channel[removed_id]
            del self._position[removed_id]
        for survivor in touched_dependents - gone:
            self._dependents[survivor] = [
                other for other in self._dependents[survivor] if other not in gone
            ]
        for survivor in touched_dependencies - gone:
            self._dependencies[survivor] = [
                other for other in self._dependencies[survivor] if other not in gone
            ]
        if node.parent is not None:
            self._children[node.parent].remove(node_id)
        return removed

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

    # ----------------------------------------------------------- dependencies

    def add_dependency(self, dependent: str, dependency: str) -> None:
        """Record that ``dependent`` needs ``dependency`` running.

        Raises :class:`UnknownNodeError`, :class:`SelfDependencyError`,
        :class:`DuplicateDependencyError` or :class:`DependencyCycleError`; a
        refused edge leaves the topology unchanged.
        """
        self.check_dependency(dependent, dependency)
        self._link(dependent, dependency)

    def _link(self, dependent: str, dependency: str) -> None:
        """Store an edge that has been validated.

        The lists hold the node's own id object (the dict key), not the
        caller's equal copy: a walk then compares ids by identity and touches
        one string per node instead of one per edge, which matters for the
        cache once the topology outgrows it.
        """
        nodes = self._nodes
        dependent = nodes[dependent].id
        dependency = nodes[dependency].id
        self._view = None
        self._dependencies[dependent].append(dependency)
        self._dependents[dependency].append(dependent)
        self._edges[dependent, dependency] = None

    def check_dependency(self, dependent: str, dependency: str) -> None:
        """Raise what :meth:`add_dependency` would raise, without changing anything.

        For user interfaces that validate an edge before storing it.
        """
        source = self.node(dependent)
        target = self.node(dependency)
        if dependent == dependency:
            raise SelfDependencyError(source.name)
        if (dependent, dependency) in self._edges:
            raise DuplicateDependencyError(source.name, target.name)
        path = self.find_cycle_path(dependent, dependency)
        if path is not None:
            raise DependencyCycleError(
                source.name,
                target.name,
                path,
                [self._nodes[node_id].name for node_id in path],
            )

    def find_cycle_path(self, dependent: str, dependency: str) -> list[str] | None:
        """Return the cycle that "``dependent`` depends on ``dependency``" would close.

        The path starts and ends with ``dependency`` and follows what each node
        needs (its dependencies and its parent) to ``dependent``. ``None``
        means the edge is safe. Nothing is modified.

        The search runs from both ends at once, growing the smaller frontier
        (taking turns on a tie), so that the common cases settle at once: a
        new node gaining its first dependencies (nothing needs it yet), or an
        existing node coming to depend on a new one (it needs nothing yet).
        """
        self.node(dependent)
        self.node(dependency)
        if dependent == dependency:
            return [dependency, dependency]
        # forward[x]: the node from which x was reached, walking from
        # ``dependency`` along "needs"; backward[x]: the node x leads to,
        # walking from ``dependent`` against "needs".
        forward: dict[str, str | None] = {dependency: None}
        backward: dict[str, str | None] = {dependent: None}
        forward_queue = deque([dependency])
        backward_queue = deque([dependent])
        forward_turn = False
        while forward_queue and backward_queue:
            # Grow the smaller frontier; on a tie, take turns.
            forward_turn = (
                not forward_turn
                if len(forward_queue) == len(backward_queue)
                else len(forward_queue) < len(backward_queue)
            )
            if forward_turn:
                current = forward_queue.popleft()
                for following in self._needs(current):
                    if following in forward:
                        continue
                    forward[following] = current
                    if following in backward:
                        return _join(following, forward, backward, dependency)
                    forward_queue.append(following)
            else:
                current = backward_queue.popleft()
                for previous in self._needed_by(current):
                    if previous in backward:
                        continue
                    backward[previous] = current
                    if previous in forward:
                        return _join(previous, forward, backward, dependency)
                    backward_queue.append(previous)
        return None

    def remove_dependency(self, dependent: str, dependency: str) -> None:
        """Remove the edge "``dependent`` depends on ``dependency``"."""
        source = self.node(dependent)
        target = self.node(dependency)
        if (dependent, dependency) not in self._edges:
            raise UnknownDependencyError(source.name, target.name)
        self._view = None
        self._dependencies[dependent].remove(dependency)
        self._dependents[dependency].remove(dependent)
        del self._edges[dependent, dependency]

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
        position = self._position
        return sorted(node_ids, key=position.__getitem__)

    def index_view(self) -> IndexView:
        """Return the indexed snapshot the walks use (built once per change)."""
        view = self._view
        if view is None:
            ids = list(self._nodes)
            index = {node_id: position for position, node_id in enumerate(ids)}
            parents = self._parent
            dependencies = self._dependencies
            edges = self._edges
            parent = [
                -1 if parents[node_id] is None else index[parents[node_id]]  # type: ignore[index]
                for node_id in ids
            ]
            view = self._view = IndexView(
                ids=ids,
                position=index,
                parent=parent,
                parent_is_dependency=[
                    parents[node_id] is not None
                    and (node_id, parents[node_id]) in edges
                    for node_id in ids
                ],
                needs=[
                    (
                        *(() if parent[position] < 0 else (parent[position],)),
                        *(index[other] for other in reversed(dependencies[node_id])),
                    )
                    for position, node_id in enumerate(ids)
                ],
                needed_by=[
                    (
                        *(
                            index[other]
                            for other in reversed(self._dependents[node_id])
                        ),
                        *(index[other] for other in reversed(self._children[node_id])),
                    )
                    for node_id in ids
                ],
                start_channel=[self._start_channel[node_id] for node_id in ids],
                stop_channel=[self._stop_channel[node_id] for node_id in ids],
                memo={},
            )
        return view

    def walk_up(self, target: str) -> Walk:
        """Return ``target``'s closure under "needs", each node after its needs.

        A depth-first post-order that, for each node, first visits its
        dependencies (insertion order), then its parent: a topological order
        over both layers. ``via`` gives the node whose needs first reached
        each one (the node below it on the depth-first path).
        """
        view = self.index_view()
        return self._walk(view, view.needs, target)

    def walk_down(self, target: str) -> Walk:
        """Return what needs ``target`` (recursively, with it), bottom-up.

        A depth-first post-order that, for each node, first visits its hosted
        children (insertion order), then its dependents; as :meth:`walk_up`.
        """
        view = self.index_view()
        return self._walk(view, view.needed_by, target)

    def _walk(
        self, view: IndexView, pushes: list[tuple[int, ...]], target: str
    ) -> Walk:
        """The iterative depth-first post-order both walks share.

        O(closure) with O(1) work per node and per edge: the stack holds node
        indices, a ``-1`` marks the end of a node's neighbours (pushed in
        reverse visiting order by the view), and the open nodes (the
        recursion path) give ``via``.
        """
        self.node(target)
        seen = bytearray(len(view.ids))
        path: list[int] = []
        enter = path.append
        leave = path.pop
        order: list[int] = []
        via: list[int] = []
        emit = order.append
        emit_via = via.append
        stack = [view.position[target]]
        push = stack.append
        extend = stack.extend
        pop = stack.pop
        while stack:
            position = pop()
            if position < 0:
                emit(leave())
                emit_via(path[-1] if path else -1)
                continue
            if seen[position]:
                continue
            seen[position] = 1
            enter(position)
            push(-1)
            extend(pushes[position])
        return Walk(view, order, via)

    def start_walk(self, target: str) -> list[WalkEntry]:
        """:meth:`walk_up` as :data:`WalkEntry` tuples (with the start channel).

        ``hosting`` is true when a node was reached as the parent of ``via``
        (a node that is both the parent and a dependency of ``via`` is reached
        as a dependency, since dependencies are visited first).
        """
        view, order, via = self.walk_up(target)
        ids = view.ids
        parent = view.parent
        parent_is_dependency = view.parent_is_dependency
        channel = view.start_channel
        return [
            (
                ids[position],
                None if by < 0 else ids[by],
                by >= 0 and parent[by] == position and not parent_is_dependency[by],
                channel[position],
            )
            for position, by in zip(order, via, strict=True)
        ]

    def stop_walk(self, target: str) -> list[WalkEntry]:
        """:meth:`walk_down` as :data:`WalkEntry` tuples (with the stop channel).

        ``hosting`` is true when a node was reached as a child of ``via``.
        """
        view, order, via = self.walk_down(target)
        ids = view.ids
        parent = view.parent
        channel = view.stop_channel
        return [
            (
                ids[position],
                None if by < 0 else ids[by],
                by >= 0 and parent[position] == by,
                channel[position],
            )
            for position, by in zip(order, via, strict=True)
        ]

    def copy(self) -> Topology:
        """Return an independent copy (nodes are immutable and shared)."""
        clone = Topology()
        clone._nodes = dict(self._nodes)
        clone._children = {key: list(value) for key, value in self._children.items()}
        clone._dependencies = {
            key: list(value) for key, value in self._dependencies.items()
        }
        clone._dependents = {
            key: list(value) for key, value in self._dependents.items()
        }
        clone._edges = dict(self._edges)
        clone._parent = dict(self._parent)
        clone._start_channel = dict(self._start_channel)
        clone._stop_channel = dict(self._stop_channel)
        clone._position = dict(self._position)
        clone._counter = self._counter
        return clone

    # --------------------------------------------------------------- helpers

    def _needs(self, node_id: str) -> list[str]:
        """What ``node_id`` needs running: its dependencies, then its parent."""
        parent = self._nodes[node_id].parent
        needs = list(self._dependencies[node_id])
        if parent is not None:
            needs.append(parent)
        return needs

    def _needed_by(self, node_id: str) -> list[str]:
        """What needs ``node_id`` running: its dependents, then its children."""
        return [*self._dependents[node_id], *self._children[node_id]]

    def _is_acyclic(self, count: int) -> bool:
        """Whether both layers plus the first ``count`` edges are acyclic (Kahn).

        O(V + count): nodes are numbered, each counts what it still needs, and
        nodes are retired once everything they need has been.
        """
        index = {node_id: number for number, node_id in enumerate(self._nodes)}
        needs = [0] * len(index)
        needed_by: list[list[int]] = [[] for _ in index]
        for node_id, parent in self._parent.items():
            if parent is not None:
                child = index[node_id]
                needs[child] += 1
                needed_by[index[parent]].append(child)
        for dependent, dependency in islice(self._edges, count):
            number = index[dependent]
            needs[number] += 1
            needed_by[index[dependency]].append(number)
        ready = [number for number, count_ in enumerate(needs) if not count_]
        retired = 0
        while ready:
            retired += 1
            for following in needed_by[ready.pop()]:
                needs[following] -= 1
                if not needs[following]:
                    ready.append(following)
        return retired == len(index)

    def _check_parent(self, node: Node) -> None:
        """Raise when ``node`` cannot be hosted where it says it is."""
        if node.kind is NodeKind.MACHINE:
            if node.parent is not None:
                raise InvalidParentError(
                    f"{node.name} is a machine and cannot have a parent",
                    code="machine_with_parent",
                    placeholders={"node": node.name},
                )
            return
        if node.parent is None:
            raise InvalidParentError(
                f"{node.name} is a {node.kind} and needs a parent to run on",
                code="parent_required",
                placeholders={"node": node.name, "kind": str(node.kind)},
            )
        problem = _parent_problem(node, self.node(node.parent))
        if problem is not None:
            raise problem


def _parent_problem(child: Node, parent: Node) -> InvalidParentError | None:
    """Return why ``parent`` cannot host ``child`` (a guest), or ``None``."""
    placeholders = {
        "node": child.name,
        "kind": str(child.kind),
        "parent": parent.name,
    }
    if parent.kind is NodeKind.CONTAINER:
        return InvalidParentError(
            f"{child.name} cannot run on {parent.name}: a container hosts nothing",
            code="parent_is_container",
            placeholders=placeholders,
        )
    needed = (
        Capability.DOCKER if child.kind is NodeKind.CONTAINER else Capability.PROXMOX
    )
    if needed in parent.capabilities:
        return None
    return InvalidParentError(
        f"{child.name} is a {child.kind} and cannot run on {parent.name},"
        f" which has no {needed} capability",
        code=f"parent_lacks_{needed}",
        placeholders=placeholders,
    )


def _join(
    meeting: str,
    forward: dict[str, str | None],
    backward: dict[str, str | None],
    dependency: str,
) -> list[str]:
    """Stitch both halves of a bidirectional search into a closed cycle."""
    path: list[str] = []
    step: str | None = meeting
    while step is not None:
        path.append(step)
        step = forward[step]
    path.reverse()
    step = backward[meeting]
    while step is not None:
        path.append(step)
        step = backward[step]
    path.append(dependency)
    return path


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
