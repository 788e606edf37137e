"""Property tests over random hosting forests and random dependency DAGs."""

from __future__ import annotations

from collections import deque
import itertools

from hypothesis import HealthCheck, given, settings, strategies as st
import pytest

from custom_components.wakehub.core import (
    Capability,
    DependencyCycleError,
    Node,
    NodeKind,
    PowerState,
    Topology,
    TopologyError,
    Verdict,
    is_active,
    plan_start,
    plan_stop,
    reevaluate,
)

SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@st.composite
def topologies(draw: st.DrawFn) -> tuple[Topology, list[tuple[str, str]]]:
    """A random valid forest plus random edges; also returns refused edges."""
    topology = Topology()
    count = draw(st.integers(min_value=1, max_value=14))
    for index in range(count):
        proxmox_hosts = [
            n.id
            for n in topology.nodes.values()
            if Capability.PROXMOX in n.capabilities
        ]
        docker_hosts = [
            n.id for n in topology.nodes.values() if Capability.DOCKER in n.capabilities
        ]
        kinds = [NodeKind.MACHINE]
        if proxmox_hosts:
            kinds += [NodeKind.VM, NodeKind.LXC]
        if docker_hosts:
            kinds.append(NodeKind.CONTAINER)
        kind = draw(st.sampled_from(kinds))
        node_id = f"n{index}"
        if kind is NodeKind.MACHINE:
            caps = draw(st.frozensets(st.sampled_from(list(Capability))))
            node = Node(id=node_id, kind=kind, name=node_id, capabilities=caps)
        elif kind is NodeKind.CONTAINER:
            parent = draw(st.sampled_from(docker_hosts))
            node = Node(id=node_id, kind=kind, name=node_id, parent=parent)
        else:
            parent = draw(st.sampled_from(proxmox_hosts))
            caps = draw(st.frozensets(st.just(Capability.DOCKER)))
            node = Node(
                id=node_id, kind=kind, name=node_id, parent=parent, capabilities=caps
            )
        topology.add_node(node)
    ids = list(topology.nodes)
    refused: list[tuple[str, str]] = []
    pairs = draw(
        st.lists(st.tuples(st.sampled_from(ids), st.sampled_from(ids)), max_size=30)
    )
    for dependent, dependency in pairs:
        before = topology.dependency_edges()
        try:
            topology.add_dependency(dependent, dependency)
        except DependencyCycleError:
            refused.append((dependent, dependency))
            assert topology.dependency_edges() == before
        except TopologyError:
            assert topology.dependency_edges() == before
    return topology, refused


def _needs(topology: Topology, node_id: str) -> list[str]:
    parent = topology.parent(node_id)
    return topology.dependencies(node_id) + ([parent] if parent else [])


def _needed_by(topology: Topology, node_id: str) -> list[str]:
    return topology.dependents(node_id) + topology.children(node_id)


def _reachable(topology: Topology, start: str, walk: object) -> set[str]:
    seen = {start}
    queue = deque([start])
    while queue:
        for following in walk(topology, queue.popleft()):  # type: ignore[operator]
            if following not in seen:
                seen.add(following)
                queue.append(following)
    return seen


states_strategy = st.sampled_from(list(PowerState))


@SETTINGS
@given(data=st.data(), built=topologies())
def test_start_plan_is_complete_ordered_and_unique(
    data: st.DataObject, built: tuple[Topology, list[tuple[str, str]]]
) -> None:
    """Every needed non-ON node starts once, after everything it needs."""
    topology, _ = built
    states = {n: data.draw(states_strategy) for n in topology.nodes}
    target = data.draw(st.sampled_from(list(topology.nodes)))
    plan = [step.node for step in plan_start(topology, states, target)]
    assert len(plan) == len(set(plan))
    closure = _reachable(topology, target, _needs)
    assert set(plan) == {n for n in closure if states[n] != PowerState.ON}
    position = {node: index for index, node in enumerate(plan)}
    for node in plan:
        for needed in _needs(topology, node):
            if needed in position:
                assert position[needed] < position[node]


def _first_active_host(
    topology: Topology,
    states: dict[str, PowerState],
    node: str,
    stopped: set[str],
) -> str | None:
    """The first node up ``node``'s hosting chain that is active or stopped."""
    host = topology.parent(node)
    while host is not None and host not in stopped and not is_active(states[host]):
        host = topology.parent(host)
    return host


