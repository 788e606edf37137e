# ruff: noqa: SLF001  # reuses bench_poll's simulator handle and throwaway HA
"""Benchmark of the orchestrated cascades: ``scripts/bench cascade [options]``.

Runs the homelab simulator in a child process (``python -m tests.homelab``,
loopback only, real time) with realistic boot times scaled down by one factor
(``--scale``, 0.1 by default: machines 60 s, VMs 20 s, LXCs 5 s, containers
2 s become 6, 2, 0.5 and 0.2 s; used for boot, shutdown and a container's
health check alike), and a throwaway Home Assistant in this one (the way
``scripts/bench_poll.py`` builds it), with the four reference entries and the
reference edges (sandbox -> Jellyfin -> NAS, plex -> NAS). Three cases:

* the reference cold start: everything off, ``switch.turn_on`` on sandbox
  (NAS, Machine2, Jellyfin, Machine1, VM-Docker, sandbox), **sequential**;
* the same with **early wake** on every machine (their magic packets at the
  cascade's start);
* scenario 3: sandbox, plex, VM-Docker, VM-Ubuntu and Jellyfin running (their
  hosts on), ``switch.turn_off`` on Machine1.

A case's total runs from the service call to the end of the cascade asked
for (its target is up, or down: what the user waits for), not to the
refreshes and re-evaluations that follow it.

It prints, for the cold start: the sequential total, the early-wake total,
the **critical-path limit** (the longest chain of boot times through the
plan, where a node boots once everything it needs in the plan is up: its
dependencies and its host) and the ratio of each to it. For every case: the
overhead per step (its ``started`` to ``done`` minus the node's simulated
delay), the lag from "node ready in the simulator" (its ``/states`` log) to
"the node's status sensor shows it" (``state_changed``), and the most
requests any host received in one second (the simulator's ``/requests``
request log: the most requests one host received in any one-second
window). Both processes read the same monotonic clock.

With the early-wake total it prints that case's **floor**: the best any run
can do with no overhead at all, since the guests still start one at a time
once their machines are up. Each case starts once the set-up has settled
(every coordinator polled, its requests more than a second old), as a
cascade in a running Home Assistant does; Home Assistant gets the 64-worker
executor its runner gives it (``scripts/bench_poll.py``).

Targets: early wake within 1.1x the critical path; overhead per step median
<= 0.25 s (sequential cold start and the stop); lag median <= 0.3 s; at most
5 requests per second per host. The targets are meant for an idle machine;
``--scale`` larger makes the fixed costs weigh less. Exits 1 when one is
missed.

A machine counts as down for WakeHub as soon as its probe stops answering,
which happens when its shutdown *begins*; its shutdown delay then runs after
WakeHub has moved on, so its step's overhead and lag come out negative.
"""

from __future__ import annotations

import argparse
import asyncio
from dataclasses import dataclass, field
import importlib.util
import logging
import os
from pathlib import Path
import statistics
import sys
import time
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

OVERHEAD_TARGET_S = 0.25
LAG_TARGET_S = 0.3
RATE_TARGET = 5.0
EARLY_WAKE_TARGET = 1.1
BOOT_TIMES = {"machine": 60.0, "vm": 20.0, "lxc": 5.0, "container": 2.0}
"""Realistic boot times in seconds, scaled by ``--scale``."""
DEFAULT_SCALE = 0.1
MACHINES = ("NAS", "Machine1", "Machine2")
UP_STATES = {"on", "running"}
DOWN_STATES = {"off", "stopped"}


