"""The Docker channel against the homelab simulator's Docker Engine API."""

from __future__ import annotations

import asyncio
import contextlib
import os
from pathlib import Path
import shutil
import stat
from typing import TYPE_CHECKING, Any

import aiohttp
import pytest

from custom_components.wakehub.channels import (
    ApiError,
    AuthenticationError,
    ChannelTimeoutError,
    ChildKind,
    DockerConfig,
    DockerEndpoint,
    DockerHost,
    HostKeyMismatchError,
    InvalidConfigError,
    NotFoundError,
    PermissionDeniedError,
    SshConfig,
    UnreachableError,
    build_host_api,
    check_connection,
    power_off,
    power_on,
)
from custom_components.wakehub.channels.errors import DockerSocketPermissionError
from tests.real_servers import free_port

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from homeassistant.core import HomeAssistant

    from tests.homelab import HomelabThread


def tcp_config(
    lab: HomelabThread, host: str = "RaspberryPi", **extra: Any
) -> DockerConfig:
    """The plain-TCP endpoint of a simulated Docker host."""
    docker = lab.ready["nodes"][host]["docker"]
    values: dict[str, Any] = {
        "endpoint": DockerEndpoint.TCP,
        "host": "127.0.0.1",
        "port": docker["port"],
        "timeout": 5.0,
    }
    values.update(extra)
    return DockerConfig(**values)


def ssh_config(lab: HomelabThread, node: str = "VM-Docker") -> DockerConfig:
    """Docker over an SSH tunnel to the node's /var/run/docker.sock."""
    ssh = lab.ready["nodes"][node]["ssh"]
    return DockerConfig(
        endpoint=DockerEndpoint.SSH,
        ssh=SshConfig(
            host="127.0.0.1",
            port=ssh["port"],
            username=ssh["username"],
            private_key=ssh["private_key"],
            host_key=ssh["host_key"],
        ),
    )


@pytest.fixture
async def pi(homelab: HomelabThread) -> AsyncIterator[DockerHost]:
    """RaspberryPi on, and a TCP channel to its engine."""
    homelab.set_power("RaspberryPi", "on")
    host = DockerHost(tcp_config(homelab))
    yield host
    await host.close()


async def test_read_states_is_one_request(
    pi: DockerHost, homelab: HomelabThread
) -> None:
    """Every container, keyed by name, in exactly ONE request."""
    homelab.set_power("pihole", "running")
    await pi.check()  # negotiates the API version once
    homelab.reset_requests()
    states = await pi.read_states()
    counts = homelab.requests()["hosts"]["RaspberryPi"]
    assert counts["total"] == 1, counts
    assert list(counts["endpoints"]) == ["docker GET /containers/json"]
    assert set(states) == {"pihole", "uptime-kuma"}
    pihole = states["pihole"]
    assert (pihole.key, pihole.kind, pihole.running, pihole.status) == (
        "pihole",
        ChildKind.CONTAINER,
        True,
        "running",
    )
    assert pihole.details["image"] == "pihole/pihole:latest"
    assert not states["uptime-kuma"].running
    homelab.reset_requests()
    await pi.read_states()
    assert homelab.requests()["hosts"]["RaspberryPi"]["total"] == 1


async def test_start_stop_by_name_survives_recreation(
    pi: DockerHost, homelab: HomelabThread
) -> None:
    """Start/stop by name (304 is success), even after the ID changed."""
    old_id = (await pi.read_states())["pihole"].details["id"]
    new_id = homelab.recreate("pihole")
    assert new_id != old_id
    await power_on(pi, "pihole")
    await pi.start("pihole")  # 304
    homelab.wait_state("pihole", "running")
    states = await pi.read_states()
    assert states["pihole"].details["id"] == new_id
    await power_off(pi, "pihole")
    await pi.stop("pihole")  # 304
    homelab.wait_state("pihole", "stopped")


