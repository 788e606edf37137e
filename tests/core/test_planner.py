"""The planner on the reference homelab: every scenario, step by step."""

from __future__ import annotations

import pytest

from custom_components.wakehub.core import (
    Action,
    Channel,
    Decision,
    Node,
    NodeKind,
    PowerState,
    Reason,
    ReasonKind,
    Step,
    Topology,
    UnknownNodeError,
    Verdict,
    plan_start,
    plan_stop,
    reevaluate,
)

from .reference import ID, build_reference_topology, named, names, states_of

ALL_ON = tuple(ID)


@pytest.fixture
def topology() -> Topology:
    """The reference homelab."""
    return build_reference_topology()


def test_scenario_1_start_jellyfin_everything_off(topology: Topology) -> None:
    """WoL the NAS, WoL Machine2, start LXC 202; nothing else."""
    steps = plan_start(topology, states_of(), ID["Jellyfin"])
    assert named(steps) == [
        ("NAS", "start", "wol", "dependency", "Jellyfin"),
        ("Machine2", "start", "wol", "host", "Jellyfin"),
        ("Jellyfin", "start", "proxmox", "target", None),
    ]
    assert steps[0] == Step(
        ID["NAS"],
        Action.START,
        Channel.WOL,
        Reason(ReasonKind.DEPENDENCY, ID["Jellyfin"]),
    )


def test_scenario_2_start_sandbox_everything_off(topology: Topology) -> None:
    """NAS → Machine2 → Jellyfin → Machine1 → VM-Docker → sandbox."""
    assert named(plan_start(topology, {}, ID["sandbox"])) == [
        ("NAS", "start", "wol", "dependency", "Jellyfin"),
        ("Machine2", "start", "wol", "host", "Jellyfin"),
        ("Jellyfin", "start", "proxmox", "dependency", "sandbox"),
        ("Machine1", "start", "wol", "host", "VM-Docker"),
        ("VM-Docker", "start", "proxmox", "host", "sandbox"),
        ("sandbox", "start", "docker", "target", None),
    ]


def test_start_skips_what_is_on_but_walks_through_it(topology: Topology) -> None:
    """Jellyfin up with the NAS down: the NAS still starts, Jellyfin does not."""
    states = states_of(["Machine2", "Jellyfin", "Machine1"], PowerState.ERROR)
    assert named(plan_start(topology, states, ID["sandbox"])) == [
        ("NAS", "start", "wol", "dependency", "Jellyfin"),
        ("VM-Docker", "start", "proxmox", "host", "sandbox"),
        ("sandbox", "start", "docker", "target", None),
    ]
    assert plan_start(topology, states_of(ALL_ON), ID["sandbox"]) == []


def test_start_of_a_running_target_is_empty(topology: Topology) -> None:
    """A retry after success has nothing left to do."""
    assert plan_start(topology, states_of(ALL_ON), ID["NAS"]) == []


def test_start_order_is_a_true_topological_order() -> None:
    """A→B, A→C, B→D, D→C: C must start before D (the old bug)."""
    topology = Topology()
    for name in "ABCD":
        topology.add_node(Node(id=name, kind=NodeKind.MACHINE, name=name))
    for dependent, dependency in (("A", "B"), ("A", "C"), ("B", "D"), ("D", "C")):
        topology.add_dependency(dependent, dependency)
    steps = plan_start(topology, {}, "A")
    assert [(step.node, step.reason) for step in steps] == [
        ("C", Reason(ReasonKind.DEPENDENCY, "D")),
        ("D", Reason(ReasonKind.DEPENDENCY, "B")),
        ("B", Reason(ReasonKind.DEPENDENCY, "A")),
        ("A", Reason(ReasonKind.TARGET)),
    ]


def test_machine_stop_channel_can_be_proxmox(topology: Topology) -> None:
    """A Proxmox machine set to shut down through the node API says so."""
    machine1 = topology.node(ID["Machine1"])
    topology.replace_node(
        Node(
            id=machine1.id,
            kind=machine1.kind,
            name=machine1.name,
            capabilities=machine1.capabilities,
            shutdown_channel=Channel.PROXMOX,
        )
    )
    steps = plan_stop(topology, states_of(["Machine1"]), ID["Machine1"])
    assert named(steps) == [("Machine1", "stop", "proxmox", "target", None)]


