"""Docker Engine channel (aiodocker): list, start and stop containers by name.

Endpoints (:class:`DockerEndpoint`):

``tcp``
    ``http://host:2375``, plain TCP. Can use a shared ``aiohttp.ClientSession``.
``tls``
    ``https://host:2376`` with a CA, a client certificate and its key (PEM
    text); the server certificate and host name are verified.
``unix``
    a local unix socket, ``/var/run/docker.sock`` by default.
``ssh``
    an asyncssh tunnel to the host's ``/var/run/docker.sock``, reusing an
    :class:`~.ssh.SshConfig` and its pinned host key. The local end is a unix
    socket in a private directory (mode 0700) made for this host object, never
    a TCP port: a TCP listener on 127.0.0.1 would give every local process
    (an add-on on the host network, anything in Home Assistant's container)
    root-equivalent access to the Docker host. The tunnel is opened on first
    use, kept for later calls, re-opened after a failure, and closed (socket
    and directory removed) by :meth:`DockerHost.close`. An SSH user who may
    not use the remote socket gets :class:`DockerSocketPermissionError`.

Containers are identified by their NAME (without Docker's leading ``/``): a
container recreated by ``compose up`` keeps its name but not its ID.

Requests per call: :meth:`DockerHost.read_states` makes exactly ONE request,
``GET /containers/json?all=1``; :meth:`DockerHost.usage` (for an inactivity
rule, once per period, never per poll) ONE ``GET /containers/{name}/stats``
with ``stream=false``. aiodocker negotiates the API version once per
client, with one ``GET /version`` on its very first request (``check`` does
that before the first poll).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from functools import partial
import os
import shutil
import ssl
import tempfile
from typing import TYPE_CHECKING, Any

import aiodocker
import aiohttp
import asyncssh

from .base import ChildInfo, ChildKind
from .budget import RequestBudget
from .docker_config import DockerConfig, DockerEndpoint, build_tls_context
from .errors import (
    ApiError,
    AuthenticationError,
    ChannelError,
    ChannelTimeoutError,
    DockerSocketPermissionError,
    InvalidConfigError,
    NotFoundError,
    PermissionDeniedError,
    TlsVerificationError,
    UnreachableError,
)
from .ssh import SshChannel, close_connection

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

_LIST_FIELDS = ("Names", "Id", "Image", "State", "Status", "Health")
_HEALTH_MARKERS = (
    ("(healthy)", "healthy"),
    ("(unhealthy)", "unhealthy"),
    ("(health: starting)", "starting"),
)


@dataclass(frozen=True, slots=True)
class ContainerUsage:
    """One container's usage, from one stats document.

    ``cpu_percent`` is the share of all the host's CPUs (0-100): the Docker
    CLI's ``cpu_delta / system_delta * online_cpus * 100`` without the
    ``online_cpus`` factor. ``ram_percent`` is the usage less the page cache
    (``inactive_file``, as the CLI does) over the limit. ``net_bytes`` is
    received plus sent bytes over every interface since the container
    started. ``None`` where the document has no figure (a stopped container).
    """

    cpu_percent: float | None
    ram_percent: float | None
    net_bytes: int | None

    @classmethod
    def from_stats(cls, stats: dict[str, Any]) -> ContainerUsage:
        """Read a ``GET /containers/{id}/stats?stream=false`` document."""
        cpu: float | None = None
        now, before = stats.get("cpu_stats") or {}, stats.get("precpu_stats") or {}
        try:
            used = now["cpu_usage"]["total_usage"] - before["cpu_usage"]["total_usage"]
            system = now["system_cpu_usage"] - before["system_cpu_usage"]
            if system > 0 and used >= 0:
                cpu = min(100.0, 100.0 * used / system)
        except (KeyError, TypeError):
            cpu = None
        ram: float | None = None
        memory = stats.get("memory_stats") or {}
        usage, limit = memory.get("usage"), memory.get("limit")
        if isinstance(usage, int) and isinstance(limit, int) and limit > 0:
            cache = (memory.get("stats") or {}).get("inactive_file", 0)
            ram = 100.0 * max(0, usage - int(cache or 0)) / limit
        networks = stats.get("networks")
        net: int | None = None
        if isinstance(networks, dict):
            net = sum(
                int(iface.get("rx_bytes", 0)) + int(iface.get("tx_bytes", 0))
                for iface in networks.values()
                if isinstance(iface, dict)
            )
        return cls(cpu_percent=cpu, ram_percent=ram, net_bytes=net)


def _health(item: dict[str, Any]) -> str | None:
    """The container's health (healthy, unhealthy, starting), if it has a check."""
    health = item.get("Health")
    if isinstance(health, dict) and health.get("Status"):
        return str(health["Status"])
    status = str(item.get("Status", ""))
    for marker, value in _HEALTH_MARKERS:
        if marker in status:
            return value
    return None


