"""The :class:`Homelab`: nodes, power transitions, faults, services and logs.

All state lives in one asyncio event loop. The protocol front-ends (WoL, SSH,
Proxmox, Docker, control API) call the coroutines here; this module decides
what happens to the nodes and opens or closes their listeners accordingly.
"""

from __future__ import annotations

import asyncio
from collections import Counter, deque
import contextlib
from dataclasses import dataclass
import logging
import random
import secrets
from typing import TYPE_CHECKING, Any, Final
import uuid

from . import metrics
from .crypto import (
    CertificateAuthority,
    TlsIdentity,
    make_ca,
    make_ssh_key,
    make_tls_identity,
    private_key_text,
    public_key_line,
)
from .model import (
    BOOTING,
    CLUSTERS,
    GUEST_STATES,
    MACHINE_STATES,
    OFF,
    ON,
    RUNNING,
    SCENARIOS,
    SHUTTING_DOWN,
    STOPPED,
    Delays,
    Node,
    monotonic,
    new_container_id,
    wall_time,
)
from .service import HOST, Listener, WebListener
from .wol import MagicPacket, WolProtocol, normalize_mac, open_wol_listener

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping
    import ssl

    import asyncssh

    from .proxmox import ProxmoxApi

_LOGGER = logging.getLogger(__name__)

SSH_USERNAME: Final = "root"
SSH_UNPRIVILEGED_USERNAME: Final = "wakehub"
PVE_TOKEN_USER: Final = "wakehub@pve"
PVE_TOKEN_NAME: Final = "wakehub"
PVE_USER: Final = "root@pam"
DOCKER_SOCKET: Final = "/var/run/docker.sock"

ALL_PRIVILEGES: Final = frozenset(
    {"VM.Audit", "VM.PowerMgmt", "VM.GuestAgent.Audit", "Sys.Audit", "Sys.PowerMgmt"}
)
# Extra tokens (same user) with fewer privileges, to test 403 answers.
RESTRICTED_TOKENS: Final = {
    "readonly": frozenset({"VM.Audit", "Sys.Audit"}),
    "vmuser": frozenset({"VM.Audit", "VM.PowerMgmt"}),
}
# A token created with privilege separation (the default of ``pveum user token
# add``) and no ACL of its own: it has no privilege at all until one is granted.
PRIVSEP_TOKEN: Final = "privsep"


@dataclass
class PveToken:
    """An API token of ``wakehub@pve``.

    ``privsep``: privilege separation (pve-access-control
    ``PVE/API2/User.pm``, ``privsep`` defaults to 1): the token then has only
    the privileges of its own ACLs (``privileges``), never its user's.
    """

    value: str
    privileges: frozenset[str]
    privsep: bool = False


BOOL_FAULTS: Final = frozenset(
    {
        "ignore_wol",
        "boot_fails",
        "ssh_refuse",
        "sudo_password_required",
        "ignore_shutdown",
        "ss_missing",  # no iproute2: `ss` is not found (exit 127)
    }
)
ACTION_FAULTS: Final = frozenset(
    {"hostkey_change", "crash", "recreate", "cert_renew", "ca_change"}
)
VALUE_FAULTS: Final = frozenset(
    {
        "api_status",
        "latency",
        "secureon",
        # Guests (tests.homelab.proxmox names the upstream sources):
        "startup_down",  # the guest's `startup: down=N` (unscaled seconds)
        "shutdown_delay",  # seconds its OS takes to shut down (a database)
        "qmpstatus",  # paused / suspended / prelaunch... while running
        "lock",  # e.g. "migrate": a migration is under way
        "ha",  # "managed": HA-managed; "error": HA-managed, its manager fails
    }
)
PVE_SHUTDOWN_TIMEOUT: Final = 60.0
"""Proxmox's shutdown window without a timeout or ``startup: down=``."""
LXC_STOP_GRACE: Final = 5.0
"""Seconds pve-container's shutdown task waits beyond ``lxc-stop --timeout``."""
GUEST_TASK_DELAY: Final = 1.0
"""Unscaled seconds a start task takes: it ends once QEMU is launched."""

FAULTS: Final = BOOL_FAULTS | ACTION_FAULTS | VALUE_FAULTS


def _service_app(name: str) -> Any:
    """A guest's own service (its web UI, its share): ``GET /`` answers 200."""
    from aiohttp import web

    async def index(request: web.Request) -> web.Response:
        return web.Response(text=f"{name} is serving\n")

    app = web.Application()
    app.router.add_get("/", index)
    return app


class HomelabError(Exception):
    """A control request the simulator cannot honour (unknown node, bad state)."""


