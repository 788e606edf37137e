"""The data the Home Assistant layer holds about each entry and node.

- :class:`TreeNode`, :func:`build_tree`: a config entry's hosting tree, as
  configured (the machine, then its managed guests and containers);
- :class:`WakeHubChannels`: the channel objects of one entry (built by
  :mod:`.entry_channels`);
- :class:`NodeData`, :class:`DiscoveredChild`, :class:`MachineSnapshot`:
  what one poll of a machine's tree found;
- :class:`NodeOverlay`: what WakeHub itself says of a node (the
  orchestrator's activity, the pending cascade, the shutdown proposal);
- :class:`NodeView`: the one view of a node that every entity reads, from
  its coordinator (:meth:`~.coordinator.WakeHubCoordinator.view`).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from homeassistant.config_entries import ConfigEntry

from .const import CONF_KIND, CONF_MAC, CONF_NAME, CONF_NODES, CONF_PARENT
from .core.ids import machine_id
from .core.model import NodeKind, PowerState
from .core.planner import Action

if TYPE_CHECKING:
    from collections.abc import Mapping
    from datetime import datetime

    from .channels import Machine
    from .channels.base import ChildInfo, HostApi
    from .channels.proxmox import ProxmoxHost
    from .coordinator import WakeHubCoordinator
    from .orchestrator import NodeActivity

VOLATILE_DETAILS: Final = frozenset(
    {"cpu", "mem", "uptime", "netin", "netout", "diskread", "diskwrite", "disk"}
)
"""Figures that change at every refresh: never persisted, never in attributes."""

type WakeHubConfigEntry = ConfigEntry[WakeHubRuntimeData]


def stable_details(details: Mapping[str, Any]) -> dict[str, Any]:
    """Drop the figures that change at every refresh."""
    return {k: v for k, v in details.items() if k not in VOLATILE_DETAILS}


@dataclass(slots=True, kw_only=True)
class WakeHubChannels:
    """The channel objects of one entry.

    ``docker`` maps the node id of every Docker host of the tree (the machine
    itself, or a managed VM/LXC) to its Docker API.
    """

    machine: Machine
    proxmox: ProxmoxHost | None = None
    docker: dict[str, HostApi] = field(default_factory=dict)

    async def async_close(self) -> None:
        """Release every connection the APIs hold."""
        apis: list[HostApi] = list(self.docker.values())
        if self.proxmox is not None:
            apis.append(self.proxmox)
        await asyncio.gather(*(api.close() for api in apis), return_exceptions=True)


@dataclass(frozen=True, slots=True, kw_only=True)
class TreeNode:
    """One managed node of the entry's hosting tree, as configured."""

    id: str
    kind: NodeKind
    name: str
    key: str | None = None
    parent: str | None = None
    settings: Mapping[str, Any] = field(default_factory=dict)


def build_tree(entry: ConfigEntry[Any]) -> dict[str, TreeNode]:
    """Return the entry's managed nodes by id, parents before children."""
    machine = machine_id(entry.data[CONF_MAC])
    nodes: dict[str, TreeNode] = {
        machine: TreeNode(id=machine, kind=NodeKind.MACHINE, name=entry.data[CONF_NAME])
    }
    children = [
        TreeNode(
            id=node_id,
            kind=NodeKind(settings[CONF_KIND]),
            name=settings.get(CONF_NAME) or str(settings["key"]),
            key=str(settings["key"]),
            parent=str(settings[CONF_PARENT]),
            settings=settings,
        )
        for node_id, settings in entry.options.get(CONF_NODES, {}).items()
    ]
    # A guest's containers come after the guests: only a guest's id holds a
    # "/" (a machine's is its MAC).
    for node in sorted(
        children, key=lambda node: ("/" in (node.parent or ""), node.id)
    ):
        nodes[node.id] = node
    return nodes


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeData:
    """What the last refresh knows about one managed node."""

    state: PowerState
    status: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class DiscoveredChild:
    """A child an API reports (or reported) that the user does not manage."""

    node_id: str
    host_id: str
    info: ChildInfo

    def as_attribute(self) -> dict[str, Any]:
        """Return the stable facts about this child, for state attributes."""
        return {
            "node_id": self.node_id,
            "name": self.info.name,
            "kind": str(self.info.kind),
            "key": self.info.key,
            **stable_details(self.info.details),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class MachineSnapshot:
    """What one refresh fetched for a whole tree."""

    machine_up: bool
    nodes: Mapping[str, NodeData]
    discovered: Mapping[str, tuple[DiscoveredChild, ...]]
    missing: frozenset[str] = frozenset()
    failed_hosts: frozenset[str] = frozenset()
    migrated: Mapping[str, str] = field(default_factory=dict)
    """Missing guests the cluster now runs on another node: node id -> node name."""


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeOverlay:
    """What WakeHub itself says of a node, beside what the poll found.

    ``activity`` is the orchestrator's (starting, stopping, or the error of a
    failed step) with ``step``, the current step as a code and placeholders
    (``number``, ``total``, ``detail``, ``placeholders``: see
    :class:`~.orchestrator.StepDetail`); ``pending`` the
    action of a queued or running cascade that targets the node;
    ``proposal_id`` and ``proposal_expires_at`` the pending shutdown
    proposal about it.
    """

    activity: NodeActivity | None = None
    step: Mapping[str, Any] | None = None
    pending: Action | None = None
    proposal_id: str | None = None
    proposal_expires_at: datetime | None = None
    reached: PowerState | None = None
    """The state a finished step left the node in (on after a start), shown
    until a poll that began after the step says how the node is: the poll
    from before the step would show the node going back (docs/design.md)."""
    reached_poll: int = 0
    """How many polls had begun when ``reached`` was set."""


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeView:
    """One node as its entities show it: the last poll plus WakeHub's overlay.

    ``state`` is the orchestrator's activity while there is one, else the
    state a finished step left the node in (until a newer poll), else the
    polled state, else ``UNKNOWN`` (no poll yet, or the node left the tree).
    A node off that a queued or running start targets is ``STARTING`` (on
    that a stop targets, ``STOPPING``): the recorded states follow the
    cascade without going back.
    """

    polled: NodeData | None
    overlay: NodeOverlay

    @property
    def state(self) -> PowerState:
        """The state to show: the activity's, else the polled one."""
        overlay = self.overlay
        if overlay.activity is not None:
            return overlay.activity.state
        if overlay.reached is not None:
            return overlay.reached
        if self.polled is None:
            return PowerState.UNKNOWN
        polled = self.polled.state
        if overlay.pending is Action.START and polled is PowerState.OFF:
            return PowerState.STARTING
        if overlay.pending is Action.STOP and polled is PowerState.ON:
            return PowerState.STOPPING
        return polled


@dataclass(slots=True, kw_only=True)
class WakeHubRuntimeData:
    """What a loaded entry keeps in ``entry.runtime_data``."""

    coordinator: WakeHubCoordinator
    channels: WakeHubChannels
