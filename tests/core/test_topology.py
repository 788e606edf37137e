"""The topology: validation of every change, and the queries."""

from __future__ import annotations

import dataclasses
import sys

import pytest

from custom_components.wakehub.core import (
    Capability,
    DependencyCycleError,
    DuplicateDependencyError,
    DuplicateNodeError,
    InvalidNodeError,
    InvalidParentError,
    Node,
    NodeKind,
    PowerState,
    SelfDependencyError,
    Topology,
    TopologyError,
    UnknownDependencyError,
    UnknownNodeError,
    plan_start,
    plan_stop,
)

from .reference import (
    ID,
    NAME,
    REFERENCE_DEPENDENCIES,
    REFERENCE_NODES,
    build_reference_topology,
    names,
)


@pytest.fixture
def topology() -> Topology:
    """The reference homelab."""
    return build_reference_topology()


def test_reference_homelab_layout(topology: Topology) -> None:
    """Nodes keep insertion order; the mapping is read-only."""
    assert list(topology.nodes) == list(ID.values())
    assert list(topology) == list(ID.values())
    assert len(topology) == 13
    assert ID["plex"] in topology
    assert "nope" not in topology
    assert topology.node(ID["NAS"]).name == "NAS"
    assert repr(topology) == "<Topology 13 nodes, 3 dependencies>"
    with pytest.raises(TypeError):
        topology.nodes["x"] = REFERENCE_NODES[0]  # type: ignore[index]


def test_queries(topology: Topology) -> None:
    """Parent, children, ancestors, subtree, dependencies and dependents."""
    assert topology.parent(ID["sandbox"]) == ID["VM-Docker"]
    assert topology.parent(ID["NAS"]) is None
    assert names(topology.children(ID["Machine1"])) == ["VM-Docker", "VM-Ubuntu"]
    assert topology.children(ID["plex"]) == []
    assert names(topology.ancestors(ID["sandbox"])) == ["VM-Docker", "Machine1"]
    assert topology.ancestors(ID["Machine1"]) == []
    assert names(topology.hosted_subtree(ID["Machine1"])) == [
        "VM-Docker",
        "sandbox",
        "plex",
        "VM-Ubuntu",
    ]
    assert topology.hosted_subtree(ID["NAS"]) == []
    assert names(topology.dependencies(ID["sandbox"])) == ["Jellyfin"]
    assert names(topology.dependencies(ID["sandbox"], transitive=True)) == [
        "Jellyfin",
        "NAS",
    ]
    assert names(topology.dependents(ID["NAS"])) == ["plex", "Jellyfin"]
    assert names(topology.dependents(ID["NAS"], transitive=True)) == [
        "plex",
        "Jellyfin",
        "sandbox",
    ]
    assert topology.dependents(ID["sandbox"], transitive=True) == []
    assert [(NAME[a], NAME[b]) for a, b in topology.dependency_edges()] == [
        ("sandbox", "Jellyfin"),
        ("plex", "NAS"),
        ("Jellyfin", "NAS"),
    ]


@pytest.mark.parametrize(
    "query",
    [
        Topology.node,
        Topology.parent,
        Topology.children,
        Topology.ancestors,
        Topology.hosted_subtree,
        Topology.dependencies,
        Topology.dependents,
        Topology.remove_node,
    ],
)
def test_queries_refuse_unknown_nodes(topology: Topology, query: object) -> None:
    """Every query names an unknown id."""
    with pytest.raises(UnknownNodeError) as caught:
        query(topology, "ghost")  # type: ignore[operator]
    assert caught.value.code == "unknown_node"
    assert caught.value.placeholders == {"node": "ghost"}
    assert caught.value.node_id == "ghost"
    assert isinstance(caught.value, ValueError)


def test_duplicate_node(topology: Topology) -> None:
    """A node id can only be added once."""
    with pytest.raises(DuplicateNodeError) as caught:
        topology.add_node(Node(id=ID["NAS"], kind=NodeKind.MACHINE, name="Other"))
    assert caught.value.code == "duplicate_node"
    assert caught.value.placeholders["node"] == "NAS"
    assert topology.node(ID["NAS"]).name == "NAS"