def test_scenario_3_stop_machine1(topology: Topology) -> None:
    """Containers, then VMs, then Machine1; the NAS stays for Jellyfin."""
    running = ["NAS", "Machine1", "VM-Docker", "sandbox", "plex", "VM-Ubuntu"]
    states = states_of([*running, "Machine2", "Jellyfin"])
    steps = plan_stop(topology, states, ID["Machine1"])
    assert named(steps) == [
        ("sandbox", "stop", "docker", "hosted", "VM-Docker"),
        ("plex", "stop", "docker", "hosted", "VM-Docker"),
        ("VM-Docker", "stop", "proxmox", "hosted", "Machine1"),
        ("VM-Ubuntu", "stop", "proxmox", "hosted", "Machine1"),
        ("Machine1", "stop", "ssh", "target", None),
    ]
    stopped = [step.node for step in steps]
    # The NAS stays on for Jellyfin, with the reason recorded. Jellyfin
    # itself was a dependency of sandbox and has no other active dependent:
    # an LXC does not ask by default (domain rules, section 4.3), so it is
    # stopped automatically...
    assert reevaluate(topology, states, stopped) == [
        Decision(ID["NAS"], Verdict.KEEP, (ID["Jellyfin"],), ()),
        Decision(ID["Jellyfin"], Verdict.STOP),
    ]
    # ...and that stop re-evaluates in turn: now the NAS is orphaned, and
    # being a machine, it is only proposed for shutdown.
    after = states | dict.fromkeys(stopped, PowerState.OFF)
    jellyfin_stop = plan_stop(topology, after, ID["Jellyfin"])
    assert named(jellyfin_stop) == [("Jellyfin", "stop", "proxmox", "target", None)]
    assert reevaluate(topology, after, [*stopped, ID["Jellyfin"]]) == [
        Decision(ID["NAS"], Verdict.CONFIRM)
    ]


def test_scenario_3_stop_machine1_with_jellyfin_off(topology: Topology) -> None:
    """With Jellyfin off the NAS is orphaned: a machine, so ask first."""
    states = states_of(["NAS", "Machine1", "VM-Docker", "sandbox", "plex", "VM-Ubuntu"])
    stopped = [step.node for step in plan_stop(topology, states, ID["Machine1"])]
    decisions = reevaluate(topology, states, stopped)
    assert decisions == [Decision(ID["NAS"], Verdict.CONFIRM)]
    assert not any(decision.verdict is Verdict.STOP for decision in decisions)


def test_scenario_4_stop_jellyfin_while_sandbox_runs(topology: Topology) -> None:
    """sandbox first, then Jellyfin; the NAS stays while plex runs."""
    states = states_of(
        ["NAS", "Machine1", "VM-Docker", "sandbox", "plex", "Machine2", "Jellyfin"]
    )
    steps = plan_stop(topology, states, ID["Jellyfin"])
    assert named(steps) == [
        ("sandbox", "stop", "docker", "dependent", "Jellyfin"),
        ("Jellyfin", "stop", "proxmox", "target", None),
    ]
    stopped = [step.node for step in steps]
    assert reevaluate(topology, states, stopped) == [
        Decision(ID["NAS"], Verdict.KEEP, (ID["plex"],), ())
    ]


