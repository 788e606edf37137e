"""The reference homelab's scenarios, end to end, against the simulator.

The orchestrator drives the real channels (WoL, SSH, Proxmox, Docker) through
:class:`~tests.orchestrator.simulator_driver.SimulatorDriver`; every assertion on
commands reads the simulator's own log (``GET /log``), which records what it
actually received, in order.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest

from custom_components.wakehub.core import Action, Topology, Verdict
from custom_components.wakehub.orchestrator import (
    Cascade,
    CascadeStatus,
    NodeReached,
    Orchestrator,
    OrchestratorEvent,
    Reevaluated,
    StepChanged,
    StepEventKind,
    StepStatus,
)
from tests.core.reference import SANDBOX_COLD_START

from .simulator_driver import SimulatorDriver, build_topology, node_ids

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Iterator

    from tests.homelab import Homelab
    from tests.homelab.thread import HomelabThread

POLL = 0.02

# The simulator's log (node, action) of two cascades several tests run.
START_JELLYFIN = [("NAS", "wol"), ("Machine2", "wol"), ("Jellyfin", "pve_start")]
STOP_MACHINE1 = [
    ("sandbox", "docker_stop"),
    ("plex", "docker_stop"),
    ("VM-Docker", "pve_shutdown"),
    ("VM-Ubuntu", "pve_shutdown"),
    ("Machine1", "ssh_shutdown"),
]


@dataclass
class Lab:
    """One test's view of the simulator and of an orchestrator driving it."""

    sim: HomelabThread
    topology: Topology
    driver: SimulatorDriver
    orchestrator: Orchestrator
    ids: dict[str, str]
    events: list[OrchestratorEvent]

    def log(self) -> list[tuple[str, str]]:
        """The simulator's power log as (node name, action)."""
        return [(entry["node"], entry["action"]) for entry in self.sim.log()]

    def states(self, *names: str) -> dict[str, str]:
        """The simulator's own power state of the named nodes."""
        return {name: self.sim.state(name) for name in names}

    def up(self) -> set[str]:
        """Names of every node that is up in the simulator."""
        return {
            node["name"]
            for node in self.sim.nodes()
            if node["state"] in ("on", "running")
        }

    def power(self, *names: str) -> None:
        """Bring the named nodes (and their ancestors) up, instantly."""
        for name in names:
            kind = self.sim.ready["nodes"][name]["kind"]
            self.sim.set_power(name, "on" if kind == "machine" else "running")

    def id(self, name: str) -> str:
        """The node id of a display name."""
        return self.ids[name]

    def reevaluations(self) -> list[Reevaluated]:
        """Every re-evaluation reported so far."""
        return [e for e in self.events if isinstance(e, Reevaluated)]

    async def settle(self) -> None:
        """Wait until the orchestrator has nothing running or queued."""
        while self.orchestrator.running or self.orchestrator.queued:
            current = self.orchestrator.running or self.orchestrator.queued[0]
            await current.wait()
            await asyncio.sleep(0)

    async def run(self, action: Action, name: str) -> Cascade:
        """Request a cascade, wait for it and for its follow-ups."""
        cascade = await self.orchestrator.async_request(action, self.id(name))
        await cascade.wait()
        await self.settle()
        return cascade


@pytest.fixture
async def lab(homelab: HomelabThread) -> AsyncIterator[Lab]:
    """An orchestrator over the freshly reset simulator."""
    ready = homelab.ready
    topology = build_topology(ready)
    driver = SimulatorDriver.from_ready(ready, topology)
    orchestrator = Orchestrator(topology, driver, poll_interval=POLL)
    events: list[OrchestratorEvent] = []
    orchestrator.add_listener(events.append)
    yield Lab(homelab, topology, driver, orchestrator, node_ids(ready), events)
    await orchestrator.async_shutdown()
    await driver.close()


def _statuses(cascade: Cascade) -> list[tuple[str, StepStatus]]:
    return [(step.name, step.status) for step in cascade.steps]


async def test_scenario_1_start_jellyfin_from_all_off(lab: Lab) -> None:
    """WoL NAS -> WoL Machine2 (Proxmox API up) -> start LXC 202. Nothing else."""
    cascade = await lab.run(Action.START, "Jellyfin")

    assert cascade.status is CascadeStatus.COMPLETED
    assert lab.log() == START_JELLYFIN
    assert lab.up() == {"NAS", "Machine2", "Jellyfin"}
    assert lab.orchestrator.activities == {}


