"""Time to ready: early wake, the re-plan of a host gone away, the request rate.

On the in-memory driver, with scaled time: the assertions are on the order
and the number of commands and checks, or on lower bounds of the waits,
never on how fast a loaded machine runs them.
"""

from __future__ import annotations

import asyncio
from itertools import islice, pairwise
from typing import TYPE_CHECKING

import pytest

from custom_components.wakehub.channels.budget import MAX_REQUESTS_PER_SECOND
from custom_components.wakehub.channels.errors import ApiError, UnreachableError
from custom_components.wakehub.core import (
    Action,
    Capability,
    PowerState,
    Step,
    Verdict,
)
from custom_components.wakehub.orchestrator import (
    CascadeStatus,
    NodeReached,
    Orchestrator,
    OrchestratorEvent,
    Reevaluated,
    StepChanged,
    StepEventKind,
    StepStatus,
)
from custom_components.wakehub.orchestrator.readiness import (
    LOOK_DELAY,
    HostLimiter,
    backoff,
)
from tests.core.reference import (
    ID,
    NAME,
    SANDBOX_COLD_START,
    build_reference_topology,
    states_of,
)

from .memory_driver import InMemoryDriver

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable, Mapping

    from custom_components.wakehub.core import Topology
    from custom_components.wakehub.orchestrator.power import Sent

POLL = 0.01
"""The scaled poll interval: a second of real time is POLL seconds here."""

_CREATED: list[Orchestrator] = []
_DRIVERS: list[TimedDriver] = []


class TimedDriver(InMemoryDriver):
    """Records the loop time of each command; ``stale`` overrides the poll.

    ``stale`` maps a node to the state the *polled* states report (a poll
    that has not caught up with the node going down); commands and
    readiness use the live ``states_``. ``unreachable_once`` holds nodes
    whose first command finds their host unreachable.
    """

    def __init__(self, topology: Topology, states: dict[str, PowerState]) -> None:
        """Everything ``states`` says, no stale poll, a short delay."""
        super().__init__(topology, states, delay=POLL, timeout=2.0)
        self.times: list[tuple[str, float]] = []
        self.stale: dict[str, PowerState] = {}
        self.unreachable_once: set[str] = set()

    async def states(self) -> Mapping[str, PowerState]:
        """The live states, with the stale ones on top."""
        return {**self.states_, **self.stale}

    def known_states(self) -> Mapping[str, PowerState]:
        """As :meth:`states`: the stale poll is the last one."""
        return {**self.states_, **self.stale}

    async def execute(self, step: Step, *, eager: bool = False) -> Sent:
        """Record the time, then fail once for ``unreachable_once``."""
        self.times.append((step.node, asyncio.get_running_loop().time()))
        if step.node in self.unreachable_once:
            self.unreachable_once.discard(step.node)
            self.log.append((step.node, str(step.action)))
            raise UnreachableError("cannot reach Machine1's Proxmox API")
        return await super().execute(step, eager=eager)


def _make(
    on: tuple[str, ...] = (),
    *,
    early_wake: bool = True,
    stagger: float = 0.0,
    topology: Topology | None = None,
) -> tuple[Orchestrator, TimedDriver, list[OrchestratorEvent]]:
    topology = topology or build_reference_topology()
    driver = TimedDriver(topology, states_of(on))
    _DRIVERS.append(driver)
    machines = [n for n, node in topology.nodes.items() if node.parent is None]
    orchestrator = Orchestrator(
        topology,
        driver,
        poll_interval=POLL,
        early_wake=dict.fromkeys(machines, stagger) if early_wake else None,
    )
    events: list[OrchestratorEvent] = []
    orchestrator.add_listener(events.append)
    _CREATED.append(orchestrator)
    return orchestrator, driver, events