def _container_name(item: dict[str, Any]) -> str | None:
    """The container's name without Docker's leading ``/``."""
    names = item.get("Names") or []
    return str(names[0]).lstrip("/") if names else None


def _map_error(err: BaseException, where: str) -> ChannelError:
    """Translate an aiodocker/aiohttp error into a channel error."""
    if isinstance(err, ChannelError):
        return err
    if isinstance(err, TimeoutError):
        return ChannelTimeoutError(f"Docker at {where} did not answer in time")
    if isinstance(err, aiodocker.DockerError):
        cause = err.__context__
        message = str(err.message).strip()
        if isinstance(cause, aiohttp.ClientSSLError):
            return TlsVerificationError(f"TLS verification of {where} failed: {cause}")
        if err.status == 900 or isinstance(cause, aiohttp.ClientConnectionError):
            return UnreachableError(f"cannot reach Docker at {where}: {message}")
        if err.status == 401:
            return AuthenticationError(message)
        if err.status == 403:
            return PermissionDeniedError(message)
        if err.status == 404:
            return NotFoundError(message)
        return ApiError(f"HTTP {err.status}: {message}")
    if isinstance(err, aiohttp.ClientSSLError):
        return TlsVerificationError(f"TLS verification of {where} failed: {err}")
    if isinstance(err, (aiohttp.ClientError, OSError)):
        return UnreachableError(f"cannot reach Docker at {where}: {err}")
    return ApiError(f"Docker at {where}: {err}")


def _remove_dir(path: str) -> None:
    """Remove a tunnel's private directory and its socket (blocking)."""
    shutil.rmtree(path, ignore_errors=True)


async def _check_remote_socket(
    conn: asyncssh.SSHClientConnection, config: DockerConfig
) -> None:
    """Open (and close) the remote Docker socket once through ``conn``.

    OpenSSH only says "open failed" when it cannot connect to the socket for
    the user, whatever the reason. The usual one is a user who is neither
    root nor in the ``docker`` group (the socket is ``root:docker``, mode
    0660), so ``id`` (a fixed command) tells which error to raise.
    """
    assert config.ssh is not None
    try:
        _reader, writer = await conn.open_unix_connection(config.socket_path)
    except asyncssh.ChannelOpenError as err:
        try:
            result = await conn.run("id", check=False)
        except (OSError, asyncssh.Error):
            ids = ""
        else:
            ids = result.stdout if isinstance(result.stdout, str) else ""
        if ids.startswith("uid=") and not (
            ids.startswith("uid=0(") or "(docker)" in ids
        ):
            raise DockerSocketPermissionError(
                f"permission denied on {config.socket_path}: "
                f"{config.ssh.username} is neither root nor in the docker group; "
                "add the user to the docker group"
            ) from err
        raise UnreachableError(
            f"cannot open {config.where}: {err.reason or 'open failed'}"
        ) from err
    writer.close()