async def test_scenario_2_start_sandbox_from_all_off(lab: Lab) -> None:
    """NAS -> Machine2 -> Jellyfin -> Machine1 -> VM-Docker (Docker API) -> sandbox."""
    cascade = await lab.run(Action.START, "sandbox")

    assert cascade.status is CascadeStatus.COMPLETED
    assert lab.log() == [
        *START_JELLYFIN,
        ("Machine1", "wol"),
        ("VM-Docker", "pve_start"),
        ("sandbox", "docker_start"),
    ]
    assert lab.up() == set(SANDBOX_COLD_START)
    details = {step.name: step.as_dict()["reason"] for step in cascade.steps}
    assert details == {
        "NAS": "dependency",
        "Machine2": "host",
        "Jellyfin": "dependency",
        "Machine1": "host",
        "VM-Docker": "host",
        "sandbox": "target",
    }
    # VM-Docker was only ready once its Docker API answered (and Machine1
    # once its Proxmox API did): every command went through at the first try.
    assert _statuses(cascade) == [(s.name, StepStatus.DONE) for s in cascade.steps]
    waits = {
        event.step.name: event.detail
        for event in lab.events
        if isinstance(event, StepChanged) and event.kind is StepEventKind.WAITING
    }
    assert waits["Machine2"] == "waiting for Machine2's Proxmox API"
    assert waits["Machine1"] == "waiting for Machine1's Proxmox API"


async def test_scenario_2_with_every_machine_woken_early(lab: Lab) -> None:
    """The same cold start with early wake on the three machines, through the
    real channels: their magic packets go out first, the other commands keep
    their order one at a time, Machine1 (watched while it booted) is shown up
    before its step and its step sends nothing, and VM-Docker, looked at on
    its Docker API's port while it boots, costs one agent ping, not a ping
    every check."""
    machines = [lab.id(name) for name in ("NAS", "Machine2", "Machine1")]
    lab.orchestrator.set_early_wake(dict.fromkeys(machines, 0.0))
    lab.sim.reset_requests()
    cascade = await lab.run(Action.START, "sandbox")

    assert cascade.status is CascadeStatus.COMPLETED
    log = lab.log()
    assert {node for node, _action in log[:3]} == {"NAS", "Machine2", "Machine1"}
    assert [entry for entry in log if entry[1] != "wol"] == [
        ("Jellyfin", "pve_start"),
        ("VM-Docker", "pve_start"),
        ("sandbox", "docker_start"),
    ]
    assert lab.up() == set(SANDBOX_COLD_START)
    assert dict(_statuses(cascade))["Machine1"] is StepStatus.SKIPPED
    assert lab.id("Machine1") in {
        event.node for event in lab.events if isinstance(event, NodeReached)
    }
    machine1 = lab.sim.requests()["hosts"]["Machine1"]["endpoints"]
    assert machine1.get("proxmox POST /nodes/{node}/qemu/{vmid}/agent/ping", 0) <= 2


async def test_early_wake_sends_nothing_to_a_machine_already_on(lab: Lab) -> None:
    """Machine1 runs (the last poll says so): a start of sandbox with early
    wake on every machine wakes the NAS and Machine2 only; no magic packet
    takes room in Machine1's budget."""
    lab.power("Machine1")
    await lab.driver.states()  # the last poll
    machines = [lab.id(name) for name in ("NAS", "Machine2", "Machine1")]
    lab.orchestrator.set_early_wake(dict.fromkeys(machines, 0.0))
    cascade = await lab.run(Action.START, "sandbox")

    assert cascade.status is CascadeStatus.COMPLETED
    wol = {node for node, action in lab.log() if action == "wol"}
    assert wol == {"NAS", "Machine2"}


