"""Benchmark of the pure planner: ``scripts/bench planner [--sizes ...]``.

Builds synthetic topologies (a forest of machines, VMs and containers, plus
about two dependency edges per node, each pointing at an earlier node, so the
graph is a DAG with one chain running through every node) and times, as the
median of several runs with ``time.perf_counter``:

* the start plan of the deepest node (longest dependency chain): everything
  is off, so its plan holds the whole graph;
* the stop plan of the root of that chain: everything is on, and everything
  depends on it, so its plan holds the whole graph too.

As ``timeit`` does, the garbage collector is paused while a plan is timed
(and run in between), so that a collection of the benchmark's own heap does
not land at random in one sample. Wall-clock medians are sensitive to other
load on the machine: run it on an idle one. Exits 1 when a target is missed:
under 50 ms at 10k nodes, and at most 12x from 10k to 100k.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
import gc
import random
import statistics
import time

from custom_components.wakehub.core import (
    Capability,
    Node,
    NodeKind,
    PowerState,
    Topology,
    plan_start,
    plan_stop,
)

TARGET_MS_AT_10K = 50.0
MAX_GROWTH_10K_TO_100K = 12.0
BLOCK = 20  # nodes per machine block, see _node()


@dataclass(frozen=True, slots=True)
class Result:
    """One row of the table."""

    nodes: int
    edges: int
    build_s: float
    start_ms: float
    stop_ms: float
    start_steps: int
    stop_steps: int


def _node(index: int) -> Node:
    """Node ``index`` of the repeating block of 20.

    0: a Proxmox + Docker machine; 1, 7, 13: VMs with Docker on it; 2-6, 8-12,
    14-18: containers on those VMs; 19: a plain machine (a NAS).
    """
    offset = index % BLOCK
    base = index - offset
    name = f"n{index}"
    if offset == 0:
        return Node(
            id=name,
            kind=NodeKind.MACHINE,
            name=name,
            capabilities=frozenset(Capability),
        )
    if offset == BLOCK - 1:
        return Node(id=name, kind=NodeKind.MACHINE, name=name)
    if offset in {1, 7, 13}:
        return Node(
            id=name,
            kind=NodeKind.VM,
            name=name,
            parent=f"n{base}",
            capabilities=frozenset({Capability.DOCKER}),
        )
    vm = base + (1 if offset < 7 else 7 if offset < 13 else 13)
    return Node(id=name, kind=NodeKind.CONTAINER, name=name, parent=f"n{vm}")


def build(size: int, seed: int) -> tuple[Topology, str, str]:
    """Build the topology; return it, its deepest node and that chain's root."""
    rng = random.Random(seed)
    topology = Topology()
    depth: list[int] = []
    below: list[int] = []  # the predecessor on each node's longest chain
    for index in range(size):
        topology.add_node(_node(index))
        targets = []
        if index >= 1:
            targets.append(index - 1)
        if index >= 2:
            targets.append(rng.randrange(index - 1))
        for target in targets:
            topology.add_dependency(f"n{index}", f"n{target}")
        best = max(targets, key=depth.__getitem__, default=-1)
        depth.append(depth[best] + 1 if best >= 0 else 0)
        below.append(best)
    deepest = max(range(size), key=depth.__getitem__)
    root = deepest
    while below[root] >= 0:
        root = below[root]
    return topology, f"n{deepest}", f"n{root}"


def _median_ms(runs: int, call: object) -> tuple[float, int]:
    """Median wall time of ``call()`` in ms, and the length of its result."""
    timings: list[float] = []
    length = 0
    for _ in range(runs):
        gc.collect()
        gc.disable()
        try:
            began = time.perf_counter()
            result = call()  # type: ignore[operator]
            timings.append((time.perf_counter() - began) * 1000)
        finally:
            gc.enable()
        length = len(result)
    return statistics.median(timings), length


def measure(size: int, runs: int, seed: int) -> Result:
    """Build one topology and time both plans on it."""
    began = time.perf_counter()
    topology, deepest, root = build(size, seed)
    build_s = time.perf_counter() - began
    all_off: dict[str, PowerState] = {}
    all_on = dict.fromkeys(topology.nodes, PowerState.ON)
    start_ms, start_steps = _median_ms(
        runs, lambda: plan_start(topology, all_off, deepest)
    )
    stop_ms, stop_steps = _median_ms(runs, lambda: plan_stop(topology, all_on, root))
    return Result(
        nodes=len(topology),
        edges=len(topology.dependency_edges()),
        build_s=build_s,
        start_ms=start_ms,
        stop_ms=stop_ms,
        start_steps=start_steps,
        stop_steps=stop_steps,
    )


def main(argv: list[str]) -> int:
    """Run the benchmark, print the table, check the targets."""
    parser = argparse.ArgumentParser(prog="scripts/bench planner")
    parser.add_argument(
        "--sizes",
        default="1000,10000,100000",
        help="comma-separated node counts (default: %(default)s)",
    )
    parser.add_argument("--runs", type=int, default=7, help="runs per timing")
    parser.add_argument("--seed", type=int, default=2024)
    args = parser.parse_args(argv)
    sizes = [int(size) for size in args.sizes.split(",")]

    header = (
        f"{'nodes':>8} {'edges':>8} {'build s':>8} {'start ms':>9} {'stop ms':>8}"
        f" {'start steps':>11} {'stop steps':>10}"
    )
    print(header)
    print("-" * len(header))
    results: dict[int, Result] = {}
    for size in sizes:
        row = measure(size, args.runs, args.seed)
        results[size] = row
        print(
            f"{row.nodes:>8} {row.edges:>8} {row.build_s:>8.2f} {row.start_ms:>9.2f}"
            f" {row.stop_ms:>8.2f} {row.start_steps:>11} {row.stop_steps:>10}",
            flush=True,
        )

    failures: list[str] = []
    if 10_000 in results:
        ten = results[10_000]
        for label, value in (("start", ten.start_ms), ("stop", ten.stop_ms)):
            verdict = "ok" if value < TARGET_MS_AT_10K else "MISSED"
            print(
                f"{label} plan at 10k: {value:.2f} ms < {TARGET_MS_AT_10K:.0f} ms: {verdict}"
            )
            if value >= TARGET_MS_AT_10K:
                failures.append(f"{label} at 10k")
        if 100_000 in results:
            hundred = results[100_000]
            for label, small, large in (
                ("start", ten.start_ms, hundred.start_ms),
                ("stop", ten.stop_ms, hundred.stop_ms),
            ):
                growth = large / small
                verdict = "ok" if growth <= MAX_GROWTH_10K_TO_100K else "MISSED"
                print(
                    f"{label} plan growth 10k -> 100k: {growth:.1f}x"
                    f" <= {MAX_GROWTH_10K_TO_100K:.0f}x: {verdict}"
                )
                if growth > MAX_GROWTH_10K_TO_100K:
                    failures.append(f"{label} growth")
    if failures:
        print("targets missed:", ", ".join(failures))
        return 1
    return 0
