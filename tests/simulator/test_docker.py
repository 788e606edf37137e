"""The simulated Docker Engine API, driven by aiodocker."""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING

import aiodocker
import aiohttp
import pytest

from .helpers import tcp_answer

if TYPE_CHECKING:
    from tests.homelab import HomelabThread


def _url(homelab: HomelabThread, host: str = "VM-Docker") -> str:
    return str(homelab.ready["nodes"][host]["docker"]["url"])


async def test_list_inspect_start_stop(homelab: HomelabThread) -> None:
    """List (all / running), inspect by name and ID, start/stop with 204 and 304."""
    homelab.set_power("VM-Docker", "running")
    docker = aiodocker.Docker(url=_url(homelab))
    try:
        assert (await docker.version())["ApiVersion"] >= "1.41"
        everything = await docker.containers.list(all=True)
        names = sorted(c._container["Names"][0] for c in everything)
        assert names == ["/plex", "/sandbox"]
        assert await docker.containers.list() == []
        plex = await docker.containers.get("plex")
        assert plex["Name"] == "/plex"
        assert plex["State"]["Running"] is False
        assert plex["State"]["Status"] in ("created", "exited")
        by_id = await docker.containers.get(plex["Id"])
        assert by_id["Name"] == "/plex"
        await plex.start()
        info = await docker.containers.get("plex")
        assert info["State"]["Running"] is True
        assert info["State"]["Status"] == "running"
        assert info["State"]["Health"]["Status"] == "starting"
        await homelab.async_run(lambda lab: _wait_health(lab, "plex"))
        info = await docker.containers.get("plex")
        assert info["State"]["Health"]["Status"] == "healthy"
        running = await docker.containers.list()
        assert [c._container["Names"] for c in running] == [["/plex"]]
        assert running[0]._container["State"] == "running"
        assert running[0]._container["Status"].endswith("(healthy)")
        sandbox = await docker.containers.get("sandbox")
        assert "Health" not in sandbox["State"]
        await plex.stop()
        assert (await docker.containers.get("plex"))["State"]["Running"] is False
        assert [e["action"] for e in homelab.log()] == ["docker_start", "docker_stop"]
    finally:
        await docker.close()


async def _wait_health(lab: object, name: str) -> None:
    from tests.homelab.core import Homelab

    assert isinstance(lab, Homelab)
    for _ in range(500):
        if lab.node(name).health == "healthy":
            return
        await asyncio.sleep(0.01)
    raise AssertionError("never healthy")


async def test_raw_status_codes_and_prefixes(homelab: HomelabThread) -> None:
    """304 when already in that state, 404 body, versioned and unversioned paths."""
    homelab.set_power("RaspberryPi", "on")
    base = f"http://127.0.0.1:{homelab.ready['nodes']['RaspberryPi']['docker']['port']}"
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{base}/_ping") as resp:
            assert resp.status == 200
            assert await resp.text() == "OK"
            assert resp.headers["Api-Version"] >= "1.41"
        async with session.post(f"{base}/v1.41/containers/pihole/stop") as resp:
            assert resp.status == 304
        async with session.post(f"{base}/v1.41/containers/pihole/start") as resp:
            assert resp.status == 204
        async with session.post(f"{base}/containers/pihole/start") as resp:
            assert resp.status == 304
        async with session.get(f"{base}/v1.41/containers/nope/json") as resp:
            assert resp.status == 404
            assert await resp.json() == {"message": "No such container: nope"}
        async with session.post(f"{base}/containers/nope/start") as resp:
            assert resp.status == 404
        async with session.get(f"{base}/v1.41/containers/json?all=1") as resp:
            listing = await resp.json()
        assert sorted(c["Names"][0] for c in listing) == ["/pihole", "/uptime-kuma"]
        for item in listing:
            assert {"Id", "Names", "Image", "State", "Status", "Created"} <= set(item)
            assert len(item["Id"]) == 64


async def test_recreate_changes_id(homelab: HomelabThread) -> None:
    """A recreated container keeps its name but gets a new ID: the old ID is a 404."""
    homelab.set_power("RaspberryPi", "on")
    docker = aiodocker.Docker(url=_url(homelab, "RaspberryPi"))
    try:
        old = (await docker.containers.get("pihole"))["Id"]
        new = homelab.recreate("pihole")
        assert new != old
        assert (await docker.containers.get("pihole"))["Id"] == new
        with pytest.raises(aiodocker.DockerError) as err:
            await docker.containers.get(old)
        assert err.value.status == 404
    finally:
        await docker.close()


async def test_events_stream(homelab: HomelabThread) -> None:
    """/events streams JSON lines for start and stop."""
    homelab.set_power("RaspberryPi", "on")
    base = f"http://127.0.0.1:{homelab.ready['nodes']['RaspberryPi']['docker']['port']}"
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{base}/v1.41/events") as stream,
    ):
        assert stream.status == 200
        async with session.post(f"{base}/containers/uptime-kuma/start") as resp:
            assert resp.status == 204
        line = await asyncio.wait_for(stream.content.readline(), 5)
        event = json.loads(line)
        assert event["Type"] == "container"
        assert event["Action"] == "start"
        assert event["Actor"]["Attributes"]["name"] == "uptime-kuma"
        async with session.post(f"{base}/containers/uptime-kuma/stop") as resp:
            assert resp.status == 204
        actions = [
            json.loads(await asyncio.wait_for(stream.content.readline(), 5))["Action"]
            for _ in range(3)
        ]
        assert actions == ["kill", "die", "stop"]


async def test_docker_api_follows_host_power(homelab: HomelabThread) -> None:
    """VM-Docker's API answers nothing while its host is off, refuses while
    the VM is stopped on a running host, and dies with the host."""
    port = homelab.ready["nodes"]["VM-Docker"]["docker"]["port"]
    url = f"http://127.0.0.1:{port}/_ping"
    assert tcp_answer(port) == "silent"
    homelab.set_power("Machine1", "on")
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.ClientConnectionError):
            await session.get(url)
        homelab.set_power("plex", "running")  # brings VM-Docker up
        assert homelab.state("VM-Docker") == "running"
        async with session.get(url) as resp:
            assert resp.status == 200
    homelab.set_power("Machine1", "off")
    assert homelab.state("plex") == "stopped"
    assert tcp_answer(port) == "silent"