async def test_scenario_3_stop_machine1_with_jellyfin_running(lab: Lab) -> None:
    """Bottom-up stop of Machine1; Jellyfin and the NAS stay on.

    Jellyfin was started on its own (not by WakeHub for sandbox), so losing
    its only dependent does not stop it: it is kept as "independent". The
    NAS is kept because Jellyfin still needs it. Nothing stops automatically.
    """
    lab.power("NAS", "sandbox", "plex", "VM-Ubuntu", "Jellyfin")

    cascade = await lab.run(Action.STOP, "Machine1")

    assert cascade.status is CascadeStatus.COMPLETED
    assert lab.log() == STOP_MACHINE1
    (reevaluated,) = lab.reevaluations()
    assert reevaluated.cascade is cascade
    verdicts = {lab.topology.node(d.node).name: d for d in reevaluated.decisions}
    assert verdicts["NAS"].verdict is Verdict.KEEP
    assert verdicts["NAS"].active_dependents == (lab.id("Jellyfin"),)
    assert not verdicts["NAS"].independent
    assert verdicts["Jellyfin"].verdict is Verdict.KEEP
    assert verdicts["Jellyfin"].independent
    assert reevaluated.follow_ups == {}
    assert lab.up() == {"NAS", "Machine2", "Jellyfin"}


async def test_dependencies_started_for_a_dependent_are_stopped_with_it(
    lab: Lab,
) -> None:
    """Start sandbox from all off, then stop it: like ``apt autoremove``.

    Jellyfin was started only for sandbox, so it stops with it, and so does
    VM-Docker, started only to host sandbox (docs/design.md, "Re-evaluation").
    Their own re-evaluations then propose the NAS, Machine1 and Machine2
    (machines ask first).
    """
    await lab.run(Action.START, "sandbox")
    assert lab.orchestrator.started_for_dependents == {
        lab.id(name)
        for name in ("NAS", "Machine2", "Jellyfin", "Machine1", "VM-Docker")
    }

    await lab.run(Action.STOP, "sandbox")

    assert lab.log()[-3:] == [
        ("sandbox", "docker_stop"),
        ("VM-Docker", "pve_shutdown"),
        ("Jellyfin", "pve_shutdown"),
    ]
    first, vm, jellyfin = lab.reevaluations()
    assert [
        (lab.topology.node(d.node).name, d.verdict, d.host) for d in first.decisions
    ] == [("VM-Docker", Verdict.STOP, True), ("Jellyfin", Verdict.STOP, False)]
    assert vm.cascade is first.follow_ups[lab.id("VM-Docker")]
    assert jellyfin.cascade is first.follow_ups[lab.id("Jellyfin")]
    assert [(lab.topology.node(d.node).name, d.verdict) for d in vm.decisions] == [
        ("Machine1", Verdict.CONFIRM)
    ]
    assert [
        (lab.topology.node(d.node).name, d.verdict) for d in jellyfin.decisions
    ] == [("NAS", Verdict.CONFIRM), ("Machine2", Verdict.CONFIRM)]
    assert lab.up() == {"NAS", "Machine1", "Machine2"}
    assert lab.orchestrator.started_for_dependents == {
        lab.id(name) for name in ("NAS", "Machine1", "Machine2")
    }


async def test_an_explicit_start_clears_the_mark(lab: Lab) -> None:
    """Starting a node yourself makes it yours: it is no longer auto-stopped."""
    await lab.run(Action.START, "sandbox")
    await lab.run(Action.START, "Jellyfin")  # already on: the user claims it
    assert lab.id("Jellyfin") not in lab.orchestrator.started_for_dependents

    await lab.run(Action.STOP, "sandbox")

    assert lab.log()[-2:] == [
        ("sandbox", "docker_stop"),
        ("VM-Docker", "pve_shutdown"),
    ]
    first, _vm = lab.reevaluations()
    _host, decision = first.decisions
    assert decision.node == lab.id("Jellyfin")
    assert decision.verdict is Verdict.KEEP
    assert decision.independent
    assert lab.up() >= {"Jellyfin", "NAS", "Machine2"}


async def test_scenario_3_stop_machine1_with_jellyfin_off(lab: Lab) -> None:
    """With Jellyfin off, the NAS is proposed for shutdown; nothing else stops."""
    lab.power("NAS", "sandbox", "plex", "VM-Ubuntu")

    await lab.run(Action.STOP, "Machine1")

    assert lab.log() == STOP_MACHINE1
    (reevaluated,) = lab.reevaluations()
    assert [
        (lab.topology.node(d.node).name, d.verdict) for d in reevaluated.decisions
    ] == [("NAS", Verdict.CONFIRM)]
    assert reevaluated.follow_ups == {}
    assert lab.up() == {"NAS"}
    stopped = reevaluated.cascade.as_dict()
    assert stopped["status"] == "completed"
    assert stopped["reevaluation"] == [
        {
            "node": lab.id("NAS"),
            "name": "NAS",
            "verdict": "confirm",
            "active_dependents": [],
            "active_children": [],
            "independent": False,
            "needed_by": None,
            "host": False,
            "follow_up": None,
        }
    ]

    # The user confirms: the NAS is shut down over SSH.
    confirmed = await lab.orchestrator.async_confirm_shutdown(lab.id("NAS"))
    await confirmed.wait()
    assert confirmed.status is CascadeStatus.COMPLETED
    assert lab.log()[-1] == ("NAS", "ssh_shutdown")
    assert lab.up() == set()