async def test_errors_and_recovery(pi: DockerHost, homelab: HomelabThread) -> None:
    """404, 401, 403, 500, timeouts (a slow API, a host that is off) and
    refusals map to typed errors."""
    with pytest.raises(NotFoundError):
        await pi.start("nope")
    for status, error in (
        (401, AuthenticationError),
        (403, PermissionDeniedError),
        (500, ApiError),
    ):
        homelab.fault("RaspberryPi", "api_status", status)
        with pytest.raises(error):
            await pi.read_states()
    homelab.fault("RaspberryPi", "api_status", None)
    assert "pihole" in await pi.read_states()

    slow = DockerHost(tcp_config(homelab, timeout=0.3))
    try:
        homelab.fault("RaspberryPi", "latency", 1.0)
        with pytest.raises(ChannelTimeoutError):
            await slow.read_states()
        homelab.fault("RaspberryPi", "latency", None)
        assert "pihole" in await slow.read_states()
        # Off, the Pi answers nothing: the connect times out.
        homelab.set_power("RaspberryPi", "off")
        with pytest.raises(ChannelTimeoutError):
            await slow.read_states()
        homelab.set_power("RaspberryPi", "on")
        assert "pihole" in await slow.read_states()
    finally:
        await slow.close()
    # A port that refuses (dockerd down on a host that is on): unreachable.
    refused = DockerHost(tcp_config(homelab, port=free_port()))
    try:
        with pytest.raises(UnreachableError):
            await refused.read_states()
    finally:
        await refused.close()


async def test_health_is_read(homelab: HomelabThread) -> None:
    """plex has a health check: starting, then healthy."""
    homelab.set_power("plex", "running")
    host = DockerHost(tcp_config(homelab, "VM-Docker"))
    try:
        plex = (await host.read_states())["plex"]
        assert plex.details["health"] in {"starting", "healthy"}
        homelab.wait_state("plex", "running")
        sandbox = (await host.read_states())["sandbox"]
        assert "health" not in sandbox.details
    finally:
        await host.close()


async def test_over_ssh_tunnel(restore_host_keys: HomelabThread) -> None:
    """Docker through SSH to VM-Docker's socket, with its pinned host key."""
    homelab = restore_host_keys
    homelab.set_power("VM-Docker", "running")
    host = DockerHost(ssh_config(homelab))
    try:
        await host.check()
        homelab.reset_requests()
        states = await host.read_states()
        assert set(states) == {"sandbox", "plex"}
        assert homelab.requests()["hosts"]["VM-Docker"]["total"] == 1
        await host.start("sandbox")
        homelab.wait_state("sandbox", "running")
        # The guest reboots: the tunnel breaks, and is rebuilt on next use.
        homelab.set_power("VM-Docker", "stopped")
        with pytest.raises(UnreachableError):
            await host.read_states()
        homelab.set_power("VM-Docker", "running")
        assert "plex" in await host.read_states()
    finally:
        await host.close()
    pinned = ssh_config(homelab)
    homelab.fault("VM-Docker", "hostkey_change")
    with pytest.raises(HostKeyMismatchError):
        await check_connection(pinned)


def _simulator_ports(value: Any) -> set[int]:
    """Every ``port`` the simulator announced (its services share this process)."""
    if isinstance(value, dict):
        found = {value["port"]} if isinstance(value.get("port"), int) else set()
        for item in value.values():
            found |= _simulator_ports(item)
        return found
    if isinstance(value, list):
        return set().union(*(_simulator_ports(item) for item in value))
    return set()


def _own_tcp_listeners(homelab: HomelabThread) -> set[str]:
    """The local addresses of the listening TCP sockets this process holds,
    the simulator's own services left out.

    Only this process's sockets count (their inodes among ``/proc/self/fd``):
    the machine's other processes, a test runner next door among them, open
    and close listeners at any time.
    """
    inodes: set[str] = set()
    for fd in Path("/proc/self/fd").iterdir():
        with contextlib.suppress(OSError):
            target = os.readlink(fd)
            if target.startswith("socket:["):
                inodes.add(target[len("socket:[") : -1])
    simulator = _simulator_ports(homelab.ready)
    found: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                port = int(fields[1].rsplit(":", 1)[1], 16)
                if (
                    fields[3] == "0A"  # TCP_LISTEN
                    and fields[9] in inodes
                    and port not in simulator
                ):
                    found.add(fields[1])
    return found


_CONNECT = """
import socket, sys
s = socket.socket(socket.AF_UNIX)
try:
    s.connect(sys.argv[1])
except OSError as err:
    print(type(err).__name__)
else:
    print("connected")
"""


