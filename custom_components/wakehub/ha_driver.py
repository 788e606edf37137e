"""The Home Assistant :class:`NodeDriver`: the orchestrator's hands.

It powers nodes through the channels of the loaded config entries and reads
their states from the entries' coordinators:

- ``execute`` and ``is_ready``: find the node's channels in its entry (the
  entry's ``Machine``, its Proxmox API, its hosts' Docker APIs) and apply the
  shared rules of :mod:`.orchestrator.power`: Wake-on-LAN or SSH shutdown for
  a machine, its host's API and its key (vmid or container name) for a guest
  or a container; readiness from one probe or one API read, plus the APIs
  of this node that later steps go through;
- ``states``: the coordinators' *polled* states, refreshed first when the
  last refresh is older than :data:`STATES_MAX_AGE` (a plan or a skip decision
  must not rest on a 30-second-old poll);
- ``step_timeout``: the node's ``start_timeout``/``stop_timeout`` option,
  else the per-kind default the options flow shows; a guest's stop lasts at
  least Proxmox's own shutdown window plus a margin;
- a guest's readiness check and shutdown settings come from its options
  (:func:`guest_settings`);
- ``refresh``: a refresh of a coordinator in the background (the hub asks
  for one of every tree a cascade touched, when it ends), which a plan made
  meanwhile waits for. A step's reached state is pushed to the entities by
  the hub as the step ends; no refresh is needed for it.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit

from .channels.errors import InvalidConfigError
from .const import (
    CONF_FORCE_STOP,
    CONF_MACHINE,
    CONF_READINESS,
    CONF_READINESS_PORTS,
    CONF_SETTLE_TIME,
    CONF_SHUTDOWN_TIMEOUT,
    CONF_START_TIMEOUT,
    CONF_STOP_TIMEOUT,
    CONF_URL,
    DEFAULT_START_TIMEOUTS,
    DEFAULT_STOP_TIMEOUTS,
)
from .core.model import Capability, NodeKind, PowerState
from .core.planner import Action, Step
from .orchestrator.power import (
    DEFAULT_SETTLE,
    GuestSettings,
    NodeChannels,
    Readiness,
    Sent,
    StepTimeouts,
    free_look,
    reached,
)

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Mapping

    from .channels.base import HostApi
    from .coordinator import WakeHubCoordinator
    from .models import TreeNode

STATES_MAX_AGE: Final = 1.0
"""Seconds after which ``states()`` refreshes a coordinator before answering."""


def url_port(url: str | None) -> tuple[str | None, int | None]:
    """The host and the port of a service URL (the scheme's default port)."""
    if not url:
        return None, None
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None, None
    if port is None:
        port = {"http": 80, "https": 443}.get(parts.scheme)
    return parts.hostname, port


def guest_settings(settings: Mapping[str, Any]) -> GuestSettings:
    """A VM's or an LXC's readiness check and shutdown settings, from its options.

    Without a readiness setting of its own (a node configured before it
    existed), the service URL's port is checked when there is a URL, else
    ``running`` for the settle time.
    """
    host, port = url_port(settings.get(CONF_URL))
    readiness = settings.get(CONF_READINESS)
    ports = tuple(int(p) for p in settings.get(CONF_READINESS_PORTS) or ())
    if readiness is None:
        readiness = Readiness.TCP if port is not None else Readiness.RUNNING
        ports = (port,) if port is not None else ()
    shutdown_timeout = settings.get(CONF_SHUTDOWN_TIMEOUT)
    settle = settings.get(CONF_SETTLE_TIME)
    return GuestSettings(
        readiness=Readiness(readiness),
        address=host,
        ports=ports,
        settle=float(settle) if settle else DEFAULT_SETTLE,
        shutdown_timeout=int(shutdown_timeout) if shutdown_timeout else None,
        force_stop=bool(settings.get(CONF_FORCE_STOP)),
    )


class HaNodeDriver:
    """Powers the nodes of every loaded entry; see the module docstring.

    ``coordinators`` returns the coordinator of every loaded entry, by node
    id of each node of its tree; the hub owns that mapping and keeps it up to
    date as entries load and unload.
    """

    def __init__(
        self,
        coordinators: Callable[[], Mapping[str, WakeHubCoordinator]],
        background: Callable[[WakeHubCoordinator], asyncio.Task[None] | None],
    ) -> None:
        """Use ``coordinators`` for lookups, ``background`` to schedule refreshes.

        ``background`` returns the refresh's task (``None`` when the entry is
        not loaded): :meth:`states` waits for a refresh in flight rather than
        answering from the poll it is replacing.
        """
        self._coordinators = coordinators
        self._background = background
        self._refreshed: dict[int, float] = {}
        self._inflight: dict[int, asyncio.Task[None]] = {}
        self._step_timeouts = StepTimeouts()

    # -- lookups ------------------------------------------------------------------

    def _coordinator(self, node_id: str) -> WakeHubCoordinator:
        coordinator = self._coordinators().get(node_id)
        if coordinator is None:
            raise InvalidConfigError(f"{node_id} is not a node of a loaded entry")
        return coordinator

    def _tree_node(self, node_id: str) -> tuple[WakeHubCoordinator, TreeNode]:
        coordinator = self._coordinator(node_id)
        return coordinator, coordinator.tree[node_id]

    @staticmethod
    def _channels(coordinator: WakeHubCoordinator, node: TreeNode) -> NodeChannels:
        """Where ``node``'s channels are in its entry (see :mod:`.orchestrator.power`).

        A machine is its entry's; a guest goes through the entry's Proxmox
        API, a container through its host's Docker API.
        """
        channels = coordinator.channels
        host: HostApi | None = None
        if node.kind is NodeKind.CONTAINER:
            assert node.parent is not None
            host = channels.docker.get(node.parent)
        elif node.kind is not NodeKind.MACHINE:
            host = channels.proxmox
        return NodeChannels(
            name=node.name,
            kind=node.kind,
            machine=channels.machine if node.kind is NodeKind.MACHINE else None,
            host=host,
            key=node.key,
            proxmox=channels.proxmox if node.kind is NodeKind.MACHINE else None,
            docker=channels.docker.get(node.id),
            guest=guest_settings(node.settings)
            if node.kind in (NodeKind.VM, NodeKind.LXC)
            else GuestSettings(),
        )

    def mark_refreshed(self, coordinator: WakeHubCoordinator) -> None:
        """Record that ``coordinator`` just refreshed."""
        self._refreshed[id(coordinator)] = time.monotonic()

    def _age(self, coordinator: WakeHubCoordinator) -> float:
        last = self._refreshed.get(id(coordinator))
        return float("inf") if last is None else time.monotonic() - last

    # -- NodeDriver ------------------------------------------------------------

    async def states(self) -> Mapping[str, PowerState]:
        """The polled state of every node, from recent enough polls."""
        coordinators = self._entry_coordinators()
        if inflight := [
            task
            for key, task in self._inflight.items()
            if key in coordinators and not task.done()
        ]:
            # A refresh requested by the cascade is under way: its answer,
            # not the poll it replaces, is what a plan or a skip must see.
            await asyncio.wait(inflight)
        stale = [c for c in coordinators.values() if self._age(c) > STATES_MAX_AGE]
        if stale:
            await asyncio.gather(*(c.async_refresh_for_plan() for c in stale))
            for coordinator in stale:
                self.mark_refreshed(coordinator)
        return self.known_states()

    def _entry_coordinators(self) -> dict[int, WakeHubCoordinator]:
        """Each loaded entry's coordinator once (``_coordinators`` maps every
        node to its entry's), by ``id``."""
        return {id(c): c for c in self._coordinators().values()}

    def known_states(self) -> Mapping[str, PowerState]:
        """The state of every node, as the last polls found it."""
        states: dict[str, PowerState] = {}
        for coordinator in self._entry_coordinators().values():
            data = coordinator.data
            for node_id in coordinator.tree:
                node = data.nodes.get(node_id) if data is not None else None
                states[node_id] = node.state if node is not None else PowerState.UNKNOWN
        return states

    async def execute(self, step: Step, *, eager: bool = False) -> Sent:
        """Send the step's command through the node's channel, unless the
        node's live state already is the step's goal."""
        coordinator, node = self._tree_node(step.node)
        return await self._step_timeouts.send(
            step, self._channels(coordinator, node), self.step_timeout, eager=eager
        )

    async def is_ready(
        self, node_id: str, *, action: Action, needs: frozenset[Capability]
    ) -> bool:
        """Whether the node reached the step's goal.

        The rules: docs/design.md, "Starting a node".
        """
        coordinator, node = self._tree_node(node_id)
        return await reached(self._channels(coordinator, node), action, needs)

    def look(
        self, node_id: str, *, needs: frozenset[Capability]
    ) -> Callable[[], Awaitable[bool]] | None:
        """The node's look that sends no request (:func:`.orchestrator.power.free_look`)."""
        coordinator, node = self._tree_node(node_id)
        return free_look(self._channels(coordinator, node), needs)

    async def step_timeout(self, node_id: str, action: Action) -> float:
        """The node's own timeout setting, else the per-kind default.

        A guest's stop lasts at least Proxmox's own shutdown window plus a
        margin (one ``GET .../config`` when Proxmox's own timeout applies).
        """
        coordinator, node = self._tree_node(node_id)
        configured = self._configured_timeout(coordinator, node, action)
        return await self._step_timeouts.resolve(
            node_id, self._channels(coordinator, node), action, configured
        )

    @staticmethod
    def _configured_timeout(
        coordinator: WakeHubCoordinator, node: TreeNode, action: Action
    ) -> float:
        key = CONF_START_TIMEOUT if action is Action.START else CONF_STOP_TIMEOUT
        if node.kind is NodeKind.MACHINE:
            settings = coordinator.config_entry.options.get(CONF_MACHINE) or {}
        else:
            settings = node.settings
        if value := settings.get(key):
            return float(value)
        defaults = (
            DEFAULT_START_TIMEOUTS if action is Action.START else DEFAULT_STOP_TIMEOUTS
        )
        return float(defaults[str(node.kind)])

    def refresh(self, coordinator: WakeHubCoordinator) -> None:
        """Refresh ``coordinator`` in the background; a plan waits for it."""
        task = self._background(coordinator)
        key = id(coordinator)
        if task is None:
            return
        self._inflight[key] = task
        task.add_done_callback(
            lambda done: (
                self._inflight.pop(key, None)
                if self._inflight.get(key) is done
                else None
            )
        )
