"""Why a node stays on after a re-evaluation: the ``wakehub_node_kept`` event.

A KEEP decision of the re-evaluation (docs/design.md, "Re-evaluation") is
logged and fired with its reason: ``dependents`` (still needed), ``children``
(still hosting), ``starting`` (a queued start needs it) or ``manual`` (it was
started on its own, not for a dependent).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Final

from .const import EVENT_NODE_KEPT

if TYPE_CHECKING:
    from collections.abc import Mapping

    from homeassistant.core import HomeAssistant

    from .core.planner import Decision

_LOGGER = logging.getLogger(__package__)

KEEP_REASON_DEPENDENTS: Final = "dependents"
KEEP_REASON_CHILDREN: Final = "children"
KEEP_REASON_MANUAL: Final = "manual"
"""The node was started on its own (not for a dependent): never auto-stopped."""
KEEP_REASON_STARTING: Final = "starting"
"""A queued start needs the node (``needed_by``, ``needed_by_name``)."""


def report_kept(
    hass: HomeAssistant, decision: Decision, names: Mapping[str, str]
) -> None:
    """Log and fire why a node stays on (``wakehub_node_kept``)."""
    name = names.get(decision.node, decision.node)
    dependents = [names.get(node, node) for node in decision.active_dependents]
    children = [names.get(node, node) for node in decision.active_children]
    needed_by = decision.needed_by
    needed_by_name = names.get(needed_by, needed_by) if needed_by else None
    if decision.independent:
        reason = KEEP_REASON_MANUAL
        why = "it was started on its own, not for a dependent"
    elif needed_by_name is not None:
        reason = KEEP_REASON_STARTING
        why = f"the start of {needed_by_name} needs it"
    elif dependents:
        reason = KEEP_REASON_DEPENDENTS
        why = f"still needed by {', '.join(dependents)}"
    else:
        reason = KEEP_REASON_CHILDREN
        why = f"still hosts {', '.join(children)}"
    _LOGGER.info("%s stays on: %s", name, why)
    hass.bus.async_fire(
        EVENT_NODE_KEPT,
        {
            "node": decision.node,
            "name": name,
            "reason": reason,
            "active_dependents": list(decision.active_dependents),
            "active_children": list(decision.active_children),
            "dependent_names": dependents,
            "child_names": children,
            "needed_by": needed_by,
            "needed_by_name": needed_by_name,
        },
    )