@pytest.mark.parametrize(
    ("kind", "parent", "code"),
    [
        (NodeKind.MACHINE, "NAS", "machine_with_parent"),
        (NodeKind.VM, None, "parent_required"),
        (NodeKind.CONTAINER, None, "parent_required"),
        (NodeKind.VM, "NAS", "parent_lacks_proxmox"),
        (NodeKind.LXC, "RaspberryPi", "parent_lacks_proxmox"),
        (NodeKind.VM, "VM-Docker", "parent_lacks_proxmox"),
        (NodeKind.CONTAINER, "Machine1", "parent_lacks_docker"),
        (NodeKind.CONTAINER, "VM-Ubuntu", "parent_lacks_docker"),
        (NodeKind.CONTAINER, "plex", "parent_is_container"),
    ],
)
def test_invalid_parent(
    topology: Topology, kind: NodeKind, parent: str | None, code: str
) -> None:
    """A node must run on a host offering the API that powers it."""
    node = Node(id="new", kind=kind, name="New", parent=ID.get(parent or "", parent))
    with pytest.raises(InvalidParentError) as caught:
        topology.add_node(node)
    assert caught.value.code == code
    assert caught.value.placeholders["node"] == "New"
    assert "new" not in topology


def test_unknown_parent(topology: Topology) -> None:
    """The parent must be added first."""
    with pytest.raises(UnknownNodeError):
        topology.add_node(Node(id="c", kind=NodeKind.CONTAINER, name="c", parent="x"))


def test_valid_parents(topology: Topology) -> None:
    """Containers on a Docker VM or machine, guests on a Proxmox machine."""
    topology.add_node(Node(id="l", kind=NodeKind.LXC, name="l", parent=ID["Machine2"]))
    topology.add_node(
        Node(id="c", kind=NodeKind.CONTAINER, name="c", parent=ID["RaspberryPi"])
    )
    assert topology.children(ID["Machine2"])[-1] == "l"
    assert topology.children(ID["RaspberryPi"])[-1] == "c"


def test_replace_node_keeps_edges(topology: Topology) -> None:
    """Settings change in place; the node keeps its edges and position."""
    nas = topology.node(ID["NAS"])
    topology.replace_node(dataclasses.replace(nas, confirm_shutdown=False))
    assert topology.node(ID["NAS"]).needs_confirmation is False
    assert names(topology.dependents(ID["NAS"])) == ["plex", "Jellyfin"]
    assert list(topology.nodes) == list(ID.values())


@pytest.mark.parametrize(
    ("name", "changes", "error", "code"),
    [
        ("NAS", {"kind": NodeKind.VM, "parent": "x"}, InvalidNodeError, "kind_changed"),
        ("VM-Ubuntu", {"parent": "Machine2"}, InvalidParentError, "parent_changed"),
        ("VM-Docker", {"capabilities": frozenset()}, InvalidParentError, "parent_lacks_docker"),
        ("Machine1", {"capabilities": frozenset({Capability.DOCKER})}, InvalidParentError, "parent_lacks_proxmox"),
    ],
)  # fmt: skip
def test_replace_node_refusals(
    topology: Topology,
    name: str,
    changes: dict[str, object],
    error: type[TopologyError],
    code: str,
) -> None:
    """Kind and parent are fixed; capabilities must still host the children."""
    if "parent" in changes and changes["parent"] in ID:
        changes["parent"] = ID[str(changes["parent"])]
    old = topology.node(ID[name])
    with pytest.raises(error) as caught:
        topology.replace_node(dataclasses.replace(old, **changes))  # type: ignore[arg-type]
    assert caught.value.code == code
    assert topology.node(ID[name]) is old