def test_scenario_5_shared_dependency(topology: Topology) -> None:
    """Stopping plex or Jellyfin never stops the NAS while the other runs."""
    states = states_of(["NAS", "Machine1", "VM-Docker", "plex", "Machine2", "Jellyfin"])
    plex_stop = plan_stop(topology, states, ID["plex"])
    assert named(plex_stop) == [("plex", "stop", "docker", "target", None)]
    assert reevaluate(topology, states, [ID["plex"]]) == [
        Decision(ID["NAS"], Verdict.KEEP, (ID["Jellyfin"],), ())
    ]
    jellyfin_stop = plan_stop(topology, states, ID["Jellyfin"])
    assert names(step.node for step in jellyfin_stop) == ["Jellyfin"]
    assert reevaluate(topology, states, {ID["Jellyfin"]}) == [
        Decision(ID["NAS"], Verdict.KEEP, (ID["plex"],), ())
    ]
    # Both stopped in the same cascade: neither counts as active any more.
    assert reevaluate(topology, states, {ID["Jellyfin"], ID["plex"]}) == [
        Decision(ID["NAS"], Verdict.CONFIRM)
    ]


def test_reevaluation_counts_error_and_unknown_as_active(topology: Topology) -> None:
    """A dependent in error or of unknown state keeps its dependency on."""
    for state in (PowerState.ERROR, PowerState.UNKNOWN, PowerState.STARTING):
        states = states_of(["NAS"]) | {ID["Jellyfin"]: state}
        assert reevaluate(topology, states, [ID["plex"]]) == [
            Decision(ID["NAS"], Verdict.KEEP, (ID["Jellyfin"],), ())
        ]


def test_reevaluation_keeps_a_host_with_active_children(topology: Topology) -> None:
    """A dependency that hosts an active child is kept, with the child named."""
    topology.add_dependency(ID["pihole"], ID["VM-Docker"])
    states = states_of(["Machine1", "VM-Docker", "plex", "RaspberryPi", "pihole"])
    assert reevaluate(topology, states, [ID["pihole"]]) == [
        Decision(ID["VM-Docker"], Verdict.KEEP, (), (ID["plex"],))
    ]
    states[ID["plex"]] = PowerState.OFF
    assert reevaluate(topology, states, [ID["pihole"]]) == [
        Decision(ID["VM-Docker"], Verdict.STOP)
    ]


def test_reevaluation_ignores_what_is_off_or_stopped(topology: Topology) -> None:
    """Only active dependencies outside the cascade are candidates."""
    states = states_of(["sandbox", "Jellyfin"])
    assert reevaluate(topology, states, [ID["sandbox"], ID["Jellyfin"]]) == []
    assert reevaluate(topology, states_of(["sandbox"]), [ID["sandbox"]]) == []
    assert reevaluate(topology, states, []) == []


def test_confirmation_override(topology: Topology) -> None:
    """A machine set not to confirm is stopped; a container set to, asks."""
    nas = topology.node(ID["NAS"])
    topology.replace_node(
        Node(id=nas.id, kind=nas.kind, name=nas.name, confirm_shutdown=False)
    )
    states = states_of(["NAS", "plex"])
    assert reevaluate(topology, states, [ID["plex"]]) == [
        Decision(ID["NAS"], Verdict.STOP)
    ]


def test_stop_skips_what_is_off(topology: Topology) -> None:
    """Off nodes are skipped, but their dependents are still reached."""
    states = states_of(["sandbox", "Machine2"])
    assert named(plan_stop(topology, states, ID["NAS"])) == [
        ("sandbox", "stop", "docker", "dependent", "Jellyfin"),
    ]
    assert plan_stop(topology, {}, ID["Machine1"]) == []


@pytest.mark.parametrize("planner", [plan_start, plan_stop])
def test_unknown_target(topology: Topology, planner: object) -> None:
    """An unknown target is an error, not an empty plan."""
    with pytest.raises(UnknownNodeError):
        planner(topology, {}, "ghost")  # type: ignore[operator]


def test_reevaluation_of_unknown_node(topology: Topology) -> None:
    """An unknown stopped node is an error."""
    with pytest.raises(UnknownNodeError):
        reevaluate(topology, {}, ["ghost"])


def test_plain_string_states_are_understood(topology: Topology) -> None:
    """States restored from storage as plain strings compare equal."""
    states = {ID["NAS"]: "on", ID["Machine2"]: "on"}
    steps = plan_start(topology, states, ID["Jellyfin"])  # type: ignore[arg-type]
    assert names(step.node for step in steps) == ["Jellyfin"]
