"""Voice: Home Assistant's default conversation agent drives WakeHub.

"Turn on Jellyfin" (English) and "Allume Jellyfin" (French) go through the
built-in intents (hassil + home-assistant-intents, pinned per HA release in
``requirements/``) to the Jellyfin switch, which starts the orchestrated
cascade: the simulator's log shows NAS WoL, Machine2 WoL, then Jellyfin's
Proxmox start, in that order. "Turn off" / "Éteins" stop it again.

Only two machines are configured: the NAS and Machine2, which manages
Jellyfin alone, with the Jellyfin -> NAS dependency edge.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from homeassistant.components import conversation
from homeassistant.components.homeassistant.exposed_entities import (
    async_expose_entity,
)
from homeassistant.core import Context
from homeassistant.helpers import intent
from homeassistant.setup import async_setup_component
import pytest

from custom_components.wakehub.const import CONF_DEPENDENCIES, DOMAIN

from .conftest import entry_data_for, machine_entry, node_id_of
from .hub_helpers import async_wait_idle, commands, switch_id

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant

    from tests.homelab.thread import HomelabThread

JELLYFIN = switch_id("Jellyfin")
START_CASCADE = [("wol", "NAS"), ("wol", "Machine2"), ("pve_start", "Jellyfin")]


pytestmark = pytest.mark.usefixtures("fast_polls")


async def _async_setup(hass: HomeAssistant, homelab: HomelabThread) -> None:
    """NAS and Machine2 (managing Jellyfin, which needs the NAS), then Assist."""
    ready = homelab.ready
    for name, managed in (("NAS", None), ("Machine2", ["Jellyfin"])):
        data, options = entry_data_for(homelab, name, managed)
        if name == "Machine2":
            options[CONF_DEPENDENCIES] = [
                [node_id_of(ready, "Jellyfin"), node_id_of(ready, "NAS")]
            ]
        machine_entry(name, data, options).add_to_hass(hass)
    assert await async_setup_component(hass, DOMAIN, {})
    assert await async_setup_component(hass, "homeassistant", {})
    assert await async_setup_component(hass, "conversation", {})
    await hass.async_block_till_done()
    state = hass.states.get(JELLYFIN)
    assert state is not None
    # The device's main entity: its friendly name is the device name, which
    # is what the sentences match.
    assert state.attributes["friendly_name"] == "Jellyfin"
    assert state.state == "off"
    # Only exposed entities can be targeted by the default agent.
    async_expose_entity(hass, conversation.DOMAIN, JELLYFIN, True)


def _switch(hass: HomeAssistant, name: str) -> str:
    """The state of a node's power switch (its id does not depend on the language)."""
    state = hass.states.get(switch_id(name))
    assert state is not None, name
    return state.state


async def _async_say(hass: HomeAssistant, text: str, language: str) -> Any:
    """Send ``text`` to the default agent; return its intent response.

    ``async_converse(hass, text, conversation_id, context, language, ...)``:
    the positional part and ``language=`` are the same on both HA pins
    (``agent_id``/``device_id``/``satellite_id`` come later and are left to
    their defaults, the default agent).
    """
    result = await conversation.async_converse(
        hass, text, None, Context(), language=language
    )
    response = result.response
    assert response.response_type == intent.IntentResponseType.ACTION_DONE, (
        text,
        response.as_dict(),
    )
    assert response.intent is not None
    return response


async def _async_start_then_stop(
    hass: HomeAssistant,
    homelab: HomelabThread,
    language: str,
    turn_on: str,
    turn_off: str,
) -> None:
    await _async_setup(hass, homelab)

    response = await _async_say(hass, turn_on, language)
    assert response.intent.intent_type == intent.INTENT_TURN_ON
    assert [t.id for t in response.success_results] == [JELLYFIN]
    # The intent waits 0.2 s for its service call, then leaves it running in
    # the background (homeassistant/helpers/intent.py, _run_then_background):
    # on a loaded machine the cascade was not even queued yet.
    await hass.async_block_till_done()
    await async_wait_idle(hass)
    assert commands(homelab) == START_CASCADE
    assert [homelab.state(n) for n in ("NAS", "Machine2", "Jellyfin")] == [
        "on",
        "on",
        "running",
    ]
    for name in ("NAS", "Machine2", "Jellyfin"):
        assert _switch(hass, name) == "on", name

    response = await _async_say(hass, turn_off, language)
    assert response.intent.intent_type == intent.INTENT_TURN_OFF
    assert [t.id for t in response.success_results] == [JELLYFIN]
    await hass.async_block_till_done()
    await async_wait_idle(hass)
    stop = commands(homelab)[len(START_CASCADE) :]
    # Jellyfin goes down first; whatever WakeHub then stops for it comes after.
    assert stop[0] == ("pve_shutdown", "Jellyfin"), stop
    assert homelab.state("Jellyfin") == "stopped"
    assert _switch(hass, "Jellyfin") == "off"


@pytest.mark.parametrize(
    ("turn_on", "turn_off"),
    [
        ("Turn on Jellyfin", "Turn off Jellyfin"),
        ("turn on the jellyfin", "deactivate Jellyfin"),
    ],
)
async def test_english(
    hass: HomeAssistant, homelab: HomelabThread, turn_on: str, turn_off: str
) -> None:
    """English: the issue's sentence, and other phrasings of the same intents."""
    await _async_start_then_stop(hass, homelab, "en", turn_on, turn_off)


@pytest.mark.parametrize(
    ("turn_on", "turn_off"),
    [("Allume Jellyfin", "Éteins Jellyfin"), ("Démarre Jellyfin", "Arrête Jellyfin")],
)
async def test_french(
    hass: HomeAssistant, homelab: HomelabThread, turn_on: str, turn_off: str
) -> None:
    """French, with HA's language set to French (as a French user has it)."""
    hass.config.language = "fr"
    await _async_start_then_stop(hass, homelab, "fr", turn_on, turn_off)


async def test_unknown_name_is_an_error(
    hass: HomeAssistant, homelab: HomelabThread
) -> None:
    """A name WakeHub does not manage: an error answer, and nothing is sent."""
    await _async_setup(hass, homelab)
    result = await conversation.async_converse(
        hass, "Turn on Plex", None, Context(), language="en"
    )
    assert result.response.response_type == intent.IntentResponseType.ERROR
    await hass.async_block_till_done()
    assert commands(homelab) == []