def test_remove_node_drops_subtree_and_edges(topology: Topology) -> None:
    """Removing a machine removes its guests and every edge touching them."""
    removed = topology.remove_node(ID["Machine1"])
    assert names(removed) == ["VM-Ubuntu", "plex", "sandbox", "VM-Docker", "Machine1"]
    assert all(node_id not in topology for node_id in removed)
    assert [(NAME[a], NAME[b]) for a, b in topology.dependency_edges()] == [
        ("Jellyfin", "NAS")
    ]
    assert names(topology.dependents(ID["Jellyfin"])) == []
    assert names(topology.dependents(ID["NAS"])) == ["Jellyfin"]


def test_remove_leaf_and_dependency(topology: Topology) -> None:
    """A leaf leaves its parent's children; its edges both ways go."""
    assert topology.remove_node(ID["Jellyfin"]) == [ID["Jellyfin"]]
    assert names(topology.children(ID["Machine2"])) == ["Home-Assistant", "Cloudflared"]
    assert topology.dependencies(ID["sandbox"]) == []
    assert names(topology.dependents(ID["NAS"])) == ["plex"]


def test_remove_dependency(topology: Topology) -> None:
    """An edge can be removed once; removing it again is an error."""
    topology.remove_dependency(ID["plex"], ID["NAS"])
    assert names(topology.dependents(ID["NAS"])) == ["Jellyfin"]
    assert topology.dependencies(ID["plex"]) == []
    with pytest.raises(UnknownDependencyError) as caught:
        topology.remove_dependency(ID["plex"], ID["NAS"])
    assert caught.value.code == "unknown_dependency"
    assert caught.value.placeholders == {"dependent": "plex", "dependency": "NAS"}


@pytest.mark.parametrize(
    ("dependent", "dependency", "error", "message", "placeholders"),
    [
        (
            "NAS",
            "NAS",
            SelfDependencyError,
            "NAS cannot depend on itself",
            {"node": "NAS"},
        ),
        (
            "plex",
            "NAS",
            DuplicateDependencyError,
            "plex already depends on NAS",
            {"dependent": "plex", "dependency": "NAS"},
        ),
        ("NAS", "ghost", UnknownNodeError, "Unknown node 'ghost'", {"node": "ghost"}),
        ("ghost", "NAS", UnknownNodeError, "Unknown node 'ghost'", {"node": "ghost"}),
        (
            "NAS",
            "plex",
            DependencyCycleError,
            "NAS cannot depend on plex: that would create the cycle plex → NAS → plex",
            {"dependent": "NAS", "dependency": "plex", "path": "plex → NAS → plex"},
        ),
        (
            # Through the hosting tree: the guest needs its host.
            "Machine1",
            "sandbox",
            DependencyCycleError,
            (
                "Machine1 cannot depend on sandbox: that would create the cycle"
                " sandbox → VM-Docker → Machine1 → sandbox"
            ),
            {
                "dependent": "Machine1",
                "dependency": "sandbox",
                "path": "sandbox → VM-Docker → Machine1 → sandbox",
            },
        ),
    ],
)
def test_refused_edges(
    topology: Topology,
    dependent: str,
    dependency: str,
    error: type[TopologyError],
    message: str,
    placeholders: dict[str, str],
) -> None:
    """Checking or adding a refused edge: the error names it; nothing changes."""
    edge = (ID.get(dependent, dependent), ID.get(dependency, dependency))
    before = _shape(topology)
    for attempt in (topology.check_dependency, topology.add_dependency):
        with pytest.raises(error) as caught:
            attempt(*edge)
        assert str(caught.value) == message
        assert caught.value.placeholders == placeholders
        assert caught.value.edge == edge
    assert _shape(topology) == before


def test_unknown_ends_elsewhere(topology: Topology) -> None:
    """Removing an edge or searching a cycle needs both ends to exist too."""
    for dependent, dependency in ((ID["NAS"], "ghost"), ("ghost", ID["NAS"])):
        with pytest.raises(UnknownNodeError):
            topology.remove_dependency(dependent, dependency)
        with pytest.raises(UnknownNodeError):
            topology.find_cycle_path(dependent, dependency)
    assert topology.find_cycle_path(ID["NAS"], ID["NAS"]) == [ID["NAS"], ID["NAS"]]