@SETTINGS
@given(data=st.data(), built=topologies())
def test_stop_plan_and_reevaluation_never_strand_an_active_dependent(
    data: st.DataObject, built: tuple[Topology, list[tuple[str, str]]]
) -> None:
    """Nothing is stopped while something active outside the cascade needs it."""
    topology, _ = built
    states = {n: data.draw(states_strategy) for n in topology.nodes}
    target = data.draw(st.sampled_from(list(topology.nodes)))
    plan = [step.node for step in plan_stop(topology, states, target)]
    assert len(plan) == len(set(plan))
    closure = _reachable(topology, target, _needed_by)
    assert set(plan) == {n for n in closure if is_active(states[n])}
    position = {node: index for index, node in enumerate(plan)}
    for node in plan:
        for needer in _needed_by(topology, node):
            assert needer in position or not is_active(states[needer])
            if needer in position:
                assert position[needer] < position[node]
    stopped = set(plan) | {target}
    # Random "started for a dependent" marks, or None (the literal rule).
    marks = data.draw(
        st.none() | st.sets(st.sampled_from(list(topology.nodes))), label="marks"
    )
    decisions = reevaluate(topology, states, stopped, started_for_dependents=marks)
    for decision in decisions:
        assert decision.node not in stopped
        assert is_active(states[decision.node])
        is_dependency = any(
            decision.node in topology.dependencies(node) for node in stopped
        )
        assert decision.host is not is_dependency
        if decision.host:
            # A host WakeHub started, the first active one above a stopped node.
            assert marks is not None
            assert decision.node in marks
            assert any(
                _first_active_host(topology, states, node, stopped) == decision.node
                for node in stopped
            )
        blockers = [
            needer
            for needer in _needed_by(topology, decision.node)
            if needer not in stopped and is_active(states[needer])
        ]
        settings = topology.node(decision.node)
        if blockers:
            # No STOP verdict for a node with an active dependent or child
            # outside the cascade, whatever the marks.
            assert decision.verdict is Verdict.KEEP
            assert not decision.independent
            assert set(decision.active_dependents) | set(
                decision.active_children
            ) == set(blockers)
        elif settings.needs_confirmation:
            assert decision.verdict is Verdict.CONFIRM
            assert not decision.independent
        elif marks is None or decision.node in marks:
            assert decision.verdict is Verdict.STOP
            assert not decision.independent
        else:
            # Started on its own: kept, and said so.
            assert decision.verdict is Verdict.KEEP
            assert decision.independent
            assert decision.active_dependents == decision.active_children == ()
    # Decisions come once each, in topology order.
    order = [decision.node for decision in decisions]
    assert order == [node_id for node_id in topology.nodes if node_id in set(order)]


@SETTINGS
@given(data=st.data(), built=topologies())
def test_an_edge_closing_a_cycle_is_always_refused(
    data: st.DataObject, built: tuple[Topology, list[tuple[str, str]]]
) -> None:
    """Refused iff the dependency already needs the dependent; nothing changes."""
    topology, refused = built
    for dependent, dependency in refused:
        assert dependent in _reachable(topology, dependency, _needs)
    dependent = data.draw(st.sampled_from(list(topology.nodes)))
    dependency = data.draw(st.sampled_from(list(topology.nodes)))
    before = topology.dependency_edges()
    closes = dependent in _reachable(topology, dependency, _needs)
    path = topology.find_cycle_path(dependent, dependency)
    assert (path is not None) is closes
    if path is None:
        return
    assert path[0] == path[-1] == dependency
    assert dependent in path
    for current, following in itertools.pairwise(path[:-1]):
        assert following in _needs(topology, current)
    with pytest.raises(TopologyError):
        topology.add_dependency(dependent, dependency)
    assert topology.dependency_edges() == before


def _first_refusal(
    nodes: list[Node], edges: list[tuple[str, str]]
) -> tuple[Topology | None, TopologyError | None]:
    """Add one by one, as the reference; stop at the first refusal."""
    topology = Topology()
    try:
        for node in nodes:
            topology.add_node(node)
        for dependent, dependency in edges:
            topology.add_dependency(dependent, dependency)
    except TopologyError as error:
        return None, error
    return topology, None


@SETTINGS
@given(data=st.data(), built=topologies())
def test_from_parts_matches_adding_one_by_one(
    data: st.DataObject, built: tuple[Topology, list[tuple[str, str]]]
) -> None:
    """Same topology, or the same first refusal with the same message."""
    topology, _ = built
    nodes = list(topology.nodes.values())
    ids = [*topology.nodes, "ghost"]
    edges = data.draw(
        st.lists(st.tuples(st.sampled_from(ids), st.sampled_from(ids)), max_size=30),
        label="edges",
    )
    # Mostly valid inputs: also try the accepted edges of the drawn topology.
    if data.draw(st.booleans(), label="accepted edges first"):
        edges = topology.dependency_edges() + edges
    expected, refusal = _first_refusal(nodes, edges)
    if refusal is not None:
        with pytest.raises(type(refusal)) as caught:
            Topology.from_parts(nodes, edges)
        error = caught.value
        assert type(error) is type(refusal)
        assert str(error) == str(refusal)
        assert error.placeholders == refusal.placeholders
        if isinstance(error, DependencyCycleError):
            assert isinstance(refusal, DependencyCycleError)
            assert error.path == refusal.path
        return
    result = Topology.from_parts(nodes, edges)
    assert refusal is None
    assert expected is not None
    assert list(result.nodes.items()) == list(expected.nodes.items())
    assert result.dependency_edges() == expected.dependency_edges()
    for node_id in expected:
        assert result.children(node_id) == expected.children(node_id)
        assert result.dependencies(node_id) == expected.dependencies(node_id)
        assert result.dependents(node_id) == expected.dependents(node_id)
        assert result.start_walk(node_id) == expected.start_walk(node_id)
        assert result.stop_walk(node_id) == expected.stop_walk(node_id)
