"""The Home Assistant :class:`NodeDriver`: the orchestrator's hands.

It powers nodes through the channels of the loaded config entries and reads
their states from the entries' coordinators:

- ``execute``: Wake-on-LAN or SSH shutdown through the entry's ``Machine``;
  a guest through its machine's Proxmox API, a container through its host's
  Docker API, with the node's key (vmid or container name);
- ``is_ready``: polls the node itself (a probe, one API read) and, when later
  steps go through this node's APIs, checks that they answer;
- ``states``: the coordinators' *polled* states, refreshed first when the
  last refresh is older than :data:`STATES_MAX_AGE` (a plan or a skip decision
  must not rest on a 30-second-old poll);
- ``step_timeout``: the node's ``start_timeout``/``stop_timeout`` option,
  else the per-kind default the options flow shows;
- ``request_refresh``: a throttled refresh of the node's coordinator, so that
  entity states follow a cascade within about a second.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Final

from .channels.errors import ChannelTimeoutError, InvalidConfigError, UnreachableError
from .const import (
    CONF_MACHINE,
    CONF_START_TIMEOUT,
    CONF_STOP_TIMEOUT,
    DEFAULT_START_TIMEOUTS,
    DEFAULT_STOP_TIMEOUTS,
)
from .core.model import Capability, Channel, NodeKind, PowerState
from .core.planner import Action, Step

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from .channels.base import HostApi
    from .coordinator import TreeNode, WakeHubCoordinator

STATES_MAX_AGE: Final = 1.0
"""Seconds after which ``states()`` refreshes a coordinator before answering."""

REFRESH_THROTTLE: Final = 0.8
"""Seconds between two refreshes of one coordinator requested by a cascade.

