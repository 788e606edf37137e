"""Conformance: the SAME assertions against the simulator and against real servers.

- Docker Engine API: the simulator's VM-Docker versus a real ``dockerd``
  (``real_dockerd`` from tests/real_servers.py).
- SSH shutdown path: the simulator's NAS versus a real OpenSSH ``sshd`` whose
  forced command logs the command instead of running it (``real_sshd``).

The real fixtures skip, with a visible reason, where the servers cannot run.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
import re
from typing import TYPE_CHECKING, Any

import aiodocker
import aiohttp
import asyncssh
import pytest

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from tests.homelab import HomelabThread


@dataclass
class DockerTarget:
    """A Docker Engine to test, with one container that has a health check and one without."""

    base_url: str
    with_health: str
    plain: str


@pytest.fixture(params=["simulator", "real"])
def docker_target(
    request: pytest.FixtureRequest, homelab_server: HomelabThread
) -> Iterator[DockerTarget]:
    """The simulator's VM-Docker, or a real dockerd, both with two stopped containers.

    ``homelab_server`` is requested up front so that its thread exists before
    Home Assistant's per-test thread check starts.
    """
    if request.param == "simulator":
        homelab: HomelabThread = request.getfixturevalue("homelab")
        homelab.set_power("VM-Docker", "running")
        port = homelab.ready["nodes"]["VM-Docker"]["docker"]["port"]
        yield DockerTarget(f"http://127.0.0.1:{port}", "plex", "sandbox")
        return
    engine = request.getfixturevalue("real_dockerd")
    engine.create_container("wh-conf-health", health_cmd="true")
    engine.create_container("wh-conf-plain")
    yield DockerTarget(
        f"http://127.0.0.1:{engine.tcp_port}", "wh-conf-health", "wh-conf-plain"
    )
    engine.remove_container("wh-conf-health")
    engine.remove_container("wh-conf-plain")


async def _raw(
    session: aiohttp.ClientSession, method: str, url: str
) -> tuple[int, Any]:
    async with session.request(method, url) as resp:
        body = await resp.read()
        if resp.headers.get("Content-Type", "").startswith("application/json") and body:
            return resp.status, await resp.json()
        return resp.status, body


async def _wait_health(
    docker: aiodocker.Docker, name: str, status: str
) -> dict[str, Any]:
    for _ in range(200):
        info = await docker.containers.get(name)
        if info["State"]["Health"]["Status"] == status:
            return dict(info._container)
        await asyncio.sleep(0.05)
    raise AssertionError(f"{name} never became {status}")


async def test_docker_conformance(docker_target: DockerTarget) -> None:
    """List, inspect, start, stop, 304s, 404s and names with a leading "/"."""
    target = docker_target
    docker = aiodocker.Docker(url=target.base_url.replace("http://", "tcp://"))
    try:
        async with aiohttp.ClientSession() as session:
            base = target.base_url
            status, listing = await _raw(
                session, "GET", f"{base}/v1.41/containers/json?all=1"
            )
            assert status == 200
            by_name = {item["Names"][0]: item for item in listing}
            for name in (target.with_health, target.plain):
                item = by_name[f"/{name}"]
                assert re.fullmatch(r"[0-9a-f]{64}", item["Id"])
                assert item["State"] in ("created", "exited")
                assert isinstance(item["Status"], str)
                assert isinstance(item["Image"], str)
                assert isinstance(item["Created"], int)
            status, running = await _raw(session, "GET", f"{base}/containers/json")
            assert status == 200
            assert f"/{target.plain}" not in {
                n for item in running for n in item["Names"]
            }

            info = await docker.containers.get(target.plain)
            assert info["Name"] == f"/{target.plain}"
            assert info["State"]["Running"] is False
            assert info["State"]["Status"] in ("created", "exited")
            assert "Health" not in info["State"]
            same = await docker.containers.get(info["Id"][:12])
            assert same["Id"] == info["Id"]

            status, _ = await _raw(
                session, "POST", f"{base}/v1.41/containers/{target.plain}/start"
            )
            assert status == 204
            status, _ = await _raw(
                session, "POST", f"{base}/v1.41/containers/{target.plain}/start"
            )
            assert status == 304
            info = await docker.containers.get(target.plain)
            assert info["State"]["Running"] is True
            assert info["State"]["Status"] == "running"
            status, running = await _raw(session, "GET", f"{base}/containers/json")
            assert f"/{target.plain}" in {n for item in running for n in item["Names"]}

            status, _ = await _raw(
                session, "POST", f"{base}/v1.41/containers/{target.plain}/stop?t=0"
            )
            assert status == 204
            status, _ = await _raw(
                session, "POST", f"{base}/v1.41/containers/{target.plain}/stop?t=0"
            )
            assert status == 304
            info = await docker.containers.get(target.plain)
            assert info["State"]["Running"] is False
            assert info["State"]["Status"] == "exited"

            await docker.containers.container(target.with_health).start()
            await _wait_health(docker, target.with_health, "healthy")
            await docker.containers.container(target.with_health).stop(t=0)

            status, body = await _raw(
                session, "GET", f"{base}/v1.41/containers/wh-nope/json"
            )
            assert (status, body) == (404, {"message": "No such container: wh-nope"})
            status, body = await _raw(
                session, "POST", f"{base}/containers/wh-nope/start"
            )
            assert (status, body) == (404, {"message": "No such container: wh-nope"})
            status, body = await _raw(
                session, "POST", f"{base}/containers/wh-nope/stop"
            )
            assert (status, body) == (404, {"message": "No such container: wh-nope"})
            async with session.get(f"{base}/_ping") as resp:
                assert resp.status == 200
                assert await resp.text() == "OK"
                assert resp.headers["Api-Version"] >= "1.41"
    finally:
        await docker.close()


@dataclass
class SshTarget:
    """An SSH server to test: where, who, which keys, and how to read commands."""

    port: int
    username: str
    password: str
    client_key: str
    host_key: str
    wrong_host_key_port: int | None
    commands: Callable[[], list[str]]
    arm_wrong_key: Callable[[], int]


@pytest.fixture(params=["simulator", "real"])
def ssh_target(
    request: pytest.FixtureRequest, homelab_server: HomelabThread
) -> SshTarget:
    """The simulator's NAS (on), or a real sshd with a logging forced command."""
    if request.param == "simulator":
        homelab: HomelabThread = request.getfixturevalue("homelab")
        homelab.set_power("NAS", "on")
        info = homelab.ready["nodes"]["NAS"]["ssh"]

        def _arm() -> int:
            # The poweroff the test just sent takes the NAS down 0.05 s after
            # it answered (tests/homelab/ssh.py): wait for that and power it on
            # again, or a slow run would find its sshd closed, not re-keyed.
            homelab.wait_state("NAS", "off")
            homelab.set_power("NAS", "on")
            homelab.fault("NAS", "hostkey_change")
            return int(info["port"])

        return SshTarget(
            port=info["port"],
            username=info["username"],
            password=info["password"],
            client_key=info["private_key"],
            host_key=info["host_key"],
            wrong_host_key_port=None,
            commands=lambda: [c["command"] for c in homelab.commands()],
            arm_wrong_key=_arm,
        )
    sshd = request.getfixturevalue("real_sshd")
    sshd.clear_commands()
    return SshTarget(
        port=sshd.port,
        username=sshd.username,
        password=sshd.password,
        client_key=sshd.client_private_key,
        host_key=sshd.host_public_key,
        wrong_host_key_port=sshd.impostor_port,
        commands=sshd.commands,
        arm_wrong_key=lambda: int(sshd.impostor_port),
    )