def test_scenario_6_cycle_is_refused_with_its_path(topology: Topology) -> None:
    """Adding "NAS depends on sandbox" is refused: sandbox → Jellyfin → NAS."""
    before = topology.dependency_edges()
    path = [ID["sandbox"], ID["Jellyfin"], ID["NAS"], ID["sandbox"]]
    assert topology.find_cycle_path(ID["NAS"], ID["sandbox"]) == path
    with pytest.raises(DependencyCycleError) as caught:
        topology.add_dependency(ID["NAS"], ID["sandbox"])
    error = caught.value
    assert error.code == "dependency_cycle"
    assert error.path == path
    assert error.placeholders == {
        "dependent": "NAS",
        "dependency": "sandbox",
        "path": "sandbox → Jellyfin → NAS → sandbox",
    }
    assert str(error) == (
        "NAS cannot depend on sandbox: that would create the cycle"
        " sandbox → Jellyfin → NAS → sandbox"
    )
    assert topology.dependency_edges() == before
    assert topology.dependencies(ID["NAS"]) == []


def test_safe_edges_are_accepted(topology: Topology) -> None:
    """A guest may depend on its own host (redundant, not a cycle)."""
    assert topology.find_cycle_path(ID["sandbox"], ID["Machine1"]) is None
    topology.check_dependency(ID["sandbox"], ID["Machine1"])
    assert len(topology.dependency_edges()) == 3
    topology.add_dependency(ID["sandbox"], ID["Machine1"])
    topology.add_dependency(ID["pihole"], ID["NAS"])
    assert names(topology.dependents(ID["NAS"])) == ["plex", "Jellyfin", "pihole"]


def test_copy_is_independent(topology: Topology) -> None:
    """Changing a copy leaves the original alone, and the reverse."""
    clone = topology.copy()
    clone.add_dependency(ID["pihole"], ID["NAS"])
    clone.remove_node(ID["Machine1"])
    topology.add_dependency(ID["Cloudflared"], ID["NAS"])
    assert len(topology) == 13
    assert len(clone) == 8
    assert names(topology.dependents(ID["NAS"])) == ["plex", "Jellyfin", "Cloudflared"]
    assert names(clone.dependents(ID["NAS"])) == ["Jellyfin", "pihole"]
    assert names(topology.children(ID["Machine1"])) == ["VM-Docker", "VM-Ubuntu"]


def _machine(index: int) -> Node:
    return Node(id=f"m{index}", kind=NodeKind.MACHINE, name=f"M{index}")


def test_deep_chains_do_not_recurse() -> None:
    """A chain far deeper than the recursion limit is handled iteratively."""
    depth = max(20_000, 5 * sys.getrecursionlimit())
    topology = Topology()
    topology.add_node(_machine(0))
    for index in range(1, depth):
        topology.add_node(_machine(index))
        topology.add_dependency(f"m{index}", f"m{index - 1}")
    last = f"m{depth - 1}"
    assert len(topology.dependencies(last, transitive=True)) == depth - 1
    assert len(topology.dependents("m0", transitive=True)) == depth - 1
    start = plan_start(topology, {}, last)
    assert [step.node for step in start] == [f"m{i}" for i in range(depth)]
    stop = plan_stop(topology, dict.fromkeys(topology.nodes, PowerState.ON), "m0")
    assert len(stop) == depth
    assert stop[0].node == last
    with pytest.raises(DependencyCycleError) as caught:
        topology.add_dependency("m0", last)
    assert len(caught.value.path) == depth + 1
    assert caught.value.path[0] == caught.value.path[-1] == last


def test_transitive_queries_visit_shared_nodes_once(topology: Topology) -> None:
    """A diamond yields each node once, nearest first."""
    topology.add_dependency(ID["pihole"], ID["plex"])
    topology.add_dependency(ID["pihole"], ID["Jellyfin"])
    assert names(topology.dependencies(ID["pihole"], transitive=True)) == [
        "plex",
        "Jellyfin",
        "NAS",
    ]
    assert names(topology.dependents(ID["NAS"], transitive=True)) == [
        "plex",
        "Jellyfin",
        "pihole",
        "sandbox",
    ]


