"""Starting ``scripts/develop --headless`` for a test, up to its ``READY`` line.

Shared by the demo's end-to-end test (``tests/demo``) and the dashboard card's
browser test (``tests/browser``): :func:`running_demo` starts the script in
its own session, on a free port, with a config directory below ``work``,
waits for ``READY <url> <username> <password> <simulator-control-url>``,
skips (saying why) when Home Assistant cannot start here, and stops the whole
session on the way out.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
import os
from pathlib import Path
import signal
import socket
import subprocess
import time
from typing import TYPE_CHECKING, Final

import pytest
import pytest_socket

if TYPE_CHECKING:
    from collections.abc import Collection, Iterator

ROOT: Final = Path(__file__).resolve().parents[1]
DEVELOP: Final = ROOT / "scripts" / "develop"
READY_TIMEOUT: Final = 300.0  # a cold venv set-up is not included
STOP_TIMEOUT: Final = 90.0

# What scripts/develop says when Home Assistant itself cannot start.
HA_CANNOT_START: Final = (
    "Home Assistant exited during start-up",
    "Home Assistant's API did not answer",
    "scripts/setup failed",
    "no usable Python found",
    "is missing: run scripts/setup",
)


@dataclass
class Started:
    """A ``scripts/develop --headless`` that printed its READY line."""

    process: subprocess.Popen[bytes]
    config: Path
    stdout: Path
    stderr: Path
    ready_line: str
    seconds_to_ready: float


def free_port() -> int:
    """A free loopback port for Home Assistant.

    Module fixtures run before the per-test fixture that allows sockets, so
    this one allows them for itself and puts the guard back.
    """
    guarded = socket.socket
    pytest_socket.enable_socket()
    try:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            return int(sock.getsockname()[1])
    finally:
        socket.socket = guarded  # type: ignore[misc]


def ready_fields(line: str) -> tuple[str, str, str, str]:
    """``(url, username, password, sim_url)`` of a READY line."""
    fields = line.split(" ")
    assert len(fields) == 5, line
    assert fields[0] == "READY", line
    return fields[1], fields[2], fields[3], fields[4]


def stop(process: subprocess.Popen[bytes]) -> int | None:
    """SIGTERM the script; the whole session is killed if it lingers."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=STOP_TIMEOUT)
    rc = process.poll()
    # Anything left in the session (HA, the simulator) goes too.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    if rc is None:
        process.wait(timeout=10)
    return rc


@contextlib.contextmanager
def running_demo(
    work: Path, cannot_start: Collection[str] = HA_CANNOT_START
) -> Iterator[Started]:
    """Start the demo in ``work`` and wait for its READY line; stop it after.

    Skips when the script exits saying one of ``cannot_start`` (Home Assistant
    cannot start here); fails when it exits otherwise or is not ready in
    :data:`READY_TIMEOUT` seconds.
    """
    config = work / "config"
    stdout, stderr = work / "stdout.txt", work / "stderr.txt"
    started = time.monotonic()
    with stdout.open("wb") as out, stderr.open("wb") as err:
        process = subprocess.Popen(
            [
                str(DEVELOP),
                "--headless",
                "--port",
                str(free_port()),
                "--config",
                str(config),
            ],
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            start_new_session=True,
        )
    try:
        deadline = started + READY_TIMEOUT
        while True:
            lines = stdout.read_text().splitlines()
            if ready := next((x for x in lines if x.startswith("READY ")), ""):
                break
            if process.poll() is not None:
                log = stderr.read_text()
                if any(reason in log for reason in cannot_start):
                    pytest.skip(
                        "Home Assistant cannot start here:\n"
                        + "\n".join(log.splitlines()[-15:])
                    )
                pytest.fail(f"scripts/develop exited {process.returncode}:\n{log}")
            if time.monotonic() > deadline:
                pytest.fail(
                    f"no READY line in {READY_TIMEOUT}s:\n{stderr.read_text()[-4000:]}"
                )
            time.sleep(0.5)
        yield Started(
            process=process,
            config=config,
            stdout=stdout,
            stderr=stderr,
            ready_line=ready,
            seconds_to_ready=time.monotonic() - started,
        )
    finally:
        stop(process)
