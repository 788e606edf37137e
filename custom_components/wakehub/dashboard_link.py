"""Where a notification sends the user: the dashboard that holds a WakeHub card.

One job only (docs/design.md): a shutdown proposal's notification links "to
the card". The card lives on a dashboard the user chose, so the link goes to
the first dashboard whose configuration holds a ``custom:wakehub-card`` (or
the graph card), the default dashboard first; without one (no lovelace, a
dashboard Home Assistant generates, a card nowhere), the default dashboard,
``/``.

Home Assistant keeps its dashboards in ``hass.data["lovelace"]``: a
``LovelaceData`` whose ``dashboards`` maps each url path (``None`` for the
default one until 2025.x, ``"lovelace"`` once Home Assistant migrated the
default one into a dashboard of its own) to an object whose ``async_load``
returns its configuration. Home Assistant 2025.4 and 2026.10 both give
``dashboards`` as an attribute (the dict access 2025.4 still allowed is gone
in 2026.2), so only the attribute is read.
"""

from __future__ import annotations

from collections.abc import Mapping
import logging
from typing import TYPE_CHECKING, Any, Final

from homeassistant.exceptions import HomeAssistantError

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant

_LOGGER = logging.getLogger(__name__)

LOVELACE: Final = "lovelace"
"""The key of Home Assistant's dashboards in ``hass.data``."""
CARD_TYPES: Final = frozenset({"custom:wakehub-card", "custom:wakehub-graph-card"})
DEFAULT_LINK: Final = "/"
"""The user's default dashboard (Home Assistant opens it at ``/``)."""


def holds_card(config: Any) -> bool:
    """Whether a dashboard's configuration holds a WakeHub card, at any depth.

    Cards sit in views, sections, stacks, conditional cards...: every mapping
    and list is searched.
    """
    stack = [config]
    while stack:
        item = stack.pop()
        if isinstance(item, Mapping):
            if item.get("type") in CARD_TYPES:
                return True
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def _order(url_path: str | None) -> tuple[int, str]:
    """The default dashboard first, then the others by url path."""
    return (0 if url_path in (None, LOVELACE) else 1, url_path or "")


async def async_card_dashboard(hass: HomeAssistant) -> str:
    """The path of the dashboard that holds a WakeHub card, else ``/``."""
    data = hass.data.get(LOVELACE)
    dashboards = getattr(data, "dashboards", None)
    if not isinstance(dashboards, Mapping):
        return DEFAULT_LINK
    for url_path in sorted(dashboards, key=_order):
        dashboard = dashboards[url_path]
        try:
            config = await dashboard.async_load(False)
        except (HomeAssistantError, OSError, ValueError) as err:
            # No configuration yet (a generated dashboard), or a broken file.
            _LOGGER.debug("Dashboard %s not read: %s", url_path or LOVELACE, err)
            continue
        if holds_card(config):
            return f"/{url_path or LOVELACE}"
    return DEFAULT_LINK
