"""From a config entry's dicts to channel objects.

This is the one place that reads the layout documented in :mod:`.const` and
turns it into the typed configurations of :mod:`.channels`. The config flow
uses the same functions to test what the user typed, so what is tested is
exactly what the runtime will later use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from homeassistant.helpers.aiohttp_client import async_get_clientsession

from .channels import (
    ChildInfo,
    ChildKind,
    DockerConfig,
    DockerEndpoint,
    DockerHost,
    HostApi,
    Machine,
    ProxmoxConfig,
    ProxmoxHost,
    ShutdownCommand,
    SshChannel,
    SshConfig,
    WakeOnLan,
)
from .channels.budget import RequestBudget
from .const import (
    CONF_BROADCAST_ADDRESS,
    CONF_BROADCAST_PORT,
    CONF_CA,
    CONF_CERT,
    CONF_DOCKER,
    CONF_FINGERPRINT,
    CONF_FORCED_COMMAND,
    CONF_HOST,
    CONF_HOST_KEY,
    CONF_KEY,
    CONF_MAC,
    CONF_MACHINE,
    CONF_MODE,
    CONF_NODE,
    CONF_NODES,
    CONF_PASSPHRASE,
    CONF_PASSWORD,
    CONF_PORT,
    CONF_PRIVATE_KEY,
    CONF_PROBE_PORT,
    CONF_PROBE_PORTS,
    CONF_PROXMOX,
    CONF_REALM,
    CONF_SHUTDOWN_COMMAND,
    CONF_SOCKET_PATH,
    CONF_SSH,
    CONF_TOKEN_NAME,
    CONF_TOKEN_USER,
    CONF_TOKEN_VALUE,
    CONF_USE_SUDO,
    CONF_USERNAME,
    CONF_VERIFY_TLS,
    CONF_WOL_INTERFACE,
    DEFAULT_BROADCAST_ADDRESS,
    DEFAULT_BROADCAST_PORT,
    DEFAULT_DOCKER_SOCKET,
    DEFAULT_PROXMOX_PORT,
    DEFAULT_REALM,
    DEFAULT_SSH_PORT,
)
from .core.ids import container_id, guest_id, machine_id
from .models import WakeHubChannels

if TYPE_CHECKING:
    from collections.abc import Mapping

    from homeassistant.config_entries import ConfigEntry
    from homeassistant.core import HomeAssistant


def child_node_id(host_id: str, child: ChildInfo) -> str:
    """The stable node id a child of ``host_id`` has (or gets once managed)."""
    if child.kind is ChildKind.CONTAINER:
        return container_id(host_id, child.key)
    return guest_id(host_id, int(child.key))


def ssh_config(host: str, ssh: Mapping[str, Any]) -> SshConfig | None:
    """The SSH configuration of an ``ssh`` dict, or None before its key is pinned.

    An entry saved while its machine was off has no pinned host key yet: it
    is pinned at the first boot, and until then nothing is sent over SSH.
    """
    if not ssh.get(CONF_HOST_KEY):
        return None
    return SshConfig(
        host=host,
        port=int(ssh.get(CONF_PORT, DEFAULT_SSH_PORT)),
        username=ssh[CONF_USERNAME],
        host_key=ssh[CONF_HOST_KEY],
        password=ssh.get(CONF_PASSWORD) or None,
        private_key=ssh.get(CONF_PRIVATE_KEY) or None,
        passphrase=ssh.get(CONF_PASSPHRASE) or None,
        shutdown_command=ShutdownCommand(
            ssh.get(CONF_SHUTDOWN_COMMAND, ShutdownCommand.SYSTEMCTL_POWEROFF)
        ),
        use_sudo=bool(ssh.get(CONF_USE_SUDO, False)),
        # Entries made before the setting existed may use a key restricted by
        # command= (the docs recommend it): never run a check command on them.
        forced_command=bool(ssh.get(CONF_FORCED_COMMAND, True)),
    )


def proxmox_config(
    proxmox: Mapping[str, Any], node: str | None = None
) -> ProxmoxConfig:
    """The Proxmox configuration of a ``proxmox`` dict.

    ``node`` overrides the stored node name (the flow reads ``/nodes`` before
    it knows it).
    """
    common: dict[str, Any] = {
        "host": proxmox[CONF_HOST],
        "port": int(proxmox.get(CONF_PORT, DEFAULT_PROXMOX_PORT)),
        "node": node if node is not None else proxmox.get(CONF_NODE, ""),
        "verify_tls": bool(proxmox.get(CONF_VERIFY_TLS, True)),
        "fingerprint": proxmox.get(CONF_FINGERPRINT) or None,
        "ca_certificate": proxmox.get(CONF_CA) or None,
    }
    if proxmox.get(CONF_TOKEN_VALUE):
        return ProxmoxConfig(
            user=proxmox[CONF_TOKEN_USER],
            token_name=proxmox[CONF_TOKEN_NAME],
            token_value=proxmox[CONF_TOKEN_VALUE],
            **common,
        )
    return ProxmoxConfig(
        user=proxmox[CONF_USERNAME],
        realm=proxmox.get(CONF_REALM, DEFAULT_REALM),
        password=proxmox[CONF_PASSWORD],
        **common,
    )


def docker_config(docker: Mapping[str, Any]) -> DockerConfig:
    """The Docker configuration of a ``docker`` dict (any of the four modes)."""
    mode = DockerEndpoint(docker[CONF_MODE])
    if mode is DockerEndpoint.UNIX:
        return DockerConfig(
            endpoint=mode,
            socket_path=docker.get(CONF_SOCKET_PATH, DEFAULT_DOCKER_SOCKET),
        )
    if mode is DockerEndpoint.SSH:
        return DockerConfig(
            endpoint=mode,
            socket_path=docker.get(CONF_SOCKET_PATH, DEFAULT_DOCKER_SOCKET),
            ssh=ssh_config(docker[CONF_HOST], docker),
        )
    return DockerConfig(
        endpoint=mode,
        host=docker[CONF_HOST],
        port=int(docker[CONF_PORT]),
        tls_ca=docker.get(CONF_CA),
        tls_cert=docker.get(CONF_CERT),
        tls_key=docker.get(CONF_KEY),
    )


def wake_on_lan(
    data: Mapping[str, Any], machine_options: Mapping[str, Any] | None = None
) -> WakeOnLan:
    """The Wake-on-LAN settings of a machine's entry data and options."""
    return WakeOnLan(
        mac=data[CONF_MAC],
        broadcast=data.get(CONF_BROADCAST_ADDRESS, DEFAULT_BROADCAST_ADDRESS),
        port=int(data.get(CONF_BROADCAST_PORT, DEFAULT_BROADCAST_PORT)),
        interface=(machine_options or {}).get(CONF_WOL_INTERFACE) or None,
    )