async def _connect(
    target: SshTarget, port: int, **auth: Any
) -> asyncssh.SSHClientConnection:
    known = asyncssh.import_known_hosts(f"[127.0.0.1]:{port} {target.host_key}\n")
    return await asyncssh.connect(
        "127.0.0.1",
        port,
        username=target.username,
        known_hosts=known,
        agent_path=None,
        connect_timeout=10,
        **auth,
    )


async def test_ssh_shutdown_conformance(ssh_target: SshTarget) -> None:
    """Pinned host key, key and password auth, the shutdown command exits 0 and is seen."""
    target = ssh_target
    key = asyncssh.import_private_key(target.client_key)
    async with await _connect(
        target, target.port, password=target.password, client_keys=None
    ) as conn:
        assert conn.get_extra_info("username") == target.username
    with pytest.raises(asyncssh.PermissionDenied):
        await _connect(
            target, target.port, password="not-the-password", client_keys=None
        )
    conn = await _connect(target, target.port, client_keys=[key])
    try:
        result = await conn.run("sudo -n systemctl poweroff", timeout=10)
        assert result.exit_status == 0
    finally:
        conn.close()
        await conn.wait_closed()
    assert target.commands()[-1] == "sudo -n systemctl poweroff"
    port = target.arm_wrong_key()
    with pytest.raises(asyncssh.HostKeyNotVerifiable):
        await _connect(target, port, client_keys=[key])
