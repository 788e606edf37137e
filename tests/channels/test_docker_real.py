"""The Docker channel against a real Docker Engine (``real_dockerd``)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import pytest

from custom_components.wakehub.channels.base import ChildKind
from custom_components.wakehub.channels.docker import (
    DockerConfig,
    DockerEndpoint,
    DockerHost,
)
from custom_components.wakehub.channels.errors import (
    DockerSocketPermissionError,
    HostKeyMismatchError,
    NotFoundError,
    UnreachableError,
)
from custom_components.wakehub.channels.ssh import SshConfig
from tests.real_servers import free_port

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

    from homeassistant.core import HomeAssistant

    from tests.real_servers import RealDockerd, RealSshd

pytestmark = pytest.mark.real_docker


# busybox's sleep, as PID 1, ignores SIGTERM: keep the kill delay short.
STOP_TIMEOUT = 1


def _unix(engine: RealDockerd) -> DockerConfig:
    return DockerConfig(
        endpoint=DockerEndpoint.UNIX,
        socket_path=engine.unix_socket,
        stop_timeout=STOP_TIMEOUT,
    )


def _tcp(engine: RealDockerd) -> DockerConfig:
    return DockerConfig(
        endpoint=DockerEndpoint.TCP,
        host="127.0.0.1",
        port=engine.tcp_port,
        stop_timeout=STOP_TIMEOUT,
    )


@pytest.fixture(params=["unix", "tcp"])
async def docker_host(
    request: pytest.FixtureRequest, real_dockerd: RealDockerd
) -> AsyncIterator[DockerHost]:
    """A DockerHost over the unix socket, then over TCP on loopback."""
    config = _unix(real_dockerd) if request.param == "unix" else _tcp(real_dockerd)
    host = DockerHost(config)
    yield host
    await host.close()


async def test_list_start_stop_by_name(
    docker_host: DockerHost, real_dockerd: RealDockerd
) -> None:
    """Containers are keyed by name; start/stop are idempotent."""
    real_dockerd.create_container("wh-plain")
    real_dockerd.create_container("wh-healthy", health_cmd="/bin/true", start=True)
    await docker_host.check()
    states = await docker_host.read_states()
    plain = states["wh-plain"]
    assert plain.kind is ChildKind.CONTAINER
    assert plain.name == "wh-plain"
    assert not plain.running
    assert plain.status == "created"
    assert plain.details["image"] == real_dockerd.image
    assert len(plain.details["id"]) == 64
    assert "health" not in plain.details
    assert states["wh-healthy"].running
    assert states["wh-healthy"].details["health"] in {"starting", "healthy"}

    await docker_host.start("wh-plain")
    await docker_host.start("wh-plain")  # 304: already running
    assert real_dockerd.state("wh-plain") == "running"
    assert (await docker_host.read_states())["wh-plain"].running
    await docker_host.stop("wh-plain")
    await docker_host.stop("wh-plain")  # 304: already stopped
    assert real_dockerd.state("wh-plain") == "exited"
    assert (await docker_host.read_states())["wh-plain"].status == "exited"


async def test_unknown_container(docker_host: DockerHost) -> None:
    """404 from the engine becomes NotFoundError."""
    with pytest.raises(NotFoundError):
        await docker_host.start("wh-does-not-exist")
    with pytest.raises(NotFoundError):
        await docker_host.stop("wh-does-not-exist")


async def test_unreachable_endpoints(tmp_path: object) -> None:
    """A closed port or a missing socket is UnreachableError."""
    for config in (
        DockerConfig(endpoint=DockerEndpoint.TCP, host="127.0.0.1", port=free_port()),
        DockerConfig(endpoint=DockerEndpoint.UNIX, socket_path="/nonexistent.sock"),
    ):
        host = DockerHost(config)
        with pytest.raises(UnreachableError):
            await host.read_states()
        await host.close()


async def test_over_ssh_tunnel(real_dockerd: RealDockerd, real_sshd: RealSshd) -> None:
    """An SSH tunnel (pinned host key) reaches the engine's unix socket."""
    real_dockerd.create_container("wh-via-ssh")
    ssh = SshConfig(
        host=real_sshd.host,
        port=real_sshd.port,
        username=real_sshd.username,
        private_key=real_sshd.client_private_key,
        host_key=real_sshd.host_public_key,
    )
    host = DockerHost(
        DockerConfig(
            endpoint=DockerEndpoint.SSH, ssh=ssh, socket_path=real_dockerd.unix_socket
        )
    )
    try:
        await host.check()
        assert not (await host.read_states())["wh-via-ssh"].running
        await host.start("wh-via-ssh")
        assert real_dockerd.state("wh-via-ssh") == "running"
    finally:
        await host.close()
    impostor = DockerHost(
        DockerConfig(
            endpoint=DockerEndpoint.SSH,
            ssh=SshConfig(
                host=real_sshd.host,
                port=real_sshd.impostor_port,
                username=real_sshd.username,
                password=real_sshd.password,
                host_key=real_sshd.host_public_key,
            ),
            socket_path=real_dockerd.unix_socket,
        )
    )
    with pytest.raises(HostKeyMismatchError):
        await impostor.read_states()
    await impostor.close()


async def test_in_hass_does_not_block(
    hass: HomeAssistant, real_dockerd: RealDockerd
) -> None:
    """Inside Home Assistant's loop, with its blocking-call detector active."""
    real_dockerd.create_container("wh-hass")
    host = DockerHost(_tcp(real_dockerd))
    try:
        await host.start("wh-hass")
        assert (await host.read_states())["wh-hass"].running
        await host.stop("wh-hass")
    finally:
        await host.close()


async def test_over_ssh_without_access_to_the_socket(
    real_sshd: RealSshd, tmp_path: Path
) -> None:
    """A real sshd cannot open a root-only socket for the unprivileged user
    ("open failed"): the Docker channel says permission denied, and why."""
    directory = tmp_path / "root-only"
    directory.mkdir()
    directory.chmod(0o755)
    path = directory / "docker.sock"
    server = await asyncio.start_unix_server(lambda _r, w: w.close(), path=str(path))
    path.chmod(0o600)  # root's, as docker.sock is root:docker 0660
    host = DockerHost(
        DockerConfig(
            endpoint=DockerEndpoint.SSH,
            ssh=SshConfig(
                host=real_sshd.host,
                port=real_sshd.plain_port,
                username=real_sshd.username,
                password=real_sshd.password,
                host_key=real_sshd.host_public_key,
            ),
            socket_path=str(path),
        )
    )
    try:
        with pytest.raises(DockerSocketPermissionError, match="docker group"):
            await host.check()
        assert host.tunnel_path is None
    finally:
        await host.close()
        server.close()
        await server.wait_closed()