class DockerHost:
    """A Docker Engine as a ``HostApi``: its containers, by name."""

    def __init__(
        self,
        config: DockerConfig,
        *,
        session: aiohttp.ClientSession | None = None,
        budget: RequestBudget | None = None,
    ) -> None:
        """Prepare the channel; connections open on first use.

        ``budget``: the request budget of the host the engine runs on, shared
        with its other channels (:mod:`.budget`); by default the engine's own.

        ``session`` (e.g. Home Assistant's shared one) is used for the plain
        TCP endpoint only: the others need their own connector.
        """
        self.config = config
        self._session = session if config.endpoint is DockerEndpoint.TCP else None
        self._docker: aiodocker.Docker | None = None
        self._ssh_conn: asyncssh.SSHClientConnection | None = None
        self._ssh_listener: asyncssh.SSHListener | None = None
        self._tunnel_dir: str | None = None
        self._lock = asyncio.Lock()
        self.budget = budget or RequestBudget()
        """The calls this engine's host may receive in any second."""

    @property
    def tcp_address(self) -> tuple[str, int] | None:
        """Where the engine listens over TCP (plain or TLS); ``None`` for a
        unix socket or an SSH tunnel."""
        config = self.config
        if config.endpoint in (DockerEndpoint.TCP, DockerEndpoint.TLS):
            return config.host, config.effective_port
        return None

    async def _client(self) -> aiodocker.Docker:
        """Return the aiodocker client, building it (and the tunnel) if needed."""
        async with self._lock:
            if self._docker is not None:
                return self._docker
            config = self.config
            timeout = aiohttp.ClientTimeout(total=config.timeout)
            match config.endpoint:
                case DockerEndpoint.UNIX:
                    docker = aiodocker.Docker(
                        url=f"unix://{config.socket_path}", timeout=timeout
                    )
                case DockerEndpoint.TLS:
                    assert config.tls_ca
                    assert config.tls_cert
                    assert config.tls_key
                    try:
                        context = await asyncio.get_running_loop().run_in_executor(
                            None,
                            build_tls_context,
                            config.tls_ca,
                            config.tls_cert,
                            config.tls_key,
                        )
                    except (ssl.SSLError, ValueError) as err:
                        raise InvalidConfigError(
                            f"invalid Docker TLS material: {err}"
                        ) from err
                    docker = aiodocker.Docker(
                        url=f"https://{config.host}:{config.effective_port}",
                        ssl_context=context,
                        timeout=timeout,
                    )
                case DockerEndpoint.SSH:
                    path = await self._open_tunnel()
                    docker = aiodocker.Docker(url=f"unix://{path}", timeout=timeout)
                case _:
                    docker = aiodocker.Docker(
                        url=f"tcp://{config.host}:{config.effective_port}",
                        session=self._session,
                        timeout=timeout,
                    )
            self._docker = docker
            return docker

    @property
    def tunnel_path(self) -> str | None:
        """The local unix socket of the SSH tunnel while it is open."""
        if self._tunnel_dir is None:
            return None
        return os.path.join(self._tunnel_dir, "docker.sock")

    async def _open_tunnel(self) -> str:
        """Forward a private local unix socket to the remote Docker socket.

        The remote socket is opened once first, so that a user who may not
        use it gets a clear error now rather than a dropped connection later.
        """
        config = self.config
        assert config.ssh is not None
        conn = await SshChannel(config.ssh).open()
        loop = asyncio.get_running_loop()
        tunnel_dir: str | None = None
        try:
            await _check_remote_socket(conn, config)
            tunnel_dir = await loop.run_in_executor(
                None, partial(tempfile.mkdtemp, prefix="wakehub-docker-ssh-")
            )
            path = os.path.join(tunnel_dir, "docker.sock")
            listener = await conn.forward_local_path(path, config.socket_path)
        except BaseException as err:
            await close_connection(conn)
            if tunnel_dir is not None:
                await loop.run_in_executor(None, _remove_dir, tunnel_dir)
            if isinstance(err, (OSError, asyncssh.Error)):
                raise UnreachableError(
                    f"cannot forward to {config.where}: {err}"
                ) from err
            raise
        self._ssh_conn, self._ssh_listener = conn, listener
        self._tunnel_dir = tunnel_dir
        return path

    async def _reset(self) -> None:
        """Close the client and the tunnel; the next call rebuilds them."""
        docker, self._docker = self._docker, None
        listener, self._ssh_listener = self._ssh_listener, None
        conn, self._ssh_conn = self._ssh_conn, None
        tunnel_dir, self._tunnel_dir = self._tunnel_dir, None
        if docker is not None:
            await docker.close()
        if listener is not None:
            listener.close()
            await listener.wait_closed()
        if conn is not None:
            await close_connection(conn)
        if tunnel_dir is not None:
            await asyncio.get_running_loop().run_in_executor(
                None, _remove_dir, tunnel_dir
            )

    async def _guard[T](self, call: Callable[[aiodocker.Docker], Awaitable[T]]) -> T:
        """Await ``call(docker)`` and map errors; a broken link is reset."""
        docker = await self._client()
        await self.budget.take()
        if getattr(docker, "api_version", None) == "auto":
            # aiodocker's first request asks GET /version first (negotiation).
            await self.budget.take()
        try:
            result = await call(docker)
        except Exception as err:
            mapped = _map_error(err, self.config.where)
            if isinstance(mapped, (UnreachableError, ChannelTimeoutError)):
                await self._reset()
            raise mapped from err
        return result

    async def version(self) -> dict[str, Any]:
        """``GET /version``: engine version, API version, OS..."""

        async def call(docker: aiodocker.Docker) -> dict[str, Any]:
            return dict(await docker.version())

        return await self._guard(call)

    async def check(self) -> None:
        """Raise a channel error unless the engine answers and accepts us."""
        await self.version()

    async def read_states(self) -> dict[str, ChildInfo]:
        """Every container (running or not), keyed by name, in ONE request."""

        async def call(docker: aiodocker.Docker) -> list[Any]:
            return list(await docker.containers.list(all=True))

        containers: list[Any] = await self._guard(call)
        states: dict[str, ChildInfo] = {}
        for container in containers:
            item = {f: container[f] for f in _LIST_FIELDS if f in container}
            name = _container_name(item)
            if name is None:
                continue
            state = str(item.get("State", "unknown"))
            details: dict[str, Any] = {
                "id": item.get("Id"),
                "image": item.get("Image"),
                "status_text": item.get("Status"),
            }
            health = _health(item)
            if health is not None:
                details["health"] = health
            states[name] = ChildInfo(
                key=name,
                kind=ChildKind.CONTAINER,
                name=name,
                running=state == "running",
                status=state,
                details=details,
            )
        return states

    async def usage(self, key: str) -> ContainerUsage:
        """One container's usage: ONE ``GET /containers/{name}/stats``.

        ``stream=false``: one document, whose ``precpu_stats`` the engine
        takes about a second before ``cpu_stats``.
        """

        async def call(docker: aiodocker.Docker) -> list[Any]:
            # aiodocker gives stats no timeout of its own (a stream may last).
            async with asyncio.timeout(self.config.timeout):
                return list(await docker.containers.container(key).stats(stream=False))

        documents = await self._guard(call)
        return ContainerUsage.from_stats(dict(documents[0]) if documents else {})

    async def start(self, key: str) -> None:
        """Start a container by name (already running, HTTP 304, is success)."""

        async def call(docker: aiodocker.Docker) -> None:
            await docker.containers.container(key).start()

        await self._guard(call)

    async def stop(self, key: str) -> None:
        """Stop a container by name (SIGTERM, then SIGKILL after stop_timeout)."""
        grace = self.config.stop_timeout
        http_timeout = aiohttp.ClientTimeout(total=grace + self.config.timeout)

        async def call(docker: aiodocker.Docker) -> None:
            await docker.containers.container(key).stop(t=grace, timeout=http_timeout)

        await self._guard(call)

    async def close(self) -> None:
        """Close the HTTP client and the SSH tunnel, if any."""
        async with self._lock:
            await self._reset()
