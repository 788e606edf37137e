"""Inactivity, acting when due: fire the event, then stop or propose.

One job only (docs/design.md): the monitor (:mod:`.idle`) calls this once a
node's idle timer is due.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from homeassistant.exceptions import HomeAssistantError

from .const import EVENT_NODE_IDLE
from .core.planner import Action

if TYPE_CHECKING:
    from .hub import WakeHubHub
    from .idle_sampling import Watch
    from .models import TreeNode

_LOGGER = logging.getLogger(__name__)


async def async_act_when_due(hub: WakeHubHub, node: TreeNode, watch: Watch) -> None:
    """Fire ``wakehub_node_idle``, then stop the node or propose it."""
    topology_node = hub.topology.nodes.get(node.id)
    if topology_node is None:  # pragma: no cover - sampled from the topology
        return
    propose = topology_node.needs_confirmation
    readings = watch.verdict.readings if watch.verdict is not None else ()
    hub.hass.bus.async_fire(
        EVENT_NODE_IDLE,
        {
            "node": node.id,
            "name": node.name,
            "minutes": watch.rule.minutes,
            "action": "propose" if propose else "stop",
            "criteria": [reading.as_dict() for reading in readings],
            "description": "; ".join(r.describe() for r in readings),
        },
    )
    _LOGGER.info(
        "%s idle for %s min (%s): %s",
        node.name,
        watch.rule.minutes,
        "; ".join(r.describe() for r in readings),
        "proposing its shutdown" if propose else "stopping it",
    )
    if propose:
        await hub.proposals.async_propose(node.id, {node.id: node.name})
        return
    try:
        await hub.async_request(Action.STOP, node.id)
    except HomeAssistantError as err:
        _LOGGER.warning("%s is idle but cannot be stopped: %s", node.name, err)
