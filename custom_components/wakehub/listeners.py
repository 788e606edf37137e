"""A list of callbacks to call when something changes.

The hub (a cascade moved on) and the inactivity monitor (a sampling round)
each keep one; an entity adds its ``async_write_ha_state`` and removes it
with what :meth:`Listeners.add` returns.
"""

from __future__ import annotations

from homeassistant.core import CALLBACK_TYPE, callback


class Listeners:
    """Callbacks, each added once, called in the order they were added."""

    def __init__(self) -> None:
        """No callback yet."""
        self._updates: list[CALLBACK_TYPE] = []

    @callback
    def add(self, update: CALLBACK_TYPE) -> CALLBACK_TYPE:
        """Call ``update`` on every change; return its remover."""
        self._updates.append(update)

        @callback
        def remove() -> None:
            if update in self._updates:
                self._updates.remove(update)

        return remove

    @callback
    def notify(self) -> None:
        """Call every callback (one may remove itself while called)."""
        for update in list(self._updates):
            update()