def _api_ports(data: Mapping[str, Any]) -> tuple[int, ...]:
    """The ports of the APIs the machine serves at its own address.

    An API reached at another address (a cluster's other node, a Docker
    host elsewhere) says nothing about this machine; a unix socket neither.
    """
    host = data[CONF_HOST]
    ports: list[int] = []
    proxmox = data.get(CONF_PROXMOX)
    if proxmox and proxmox.get(CONF_HOST, host) == host:
        ports.append(int(proxmox.get(CONF_PORT, DEFAULT_PROXMOX_PORT)))
    docker = data.get(CONF_DOCKER)
    if (
        docker
        and docker.get(CONF_MODE) != DockerEndpoint.UNIX.value
        and docker.get(CONF_HOST, host) == host
        and docker.get(CONF_PORT)
    ):
        ports.append(int(docker[CONF_PORT]))
    return tuple(ports)


def build_machine(
    data: Mapping[str, Any],
    proxmox: ProxmoxHost | None = None,
    machine_options: Mapping[str, Any] | None = None,
    *,
    budget: RequestBudget | None = None,
) -> Machine:
    """The machine of an entry: probed, woken by WoL, shut down over SSH.

    ``machine_options`` are the machine's node settings: more probe ports,
    and the address Wake-on-LAN is sent from. ``budget``: the machine's
    request budget, which its SSH commands share with its APIs.
    """
    options = machine_options or {}
    ssh = ssh_config(data[CONF_HOST], data.get(CONF_SSH, {}))
    return Machine(
        host=data[CONF_HOST],
        probe_port=int(data.get(CONF_PROBE_PORT, DEFAULT_SSH_PORT)),
        extra_probe_ports=tuple(int(p) for p in options.get(CONF_PROBE_PORTS) or ()),
        api_ports=_api_ports(data),
        wol=wake_on_lan(data, options),
        ssh=SshChannel(ssh, budget=budget) if ssh is not None else None,
        proxmox=proxmox,
        budget=budget,
    )


async def async_build_channels(
    hass: HomeAssistant, entry: ConfigEntry[Any]
) -> WakeHubChannels:
    """Build every channel of one entry; nothing connects until first used.

    The Docker hosts are the machine itself when it has a Docker API, and
    every managed VM or LXC whose node settings carry one.
    """

    data = entry.data
    # One request budget per host: the machine's Proxmox API, its own Docker
    # API and its SSH commands share it (see channels/budget.py); a Docker
    # host in a guest has its own.
    budget = RequestBudget()
    proxmox = (
        ProxmoxHost(proxmox_config(data[CONF_PROXMOX]), budget=budget)
        if data.get(CONF_PROXMOX)
        else None
    )
    session = async_get_clientsession(hass)
    docker: dict[str, HostApi] = {}
    if data.get(CONF_DOCKER):
        docker[machine_id(data[CONF_MAC])] = DockerHost(
            docker_config(data[CONF_DOCKER]), session=session, budget=budget
        )
    for node_id, settings in entry.options.get(CONF_NODES, {}).items():
        if settings.get(CONF_DOCKER):
            docker[node_id] = DockerHost(
                docker_config(settings[CONF_DOCKER]), session=session
            )
    return WakeHubChannels(
        machine=build_machine(
            data, proxmox, entry.options.get(CONF_MACHINE) or {}, budget=budget
        ),
        proxmox=proxmox,
        docker=docker,
    )