async def test_scenario_4_stop_jellyfin_while_sandbox_runs(lab: Lab) -> None:
    """The plan is sandbox then Jellyfin; the NAS stays on for plex."""
    lab.power("NAS", "Jellyfin", "sandbox", "plex")

    plan = await lab.orchestrator.async_plan(Action.STOP, lab.id("Jellyfin"))
    assert [lab.topology.node(step.node).name for step in plan] == [
        "sandbox",
        "Jellyfin",
    ]
    assert lab.log() == []

    cascade = await lab.run(Action.STOP, "Jellyfin")

    assert cascade.status is CascadeStatus.COMPLETED
    assert lab.log() == [("sandbox", "docker_stop"), ("Jellyfin", "pve_shutdown")]
    (reevaluated,) = lab.reevaluations()
    (decision,) = reevaluated.decisions
    assert lab.topology.node(decision.node).name == "NAS"
    assert decision.verdict is Verdict.KEEP
    assert decision.active_dependents == (lab.id("plex"),)
    assert lab.up() == {"NAS", "Machine1", "VM-Docker", "plex", "Machine2"}


async def test_scenario_5_shared_dependency(lab: Lab) -> None:
    """Stopping plex never stops the NAS while Jellyfin runs."""
    lab.power("NAS", "Jellyfin", "plex")

    await lab.run(Action.STOP, "plex")

    assert lab.log() == [("plex", "docker_stop")]
    (reevaluated,) = lab.reevaluations()
    (decision,) = reevaluated.decisions
    assert decision.verdict is Verdict.KEEP
    assert decision.active_dependents == (lab.id("Jellyfin"),)
    assert lab.states("NAS", "Jellyfin") == {"NAS": "on", "Jellyfin": "running"}


async def test_scenario_7_nas_ignores_wol(lab: Lab) -> None:
    """The Jellyfin cascade fails at step 1 with a timeout and sends nothing else."""
    lab.sim.fault("NAS", "ignore_wol")
    lab.driver.timeouts[lab.id("NAS"), Action.START] = 0.5

    cascade = await lab.run(Action.START, "Jellyfin")

    assert cascade.status is CascadeStatus.FAILED
    assert lab.log() == [("NAS", "wol")]
    assert cascade.error is not None
    assert (cascade.error.code, cascade.error.step) == ("timeout", 0)
    assert cascade.error.message == (
        "NAS was not up after 0.5 s (waiting for NAS to be up)"
    )
    assert _statuses(cascade) == [
        ("NAS", StepStatus.FAILED),
        ("Machine2", StepStatus.CANCELLED),
        ("Jellyfin", StepStatus.CANCELLED),
    ]
    activity = lab.orchestrator.node_activity(lab.id("NAS"))
    assert activity is not None
    assert activity.code == "timeout"
    assert lab.up() == set()


async def test_scenario_7_proxmox_answers_401(lab: Lab) -> None:
    """An expired token fails the step at once with auth_failed (reauth)."""
    lab.power("NAS")
    lab.sim.fault("Machine2", "api_status", 401)

    cascade = await lab.run(Action.START, "Jellyfin")

    assert cascade.status is CascadeStatus.FAILED
    assert cascade.error is not None
    assert cascade.error.code == "auth_failed"
    assert cascade.error.node == lab.id("Machine2")
    assert lab.log() == [("Machine2", "wol")]
    assert lab.states("Machine2", "Jellyfin") == {
        "Machine2": "on",
        "Jellyfin": "stopped",
    }


