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
off at start-up still shows its children.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import timedelta
import logging
from typing import TYPE_CHECKING, Any, Final

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.exceptions import ConfigEntryAuthFailed
from homeassistant.helpers import device_registry as dr, issue_registry as ir
from homeassistant.helpers.storage import Store
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator

from .channels import Machine, SshChannel, fetch_host_key
from .channels.base import ChildInfo, ChildKind, HostApi
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
    CONF_HOST,
    CONF_HOST_KEY,
    CONF_KIND,
    CONF_MAC,
    CONF_NAME,
    CONF_NODES,
    CONF_PARENT,
    CONF_PORT,
    CONF_PROXMOX,
    CONF_SCAN_INTERVAL,
    CONF_SSH,
    CONF_VERIFY_AT_BOOT,
    DEFAULT_SCAN_INTERVAL,
    DEFAULT_SSH_PORT,
    DOMAIN,
)
from .core.ids import machine_id
from .core.model import NodeKind, PowerState
from .models import child_node_id, ssh_config

if TYPE_CHECKING:
    from collections.abc import Mapping

_LOGGER = logging.getLogger(__package__)

FAST_SCAN_INTERVAL: Final = timedelta(seconds=1)
"""How often a coordinator polls while a cascade runs on its tree."""

STORAGE_VERSION: Final = 1

_VOLATILE_DETAILS: Final = frozenset(
    {"cpu", "mem", "uptime", "netin", "netout", "diskread", "diskwrite", "disk"}
)
"""Figures that change at every refresh: never persisted, never in attributes."""

type WakeHubConfigEntry = ConfigEntry[WakeHubRuntimeData]


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


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeActivity:
    """A transient state that the orchestrator overlays on a polled one."""

    state: PowerState
    step: str | None = None
    error_code: str | None = None
    error_message: str | None = None


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
            **_stable_details(self.info.details),
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


@dataclass(slots=True, kw_only=True)
class WakeHubRuntimeData:
    """What a loaded entry keeps in ``entry.runtime_data``."""

    coordinator: WakeHubCoordinator
    channels: WakeHubChannels


def _stable_details(details: Mapping[str, Any]) -> dict[str, Any]:
    """Drop the figures that change at every refresh."""
    return {k: v for k, v in details.items() if k not in _VOLATILE_DETAILS}


def _child_power(info: ChildInfo) -> PowerState:
    """A child's polled power state.

    A Proxmox guest is off only when Proxmox says ``stopped``: ``unknown``
    (``pvestatd`` has not published it yet, just after the node booted) and
    QEMU's other words (``paused``, ``suspended``, ``inmigrate``...) are not
    off, and a start must not skip a paused VM as if it were on. A start or
    a stop then reads the guest's live status before acting.
    """
    if info.running:
        return PowerState.ON
    if info.kind is ChildKind.CONTAINER or info.status == "stopped":
        return PowerState.OFF
    return PowerState.UNKNOWN


def _child_to_json(info: ChildInfo) -> dict[str, Any]:
    """Serialise a child for the store (without the volatile figures)."""
    return {
        "key": info.key,
        "kind": str(info.kind),
        "name": info.name,
        "details": _stable_details(info.details),
    }


def _child_from_json(raw: Mapping[str, Any]) -> ChildInfo:
    """Rebuild a persisted child; it is shown ``off`` until its host answers."""
    return ChildInfo(
        key=str(raw["key"]),
        kind=ChildKind(raw["kind"]),
        name=str(raw["name"]),
        running=False,
        status="unknown",
        details=dict(raw.get("details", {})),
    )


def _store(hass: HomeAssistant, entry_id: str) -> Store[dict[str, Any]]:
    """The store of an entry's last known tree."""
    return Store(hass, STORAGE_VERSION, f"{DOMAIN}.{entry_id}")


