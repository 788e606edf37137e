"""The two-layer topology: the hosting tree and the dependency graph.

Layer 1, the hosting tree, says what runs on what: each node has zero or one
parent. Layer 2, the dependency graph, says what needs what: "A depends on B"
means A needs B running. A node *needs* its dependencies and its parent, so the
union of both layers must stay acyclic, or no start order would exist; every
change is validated and a refused change leaves the topology untouched.

Everything is deterministic (nodes and edges keep their insertion order),
iterative (a 100 000-deep chain does not touch the recursion limit) and linear
in the size of the graph.
"""

from __future__ import annotations

from collections import deque
from types import MappingProxyType
from typing import TYPE_CHECKING

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
from .model import Capability, Node, NodeKind

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping


class Topology:
    """A validated hosting tree plus dependency graph."""

    __slots__ = ("_children", "_dependencies", "_dependents", "_edges", "_nodes")

    def __init__(self) -> None:
        """Create an empty topology."""
        self._nodes: dict[str, Node] = {}
        # Ordered sets (dicts with None values) keep insertion order.
        self._children: dict[str, dict[str, None]] = {}
        self._dependencies: dict[str, dict[str, None]] = {}
        self._dependents: dict[str, dict[str, None]] = {}
        self._edges: dict[tuple[str, str], None] = {}

    # ------------------------------------------------------------------ nodes

    def add_node(self, node: Node) -> None:
        """Add ``node``; its parent, if any, must already be present."""
        if node.id in self._nodes:
            raise DuplicateNodeError(node.id, self._nodes[node.id].name)
        self._check_parent(node)
        self._nodes[node.id] = node
        self._children[node.id] = {}
        self._dependencies[node.id] = {}
        self._dependents[node.id] = {}
        if node.parent is not None:
            self._children[node.parent][node.id] = None

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
        self._nodes[node.id] = node

    def remove_node(self, node_id: str) -> list[str]:
        """Remove a node, its hosted subtree and every edge touching them.

        Returns the removed ids, deepest first and ``node_id`` last. Whether
        dangling dependencies are acceptable is the caller's decision, taken
        before calling this.
        """
        node = self.node(node_id)
        removed = [*reversed(self.hosted_subtree(node_id)), node_id]
        for gone in removed:
            for dependency in self._dependencies.pop(gone):
                del self._dependents[dependency][gone]
                del self._edges[gone, dependency]
            for dependent in self._dependents.pop(gone):
                del self._dependencies[dependent][gone]
                del self._edges[dependent, gone]
            del self._children[gone]
            del self._nodes[gone]
        if node.parent is not None:
            del self._children[node.parent][node_id]
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
        self._dependencies[dependent][dependency] = None
        self._dependents[dependency][dependent] = None
        self._edges[dependent, dependency] = None

    def check_dependency(self, dependent: str, dependency: str) -> None:
        """Raise what :meth:`add_dependency` would raise, without changing anything.

        For user interfaces that validate an edge before storing it.
        """
        source = self.node(dependent)
        target = self.node(dependency)
        if dependent == dependency:
            raise SelfDependencyError(source.name)
        if dependency in self._dependencies[dependent]:
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
        if dependency not in self._dependencies[dependent]:
            raise UnknownDependencyError(source.name, target.name)
        del self._dependencies[dependent][dependency]
        del self._dependents[dependency][dependent]
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

    def start_walk(self, target: str) -> list[tuple[str, str | None, bool]]:
        """Return ``target``'s closure under "needs", each node after its needs.

        A depth-first post-order that, for each node, first visits its
        dependencies (insertion order), then its parent: a topological order
        over both layers. Each entry is ``(node, via, hosting)``: ``via`` is
        the node whose needs first reached it (``None`` for the target) and
        ``hosting`` tells whether it was reached as that node's parent.
        """
        return self._walk(target, upward=True)

    def stop_walk(self, target: str) -> list[tuple[str, str | None, bool]]:
        """Return what needs ``target`` (recursively, with it), bottom-up.

        A depth-first post-order that, for each node, first visits its hosted
        children (insertion order), then its dependents. Entries are as for
        :meth:`start_walk`; ``hosting`` tells whether the node was reached as
        a child of ``via``.
        """
        return self._walk(target, upward=False)

    def _walk(self, target: str, *, upward: bool) -> list[tuple[str, str | None, bool]]:
        """Iterative post-order shared by :meth:`start_walk` and :meth:`stop_walk`.

        Checking "seen" when an entry is popped (not when it is pushed) gives
        exactly the order of the recursive walk, without its recursion. A
        visited node pushes its own entry back under its neighbours; since
        the graph is acyclic, nothing below it can push it again before that
        entry comes back up, so a seen but not yet emitted node is due.
        """
        self.node(target)
        nodes = self._nodes
        following_of = self._dependencies if upward else self._dependents
        children = self._children
        seen: set[str] = set()
        emitted: set[str] = set()
        order: list[tuple[str, str | None, bool]] = []
        stack: list[tuple[str, str | None, bool]] = [(target, None, False)]
        push = stack.append
        pop = stack.pop
        while stack:
            entry = pop()
            node_id = entry[0]
            if node_id in seen:
                if node_id not in emitted:
                    emitted.add(node_id)
                    order.append(entry)
                continue
            seen.add(node_id)
            push(entry)
            # Pushed in reverse: popped first is visited first.
            if upward:
                parent = nodes[node_id].parent
                if parent is not None and parent not in seen:
                    push((parent, node_id, True))
            for other in reversed(following_of[node_id]):
                if other not in seen:
                    push((other, node_id, False))
            if not upward:
                for child in reversed(children[node_id]):
                    if child not in seen:
                        push((child, node_id, True))
        return order

    def copy(self) -> Topology:
        """Return an independent copy (nodes are immutable and shared)."""
        clone = Topology()
        clone._nodes = dict(self._nodes)
        clone._children = {key: dict(value) for key, value in self._children.items()}
        clone._dependencies = {
            key: dict(value) for key, value in self._dependencies.items()
        }
        clone._dependents = {
            key: dict(value) for key, value in self._dependents.items()
        }
        clone._edges = dict(self._edges)
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


def _breadth_first(adjacency: dict[str, dict[str, None]], start: str) -> list[str]:
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