class Homelab:
    """A simulated homelab serving real protocols on 127.0.0.1.

    Create it, ``await start()``, use it, ``await stop()``. It must be started
    and used from a single event loop; :class:`tests.homelab.HomelabThread`
    runs one in a thread of its own for synchronous callers.
    """

    def __init__(
        self,
        scenario: str = "reference",
        *,
        time_scale: float = 1.0,
        control_port: int = 0,
        wol_port: int = 0,
        extra_guests: int = 0,
        extra_containers: int = 0,
        delays: Mapping[str, float] | None = None,
        qdevice: bool = False,
        status_interval: float = 0.0,
    ) -> None:
        """Build the scenario's nodes (all off) and their key material.

        ``qdevice`` adds a QDevice vote to a cluster scenario, so that one
        node alone keeps quorum (see :meth:`quorate`).

        ``status_interval`` (unscaled seconds, 0 for none) makes each Proxmox
        API's ``/cluster/resources`` lag behind the truth as ``pvestatd``'s
        cycle does, and report ``unknown`` for that long after the machine
        booted (see :mod:`tests.homelab.proxmox`).

        ``delays`` maps a kind (machine, vm, lxc, container) to one unscaled
        delay in seconds that replaces that kind's boot, shutdown (and, for a
        container with a health check, health) delays; benchmarks use it.
        """
        if scenario not in SCENARIOS:
            raise ValueError(
                f"unknown scenario {scenario!r}; known: {sorted(SCENARIOS)}"
            )
        if time_scale < 0:
            raise ValueError("time_scale must be >= 0")
        self.scenario = scenario
        self.time_scale = time_scale
        self.cluster_name: str | None = None
        self.cluster_members: tuple[str, ...] = ()
        if scenario in CLUSTERS:
            self.cluster_name, self.cluster_members = CLUSTERS[scenario]
        self.qdevice = qdevice
        self._initial_qdevice = qdevice
        self.status_interval = status_interval
        self.control_port = control_port
        self.wol_port = wol_port
        self._build = lambda: SCENARIOS[scenario](
            extra_guests=extra_guests, extra_containers=extra_containers
        )
        self.nodes: dict[str, Node] = {node.name: node for node in self._build()}
        for node in self.nodes.values():
            if delays and (seconds := delays.get(node.kind)) is not None:
                node.delays = Delays(
                    up=seconds,
                    down=seconds,
                    health=seconds if node.delays.health else 0.0,
                )
        self.children: dict[str, list[str]] = {name: [] for name in self.nodes}
        for node in self.nodes.values():
            if node.parent is not None:
                self.children[node.parent].append(node.name)
        now = monotonic()
        for node in self.nodes.values():
            node.since = now

        # Credentials and key material, stable for this Homelab's lifetime.
        self.ssh_password = secrets.token_urlsafe(12)
        self.client_key = make_ssh_key()
        self.host_keys: dict[str, asyncssh.SSHKey] = {
            name: make_ssh_key() for name, node in self.nodes.items() if node.ssh
        }
        self._original_host_keys = dict(self.host_keys)
        # Each standalone Proxmox host has its own CA; a cluster shares one.
        self.pve_ca: dict[str, CertificateAuthority] = {}
        cluster_ca = make_ca(self.cluster_name) if self.cluster_name else None
        for name, node in self.nodes.items():
            if node.pve_node:
                in_cluster = name in self.cluster_members and cluster_ca is not None
                self.pve_ca[name] = cluster_ca if in_cluster else make_ca(name)  # type: ignore[assignment]
        self.tls: dict[str, TlsIdentity] = {
            name: make_tls_identity(node.pve_node, self.pve_ca[name])
            for name, node in self.nodes.items()
            if node.pve_node
        }
        self._original_tls = (dict(self.pve_ca), dict(self.tls))
        self._tls_contexts: dict[str, ssl.SSLContext] = {}
        # The address each node has on the cluster network (``/cluster/status``).
        self.cluster_ips: dict[str, str] = {
            name: HOST for name, node in self.nodes.items() if node.pve_node
        }
        self._original_parents = {name: n.parent for name, n in self.nodes.items()}
        self.pve_password = secrets.token_urlsafe(12)
        self.pve_tokens: dict[str, PveToken] = {
            f"{PVE_TOKEN_USER}!{PVE_TOKEN_NAME}": PveToken(
                str(uuid.uuid4()), ALL_PRIVILEGES
            ),
        }
        for token_name, privileges in RESTRICTED_TOKENS.items():
            self.pve_tokens[f"{PVE_TOKEN_USER}!{token_name}"] = PveToken(
                str(uuid.uuid4()), privileges
            )
        self.pve_tokens[f"{PVE_TOKEN_USER}!{PRIVSEP_TOKEN}"] = PveToken(
            str(uuid.uuid4()), frozenset(), privsep=True
        )
        # Tickets (ticket -> CSRF token) are valid on every node of a cluster.
        self.pve_tickets: dict[str, dict[str, str]] = {}
        self.pve_apis: dict[str, ProxmoxApi] = {}

        # Observation.
        self.power_log: list[dict[str, Any]] = []
        # Every state change (and a container turning healthy), with its time.
        self.state_log: list[dict[str, Any]] = []
        self.ssh_commands: list[dict[str, Any]] = []
        # Whether the last stop of each guest had to kill it.
        self.stops_forced: dict[str, bool] = {}
        self.request_counts: Counter[tuple[str, str]] = Counter()
        # The same requests with their time (monotonic), for rates per second.
        self.request_times: deque[tuple[float, str, str]] = deque(maxlen=100_000)

        # Runtime.
        self.ssh: dict[str, Listener] = {}
        self.proxmox: dict[str, WebListener] = {}
        self.docker: dict[str, WebListener] = {}
        self.services: dict[str, WebListener] = {}
        self.control: WebListener | None = None
        self._wol_transport: asyncio.DatagramTransport | None = None
        self._wol_protocol: WolProtocol | None = None
        self._transitions: dict[str, asyncio.Task[None]] = {}
        self._background: set[asyncio.Task[Any]] = set()
        self._changed = asyncio.Event()
        self._listeners_for: dict[str, list[Listener]] = {}
        self._hooks: list[Callable[[Node], None]] = []
        self.started = False

    # ------------------------------------------------------------------ life

    async def start(self) -> None:
        """Bind every service (ports are fixed from here on) and the control API."""
        from .control import build_control_app
        from .docker import build_docker_app
        from .proxmox import build_proxmox_app
        from .ssh import SshListener

        self._changed = asyncio.Event()
        for name, node in self.nodes.items():
            listeners: list[Listener] = []
            if node.ssh:
                self.ssh[name] = SshListener(self, name)
                listeners.append(self.ssh[name])
            if node.pve_node:
                self._tls_contexts[name] = self.tls[name].server_context()
                pve = WebListener(
                    f"{name} proxmox",
                    build_proxmox_app(self, name),
                    self._tls_contexts[name],
                )
                await pve.setup()
                self.proxmox[name] = pve
                listeners.append(pve)
            if node.docker:
                docker = WebListener(f"{name} docker", build_docker_app(self, name))
                await docker.setup()
                self.docker[name] = docker
                listeners.append(docker)
            if node.is_guest:
                service = WebListener(f"{name} service", _service_app(name))
                await service.setup()
                self.services[name] = service
                listeners.append(service)
            self._listeners_for[name] = listeners
            # Bind once to fix the port, then follow the node's power state.
            for listener in listeners:
                await listener.open()
            await self._sync_services(node)
        (
            self._wol_transport,
            self._wol_protocol,
            self.wol_port,
        ) = await open_wol_listener(self.wol_port, self._on_magic_packet)
        self.control = WebListener("control", build_control_app(self))
        self.control.port = self.control_port
        await self.control.setup()
        await self.control.open()
        self.control_port = self.control.port
        self.started = True

    async def stop(self) -> None:
        """Cancel every transition and close every listener."""
        for task in [*self._transitions.values(), *self._background]:
            task.cancel()
        for task in [*self._transitions.values(), *self._background]:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._transitions.clear()
        self._background.clear()
        if self._wol_transport is not None:
            self._wol_transport.close()
            self._wol_transport = None
        for listener in self.ssh.values():
            await listener.close()
        for web_listener in [
            *self.proxmox.values(),
            *self.docker.values(),
            *self.services.values(),
        ]:
            await web_listener.cleanup()
        if self.control is not None:
            await self.control.cleanup()
        self.started = False

    async def reset(self) -> None:
        """Everything off, faults cleared, log and counters cleared, new containers IDs kept."""
        for name in list(self._transitions):
            self._cancel_transition(name)
        # hostkey_change is a fault too: reset restores the original keys, so
        # the ready document taken at start stays valid.
        for name, key in self._original_host_keys.items():
            if self.host_keys[name] is not key:
                self.host_keys[name] = key
                await self.ssh[name].close()
        # So are renewed certificates, migrations, granted ACLs and the QDevice.
        if (dict(self.pve_ca), dict(self.tls)) != self._original_tls:
            self.pve_ca, tls = dict(self._original_tls[0]), self._original_tls[1]
            for name, identity in tls.items():
                await self._serve_certificate(name, identity)
        for name, parent in self._original_parents.items():
            if self.nodes[name].parent != parent:
                self._reparent(name, parent)
        for token in self.pve_tokens.values():
            if token.privsep:
                token.privileges = frozenset()
        self.qdevice = self._initial_qdevice
        for node in self.nodes.values():
            node.faults.clear()
            node.metrics.clear()
            self._set_state(node, node.down_state)
            node.transition = None
            node.health = None
            node.booted = False
            node.qmpstatus = None
            node.ha_state = None
        for node in self.nodes.values():
            await self._sync_services(node)
        self.power_log.clear()
        self.state_log.clear()
        self.stops_forced.clear()
        self.ssh_commands.clear()
        self.clear_requests()
        if self._wol_protocol is not None:
            self._wol_protocol.rejected = 0

    # ----------------------------------------------------------- observation

    def node(self, name: str) -> Node:
        """Return the node called ``name`` or raise HomelabError."""
        try:
            return self.nodes[name]
        except KeyError:
            raise HomelabError(f"unknown node {name!r}") from None

    def scaled(self, seconds: float) -> float:
        """Return ``seconds`` multiplied by the time scale."""
        return seconds * self.time_scale

    def record(self, node: str, action: str, channel: str, **extra: Any) -> None:
        """Append a power command to the log."""
        entry = {"t": monotonic(), "node": node, "action": action, "channel": channel}
        entry.update(extra)
        self.power_log.append(entry)
        _LOGGER.info("homelab: %s %s via %s %s", action, node, channel, extra or "")

    def count(self, host: str, endpoint: str) -> None:
        """Count one request to ``host`` for ``endpoint`` (e.g. ``proxmox GET /nodes``)."""
        self.request_counts[(host, endpoint)] += 1
        self.request_times.append((monotonic(), host, endpoint))

    def clear_requests(self) -> None:
        """Forget every request counted so far."""
        self.request_counts.clear()
        self.request_times.clear()

    def requests_summary(self) -> dict[str, Any]:
        """Return the request counters since the last reset, and their times.

        ``log`` lists every request as ``[t, host, endpoint]`` (``t`` from
        the monotonic clock the benchmarks share), so that a reader can count
        the requests a host received in any one-second window.
        """
        hosts: dict[str, dict[str, Any]] = {}
        endpoints: Counter[str] = Counter()
        for (host, endpoint), count in sorted(self.request_counts.items()):
            entry = hosts.setdefault(host, {"total": 0, "endpoints": {}})
            entry["total"] += count
            entry["endpoints"][endpoint] = count
            endpoints[endpoint] += count
        return {
            "total": sum(self.request_counts.values()),
            "hosts": hosts,
            "endpoints": dict(sorted(endpoints.items())),
            "log": [list(entry) for entry in self.request_times],
        }

    def node_summary(self, node: Node) -> dict[str, Any]:
        """Return one node as ``GET /nodes`` shows it."""
        return {
            "name": node.name,
            "kind": node.kind,
            "parent": node.parent,
            "state": node.state,
            "transition": node.transition,
            "vmid": node.vmid,
            "mac": node.mac,
            "container_id": node.container_id or None,
            "health": node.health,
            "faults": dict(node.faults),
            "metrics": metrics.public(node),
        }

    def metrics_summary(self, node: Node) -> dict[str, Any]:
        """What ``node`` serves now: its usage figures and its overrides."""
        maxmem = node.maxmem
        if node.kind == "container":
            maxmem = self.node(node.parent or node.name).maxmem
        return {
            "node": node.name,
            "cpu": metrics.cpu(node),
            "mem": metrics.mem(node, maxmem),
            "maxmem": maxmem,
            "netin": metrics.counter(node, "netin"),
            "netout": metrics.counter(node, "netout"),
            "connections": [
                {"port": port, "peer": peer}
                for port, peer in node.metrics.get("connections", ())
            ],
            "overrides": metrics.public(node),
        }

    def ancestors(self, name: str) -> list[Node]:
        """Return the hosting chain above ``name``, nearest first."""
        chain: list[Node] = []
        parent = self.node(name).parent
        while parent is not None:
            chain.append(self.nodes[parent])
            parent = self.nodes[parent].parent
        return chain

    def descendants(self, name: str) -> list[Node]:
        """Return every node hosted (directly or not) on ``name``, parents first."""
        result: list[Node] = []
        for child in self.children[name]:
            result.append(self.nodes[child])
            result.extend(self.descendants(child))
        return result

    def machine_of(self, name: str) -> Node:
        """Return the physical machine at the root of ``name``'s hosting chain."""
        chain = [self.node(name), *self.ancestors(name)]
        return chain[-1]

    def guests_of(self, machine: str) -> list[Node]:
        """Return the Proxmox guests of ``machine``, by vmid."""
        return sorted(
            (self.nodes[c] for c in self.children[machine] if self.nodes[c].is_guest),
            key=lambda n: n.vmid or 0,
        )

    def members_of(self, machine: str) -> tuple[str, ...]:
        """Return the Proxmox hosts of ``machine``'s cluster (itself when standalone)."""
        if machine in self.cluster_members:
            return self.cluster_members
        return (machine,)

    def quorate(self, machine: str) -> bool:
        """Return True when ``machine``'s cluster has quorum.

        corosync ``exec/votequorum.c``: each member has one vote, and the
        cluster is quorate with more than half of the expected votes; a
        QDevice (corosync-qdevice, algorithm ``ffsplit``) adds one vote, given
        to the side that still runs a node. A two-node cluster without a QDevice therefore loses
        quorum as soon as one node is off, and one node alone keeps it with
        a QDevice. A standalone host is always quorate.
        """
        members = self.members_of(machine)
        if len(members) == 1:
            return True
        votes = sum(1 for name in members if self.nodes[name].is_up)
        expected = len(members)
        if self.qdevice:
            votes += 1 if votes else 0
            expected += 1
        return votes * 2 > expected

    def migrate_guest(self, name: str, target: str) -> None:
        """Move a guest to another node of its cluster, as ``qm migrate`` does.

        The guest keeps its vmid, name, state (a running guest migrates
        live) and its containers; only its node changes (qemu-server
        ``PVE/QemuMigrate.pm``, pve-container ``PVE/LXC/Migrate.pm``: the
        guest's configuration file moves to the target node's directory).
        """
        guest = self.node(name)
        if not guest.is_guest or guest.parent is None:
            raise HomelabError(f"{name} is not a Proxmox guest")
        if target not in self.members_of(guest.parent) or target == guest.parent:
            raise HomelabError(
                f"{target} is not another node of {guest.parent}'s cluster"
            )
        if not self.nodes[target].is_up:
            raise HomelabError(f"target node {target} is not online")
        if guest.is_up and not self.nodes[guest.parent].is_up:
            raise HomelabError(f"{guest.parent} is not online")
        self.record(name, "pve_migrate", "proxmox", source=guest.parent, target=target)
        self._reparent(name, target)
        self._changed.set()
        self._changed = asyncio.Event()

    def _reparent(self, name: str, parent: str | None) -> None:
        node = self.nodes[name]
        if node.parent is not None:
            self.children[node.parent].remove(name)
        node.parent = parent
        if parent is not None:
            self.children[parent].append(name)

    def grant_token(self, token: str, privileges: Iterable[str]) -> None:
        """Give a privilege-separated token an ACL (``pveum acl modify / --tokens``).

        pve-access-control ``PVE/RPCEnvironment.pm``: a token with privilege
        separation holds the privileges of its own ACLs (within its user's),
        and nothing else.
        """
        known = self.pve_tokens.get(f"{PVE_TOKEN_USER}!{token}")
        if known is None or not known.privsep:
            raise HomelabError(f"{token!r} is not a privilege-separated token")
        known.privileges = frozenset(privileges) & ALL_PRIVILEGES

    async def renew_certificate(self, machine: str) -> None:
        """Renew a node's certificate with the same CA, as ``pveupdate`` does.

        pve-manager ``bin/pveupdate`` and ``PVE/CertHelpers.pm``: the node
        certificate (``pve-ssl.pem``) is renewed 14 days before it expires,
        signed by the same cluster CA; pveproxy serves it from then on.
        """
        node = self.node(machine)
        if node.pve_node is None:
            raise HomelabError(f"{machine} has no Proxmox API")
        await self._serve_certificate(
            machine, make_tls_identity(node.pve_node, self.pve_ca[machine])
        )

    async def replace_ca(self, machine: str) -> None:
        """Give ``machine``'s cluster a new CA and new node certificates.

        As after ``pvecm updatecerts --force`` with a removed
        ``pve-root-ca.pem``, or a reinstall (pve-cluster
        ``PVE/Cluster/Setup.pm``): every member's certificate changes.
        """
        if self.node(machine).pve_node is None:
            raise HomelabError(f"{machine} has no Proxmox API")
        ca = make_ca(self.cluster_name or machine)
        for member in self.members_of(machine):
            self.pve_ca[member] = ca
            pve_node = self.nodes[member].pve_node
            assert pve_node is not None
            await self._serve_certificate(member, make_tls_identity(pve_node, ca))

    async def _serve_certificate(self, machine: str, identity: TlsIdentity) -> None:
        """Serve a new certificate; pveproxy restarts, so connections drop."""
        self.tls[machine] = identity
        context = self._tls_contexts.get(machine)
        if context is not None:
            identity.load_into(context)
        listener = self.proxmox.get(machine)
        if listener is not None and listener.is_open:
            await listener.close()
            await self._sync_services(self.nodes[machine])

    def containers_of(self, host: str) -> list[Node]:
        """Return the containers of Docker host ``host``."""
        return [
            self.nodes[c]
            for c in self.children[host]
            if self.nodes[c].kind == "container"
        ]

    async def wait_state(self, name: str, state: str, timeout: float = 10.0) -> None:
        """Wait until node ``name`` is in ``state`` (TimeoutError otherwise)."""
        node = self.node(name)
        async with asyncio.timeout(timeout):
            while node.state != state:
                event = self._changed
                await event.wait()

    def add_state_hook(self, hook: Callable[[Node], None]) -> None:
        """Call ``hook(node)`` after every state change (used by Docker events)."""
        self._hooks.append(hook)

    # ---------------------------------------------------------- ready document

    def ready_document(self) -> dict[str, Any]:
        """Return the ready document (see the package docstring)."""
        nodes: dict[str, Any] = {}
        token_value = self.pve_tokens[f"{PVE_TOKEN_USER}!{PVE_TOKEN_NAME}"].value
        for name, node in self.nodes.items():
            entry: dict[str, Any] = {
                "name": name,
                "kind": node.kind,
                "parent": node.parent,
                "host": HOST,
            }
            if node.vmid is not None:
                entry["vmid"] = node.vmid
            if node.mac is not None:
                entry["mac"] = node.mac
            if node.kind == "container":
                entry["image"] = node.image
                entry["healthcheck"] = node.healthcheck
            entry["ssh"] = None
            if name in self.ssh:
                host_key = self.host_keys[name]
                entry["ssh"] = {
                    "port": self.ssh[name].port,
                    "username": SSH_USERNAME,
                    "unprivileged_username": SSH_UNPRIVILEGED_USERNAME,
                    "password": self.ssh_password,
                    "private_key": private_key_text(self.client_key),
                    "public_key": public_key_line(self.client_key, "wakehub-client"),
                    "host_key": public_key_line(host_key),
                    "host_key_fingerprint": host_key.get_fingerprint("sha256"),
                }
            entry["proxmox"] = None
            if name in self.proxmox:
                entry["proxmox"] = {
                    "port": self.proxmox[name].port,
                    "node": node.pve_node,
                    "fingerprint": self.tls[name].fingerprint,
                    "certificate": self.tls[name].cert_pem.decode(),
                    "ca_fingerprint": self.pve_ca[name].fingerprint,
                    "ca_certificate": self.pve_ca[name].cert_pem.decode(),
                    "token_user": PVE_TOKEN_USER,
                    "token_name": PVE_TOKEN_NAME,
                    "token_value": token_value,
                    "user": PVE_USER,
                    "password": self.pve_password,
                    "tokens": {
                        token_id.split("!", 1)[1]: {
                            "value": token.value,
                            "privileges": sorted(token.privileges),
                            "privsep": token.privsep,
                        }
                        for token_id, token in self.pve_tokens.items()
                    },
                }
            if name in self.services:
                port = self.services[name].port
                entry["service"] = {"port": port, "url": f"http://{HOST}:{port}/"}
                entry["agent"] = node.agent
            entry["docker"] = None
            if name in self.docker:
                port = self.docker[name].port
                entry["docker"] = {
                    "port": port,
                    "url": f"tcp://{HOST}:{port}",
                    "socket_path": DOCKER_SOCKET,
                }
            nodes[name] = entry
        return {
            "control_url": f"http://{HOST}:{self.control_port}",
            "wol": {"host": HOST, "port": self.wol_port},
            "time_scale": self.time_scale,
            "scenario": self.scenario,
            "cluster": {
                "name": self.cluster_name,
                "members": list(self.cluster_members),
                "qdevice": self.qdevice,
            }
            if self.cluster_name
            else None,
            "nodes": nodes,
        }

    # --------------------------------------------------------------- services

    def service_should_run(
        self, node: Node, listener: Listener, *, up: bool | None = None
    ) -> bool:
        """Return True when ``listener`` of ``node`` should accept connections."""
        if not (node.serving if up is None else up):
            return False
        return not (
            listener is self.ssh.get(node.name) and node.faults.get("ssh_refuse")
        )

    async def _come_up(self, node: Node) -> None:
        """Open the node's services, then declare it up.

        In that order, whoever sees the new state can connect at once.
        """
        node.booted = True
        for listener in self._listeners_for.get(node.name, ()):
            if self.service_should_run(node, listener, up=True):
                await listener.open()
        self._set_state(node, node.up_state)
        if node.is_machine:
            await self._sync_machine(node)

    async def _boot_os(self, node: Node) -> None:
        """A guest's second boot phase: its OS boots, then services answer.

        Proxmox already says ``running`` (the start task ended once QEMU was
        launched, qemu-server ``vm_start``); the services and the QEMU guest
        agent come up ``delays.up`` later.
        """
        await asyncio.sleep(self.scaled(node.delays.up))
        if not node.is_up:
            return
        node.booted = True
        await self._sync_services(node)
        self.state_log.append({"t": monotonic(), "node": node.name, "services": "up"})
        self._changed.set()
        self._changed = asyncio.Event()

    def answers(self, node: Node) -> bool:
        """Whether ``node``'s address answers TCP at all (its machine's OS runs).

        A machine ``off`` (or ``booting``: firmware, no OS yet) answers
        nothing, and nor does anything hosted on it: its ports are silent. A
        machine ``on`` or ``shutting_down`` answers: a port nobody listens on
        refuses (see ``service.py``).
        """
        return self.machine_of(node.name).state in (ON, SHUTTING_DOWN)

    async def _sync_services(self, node: Node) -> None:
        """Open what should run; close the rest, refusing or silent."""
        silent = not self.answers(node)
        for listener in self._listeners_for.get(node.name, ()):
            if self.service_should_run(node, listener):
                await listener.open()
            else:
                await listener.close(silent=silent)

    async def _sync_machine(self, machine: Node) -> None:
        """Sync the services of a machine and of everything it hosts.

        After its power changed: they all turn silent when it goes off, and
        refusing (those not running) when it comes up.
        """
        for node in (machine, *self.descendants(machine.name)):
            await self._sync_services(node)

    def _set_state(self, node: Node, state: str) -> None:
        if node.state == state:
            return
        was_up = node.is_up
        node.state = state
        node.since = monotonic()
        self.state_log.append({"t": node.since, "node": node.name, "state": state})
        if node.is_up and not was_up:
            node.started_wall = wall_time()
            node.pid = random.randint(1000, 4_000_000)
        elif was_up and not node.is_up:
            node.finished_wall = wall_time()
            node.pid = 0
            node.health = None
            node.booted = False
            node.qmpstatus = None
            node.faults.pop("qmpstatus", None)
        self._changed.set()
        self._changed = asyncio.Event()
        for hook in self._hooks:
            try:
                hook(node)
            except Exception:
                _LOGGER.exception("homelab: state hook failed")

    def _cancel_transition(self, name: str) -> None:
        task = self._transitions.pop(name, None)
        if task is not None and not task.done() and task is not asyncio.current_task():
            task.cancel()
        self.nodes[name].transition = None

    def _spawn(self, coro: Any) -> asyncio.Task[Any]:
        task: asyncio.Task[Any] = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    def _run_transition(self, name: str, coro: Any) -> asyncio.Task[None]:
        self._cancel_transition(name)
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        self._transitions[name] = task

        def _done(finished: asyncio.Task[None]) -> None:
            if self._transitions.get(name) is finished:
                del self._transitions[name]

        task.add_done_callback(_done)
        return task

    async def _bring_down(self, node: Node) -> None:
        """Take ``node`` and everything on it down instantly (power cut)."""
        for child in reversed(self.descendants(node.name)):
            self._cancel_transition(child.name)
            self._set_state(child, child.down_state)
            await self._sync_services(child)
        self._cancel_transition(node.name)
        self._set_state(node, node.down_state)
        if node.is_machine:
            await self._sync_machine(node)
        else:
            await self._sync_services(node)

    async def _take_children_down(self, node: Node) -> None:
        for child in reversed(self.descendants(node.name)):
            self._cancel_transition(child.name)
            self._set_state(child, child.down_state)
            await self._sync_services(child)

    # ---------------------------------------------------------- power: machines

    def _on_magic_packet(self, packet: MagicPacket, sender: str) -> None:
        for node in self.nodes.values():
            if node.mac is None or normalize_mac(node.mac) != packet.mac:
                continue
            self.count(node.name, "wol magic-packet")
            secureon = node.faults.get("secureon")
            if secureon and packet.password != bytes.fromhex(
                str(secureon).replace(":", "").replace("-", "")
            ):
                self.record(
                    node.name, "wol", "wol", result="ignored: bad SecureOn password"
                )
                return
            if node.faults.get("ignore_wol"):
                self.record(node.name, "wol", "wol", result="ignored: ignore_wol fault")
                return
            if node.state != OFF:
                self.record(
                    node.name, "wol", "wol", result=f"ignored: already {node.state}"
                )
                return
            self.record(node.name, "wol", "wol", result="booting", sender=sender)
            self.boot_machine(node.name)
            return
        _LOGGER.info(
            "homelab: magic packet for unknown MAC %s from %s", packet.mac, sender
        )

    def boot_machine(self, name: str) -> None:
        """Start booting an ``off`` machine (as a magic packet would)."""
        node = self.node(name)
        if node.state != OFF:
            return
        self._set_state(node, BOOTING)
        node.transition = "starting"

        async def _boot() -> None:
            await asyncio.sleep(self.scaled(node.delays.up))
            node.transition = None
            if node.faults.get("boot_fails"):
                _LOGGER.info("homelab: %s failed to boot (boot_fails fault)", name)
                self._set_state(node, OFF)
                return
            await self._come_up(node)

        self._run_transition(name, _boot())

    async def shutdown_machine(self, name: str) -> None:
        """Start a clean shutdown of an ``on`` machine: guests stop, then it goes off."""
        node = self.node(name)
        if node.state not in (ON, BOOTING):
            return
        self._cancel_transition(name)
        self._set_state(node, SHUTTING_DOWN)
        node.transition = "stopping"
        await self._take_children_down(node)
        await self._sync_services(node)

        async def _off() -> None:
            await asyncio.sleep(self.scaled(node.delays.down))
            node.transition = None
            self._set_state(node, OFF)
            await self._sync_machine(node)

        self._run_transition(name, _off())

    # ------------------------------------------------------------ power: guests

    def start_guest(self, name: str) -> asyncio.Future[str]:
        """Start a stopped guest; the future gives the task's exit status."""
        node = self.node(name)
        done: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        node.transition = "starting"

        async def _start() -> None:
            try:
                await asyncio.sleep(self.scaled(GUEST_TASK_DELAY))
                node.transition = None
                self._set_state(node, RUNNING)
                done.set_result("OK")
                await self._boot_os(node)
            finally:
                if not done.done():
                    done.set_result("interrupted by another power action")

        self._run_transition(name, _start())
        return done

    def stop_guest(
        self,
        name: str,
        *,
        graceful: bool,
        timeout: float | None = None,
        force: bool = False,
    ) -> asyncio.Future[str]:
        """Stop a guest (ACPI shutdown when ``graceful``); the future gives the status.

        A graceful shutdown takes the guest's OS ``delays.down`` seconds, or
        its ``shutdown_delay`` fault; ``ignore_shutdown`` makes it never end.
        Proxmox waits ``timeout`` (unscaled seconds, its own parameter), else
        the guest's ``startup: down=`` (``startup_down`` fault), else its
        default (qemu-server ``vm_stop``, pve-container ``vm_shutdown``).
        When that window passes, ``force`` kills the guest; otherwise the task
        fails with PVE's message and the guest keeps running. The future's
        ``forced`` attribute tells whether the guest was killed.
        """
        node = self.node(name)
        done: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        node.transition = "stopping"
        window = timeout
        if window is None:
            window = float(node.faults.get("startup_down") or PVE_SHUTDOWN_TIMEOUT)
        if node.kind == "lxc":
            window += LXC_STOP_GRACE
        os_time: float | None = float(
            node.faults.get("shutdown_delay") or node.delays.down
        )
        if node.faults.get("ignore_shutdown"):
            os_time = None

        async def _stop() -> None:
            try:
                forced = False
                if graceful and (os_time is None or os_time > window):
                    await asyncio.sleep(self.scaled(window))
                    if not force:
                        node.transition = None
                        noun = "VM" if node.kind == "vm" else "CT"
                        done.set_result(
                            f"{noun} quit/powerdown failed - got timeout"
                            if node.kind == "vm"
                            else f"{noun} {node.vmid}: shutdown timed out"
                        )
                        return
                    forced = True
                await self._take_children_down(node)
                # The guest OS stops its services first.
                node.booted = False
                for listener in self._listeners_for.get(name, ()):
                    await listener.close()
                if graceful and not forced:
                    assert os_time is not None
                    await asyncio.sleep(self.scaled(os_time))
                else:
                    await asyncio.sleep(self.scaled(0.1))
                node.transition = None
                self._set_state(node, STOPPED)
                await self._sync_services(node)
                self.stops_forced[name] = forced
                done.set_result("OK")
            finally:
                if not done.done():
                    done.set_result("interrupted by another power action")

        self._run_transition(name, _stop())
        return done

    # -------------------------------------------------------- power: containers

    async def start_container(self, name: str) -> None:
        """Start a container and return once it runs (as ``docker start`` does)."""
        node = self.node(name)
        node.transition = "starting"
        try:
            await asyncio.sleep(self.scaled(node.delays.up))
        finally:
            node.transition = None
        self._set_state(node, RUNNING)
        if node.healthcheck:
            node.health = "starting"

            async def _healthy() -> None:
                await asyncio.sleep(self.scaled(node.delays.health))
                if node.is_up and node.health == "starting":
                    node.health = "healthy"
                    self.state_log.append(
                        {"t": monotonic(), "node": node.name, "health": "healthy"}
                    )
                    self._changed.set()
                    self._changed = asyncio.Event()
                    for hook in self._hooks:
                        hook(node)

            self._run_transition(name, _healthy())

    async def stop_container(self, name: str) -> None:
        """Stop a container and return once it exited (as ``docker stop`` does)."""
        node = self.node(name)
        self._cancel_transition(name)
        node.transition = "stopping"
        try:
            await asyncio.sleep(self.scaled(node.delays.down))
        finally:
            node.transition = None
        self._set_state(node, STOPPED)

    def recreate_container(self, name: str) -> str:
        """Give a container a new ID (as ``docker compose up`` after a pull)."""
        node = self.node(name)
        if node.kind != "container":
            raise HomelabError(f"{name} is not a container")
        node.container_id = new_container_id()
        node.created = wall_time()
        self._changed.set()
        self._changed = asyncio.Event()
        return node.container_id

    # ----------------------------------------------------------------- control

    async def set_power(self, name: str, state: str) -> None:
        """Put a node in ``state`` instantly (ancestors up / descendants down too)."""
        node = self.node(name)
        valid = MACHINE_STATES if node.is_machine else GUEST_STATES
        aliases = {
            "on": node.up_state,
            "running": node.up_state,
            "off": node.down_state,
        }
        aliases["stopped"] = node.down_state
        target = aliases.get(state, state)
        if target not in valid or target in (BOOTING, SHUTTING_DOWN):
            raise HomelabError(f"invalid state {state!r} for {node.kind} {name}")
        if target == node.up_state:
            for ancestor in reversed(self.ancestors(name)):
                if not ancestor.is_up:
                    self._cancel_transition(ancestor.name)
                    await self._come_up(ancestor)
            self._cancel_transition(name)
            await self._come_up(node)
            if node.healthcheck:
                node.health = "healthy"
        else:
            await self._bring_down(node)

    async def set_fault(self, name: str, fault: str, value: Any = True) -> None:
        """Set (or, with a false/None value, clear) a fault on a node."""
        node = self.node(name)
        if fault not in FAULTS:
            raise HomelabError(f"unknown fault {fault!r}; known: {sorted(FAULTS)}")
        if fault == "crash":
            if value in (None, False):
                return
            _LOGGER.info("homelab: %s crashes", name)
            await self._bring_down(node)
            return
        if fault == "hostkey_change":
            if value in (None, False):
                return
            if name not in self.host_keys:
                raise HomelabError(f"{name} has no SSH server")
            self.host_keys[name] = make_ssh_key()
            listener = self.ssh[name]
            if listener.is_open:
                await listener.close()
                await self._sync_services(node)
            return
        if fault == "recreate":
            if value not in (None, False):
                self.recreate_container(name)
            return
        if fault in ("cert_renew", "ca_change"):
            if value not in (None, False):
                if fault == "cert_renew":
                    await self.renew_certificate(name)
                else:
                    await self.replace_ca(name)
            return
        if fault == "api_status" and value not in (None, False):
            value = int(value)
            if value < 400:
                raise HomelabError("api_status must be an HTTP error status (>= 400)")
        if fault == "latency" and value not in (None, False):
            value = float(value)
        if value in (None, False, 0):
            node.faults.pop(fault, None)
        else:
            node.faults[fault] = value
        if fault == "ssh_refuse":
            await self._sync_services(node)
        if fault == "qmpstatus":
            # A paused (or suspended...) VM's OS and services stop answering.
            node.qmpstatus = node.faults.get("qmpstatus")
            await self._sync_services(node)


def busiest_second(log: list[list[Any]]) -> tuple[int, str, list[str]]:
    """The most requests one host received in any one-second window of ``log``.

    ``log`` is ``requests_summary()["log"]`` (``[t, host, endpoint]``);
    returns that count, the host and the window's requests (``"t endpoint"``):
    a sliding window over every request, not seconds sampled from a clock.
    """
    by_host: dict[str, list[tuple[float, str]]] = {}
    for t, host, endpoint in log:
        by_host.setdefault(host, []).append((t, endpoint))
    best: tuple[int, str, list[str]] = (0, "-", [])
    for host, sent in by_host.items():
        sent.sort()
        first = 0
        for last, (at, _endpoint) in enumerate(sent):
            while at - sent[first][0] >= 1.0:
                first += 1
            if last - first + 1 > best[0]:
                window = sent[first : last + 1]
                best = (last - first + 1, host, [f"{t:.3f} {e}" for t, e in window])
    return best
