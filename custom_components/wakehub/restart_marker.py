"""What WakeHub keeps of its cascades across a restart.

One store (``.storage/wakehub.cascade``) holds:

- ``running``: the marker of the cascade under way (its target, action and
  current step), written at each step, so that a cascade a restart
  interrupted is reported as interrupted at the next start;
- ``marks``: the nodes WakeHub started for a dependent, so that the rule
  "stop automatically only what WakeHub started for a dependent" (see
  docs/design.md, "Re-evaluation") survives a restart.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from homeassistant.core import callback
from homeassistant.helpers.storage import Store

from .const import DOMAIN

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from homeassistant.core import HomeAssistant

    from .orchestrator import Cascade

STORAGE_KEY: Final = f"{DOMAIN}.cascade"
STORAGE_VERSION: Final = 1

type Marker = dict[str, Any]
"""What the store keeps of the running cascade (see :func:`marker_of`)."""


def marker_of(cascade: Cascade, index: int | None = None) -> Marker:
    """The marker of ``cascade``, at step ``index`` when it has begun one."""
    cstep = cascade.steps[index] if index is not None else None
    return {
        "id": cascade.id,
        "action": str(cascade.action),
        "target": cascade.target,
        "target_name": cascade.target_name,
        "origin": str(cascade.origin),
        "total": len(cascade.steps),
        "step": index + 1 if index is not None else None,
        "node": cstep.node if cstep is not None else None,
        "name": cstep.name if cstep is not None else None,
    }


class RestartMarker:
    """The running cascade's marker and the autoremove marks, stored."""

    def __init__(self, hass: HomeAssistant, marks: Callable[[], Iterable[str]]) -> None:
        """``marks`` returns the current autoremove marks when the store writes."""
        self._store: Store[dict[str, Any]] = Store(hass, STORAGE_VERSION, STORAGE_KEY)
        self._marks = marks
        self.running: Marker | None = None

    async def async_load(self) -> tuple[list[str], Marker | None]:
        """The stored marks and the marker a restart interrupted, if any."""
        stored = await self._store.async_load() or {}
        marks = [str(node) for node in stored.get("marks") or []]
        return marks, stored.get("running") or None

    @callback
    def save(self, marker: Marker | None) -> None:
        """Store ``marker`` (``None`` once no cascade runs) and the marks."""
        self.running = marker
        self._store.async_delay_save(self._data_to_save, 0)

    @callback
    def cascade_ended(self, cascade_id: str) -> None:
        """Forget the marker of a cascade that ended; store the marks."""
        if self.running is not None and self.running.get("id") == cascade_id:
            self.running = None
        self.save(self.running)

    async def async_flush(self) -> None:
        """Write now (Home Assistant is stopping)."""
        await self._store.async_save(self._data_to_save())

    def _data_to_save(self) -> dict[str, Any]:
        return {"running": self.running, "marks": sorted(self._marks())}
