"""Translated notification texts: the user's language, then English, then the key."""

from __future__ import annotations

from typing import TYPE_CHECKING

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