@pytest.fixture(autouse=True)
async def _shutdown_orchestrators() -> AsyncIterator[None]:
    yield
    while _CREATED:
        await _CREATED.pop().async_shutdown()
    # A boot a driver scheduled (a machine woken twice) lands before the end.
    if _DRIVERS:
        await asyncio.sleep(max(driver.delay for driver in _DRIVERS) + POLL)
        _DRIVERS.clear()


def _log(driver: InMemoryDriver) -> list[str]:
    return [NAME[node] for node, _action in driver.log]


# -- early wake ------------------------------------------------------------------


async def test_without_early_wake_machines_wake_in_plan_order() -> None:
    """The default: one command at a time, Machine1 only after Jellyfin."""
    orchestrator, driver, _ = _make(early_wake=False)
    cascade = await (await orchestrator.async_start(ID["sandbox"])).wait()
    assert cascade.status is CascadeStatus.COMPLETED
    assert _log(driver) == list(SANDBOX_COLD_START)
    assert driver.max_in_flight == 1


async def test_early_wake_sends_every_machine_first() -> None:
    """The plan's three machines are woken at the start, in plan order; the
    other commands keep their order, one at a time. (A machine's own step
    may send its magic packet again if it is still booting: harmless.)"""
    orchestrator, driver, _ = _make()
    cascade = await (await orchestrator.async_start(ID["sandbox"])).wait()
    assert cascade.status is CascadeStatus.COMPLETED
    log = _log(driver)
    machines = {"NAS", "Machine2", "Machine1"}
    assert log[:3] == ["NAS", "Machine2", "Machine1"]
    assert [name for name in log if name not in machines] == [
        "Jellyfin",
        "VM-Docker",
        "sandbox",
    ]
    assert [c.name for c in cascade.steps] == list(SANDBOX_COLD_START)
    # Machine1 was up by the time its step came: the step was skipped.
    assert {c.name: str(c.status) for c in cascade.steps}["Machine1"] == "skipped"
    # Woken for sandbox: the machines carry the "started for a dependent" mark.
    assert {ID["NAS"], ID["Machine1"], ID["Machine2"]} <= (
        orchestrator.started_for_dependents
    )


async def test_early_wake_only_for_the_machines_that_opted_in() -> None:
    """Only Machine1 opted in: it is woken at the start; Machine2 waits for
    its turn after the NAS."""
    orchestrator, driver, _ = _make(early_wake=False)
    orchestrator.set_early_wake({ID["Machine1"]: 0.0})
    cascade = await (await orchestrator.async_start(ID["sandbox"])).wait()
    assert cascade.status is CascadeStatus.COMPLETED
    assert _log(driver)[:3] == ["NAS", "Machine1", "Machine2"]


async def test_early_wake_skips_a_machine_whose_dependency_is_in_the_plan() -> None:
    """Machine1 depends on the NAS, which is off: it waits for its turn."""
    topology = build_reference_topology()
    topology.add_dependency(ID["Machine1"], ID["NAS"])
    orchestrator, driver, _ = _make(topology=topology)
    cascade = await (await orchestrator.async_start(ID["sandbox"])).wait()
    assert cascade.status is CascadeStatus.COMPLETED
    log = _log(driver)
    assert log[:2] == ["NAS", "Machine2"]  # Machine2 woken early
    assert log.count("Machine1") == 1
    assert log.index("Jellyfin") < log.index("Machine1") < log.index("VM-Docker")


async def test_early_wake_with_the_dependency_already_up() -> None:
    """Machine1 depends on the NAS, which is on: Machine1 is woken early."""
    topology = build_reference_topology()
    topology.add_dependency(ID["Machine1"], ID["NAS"])
    orchestrator, driver, _ = _make(("NAS",), topology=topology)
    cascade = await (await orchestrator.async_start(ID["sandbox"])).wait()
    assert cascade.status is CascadeStatus.COMPLETED
    assert _log(driver)[:2] == ["Machine2", "Machine1"]