def _shape(topology: Topology) -> tuple[object, ...]:
    """Everything observable about a topology, in order."""
    return (
        list(topology.nodes.items()),
        topology.dependency_edges(),
        {node_id: topology.children(node_id) for node_id in topology},
        {node_id: topology.dependencies(node_id) for node_id in topology},
        {node_id: topology.dependents(node_id) for node_id in topology},
        {node_id: topology.start_walk(node_id) for node_id in topology},
        {node_id: topology.stop_walk(node_id) for node_id in topology},
    )


def _reference_edges() -> list[tuple[str, str]]:
    return [(ID[a], ID[b]) for a, b in REFERENCE_DEPENDENCIES]


def test_from_parts_builds_the_reference_homelab(topology: Topology) -> None:
    """Bulk loading gives exactly what adding one by one gives."""
    built = Topology.from_parts(iter(REFERENCE_NODES), iter(_reference_edges()))
    assert _shape(built) == _shape(topology)
    assert _shape(Topology.from_parts([], [])) == _shape(Topology())
    # The result is an ordinary, mutable topology.
    built.add_dependency(ID["pihole"], ID["NAS"])
    built.remove_node(ID["Machine1"])
    assert names(built.dependents(ID["NAS"])) == ["Jellyfin", "pihole"]


@pytest.mark.parametrize(
    ("extra", "error", "message"),
    [
        (("ghost", "NAS"), UnknownNodeError, "Unknown node 'ghost'"),
        (("NAS", "ghost"), UnknownNodeError, "Unknown node 'ghost'"),
        (("NAS", "NAS"), SelfDependencyError, "NAS cannot depend on itself"),
        (("plex", "NAS"), DuplicateDependencyError, "plex already depends on NAS"),
        (
            ("NAS", "sandbox"),
            DependencyCycleError,
            (
                "NAS cannot depend on sandbox: that would create the cycle"
                " sandbox → Jellyfin → NAS → sandbox"
            ),
        ),
        (
            ("Machine1", "sandbox"),
            DependencyCycleError,
            (
                "Machine1 cannot depend on sandbox: that would create the cycle"
                " sandbox → VM-Docker → Machine1 → sandbox"
            ),
        ),
    ],
)
def test_from_parts_refuses_what_add_dependency_refuses(
    extra: tuple[str, str], error: type[TopologyError], message: str
) -> None:
    """Same error type, same message, same cycle path as add_dependency."""
    edge = (ID.get(extra[0], extra[0]), ID.get(extra[1], extra[1]))
    sequential = build_reference_topology()
    with pytest.raises(error) as expected:
        sequential.add_dependency(*edge)
    # The offending edge after the reference ones, a harmless one after it.
    edges = [*_reference_edges(), edge, (ID["pihole"], ID["Machine2"])]
    with pytest.raises(error) as caught:
        Topology.from_parts(REFERENCE_NODES, edges)
    assert str(caught.value) == str(expected.value) == message
    assert caught.value.placeholders == expected.value.placeholders
    assert caught.value.edge == expected.value.edge == edge
    if isinstance(caught.value, DependencyCycleError):
        assert isinstance(expected.value, DependencyCycleError)
        assert caught.value.path == expected.value.path


def test_from_parts_blames_the_first_edge_that_closes_a_cycle() -> None:
    """With several cycles, the first one met in edge order is reported."""
    nodes = [_machine(index) for index in range(6)]
    edges = [("m0", "m1"), ("m1", "m2"), ("m3", "m4"), ("m4", "m3"), ("m2", "m0")]
    with pytest.raises(DependencyCycleError) as caught:
        Topology.from_parts(nodes, edges)
    assert caught.value.path == ["m3", "m4", "m3"]
    # A non-cycle refusal after the first cycle does not mask it, and one
    # before it wins.
    with pytest.raises(DependencyCycleError):
        Topology.from_parts(nodes, [*edges, ("m5", "m5")])
    with pytest.raises(SelfDependencyError):
        Topology.from_parts(nodes, [("m5", "m5"), *edges])


