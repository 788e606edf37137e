"""The WakeHub coordinator: one per config entry (one physical machine).

One refresh costs O(hosts), never O(children):

1. probe the machine (TCP connects to its probe ports and to the APIs it
   serves, at once: it is off only when none of them accepts);
2. when it is up and runs Proxmox VE, read every guest in ONE request;
3. for every Docker host of the tree that is up (the machine itself, and each
   managed VM/LXC that runs Docker and is running), read every container in
   ONE request.

When the machine is down every node of its tree is ``off`` and no API request
is made at all. A node is ``unknown`` (its entities unavailable) when its
host is up but the host's API fails, and a Proxmox guest also while Proxmox
reports it neither running nor stopped (``unknown`` just after the node
booted, ``paused``, ``suspended``, migrating...).

The same refreshes discover the children that the APIs report but the user does
not manage yet, and the last known tree is persisted so that a machine that is
off at start-up still shows its children (:mod:`.known_children`).

The coordinator is the one owner of each node's view (:meth:`WakeHubCoordinator.view`):
the last poll plus what WakeHub says of the node, which the hub pushes
(:meth:`WakeHubCoordinator.async_set_overlay`).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from enum import Enum, auto
import logging
from typing import TYPE_CHECKING, Any, Final

from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator

from .boot_check import async_verify_at_boot
from .channels.errors import ChannelError
from .compat import async_get_node_device
from .const import (
    CONF_MAC,
    CONF_NAME,
    CONF_PROXMOX,
    CONF_SCAN_INTERVAL,
    CONF_VERIFY_AT_BOOT,
    DEFAULT_SCAN_INTERVAL,
    DOMAIN,
)
from .core.ids import machine_id
from .core.model import NodeKind, PowerState
from .host_reads import HostReads, child_state, migrated
from .known_children import KnownChildren
from .models import (
    MachineSnapshot,
    NodeData,
    NodeView,
    WakeHubChannels,
    WakeHubConfigEntry,
    build_tree,
)
from .overlays import NodeOverlays
from .repairs import async_update_missing_issues

if TYPE_CHECKING:
    from .channels.base import ChildInfo, HostApi

_LOGGER = logging.getLogger(__package__)

FAST_SCAN_INTERVAL: Final = timedelta(seconds=1)
"""How soon a coordinator looks again at a machine its first, quick look
found silent."""


class Look(Enum):
    """How the next poll looks at the machine (docs/design.md)."""

    QUICK = auto()
    """The first poll, during set-up: a quick look, so an off machine never
    delays its entry's set-up."""
    AGAIN = auto()
    """The quick look found the machine silent: a full probe, a second later."""
    FULL = auto()
    """Every other poll: a full probe, at the normal interval."""


