"""The planner on the reference homelab: every scenario, step by step."""

from __future__ import annotations

import dataclasses

import pytest

from custom_components.wakehub.core import (
    Action,
    Capability,
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
    dependency_marks,
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


SCENARIO_3_RUNNING = ("NAS", "Machine1", "VM-Docker", "sandbox", "plex", "VM-Ubuntu")


def _stop_machine1(topology: Topology, states: dict[str, PowerState]) -> list[str]:
    """Plan scenario 3's stop of Machine1; return the stopped ids."""
    steps = plan_stop(topology, states, ID["Machine1"])
    assert named(steps) == [
        ("sandbox", "stop", "docker", "hosted", "VM-Docker"),
        ("plex", "stop", "docker", "hosted", "VM-Docker"),
        ("VM-Docker", "stop", "proxmox", "hosted", "Machine1"),
        ("VM-Ubuntu", "stop", "proxmox", "hosted", "Machine1"),
        ("Machine1", "stop", "ssh", "target", None),
    ]
    return [step.node for step in steps]


def _marks_of_scenario_3(topology: Topology) -> set[str]:
    """Marks left by how scenario 3's homelab came up.

    Jellyfin was started on its own (bringing up the NAS and Machine2 for
    it), then sandbox (bringing up Machine1 and VM-Docker; Jellyfin was
    already on), then plex and VM-Ubuntu (nothing left to bring up).
    """
    states = states_of()
    marks: set[str] = set()
    for name in ("Jellyfin", "sandbox", "plex", "VM-Ubuntu"):
        plan = plan_start(topology, states, ID[name])
        marks |= dependency_marks(plan)
        states |= dict.fromkeys((step.node for step in plan), PowerState.ON)
    assert set(names(marks)) == {"NAS", "Machine2", "Machine1", "VM-Docker"}
    return marks


def test_scenario_3_stop_machine1(topology: Topology) -> None:
    """Containers, VMs, Machine1; then the NAS stays for Jellyfin, which stays too.

    Jellyfin was started on its own, not for sandbox: it is kept, and nothing
    is stopped automatically (reference homelab, scenario 3).
    """
    states = states_of([*SCENARIO_3_RUNNING, "Machine2", "Jellyfin"])
    stopped = _stop_machine1(topology, states)
    decisions = reevaluate(
        topology,
        states,
        stopped,
        started_for_dependents=_marks_of_scenario_3(topology),
    )
    assert decisions == [
        Decision(ID["NAS"], Verdict.KEEP, (ID["Jellyfin"],), ()),
        Decision(ID["Jellyfin"], Verdict.KEEP, independent=True),
    ]
    assert not any(decision.verdict is Verdict.STOP for decision in decisions)


def test_scenario_3_without_marks_applies_the_literal_rule(topology: Topology) -> None:
    """``started_for_dependents=None``: docs/design.md, "Re-evaluation", to the letter.

    Every node counts as started for its dependents, so Jellyfin (an LXC,
    which does not ask by default) is stopped with its last dependent, and
    its own re-evaluation then proposes the NAS. This is what callers that
    keep no marks get; the reference scenario wants the marks (above).
    """
    states = states_of([*SCENARIO_3_RUNNING, "Machine2", "Jellyfin"])
    stopped = _stop_machine1(topology, states)
    assert reevaluate(topology, states, stopped, started_for_dependents=None) == [
        Decision(ID["NAS"], Verdict.KEEP, (ID["Jellyfin"],), ()),
        Decision(ID["Jellyfin"], Verdict.STOP),
    ]
    after = states | dict.fromkeys(stopped, PowerState.OFF)
    jellyfin_stop = plan_stop(topology, after, ID["Jellyfin"])
    assert named(jellyfin_stop) == [("Jellyfin", "stop", "proxmox", "target", None)]
    assert reevaluate(topology, after, [*stopped, ID["Jellyfin"]]) == [
        Decision(ID["NAS"], Verdict.CONFIRM)
    ]


@pytest.mark.parametrize(
    "marks", [None, set(), {"NAS"}], ids=["literal", "no-marks", "NAS-marked"]
)
def test_scenario_3_stop_machine1_with_jellyfin_off(
    topology: Topology, marks: set[str] | None
) -> None:
    """With Jellyfin off the NAS is orphaned: a machine, so ask first, marked or not."""
    marks = None if marks is None else {ID[name] for name in marks}
    states = states_of(SCENARIO_3_RUNNING)
    stopped = _stop_machine1(topology, states)
    decisions = reevaluate(topology, states, stopped, started_for_dependents=marks)
    assert decisions == [Decision(ID["NAS"], Verdict.CONFIRM)]
    assert not any(decision.verdict is Verdict.STOP for decision in decisions)


def test_autoremove_chain(topology: Topology) -> None:
    """What a start cascade brought up for sandbox goes with it, machines asking.

    Starting sandbox from all off marks the NAS, Machine2, Jellyfin, Machine1
    and VM-Docker. Stopping sandbox stops Jellyfin (its dependency) and
    VM-Docker (its host, left running nothing) automatically; their own
    re-evaluations then propose the NAS, Machine2 and Machine1 (machines:
    confirmation). docs/design.md, "Re-evaluation".
    """
    start = plan_start(topology, states_of(), ID["sandbox"])
    marks = dependency_marks(start)
    assert set(names(marks)) == {"NAS", "Machine2", "Jellyfin", "Machine1", "VM-Docker"}
    states = states_of(names(step.node for step in start))
    stop = plan_stop(topology, states, ID["sandbox"])
    assert named(stop) == [("sandbox", "stop", "docker", "target", None)]
    stopped = [ID["sandbox"]]
    assert reevaluate(topology, states, stopped, started_for_dependents=marks) == [
        Decision(ID["VM-Docker"], Verdict.STOP, host=True),
        Decision(ID["Jellyfin"], Verdict.STOP),
    ]
    states[ID["sandbox"]] = PowerState.OFF
    jellyfin_stop = plan_stop(topology, states, ID["Jellyfin"])
    assert named(jellyfin_stop) == [("Jellyfin", "stop", "proxmox", "target", None)]
    vm_stop = plan_stop(topology, states, ID["VM-Docker"])
    assert named(vm_stop) == [("VM-Docker", "stop", "proxmox", "target", None)]
    states[ID["Jellyfin"]] = states[ID["VM-Docker"]] = PowerState.OFF
    assert reevaluate(
        topology, states, [ID["Jellyfin"]], started_for_dependents=marks
    ) == [
        Decision(ID["NAS"], Verdict.CONFIRM),
        Decision(ID["Machine2"], Verdict.CONFIRM, host=True),
    ]
    assert reevaluate(
        topology, states, [ID["VM-Docker"]], started_for_dependents=marks
    ) == [Decision(ID["Machine1"], Verdict.CONFIRM, host=True)]


def test_host_the_user_started_stays_on(topology: Topology) -> None:
    """A host without a mark (started by the user, or already on) is no candidate."""
    states = states_of(["Machine1", "VM-Docker"])
    marks = {ID["Machine1"]}
    # VM-Docker was on before plex: stopping plex leaves it, and so Machine1.
    assert (
        reevaluate(topology, states, [ID["plex"]], started_for_dependents=marks) == []
    )
    # Nor is a host a candidate without marks at all (nothing says who started it).
    assert reevaluate(topology, states, [ID["plex"]]) == []


def test_host_still_running_something_is_kept(topology: Topology) -> None:
    """A started host that still runs another active child is kept, naming it."""
    states = states_of(["Machine1", "VM-Docker", "VM-Ubuntu"])
    marks = {ID["Machine1"], ID["VM-Docker"]}
    (vm,) = reevaluate(topology, states, [ID["plex"]], started_for_dependents=marks)
    assert vm == Decision(ID["VM-Docker"], Verdict.STOP, host=True)
    states[ID["VM-Docker"]] = PowerState.OFF
    assert reevaluate(
        topology, states, [ID["VM-Docker"]], started_for_dependents=marks
    ) == [
        Decision(
            ID["Machine1"], Verdict.KEEP, active_children=(ID["VM-Ubuntu"],), host=True
        )
    ]


def test_host_above_hosts_that_are_off(topology: Topology) -> None:
    """A start cancelled once Machine1 was up: Machine1 is re-evaluated.

    plex's start woke Machine1, then was cancelled before VM-Docker started:
    the stop of plex climbs through VM-Docker (off) to Machine1.
    """
    states = states_of(["NAS", "Machine1"])
    marks = {ID["Machine1"]}
    assert reevaluate(topology, states, [ID["plex"]], started_for_dependents=marks) == [
        Decision(ID["NAS"], Verdict.CONFIRM),
        Decision(ID["Machine1"], Verdict.CONFIRM, host=True),
    ]


def test_node_a_queued_start_needs_is_kept(topology: Topology) -> None:
    """A dependency or host that a queued start needs stays on, naming the start."""
    states = states_of(["NAS", "Machine2", "Jellyfin"])
    marks = {ID["NAS"], ID["Machine2"]}
    needed = {ID["NAS"]: ID["plex"]}
    assert reevaluate(
        topology, states, [ID["Jellyfin"]], started_for_dependents=marks, needed=needed
    ) == [
        Decision(ID["NAS"], Verdict.KEEP, needed_by=ID["plex"]),
        Decision(ID["Machine2"], Verdict.CONFIRM, host=True),
    ]


def test_unmarked_node_that_confirms_is_still_proposed(topology: Topology) -> None:
    """Asking is harmless: a confirm-on node is proposed even without a mark."""
    jellyfin = topology.node(ID["Jellyfin"])
    topology.replace_node(dataclasses.replace(jellyfin, confirm_shutdown=True))
    states = states_of(
        ["NAS", "Machine2", "Jellyfin", "Machine1", "VM-Docker", "sandbox"]
    )
    assert reevaluate(topology, states, [ID["sandbox"]], started_for_dependents=()) == [
        Decision(ID["Jellyfin"], Verdict.CONFIRM)
    ]


def test_unmarked_node_without_confirmation_is_kept_as_independent(
    topology: Topology,
) -> None:
    """An LXC the user started on its own stays, marked as independent."""
    states = states_of(
        ["NAS", "Machine2", "Jellyfin", "Machine1", "VM-Docker", "sandbox"]
    )
    (decision,) = reevaluate(
        topology, states, [ID["sandbox"]], started_for_dependents={ID["NAS"]}
    )
    assert decision == Decision(ID["Jellyfin"], Verdict.KEEP, independent=True)
    assert decision.active_dependents == decision.active_children == ()


def test_dependency_marks_leave_out_the_target_and_what_is_up(
    topology: Topology,
) -> None:
    """Only nodes the cascade itself starts for another node are marked."""
    states = states_of(["NAS", "Machine2"])
    assert dependency_marks(plan_start(topology, states, ID["Jellyfin"])) == set()
    marks = dependency_marks(plan_start(topology, states, ID["plex"]))
    assert set(names(marks)) == {"Machine1", "VM-Docker"}


def test_steps_and_reasons_are_named_tuples() -> None:
    """Fields by name, immutable, hashable, equal by value."""
    reason = Reason(ReasonKind.HOST, "x")
    step = Step("n", Action.START, Channel.WOL, reason)
    assert (step.node, step.action, step.channel, step.reason) == tuple(step)
    assert step.reason.kind is ReasonKind.HOST
    assert step.reason.of == "x"
    assert Reason(ReasonKind.TARGET).of is None
    assert step == Step("n", Action.START, Channel.WOL, Reason(ReasonKind.HOST, "x"))
    assert len({step, Step("n", Action.START, Channel.WOL, reason)}) == 1
    with pytest.raises(AttributeError):
        step.node = "m"  # type: ignore[misc]


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


def test_plans_are_repeatable_and_use_every_reason(topology: Topology) -> None:
    """The same request gives the same plan; both plans give all five reasons."""
    on = states_of(ALL_ON)
    stops = plan_stop(topology, on, ID["Machine2"])
    assert plan_stop(topology, on, ID["Machine2"]) == stops
    starts = plan_start(topology, {}, ID["sandbox"])
    assert plan_start(topology, {}, ID["sandbox"]) == starts
    # A start and a stop reason about the same node differ in kind.
    kinds = {step.reason.kind for step in stops + starts}
    assert kinds == set(ReasonKind)


def test_plans_follow_every_change_of_the_topology() -> None:
    """The walk tables are built once per version of the topology: a plan
    made after a change (an edge added or removed, a node replaced or
    removed) sees it."""
    topology = build_reference_topology()
    off = states_of()
    assert names(s.node for s in plan_start(topology, off, ID["plex"])) == [
        "NAS",
        "Machine1",
        "VM-Docker",
        "plex",
    ]
    topology.add_dependency(ID["plex"], ID["Jellyfin"])
    assert names(s.node for s in plan_start(topology, off, ID["plex"])) == [
        "NAS",
        "Machine2",
        "Jellyfin",
        "Machine1",
        "VM-Docker",
        "plex",
    ]
    topology.remove_dependency(ID["plex"], ID["NAS"])
    on = states_of(["NAS", "Machine1", "Machine2", "Jellyfin", "VM-Docker", "plex"])
    assert names(s.node for s in plan_stop(topology, on, ID["Jellyfin"])) == [
        "plex",
        "Jellyfin",
    ]
    topology.remove_node(ID["VM-Docker"])
    assert names(s.node for s in plan_stop(topology, on, ID["Jellyfin"])) == [
        "Jellyfin"
    ]
    nas = topology.node(ID["NAS"])
    topology.replace_node(dataclasses.replace(nas, shutdown_channel=Channel.SSH))
    assert plan_stop(topology, on, ID["NAS"])[-1].channel is Channel.SSH


def test_reevaluate_judges_machines_woken_early() -> None:
    """Machines a failed start woke early are candidates even while their
    poll still says off: a machine asks first, a guest-less machine that
    does not ask is stopped when WakeHub started it."""
    topology = build_reference_topology()
    pi = topology.node(ID["RaspberryPi"])
    topology.replace_node(dataclasses.replace(pi, confirm_shutdown=False))
    decisions = reevaluate(
        topology,
        states_of(),
        (),
        started_for_dependents={ID["Machine1"], ID["RaspberryPi"]},
        woken=[ID["Machine1"], ID["RaspberryPi"]],
    )
    assert [(d.node, d.verdict) for d in decisions] == [
        (ID["Machine1"], Verdict.CONFIRM),
        (ID["RaspberryPi"], Verdict.STOP),
    ]


def _copy(text: str) -> str:
    """An equal string that is a distinct object (as ids read from a file are)."""
    copy = text.encode().decode()
    assert copy is not text
    return copy


def test_plan_steps_name_nodes_by_their_own_id() -> None:
    """Steps carry the node's own id string, not the copy an edge was given.

    The ids given to the edges and the ``parent`` field are equal but distinct
    strings; a plan's steps reuse ``Node.id`` (the topology's key), so that
    looking them up compares by identity (see ``scripts/bench planner``).
    """
    topology = Topology()
    host_id, app_id, db_id = "host", "app", "db"
    topology.add_node(
        Node(
            id=host_id,
            kind=NodeKind.MACHINE,
            name="host",
            capabilities=frozenset(Capability),
        )
    )
    topology.add_node(Node(id=db_id, kind=NodeKind.MACHINE, name="db"))
    topology.add_node(
        Node(
            id=app_id,
            kind=NodeKind.VM,
            name="app",
            parent=_copy(host_id),
        )
    )
    topology.add_dependency(app_id, _copy(db_id))
    own = {node_id: node.id for node_id, node in topology.nodes.items()}
    start = plan_start(topology, {}, app_id)
    assert [step.node for step in start] == [db_id, host_id, app_id]
    assert all(step.node is own[step.node] for step in start)
    stop = plan_stop(topology, dict.fromkeys(own, PowerState.ON), host_id)
    assert [step.node for step in stop] == [app_id, host_id]
    assert all(step.node is own[step.node] for step in stop)
