# ruff: noqa: SLF001  # reuses bench_poll's simulator handle and throwaway HA
"""Benchmark of the orchestrated cascades: ``scripts/bench cascade [options]``.

Runs the homelab simulator in a child process (``python -m tests.homelab``,
loopback only, real time) with one delay per kind (default: machine 2 s, VM
1 s, LXC 0.5 s, container 0.3 s, used for boot, shutdown and a container's
health check alike), and a throwaway Home Assistant in this one (the way
``scripts/bench_poll.py`` builds it), with the four reference entries and the
reference edges (sandbox -> Jellyfin -> NAS, plex -> NAS). Two cases:

* scenario 2: everything off, ``switch.turn_on`` on sandbox (NAS, Machine2,
  Jellyfin, Machine1, VM-Docker, sandbox);
* scenario 3: sandbox, plex, VM-Docker, VM-Ubuntu and Jellyfin running (their
  hosts on), ``switch.turn_off`` on Machine1 (plex, sandbox, VM-Docker,
  VM-Ubuntu, Machine1; Jellyfin stays on).

For each it reports the total time (the service call to the cascade's end);
the sum of the simulated delays along the plan; the overhead per step (step
duration, from its ``started`` to its ``done`` event, minus the node's
simulated delay), median and maximum; and the lag from "node ready in the
simulator" (the simulator's ``/states`` log: the state change, or a container
turning healthy) to "the node's status sensor shows it in Home Assistant"
(``state_changed``), median and maximum. Both processes read the same
monotonic clock.

Targets: overhead per step <= 1.0 s (median), lag <= 1.5 s (maximum).
Prints a table; exits 1 when a target is missed.

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

OVERHEAD_TARGET_S = 1.0
LAG_TARGET_S = 1.5
DEFAULT_DELAYS = {"machine": 2.0, "vm": 1.0, "lxc": 0.5, "container": 0.3}
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


@dataclass(slots=True)
class Row:
    """One line of the result table."""

    case: str
    figure: str
    target: str
    ok: bool


def _simulated(ready: dict[str, Any], name: str, action: str, delays: dict) -> float:
    """The simulated delay of one step (a healthy container waits twice)."""
    node = ready["nodes"][name]
    delay = delays[node["kind"]]
    if action == "start" and node.get("healthcheck"):
        return 2 * delay
    return delay


def _ready_times(states: list[dict[str, Any]], ready: dict[str, Any]) -> dict:
    """``(node, "start"|"stop") -> monotonic time`` the simulator reached it."""
    times: dict[tuple[str, str], float] = {}
    for entry in states:
        name = entry["node"]
        if "health" in entry:
            times[name, "start"] = entry["t"]
        elif entry["state"] in UP_STATES:
            if not ready["nodes"][name].get("healthcheck"):
                times[name, "start"] = entry["t"]
        elif entry["state"] in DOWN_STATES:
            times[name, "stop"] = entry["t"]
    return times


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

    from custom_components.wakehub.hub import EVENT_CASCADE_STEP, HUB_KEY
    from tests.integration.hub_helpers import async_wait_idle, switch_id

    hub = hass.data[HUB_KEY]
    ready = simulator.ready
    step_times: dict[tuple[str, str], float] = {}
    steps: list[tuple[str, str]] = []
    seen: dict[tuple[str, str], float] = {}

    @callback
    def on_step(event: Any) -> None:
        data = event.data
        key = (data["name"], data["action"])
        if data["status"] == "started":
            steps.append(key)
        step_times[(*key, data["status"])] = time.monotonic()  # type: ignore[index]

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

    remove_step = hass.bus.async_listen(EVENT_CASCADE_STEP, on_step)
    remove_state = hass.bus.async_listen("state_changed", on_state)
    simulator._call("POST", "/requests/reset")
    started = time.monotonic()
    await hass.services.async_call(
        "switch", service, {"entity_id": switch_id(target)}, blocking=True
    )
    await async_wait_idle(hass, timeout=120)
    total = time.monotonic() - started
    # Let the last refreshes land before reading the lags.
    await asyncio.sleep(2.0)
    await hass.async_block_till_done()
    remove_step()
    remove_state()
    del hub

    states = await hass.async_add_executor_job(simulator._call, "GET", "/states")
    log = await hass.async_add_executor_job(simulator._call, "GET", "/log")
    sim_ready = _ready_times(states, ready)
    result = Result(name=name, total=total, simulated=0.0)
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
    found: list[tuple[str, str]] = []
    for entry in log:
        command = (entry["action"], entry["node"])
        if not (command[0] == "wol" and found and found[-1] == command):
            found.append(command)
    result.commands = found
    return result


async def _run(delays: dict[str, float], verbose: bool) -> list[Result]:
    poll = _bench_poll()
    from tests.integration.hub_helpers import async_setup_homelab

    class Simulator(poll.Simulator):  # type: ignore[misc,name-defined]
        def __init__(self) -> None:
            super().__init__()
            self.args += ["--time-scale", "1"]
            for kind, seconds in delays.items():
                self.args += ["--delay", f"{kind}={seconds}"]

    results: list[Result] = []
    with Simulator() as simulator:
        async with poll._home_assistant() as hass:
            await async_setup_homelab(hass, simulator)
            results.append(
                await _scenario(
                    hass,
                    simulator,
                    name="scenario 2",
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
            for step, overhead in result.overheads.items():
                lag = result.lags.get(step)
                shown = f"{lag:+.3f} s" if lag is not None else "-"
                print(f"  {step:24} overhead {overhead:+.3f} s, lag {shown}")
    return results


def _rows(results: list[Result]) -> list[Row]:
    rows: list[Row] = []
    for result in results:
        overheads = list(result.overheads.values())
        lags = list(result.lags.values())
        rows.append(
            Row(
                f"{result.name}: total ({len(overheads)} steps)",
                f"{result.total:.2f} s (simulated delays {result.simulated:.2f} s)",
                "-",
                True,
            )
        )
        median = statistics.median(overheads) if overheads else float("inf")
        rows.append(
            Row(
                f"{result.name}: overhead per step",
                f"median {median:.3f} s, max {max(overheads, default=0):.3f} s",
                f"median <= {OVERHEAD_TARGET_S} s",
                median <= OVERHEAD_TARGET_S,
            )
        )
        worst = max(lags, default=float("inf"))
        rows.append(
            Row(
                f"{result.name}: simulator ready -> HA state",
                f"median {statistics.median(lags) if lags else float('nan'):.3f} s,"
                f" max {worst:.3f} s ({len(lags)} nodes)",
                f"<= {LAG_TARGET_S} s",
                worst <= LAG_TARGET_S,
            )
        )
    return rows


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="scripts/bench cascade", description=__doc__)
    for kind, seconds in DEFAULT_DELAYS.items():
        parser.add_argument(
            f"--{kind}", type=float, default=seconds, help=f"{kind} delay (s)"
        )
    parser.add_argument("-v", "--verbose", action="store_true", help="every step")
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    """Run both scenarios, print the table, and return 1 if a target is missed."""
    args = _parse(argv)
    logging.basicConfig(level=logging.ERROR)
    os.chdir(ROOT)
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import custom_components.wakehub  # noqa: F401  # ours, before HA looks

    delays = {kind: getattr(args, kind) for kind in DEFAULT_DELAYS}
    results = asyncio.run(_run(delays, args.verbose))
    rows = _rows(results)
    _bench_poll()._print(rows)
    return 0 if all(row.ok for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