async def test_early_wake_stagger_spaces_the_magic_packets() -> None:
    """With a stagger, each early wake comes at least that long after the
    previous one (the steps meanwhile go on: Machine2's wake is the second)."""
    stagger = 5 * POLL
    orchestrator, driver, _ = _make(stagger=stagger)
    driver.delay = 20 * POLL  # every boot outlasts the stagger
    cascade = await (await orchestrator.async_start(ID["sandbox"])).wait()
    assert cascade.status is CascadeStatus.COMPLETED
    wakes = [
        (NAME[node], at)
        for node, at in driver.times
        if NAME[node] in {"NAS", "Machine2", "Machine1"}
    ]
    # The NAS's own step sends its wake; the wake task leaves the NAS to it
    # and wakes Machine2 and then Machine1, a stagger apart.
    machine2 = next(at for name, at in wakes if name == "Machine2")
    machine1 = next(at for name, at in wakes if name == "Machine1")
    nas = next(at for name, at in wakes if name == "NAS")
    assert machine2 - nas >= stagger * 0.99
    assert machine1 - machine2 >= stagger * 0.99


async def test_early_wake_goes_out_while_the_plan_reads_fresh_states() -> None:
    """The machines sandbox needs that have no dependency of their own are
    woken as the cascade begins, while its fresh states (a look at the
    machines that were off) are still being read; Machine1, which depends on
    the NAS, waits for the plan (and, the NAS being off, for its turn)."""
    topology = build_reference_topology()
    topology.add_dependency(ID["Machine1"], ID["NAS"])
    orchestrator, driver, _ = _make(topology=topology)
    reading, release = asyncio.Event(), asyncio.Event()
    fresh_states = driver.states

    async def slow_states() -> Mapping[str, PowerState]:
        reading.set()
        await release.wait()
        return await fresh_states()

    driver.states = slow_states  # type: ignore[method-assign]
    # The request plans from the last polls: it does not wait for them.
    start = await orchestrator.async_start(ID["sandbox"])
    assert [c.name for c in start.steps][:2] == ["NAS", "Machine2"]
    await reading.wait()
    while len(driver.log) < 2:
        await asyncio.sleep(POLL / 10)
    await asyncio.sleep(POLL)
    assert _log(driver) == ["NAS", "Machine2"]
    release.set()
    cascade = await start.wait()
    assert cascade.status is CascadeStatus.COMPLETED
    log = _log(driver)
    assert log.index("Jellyfin") < log.index("Machine1") < log.index("VM-Docker")


async def test_a_machine_woken_early_is_watched_and_shown_up() -> None:
    """Machine1, woken early, boots while the NAS and Jellyfin start: its
    watch sees it up and reports it at once; its step then takes one look
    and sends nothing."""
    orchestrator, driver, events = _make()
    cascade = await (await orchestrator.async_start(ID["sandbox"])).wait()
    assert cascade.status is CascadeStatus.COMPLETED
    reached = [e for e in events if isinstance(e, NodeReached)]
    assert ID["Machine1"] in {e.node for e in reached}
    assert all(e.state is PowerState.ON and e.cascade is cascade for e in reached)
    machine1_reached = next(
        i
        for i, e in enumerate(events)
        if isinstance(e, NodeReached) and e.node == ID["Machine1"]
    )
    machine1_started = next(
        i
        for i, e in enumerate(events)
        if isinstance(e, StepChanged) and e.step.node == ID["Machine1"]
    )
    assert machine1_reached < machine1_started
    assert _log(driver).count("Machine1") == 1  # the early wake only
    status = {c.name: c.status for c in cascade.steps}
    assert status["Machine1"] is StepStatus.SKIPPED
    # Its step's look, with no API: the watch checked those.
    assert (ID["Machine1"], Action.START, frozenset()) in driver.ready_calls