def _system_python() -> str | None:
    """A Python any user may run (a venv's may live under /root)."""
    for name in ("python3", "python3.14", "python3.13", "python3.11"):
        path = shutil.which(name, path="/usr/bin:/bin")
        if path is not None:
            return path
    return None


async def test_ssh_tunnel_is_a_private_unix_socket(
    restore_host_keys: HomelabThread,
) -> None:
    """Docker over SSH opens no TCP listener: its local end is a unix socket
    in a directory only Home Assistant's user may enter, another local user
    cannot reach the remote socket through it, and close() removes it."""
    homelab = restore_host_keys
    homelab.set_power("VM-Docker", "running")
    host = DockerHost(ssh_config(homelab))
    before = _own_tcp_listeners(homelab)
    try:
        await host.check()
        path = host.tunnel_path
        assert path is not None
        assert stat.S_ISSOCK(os.stat(path).st_mode)
        directory = os.path.dirname(path)
        assert stat.S_IMODE(os.stat(directory).st_mode) == 0o700
        assert os.stat(directory).st_uid == os.geteuid()
        assert _own_tcp_listeners(homelab) <= before
        python = _system_python()
        if os.geteuid() == 0 and python is not None:
            other = await asyncio.create_subprocess_exec(
                python,
                "-c",
                _CONNECT,
                path,
                user="nobody",
                stdout=asyncio.subprocess.PIPE,
            )
            out, _ = await other.communicate()
            assert out.decode().strip() == "PermissionError"
        assert "sandbox" in await host.read_states()
    finally:
        await host.close()
    assert host.tunnel_path is None
    assert not os.path.exists(directory)


async def test_ssh_user_without_docker_group(homelab: HomelabThread) -> None:
    """The user may log in but not use docker.sock: a clear permission error,
    and no tunnel is left behind."""
    homelab.set_power("VM-Docker", "running")
    ssh = homelab.ready["nodes"]["VM-Docker"]["ssh"]
    config = ssh_config(homelab)
    assert config.ssh is not None
    config = DockerConfig(
        endpoint=DockerEndpoint.SSH,
        socket_path=config.socket_path,
        ssh=SshConfig(
            host=config.ssh.host,
            port=config.ssh.port,
            username=ssh["unprivileged_username"],
            private_key=ssh["private_key"],
            host_key=ssh["host_key"],
        ),
    )
    host = DockerHost(config)
    with pytest.raises(
        DockerSocketPermissionError,
        match=r"permission denied on /var/run/docker\.sock: wakehub is neither "
        r"root nor in the docker group; add the user to the docker group",
    ):
        await host.check()
    assert host.tunnel_path is None
    await host.close()


def test_config_validation() -> None:
    """Each endpoint needs its own settings."""
    with pytest.raises(InvalidConfigError):
        DockerConfig(endpoint=DockerEndpoint.TCP)
    with pytest.raises(InvalidConfigError):
        DockerConfig(endpoint=DockerEndpoint.TLS, host="h", tls_ca="x")
    with pytest.raises(InvalidConfigError):
        DockerConfig(endpoint=DockerEndpoint.SSH)
    assert DockerConfig(endpoint=DockerEndpoint.TCP, host="h").effective_port == 2375
    tls = DockerConfig(endpoint="tls", host="h", tls_ca="a", tls_cert="b", tls_key="c")
    assert (tls.endpoint, tls.effective_port, tls.where) == (
        DockerEndpoint.TLS,
        2376,
        "h:2376",
    )
    assert DockerConfig(endpoint="unix").where == "unix:///var/run/docker.sock"


async def test_in_hass_with_shared_session(
    hass: HomeAssistant, homelab: HomelabThread
) -> None:
    """With HA's blocking-call detector, and a caller-owned aiohttp session."""
    await hass.async_add_executor_job(homelab.set_power, "RaspberryPi", "on")
    async with aiohttp.ClientSession() as session:
        host = build_host_api(tcp_config(homelab), session=session)
        try:
            await host.start("uptime-kuma")
            await homelab.async_wait_state("uptime-kuma", "running")
            assert (await host.read_states())["uptime-kuma"].running
        finally:
            await host.close()
        assert not session.closed  # the caller's session is left open
