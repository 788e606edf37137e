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
import logging
from typing import TYPE_CHECKING, Any, Final

from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.exceptions import ConfigEntryAuthFailed
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator

from .boot_check import async_verify_at_boot
from .channels.errors import (
    AuthenticationError,
    ChannelError,
    HostKeyMismatchError,
    TlsVerificationError,
)
from .channels.proxmox import ProxmoxHost
from .compat import async_get_node_device
from .const import (
    CONF_CA,
    CONF_FINGERPRINT,
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
from .known_children import KnownChildren, child_power
from .models import (
    MachineSnapshot,
    NodeData,
    NodeView,
    TreeNode,
    WakeHubChannels,
    WakeHubConfigEntry,
    build_tree,
)
from .overlays import NodeOverlays
from .repairs import async_update_missing_issues

if TYPE_CHECKING:
    from collections.abc import Mapping

    from .channels.base import ChildInfo, HostApi

_LOGGER = logging.getLogger(__package__)

FAST_SCAN_INTERVAL: Final = timedelta(seconds=1)
"""How often a coordinator polls while a cascade runs on its tree."""


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
        self._fast_polling = 0
        self._overlays = NodeOverlays()
        # Polls never overlap: a later one never ends before an earlier one.
        self._one_poll_at_a_time = asyncio.Lock()
        self._failing: dict[str, str] = {}
        self._known = KnownChildren(hass, entry.entry_id)
        self._verified_this_boot = False
        self._first_look = True
        self._look_again = False
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
    def async_begin_fast_polling(self) -> CALLBACK_TYPE:
        """Poll every second until the returned callback is called.

        Calls nest: polling slows down again once every caller has ended.
        """
        self._fast_polling += 1
        self._apply_interval()
        ended = False

        @callback
        def _end() -> None:
            nonlocal ended
            if ended:
                return
            ended = True
            self._fast_polling -= 1
            self._apply_interval()

        return _end

    @callback
    def _apply_interval(self) -> None:
        """Switch between the fast and the normal polling interval."""
        fast = self._fast_polling or self._look_again
        wanted = FAST_SCAN_INTERVAL if fast else self._normal_interval
        if wanted != self.update_interval:
            self.update_interval = wanted
            if self._listeners:
                self._schedule_refresh()

    # Polling --------------------------------------------------------------------

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
        quick, self._first_look = self._first_look, False
        if self._look_again:
            self._look_again = False
            self._apply_interval()
        if not await self.channels.machine.is_on(quick=quick):
            if quick:
                self._look_again = True
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
                nodes[node.id] = self._child_state(node, states, read, missing)
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
                nodes[node.id] = self._child_state(node, states, read, missing)

        await self._known.async_remember(read)
        async_update_missing_issues(self.hass, self.tree, missing)
        return MachineSnapshot(
            machine_up=True,
            nodes=nodes,
            discovered=self._known.discovered(self.hosts, self.tree),
            missing=frozenset(missing),
            failed_hosts=frozenset(self._failing),
            migrated=self._migrated(missing),
        )

    def _migrated(self, missing: set[str]) -> dict[str, str]:
        """The missing guests of this node that another cluster node now runs."""
        proxmox = self.channels.proxmox
        if proxmox is None:
            return {}
        found: dict[str, str] = {}
        for node_id in missing:
            node = self.tree[node_id]
            if (
                node.kind in (NodeKind.VM, NodeKind.LXC)
                and node.key is not None
                and (target := proxmox.elsewhere.get(node.key)) is not None
            ):
                found[node_id] = target
        return found

    def _child_state(
        self,
        node: TreeNode,
        states: Mapping[str, PowerState],
        read: Mapping[str, dict[str, ChildInfo] | None],
        missing: set[str],
    ) -> NodeData:
        """Work out one child's state from its host's state and listing."""
        assert node.parent is not None
        assert node.key is not None
        host_state = states.get(node.parent, PowerState.UNKNOWN)
        if host_state is PowerState.OFF:
            return NodeData(state=PowerState.OFF)
        children = read.get(node.parent)
        if host_state is not PowerState.ON or children is None:
            return NodeData(state=PowerState.UNKNOWN)
        if (info := children.get(node.key)) is None:
            missing.add(node.id)
            return NodeData(state=PowerState.UNKNOWN)
        return NodeData(
            state=child_power(info),
            status=info.status,
            details=dict(info.details),
        )

    async def _async_read(
        self, host_id: str, api: HostApi
    ) -> dict[str, ChildInfo] | None:
        """Read one host's children in one request; ``None`` when its API fails.

        A refused login raises ``ConfigEntryAuthFailed`` (Home Assistant then
        starts a reauthentication flow). Any other failure makes the host's
        children unavailable, and is logged once when it starts and once when
        it ends. When the machine's Docker API through SSH meets another host
        key than the pinned one, a reauthentication flow also starts: there
        the user reviews the new key and may pin it.
        """
        name = self.tree[host_id].name
        try:
            children = await api.read_states()
        except AuthenticationError as err:
            raise ConfigEntryAuthFailed(
                translation_domain=DOMAIN,
                translation_key="reauth_required",
                translation_placeholders={"node": name, "message": err.message},
            ) from err
        except ChannelError as err:
            if host_id == self.machine_id and (
                isinstance(err, HostKeyMismatchError)
                or (
                    isinstance(err, TlsVerificationError)
                    and err.certificate_refused
                    and self._pins_proxmox(api)
                )
            ):
                # A changed SSH host key, or a Proxmox certificate its pin
                # refuses: the reauthentication shows both and re-pins.
                self.config_entry.async_start_reauth(self.hass)
            if host_id not in self._failing:
                _LOGGER.warning(
                    "The API of %s is unavailable (%s): %s", name, err.code, err.message
                )
            self._failing[host_id] = err.code
            return None
        if self._failing.pop(host_id, None) is not None:
            _LOGGER.info("The API of %s is available again", name)
        return children

    def _pins_proxmox(self, api: HostApi) -> bool:
        """Whether ``api`` is the machine's Proxmox API, its CA or certificate pinned."""
        proxmox = self.config_entry.data.get(CONF_PROXMOX) or {}
        return isinstance(api, ProxmoxHost) and bool(
            proxmox.get(CONF_CA) or proxmox.get(CONF_FINGERPRINT)
        )

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
        if self._failing:
            _LOGGER.debug("%s is off; its API failures no longer matter", self.name)
            self._failing.clear()
        self.pve_version = None
        self._verified_this_boot = False
        return MachineSnapshot(
            machine_up=False,
            nodes={node_id: NodeData(state=PowerState.OFF) for node_id in self.tree},
            discovered=self._known.discovered(self.hosts, self.tree),
        )