async def test_a_machine_still_booting_at_its_step_is_woken_again() -> None:
    """Machine2 boots slower than the NAS: its step begins while it boots,
    sends its magic packet again (a lost one must not cost the timeout) and
    waits through the watch, which then reports nothing of its own."""
    orchestrator, driver, events = _make()
    driver.delays[ID["Machine2"]] = 10 * POLL
    cascade = await (await orchestrator.async_start(ID["Jellyfin"])).wait()
    assert cascade.status is CascadeStatus.COMPLETED
    assert _log(driver).count("Machine2") == 2
    status = {c.name: c.status for c in cascade.steps}
    assert status["Machine2"] is StepStatus.DONE
    assert ID["Machine2"] not in {e.node for e in events if isinstance(e, NodeReached)}
    # The step said what it waits for while the watch looked.
    assert any(
        isinstance(e, StepChanged)
        and e.step.node == ID["Machine2"]
        and e.kind is StepEventKind.WAITING
        for e in events
    )


async def test_failed_cascade_after_early_wake_proposes_the_woken_machines() -> None:
    """Jellyfin's start fails: Machine1, woken early and never reached, goes
    to the re-evaluation, which proposes its shutdown (machines ask first)."""
    orchestrator, driver, events = _make()
    driver.errors[ID["Jellyfin"]] = ApiError("Jellyfin's config is locked")
    cascade = await (await orchestrator.async_start(ID["sandbox"])).wait()
    assert cascade.status is CascadeStatus.FAILED
    assert "Machine1" in _log(driver)
    reevaluated = [e for e in events if isinstance(e, Reevaluated)]
    assert len(reevaluated) == 1
    assert reevaluated[0].cascade is cascade
    verdicts = {NAME[d.node]: d.verdict for d in reevaluated[0].decisions}
    assert verdicts == {"Machine1": Verdict.CONFIRM}
    assert cascade.reevaluation is not None
    assert [entry["name"] for entry in cascade.reevaluation] == ["Machine1"]


async def test_cancelled_cascade_after_early_wake_proposes_the_woken_machines() -> None:
    """A stop of the NAS cancels the start of sandbox at its next step: the
    machines it woke early and never reached are proposed for shutdown."""
    orchestrator, driver, events = _make()
    driver.delay = 5 * POLL  # the NAS's boot: time to send the stop
    start = await orchestrator.async_start(ID["sandbox"])
    while not driver.log:
        await asyncio.sleep(POLL)
    stop = await orchestrator.async_stop(ID["NAS"])
    await start.wait()
    await stop.wait()
    assert start.status is CascadeStatus.CANCELLED
    reevaluated = [e for e in events if isinstance(e, Reevaluated)]
    decisions = {
        NAME[d.node]: d.verdict
        for event in reevaluated
        if event.cascade is start
        for d in event.decisions
    }
    assert decisions == {"Machine2": Verdict.CONFIRM, "Machine1": Verdict.CONFIRM}
    # Nothing but the woken machines and the NAS's own step was started.
    assert set(_log(driver)) == {"NAS", "Machine2", "Machine1"}


async def test_a_failed_early_wake_is_left_to_the_machine_s_own_step() -> None:
    """Machine1's magic packet fails at the start: only logged; its own step
    tries again and reports the failure, in order."""
    orchestrator, driver, _ = _make()
    driver.errors[ID["Machine1"]] = UnreachableError("no route to the broadcast")
    cascade = await (await orchestrator.async_start(ID["sandbox"])).wait()
    assert cascade.status is CascadeStatus.FAILED
    assert cascade.error is not None
    assert cascade.error.node == ID["Machine1"]
    assert _log(driver).count("Machine1") == 2  # early, then its own step
    assert "VM-Docker" not in _log(driver)


async def test_nothing_to_wake_early_for_a_plan_without_machines() -> None:
    """Every machine already on: the plan has no magic packet to send early."""
    orchestrator, driver, _ = _make(("NAS", "Machine1", "Machine2", "Jellyfin"))
    cascade = await (await orchestrator.async_start(ID["sandbox"])).wait()
    assert cascade.status is CascadeStatus.COMPLETED
    assert _log(driver) == ["VM-Docker", "sandbox"]


