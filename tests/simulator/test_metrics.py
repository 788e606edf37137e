"""Usage figures (CPU, RAM, network, connections) through each real client."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import aiodocker
import aiohttp

from custom_components.wakehub.inactivity.parsers import (
    PROC_COMMAND,
    SS_COMMAND,
    count_connections,
    cpu_percent,
    parse_proc,
)

from .helpers import pve_client
from .test_wol_ssh import _ssh

if TYPE_CHECKING:
    from tests.homelab import HomelabThread


async def _metrics(homelab: HomelabThread, body: dict[str, Any]) -> tuple[int, Any]:
    url = homelab.ready["control_url"]
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{url}/metrics", json=body) as resp,
    ):
        return resp.status, await resp.json()


def _resource(homelab: HomelabThread, machine: str, name: str) -> dict[str, Any]:
    resources = pve_client(homelab, machine).cluster.resources.get(type="vm")
    return next(item for item in resources if item["name"] == name)


async def test_proxmox_resources_follow_the_control_api(
    homelab: HomelabThread,
) -> None:
    """cpu, mem and the net counters of /cluster/resources, default and set."""
    homelab.set_power("VM-Ubuntu", "running")
    guest = _resource(homelab, "Machine1", "VM-Ubuntu")
    assert guest["cpu"] < 0.05
    assert guest["mem"] == guest["maxmem"] // 4
    status, body = await _metrics(
        homelab,
        {"node": "VM-Ubuntu", "cpu": 0.8, "mem": 3 * 1024**3, "netin": 5_000_000},
    )
    assert status == 200
    assert body["overrides"] == {"cpu": 0.8, "mem": 3 * 1024**3, "netin": 5_000_000}
    guest = _resource(homelab, "Machine1", "VM-Ubuntu")
    assert (guest["cpu"], guest["mem"], guest["netin"]) == (
        0.8,
        3 * 1024**3,
        5_000_000,
    )
    # A counter set lower is what a reboot looks like.
    await _metrics(homelab, {"node": "VM-Ubuntu", "netin": 10, "cpu": None})
    guest = _resource(homelab, "Machine1", "VM-Ubuntu")
    assert guest["netin"] == 10
    assert guest["cpu"] < 0.05
    assert homelab.node("VM-Ubuntu")["metrics"] == {
        "mem": 3 * 1024**3,
        "netin": 10,
    }
    homelab.reset()
    assert homelab.node("VM-Ubuntu")["metrics"] == {}


async def test_docker_stats_one_document(homelab: HomelabThread) -> None:
    """``stats?stream=false``: the CLI's CPU formula, memory and rx/tx bytes."""
    homelab.set_power("VM-Docker", "running")
    homelab.set_power("plex", "running")
    await _metrics(
        homelab, {"node": "plex", "cpu": 0.25, "netin": 4096, "netout": 1024}
    )
    homelab.reset_requests()
    docker = aiodocker.Docker(url=homelab.ready["nodes"]["VM-Docker"]["docker"]["url"])
    try:
        plex = await docker.containers.get("plex")
        (stats,) = await plex.stats(stream=False)
        sandbox = await docker.containers.get("sandbox")
        (stopped,) = await sandbox.stats(stream=False)
    finally:
        await docker.close()
    cpu, pre = stats["cpu_stats"], stats["precpu_stats"]
    cpu_delta = cpu["cpu_usage"]["total_usage"] - pre["cpu_usage"]["total_usage"]
    system_delta = cpu["system_cpu_usage"] - pre["system_cpu_usage"]
    # docker stats shows this share times online_cpus: 25 % of all CPUs.
    assert round(cpu_delta / system_delta, 3) == 0.25
    assert cpu["online_cpus"] == 2
    assert 0 < stats["memory_stats"]["usage"] < stats["memory_stats"]["limit"]
    assert stats["networks"]["eth0"]["rx_bytes"] == 4096
    assert stats["networks"]["eth0"]["tx_bytes"] == 1024
    assert stopped["read"] == "0001-01-01T00:00:00Z"
    assert "networks" not in stopped
    counts = homelab.requests()["hosts"]["VM-Docker"]["endpoints"]
    assert counts["docker GET /containers/{id}/stats"] == 2


async def test_ssh_read_only_commands(homelab: HomelabThread) -> None:
    """``ss`` lists the set connections and its own session; /proc follows cpu."""
    homelab.set_power("NAS", "on")
    await _metrics(
        homelab,
        {
            "node": "NAS",
            "cpu": 0.4,
            "connections": [445, {"port": 2049, "peer": "10.0.0.9:700"}],
        },
    )
    port = homelab.ready["nodes"]["NAS"]["ssh"]["port"]
    async with await _ssh(homelab, "NAS") as conn:
        ss = await conn.run(SS_COMMAND, check=True)
        first = await conn.run(PROC_COMMAND, check=True)
        await asyncio.sleep(1.0)
        second = await conn.run(PROC_COMMAND, check=True)
    output = str(ss.stdout)
    assert count_connections(output) == 3  # the SSH session itself is listed
    assert count_connections(output, exclude=(port,)) == 2
    assert count_connections(output, ports=(2049,)) == 1
    assert "10.0.0.9:700" in output
    (cpu1, ram), (cpu2, _) = (
        parse_proc(str(first.stdout)),
        parse_proc(str(second.stdout)),
    )
    assert ram is not None
    assert round(ram, 3) == 20.0  # a machine uses a fifth of its RAM by default
    measured = cpu_percent(cpu1, cpu2)
    assert measured is not None
    assert 35 <= measured <= 45
    assert [c["command"] for c in homelab.commands()] == [
        SS_COMMAND,
        PROC_COMMAND,
        PROC_COMMAND,
    ]


async def test_metrics_route_refusals(homelab: HomelabThread) -> None:
    """Unknown node, unknown key, a CPU share out of range; GET shows a node."""
    assert (await _metrics(homelab, {"node": "nowhere", "cpu": 0.1}))[0] == 400
    status, body = await _metrics(homelab, {"node": "NAS", "disk": 1})
    assert (status, body) == (400, {"error": "unknown metrics: ['disk']"})
    assert (await _metrics(homelab, {"node": "NAS", "cpu": 2}))[0] == 400
    url = homelab.ready["control_url"]
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{url}/metrics/NAS") as resp:
            assert resp.status == 200
            body = await resp.json()
        async with session.get(f"{url}/metrics/nowhere") as resp:
            assert resp.status == 404
    assert body == {
        "node": "NAS",
        "cpu": 0.0,
        "mem": 0,
        "maxmem": body["maxmem"],
        "netin": 0,
        "netout": 0,
        "connections": [],
        "overrides": {},
    }