A request inside this window is not dropped: one refresh is scheduled at the
window's end (trailing edge), so a node that reached its goal right after a
refresh still shows in Home Assistant within the window plus one refresh.
"""

_NOT_UP_YET = (UnreachableError, ChannelTimeoutError)
"""Errors that mean "not up (yet)" while polling readiness."""


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
        self._pending: dict[int, asyncio.TimerHandle] = {}
        self._goal_reached: set[int] = set()
        self._inflight: dict[int, asyncio.Task[None]] = {}

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
    def _host_api(coordinator: WakeHubCoordinator, node: TreeNode) -> HostApi:
        """The API that powers a guest (Proxmox) or a container (Docker)."""
        assert node.parent is not None
        if node.kind is NodeKind.CONTAINER:
            api = coordinator.channels.docker.get(node.parent)
            what = "Docker API"
        else:
            api = coordinator.channels.proxmox
            what = "Proxmox API"
        if api is None:
            raise InvalidConfigError(f"The host of {node.name} has no {what}")
        return api

    def mark_refreshed(self, coordinator: WakeHubCoordinator) -> None:
        """Record that ``coordinator`` just refreshed."""
        self._refreshed[id(coordinator)] = time.monotonic()

    def _age(self, coordinator: WakeHubCoordinator) -> float:
        last = self._refreshed.get(id(coordinator))
        return float("inf") if last is None else time.monotonic() - last

    # -- NodeDriver ------------------------------------------------------------

    async def states(self) -> Mapping[str, PowerState]:
        """The polled state of every node, from recent enough polls."""
        coordinators = {id(c): c for c in self._coordinators().values()}
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
            await asyncio.gather(*(c.async_refresh() for c in stale))
            for coordinator in stale:
                self.mark_refreshed(coordinator)
        states: dict[str, PowerState] = {}
        for coordinator in coordinators.values():
            data = coordinator.data
            for node_id in coordinator.tree:
                node = data.nodes.get(node_id) if data is not None else None
                states[node_id] = node.state if node is not None else PowerState.UNKNOWN
        return states

    async def execute(self, step: Step) -> None:
        """Send the step's command through the node's channel."""
        coordinator, node = self._tree_node(step.node)
        channels = coordinator.channels
        if node.kind is NodeKind.MACHINE:
            if step.action is Action.START:
                await channels.machine.wake()
            elif step.channel is Channel.PROXMOX and channels.proxmox is not None:
                await channels.proxmox.node_shutdown()
            else:
                await channels.machine.shutdown()
            return
        assert node.key is not None
        api = self._host_api(coordinator, node)
        if step.action is Action.START:
            await api.start(node.key)
        else:
            await api.stop(node.key)

    async def is_ready(
        self, node_id: str, *, action: Action, needs: frozenset[Capability]
    ) -> bool:
        """Whether the node reached the step's goal (domain rules, section 3).

        When it did, the next :meth:`request_refresh` of its coordinator runs
        at once, throttle or not: the entity must follow now, not up to a
        throttle window later (and the stale polled state must not show once
        the step's ``starting``/``stopping`` overlay goes).
        """
        coordinator, node = self._tree_node(node_id)
        ready = await self._reached(coordinator, node, action, needs)
        if ready:
            self._goal_reached.add(id(coordinator))
        return ready

    async def _reached(
        self,
        coordinator: WakeHubCoordinator,
        node: TreeNode,
        action: Action,
        needs: frozenset[Capability],
    ) -> bool:
        node_id = node.id
        try:
            up = await self._is_up(coordinator, node)
            if action is Action.STOP:
                return not up
            if not up:
                return False
            if Capability.PROXMOX in needs:
                if coordinator.channels.proxmox is None:
                    raise InvalidConfigError(f"{node.name} has no Proxmox API")
                await coordinator.channels.proxmox.check()
            if Capability.DOCKER in needs:
                docker = coordinator.channels.docker.get(node_id)
                if docker is None:
                    raise InvalidConfigError(f"{node.name} has no Docker API")
                await docker.check()
        except _NOT_UP_YET:
            return action is Action.STOP
        return True

    async def _is_up(self, coordinator: WakeHubCoordinator, node: TreeNode) -> bool:
        if node.kind is NodeKind.MACHINE:
            return await coordinator.channels.machine.probe()
        assert node.key is not None
        children = await self._host_api(coordinator, node).read_states()
        info = children.get(node.key)
        if info is None or not info.running:
            return False
        if node.kind is NodeKind.CONTAINER:
            return info.details.get("health") in (None, "healthy")
        return True

    def step_timeout(self, node_id: str, action: Action) -> float:
        """The node's own timeout setting, else the per-kind default."""
        coordinator, node = self._tree_node(node_id)
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

    def request_refresh(self, node_id: str) -> None:
        """Refresh the node's coordinator now, or at the throttle window's end."""
        coordinator = self._coordinators().get(node_id)
        if coordinator is None:
            return
        key = id(coordinator)
        age = self._age(coordinator)
        if age >= REFRESH_THROTTLE or key in self._goal_reached:
            self._goal_reached.discard(key)
            if (handle := self._pending.pop(key, None)) is not None:
                handle.cancel()
            self._start_refresh(coordinator)
            return
        if key not in self._pending:
            self._pending[key] = asyncio.get_running_loop().call_later(
                REFRESH_THROTTLE - age, self._deferred_refresh, coordinator
            )

    def _deferred_refresh(self, coordinator: WakeHubCoordinator) -> None:
        """The trailing refresh of a throttled request (unless one ran since)."""
        self._pending.pop(id(coordinator), None)
        age = self._age(coordinator)
        if age >= REFRESH_THROTTLE:
            self._start_refresh(coordinator)
        else:
            self._pending[id(coordinator)] = asyncio.get_running_loop().call_later(
                REFRESH_THROTTLE - age, self._deferred_refresh, coordinator
            )

    def _start_refresh(self, coordinator: WakeHubCoordinator) -> None:
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

    def cancel_pending(self) -> None:
        """Drop every scheduled trailing refresh (on shutdown)."""
        for handle in self._pending.values():
            handle.cancel()
        self._pending.clear()