async def test_completed_cascade_after_early_wake_reevaluates_nothing() -> None:
    """Every woken machine was reached: no re-evaluation, nothing proposed."""
    orchestrator, _driver, events = _make()
    cascade = await (await orchestrator.async_start(ID["sandbox"])).wait()
    assert cascade.status is CascadeStatus.COMPLETED
    assert not [e for e in events if isinstance(e, Reevaluated)]
    assert cascade.reevaluation is None


# -- a host gone away ------------------------------------------------------------


async def test_unreachable_host_replans_once_and_wakes_it() -> None:
    """The poll still says Machine1 is on; VM-Docker's start finds its
    Proxmox API unreachable, so the cascade plans again with Machine1 off:
    Machine1 is woken, then VM-Docker starts."""
    orchestrator, driver, _ = _make(early_wake=False)
    driver.stale[ID["Machine1"]] = PowerState.ON
    driver.unreachable_once.add(ID["VM-Docker"])
    cascade = await (await orchestrator.async_start(ID["VM-Docker"])).wait()
    assert cascade.status is CascadeStatus.COMPLETED, cascade.error
    assert _log(driver) == ["VM-Docker", "Machine1", "VM-Docker"]
    assert [c.name for c in cascade.steps] == ["Machine1", "VM-Docker"]
    assert driver.states_[ID["VM-Docker"]] is PowerState.ON


async def test_unreachable_host_twice_is_reported() -> None:
    """Still unreachable after the re-plan: the failure is reported, with
    no third attempt."""
    orchestrator, driver, _ = _make(early_wake=False)
    driver.stale[ID["Machine1"]] = PowerState.ON
    driver.errors[ID["VM-Docker"]] = UnreachableError("no route to host")
    cascade = await (await orchestrator.async_start(ID["VM-Docker"])).wait()
    assert cascade.status is CascadeStatus.FAILED
    assert cascade.error is not None
    assert cascade.error.code == "unreachable"
    assert _log(driver) == ["VM-Docker", "Machine1", "VM-Docker"]


async def test_other_failures_do_not_replan() -> None:
    """A refused command is reported at once: only an unreachable host
    re-plans."""
    orchestrator, driver, _ = _make(("Machine1",), early_wake=False)
    driver.errors[ID["VM-Docker"]] = ApiError("permission denied")
    cascade = await (await orchestrator.async_start(ID["VM-Docker"])).wait()
    assert cascade.status is CascadeStatus.FAILED
    assert _log(driver) == ["VM-Docker"]


# -- readiness and the request rate ----------------------------------------------


def test_backoff_starts_at_a_tenth_and_grows_to_a_quarter_of_the_poll_interval() -> (
    None
):
    """0.1 s first, never shrinking, then steady at 0.25 s."""
    waits = list(islice(backoff(1.0), 12))
    assert waits[0] == pytest.approx(0.1)
    assert all(a <= b for a, b in pairwise(waits))
    assert waits[-1] == 0.25
    assert list(islice(backoff(0.01), 12)) == pytest.approx([w / 100 for w in waits])


async def test_limiter_keeps_a_host_under_five_requests_a_second() -> None:
    """On a fake clock: 30 requests to one host spread over 6 seconds; any
    sliding second holds at most 5; another host is not held up."""
    now = 0.0

    async def sleep(seconds: float) -> None:
        nonlocal now
        now += seconds

    limiter = HostLimiter(clock=lambda: now, sleep=sleep)
    times: list[float] = []
    for _ in range(30):
        await limiter.acquire("machine1")
        times.append(now)
    for start in times:
        assert sum(start <= t < start + 1.0 for t in times) <= MAX_REQUESTS_PER_SECOND
    assert times[-1] == pytest.approx(5.0)
    before = now
    await limiter.acquire("machine2", 3)
    assert now == before