async def test_scenario_7_host_key_change_refuses_the_shutdown(lab: Lab) -> None:
    """A changed SSH host key: the shutdown is refused and nothing is sent."""
    lab.power("Machine1")
    lab.sim.fault("Machine1", "hostkey_change")

    cascade = await lab.run(Action.STOP, "Machine1")

    assert cascade.status is CascadeStatus.FAILED
    assert cascade.error is not None
    assert cascade.error.code == "host_key_mismatch"
    assert cascade.error.message
    assert lab.log() == []
    assert lab.sim.commands() == []
    assert lab.states("Machine1") == {"Machine1": "on"}
    activity = lab.orchestrator.node_activity(lab.id("Machine1"))
    assert activity is not None
    assert activity.state.value == "error"
    assert lab.reevaluations() == []


def _step_started(lab: Lab, name: str) -> asyncio.Event:
    """Return an event set when a step on ``name`` starts."""
    started = asyncio.Event()
    node_id = lab.id(name)

    def listener(event: OrchestratorEvent) -> None:
        if (
            isinstance(event, StepChanged)
            and event.kind is StepEventKind.STARTED
            and event.step.node == node_id
        ):
            started.set()

    lab.orchestrator.add_listener(listener)
    return started


async def test_double_start_joins_the_running_cascade(lab: Lab) -> None:
    """A second start of Jellyfin joins; every command is sent once."""
    first = await lab.orchestrator.async_start(lab.id("Jellyfin"))
    second = await lab.orchestrator.async_start(lab.id("Jellyfin"))
    assert second is first
    await first.wait()
    third = await lab.orchestrator.async_start(lab.id("Jellyfin"))
    await third.wait()

    assert third is not first
    assert third.steps == []  # everything is up: nothing to do
    assert lab.log() == START_JELLYFIN


async def test_stop_during_start_cancels_at_the_step_boundary(lab: Lab) -> None:
    """Stop Machine2 while the Jellyfin cascade wakes it: no pve_start is sent."""
    machine2 = _step_started(lab, "Machine2")
    start = await lab.orchestrator.async_start(lab.id("Jellyfin"))
    await machine2.wait()

    stop = await lab.orchestrator.async_stop(lab.id("Machine2"))
    assert start.cancel_reason == "stop of Machine2 requested"
    await stop.wait()
    await lab.settle()

    assert start.status is CascadeStatus.CANCELLED
    assert _statuses(start) == [
        ("NAS", StepStatus.DONE),
        ("Machine2", StepStatus.DONE),
        ("Jellyfin", StepStatus.CANCELLED),
    ]
    assert stop.status is CascadeStatus.COMPLETED
    assert lab.log() == [
        ("NAS", "wol"),
        ("Machine2", "wol"),
        ("Machine2", "ssh_shutdown"),
    ]
    assert lab.up() == {"NAS"}
    assert lab.orchestrator.activities == {}


async def test_two_targets_at_once_run_one_after_the_other(lab: Lab) -> None:
    """Jellyfin then pihole, the second while the first runs: FIFO, one
    command at a time. (Requested in one gather, their order would be the
    order their plans' probes return: a machine that is off answers nothing,
    and each probe ends at its own timeout.)"""
    jellyfin = await lab.orchestrator.async_start(lab.id("Jellyfin"))
    pihole = await lab.orchestrator.async_start(lab.id("pihole"))
    await pihole.wait()

    assert jellyfin.status is pihole.status is CascadeStatus.COMPLETED
    assert jellyfin.finished_at is not None
    assert pihole.started_at is not None
    assert jellyfin.finished_at <= pihole.started_at
    assert lab.log() == [
        *START_JELLYFIN,
        ("RaspberryPi", "wol"),
        ("pihole", "docker_start"),
    ]
    assert lab.up() == {"NAS", "Machine2", "Jellyfin", "RaspberryPi", "pihole"}


async def test_shutdown_mid_cascade_leaves_nothing_in_progress(lab: Lab) -> None:
    """Shutting the orchestrator down interrupts the cascade cleanly."""
    machine2 = _step_started(lab, "Machine2")
    cascade = await lab.orchestrator.async_start(lab.id("Jellyfin"))
    queued = await lab.orchestrator.async_start(lab.id("pihole"))
    await machine2.wait()

    await lab.orchestrator.async_shutdown()

    assert cascade.status is CascadeStatus.INTERRUPTED
    assert queued.status is CascadeStatus.INTERRUPTED
    assert cascade.error is not None
    assert cascade.error.code == "interrupted"
    assert StepStatus.RUNNING not in {s.status for s in cascade.steps}
    assert StepStatus.PENDING not in {s.status for s in cascade.steps}
    assert lab.orchestrator.activities == {}
    assert lab.orchestrator.running is None
    assert lab.orchestrator.queued == ()
    data = cascade.as_dict()
    assert data["status"] == "interrupted"
    assert data["current_step"] is None
    # Nothing after the interrupted step was sent.
    actions = lab.log()
    assert ("Jellyfin", "pve_start") not in actions
    assert ("RaspberryPi", "wol") not in actions