class WakeHubCoordinator(DataUpdateCoordinator[MachineSnapshot]):
    """Poll one machine's tree and keep the last known one."""

    config_entry: WakeHubConfigEntry

    def __init__(
        self,
        hass: HomeAssistant,
        entry: WakeHubConfigEntry,
        channels: WakeHubChannels,
    ) -> None:
        """Set up the coordinator for ``entry`` with its channel objects."""
        self.channels = channels
        self.options = entry.options
        """The options this coordinator was built from (a change reloads)."""
        self.machine_id = machine_id(entry.data[CONF_MAC])
        self.tree = build_tree(entry)
        self.has_proxmox = entry.data.get(CONF_PROXMOX) is not None
        self.docker_hosts = frozenset(channels.docker)
        self.pve_version: str | None = None
        self._normal_interval = timedelta(
            seconds=entry.options.get(
                CONF_SCAN_INTERVAL, DEFAULT_SCAN_INTERVAL.total_seconds()
            )
        )
        self._overlays = NodeOverlays()
        # Polls never overlap: a later one never ends before an earlier one.
        self._one_poll_at_a_time = asyncio.Lock()
        self._reads = HostReads(hass, entry, self.machine_id)
        self._known = KnownChildren(hass, entry.entry_id)
        self._verified_this_boot = False
        self._look = Look.QUICK
        self._quick_if_off = False
        super().__init__(
            hass,
            _LOGGER,
            config_entry=entry,
            name=f"{DOMAIN} {entry.data[CONF_NAME]}",
            update_interval=self._normal_interval,
        )

    @property
    def hosts(self) -> tuple[str, ...]:
        """The node ids of every host of the tree (Proxmox or Docker)."""
        hosts = [self.machine_id] if self.has_proxmox else []
        hosts.extend(h for h in self.tree if h in self.docker_hosts and h not in hosts)
        return tuple(hosts)

    async def _async_setup(self) -> None:
        """Load the last known tree before the first refresh."""
        await self._known.async_load()

    # The node views ---------------------------------------------------------------

    def view(self, node_id: str) -> NodeView:
        """The node as its entities show it: the last poll plus WakeHub's overlay."""
        polled = self.data.nodes.get(node_id) if self.data is not None else None
        return NodeView(polled=polled, overlay=self._overlays.get(node_id))

    def node_state(self, node_id: str) -> PowerState:
        """A node's state: the orchestrator's activity, else the polled one."""
        return self.view(node_id).state

    @callback
    def async_set_overlay(self, node_id: str, **changes: Any) -> None:
        """Change what WakeHub says of a node (see :class:`~.models.NodeOverlay`).

        The hub and the cascade reporter push each change here; the entities
        update at once when the node's view changed.
        """
        if self._overlays.change(node_id, **changes):
            self.async_update_listeners()

    @callback
    def _apply_interval(self) -> None:
        """Switch between the fast and the normal polling interval."""
        wanted = (
            FAST_SCAN_INTERVAL if self._look is Look.AGAIN else self._normal_interval
        )
        if wanted != self.update_interval:
            self.update_interval = wanted
            if self._listeners:
                self._schedule_refresh()

    # Polling --------------------------------------------------------------------

    async def async_refresh_for_plan(self) -> None:
        """Refresh before a cascade plans: a machine that was off and is still
        silent at a quick look is off, without waiting the whole probe
        timeout for that silence (docs/design.md, "Readiness").

        A machine that was on still gets the full probe: a busy machine may
        be slow to answer, and a stop must not be planned without it.
        """
        self._quick_if_off = True
        await self.async_refresh()

    async def _async_update_data(self) -> MachineSnapshot:
        """Poll; the states finished steps reached give way to it.

        Only a poll that began after a step finished replaces the state the
        step reached: one already under way may have read the node before.
        """
        async with self._one_poll_at_a_time:
            begun = self._overlays.begin_poll()
            snapshot = await self._async_poll()
        self._overlays.poll_ended(begun)
        return snapshot

    async def _async_poll(self) -> MachineSnapshot:
        """Probe the machine, then read each host that is up, once.

        The first poll, during set-up, only takes a quick look: a machine that
        is off must not delay its entry's set-up (docs/design.md). When that
        look finds it silent, the next poll, a full probe, follows a second
        later (the fast interval), then the normal interval again.
        """
        look, self._look = self._look, Look.FULL
        if look is Look.AGAIN:
            self._apply_interval()
        was_off = self.data is not None and not self.data.machine_up
        quick = look is Look.QUICK or (self._quick_if_off and was_off)
        self._quick_if_off = False
        if not await self.channels.machine.is_on(quick=quick):
            if look is Look.QUICK:
                self._look = Look.AGAIN
                self._apply_interval()
            return self._snapshot_machine_off()

        if self.config_entry.data.get(CONF_VERIFY_AT_BOOT) and (
            not self._verified_this_boot
        ):
            self._verified_this_boot = True
            await async_verify_at_boot(self.hass, self.config_entry, self.channels)
        await self._async_fetch_version()
        states: dict[str, PowerState] = {self.machine_id: PowerState.ON}
        read: dict[str, dict[str, ChildInfo] | None] = {}
        if self.channels.proxmox is not None:
            read[self.machine_id] = await self._async_read(
                self.machine_id, self.channels.proxmox
            )
        missing: set[str] = set()
        nodes: dict[str, NodeData] = {}
        # Guests first: the Docker hosts among them are read only when running.
        for node in self.tree.values():
            if node.kind in (NodeKind.VM, NodeKind.LXC):
                nodes[node.id] = child_state(node, states, read, missing)
                states[node.id] = nodes[node.id].state
        docker_up = [
            host
            for host in self.docker_hosts
            if states.get(host) is PowerState.ON and host not in read
        ]
        results = await asyncio.gather(
            *(self._async_read(host, self.channels.docker[host]) for host in docker_up)
        )
        read.update(zip(docker_up, results, strict=True))
        for node in self.tree.values():
            if node.kind is NodeKind.MACHINE:
                nodes[node.id] = NodeData(state=PowerState.ON)
            elif node.kind is NodeKind.CONTAINER:
                nodes[node.id] = child_state(node, states, read, missing)

        await self._known.async_remember(read)
        async_update_missing_issues(self.hass, self.tree, missing)
        return MachineSnapshot(
            machine_up=True,
            nodes=nodes,
            discovered=self._known.discovered(self.hosts, self.tree),
            missing=frozenset(missing),
            failed_hosts=frozenset(self._reads.failing),
            migrated=migrated(self.tree, self.channels.proxmox, missing),
        )

    async def _async_read(
        self, host_id: str, api: HostApi
    ) -> dict[str, ChildInfo] | None:
        """Read one host's children (see :meth:`.HostReads.async_read`)."""
        return await self._reads.async_read(host_id, self.tree[host_id].name, api)

    async def _async_fetch_version(self) -> None:
        """Read the Proxmox VE version once per boot of the machine."""
        proxmox = self.channels.proxmox
        if self.pve_version is not None or proxmox is None:
            return
        try:
            version = await proxmox.version()
        except ChannelError:
            return  # The guest listing that follows reports the failure.
        self.pve_version = str(version.get("version") or "") or None
        if device := async_get_node_device(
            self.hass, self.config_entry.entry_id, self.machine_id
        ):
            dr.async_get(self.hass).async_update_device(
                device.id, sw_version=self.pve_version
            )

    def _snapshot_machine_off(self) -> MachineSnapshot:
        """Every node of a machine that is off is off: no API is asked."""
        self._reads.machine_off(self.name)
        self.pve_version = None
        self._verified_this_boot = False
        return MachineSnapshot(
            machine_up=False,
            nodes={node_id: NodeData(state=PowerState.OFF) for node_id in self.tree},
            discovered=self._known.discovered(self.hosts, self.tree),
        )
