"""The dashboard card ``custom:wakehub-card``, shipped inside the integration.

:func:`async_register_card` serves ``frontend/wakehub-card.js`` on a static
path and adds it to the frontend's extra JS modules, so the card is available
on every dashboard with no resource to add by hand (HACS users included).

The module URL carries a hash of the file (``?v=...``): the static path is
cached by browsers, and a new version of the card gets a new URL.

Skipped, with a debug message, when ``http`` or ``frontend`` is not loaded
(a headless set-up, the unit tests): both are ``after_dependencies``.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Final

from .const import DOMAIN

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant

_LOGGER = logging.getLogger(__package__)

CARD_FILE: Final = Path(__file__).parent / "frontend" / "wakehub-card.js"
CARD_URL: Final = f"/{DOMAIN}/wakehub-card.js"
"""Where the card is served; the registered module URL adds ``?v=<hash>``."""

_REGISTERED: Final = f"{DOMAIN}_card_registered"


def _file_version(path: Path) -> str:
    """A short hash of the card's content, for cache busting."""
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


async def async_register_card(hass: HomeAssistant) -> str | None:
    """Serve the card and load it on every page; return its module URL.

    Returns ``None`` (and registers nothing) when ``http`` or ``frontend``
    is not loaded. Registering twice is harmless: the second call only
    returns the URL.
    """
    if hass.http is None or not {"http", "frontend"} <= hass.config.components:
        _LOGGER.debug("No frontend loaded: the dashboard card is not registered")
        return None
    if (url := hass.data.get(_REGISTERED)) is not None:
        return str(url)

    from homeassistant.components.frontend import add_extra_js_url

    try:  # Home Assistant 2026 defines it here and only re-exports it below
        from homeassistant.components.http.server import (  # type: ignore[import-not-found, unused-ignore]
            StaticPathConfig,
        )
    except ImportError:  # Home Assistant 2025
        from homeassistant.components.http import (  # type: ignore[attr-defined, no-redef, unused-ignore]
            StaticPathConfig,
        )

    version = await hass.async_add_executor_job(_file_version, CARD_FILE)
    await hass.http.async_register_static_paths(
        [StaticPathConfig(CARD_URL, str(CARD_FILE), cache_headers=True)]
    )
    url = f"{CARD_URL}?v={version}"
    add_extra_js_url(hass, url)
    hass.data[_REGISTERED] = url
    _LOGGER.debug("Dashboard card registered at %s", url)
    return url