async def async_remove_persisted_tree(hass: HomeAssistant, entry_id: str) -> None:
    """Forget the persisted tree of an entry that is being removed."""
    await _store(hass, entry_id).async_remove()


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
        self._activities: dict[str, NodeActivity] = {}
        self._failing: dict[str, str] = {}
        self._known: dict[str, dict[str, ChildInfo]] = {}
        self._store = _store(hass, entry.entry_id)
        self._stored: dict[str, Any] | None = None
        self._verified_this_boot = False
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
        stored = await self._store.async_load()
        if stored:
            self._stored = stored
            self._known = {
                host: {raw["key"]: _child_from_json(raw) for raw in children}
                for host, children in stored.get("children", {}).items()
            }

    # The orchestrator's hooks -------------------------------------------------

    def node_state(self, node_id: str) -> PowerState:
        """Return a node's state: a running cascade's overlay, else the polled one."""
        if (activity := self._activities.get(node_id)) is not None:
            return activity.state
        if self.data is None or (node := self.data.nodes.get(node_id)) is None:
            return PowerState.UNKNOWN
        return node.state

    def activity(self, node_id: str) -> NodeActivity | None:
        """Return the transient state a cascade set on a node, if any."""
        return self._activities.get(node_id)

    @callback
    def set_activity(self, node_id: str, activity: NodeActivity) -> None:
        """Overlay a transient state (starting, stopping, error) on a node."""
        self._activities[node_id] = activity
        self.async_update_listeners()

    @callback
    def clear_activity(self, node_id: str) -> None:
        """Drop a node's transient state: its polled state shows again."""
        if self._activities.pop(node_id, None) is not None:
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
        wanted = FAST_SCAN_INTERVAL if self._fast_polling else self._normal_interval
        if wanted != self.update_interval:
            self.update_interval = wanted
            if self._listeners:
                self._schedule_refresh()

    # Polling --------------------------------------------------------------------

    async def _async_update_data(self) -> MachineSnapshot:
        """Probe the machine, then read each host that is up, once."""
        if not await self.channels.machine.is_on():
            return self._snapshot_machine_off()

        await self._async_verify_at_boot()
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

        await self._async_remember(read)
        self._update_missing_issues(missing)
        return MachineSnapshot(
            machine_up=True,
            nodes=nodes,
            discovered=self._discovered(),
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
            state=_child_power(info),
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

    @property
    def ssh_issue_id(self) -> str:
        """The repair issue raised when the credentials fail at the first boot."""
        return f"ssh_failed_at_boot_{self.config_entry.entry_id}"

    async def _async_verify_at_boot(self) -> None:
        """Pin the host key and test the SSH login of an entry saved untested.

        An entry saved while its machine was off carries ``verify_at_boot``
        and no host key. At the first refresh that finds the machine up, its
        SSH host key is trusted on first use and the login is tested once:
        on success the key is pinned in the entry and the marker dropped; on
        failure a repair issue points at reauthentication, and the test runs
        again at the next boot or after the entry reloads (reauth reloads it).
        """
        entry = self.config_entry
        if not entry.data.get(CONF_VERIFY_AT_BOOT) or self._verified_this_boot:
            return
        self._verified_this_boot = True
        host: str = entry.data[CONF_HOST]
        ssh = dict(entry.data[CONF_SSH])
        try:
            key = await fetch_host_key(host, int(ssh.get(CONF_PORT, DEFAULT_SSH_PORT)))
            ssh[CONF_HOST_KEY] = key.public_key
            config = ssh_config(host, ssh)
            assert config is not None  # the host key was just set
            channel = SshChannel(config)
            await channel.check()
        except ChannelError as err:
            _LOGGER.warning(
                "The SSH credentials of %s failed at its first boot (%s): %s",
                entry.title,
                err.code,
                err.message,
            )
            ir.async_create_issue(
                self.hass,
                DOMAIN,
                self.ssh_issue_id,
                is_fixable=False,
                severity=ir.IssueSeverity.ERROR,
                translation_key="ssh_failed_at_boot",
                translation_placeholders={"name": entry.title, "message": err.message},
            )
            entry.async_start_reauth(self.hass)
            return
        _LOGGER.info(
            "Pinned the SSH host key of %s (%s) at its first boot",
            entry.title,
            key.fingerprint,
        )
        ir.async_delete_issue(self.hass, DOMAIN, self.ssh_issue_id)
        data = {k: v for k, v in entry.data.items() if k != CONF_VERIFY_AT_BOOT}
        self.hass.config_entries.async_update_entry(entry, data={**data, CONF_SSH: ssh})
        self.channels.machine.ssh = channel

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
            discovered=self._discovered(),
        )

    def _discovered(self) -> dict[str, tuple[DiscoveredChild, ...]]:
        """The known children of each host that the user does not manage."""
        discovered: dict[str, tuple[DiscoveredChild, ...]] = {}
        for host in self.hosts:
            found = []
            for info in self._known.get(host, {}).values():
                node_id = child_node_id(host, info)
                if node_id not in self.tree:
                    found.append(
                        DiscoveredChild(node_id=node_id, host_id=host, info=info)
                    )
            discovered[host] = tuple(sorted(found, key=lambda c: c.info.name.lower()))
        return discovered

    async def _async_remember(
        self, read: Mapping[str, dict[str, ChildInfo] | None]
    ) -> None:
        """Keep the children each answering host listed, and persist changes."""
        for host, children in read.items():
            if children is not None:
                self._known[host] = dict(children)
        stored = {
            "children": {
                host: [_child_to_json(info) for info in children.values()]
                for host, children in sorted(self._known.items())
            }
        }
        if stored != self._stored:
            self._stored = stored
            await self._store.async_save(stored)

    @callback
    def _update_missing_issues(self, missing: set[str]) -> None:
        """Raise a repair issue per managed node its answering host lost."""
        for node in self.tree.values():
            issue_id = f"node_missing_{node.id}"
            if node.id not in missing:
                ir.async_delete_issue(self.hass, DOMAIN, issue_id)
                continue
            assert node.parent is not None
            ir.async_create_issue(
                self.hass,
                DOMAIN,
                issue_id,
                is_fixable=False,
                severity=ir.IssueSeverity.WARNING,
                translation_key="node_missing",
                translation_placeholders={
                    "node": node.name,
                    "host": self.tree[node.parent].name,
                    "key": node.key or "",
                },
            )
