"""Benchmark of the coordinators' polling: ``scripts/bench poll [options]``.

Runs the homelab simulator in a child process (``python -m tests.homelab``,
loopback only) and a throwaway Home Assistant in this one (built the way
pytest-homeassistant-custom-component's ``async_test_home_assistant`` does,
with a temporary config directory), with one WakeHub entry per machine set
up through Home Assistant's own config entries. It measures:

(a) the reference homelab, everything on: the API requests of one refresh of
    every coordinator, counted by the simulator's ``/requests``;
(b) Machine1 scaled to ``--guests`` extra guests and VM-Docker to
    ``--containers`` extra containers, everything on and managed: the same
    figure, which must equal (a);
(c) everything off: the requests of one refresh (0), and the time
    ``async_setup_entry`` takes per entry while the hosts answer nothing
    (target: under 0.5 s, although a host that is off answers nothing and a
    full probe waits out its 2 s timeout: the set-up only takes a quick look,
    and the full probe follows in the background);
(d) the memory WakeHub adds for the scaled homelab, with tracemalloc around
    the setup, ``--refreshes`` warm-up refreshes, the registries' delayed
    save, and ``--refreshes`` more (target: under 10 MiB throughout, and no
    growth over the refreshes after the warm-up beyond ``--growth-kib``), on
    an event loop of its own.

(e) the reference homelab, everything on, with an inactivity rule on every
    node (docs/data-updates.md, "Inactivity"): with the Proxmox criteria on
    the guests and a Home Assistant entity on every node, the requests of
    one refresh must equal (a); with CPU and RAM on the containers, Docker's
    stats endpoint is read once per container with a rule per period (the
    rule's clock is moved 30 s per refresh); and the memory over
    ``--rule-refreshes`` refreshes grows by at most ``--growth-kib``. Each
    pass runs on an event loop of its own, so that the timers an earlier
    case's Home Assistant leaves behind cannot refresh inside it.

The requests per refresh are measured after one warm-up refresh: the first
refresh that finds a host up also reads its version once (PVE ``/version``,
Docker's API version negotiation). Prints a table; exits 1 when a target is
missed.
"""

from __future__ import annotations

import argparse
import asyncio
from concurrent.futures import ThreadPoolExecutor
import contextlib
from dataclasses import dataclass
import gc
import json
import logging
import os
from pathlib import Path
import subprocess
import sys
import tempfile
import time
import tracemalloc
from typing import TYPE_CHECKING, Any, Self
from unittest.mock import patch
import urllib.request

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

ROOT = Path(__file__).resolve().parent.parent

SETUP_TARGET_S = 0.5
MEMORY_TARGET_MB = 10.0


@dataclass(slots=True)
class Row:
    """One line of the result table."""

    case: str
    figure: str
    target: str
    ok: bool


class Simulator:
    """The homelab simulator in a child process, driven by its control API."""

    def __init__(self, *, guests: int = 0, containers: int = 0) -> None:
        """Prepare a simulator with the given extra guests and containers."""
        self.args = [
            "--extra-guests",
            str(guests),
            "--extra-containers",
            str(containers),
        ]
        self.process: subprocess.Popen[bytes] | None = None
        self.ready: dict[str, Any] = {}

    def __enter__(self) -> Self:
        """Start the simulator and wait for its ready document."""
        folder = Path(tempfile.mkdtemp(prefix="wakehub-bench-"))
        ready_file = folder / "ready.json"
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.homelab",
                "--time-scale",
                "0.02",
                "--log-level",
                "WARNING",
                "--ready-file",
                str(ready_file),
                *self.args,
            ],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while not ready_file.exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the homelab simulator did not start")
            time.sleep(0.05)
        self.ready = json.loads(ready_file.read_text())
        return self

    def __exit__(self, *exc: object) -> None:
        """Stop the simulator (SIGTERM) and wait for it."""
        if self.process is not None:
            self.process.terminate()
            self.process.wait(30)

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.ready["control_url"] + path, data=data, method=method
        )
        request.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read() or b"null")

    def all_on(self) -> None:
        """Bring every node up (machines, guests, containers)."""
        for name, node in self.ready["nodes"].items():
            state = "on" if node["kind"] == "machine" else "running"
            self._call("POST", "/power", {"node": name, "state": state})

    def requests(self) -> int:
        """The number of API requests since the last reset."""
        return int(self._call("GET", "/requests")["total"])

    def endpoints(self) -> dict[str, int]:
        """The requests since the last reset, by endpoint."""
        return dict(self._call("GET", "/requests")["endpoints"])

    def reset_requests(self) -> None:
        """Zero the simulator's request counters."""
        self._call("POST", "/requests/reset")