def _timed_checks(driver: InMemoryDriver) -> tuple[list[float], list[float]]:
    """Record the loop time of every look and every readiness check."""
    looks: list[float] = []
    checks: list[float] = []
    is_ready, look_of = driver.is_ready, driver.look
    loop = asyncio.get_running_loop()

    async def timed_is_ready(node_id: str, **kwargs: object) -> bool:
        checks.append(loop.time())
        return await is_ready(node_id, **kwargs)  # type: ignore[arg-type]

    def timed_look(
        node_id: str, *, needs: frozenset[Capability]
    ) -> Callable[[], Awaitable[bool]] | None:
        look = look_of(node_id, needs=needs)
        if look is None:
            return None

        async def timed() -> bool:
            looks.append(loop.time())
            return await look()

        return timed

    driver.is_ready = timed_is_ready  # type: ignore[method-assign]
    driver.look = timed_look  # type: ignore[method-assign]
    return looks, checks


async def test_a_booting_machine_is_looked_at_then_checked() -> None:
    """A machine that takes 40 poll intervals to boot: it is looked at (TCP
    connects, no request) from right after the command, at most once per
    ``LOOK_DELAY``; its readiness check proper, which may send requests,
    runs only once a look found it up."""
    orchestrator, driver, _ = _make(early_wake=False)
    driver.delay = 40 * POLL
    looks, checks = _timed_checks(driver)
    cascade = await (await orchestrator.async_start(ID["NAS"])).wait()
    assert cascade.status is CascadeStatus.COMPLETED
    sent = driver.times[0][1]
    assert looks[0] - sent < LOOK_DELAY * POLL + 0.05
    for start in looks:
        in_window = sum(start <= t < start + POLL * 0.999 for t in looks)
        assert in_window <= 1 / LOOK_DELAY + 1
    up = sent + 40 * POLL
    assert checks
    assert len(checks) <= 2
    assert min(checks) >= up - POLL


async def test_readiness_checks_of_a_slow_guest_respect_the_rate() -> None:
    """An LXC that takes 40 poll intervals to boot, known only through its
    host's API (no look): its checks begin right after the command, one at a
    time, and no window of one (scaled) second holds more than five."""
    orchestrator, driver, _ = _make(("NAS", "Machine2"), early_wake=False)
    driver.delay = 40 * POLL
    looks, checks = _timed_checks(driver)
    cascade = await (await orchestrator.async_start(ID["Jellyfin"])).wait()
    assert cascade.status is CascadeStatus.COMPLETED
    assert not looks
    sent = driver.times[0][1]
    # The first check follows the command at once (well within a tenth).
    assert checks[0] - sent < 0.1 * POLL + 0.05
    for start in checks:
        in_window = sum(start <= t < start + POLL * 0.999 for t in checks)
        assert in_window <= MAX_REQUESTS_PER_SECOND
    # A boot of 40 "seconds" takes about four checks a second, not ten.
    assert len(checks) <= 4 * 40 + 10


async def test_a_check_held_back_is_not_followed_by_another_at_once() -> None:
    """One at a time: a readiness check held back (waiting for room in its
    host's budget) is followed by the next one its wait after it answered,
    not at once (a second request that would only ask again)."""
    orchestrator, driver, _ = _make(("NAS", "Machine2"), early_wake=False)
    driver.delay = 20 * POLL
    loop = asyncio.get_running_loop()
    starts: list[float] = []
    ends: list[float] = []
    is_ready = driver.is_ready

    async def held_back_once(node_id: str, **kwargs: object) -> bool:
        starts.append(loop.time())
        if len(starts) == 2:
            await asyncio.sleep(5 * POLL)
        ready = await is_ready(node_id, **kwargs)  # type: ignore[arg-type]
        ends.append(loop.time())
        return ready

    driver.is_ready = held_back_once  # type: ignore[method-assign]
    cascade = await (await orchestrator.async_start(ID["Jellyfin"])).wait()
    assert cascade.status is CascadeStatus.COMPLETED
    waits = list(islice(backoff(POLL), 3))
    assert starts[2] - ends[1] >= waits[1] * 0.99
