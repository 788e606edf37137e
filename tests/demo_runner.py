"""Starting ``scripts/develop --headless`` for a test, up to its ``READY`` line.

Shared by the demo's end-to-end tests (``tests/demo``) and the dashboard
cards' browser tests (``tests/browser``): :func:`running_demo` starts the
script in its own session, on a free port, with a config directory below
``work``, waits for ``READY <url> <username> <password> <simulator-control-url>``,
skips (saying why) when Home Assistant cannot start here, and stops the whole
session on the way out.

A demo start is most of those tests' time (Home Assistant starting, then
configured through its flows: about 50 s on an idle machine, up to two
minutes beside the rest of the suite). So one demo serves them all: the
``shared_demo`` fixture (registered as a plugin in ``tests/conftest.py``)
starts it once per test session (per xdist worker; ``tests/conftest.py``
hands every file of ``tests/browser`` and ``tests/demo`` to the same worker),
and :func:`reset_to_cold` puts it back cold before each test that uses it:
the simulator reset (every node off, faults cleared, an empty command log),
WakeHub's cascade notifications dismissed, and every status entity refreshed
until it says "off" (WakeHub then withdraws its proposals by itself). At the
end of the session SIGTERM must stop the script, Home Assistant and the
simulator cleanly (:func:`stop_checked`), or the last test using the demo
errors.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
import importlib.metadata
import importlib.util
import json
import os
from pathlib import Path
import signal
import socket
import subprocess
import time
from typing import TYPE_CHECKING, Any, Final
import urllib.error
import urllib.parse
import urllib.request

import aiohttp
import pytest
import pytest_socket

if TYPE_CHECKING:
    from collections.abc import Collection, Iterator

ROOT: Final = Path(__file__).resolve().parents[1]
DEVELOP: Final = ROOT / "scripts" / "develop"
READY_TIMEOUT: Final = 300.0  # a cold venv set-up is not included
STOP_TIMEOUT: Final = 90.0
COLD_TIMEOUT: Final = 60.0  # every status entity "off" after a reset
IDLE_TIMEOUT: Final = 30.0  # a cascade left running by a test, to end

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


@dataclass
class Demo(Started):
    """A running ``scripts/develop --headless``, with its READY line read
    (the ``demo`` fixture of ``tests/demo``: the shared demo, put back cold)."""

    url: str
    username: str
    password: str
    sim_url: str

    def log_tail(self, lines: int = 40) -> str:
        """The end of the script's stderr, for failure messages."""
        return "\n".join(self.stderr.read_text().splitlines()[-lines:])


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


# ------------------------------------------------------------ one shared demo


def recovery_mode_expected() -> bool:
    """Whether Home Assistant lacks the frontend it pins (it then starts in recovery mode).

    HA 2026.10.4 needs a home-assistant-frontend release the package registry
    here does not have: without it that release starts in recovery mode, and
    the demo cannot run. With the pinned frontend installed (the floor
    release), recovery mode is a failure, not a reason to skip.
    """
    spec = importlib.util.find_spec("homeassistant")
    assert spec is not None
    assert spec.submodule_search_locations
    package = Path(next(iter(spec.submodule_search_locations)))
    manifest = json.loads(
        (package / "components" / "frontend" / "manifest.json").read_text()
    )
    wanted = {
        req.split("==")[0]: req.split("==")[1]
        for req in manifest["requirements"]
        if "==" in req
    }
    try:
        installed = importlib.metadata.version("home-assistant-frontend")
    except importlib.metadata.PackageNotFoundError:
        return True
    return wanted.get("home-assistant-frontend", installed) != installed


def cannot_start_reasons() -> tuple[str, ...]:
    """What ``scripts/develop`` may say when Home Assistant cannot start here."""
    if recovery_mode_expected():
        return (*HA_CANNOT_START, "started in recovery mode")
    return HA_CANNOT_START


@contextlib.contextmanager
def loopback_sockets() -> Iterator[None]:
    """Sockets allowed (to 127.0.0.1 only) outside a test's own fixtures."""
    guarded = socket.socket
    pytest_socket.enable_socket()
    pytest_socket.socket_allow_hosts(["127.0.0.1"], allow_unix_socket=True)
    try:
        yield
    finally:
        socket.socket = guarded  # type: ignore[misc]


def http(
    method: str,
    url: str,
    body: Any = None,
    *,
    token: str | None = None,
    form: dict[str, str] | None = None,
) -> Any:
    """One JSON request (or a form), its decoded answer."""
    headers: dict[str, str] = {}
    data = None
    if form is not None:
        data = urllib.parse.urlencode(form).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    elif body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=data, headers=headers, method=method)
    with urllib.request.urlopen(request, timeout=30) as response:
        raw = response.read()
    return json.loads(raw) if raw else None


def login(url: str, username: str, password: str) -> str:
    """An access token, through Home Assistant's login flow (as the login page)."""
    client_id = f"{url}/"
    flow = http(
        "POST",
        f"{url}/auth/login_flow",
        {
            "client_id": client_id,
            "handler": ["homeassistant", None],
            "redirect_uri": f"{url}/?auth_callback=1",
        },
    )
    result = http(
        "POST",
        f"{url}/auth/login_flow/{flow['flow_id']}",
        {"client_id": client_id, "username": username, "password": password},
    )
    assert result["type"] == "create_entry", result
    tokens = http(
        "POST",
        f"{url}/auth/token",
        form={
            "grant_type": "authorization_code",
            "code": result["result"],
            "client_id": client_id,
        },
    )
    return str(tokens["access_token"])


