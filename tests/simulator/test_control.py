"""The control API routes, the API faults, the scaled scenario and the CLI."""

from __future__ import annotations

import json
import os
from pathlib import Path
import signal
import subprocess
import sys
import time
from typing import TYPE_CHECKING, Any

import aiohttp
from proxmoxer import ResourceException
import pytest

from tests.homelab import Homelab

from .helpers import pve_client

if TYPE_CHECKING:
    from tests.homelab import HomelabThread

ROOT = Path(__file__).resolve().parents[2]


async def _call(
    session: aiohttp.ClientSession, method: str, url: str, body: Any = None
) -> tuple[int, Any]:
    async with session.request(method, url, json=body) as resp:
        return resp.status, await resp.json()


async def test_control_routes(homelab: HomelabThread) -> None:
    """/ready, /nodes, /power, /faults, /log, /requests, /recreate, /reset."""
    url = homelab.ready["control_url"]
    async with aiohttp.ClientSession() as session:
        status, ready = await _call(session, "GET", f"{url}/ready")
        assert status == 200
        assert ready["wol"] == homelab.ready["wol"]
        assert set(ready["nodes"]) == {
            "NAS", "Machine1", "VM-Docker", "sandbox", "plex", "VM-Ubuntu", "Machine2",
            "Home-Assistant", "Jellyfin", "Cloudflared", "RaspberryPi", "pihole", "uptime-kuma",
        }  # fmt: skip
        status, nodes = await _call(session, "GET", f"{url}/nodes")
        assert {n["name"]: (n["kind"], n["parent"], n["state"]) for n in nodes}[
            "Jellyfin"
        ] == (
            "lxc",
            "Machine2",
            "stopped",
        )
        assert all(n["state"] in ("off", "stopped") for n in nodes)
        status, node = await _call(
            session, "POST", f"{url}/power", {"node": "Jellyfin", "state": "running"}
        )
        assert (status, node["state"]) == (200, "running")
        assert homelab.state("Machine2") == "on"
        status, err = await _call(
            session, "POST", f"{url}/power", {"node": "Nope", "state": "on"}
        )
        assert status == 400
        assert "unknown node" in err["error"]
        status, err = await _call(
            session, "POST", f"{url}/power", {"node": "NAS", "state": "running-ish"}
        )
        assert status == 400
        status, node = await _call(
            session,
            "POST",
            f"{url}/faults",
            {"node": "Machine2", "fault": "api_status", "value": 401},
        )
        assert node["faults"] == {"api_status": 401}
        status, err = await _call(
            session, "POST", f"{url}/faults", {"node": "NAS", "fault": "bogus"}
        )
        assert status == 400
        info = homelab.ready["nodes"]["Machine2"]["proxmox"]
        pve_port = info["port"]
        async with session.get(
            f"https://127.0.0.1:{pve_port}/api2/json/version", ssl=False
        ) as resp:
            assert resp.status == 401
        status, counts = await _call(session, "GET", f"{url}/requests")
        assert counts["total"] == 1
        assert counts["hosts"]["Machine2"]["endpoints"] == {"proxmox GET /version": 1}
        status, _ = await _call(session, "POST", f"{url}/requests/reset")
        assert (await _call(session, "GET", f"{url}/requests"))[1]["total"] == 0
        old_id = homelab.node("plex")["container_id"]
        status, recreated = await _call(
            session, "POST", f"{url}/recreate", {"node": "plex"}
        )
        assert recreated["id"] != old_id
        status, log = await _call(session, "GET", f"{url}/log")
        assert log == []
        status, _ = await _call(session, "POST", f"{url}/reset")
        assert status == 200
        assert homelab.node("Machine2")["faults"] == {}
        assert homelab.state("Jellyfin") == "stopped"


def test_api_status_and_latency_faults(homelab: HomelabThread) -> None:
    """api_status answers that status on Proxmox and Docker; latency delays answers."""
    homelab.set_power("Machine1", "on")
    homelab.set_power("RaspberryPi", "on")
    pve = pve_client(homelab, "Machine1", timeout=10)
    for code in (401, 403, 500):
        homelab.fault("Machine1", "api_status", code)
        with pytest.raises(ResourceException) as err:
            pve.nodes.get()
        assert err.value.status_code == code
    homelab.fault("Machine1", "api_status", None)
    homelab.fault("Machine1", "latency", 0.3)
    started = time.monotonic()
    assert pve.version.get()["release"] == "9.2"
    assert time.monotonic() - started >= 0.3
    import requests

    docker = (
        f"http://127.0.0.1:{homelab.ready['nodes']['RaspberryPi']['docker']['port']}"
    )
    homelab.fault("RaspberryPi", "api_status", 500)
    resp = requests.get(f"{docker}/containers/json", timeout=5)
    assert resp.status_code == 500
    assert "message" in resp.json()


def test_guest_ignores_acpi_shutdown(homelab: HomelabThread) -> None:
    """ignore_shutdown: the shutdown task times out, or stops hard with forceStop=1."""
    homelab.set_power("VM-Ubuntu", "running")
    homelab.fault("VM-Ubuntu", "ignore_shutdown")
    pve = pve_client(homelab, "Machine1")

    def _wait(upid: str) -> dict[str, Any]:
        for _ in range(500):
            status: dict[str, Any] = pve.nodes("pve1").tasks(upid).status.get()
            if status["status"] == "stopped":
                return status
            time.sleep(0.01)
        raise AssertionError("task never ended")

    upid = pve.nodes("pve1").qemu(102).status.shutdown.post(timeout=5)
    assert _wait(upid)["exitstatus"] == "VM quit/powerdown failed - got timeout"
    assert homelab.state("VM-Ubuntu") == "running"
    upid = pve.nodes("pve1").qemu(102).status.shutdown.post(timeout=5, forceStop=1)
    assert _wait(upid)["exitstatus"] == "OK"
    assert homelab.state("VM-Ubuntu") == "stopped"


async def test_scaled_scenario() -> None:
    """extra_guests / extra_containers build the benchmark variant."""
    lab = Homelab(time_scale=0.01, extra_guests=60, extra_containers=200)
    assert len(lab.guests_of("Machine1")) == 62
    assert len(lab.containers_of("VM-Docker")) == 202
    assert len({n.vmid for n in lab.guests_of("Machine1")}) == 62


def test_cli(tmp_path: Path) -> None:
    """``python -m tests.homelab`` writes the ready file, serves /nodes, stops on SIGTERM."""
    ready_file = tmp_path / "ready.json"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.homelab",
            "--scenario",
            "reference",
            "--time-scale",
            "0.05",
            "--control-port",
            "0",
            "--ready-file",
            str(ready_file),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert proc.stdout is not None
        printed = json.loads(proc.stdout.readline())
        ready = json.loads(ready_file.read_text())
        assert printed == ready
        assert ready["time_scale"] == 0.05
        import urllib.request

        with urllib.request.urlopen(
            f"{ready['control_url']}/nodes", timeout=10
        ) as resp:
            nodes = json.load(resp)
        assert {n["name"] for n in nodes} == set(ready["nodes"])
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
