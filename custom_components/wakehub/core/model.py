"""The vocabulary of the topology: node kinds, capabilities, states, channels.

A :class:`Node` is an immutable value. Where it sits (its parent) and what it
depends on are validated by :class:`~.topology.Topology`; what a node can be on
its own (which capabilities its kind may carry, how a machine is shut down) is
validated here, when it is created.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from .errors import InvalidNodeError


class NodeKind(StrEnum):
    """What a node is."""

    MACHINE = "machine"
    VM = "vm"
    LXC = "lxc"
    CONTAINER = "container"


class Capability(StrEnum):
    """An API a node offers to power the nodes it hosts."""

    PROXMOX = "proxmox"
    DOCKER = "docker"


class PowerState(StrEnum):
    """The power state of a node, as polled or as a cascade sets it."""

    ON = "on"
    OFF = "off"
    STARTING = "starting"
    STOPPING = "stopping"
    ERROR = "error"
    UNKNOWN = "unknown"


class Channel(StrEnum):
    """How a node is powered on or off."""

    WOL = "wol"
    SSH = "ssh"
    PROXMOX = "proxmox"
    DOCKER = "docker"


ALLOWED_CAPABILITIES: Final[dict[NodeKind, frozenset[Capability]]] = {
    NodeKind.MACHINE: frozenset(Capability),
    NodeKind.VM: frozenset({Capability.DOCKER}),
    NodeKind.LXC: frozenset({Capability.DOCKER}),
    NodeKind.CONTAINER: frozenset(),
}
"""Which capabilities each kind may carry (docs/design.md, "Nodes")."""


def is_active(state: PowerState | None) -> bool:
    """Return whether ``state`` counts as active.

    Anything but OFF is active: a node in error or of unknown state counts as
    active, to be safe. ``None`` (no state known at all) means OFF.
    """
    return state is not None and state != PowerState.OFF


@dataclass(frozen=True, slots=True, kw_only=True)
class Node:
    """One node of the homelab.

    ``confirm_shutdown`` is the "confirm before automatic shutdown" setting;
    ``None`` means the kind's default (see :attr:`needs_confirmation`).
    ``shutdown_channel`` only applies to machines: SSH, or PROXMOX for the
    Proxmox node-shutdown API (which requires the ``proxmox`` capability).
    """

    id: str
    kind: NodeKind
    name: str
    parent: str | None = None
    capabilities: frozenset[Capability] = frozenset()
    confirm_shutdown: bool | None = None
    shutdown_channel: Channel = Channel.SSH

    def __post_init__(self) -> None:
        """Refuse settings that the node's kind does not allow."""
        if not self.id:
            raise InvalidNodeError(
                f"Node {self.name!r} has an empty id",
                code="empty_node_id",
                placeholders={"node": self.name},
            )
        extra = self.capabilities - ALLOWED_CAPABILITIES[self.kind]
        if extra:
            listed = ", ".join(sorted(extra))
            raise InvalidNodeError(
                f"{self.name} is a {self.kind} and cannot carry {listed}",
                code="capability_not_allowed",
                placeholders={
                    "node": self.name,
                    "kind": str(self.kind),
                    "capability": listed,
                },
            )
        if self.shutdown_channel is Channel.SSH:
            return
        if not (
            self.kind is NodeKind.MACHINE
            and self.shutdown_channel is Channel.PROXMOX
            and Capability.PROXMOX in self.capabilities
        ):
            raise InvalidNodeError(
                f"{self.name} ({self.kind}) cannot be shut down through"
                f" {self.shutdown_channel}: only a machine can choose, between"
                " SSH and the Proxmox node API (which needs the proxmox"
                " capability)",
                code="invalid_shutdown_channel",
                placeholders={
                    "node": self.name,
                    "kind": str(self.kind),
                    "channel": str(self.shutdown_channel),
                },
            )

    @property
    def needs_confirmation(self) -> bool:
        """Whether a re-evaluation must ask before shutting this node down.

        The per-node setting wins; by default machines ask and guests do not.
        """
        if self.confirm_shutdown is not None:
            return self.confirm_shutdown
        return self.kind is NodeKind.MACHINE

    @property
    def start_channel(self) -> Channel:
        """The channel that starts this node, deduced from its kind.

        The topology guarantees that a VM or LXC runs on a Proxmox host and a
        container on a Docker host, so the kind settles the parent's API.
        """
        return _START_CHANNEL[self.kind]

    @property
    def stop_channel(self) -> Channel:
        """The channel that stops this node."""
        if self.kind is NodeKind.MACHINE:
            return self.shutdown_channel
        return _START_CHANNEL[self.kind]


_START_CHANNEL: Final[dict[NodeKind, Channel]] = {
    NodeKind.MACHINE: Channel.WOL,
    NodeKind.VM: Channel.PROXMOX,
    NodeKind.LXC: Channel.PROXMOX,
    NodeKind.CONTAINER: Channel.DOCKER,
}
