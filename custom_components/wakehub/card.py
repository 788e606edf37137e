"""The dashboard card ``custom:wakehub-card``, shipped inside the integration.

:func:`async_register_card` serves ``frontend/wakehub-card.js`` on a static
path and adds it to the frontend's extra JS modules, so the card is available
on every dashboard with no resource to add by hand (HACS users included).

The card's text is in ``frontend/translations/<language>.js``, one file per
language, served next to it. The module URL carries a hash of the card and
its translations (``?v=...``): the static paths are cached by browsers, and a
new version gets new URLs (the card adds the same ``v`` to the translations
it imports). It also lists the languages found (``&l=en,fr``), so that adding
a language is adding its file.

Skipped, with a debug message, when ``http`` or ``frontend`` is not loaded
(a headless set-up, the unit tests): both are ``after_dependencies``.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Final

from .const import DOMAIN
from .graph_card import async_register_graph_card

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant

_LOGGER = logging.getLogger(__package__)

CARD_FILE: Final = Path(__file__).parent / "frontend" / "wakehub-card.js"
CARD_URL: Final = f"/{DOMAIN}/wakehub-card.js"
"""Where the card is served; the registered module URL adds ``?v=<hash>&l=...``."""
TRANSLATIONS_DIR: Final = CARD_FILE.parent / "translations"
TRANSLATIONS_URL: Final = f"/{DOMAIN}/translations"
"""The card imports ``translations/<language>.js`` relative to its own URL."""

_REGISTERED: Final = f"{DOMAIN}_card_registered"


def _files() -> tuple[str, list[str]]:
    """A short hash of the card and its translations, and the languages."""
    digest = hashlib.sha256(CARD_FILE.read_bytes())
    languages = []
    for path in sorted(TRANSLATIONS_DIR.glob("*.js")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
        languages.append(path.stem)
    return digest.hexdigest()[:12], languages


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

    version, languages = await hass.async_add_executor_job(_files)
    await hass.http.async_register_static_paths(
        [
            StaticPathConfig(CARD_URL, str(CARD_FILE), cache_headers=True),
            StaticPathConfig(
                TRANSLATIONS_URL, str(TRANSLATIONS_DIR), cache_headers=True
            ),
        ]
    )
    url = f"{CARD_URL}?v={version}&l={','.join(languages)}"
    add_extra_js_url(hass, url)
    await async_register_graph_card(hass, StaticPathConfig, version, languages)
    hass.data[_REGISTERED] = url
    _LOGGER.debug("Dashboard card registered at %s", url)
    return url