@contextlib.asynccontextmanager
async def _home_assistant() -> AsyncIterator[Any]:
    """A throwaway Home Assistant that loads WakeHub from this checkout."""
    from aiohttp import ThreadedResolver
    from homeassistant import loader
    from homeassistant.runner import MAX_EXECUTOR_WORKERS
    from pytest_homeassistant_custom_component.common import (
        async_test_home_assistant,
    )

    # As the test plugin does: no mDNS resolver (it would need the network
    # integration and could send multicast); every host here is 127.0.0.1.
    no_mdns = patch(
        "homeassistant.helpers.aiohttp_client._async_make_resolver",
        side_effect=lambda _hass: ThreadedResolver(),
        create=True,
    )
    # Home Assistant's own runner gives the loop an executor of 64 workers
    # (homeassistant/runner.py); the loop's default would have os.cpu_count()
    # + 4, and the probes of several machines, each waiting out its deadline
    # in a worker, would queue behind each other as they never do in a real
    # install.
    asyncio.get_running_loop().set_default_executor(
        ThreadPoolExecutor(
            max_workers=MAX_EXECUTOR_WORKERS, thread_name_prefix="SyncWorker"
        )
    )
    with (
        tempfile.TemporaryDirectory(prefix="wakehub-bench-ha-") as config_dir,
        no_mdns,
    ):
        async with async_test_home_assistant(config_dir=config_dir) as hass:
            hass.data.pop(loader.DATA_CUSTOM_COMPONENTS, None)
            yield hass


SIGNAL_ENTITY = "sensor.bench_sessions"
STATS_ENDPOINT = "docker GET /containers/{id}/stats"


def _rule(kind: str, *, container_usage: bool) -> dict[str, Any]:
    """The rule of the inactivity case: no SSH read, Docker stats if asked."""
    signals = [{"entity_id": SIGNAL_ENTITY, "kind": "above"}]
    if kind in ("vm", "lxc"):
        return {"enabled": True, "minutes": 10, "network": True, "signals": signals}
    usage = container_usage and kind == "container"
    return {
        "enabled": True,
        "minutes": 10,
        "cpu": usage,
        "ram": usage,
        "signals": signals,
    }


def _with_rules(entries: list[Any], *, container_usage: bool) -> None:
    """Give every node of ``entries`` an inactivity rule (before their setup)."""
    for entry in entries:
        options = entry.options
        options["machine"]["inactivity"] = _rule("machine", container_usage=False)
        for node in options["nodes"].values():
            node["inactivity"] = _rule(node["kind"], container_usage=container_usage)


class _Clock:
    """The inactivity monitor's monotonic clock, moved by the benchmark."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def _refresh_sampled(hass: Any, entries: list[Any], clock: _Clock) -> None:
    """Move the rules' clock 30 s, refresh, and wait for the sampling."""
    clock.now += 30
    await asyncio.gather(
        *(entry.runtime_data.coordinator.async_refresh() for entry in entries)
    )
    await hass.async_block_till_done(wait_background_tasks=True)


