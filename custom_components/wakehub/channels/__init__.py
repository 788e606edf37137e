"""WakeHub's power channels: the I/O that actually powers a homelab.

Nothing here imports Home Assistant; an ``aiohttp.ClientSession`` may be
passed in where HTTP is spoken over plain TCP.

The orchestrator and the coordinator use three things:

**Power a node on or off through the channel its parent's capability gives.**
A machine is a :class:`Machine` (:class:`~.base.MachinePower`): Wake-on-LAN to
start, SSH (pinned host key) or its own Proxmox node API to stop. A VM, an LXC
or a container is a key on its parent's :class:`~.base.HostApi`: a
:class:`~.proxmox.ProxmoxHost` (key: the vmid) or a :class:`~.docker.DockerHost`
(key: the container name). :func:`power_on` / :func:`power_off` take either.

**Read the states of everything behind one host in one call.**
``await host.read_states()`` returns ``{key: ChildInfo}`` in ONE request:
``GET /cluster/resources?type=vm`` for Proxmox, ``GET /containers/json?all=1``
for Docker.

**Test a connection, for the config flow.** :func:`check_connection` takes any
channel configuration and raises a typed :class:`~.errors.ChannelError` (auth,
permission, TLS, host key, unreachable, timeout...) unless it works;
:func:`~.ssh.fetch_host_key` and :func:`~.proxmox.fetch_certificate_fingerprint`
read what the user must pin.

Build hosts with :func:`build_host_api` from a :class:`~.proxmox.ProxmoxConfig`
or a :class:`~.docker.DockerConfig`, and close them with ``await host.close()``.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast, overload

from .base import ChildInfo, ChildKind, HostApi, MachinePower
from .docker import ContainerUsage, DockerHost
from .docker_config import DockerConfig, DockerEndpoint
from .errors import (
    ApiError,
    AuthenticationError,
    ChannelError,
    ChannelTimeoutError,
    CommandFailedError,
    HostKeyMismatchError,
    InvalidConfigError,
    NodeIdentityError,
    NoQuorumError,
    NotControllableError,
    NotFoundError,
    PermissionDeniedError,
    TaskFailedError,
    TlsVerificationError,
    UnreachableError,
)
from .probe import ProbeResult, probe, probe_port, quick_look_timeout
from .proxmox import (
    ProxmoxConfig,
    ProxmoxHost,
    fetch_certificate_fingerprint,
    normalize_fingerprint,
)
from .ssh import (
    HostKey,
    ReadOnlyCommand,
    ShutdownCommand,
    SshChannel,
    SshConfig,
    fetch_host_key,
    parse_host_key,
)
from .wol import WakeOnLan

if TYPE_CHECKING:
    import aiohttp

    from .budget import RequestBudget

__all__ = [
    "ApiError",
    "AuthenticationError",
    "ChannelError",
    "ChannelTimeoutError",
    "ChildInfo",
    "ChildKind",
    "CommandFailedError",
    "ContainerUsage",
    "DockerConfig",
    "DockerEndpoint",
    "DockerHost",
    "HostApi",
    "HostKey",
    "HostKeyMismatchError",
    "InvalidConfigError",
    "Machine",
    "MachinePower",
    "NoQuorumError",
    "NodeIdentityError",
    "NotControllableError",
    "NotFoundError",
    "PermissionDeniedError",
    "ProbeResult",
    "ProxmoxConfig",
    "ProxmoxHost",
    "ReadOnlyCommand",
    "ShutdownCommand",
    "SshChannel",
    "SshConfig",
    "TaskFailedError",
    "TlsVerificationError",
    "UnreachableError",
    "WakeOnLan",
    "build_host_api",
    "check_connection",
    "fetch_certificate_fingerprint",
    "fetch_host_key",
    "normalize_fingerprint",
    "parse_host_key",
    "power_off",
    "power_on",
    "probe",
    "probe_port",
]


@dataclass(slots=True, kw_only=True)
class Machine:
    """A physical machine as a :class:`~.base.MachinePower`.

    Its signals are TCP connects to its probe ports (``probe_port`` and
    ``extra_probe_ports``) and to the ports of the APIs it serves itself
    (``api_ports``: its Proxmox VE or Docker API at its own address). It is
    *up* (ready after a wake) when a probe port accepts a connection, and
    *off* only when none of its signals answers at all. A refused connection
    is an answer (:mod:`.probe`): a machine whose SSH server is down, but
    whose network stack resets the connection, is on. It is woken by
    ``wol`` and shut down over ``ssh`` when configured, otherwise through
    ``proxmox`` (the node-shutdown API, which needs Sys.PowerMgmt).
    """

    host: str
    probe_port: int
    extra_probe_ports: tuple[int, ...] = ()
    api_ports: tuple[int, ...] = ()
    wol: WakeOnLan | None = None
    ssh: SshChannel | None = None
    proxmox: ProxmoxHost | None = None
    # None: the probe's default (:data:`.probe.DEFAULT_PROBE_TIMEOUT`).
    probe_timeout: float | None = None
    # The machine's request budget (.budget), which its magic packets share
    # with its APIs and SSH commands; None: the packets take no room.
    budget: RequestBudget | None = None

    @property
    def probe_ports(self) -> tuple[int, ...]:
        """The probe ports, the main one first, without duplicates."""
        return tuple(dict.fromkeys((self.probe_port, *self.extra_probe_ports)))

    def _deadline(self, quick: bool) -> float | None:
        """How long a look waits: the probe timeout, or the quick look's.

        ``None`` is the probe's default (:data:`.probe.DEFAULT_PROBE_TIMEOUT`).
        """
        return quick_look_timeout(self.probe_timeout) if quick else self.probe_timeout

    async def signals(self, *, quick: bool = False) -> dict[int, ProbeResult]:
        """Probe every port WakeHub knows for the machine, in parallel.

        ``quick`` waits :func:`.probe.quick_look_timeout` at most.
        """
        ports = tuple(dict.fromkeys((*self.probe_ports, *self.api_ports)))
        wait = self._deadline(quick)
        results = await asyncio.gather(
            *(probe_port(self.host, port, wait) for port in ports)
        )
        return dict(zip(ports, results, strict=True))

    async def probe(self, *, quick: bool = False) -> bool:
        """Return True when one of its probe ports accepts a connection.

        ``quick`` waits :func:`.probe.quick_look_timeout` at most (readiness).
        """
        wait = self._deadline(quick)
        results = await asyncio.gather(
            *(probe(self.host, port, wait) for port in self.probe_ports)
        )
        return any(results)

    async def is_on(self, *, quick: bool = False) -> bool:
        """Return False only when every signal is silent (the machine is off).

        An open port or a refused connection (the host's TCP stack answered)
        means on; only a timeout or "no route to host" on every port means off.
        ``quick`` waits :func:`.probe.quick_look_timeout` at most (set-up).
        """
        signals = await self.signals(quick=quick)
        return any(result is not ProbeResult.SILENT for result in signals.values())

    async def wake(self) -> None:
        """Send the Wake-on-LAN magic packets."""
        if self.wol is None:
            raise InvalidConfigError(f"{self.host} has no Wake-on-LAN configuration")
        await self.wol.send(self.budget)

    async def shutdown(self) -> None:
        """Shut the machine down over SSH, or else through the Proxmox API."""
        if self.ssh is not None:
            await self.ssh.shutdown()
        elif self.proxmox is not None:
            await self.proxmox.node_shutdown()
        else:
            raise InvalidConfigError(f"{self.host} has no shutdown channel")


@overload
def build_host_api(config: ProxmoxConfig) -> ProxmoxHost: ...


@overload
def build_host_api(
    config: DockerConfig, *, session: aiohttp.ClientSession | None = None
) -> DockerHost: ...


def build_host_api(
    config: ProxmoxConfig | DockerConfig,
    *,
    session: aiohttp.ClientSession | None = None,
) -> ProxmoxHost | DockerHost:
    """Build the ``HostApi`` a capability's configuration describes."""
    if isinstance(config, ProxmoxConfig):
        return ProxmoxHost(config)
    return DockerHost(config, session=session)


async def check_connection(
    config: ProxmoxConfig | DockerConfig | SshConfig,
    *,
    session: aiohttp.ClientSession | None = None,
) -> None:
    """Connect, authenticate and close; raise a ``ChannelError`` on failure."""
    if isinstance(config, SshConfig):
        await SshChannel(config).check()
        return
    host: ProxmoxHost | DockerHost = (
        ProxmoxHost(config)
        if isinstance(config, ProxmoxConfig)
        else DockerHost(config, session=session)
    )
    try:
        await host.check()
    finally:
        await host.close()


@overload
async def power_on(channel: MachinePower) -> None: ...


@overload
async def power_on(channel: HostApi, key: str) -> None: ...


async def power_on(channel: MachinePower | HostApi, key: str | None = None) -> None:
    """Wake a machine, or start the child ``key`` through its host's API."""
    if key is None:
        await cast("MachinePower", channel).wake()
    else:
        await cast("HostApi", channel).start(key)


@overload
async def power_off(channel: MachinePower) -> None: ...


@overload
async def power_off(channel: HostApi, key: str) -> None: ...


async def power_off(channel: MachinePower | HostApi, key: str | None = None) -> None:
    """Shut a machine down, or stop the child ``key`` through its host's API."""
    if key is None:
        await cast("MachinePower", channel).shutdown()
    else:
        await cast("HostApi", channel).stop(key)
