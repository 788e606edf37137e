"""Unit tests of the orchestrator's rules, on the in-memory driver.

The end-to-end scenarios against the simulator live in ``test_scenarios.py``;
these cover the engine's own behaviour quickly: ordering, readiness waits,
failure handling, concurrency, shutdown, re-evaluation and events.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import pytest

from custom_components.wakehub.channels.errors import (
    AuthenticationError,
    HostKeyMismatchError,
)
from custom_components.wakehub.core import (
    Action,
    Capability,
    PowerState,
    UnknownNodeError,
    Verdict,
)
from custom_components.wakehub.orchestrator import (
    CascadeEnded,
    CascadeStarted,
    CascadeStatus,
    NodeActivityChanged,
    NodeNeededError,
    Orchestrator,
    OrchestratorClosedError,
    OrchestratorEvent,
    Origin,
    Reevaluated,
    StepChanged,
    StepEventKind,
    StepStatus,
)
from tests.core.reference import ID, NAME, build_reference_topology, states_of

from .memory_driver import InMemoryDriver

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

_CREATED: list[Orchestrator] = []


def _make(
    on: tuple[str, ...] = (),
    *,
    marks: tuple[str, ...] = (),
    **kwargs: object,
) -> tuple[Orchestrator, InMemoryDriver, list[OrchestratorEvent]]:
    topology = build_reference_topology()
    driver = InMemoryDriver(topology, states_of(on), **kwargs)  # type: ignore[arg-type]
    orchestrator = Orchestrator(
        topology,
        driver,
        poll_interval=0.005,
        started_for_dependents=[ID[name] for name in marks],
    )
    events: list[OrchestratorEvent] = []
    orchestrator.add_listener(events.append)
    _CREATED.append(orchestrator)
    return orchestrator, driver, events


@pytest.fixture(autouse=True)
async def _shutdown_orchestrators() -> AsyncIterator[None]:
    """Shut every orchestrator a test made down, so no task lingers."""
    yield
    while _CREATED:
        await _CREATED.pop().async_shutdown()


def _log(driver: InMemoryDriver) -> list[tuple[str, str]]:
    return [(NAME[node], action) for node, action in driver.log]


def _on(driver: InMemoryDriver) -> set[str]:
    return {NAME[n] for n, s in driver.states_.items() if s is PowerState.ON}


async def test_start_jellyfin_runs_the_plan_in_order() -> None:
    """Scenario 1: NAS, then Machine2 (with its Proxmox API), then Jellyfin."""
    orchestrator, driver, events = _make()

    cascade = await orchestrator.async_start(ID["Jellyfin"])
    assert cascade.status is CascadeStatus.QUEUED
    assert [s.name for s in cascade.steps] == ["NAS", "Machine2", "Jellyfin"]
    assert await cascade.wait() is cascade

    assert cascade.status is CascadeStatus.COMPLETED
    assert _log(driver) == [
        ("NAS", "start"),
        ("Machine2", "start"),
        ("Jellyfin", "start"),
    ]
    assert _on(driver) == {"NAS", "Machine2", "Jellyfin"}
    assert [s.status for s in cascade.steps] == [StepStatus.DONE] * 3
    # Machine2 had to wait for its Proxmox API, because Jellyfin came next.
    needs = {NAME[node]: n for node, _, n in driver.ready_calls}
    assert needs == {
        "NAS": frozenset(),
        "Machine2": frozenset({Capability.PROXMOX}),
        "Jellyfin": frozenset(),
    }
    assert driver.max_in_flight == 1
    assert orchestrator.activities == {}
    assert orchestrator.running is None
    assert orchestrator.history == (cascade,)

    kinds = [
        (type(e).__name__, getattr(e, "kind", None), getattr(e, "index", None))
        for e in events
        if not isinstance(e, NodeActivityChanged)
    ]
    assert kinds == [
        ("CascadeStarted", None, None),
        ("StepChanged", StepEventKind.STARTED, 0),
        ("StepChanged", StepEventKind.WAITING, 0),
        ("StepChanged", StepEventKind.DONE, 0),
        ("StepChanged", StepEventKind.STARTED, 1),
        ("StepChanged", StepEventKind.WAITING, 1),
        ("StepChanged", StepEventKind.DONE, 1),
        ("StepChanged", StepEventKind.STARTED, 2),
        ("StepChanged", StepEventKind.WAITING, 2),
        ("StepChanged", StepEventKind.DONE, 2),
        ("CascadeEnded", None, None),
    ]
    waiting = [
        e
        for e in events
        if isinstance(e, StepChanged) and e.kind is StepEventKind.WAITING
    ]
    assert waiting[1].detail == "waiting for Machine2's Proxmox API"
    assert waiting[1].waiting_for is Capability.PROXMOX
    assert waiting[1].total == 3
    started = [
        e
        for e in events
        if isinstance(e, StepChanged) and e.kind is StepEventKind.STARTED
    ]
    assert started[2].detail == "starting Jellyfin through Machine2's Proxmox API"
    activity = [
        (NAME[e.node], e.state) for e in events if isinstance(e, NodeActivityChanged)
    ]
    assert activity == [
        ("NAS", PowerState.STARTING),
        ("NAS", None),
        ("Machine2", PowerState.STARTING),
        ("Machine2", None),
        ("Jellyfin", PowerState.STARTING),
        ("Jellyfin", None),
    ]


async def test_cascade_serialises_for_attributes_and_responses() -> None:
    """as_dict gives ids, names, reasons and statuses as plain data."""
    orchestrator, _driver, _events = _make()
    cascade = await (await orchestrator.async_start(ID["Jellyfin"])).wait()

    data = cascade.as_dict()
    assert data["target"] == ID["Jellyfin"]
    assert data["target_name"] == "Jellyfin"
    assert data["action"] == "start"
    assert data["status"] == "completed"
    assert data["origin"] == "request"
    assert data["current_step"] is None
    assert data["total_steps"] == 3
    assert data["error"] is None
    assert data["steps"][0] == {
        "node": ID["NAS"],
        "name": "NAS",
        "action": "start",
        "channel": "wol",
        "reason": "dependency",
        "reason_of": ID["Jellyfin"],
        "reason_of_name": "Jellyfin",
        "status": "done",
        "detail": None,
        "detail_key": None,
        "detail_placeholders": None,
        "error": None,
    }
    assert [s["channel"] for s in data["steps"]] == ["wol", "wol", "proxmox"]
    assert data["steps"][2]["reason"] == "target"
    assert data["steps"][2]["reason_of_name"] is None


async def test_plan_does_not_execute_and_unknown_nodes_raise() -> None:
    """async_plan only plans; requests for unknown nodes raise at once."""
    orchestrator, driver, _events = _make(on=("NAS",))

    steps = await orchestrator.async_plan(Action.START, ID["sandbox"])
    assert [NAME[s.node] for s in steps] == [
        "Machine2",
        "Jellyfin",
        "Machine1",
        "VM-Docker",
        "sandbox",
    ]
    stop = await orchestrator.async_plan(Action.STOP, ID["NAS"])
    assert [NAME[s.node] for s in stop] == ["NAS"]
    assert driver.log == []

    with pytest.raises(UnknownNodeError):
        await orchestrator.async_start("nope")
    with pytest.raises(UnknownNodeError):
        await orchestrator.async_plan(Action.STOP, "nope")
    assert orchestrator.running is None
    assert orchestrator.queued == ()


async def test_already_up_target_completes_without_command() -> None:
    """A start of a node that is up has no step and sends nothing."""
    orchestrator, driver, _events = _make(on=("NAS",))
    cascade = await (await orchestrator.async_start(ID["NAS"])).wait()
    assert cascade.status is CascadeStatus.COMPLETED
    assert cascade.steps == []
    assert driver.log == []


async def test_node_up_in_the_meantime_is_skipped() -> None:
    """A node that came up after planning gets no command (step skipped)."""
    orchestrator, driver, _events = _make()
    cascade = await orchestrator.async_start(ID["Jellyfin"])
    await driver.command_started.wait()  # the NAS is being woken
    driver.states_[ID["Machine2"]] = PowerState.ON  # woken by someone else
    await cascade.wait()

    assert _log(driver) == [("NAS", "start"), ("Jellyfin", "start")]
    assert [s.status for s in cascade.steps] == [
        StepStatus.DONE,
        StepStatus.SKIPPED,
        StepStatus.DONE,
    ]


async def test_timeout_stops_the_cascade_and_marks_the_node_in_error() -> None:
    """Scenario 7: the NAS ignores WoL; nothing after step 1 is sent."""
    orchestrator, driver, events = _make(ignore={ID["NAS"]}, timeout=0.2)

    cascade = await (await orchestrator.async_start(ID["Jellyfin"])).wait()

    assert cascade.status is CascadeStatus.FAILED
    assert _log(driver) == [("NAS", "start")]
    assert cascade.error is not None
    assert cascade.error.code == "timeout"
    assert cascade.error.node == ID["NAS"]
    assert cascade.error.step == 0
    assert (
        cascade.error.message == "NAS was not up after 0.2 s (waiting for NAS to be up)"
    )
    assert [s.status for s in cascade.steps] == [
        StepStatus.FAILED,
        StepStatus.CANCELLED,
        StepStatus.CANCELLED,
    ]
    assert cascade.steps[0].error == cascade.error
    activity = orchestrator.node_activity(ID["NAS"])
    assert activity is not None
    assert activity.state is PowerState.ERROR
    assert activity.code == "timeout"
    assert set(orchestrator.activities) == {ID["NAS"]}
    failed = [
        e
        for e in events
        if isinstance(e, StepChanged) and e.kind is StepEventKind.FAILED
    ]
    assert len(failed) == 1
    assert failed[0].index == 0
    assert isinstance(events[-1], CascadeEnded)

    # A retry is a new start; the error is cleared when the node is acted on.
    driver.ignore.clear()
    retry = await (await orchestrator.async_start(ID["Jellyfin"])).wait()
    assert retry.status is CascadeStatus.COMPLETED
    assert orchestrator.activities == {}
    orchestrator.clear_error(ID["NAS"])  # nothing to clear: no-op


async def test_channel_error_keeps_code_and_platform_message() -> None:
    """A refused command fails the step with the channel's code and message."""
    orchestrator, driver, _events = _make(
        on=("Machine1", "VM-Ubuntu"),
        errors={ID["Machine1"]: HostKeyMismatchError("host key changed for 127.0.0.1")},
    )
    cascade = await (await orchestrator.async_stop(ID["Machine1"])).wait()

    assert _log(driver) == [("VM-Ubuntu", "stop"), ("Machine1", "stop")]
    assert cascade.status is CascadeStatus.FAILED
    assert cascade.error is not None
    assert (cascade.error.code, cascade.error.message) == (
        "host_key_mismatch",
        "host key changed for 127.0.0.1",
    )
    activity = orchestrator.node_activity(ID["Machine1"])
    assert activity is not None
    assert (activity.state, activity.code) == (PowerState.ERROR, "host_key_mismatch")
    assert driver.states_[ID["Machine1"]] is PowerState.ON
    # A failed stop cascade is not re-evaluated.
    assert orchestrator.queued == ()

    orchestrator.clear_error(ID["Machine1"])
    assert orchestrator.node_activity(ID["Machine1"]) is None


