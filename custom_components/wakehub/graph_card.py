"""The graph card ``custom:wakehub-graph-card``, served beside the list card.

:func:`async_register_graph_card` serves ``frontend/wakehub-graph-card.js``
on a static path and adds it to the frontend's extra JS modules. Its text is
in the list card's ``frontend/translations/<language>.js`` (section
``graph``), which :mod:`.card` serves: the module URL carries a hash of the
graph card and of those files (``?v=...``), the list card's version, which
both cards add to the text files they import (``&t=...``), and the languages
found (``&l=en,fr``).

Called by :func:`.card.async_register_card` once ``http`` and ``frontend``
are known to be loaded.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from .const import DOMAIN

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant

GRAPH_CARD_FILE: Final = Path(__file__).parent / "frontend" / "wakehub-graph-card.js"
GRAPH_CARD_URL: Final = f"/{DOMAIN}/wakehub-graph-card.js"


def _version(translations_version: str) -> str:
    """A short hash of the graph card and of the translations' version."""
    digest = hashlib.sha256(GRAPH_CARD_FILE.read_bytes())
    digest.update(translations_version.encode())
    return digest.hexdigest()[:12]


async def async_register_graph_card(
    hass: HomeAssistant,
    static_path: Any,
    translations_version: str,
    languages: list[str],
) -> str:
    """Serve the graph card and load it on every page; return its module URL.

    ``static_path`` is Home Assistant's ``StaticPathConfig`` (imported by the
    caller, where it lives in the running release); ``translations_version``
    and ``languages`` are the list card's, whose text files both cards read.
    """
    from homeassistant.components.frontend import add_extra_js_url

    version = await hass.async_add_executor_job(_version, translations_version)
    await hass.http.async_register_static_paths(
        [static_path(GRAPH_CARD_URL, str(GRAPH_CARD_FILE), cache_headers=True)]
    )
    # &t=: the list card's version, which it imports the text files with, so
    # that both cards share one copy of each.
    url = (
        f"{GRAPH_CARD_URL}?v={version}&t={translations_version}&l={','.join(languages)}"
    )
    add_extra_js_url(hass, url)
    return url
