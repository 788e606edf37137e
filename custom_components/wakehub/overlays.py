"""What WakeHub says of each node on top of the last poll (docs/design.md).

One job only: the coordinator's overlay bookkeeping. The hub and the cascade
reporter change a node's :class:`~.models.NodeOverlay` through the
coordinator; a state a finished step reached gives way to the first poll that
began after it.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Final

from .models import NodeOverlay

NO_OVERLAY: Final = NodeOverlay()


class NodeOverlays:
    """Every node's overlay, and the count of polls begun to date."""

    def __init__(self) -> None:
        """Start with no overlay and no poll."""
        self._overlays: dict[str, NodeOverlay] = {}
        self._polls_begun = 0

    def get(self, node_id: str) -> NodeOverlay:
        """The node's overlay (an empty one when WakeHub says nothing of it)."""
        return self._overlays.get(node_id, NO_OVERLAY)

    def change(self, node_id: str, **changes: Any) -> bool:
        """Apply ``changes`` to the node's overlay; whether it changed."""
        old = self.get(node_id)
        if changes.get("reached") is not None:
            changes["reached_poll"] = self._polls_begun
        elif "reached" in changes:
            changes["reached_poll"] = 0
        new = replace(old, **changes)
        if new == old:
            return False
        self._put(node_id, new)
        return True

    def begin_poll(self) -> int:
        """Count a poll that begins; its number, for :meth:`poll_ended`."""
        self._polls_begun += 1
        return self._polls_begun

    def poll_ended(self, begun: int) -> None:
        """The poll numbered ``begun`` ended: the earlier reached states go.

        Only a poll that began after a step finished replaces the state the
        step reached: one already under way may have read the node before.
        """
        for node_id, overlay in list(self._overlays.items()):
            if overlay.reached is not None and overlay.reached_poll < begun:
                self._put(node_id, replace(overlay, reached=None, reached_poll=0))

    def _put(self, node_id: str, overlay: NodeOverlay) -> None:
        if overlay == NO_OVERLAY:
            self._overlays.pop(node_id, None)
        else:
            self._overlays[node_id] = overlay
