"""Translated notification texts: the user's language, then English, then the key."""

from __future__ import annotations

from typing import TYPE_CHECKING

from custom_components.wakehub.cascade_failure import EXPLAINED_CODES
from custom_components.wakehub.notifications import async_translate

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant


async def test_text_in_the_users_language_then_english(hass: HomeAssistant) -> None:
    """French when Home Assistant speaks French; English for a language without it."""
    placeholders = {"name": "NAS"}
    hass.config.language = "fr"
    assert await async_translate(hass, "proposal_title", placeholders) == (
        "Éteindre NAS ?"
    )
    hass.config.language = "de"
    assert await async_translate(hass, "proposal_title", placeholders) == (
        "Shut down NAS?"
    )


async def test_missing_text_or_placeholder(hass: HomeAssistant) -> None:
    """A text no language has shows its key; a missing placeholder, the raw text."""
    assert await async_translate(hass, "no_such_text", {}) == "no_such_text"
    assert await async_translate(hass, "proposal_title", {}) == "Shut down {name}?"


async def test_every_explained_code_has_its_sentence(hass: HomeAssistant) -> None:
    """Each code a failure notification explains reads in English and French.

    The codes are the notification's own table; each sentence keeps no
    unfilled placeholder once the facts are given.
    """
    facts = {"api": "Proxmox", "host": "Machine2", "node": "Jellyfin"}
    for language in ("en", "fr"):
        hass.config.language = language
        for code in sorted(EXPLAINED_CODES):
            text = await async_translate(hass, f"cascade_error_{code}", facts)
            assert text != f"cascade_error_{code}", (language, code)
            assert "{" not in text, (language, code, text)
            assert "Jellyfin" in text or "Machine2" in text, (language, code, text)
    hass.config.language = "fr"
    assert await async_translate(hass, "cascade_error_unreachable", facts) == (
        "Proxmox sur Machine2 n'a pas répondu : vérifiez que Machine2 est allumé et"
        " joignable."
    )