async def test_unexpected_driver_bug_fails_the_cascade_cleanly(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A bug in a driver fails the cascade; nothing stays in progress."""
    orchestrator, driver, _events = _make()

    async def broken(step: object) -> None:
        raise RuntimeError("driver bug")

    driver.execute = broken  # type: ignore[method-assign]
    cascade = await (await orchestrator.async_start(ID["NAS"])).wait()
    assert cascade.status is CascadeStatus.FAILED
    assert cascade.error is not None
    assert (cascade.error.code, cascade.error.message) == (
        "unexpected_error",
        "RuntimeError: driver bug",
    )
    assert orchestrator.activities == {}
    assert all(s.status is not StepStatus.RUNNING for s in cascade.steps)
    assert "failed unexpectedly" in caplog.text


async def test_duplicate_request_joins_the_running_cascade() -> None:
    """A second start of the same target returns the same cascade."""
    orchestrator, driver, _events = _make()
    first = await orchestrator.async_start(ID["Jellyfin"])
    await driver.command_started.wait()
    second = await orchestrator.async_start(ID["Jellyfin"])
    assert second is first
    queued = await orchestrator.async_start(ID["sandbox"])
    assert await orchestrator.async_start(ID["sandbox"]) is queued
    await queued.wait()
    assert first.status is CascadeStatus.COMPLETED
    assert _log(driver) == [
        ("NAS", "start"),
        ("Machine2", "start"),
        ("Jellyfin", "start"),
        ("Machine1", "start"),
        ("VM-Docker", "start"),
        ("sandbox", "start"),
    ]
    assert driver.max_in_flight == 1


async def test_stop_during_start_cancels_at_the_step_boundary() -> None:
    """Stopping Machine2 while Jellyfin starts: the WoL step ends, then stop."""
    orchestrator, driver, events = _make()
    start = await orchestrator.async_start(ID["Jellyfin"])
    await driver.command_started.wait()  # the NAS step is in flight
    driver.command_started.clear()
    await driver.command_started.wait()  # Machine2's WoL was sent
    stop = await orchestrator.async_stop(ID["Machine2"])
    assert start.cancel_reason == "stop of Machine2 requested"
    await stop.wait()

    assert start.status is CascadeStatus.CANCELLED
    assert [s.status for s in start.steps] == [
        StepStatus.DONE,
        StepStatus.DONE,
        StepStatus.CANCELLED,
    ]
    assert stop.status is CascadeStatus.COMPLETED
    assert _log(driver) == [
        ("NAS", "start"),
        ("Machine2", "start"),
        ("Machine2", "stop"),
    ]
    assert _on(driver) == {"NAS"}
    ended = [e.cascade.id for e in events if isinstance(e, CascadeEnded)]
    assert ended == [start.id, stop.id]


async def test_stop_cancels_a_queued_start_that_needs_the_node() -> None:
    """A queued start that would start the stopped node is dropped at once."""
    orchestrator, driver, _events = _make()
    first = await orchestrator.async_start(ID["RaspberryPi"])
    await driver.command_started.wait()
    queued = await orchestrator.async_start(ID["plex"])
    assert "Machine1" in [s.name for s in queued.steps]
    stop = await orchestrator.async_stop(ID["Machine1"])
    assert queued.status is CascadeStatus.CANCELLED
    assert queued.cancel_reason == "stop of Machine1 requested"
    assert queued.done
    await stop.wait()
    await first.wait()
    # The running start (RaspberryPi) does not involve Machine1: untouched.
    assert first.status is CascadeStatus.COMPLETED
    assert stop.status is CascadeStatus.COMPLETED
    assert stop.steps == []  # Machine1 was off already
    assert _log(driver) == [("RaspberryPi", "start")]


async def test_stop_of_a_dependency_already_up_cancels_the_start() -> None:
    """The NAS is up, Jellyfin starts (its plan skips the NAS): stopping the NAS
    cancels the start, which would otherwise be undone right after it ends."""
    orchestrator, driver, _events = _make(("NAS",))
    start = await orchestrator.async_start(ID["Jellyfin"])
    assert [s.name for s in start.steps] == ["Machine2", "Jellyfin"]
    await driver.command_started.wait()  # Machine2's WoL
    assert orchestrator.starts_needing(ID["NAS"]) == [start]
    assert orchestrator.starts_needing(ID["Machine2"]) == [start]
    assert orchestrator.starts_needing(ID["Jellyfin"]) == [start]
    assert orchestrator.starts_needing(ID["plex"]) == []
    stop = await orchestrator.async_stop(ID["NAS"])
    assert start.cancel_reason == "stop of NAS requested"
    # A cancelled start needs nothing any more.
    assert orchestrator.starts_needing(ID["NAS"]) == []
    await stop.wait()
    assert start.status is CascadeStatus.CANCELLED
    assert _log(driver) == [("Machine2", "start"), ("NAS", "stop")]
    assert "Jellyfin" not in _on(driver)


async def test_needed_nodes_names_the_first_start_that_needs_each() -> None:
    """Running first, then the queue in order; cancelled starts left out."""
    orchestrator, driver, _events = _make()
    jellyfin = await orchestrator.async_start(ID["Jellyfin"])
    await driver.command_started.wait()
    plex = await orchestrator.async_start(ID["plex"])
    needed = orchestrator.needed_nodes()
    assert {NAME[node]: NAME[c.target] for node, c in needed.items()} == {
        "NAS": "Jellyfin",
        "Machine2": "Jellyfin",
        "Jellyfin": "Jellyfin",
        "Machine1": "plex",
        "VM-Docker": "plex",
        "plex": "plex",
    }
    await jellyfin.wait()
    await plex.wait()
    assert orchestrator.needed_nodes() == {}


async def test_a_start_whose_target_left_the_topology_needs_its_plan() -> None:
    """After an entry unloads, a queued start still needs the nodes it plans."""
    orchestrator, driver, _events = _make()
    running = await orchestrator.async_start(ID["RaspberryPi"])
    await driver.command_started.wait()
    queued = await orchestrator.async_start(ID["Jellyfin"])
    smaller = orchestrator.topology.copy()
    smaller.remove_node(ID["Jellyfin"])
    orchestrator.update_topology(smaller)
    assert orchestrator.starts_needing(ID["Machine2"]) == [queued]
    assert orchestrator.starts_needing(ID["NAS"]) == [queued]
    await running.wait()
    await queued.wait()


async def test_confirmation_refused_while_a_start_needs_the_node() -> None:
    """A stale proposal never undoes a start: its confirmation is refused."""
    orchestrator, driver, _events = _make(("NAS",))
    start = await orchestrator.async_start(ID["Jellyfin"])
    await driver.command_started.wait()
    with pytest.raises(NodeNeededError) as refused:
        await orchestrator.async_confirm_shutdown(ID["NAS"])
    assert refused.value.code == "node_needed"
    assert refused.value.placeholders == {"name": "NAS", "target": "Jellyfin"}
    assert refused.value.cascade is start
    assert str(refused.value) == "NAS is needed by the start of Jellyfin"
    await start.wait()
    assert start.status is CascadeStatus.COMPLETED
    assert _log(driver) == [("Machine2", "start"), ("Jellyfin", "start")]
    # Once the start is over, the confirmation goes through.
    stop = await orchestrator.async_confirm_shutdown(ID["NAS"])
    await stop.wait()
    assert stop.status is CascadeStatus.COMPLETED


async def test_reevaluation_keeps_what_a_queued_start_needs() -> None:
    """plex's start is queued behind Jellyfin's stop: the NAS is kept for it."""
    orchestrator, driver, events = _make(
        ("NAS", "Machine2", "Jellyfin"), marks=("NAS", "Machine2")
    )
    stop = await orchestrator.async_stop(ID["Jellyfin"])
    await driver.command_started.wait()
    start = await orchestrator.async_start(ID["plex"])
    await stop.wait()
    (reevaluated,) = [e for e in events if isinstance(e, Reevaluated)]
    verdicts = {NAME[d.node]: (d.verdict, d.needed_by) for d in reevaluated.decisions}
    assert verdicts == {
        "NAS": (Verdict.KEEP, ID["plex"]),
        "Machine2": (Verdict.CONFIRM, None),
    }
    entry = stop.reevaluation[0] if stop.reevaluation else {}
    assert entry["needed_by"] == ID["plex"]
    await start.wait()
    assert start.status is CascadeStatus.COMPLETED
    assert "NAS" in _on(driver)


async def test_two_targets_queue_in_fifo_order() -> None:
    """Different targets never run concurrently; the second re-plans."""
    orchestrator, driver, _events = _make()
    first = await orchestrator.async_start(ID["Jellyfin"])
    await driver.command_started.wait()
    second = await orchestrator.async_start(ID["plex"])
    # planned against the states of the request: the NAS is in both plans
    assert "NAS" in [s.name for s in second.steps]
    assert orchestrator.queued == (second,)
    await second.wait()
    assert first.status is second.status is CascadeStatus.COMPLETED
    # ... and re-planned when picked up: the NAS was already up.
    assert [s.name for s in second.steps] == ["Machine1", "VM-Docker", "plex"]
    assert _log(driver) == [
        ("NAS", "start"),
        ("Machine2", "start"),
        ("Jellyfin", "start"),
        ("Machine1", "start"),
        ("VM-Docker", "start"),
        ("plex", "start"),
    ]
    assert driver.max_in_flight == 1


async def test_shutdown_interrupts_and_leaves_nothing_in_progress() -> None:
    """async_shutdown ends every cascade as interrupted and clears activity."""
    orchestrator, driver, events = _make(delay=10.0, timeout=60.0)
    running = await orchestrator.async_start(ID["Jellyfin"])
    queued = await orchestrator.async_start(ID["pihole"])
    await driver.command_started.wait()
    assert orchestrator.node_activity(ID["NAS"]) is not None
    assert orchestrator.running is running
    assert running.current_step == 0
    assert running.as_dict()["steps"][0]["status"] == "running"

    await orchestrator.async_shutdown()

    for cascade in (running, queued):
        assert cascade.status is CascadeStatus.INTERRUPTED
        assert cascade.error is not None
        assert cascade.error.code == "interrupted"
        assert {s.status for s in cascade.steps} <= {StepStatus.CANCELLED}
        assert cascade.as_dict()["current_step"] is None
    assert orchestrator.activities == {}
    assert orchestrator.running is None
    assert orchestrator.queued == ()
    assert _log(driver) == [("NAS", "start")]
    ended = {e.cascade.id for e in events if isinstance(e, CascadeEnded)}
    assert ended == {running.id, queued.id}
    with pytest.raises(OrchestratorClosedError):
        await orchestrator.async_start(ID["NAS"])
    await orchestrator.async_shutdown()  # idempotent


async def test_stop_reevaluates_and_follows_up() -> None:
    """Stopping sandbox orphans Jellyfin (auto stop), whose stop asks for the NAS.

    Jellyfin carries a mark restored from a previous run: it was started for
    sandbox, so it goes with it.
    """
    orchestrator, driver, events = _make(
        on=("NAS", "Machine2", "Jellyfin", "Machine1", "VM-Docker", "sandbox"),
        marks=("NAS", "Jellyfin"),
    )
    stop = await (await orchestrator.async_stop(ID["sandbox"])).wait()
    assert stop.status is CascadeStatus.COMPLETED
    # Let the follow-up run.
    while orchestrator.running is not None or orchestrator.queued:
        await asyncio.sleep(0.01)

    assert _log(driver) == [("sandbox", "stop"), ("Jellyfin", "stop")]
    reevaluated = [e for e in events if isinstance(e, Reevaluated)]
    assert len(reevaluated) == 2
    first, second = reevaluated
    assert first.cascade is stop
    assert [(NAME[d.node], d.verdict) for d in first.decisions] == [
        ("Jellyfin", Verdict.STOP)
    ]
    follow_up = first.follow_ups[ID["Jellyfin"]]
    assert follow_up.origin is Origin.REEVALUATION
    assert follow_up.parent_id == stop.id
    assert follow_up.status is CascadeStatus.COMPLETED
    assert second.cascade is follow_up
    assert [(NAME[d.node], d.verdict) for d in second.decisions] == [
        ("NAS", Verdict.CONFIRM)
    ]
    assert second.follow_ups == {}
    assert _on(driver) == {"NAS", "Machine2", "Machine1", "VM-Docker"}

    # The user says yes.
    confirmed = await (await orchestrator.async_confirm_shutdown(ID["NAS"])).wait()
    assert confirmed.origin is Origin.CONFIRMATION
    assert _log(driver)[-1] == ("NAS", "stop")


async def test_reevaluation_keeps_a_node_with_active_dependents() -> None:
    """Scenario 5: stopping plex never stops the NAS while Jellyfin runs."""
    orchestrator, driver, events = _make(
        on=("NAS", "Machine2", "Jellyfin", "Machine1", "VM-Docker", "plex")
    )
    await (await orchestrator.async_stop(ID["plex"])).wait()
    assert _log(driver) == [("plex", "stop")]
    (reevaluated,) = [e for e in events if isinstance(e, Reevaluated)]
    (decision,) = reevaluated.decisions
    assert (NAME[decision.node], decision.verdict) == ("NAS", Verdict.KEEP)
    assert decision.active_dependents == (ID["Jellyfin"],)
    assert orchestrator.queued == ()


async def test_node_in_error_counts_as_active_in_reevaluation() -> None:
    """A dependent left in error keeps its dependency on."""
    orchestrator, _driver, events = _make(
        on=("NAS", "Machine1", "VM-Docker", "plex", "Machine2"),
        errors={ID["Jellyfin"]: AuthenticationError("401 No ticket")},
    )
    failed = await (await orchestrator.async_start(ID["Jellyfin"])).wait()
    assert failed.status is CascadeStatus.FAILED
    await (await orchestrator.async_stop(ID["plex"])).wait()
    (reevaluated,) = [e for e in events if isinstance(e, Reevaluated)]
    (decision,) = reevaluated.decisions
    assert decision.verdict is Verdict.KEEP
    assert decision.active_dependents == (ID["Jellyfin"],)


async def test_listener_errors_do_not_break_the_cascade(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A failing listener is logged; the cascade and other listeners go on."""
    orchestrator, _driver, events = _make()

    def boom(event: OrchestratorEvent) -> None:
        raise ValueError("listener bug")

    remove = orchestrator.add_listener(boom)
    cascade = await (await orchestrator.async_start(ID["NAS"])).wait()
    assert cascade.status is CascadeStatus.COMPLETED
    assert any(isinstance(e, CascadeStarted) for e in events)
    assert "listener bug" in caplog.text
    remove()
    remove()  # removing twice is harmless
    caplog.clear()
    await (await orchestrator.async_stop(ID["NAS"])).wait()
    assert "listener bug" not in caplog.text


async def test_replanning_failure_fails_the_cascade() -> None:
    """A target removed from the topology while queued fails, it does not crash."""
    orchestrator, driver, _events = _make()
    running = await orchestrator.async_start(ID["NAS"])
    queued = await orchestrator.async_start(ID["pihole"])
    smaller = build_reference_topology()
    smaller.remove_node(ID["RaspberryPi"])
    orchestrator.update_topology(smaller)
    assert orchestrator.topology is smaller
    await running.wait()
    await queued.wait()
    assert queued.status is CascadeStatus.FAILED
    assert queued.error is not None
    assert queued.error.code == "unknown_node"
    assert _log(driver) == [("NAS", "start")]


async def test_hosts_wait_for_the_api_their_children_need() -> None:
    """Machine1 waits for Proxmox, VM-Docker for Docker, before their children."""
    orchestrator, driver, _events = _make(on=("NAS", "Machine2", "Jellyfin"))
    await (await orchestrator.async_start(ID["sandbox"])).wait()
    needs = {NAME[node]: n for node, action, n in driver.ready_calls}
    assert needs == {
        "Machine1": frozenset({Capability.PROXMOX}),
        "VM-Docker": frozenset({Capability.DOCKER}),
        "sandbox": frozenset(),
    }


async def test_api_that_never_answers_times_out_with_its_name() -> None:
    """A machine up without its Proxmox API fails after the step timeout."""
    orchestrator, driver, _events = _make(
        on=("NAS",), api_down={ID["Machine2"]}, timeout=0.2
    )
    cascade = await (await orchestrator.async_start(ID["Jellyfin"])).wait()
    assert cascade.error is not None
    assert cascade.error.message == (
        "Machine2 was not up after 0.2 s (waiting for Machine2's Proxmox API)"
    )
    assert _log(driver) == [("Machine2", "start")]


async def test_reevaluation_that_cannot_poll_still_releases_waiters(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """If the states cannot be read after a stop, waiters are released anyway."""
    orchestrator, driver, events = _make(on=("NAS", "Machine1", "VM-Docker", "plex"))
    cascade = await orchestrator.async_stop(ID["plex"])
    polls = 0
    original = driver.states

    async def flaky() -> dict[str, PowerState]:
        nonlocal polls
        polls += 1
        if polls > 1:  # the pick-up plan works (steps read live states)
            raise AuthenticationError("401 token expired")
        return dict(await original())

    driver.states = flaky  # type: ignore[method-assign]
    await cascade.wait()
    assert cascade.status is CascadeStatus.COMPLETED
    assert cascade.reevaluation is None
    assert not any(isinstance(e, Reevaluated) for e in events)
    assert "Could not re-evaluate" in caplog.text


async def test_shutdown_during_reevaluation_keeps_the_cascade_completed() -> None:
    """A stop cascade that completed is not turned into an interrupted one."""
    orchestrator, driver, _events = _make(on=("NAS", "Machine1", "VM-Docker", "plex"))
    cascade = await orchestrator.async_stop(ID["plex"])
    polls = 0
    original = driver.states
    blocked = asyncio.Event()

    async def slow() -> dict[str, PowerState]:
        nonlocal polls
        polls += 1
        if polls > 1:  # the re-evaluation's poll hangs
            blocked.set()
            await asyncio.sleep(3600)
        return dict(await original())

    driver.states = slow  # type: ignore[method-assign]
    await blocked.wait()
    await orchestrator.async_shutdown()
    assert cascade.done
    assert cascade.status is CascadeStatus.COMPLETED
    assert await cascade.wait() is cascade