async def notifications(url: str, token: str) -> list[dict[str, Any]]:
    """The persistent notifications, as the frontend reads them (websocket)."""
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session,
        session.ws_connect(f"{url}/api/websocket") as ws,
    ):
        assert (await ws.receive_json())["type"] == "auth_required"
        await ws.send_json({"type": "auth", "access_token": token})
        assert (await ws.receive_json())["type"] == "auth_ok"
        await ws.send_json({"id": 1, "type": "persistent_notification/get"})
        answer = await ws.receive_json()
        assert answer["success"], answer
        return list(answer["result"])


def render(url: str, token: str, template: str) -> str:
    """A template, rendered by Home Assistant."""
    request = urllib.request.Request(
        f"{url}/api/template",
        data=json.dumps({"template": template}).encode(),
        headers={
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
        },
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return str(response.read().decode())


def reset_to_cold(ready_line: str) -> None:
    """Put a running demo back as ``scripts/develop`` leaves it: cold.

    The simulator's ``POST /reset`` (every node off, faults cleared, host
    keys and certificates as at start, an empty command log), WakeHub's own
    persistent notifications dismissed (cascade reports; its proposals go by
    themselves once their nodes are off), a failed cascade's errors cleared,
    every WakeHub status entity refreshed until it says "off", as
    ``scripts/develop_configure.py``'s last step does. Fails (saying what is
    left) when a cascade still runs after :data:`IDLE_TIMEOUT` seconds or
    the demo is not cold after :data:`COLD_TIMEOUT`.
    """
    url, username, password, sim_url = ready_fields(ready_line)
    token = login(url, username, password)
    entities = json.loads(
        render(url, token, "{{ integration_entities('wakehub') | tojson }}")
    )
    shown = {s["entity_id"] for s in http("GET", f"{url}/api/states", token=token)}
    entities = [e for e in entities if e in shown]  # not the disabled ones
    status = [e for e in entities if e.startswith("sensor.") and e.endswith("_status")]
    assert status, "the demo has no WakeHub status entity"
    # A cascade a test left running would power nodes after the reset.
    cascade = [e for e in entities if e.startswith("sensor.") and e not in status]
    deadline = time.monotonic() + IDLE_TIMEOUT
    while running := [
        e
        for e in cascade
        if http("GET", f"{url}/api/states/{e}", token=token)["state"] == "running"
    ]:
        if time.monotonic() > deadline:
            pytest.fail(f"a cascade still runs ({running}): the demo cannot be reset")
        time.sleep(0.5)
    http("POST", f"{sim_url}/reset", {})
    for note in asyncio.run(notifications(url, token)):
        if note["notification_id"].startswith("wakehub_"):
            http(
                "POST",
                f"{url}/api/services/persistent_notification/dismiss",
                {"notification_id": note["notification_id"]},
                token=token,
            )
    deadline = time.monotonic() + COLD_TIMEOUT
    while True:
        states = {
            s["entity_id"]: s for s in http("GET", f"{url}/api/states", token=token)
        }
        # A failed cascade's error stays on its nodes until dismissed.
        if failed := [e for e in status if states.get(e, {}).get("state") == "error"]:
            http(
                "POST",
                f"{url}/api/services/wakehub/clear_error",
                {"entity_id": failed},
                token=token,
            )
        http(
            "POST",
            f"{url}/api/services/homeassistant/update_entity",
            {"entity_id": status},
            token=token,
        )
        states = {
            s["entity_id"]: s for s in http("GET", f"{url}/api/states", token=token)
        }
        up = sorted(e for e in status if states.get(e, {}).get("state") != "off")
        notes = [
            n["notification_id"]
            for n in asyncio.run(notifications(url, token))
            if n["notification_id"].startswith("wakehub_")
        ]
        if not up and not notes:
            break
        if time.monotonic() > deadline:
            pytest.fail(
                f"the demo is not cold {COLD_TIMEOUT:.0f}s after a reset:"
                f" {up} not off, notifications {notes}"
            )
        time.sleep(0.5)
    log = http("GET", f"{sim_url}/log")
    assert log == [], f"something was powered during the reset: {log}"


def _session_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def stop_checked(started: Started) -> None:
    """SIGTERM stops the script, Home Assistant and the simulator cleanly.

    The script exits 0 within :data:`STOP_TIMEOUT`, nothing of its session
    outlives it, and Home Assistant's port no longer answers.
    """
    url = ready_fields(started.ready_line)[0]
    process = started.process
    pgid = process.pid
    assert process.poll() is None, (
        f"scripts/develop exited {process.returncode} before the end of the session:\n"
        + "\n".join(started.stderr.read_text().splitlines()[-30:])
    )
    process.send_signal(signal.SIGTERM)
    rc = process.wait(timeout=STOP_TIMEOUT)
    assert rc == 0, "\n".join(started.stderr.read_text().splitlines()[-30:])
    deadline = time.monotonic() + 10
    while _session_alive(pgid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _session_alive(pgid), (
        "Home Assistant or the simulator outlived the script"
    )
    with pytest.raises(urllib.error.URLError):
        http("GET", f"{url}/api/onboarding")


@pytest.fixture(scope="session")
def shared_demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Started]:
    """One ``scripts/develop --headless`` for the whole session, up to READY.

    Use it through a test's own fixture that calls :func:`reset_to_cold`
    first (``tests/demo``, ``tests/browser``). Skips, saying why, when Home
    Assistant cannot start here (the skip then holds for every test that
    asks for it: the demo is not started twice). At the end SIGTERM must
    stop it all cleanly (:func:`stop_checked`).
    """
    work = tmp_path_factory.mktemp("demo")
    with running_demo(work, cannot_start_reasons()) as started:
        yield started
        with loopback_sockets():
            stop_checked(started)
