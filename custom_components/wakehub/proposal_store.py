"""Where the pending shutdown proposals outlive a restart.

``.storage/wakehub.proposals`` holds every pending proposal of
:mod:`.proposals`, as its ``as_dict()``: written a second after a change made
in a callback, at once after an answer, and on unload when something is
still pending.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from homeassistant.helpers.storage import Store

from .const import DOMAIN

if TYPE_CHECKING:
    from collections.abc import Callable

    from homeassistant.core import HomeAssistant

STORAGE_KEY: Final = f"{DOMAIN}.proposals"
STORAGE_VERSION: Final = 1
SAVE_DELAY: Final = 1.0
"""Seconds before a change made in a callback is written (flushed on unload)."""

type Record = dict[str, Any]


class ProposalStore:
    """The stored proposals; ``pending()`` gives the records to write."""

    def __init__(
        self, hass: HomeAssistant, key: str, pending: Callable[[], list[Record]]
    ) -> None:
        """Nothing is read before :meth:`async_load`."""
        self._store: Store[dict[str, Any]] = Store(hass, STORAGE_VERSION, key)
        self._pending = pending
        self.dirty = False
        """Whether something is not written yet."""

    async def async_load(self) -> list[Record]:
        """The stored records, as written."""
        stored = await self._store.async_load() or {}
        return list(stored.get("proposals", []))

    def schedule_save(self) -> None:
        """Write in a moment (a change made in a callback)."""
        self.dirty = True
        self._store.async_delay_save(self._data_to_save, SAVE_DELAY)

    async def async_flush(self) -> None:
        """Write now (an answer must survive an immediate restart)."""
        await self._store.async_save(self._data_to_save())
        self.dirty = False

    async def async_save_if_dirty(self) -> None:
        """Write what is pending, if anything (on unload)."""
        if self.dirty:
            await self.async_flush()

    def _data_to_save(self) -> dict[str, Any]:
        return {"proposals": self._pending()}
