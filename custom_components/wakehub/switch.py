"""A switch per managed node: on starts its cascade, off stops it.

The switch is the node's main entity (``name=None``: it takes the device's
name), so "turn on Jellyfin" in Assist reaches it. Turning it on or off
returns as soon as the plan is validated and queued; the cascade runs in the
background and the node's status sensor follows it step by step.

``is_on`` is the polled state, except while a cascade is about the node: a
queued or running cascade targeting it shows its *target* state (on while a
start is pending or running, off while a stop is), and a node a running step
is starting or stopping shows the state it is heading for. A node left in
``error`` shows its polled state again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from homeassistant.components.switch import SwitchEntity, SwitchEntityDescription

from .core.model import PowerState
from .core.planner import Action
from .entity import WakeHubEntity
from .hub import HUB_KEY

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant
    from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

    from .coordinator import WakeHubCoordinator
    from .hub import WakeHubHub
    from .models import TreeNode, WakeHubConfigEntry

# Turning a switch on only queues a cascade; the orchestrator serialises them.
PARALLEL_UPDATES = 0

POWER = SwitchEntityDescription(key="power", translation_key="power", name=None)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: WakeHubConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the power switch of every node of the entry's tree."""
    coordinator = entry.runtime_data.coordinator
    hub = hass.data[HUB_KEY]
    async_add_entities(
        WakeHubSwitch(hub, coordinator, node) for node in coordinator.tree.values()
    )


class WakeHubSwitch(WakeHubEntity, SwitchEntity):
    """Power one node through the orchestrator."""

    _attr_name = None

    def __init__(
        self, hub: WakeHubHub, coordinator: WakeHubCoordinator, node: TreeNode
    ) -> None:
        """Bind the switch to ``node``."""
        super().__init__(coordinator, node, POWER)
        self._hub = hub

    @property
    def is_on(self) -> bool:
        """The target state of a cascade about the node, else the polled one."""
        view = self.coordinator.view(self.node.id)
        if (pending := view.overlay.pending) is not None:
            return pending is Action.START
        state = view.state
        if state is PowerState.STARTING:
            return True
        if state in (PowerState.STOPPING, PowerState.ERROR):
            return state is PowerState.ERROR and (
                view.polled is not None and view.polled.state is PowerState.ON
            )
        return state is PowerState.ON

    async def async_turn_on(self, **kwargs: Any) -> None:
        """Queue the start cascade of the node."""
        await self._hub.async_request(Action.START, self.node.id)

    async def async_turn_off(self, **kwargs: Any) -> None:
        """Queue the stop cascade of the node (its dependents first)."""
        await self._hub.async_request(Action.STOP, self.node.id)
