"""WakeHub's persistent notifications, in the user's language.

Every text is a translation (``exceptions.<key>.message`` in ``strings.json``)
read in Home Assistant's language, English when that language lacks it; a
text missing in both shows its key. A notification has a title key and a
message key, both filled with the same placeholders. One notification per
cascade that failed (or a restart interrupted) and one per shutdown
proposal; their ids start with the prefixes of :mod:`.const`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from homeassistant.components import persistent_notification
from homeassistant.helpers.translation import async_get_translations
from homeassistant.util import dt as dt_util, slugify

from .const import (
    CASCADE_NOTIFICATION_PREFIX,
    DOMAIN,
    PROPOSAL_NOTIFICATION_PREFIX,
)

if TYPE_CHECKING:
    from collections.abc import Mapping
    from datetime import datetime

    from homeassistant.core import HomeAssistant


def cascade_notification_id(cascade_id: str) -> str:
    """The notification of a cascade that failed or was interrupted."""
    return f"{CASCADE_NOTIFICATION_PREFIX}{cascade_id}"


def proposal_notification_id(node_id: str) -> str:
    """The notification of a shutdown proposal about ``node_id``."""
    return f"{PROPOSAL_NOTIFICATION_PREFIX}{slugify(node_id)}"


async def async_translate(
    hass: HomeAssistant, key: str, placeholders: Mapping[str, str]
) -> str:
    """The text ``exceptions.<key>`` in the user's language, filled in."""
    full_key = f"component.{DOMAIN}.exceptions.{key}.message"
    text: str | None = None
    for language in dict.fromkeys((hass.config.language, "en")):
        strings = await async_get_translations(hass, language, "exceptions", [DOMAIN])
        if (text := strings.get(full_key)) is not None:
            break
    if text is None:
        return key
    try:
        return text.format(**placeholders)
    except (KeyError, IndexError, ValueError):
        return text


async def async_notify(
    hass: HomeAssistant,
    notification_id: str,
    texts: tuple[str, str],
    placeholders: Mapping[str, str],
) -> None:
    """Create (or replace) a notification; ``texts`` are its title and message keys."""
    title = await async_translate(hass, texts[0], placeholders)
    message = await async_translate(hass, texts[1], placeholders)
    persistent_notification.async_create(
        hass, message, title=title, notification_id=notification_id
    )


async def async_local_time(hass: HomeAssistant, when: datetime) -> str:
    """``when`` in Home Assistant's time zone, on the language's clock.

    The ``proposal_time`` text says which: ``12`` ("3:05 PM") or ``24``
    ("15:05").
    """
    local = dt_util.as_local(when)
    clock = await async_translate(hass, "proposal_time", {})
    if clock.strip() == "12":
        am_pm = "AM" if local.hour < 12 else "PM"
        return f"{local.hour % 12 or 12}:{local.minute:02d} {am_pm}"
    return f"{local.hour:02d}:{local.minute:02d}"