def test_from_parts_refuses_what_add_node_refuses() -> None:
    """Duplicate ids and parents listed after their guests are refused."""
    nas = REFERENCE_NODES[0]
    with pytest.raises(DuplicateNodeError):
        Topology.from_parts([nas, nas], [])
    with pytest.raises(UnknownNodeError):
        Topology.from_parts(reversed(REFERENCE_NODES), [])


def test_from_parts_is_linear_on_a_deep_chain() -> None:
    """A 20 000-deep chain loads without one search per edge or recursion."""
    depth = 20_000
    nodes = [_machine(index) for index in range(depth)]
    edges = [(f"m{index}", f"m{index - 1}") for index in range(1, depth)]
    topology = Topology.from_parts(nodes, edges)
    assert len(topology.dependency_edges()) == depth - 1
    with pytest.raises(DependencyCycleError) as caught:
        Topology.from_parts(nodes, [*edges, ("m0", f"m{depth - 1}")])
    assert len(caught.value.path) == depth + 1


def test_sort_ids_follows_insertion_order(topology: Topology) -> None:
    """Any collection of ids comes back in the topology's order."""
    wanted = {ID["plex"], ID["NAS"], ID["pihole"]}
    assert names(topology.sort_ids(wanted)) == ["NAS", "plex", "pihole"]
    topology.remove_node(ID["NAS"])
    topology.add_node(REFERENCE_NODES[0])
    assert names(topology.sort_ids(wanted)) == ["plex", "pihole", "NAS"]
    with pytest.raises(KeyError):
        topology.sort_ids(["ghost"])


def test_remove_node_with_edges_inside_the_subtree(topology: Topology) -> None:
    """Edges between two removed nodes go once, in either direction."""
    topology.add_dependency(ID["sandbox"], ID["plex"])
    topology.add_dependency(ID["VM-Ubuntu"], ID["sandbox"])
    topology.add_dependency(ID["pihole"], ID["plex"])
    topology.remove_node(ID["Machine1"])
    assert [(NAME[a], NAME[b]) for a, b in topology.dependency_edges()] == [
        ("Jellyfin", "NAS")
    ]
    assert topology.dependencies(ID["pihole"]) == []
    assert names(topology.dependents(ID["Jellyfin"])) == []


def test_walk_reports_a_parent_that_is_also_a_dependency(topology: Topology) -> None:
    """A guest depending on its own host reaches it as a dependency first."""
    topology.add_dependency(ID["Jellyfin"], ID["Machine2"])
    walk = topology.start_walk(ID["Jellyfin"])
    assert [(NAME[node], hosting) for node, _, hosting, _ in walk] == [
        ("NAS", False),
        ("Machine2", False),
        ("Jellyfin", False),
    ]
    stop = topology.stop_walk(ID["Machine2"])
    assert [
        (NAME[node], NAME[via] if via else None, hosting)
        for node, via, hosting, _ in stop
    ][-2:] == [("Cloudflared", "Machine2", True), ("Machine2", None, False)]
    assert ("Jellyfin", "Machine2", True) in [
        (NAME[node], NAME[via] if via else None, hosting)
        for node, via, hosting, _ in stop
    ]


def test_cycle_search_meets_a_shared_dependent_once() -> None:
    """The backward search skips a node it already reached (a diamond)."""
    nodes = [_machine(index) for index in range(7)]
    # m1 needs m2, m3, m4: a wide forward frontier, so the search grows the
    # backward one from m0: m5 and m6 need m0, and m7 needs both, so m7 is
    # reached twice going backward.
    edges = [("m1", "m2"), ("m1", "m3"), ("m1", "m4"), ("m5", "m0")]
    edges += [("m6", "m0")]
    topology = Topology.from_parts(nodes, edges)
    topology.add_node(_machine(7))
    topology.add_dependency("m7", "m5")
    topology.add_dependency("m7", "m6")
    assert topology.find_cycle_path("m0", "m1") is None
