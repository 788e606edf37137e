"""Command line: ``python -m tests.homelab --scenario reference [...]``.

Runs the homelab until SIGINT or SIGTERM. On start it writes the ready
document to ``--ready-file`` (if given) and prints it on stdout as one JSON
line.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
from pathlib import Path
import signal
import sys

from .core import Homelab
from .model import SCENARIOS


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        prog="python -m tests.homelab", description=__doc__
    )
    parser.add_argument("--scenario", default="reference", choices=sorted(SCENARIOS))
    parser.add_argument(
        "--time-scale", type=float, default=1.0, help="multiplies every delay"
    )
    parser.add_argument(
        "--control-port", type=int, default=0, help="0 picks a free port"
    )
    parser.add_argument("--wol-port", type=int, default=0, help="0 picks a free port")
    parser.add_argument(
        "--ready-file", type=Path, help="where to write the ready document"
    )
    parser.add_argument(
        "--qdevice",
        action="store_true",
        help="cluster scenario: add a QDevice vote, so one node alone keeps quorum",
    )
    parser.add_argument(
        "--status-interval",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="pvestatd's cycle (10 on a real node): /cluster/resources lags by up"
        " to that and says 'unknown' that long after a boot; 0 (default) is live",
    )
    parser.add_argument("--extra-guests", type=int, default=0)
    parser.add_argument("--extra-containers", type=int, default=0)
    parser.add_argument(
        "--delay",
        action="append",
        default=[],
        metavar="KIND=SECONDS",
        help="one unscaled up/down delay for every node of a kind (repeatable)",
    )
    parser.add_argument("--log-level", default="INFO")
    return parser.parse_args(argv)


async def run(args: argparse.Namespace) -> None:
    """Start the homelab, publish the ready document, wait for a signal."""
    lab = Homelab(
        args.scenario,
        time_scale=args.time_scale,
        control_port=args.control_port,
        wol_port=args.wol_port,
        extra_guests=args.extra_guests,
        extra_containers=args.extra_containers,
        qdevice=args.qdevice,
        status_interval=args.status_interval,
        delays={
            kind: float(seconds)
            for kind, _, seconds in (item.partition("=") for item in args.delay)
        },
    )
    await lab.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        document = json.dumps(lab.ready_document())
        if args.ready_file is not None:
            tmp = args.ready_file.with_name(args.ready_file.name + ".tmp")
            tmp.write_text(document + "\n")
            tmp.replace(args.ready_file)  # atomic: readers never see half a file
        print(document, flush=True)
        await stop.wait()
    finally:
        await lab.stop()


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    args = parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