def _bench_poll() -> Any:
    """``scripts/bench_poll.py``: its simulator process and throwaway HA."""
    name = "bench_poll"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(
        name, Path(__file__).with_name("bench_poll.py")
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@dataclass(slots=True)
class Result:
    """What one scenario measured."""

    name: str
    total: float
    simulated: float
    overheads: dict[str, float] = field(default_factory=dict)
    lags: dict[str, float] = field(default_factory=dict)
    commands: list[tuple[str, str]] = field(default_factory=list)
    endpoints: dict[str, Any] = field(default_factory=dict)
    critical_path: float = 0.0
    floor: float = 0.0
    max_rate: float = 0.0
    busiest: str = "-"
    busiest_window: list[str] = field(default_factory=list)
    timelines: dict[str, dict[str, float]] = field(default_factory=dict)
    events: list[tuple[float, str]] = field(default_factory=list)


@dataclass(slots=True)
class Row:
    """One line of the result table."""

    case: str
    figure: str
    target: str
    ok: bool


def _simulated(ready: dict[str, Any], name: str, action: str, delays: dict) -> float:
    """The simulated delay of one step.

    A healthy container waits twice (running, then healthy); a guest's start
    is Proxmox's start task, then its OS's boot until its services answer.
    """
    node = ready["nodes"][name]
    delay = delays[node["kind"]]
    if action == "start" and node.get("healthcheck"):
        return 2 * delay
    if action == "start" and node["kind"] in ("vm", "lxc"):
        return delays["task"] + delay
    return delay


def _ready_times(states: list[dict[str, Any]], ready: dict[str, Any]) -> dict:
    """``(node, "start"|"stop") -> monotonic time`` the simulator reached it."""
    times: dict[tuple[str, str], float] = {}
    for entry in states:
        name = entry["node"]
        if "health" in entry or "services" in entry:  # healthy; a guest's OS up
            times[name, "start"] = entry["t"]
        elif entry["state"] in UP_STATES:
            node = ready["nodes"][name]
            if not node.get("healthcheck") and node["kind"] not in ("vm", "lxc"):
                times[name, "start"] = entry["t"]
        elif entry["state"] in DOWN_STATES:
            times[name, "stop"] = entry["t"]
    return times


def _up_after(topology: Any, node_id: str, up: dict[str, float]) -> float:
    """When the last of what ``node_id`` needs (its dependencies and its
    host) among the nodes in ``up`` is up; 0 when it needs none of them."""
    needs = [*topology.dependencies(node_id), topology.parent(node_id)]
    return max((up[n] for n in needs if n in up), default=0.0)


def _critical_path(
    topology: Any,
    plan: list[tuple[str, str]],
    ready: dict[str, Any],
    delays: dict[str, float],
) -> float:
    """The longest chain of boot times through ``plan`` (node id, name).

    A node of the plan is up at its boot time after the last of what it
    needs in the plan (its dependencies and its host) is up; a node that
    needs nothing in the plan boots from the start (a machine woken at once).
    """
    up: dict[str, float] = {}
    for node_id, name in plan:  # a topological order: needs come first
        up[node_id] = _up_after(topology, node_id, up) + _simulated(
            ready, name, "start", delays
        )
    return max(up.values(), default=0.0)


def _sequential_floor(
    topology: Any,
    plan: list[tuple[str, str]],
    ready: dict[str, Any],
    delays: dict[str, float],
) -> float:
    """The best an early-wake cold start can do, with no overhead at all.

    Every machine of ``plan`` whose own dependencies are not in the plan
    boots from the start; every other step then runs one at a time, in plan
    order, each once the previous one is done and what it needs is up. The
    target of 1.1 x the critical path sits below this floor when the plan's
    guests boot one after the other.
    """
    in_plan = {node_id for node_id, _name in plan}
    up: dict[str, float] = {}
    for node_id, name in plan:
        if ready["nodes"][name]["kind"] == "machine" and not in_plan.intersection(
            topology.dependencies(node_id)
        ):
            up[node_id] = _simulated(ready, name, "start", delays)
    clock = 0.0
    for node_id, name in plan:
        after = _up_after(topology, node_id, up)
        if node_id in up:
            clock = max(clock, after, up[node_id])
            continue
        clock = max(clock, after) + _simulated(ready, name, "start", delays)
        up[node_id] = clock
    return clock


async def _scenario(
    hass: Any,
    simulator: Any,
    *,
    name: str,
    service: str,
    target: str,
    delays: dict[str, float],
) -> Result:
    """Run one switch service call to the end of its cascades; measure."""
    from homeassistant.core import callback

    from custom_components.wakehub.const import (
        DOMAIN,
        EVENT_CASCADE_COMPLETED,
        EVENT_CASCADE_FAILED,
        EVENT_CASCADE_STARTED,
        EVENT_CASCADE_STEP,
    )
    from custom_components.wakehub.hub import HUB_KEY
    from tests.homelab.core import busiest_second
    from tests.integration.hub_helpers import async_wait_idle, switch_id

    hub = hass.data[HUB_KEY]
    topology = hub.orchestrator.topology
    ready = simulator.ready
    step_times: dict[tuple[str, str], float] = {}
    steps: list[tuple[str, str]] = []
    seen: dict[tuple[str, str], float] = {}
    events: list[tuple[float, str]] = []

    @callback
    def on_step(event: Any) -> None:
        data = event.data
        key = (data["name"], data["action"])
        if data["status"] == "started":
            steps.append(key)
        step_times[(*key, data["status"])] = time.monotonic()  # type: ignore[index]
        events.append((time.monotonic(), f"{data['status']} {data['name']}"))

    @callback
    def on_state(event: Any) -> None:
        entity_id = event.data["entity_id"]
        new = event.data["new_state"]
        if new is None or not entity_id.endswith("_status"):
            return
        for node in ready["nodes"]:
            if entity_id == f"sensor.{node.lower().replace('-', '_')}_status":
                if new.state == "on":
                    seen.setdefault((node, "start"), time.monotonic())
                elif new.state == "off":
                    seen.setdefault((node, "stop"), time.monotonic())

    plan: list[tuple[str, str]] = []
    first: dict[str, Any] = {}

    @callback
    def on_started(event: Any) -> None:
        if not plan:  # the first cascade: the one asked for
            plan.extend((step["node"], step["name"]) for step in event.data["steps"])
            first["id"] = event.data["cascade_id"]

    @callback
    def on_ended(event: Any) -> None:
        # The asked-for cascade's end: its target is ready (what the user
        # waits for), whatever refreshes and re-evaluations follow.
        if event.data["cascade_id"] == first.get("id"):
            first.setdefault("ended", time.monotonic())

    remove_started = hass.bus.async_listen(EVENT_CASCADE_STARTED, on_started)
    remove_ended = [
        hass.bus.async_listen(name, on_ended)
        for name in (EVENT_CASCADE_COMPLETED, EVENT_CASCADE_FAILED)
    ]
    remove_step = hass.bus.async_listen(EVENT_CASCADE_STEP, on_step)
    remove_state = hass.bus.async_listen("state_changed", on_state)
    # A cascade in a running Home Assistant: every coordinator has polled
    # (its API clients are connected) and the requests of the set-up are
    # more than a second old, so that they do not count against the first
    # steps' request budget.
    for entry in hass.config_entries.async_entries(DOMAIN):
        await entry.runtime_data.coordinator.async_refresh()
    await asyncio.sleep(1.2)
    simulator._call("POST", "/requests/reset")
    started = time.monotonic()
    await hass.services.async_call(
        "switch", service, {"entity_id": switch_id(target)}, blocking=True
    )
    await async_wait_idle(hass, timeout=300)
    total = first.get("ended", time.monotonic()) - started
    # Let the last refreshes land before reading the lags.
    await asyncio.sleep(2.0)
    await hass.async_block_till_done()
    remove_started()
    for remove in remove_ended:
        remove()
    remove_step()
    remove_state()
    del hub

    states = await hass.async_add_executor_job(simulator._call, "GET", "/states")
    counts = await hass.async_add_executor_job(simulator._call, "GET", "/requests")
    log = await hass.async_add_executor_job(simulator._call, "GET", "/log")
    sim_ready = _ready_times(states, ready)
    result = Result(name=name, total=total, simulated=0.0)
    result.events = [(at - started, what) for at, what in events]
    result.events += [
        (entry["t"] - started, f"simulator: {entry['action']} {entry['node']}")
        for entry in log
    ]
    result.events += [
        (t - started, f"request {host}: {endpoint}")
        for t, host, endpoint in counts["log"]
    ]
    result.events.sort()
    count, result.busiest, result.busiest_window = busiest_second(counts["log"])
    result.max_rate = float(count)
    result.endpoints = counts["hosts"]
    if service == "turn_on":
        result.critical_path = _critical_path(topology, plan, ready, delays)
        result.floor = _sequential_floor(topology, plan, ready, delays)
    for node, action in steps:
        delay = _simulated(ready, node, action, delays)
        result.simulated += delay
        begin = step_times.get((node, action, "started"))  # type: ignore[call-overload]
        end = step_times.get((node, action, "done"))  # type: ignore[call-overload]
        if begin is not None and end is not None:
            result.overheads[f"{action} {node}"] = end - begin - delay
        if (at := sim_ready.get((node, action))) is not None and (
            shown := seen.get((node, action))
        ) is not None:
            result.lags[f"{action} {node}"] = shown - at
    sent: dict[str, float] = {}
    for entry in log:
        sent.setdefault(entry["node"], entry["t"])
    for node, action in steps:
        marks = {
            "started": step_times.get((node, action, "started")),  # type: ignore[call-overload]
            "command": sent.get(node),
            "ready": sim_ready.get((node, action)),
            "done": step_times.get((node, action, "done")),  # type: ignore[call-overload]
            "shown": seen.get((node, action)),
        }
        base = marks["started"]
        if base is not None:
            result.timelines[f"{action} {node}"] = {
                mark: at - base for mark, at in marks.items() if at is not None
            }
    found: list[tuple[str, str]] = []
    for entry in log:
        command = (entry["action"], entry["node"])
        if not (command[0] == "wol" and found and found[-1] == command):
            found.append(command)
    result.commands = found
    return result


async def _run(scale: float, verbose: bool) -> list[Result]:
    poll = _bench_poll()
    from tests.homelab.core import GUEST_TASK_DELAY
    from tests.integration.hub_helpers import async_setup_homelab

    class Simulator(poll.Simulator):  # type: ignore[misc,name-defined]
        """Every delay of the simulator (boots, Proxmox tasks) times ``scale``."""

        def __init__(self) -> None:
            super().__init__()
            self.args += ["--time-scale", str(scale)]
            for kind, seconds in BOOT_TIMES.items():
                self.args += ["--delay", f"{kind}={seconds}"]

    delays = {kind: seconds * scale for kind, seconds in BOOT_TIMES.items()}
    delays["task"] = GUEST_TASK_DELAY * scale

    results: list[Result] = []
    early = {name: {"early_wake": True} for name in MACHINES}
    for name, settings in (("sequential", None), ("early wake", early)):
        with Simulator() as simulator:
            async with poll._home_assistant() as hass:
                await async_setup_homelab(hass, simulator, settings=settings)
                results.append(
                    await _scenario(
                        hass,
                        simulator,
                        name=f"cold start, {name}",
                        service="turn_on",
                        target="sandbox",
                        delays=delays,
                    )
                )
    with Simulator() as simulator:
        for name in ("sandbox", "plex", "VM-Ubuntu", "Jellyfin"):
            simulator._call("POST", "/power", {"node": name, "state": "running"})
        async with poll._home_assistant() as hass:
            await async_setup_homelab(hass, simulator)
            results.append(
                await _scenario(
                    hass,
                    simulator,
                    name="scenario 3",
                    service="turn_off",
                    target="Machine1",
                    delays=delays,
                )
            )
    if verbose:
        for result in results:
            print(f"{result.name}: {result.commands}")
            for host, entry in result.endpoints.items():
                print(f"  requests to {host}: {entry}")
            print(
                "  events: "
                + ", ".join(f"{at:.2f} {what}" for at, what in result.events)
            )
            print(
                f"  busiest second: {result.max_rate:g} to {result.busiest}:"
                f" {result.busiest_window}"
            )
            for step, overhead in result.overheads.items():
                lag = result.lags.get(step)
                shown = f"{lag:+.3f} s" if lag is not None else "-"
                print(f"  {step:24} overhead {overhead:+.3f} s, lag {shown}")
                marks = result.timelines.get(step, {})
                print(
                    "    after its start: "
                    + ", ".join(f"{mark} {at:+.3f}" for mark, at in marks.items())
                )
    return results


def _rows(results: list[Result]) -> list[Row]:
    rows: list[Row] = []
    sequential, early, stop = results
    limit = sequential.critical_path
    rows.append(
        Row(
            "cold start: critical path (limit)",
            f"{limit:.2f} s",
            "-",
            True,
        )
    )
    for result, target in ((sequential, None), (early, EARLY_WAKE_TARGET)):
        ratio = result.total / limit if limit else float("inf")
        rows.append(
            Row(
                f"{result.name}: total",
                f"{result.total:.2f} s = {ratio:.2f} x the limit"
                f" ({len(result.overheads)} steps,"
                f" simulated delays {result.simulated:.2f} s)",
                "-" if target is None else f"<= {target} x",
                target is None or ratio <= target,
            )
        )
    rows.append(
        Row(
            "cold start, early wake: floor (no overhead, guests one at a time)",
            f"{early.floor:.2f} s = {early.floor / limit:.2f} x the limit",
            "-",
            True,
        )
    )
    rows.append(
        Row(
            f"{stop.name}: total ({len(stop.overheads)} steps)",
            f"{stop.total:.2f} s (simulated delays {stop.simulated:.2f} s)",
            "-",
            True,
        )
    )
    for result in results:
        overheads = list(result.overheads.values())
        lags = list(result.lags.values())
        if result is not early:  # early wake: machines boot before their step
            median = statistics.median(overheads) if overheads else float("inf")
            rows.append(
                Row(
                    f"{result.name}: overhead per step",
                    f"median {median:.3f} s, max {max(overheads, default=0):.3f} s",
                    f"median <= {OVERHEAD_TARGET_S} s",
                    median <= OVERHEAD_TARGET_S,
                )
            )
        lag = statistics.median(lags) if lags else float("inf")
        rows.append(
            Row(
                f"{result.name}: simulator ready -> HA state",
                f"median {lag:.3f} s, max {max(lags, default=0):.3f} s"
                f" ({len(lags)} nodes)",
                f"median <= {LAG_TARGET_S} s",
                lag <= LAG_TARGET_S,
            )
        )
        rows.append(
            Row(
                f"{result.name}: requests per host",
                f"max {result.max_rate:.1f}/s ({result.busiest})",
                f"<= {RATE_TARGET:g}/s",
                result.max_rate <= RATE_TARGET,
            )
        )
    return rows


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="scripts/bench cascade", description=__doc__)
    parser.add_argument(
        "--scale",
        type=float,
        default=DEFAULT_SCALE,
        help="factor on the boot times (machine 60 s, VM 20 s, LXC 5 s,"
        " container 2 s); default %(default)s",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="every step")
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    """Run the three cases, print the table, and return 1 if a target is missed."""
    args = _parse(argv)
    logging.basicConfig(level=logging.ERROR)
    os.chdir(ROOT)
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import custom_components.wakehub  # noqa: F401  # ours, before HA looks

    print(
        "boot times: "
        + ", ".join(
            f"{kind} {seconds * args.scale:g} s" for kind, seconds in BOOT_TIMES.items()
        )
        + f" (x{args.scale:g}); load average before: {os.getloadavg()[0]:.2f}"
    )
    results = asyncio.run(_run(args.scale, args.verbose))
    rows = _rows(results)
    _bench_poll()._print(rows)
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    return 0 if all(row.ok for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