@pytest.fixture
def slow_jellyfin(homelab: HomelabThread) -> Iterator[None]:
    """Jellyfin's OS takes 10 s (0.2 s scaled) to serve after Proxmox starts it."""

    def _delay(seconds: float) -> Callable[[Homelab], None]:
        def apply(lab: Homelab) -> None:
            lab.nodes["Jellyfin"].delays.up = seconds

        return apply

    saved = homelab.call(lambda lab: lab.nodes["Jellyfin"].delays.up)
    homelab.call(_delay(10.0))
    yield
    homelab.call(_delay(saved))


async def test_a_dependent_starts_only_once_its_dependency_serves(
    lab: Lab, slow_jellyfin: None
) -> None:
    """Two-phase boot: Proxmox says Jellyfin runs long before it serves.

    sandbox depends on Jellyfin. The next command after Jellyfin's start
    (Machine1's WoL) must wait for Jellyfin's service, not for ``running``.
    """
    cascade = await lab.run(Action.START, "sandbox")
    assert cascade.status is CascadeStatus.COMPLETED
    states: list[dict[str, Any]] = lab.sim.call(lambda sim: list(sim.state_log))
    running = next(
        e["t"]
        for e in states
        if e["node"] == "Jellyfin" and e.get("state") == "running"
    )
    serving = next(
        e["t"] for e in states if e["node"] == "Jellyfin" and e.get("services") == "up"
    )
    wol = next(
        e["t"]
        for e in lab.sim.log()
        if e["node"] == "Machine1" and e["action"] == "wol"
    )
    assert running < serving <= wol


async def test_a_paused_vm_is_resumed_by_a_start(lab: Lab) -> None:
    """Polled as unknown, not on: the start reads it live and resumes it."""
    lab.power("VM-Ubuntu")
    lab.sim.fault("VM-Ubuntu", "qmpstatus", "paused")
    cascade = await lab.run(Action.START, "VM-Ubuntu")
    assert cascade.status is CascadeStatus.COMPLETED
    assert lab.log() == [("VM-Ubuntu", "pve_resume")]


async def test_a_guest_started_behind_a_lagging_listing_is_skipped(
    lab: Lab,
) -> None:
    """``/cluster/resources`` still says stopped: the live state decides.

    Planned from the lagging listing, the step reads ``status/current``,
    finds the guest running and sends nothing (it used to send a start whose
    task failed "already running").
    """

    def interval(value: float) -> Callable[[Homelab], None]:
        def apply(sim: Homelab) -> None:
            sim.status_interval = value

        return apply

    lab.power("Machine1")
    lab.sim.call(interval(50.0))  # 1 s scaled: longer than the rest of the test
    try:
        await asyncio.sleep(1.05)  # past the boot's "unknown", then published
        assert (await lab.driver.states())[lab.id("VM-Ubuntu")].value == "off"
        lab.sim.set_power("VM-Ubuntu", "running")  # by hand, in Proxmox's UI
        assert (await lab.driver.states())[lab.id("VM-Ubuntu")].value == "off"
        cascade = await lab.run(Action.START, "VM-Ubuntu")
    finally:
        lab.sim.call(interval(0.0))
    assert cascade.status is CascadeStatus.COMPLETED
    assert _statuses(cascade) == [("VM-Ubuntu", StepStatus.SKIPPED)]
    assert lab.log() == []


async def test_ha_that_does_not_start_a_guest_fails_the_step_by_name(
    lab: Lab,
) -> None:
    """hastart ends at once; when HA never starts it, the error says so."""
    lab.power("Machine1")
    lab.sim.fault("VM-Ubuntu", "ha", "error")
    lab.driver.timeouts[lab.id("VM-Ubuntu"), Action.START] = 0.5
    cascade = await lab.run(Action.START, "VM-Ubuntu")
    assert cascade.status is CascadeStatus.FAILED
    assert cascade.error is not None
    assert cascade.error.code == "ha_timeout"
    assert "Proxmox HA did not start VM 102; its HA state is error" in (
        cascade.error.message
    )