async def _case_inactivity(container_usage: bool, refreshes: int) -> dict[str, float]:
    """(e), one pass: requests with the free criteria, or stats and memory.

    Each pass runs on an event loop of its own (see :func:`main`): a Home
    Assistant of an earlier case leaves its coordinators' timers on its
    loop, and their refreshes would land in this pass's figures.
    """
    from homeassistant.setup import async_setup_component

    figures: dict[str, float] = {}
    with Simulator() as simulator:
        simulator.all_on()
        async with _home_assistant() as hass:
            # "In use": every node stays on, so no cascade disturbs the counts.
            hass.states.async_set(SIGNAL_ENTITY, "1")
            entries = _entries(hass, simulator)
            _with_rules(entries, container_usage=container_usage)
            if not await async_setup_component(hass, "wakehub", {}):
                raise RuntimeError("WakeHub did not load")
            clock = _Clock()
            hass.data["wakehub"].inactivity.clock = clock
            await _setup(hass, entries)
            await _refresh_sampled(hass, entries, clock)  # warm-up
            if not container_usage:
                simulator.reset_requests()
                await _refresh_sampled(hass, entries, clock)
                figures["requests"] = simulator.requests()
                figures["rules"] = sum(
                    len(entry.runtime_data.coordinator.tree) for entry in entries
                )
                return figures
            figures["containers"] = sum(
                node["kind"] == "container"
                for entry in entries
                for node in entry.options["nodes"].values()
            )
            # The warm-up read every container once; a period is 20 refreshes.
            simulator.reset_requests()
            for _ in range(20):
                await _refresh_sampled(hass, entries, clock)
            figures["stats_per_period"] = simulator.endpoints().get(STATS_ENDPOINT, 0)
            await _flush_stores(hass)
            gc.collect()
            tracemalloc.start()
            samples = []
            for _ in range(refreshes):
                await _refresh_sampled(hass, entries, clock)
                gc.collect()
                samples.append(tracemalloc.get_traced_memory()[0])
            tracemalloc.stop()
            figures["growth_kib"] = (samples[-1] - samples[1]) / 1024
    return figures


def _entries(hass: Any, simulator: Simulator) -> list[Any]:
    """One entry per machine of the simulator, every child managed."""
    from pytest_homeassistant_custom_component.common import MockConfigEntry

    from custom_components.wakehub.const import CONF_MAC, DOMAIN
    from custom_components.wakehub.core.ids import machine_id
    from tests.integration.conftest import entry_data_for

    entries = []
    for name, node in simulator.ready["nodes"].items():
        if node["kind"] != "machine":
            continue
        data, options = entry_data_for(simulator, name)  # type: ignore[arg-type]
        entry = MockConfigEntry(
            domain=DOMAIN,
            title=name,
            unique_id=machine_id(data[CONF_MAC]),
            data=data,
            options=options,
        )
        entries.append(entry)
    return entries


async def _setup(hass: Any, entries: list[Any]) -> list[float]:
    """Set every entry up, one by one; return the seconds each one took.

    The integration itself (its code, its ``async_setup``) is loaded first,
    untimed, so that only ``async_setup_entry`` is measured.
    """
    from homeassistant.setup import async_setup_component

    if not await async_setup_component(hass, "wakehub", {}):
        raise RuntimeError("WakeHub did not load")
    times = []
    for entry in entries:
        entry.add_to_hass(hass)
        started = time.perf_counter()
        if not await hass.config_entries.async_setup(entry.entry_id):
            raise RuntimeError(f"the setup of {entry.title} failed")
        times.append(time.perf_counter() - started)
    await hass.async_block_till_done()
    return times


async def _flush_stores(hass: Any) -> None:
    """Write every delayed ``Store`` save now, as Home Assistant does at stop.

    The entity and device registries save 10 s after the setup registered
    their entries, and keep each entry's JSON fragment cached from then on:
    a one-time cost that would otherwise land inside the growth window.
    """
    from homeassistant.const import EVENT_HOMEASSISTANT_FINAL_WRITE

    hass.bus.async_fire(EVENT_HOMEASSISTANT_FINAL_WRITE)
    await hass.async_block_till_done()


async def _refresh(hass: Any, entries: list[Any]) -> None:
    """Refresh every coordinator once."""
    await asyncio.gather(
        *(entry.runtime_data.coordinator.async_refresh() for entry in entries)
    )
    await hass.async_block_till_done()


