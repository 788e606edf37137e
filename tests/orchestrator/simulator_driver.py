"""A :class:`NodeDriver` over the real channels, configured from the simulator.

``SimulatorDriver.from_ready(ready)`` reads the homelab simulator's ready
document and builds, for every node, the channel that really powers it:
Wake-on-LAN to the simulator's loopback WoL port, SSH with the pinned host
key, the Proxmox API with the pinned certificate and the ``wakehub`` token,
and the Docker API over TCP. ``build_topology(ready)`` builds the matching
:class:`Topology` (ids from MACs, vmids and container names, as the
integration makes them) with the reference homelab's dependency edges.

It is what the Home Assistant glue does with its coordinators, minus the
caching: every ``states()`` call polls (1 probe per machine, 1 request per
Proxmox host that is up, 1 per Docker host that is up). Steps and readiness
go through the integration's own rules (:mod:`~custom_components.wakehub.
orchestrator.power`), so the scenarios here exercise the code that runs in
Home Assistant; only where the channels are found differs.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from custom_components.wakehub.channels import Machine
from custom_components.wakehub.channels.base import ChildKind
from custom_components.wakehub.channels.docker import (
    DockerConfig,
    DockerEndpoint,
    DockerHost,
)
from custom_components.wakehub.channels.errors import (
    ChannelError,
)
from custom_components.wakehub.channels.proxmox import ProxmoxConfig, ProxmoxHost
from custom_components.wakehub.channels.ssh import SshChannel, SshConfig
from custom_components.wakehub.channels.wol import WakeOnLan
from custom_components.wakehub.core import (
    Action,
    Capability,
    Node,
    NodeKind,
    PowerState,
    Step,
    Topology,
    container_id,
    guest_id,
    machine_id,
)
from custom_components.wakehub.orchestrator import default_step_timeout
from custom_components.wakehub.orchestrator.power import (
    GuestSettings,
    NodeChannels,
    Readiness,
    Sent,
    StepTimeouts,
    free_look,
    reached,
)
from tests.core.reference import REFERENCE_DEPENDENCIES

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Mapping


def node_ids(ready: Mapping[str, Any]) -> dict[str, str]:
    """Return the node id of every simulator node, by display name."""
    nodes: Mapping[str, Any] = ready["nodes"]
    ids: dict[str, str] = {}

    def resolve(name: str) -> str:
        if name in ids:
            return ids[name]
        info = nodes[name]
        if info["kind"] == "machine":
            ids[name] = machine_id(info["mac"])
        elif info["kind"] in ("vm", "lxc"):
            ids[name] = guest_id(resolve(info["parent"]), int(info["vmid"]))
        else:
            ids[name] = container_id(resolve(info["parent"]), name)
        return ids[name]

    for name in nodes:
        resolve(name)
    return ids


def build_topology(
    ready: Mapping[str, Any],
    dependencies: tuple[tuple[str, str], ...] = REFERENCE_DEPENDENCIES,
) -> Topology:
    """Return the topology of the simulated homelab, parents first."""
    nodes: Mapping[str, Any] = ready["nodes"]
    ids = node_ids(ready)
    topology = Topology()
    pending = list(nodes)
    while pending:
        for name in list(pending):
            info = nodes[name]
            parent = info["parent"]
            if parent is not None and ids[parent] not in topology:
                continue
            capabilities = frozenset(
                capability
                for capability in Capability
                if info.get(str(capability)) is not None
            )
            topology.add_node(
                Node(
                    id=ids[name],
                    kind=NodeKind(info["kind"]),
                    name=name,
                    parent=ids[parent] if parent is not None else None,
                    capabilities=capabilities,
                )
            )
            pending.remove(name)
    for dependent, dependency in dependencies:
        topology.add_dependency(ids[dependent], ids[dependency])
    return topology


@dataclass
class SimulatorDriver:
    """Powers the simulated homelab through WakeHub's real channels."""

    topology: Topology
    machines: dict[str, Machine]
    proxmox: dict[str, ProxmoxHost]
    docker: dict[str, DockerHost]
    keys: dict[str, str]
    timeouts: dict[tuple[str, Action], float] = field(default_factory=dict)
    guests: dict[str, GuestSettings] = field(default_factory=dict)
    _step_timeouts: StepTimeouts = field(default_factory=StepTimeouts)
    _known: dict[str, PowerState] = field(default_factory=dict)

    @classmethod
    def from_ready(
        cls, ready: Mapping[str, Any], topology: Topology
    ) -> SimulatorDriver:
        """Build every channel from the ready document."""
        ids = node_ids(ready)
        wol = ready["wol"]
        machines: dict[str, Machine] = {}
        proxmox: dict[str, ProxmoxHost] = {}
        docker: dict[str, DockerHost] = {}
        keys: dict[str, str] = {}
        guests: dict[str, GuestSettings] = {}
        for name, info in ready["nodes"].items():
            node_id = ids[name]
            ssh_info = info.get("ssh")
            if info["kind"] == "machine":
                machines[node_id] = Machine(
                    host=info["host"],
                    probe_port=ssh_info["port"],
                    wol=WakeOnLan(
                        mac=info["mac"],
                        broadcast=wol["host"],
                        port=wol["port"],
                        packets=1,
                    ),
                    ssh=_ssh(info["host"], ssh_info) if ssh_info else None,
                )
            elif info["kind"] in ("vm", "lxc"):
                keys[node_id] = str(info["vmid"])
                guests[node_id] = guest_settings(info)
            else:
                keys[node_id] = name
            if (pve := info.get("proxmox")) is not None:
                proxmox[node_id] = ProxmoxHost(
                    ProxmoxConfig(
                        host=info["host"],
                        port=pve["port"],
                        node=pve["node"],
                        user=pve["token_user"],
                        token_name=pve["token_name"],
                        token_value=pve["token_value"],
                        verify_tls=False,
                        fingerprint=pve["fingerprint"],
                        timeout=5.0,
                    ),
                    task_poll_interval=0.02,
                    task_timeout=10.0,
                )
            if (dock := info.get("docker")) is not None:
                docker[node_id] = DockerHost(
                    DockerConfig(
                        endpoint=DockerEndpoint.TCP,
                        host=info["host"],
                        port=dock["port"],
                        timeout=5.0,
                        stop_timeout=1,
                    )
                )
        return cls(topology, machines, proxmox, docker, keys, guests=guests)

    async def close(self) -> None:
        """Close every API client."""
        for host in (*self.proxmox.values(), *self.docker.values()):
            await host.close()

    # -- NodeDriver ------------------------------------------------------------

    async def states(self) -> Mapping[str, PowerState]:
        """Poll everything: probes, then one request per host that is up."""
        states: dict[str, PowerState] = {}
        up: set[str] = set()
        # In parallel: a machine that is off answers nothing, and each of its
        # probes waits out its timeout.
        probes = await asyncio.gather(
            *(machine.probe() for machine in self.machines.values())
        )
        for node_id, on in zip(self.machines, probes, strict=True):
            states[node_id] = PowerState.ON if on else PowerState.OFF
            if on:
                up.add(node_id)
        for node_id in self.topology.nodes:
            states.setdefault(node_id, PowerState.OFF)
        for host_id, api in self.proxmox.items():
            if host_id in up:
                await self._read(api, host_id, states, up)
        for host_id, api in self.docker.items():
            if host_id in up:
                await self._read(api, host_id, states, up)
        self._known = states
        return states

    def known_states(self) -> Mapping[str, PowerState]:
        """What the last :meth:`states` found (nothing before it: all off)."""
        return dict(self._known)

    async def _read(
        self,
        api: ProxmoxHost | DockerHost,
        host_id: str,
        states: dict[str, PowerState],
        up: set[str],
    ) -> None:
        children = [
            child
            for child in self.topology.children(host_id)
            if (self.topology.node(child).kind is NodeKind.CONTAINER)
            == isinstance(api, DockerHost)
        ]
        try:
            info = await api.read_states()
        except ChannelError:
            for child in children:
                states[child] = PowerState.UNKNOWN
            return
        for child in children:
            child_info = info.get(self.keys[child])
            running = child_info is not None and child_info.running
            states[child] = PowerState.ON if running else PowerState.OFF
            if (
                child_info is not None
                and child_info.kind is not ChildKind.CONTAINER
                and child_info.status not in ("running", "stopped")
            ):
                # unknown, paused...: not off (the integration's rule)
                states[child] = PowerState.UNKNOWN
            if running:
                up.add(child)

    def channels(self, node_id: str) -> NodeChannels:
        """Where the node's channels are, for the shared step rules."""
        node = self.topology.node(node_id)
        host: ProxmoxHost | DockerHost | None = None
        if node.parent is not None:
            host = (
                self.docker.get(node.parent)
                if node.kind is NodeKind.CONTAINER
                else self.proxmox.get(node.parent)
            )
        return NodeChannels(
            name=node.name,
            kind=node.kind,
            machine=self.machines.get(node_id),
            host=host,
            key=self.keys.get(node_id),
            proxmox=self.proxmox.get(node_id),
            docker=self.docker.get(node_id),
            guest=self.guests.get(node_id, GuestSettings()),
        )

    async def execute(self, step: Step, *, eager: bool = False) -> Sent:
        """Send the step's command through its channel (the integration's rules)."""
        return await self._step_timeouts.send(
            step, self.channels(step.node), self.step_timeout, eager=eager
        )

    async def is_ready(
        self, node_id: str, *, action: Action, needs: frozenset[Capability]
    ) -> bool:
        """Readiness as docs/design.md, "Starting a node", defines it (the integration's rules)."""
        return await reached(self.channels(node_id), action, needs)

    def look(
        self, node_id: str, *, needs: frozenset[Capability]
    ) -> Callable[[], Awaitable[bool]] | None:
        """The node's look that sends no request (the integration's rules)."""
        return free_look(self.channels(node_id), needs)

    async def step_timeout(self, node_id: str, action: Action) -> float:
        """A per-node override, else the per-kind default; a guest's stop
        lasts at least Proxmox's own window (the integration's rule)."""
        configured = self.timeouts.get((node_id, action))
        if configured is None:
            configured = default_step_timeout(self.topology.node(node_id).kind, action)
        return await self._step_timeouts.resolve(
            node_id, self.channels(node_id), action, configured
        )


def guest_settings(info: Mapping[str, Any]) -> GuestSettings:
    """A simulated guest's readiness check, as a user would pick it.

    Its guest agent when it has one, else its service's TCP port.
    """
    if info.get("agent"):
        return GuestSettings(readiness=Readiness.AGENT)
    return GuestSettings(
        readiness=Readiness.TCP,
        address=info["host"],
        ports=(int(info["service"]["port"]),),
    )


def _ssh(host: str, info: Mapping[str, Any]) -> SshChannel:
    return SshChannel(
        SshConfig(
            host=host,
            port=info["port"],
            username=info["username"],
            host_key=info["host_key"],
            private_key=info["private_key"],
            timeout=5.0,
        )
    )
