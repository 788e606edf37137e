"""The two-layer topology: the hosting tree and the dependency graph.

Layer 1, the hosting tree, says what runs on what: each node has zero or one
parent. Layer 2, the dependency graph, says what needs what: "A depends on B"
means A needs B running. A node *needs* its dependencies and its parent, so the
union of both layers must stay acyclic, or no start order would exist; every
change is validated and a refused change leaves the topology untouched.

Everything is deterministic (nodes and edges keep their insertion order) and
iterative, so a deep chain does not touch the recursion limit. The storage,
the queries and the walks live in :class:`~.topology_view.TopologyView`; this module adds
the changes and their validation. A homelab has tens to hundreds of nodes,
and ``scripts/bench planner`` checks that a plan on 10 000 nodes still takes
a few milliseconds.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

from .errors import (
    DependencyCycleError,
    DuplicateDependencyError,
    DuplicateNodeError,
    InvalidNodeError,
    InvalidParentError,
    SelfDependencyError,
    TopologyError,
    UnknownDependencyError,
)
from .model import Capability, Node, NodeKind
from .topology_view import TopologyView, WalkEntry

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping

__all__ = ["Topology", "WalkEntry"]


class Topology(TopologyView):
    """A validated hosting tree plus dependency graph: :class:`TopologyView` with changes."""

    __slots__ = ()

    @classmethod
    def from_parts(
        cls, nodes: Iterable[Node], edges: Iterable[tuple[str, str]]
    ) -> Topology:
        """Build a validated topology from every node and edge at once.

        Adds ``nodes`` one by one with :meth:`add_node` (each parent listed
        before its guests), then ``edges`` (``(dependent, dependency)``) one
        by one with :meth:`add_dependency`, and raises the first refusal. A
        refused edge is named by the error's ``edge``, so that a caller can
        leave it out and build again. Each edge costs one cycle search (see
        :meth:`find_cycle_path`), which settles at once in the usual shapes.
        """
        topology = cls()
        for node in nodes:
            topology.add_node(node)
        for dependent, dependency in edges:
            topology.add_dependency(dependent, dependency)
        return topology

    # ------------------------------------------------------------------ nodes

    def add_node(self, node: Node) -> None:
        """Add ``node``; its parent, if any, must already be present."""
        if node.id in self._nodes:
            raise DuplicateNodeError(node.id, self._nodes[node.id].name)
        self._check_parent(node)
        self._nodes[node.id] = node
        self._children[node.id] = []
        self._dependencies[node.id] = []
        self._dependents[node.id] = []
        self._position[node.id] = self._next_position
        self._next_position += 1
        if node.parent is not None:
            self._children[node.parent].append(node.id)
        self._changed()

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
        self._changed()

    def remove_node(self, node_id: str) -> list[str]:
        """Remove a node, its hosted subtree and every edge touching them.

        Returns the removed ids, deepest first and ``node_id`` last. Whether
        dangling dependencies are acceptable is the caller's decision, taken
        before calling this.
        """
        node = self.node(node_id)
        removed = [*reversed(self.hosted_subtree(node_id)), node_id]
        gone = set(removed)
        for removed_id in removed:
            for dependency in self._dependencies[removed_id]:
                self._edges.pop((removed_id, dependency), None)
            for dependent in self._dependents[removed_id]:
                self._edges.pop((dependent, removed_id), None)
        for removed_id in removed:
            for dependency in self._dependencies.pop(removed_id):
                if dependency not in gone:
                    self._dependents[dependency].remove(removed_id)
            for dependent in self._dependents.pop(removed_id):
                if dependent not in gone:
                    self._dependencies[dependent].remove(removed_id)
            del self._children[removed_id]
            del self._nodes[removed_id]
            del self._position[removed_id]
        if node.parent is not None:
            self._children[node.parent].remove(node_id)
        self._changed()
        return removed

    # ----------------------------------------------------------- dependencies

    def add_dependency(self, dependent: str, dependency: str) -> None:
        """Record that ``dependent`` needs ``dependency`` running.

        Raises :class:`UnknownNodeError`, :class:`SelfDependencyError`,
        :class:`DuplicateDependencyError` or :class:`DependencyCycleError`,
        whose ``edge`` is ``(dependent, dependency)``; a refused edge leaves
        the topology unchanged.
        """
        self.check_dependency(dependent, dependency)
        self._dependencies[dependent].append(dependency)
        self._dependents[dependency].append(dependent)
        self._edges[dependent, dependency] = None
        self._changed()

    def check_dependency(self, dependent: str, dependency: str) -> None:
        """Raise what :meth:`add_dependency` would raise, without changing anything.

        For user interfaces that validate an edge before storing it.
        """
        try:
            self._check_dependency(dependent, dependency)
        except TopologyError as error:
            error.edge = (dependent, dependency)
            raise

    def _check_dependency(self, dependent: str, dependency: str) -> None:
        """The checks of :meth:`check_dependency`, in the order they apply."""
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
                met = _grow(forward_queue, self._needs, forward, backward)
            else:
                met = _grow(backward_queue, self._needed_by, backward, forward)
            if met is not None:
                return _join(met, forward, backward, dependency)
        return None

    def remove_dependency(self, dependent: str, dependency: str) -> None:
        """Remove the edge "``dependent`` depends on ``dependency``"."""
        source = self.node(dependent)
        target = self.node(dependency)
        if (dependent, dependency) not in self._edges:
            raise UnknownDependencyError(source.name, target.name)
        self._dependencies[dependent].remove(dependency)
        self._dependents[dependency].remove(dependent)
        del self._edges[dependent, dependency]
        self._changed()

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
        clone._position = dict(self._position)
        clone._next_position = self._next_position
        return clone

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


def _grow(
    queue: deque[str],
    links: Callable[[str], Iterable[str]],
    reached: dict[str, str | None],
    other: Mapping[str, str | None],
) -> str | None:
    """Take one node off a search's frontier and follow its ``links``.

    ``reached`` records, for each node found, the node it was reached from.
    Returns a node the ``other`` search has reached too (the searches met),
    else ``None``.
    """
    current = queue.popleft()
    for following in links(current):
        if following in reached:
            continue
        reached[following] = current
        if following in other:
            return following
        queue.append(following)
    return None


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