async def _requests_per_refresh(
    hass: Any, simulator: Simulator, entries: list[Any]
) -> int:
    """The API requests of one steady-state refresh of every coordinator."""
    await _refresh(hass, entries)  # warm-up: versions are read once per boot
    simulator.reset_requests()
    await _refresh(hass, entries)
    return simulator.requests()


async def _managed_nodes(entries: list[Any]) -> int:
    return sum(len(entry.runtime_data.coordinator.tree) for entry in entries)


async def _case_requests(guests: int, containers: int) -> tuple[int, int]:
    """Requests per refresh with everything on, and the managed node count."""
    with Simulator(guests=guests, containers=containers) as simulator:
        simulator.all_on()
        async with _home_assistant() as hass:
            entries = _entries(hass, simulator)
            await _setup(hass, entries)
            requests = await _requests_per_refresh(hass, simulator, entries)
            return requests, await _managed_nodes(entries)


def _probe_timeout() -> float:
    """The TCP probe's default timeout (custom_components/.../probe.py)."""
    import importlib

    module = importlib.import_module("custom_components.wakehub.channels.probe")
    return float(module.DEFAULT_PROBE_TIMEOUT)


async def _case_off() -> tuple[int, list[float]]:
    """Everything off: requests per refresh, and setup seconds per entry."""
    with Simulator() as simulator:
        async with _home_assistant() as hass:
            entries = _entries(hass, simulator)
            times = await _setup(hass, entries)
            requests = await _requests_per_refresh(hass, simulator, entries)
            return requests, times


async def _case_memory(
    guests: int, containers: int, refreshes: int
) -> tuple[float, float, list[float]]:
    """(d): memory after setup, after the warm-up, and over the measured refreshes.

    The setup and ``refreshes`` warm-up refreshes come first: the first
    refresh that finds a host up reads its version, and the entity and
    device registries save 10 s after the setup, keeping each entry's JSON
    from then on. Whether that save fell inside the measured refreshes
    depended on how fast the machine ran them; it is written at the end of
    the warm-up instead (:func:`_flush_stores`), so it counts in the
    footprint and never in the growth. Then ``refreshes`` more refreshes
    measure the steady state. Figures in MiB above the traced memory before
    the setup (the integration's code is loaded before, untraced).
    """
    with Simulator(guests=guests, containers=containers) as simulator:
        simulator.all_on()
        async with _home_assistant() as hass:
            from homeassistant.loader import async_get_integration

            integration = await async_get_integration(hass, "wakehub")
            await integration.async_get_component()
            await integration.async_get_platform("sensor")
            entries = _entries(hass, simulator)
            gc.collect()
            tracemalloc.start()
            baseline = tracemalloc.get_traced_memory()[0]

            def traced() -> float:
                gc.collect()
                return (tracemalloc.get_traced_memory()[0] - baseline) / 2**20

            await _setup(hass, entries)
            after_setup = traced()
            for _ in range(refreshes):
                await _refresh(hass, entries)
            await _flush_stores(hass)
            warm = traced()
            samples = []
            for _ in range(refreshes):
                await _refresh(hass, entries)
                samples.append(traced())
            tracemalloc.stop()
            return after_setup, warm, samples


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="scripts/bench poll", description=__doc__)
    parser.add_argument("--guests", type=int, default=60)
    parser.add_argument("--containers", type=int, default=200)
    parser.add_argument("--refreshes", type=int, default=10)
    parser.add_argument("--rule-refreshes", type=int, default=100)
    parser.add_argument(
        "--growth-kib",
        type=float,
        default=256.0,
        help="allowed memory drift over the refreshes after the warm-up (KiB)",
    )
    return parser.parse_args(argv)


