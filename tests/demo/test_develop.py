"""``scripts/develop --headless`` end to end.

The demo runs in a subprocess (its own session, a free port, a temporary
config directory), up to its ``READY`` line; this test then checks as a
client would: the login from that line works through HA's login flow,
WakeHub's entities exist for every node of the reference homelab and show it
cold, the nodes the demo pins are pinned, and the simulator's control API
answers with every node off and an empty command log. Finally SIGTERM must
stop the script, Home Assistant and the simulator cleanly.

The demo is the session's shared one (``tests/demo_runner.py``: started once
for this file and ``tests/browser``, put back cold before each test), so the
SIGTERM check runs when the session ends, in ``shared_demo``'s teardown
(:func:`~tests.demo_runner.stop_checked`): an unclean stop errors the last
test that used the demo.

Skipped (with the reason) only when Home Assistant cannot start at all here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from tests.demo_runner import http as _http, login

if TYPE_CHECKING:
    from tests.demo_runner import Demo

pytestmark = pytest.mark.demo

# Every node of the reference homelab and its status entity.
REFERENCE_NODES = (
    "NAS",
    "Machine1",
    "VM-Docker",
    "sandbox",
    "plex",
    "VM-Ubuntu",
    "Machine2",
    "Home-Assistant",
    "Jellyfin",
    "Cloudflared",
    "RaspberryPi",
    "pihole",
    "uptime-kuma",
)
PINNED = {"Jellyfin", "sandbox", "plex", "NAS", "Machine1", "Machine2"}


def _login(demo: Demo) -> str:
    """Log in with READY's username and password, as the login page does."""
    return login(demo.url, demo.username, demo.password)


def _status_entity(name: str) -> str:
    return "sensor." + name.lower().replace("-", "_") + "_status"


def _check_ready_line(demo: Demo) -> None:
    """``READY <url> <username> <password> <simulator-control-url>``, on loopback."""
    assert demo.url.startswith("http://127.0.0.1:"), demo.ready_line
    assert demo.sim_url.startswith("http://127.0.0.1:"), demo.ready_line
    assert demo.stdout.read_text().splitlines()[-1] == demo.ready_line
    print(f"scripts/develop: READY after {demo.seconds_to_ready:.1f}s")


def _check_wakehub_entities_for_every_node(demo: Demo) -> None:
    """Every reference node has its status entity, and the homelab is cold."""
    token = _login(demo)
    states = {
        state["entity_id"]: state
        for state in _http("GET", f"{demo.url}/api/states", token=token)
    }
    missing = [n for n in REFERENCE_NODES if _status_entity(n) not in states]
    assert not missing, f"no WakeHub status entity for {missing}\n{demo.log_tail()}"
    up = {
        name: states[_status_entity(name)]["state"]
        for name in REFERENCE_NODES
        if states[_status_entity(name)]["state"] != "off"
    }
    assert not up, f"the demo should start cold: {up}"
    entries = _http(
        "GET",
        f"{demo.url}/api/config/config_entries/entry?domain=wakehub",
        token=token,
    )
    assert sorted(e["title"] for e in entries) == sorted(
        ["NAS", "Machine1", "Machine2", "RaspberryPi"]
    )
    assert {e["state"] for e in entries} == {"loaded"}


def _check_pins_and_edges(demo: Demo) -> None:
    """Jellyfin, sandbox, plex, the NAS and both hosts are pinned; 3 edges stored.

    Read from each entry's diagnostics. The edges are checked when the
    integration has ``wakehub.add_dependency`` (the demo reports it missing
    otherwise).
    """
    token = _login(demo)
    entries = _http(
        "GET",
        f"{demo.url}/api/config/config_entries/entry?domain=wakehub",
        token=token,
    )
    pinned: set[str] = set()
    edges = 0
    for entry in entries:
        diagnostics = _http(
            "GET",
            f"{demo.url}/api/diagnostics/config_entry/{entry['entry_id']}",
            token=token,
        )
        options = diagnostics["data"]["entry"]["options"]
        if options["machine"]["pinned"]:
            pinned.add(entry["title"])
        pinned |= {n["name"] for n in options["nodes"].values() if n["pinned"]}
        edges += len(options.get("dependencies") or [])
    assert pinned == PINNED
    services = _http("GET", f"{demo.url}/api/services", token=token)
    if any(
        item["domain"] == "wakehub" and "add_dependency" in item["services"]
        for item in services
    ):
        assert edges == 3, f"expected the 3 reference edges, found {edges}"
    else:
        assert "no 'wakehub.add_dependency' action yet" in demo.stderr.read_text()


def _check_simulator_nodes(demo: Demo) -> None:
    """The simulator's control API: every node there, off, and a clean log."""
    nodes = {node["name"]: node for node in _http("GET", f"{demo.sim_url}/nodes")}
    assert set(REFERENCE_NODES) <= set(nodes)
    up = {
        n: node["state"]
        for n, node in nodes.items()
        if node["state"] not in ("off", "stopped")
    }
    assert not up, f"the demo should start cold: {up}"
    assert _http("GET", f"{demo.sim_url}/log") == []


def _check_no_downloads_at_start_up(demo: Demo) -> None:
    """Home Assistant installed nothing: setup had it all."""
    logs = sorted(demo.config.glob("home-assistant.log*"))
    assert logs, f"no home-assistant.log in {demo.config}"
    for path in logs:
        log = path.read_text()
        assert "Unable to install package" not in log, path
        assert "Installing package" not in log, path


def test_develop_headless(demo: Demo) -> None:
    """The demo end to end, as a client finds it once READY (cold).

    The last check, SIGTERM stopping everything, is the shared demo's
    teardown (:func:`~tests.demo_runner.stop_checked`).
    """
    _check_ready_line(demo)
    _check_wakehub_entities_for_every_node(demo)
    _check_pins_and_edges(demo)
    _check_simulator_nodes(demo)
    _check_no_downloads_at_start_up(demo)