async def _run(args: argparse.Namespace) -> tuple[list[Row], int]:
    """Cases (a) to (c); also (a)'s requests per refresh, which (e) must equal."""
    rows: list[Row] = []
    small, small_nodes = await _case_requests(0, 0)
    rows.append(
        Row(
            f"(a) reference, all on ({small_nodes} managed nodes)",
            f"{small} requests / refresh",
            "O(hosts)",
            True,
        )
    )
    big, big_nodes = await _case_requests(args.guests, args.containers)
    rows.append(
        Row(
            f"(b) +{args.guests} guests, +{args.containers} containers "
            f"({big_nodes} managed nodes)",
            f"{big} requests / refresh",
            f"= (a) = {small}",
            big == small,
        )
    )
    off_requests, times = await _case_off()
    rows.append(
        Row(
            "(c) all off: requests",
            f"{off_requests} requests / refresh",
            "0",
            off_requests == 0,
        )
    )
    rows.append(
        Row(
            "(c) all off: async_setup_entry",
            f"max {max(times):.3f} s, mean {sum(times) / len(times):.3f} s "
            f"({len(times)} entries)",
            f"< {SETUP_TARGET_S} s each (probe timeout {_probe_timeout()} s)",
            max(times) < SETUP_TARGET_S,
        )
    )
    return rows, small


def _run_memory(args: argparse.Namespace) -> list[Row]:
    """(d), on an event loop of its own: what the Home Assistants of (a) to
    (c) leave on theirs (timers, their registries' saves) is not traced."""
    rows: list[Row] = []
    after_setup, warm, samples = asyncio.run(
        _case_memory(args.guests, args.containers, args.refreshes)
    )
    peak = max([after_setup, warm, *samples])
    growth_kib = (samples[-1] - warm) * 1024
    rows.append(
        Row(
            f"(d) memory, scaled: setup + {args.refreshes} warm-up refreshes "
            f"+ {args.refreshes} more",
            f"{after_setup:.2f} MiB after setup, {warm:.2f} MiB warm, "
            f"peak {peak:.2f} MiB",
            f"< {MEMORY_TARGET_MB:.0f} MiB",
            peak < MEMORY_TARGET_MB,
        )
    )
    rows.append(
        Row(
            f"(d) memory growth over the {args.refreshes} refreshes after warm-up",
            f"{growth_kib:+.0f} KiB",
            f"<= {args.growth_kib:.0f} KiB",
            growth_kib <= args.growth_kib,
        )
    )
    return rows


def _run_inactivity(args: argparse.Namespace, small: int) -> list[Row]:
    """(e), each pass on its own event loop."""
    rows: list[Row] = []
    rules = asyncio.run(_case_inactivity(False, 0))
    rules.update(asyncio.run(_case_inactivity(True, args.rule_refreshes)))
    rows.append(
        Row(
            f"(e) rules on all {rules['rules']:.0f} nodes: Proxmox + HA-entity",
            f"{rules['requests']:.0f} requests / refresh",
            f"= (a) = {small}",
            rules["requests"] == small,
        )
    )
    rows.append(
        Row(
            f"(e) rules: Docker stats, {rules['containers']:.0f} containers",
            f"{rules['stats_per_period']:.0f} stats requests / period",
            f"= {rules['containers']:.0f} (1 per container)",
            rules["stats_per_period"] == rules["containers"],
        )
    )
    rows.append(
        Row(
            f"(e) rules: memory growth over {args.rule_refreshes} refreshes",
            f"{rules['growth_kib']:+.0f} KiB",
            f"< {args.growth_kib:.0f} KiB",
            rules["growth_kib"] < args.growth_kib,
        )
    )
    return rows


def _print(rows: list[Row]) -> None:
    headers = ("case", "figure", "target", "ok")
    table = [
        headers,
        *((r.case, r.figure, r.target, "yes" if r.ok else "NO") for r in rows),
    ]
    widths = [max(len(line[i]) for line in table) for i in range(len(headers))]
    for index, line in enumerate(table):
        print(
            " | ".join(
                cell.ljust(width) for cell, width in zip(line, widths, strict=True)
            )
        )
        if index == 0:
            print("-|-".join("-" * width for width in widths))


def main(argv: list[str]) -> int:
    """Run every case, print the table, and return 1 if a target is missed."""
    args = _parse(argv)
    logging.basicConfig(level=logging.ERROR)
    os.chdir(ROOT)
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import custom_components.wakehub  # noqa: F401  # ours, before HA looks

    rows, small = asyncio.run(_run(args))
    rows += _run_memory(args)
    rows += _run_inactivity(args, small)
    _print(rows)
    return 0 if all(row.ok for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
