"""A proposal's notification links to the dashboard that holds the WakeHub card.

Home Assistant's own lovelace integration runs here: the dashboards are
created and saved through its websocket API, as the frontend does, and the
link is read from the notification a real shutdown proposal sends.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from homeassistant.components import persistent_notification
from homeassistant.setup import async_setup_component
import pytest

from custom_components.wakehub.core.model import PowerState
from custom_components.wakehub.core.planner import Decision, Verdict, reevaluate
from custom_components.wakehub.dashboard_link import async_card_dashboard, holds_card
from custom_components.wakehub.notifications import proposal_notification_id
from custom_components.wakehub.proposals import (
    ProposalManager,
    async_handle_reevaluation,
)

from .test_proposals import JELLYFIN, NAMES, NAS, PLEX, TOPOLOGY

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant
    from pytest_homeassistant_custom_component.typing import WebSocketGenerator

CARD = {"type": "custom:wakehub-card", "title": "Homelab"}
OTHER = {"type": "entities", "entities": ["sun.sun"]}


@pytest.fixture
async def lovelace(hass: HomeAssistant, hass_ws_client: WebSocketGenerator) -> Any:
    """Home Assistant's dashboards; returns a websocket command sender."""
    assert await async_setup_component(hass, "http", {})
    assert await async_setup_component(hass, "lovelace", {})
    client = await hass_ws_client(hass)

    async def send(**message: Any) -> Any:
        await client.send_json_auto_id(message)
        answer = await client.receive_json()
        assert answer["success"], answer
        return answer["result"]

    return send


async def _proposal_link(hass: HomeAssistant) -> str:
    """Propose the NAS's shutdown; the link of its notification."""
    assert await async_setup_component(hass, "persistent_notification", {})
    manager = ProposalManager(hass)
    await manager.async_load()
    states = dict.fromkeys(TOPOLOGY, PowerState.ON)
    states[JELLYFIN] = states[PLEX] = PowerState.OFF
    decisions = reevaluate(TOPOLOGY, states, {JELLYFIN})
    assert decisions == [Decision(NAS, Verdict.CONFIRM)]
    await async_handle_reevaluation(manager, decisions, NAMES)
    await hass.async_block_till_done()
    notifications = persistent_notification._async_get_or_create_notifications(hass)
    message = notifications[proposal_notification_id(NAS)]["message"]
    await manager.async_unload()
    start = message.index("[WakeHub card](") + len("[WakeHub card](")
    return str(message[start : message.index(")", start)])


async def test_the_link_goes_to_the_dashboard_with_the_card(
    hass: HomeAssistant, lovelace: Any
) -> None:
    """A dashboard of the user's holds the card (in a stack): the link goes there."""
    await lovelace(
        type="lovelace/dashboards/create", url_path="dash-other", title="Other"
    )
    await lovelace(type="lovelace/dashboards/create", url_path="home-lab", title="Lab")
    await lovelace(
        type="lovelace/config/save",
        url_path="dash-other",
        config={"views": [{"cards": [OTHER]}]},
    )
    await lovelace(
        type="lovelace/config/save",
        url_path="home-lab",
        config={
            "views": [
                {"cards": [OTHER]},
                {"cards": [{"type": "vertical-stack", "cards": [OTHER, CARD]}]},
            ]
        },
    )
    assert await _proposal_link(hass) == "/home-lab"


async def test_the_default_dashboard_comes_first(
    hass: HomeAssistant, lovelace: Any
) -> None:
    """The card on the default dashboard and on another: the default one."""
    await lovelace(type="lovelace/dashboards/create", url_path="home-lab", title="Lab")
    await lovelace(
        type="lovelace/config/save",
        url_path="home-lab",
        config={"views": [{"cards": [CARD]}]},
    )
    await lovelace(
        type="lovelace/config/save",
        config={"views": [{"sections": [{"type": "grid", "cards": [CARD]}]}]},
    )
    assert await async_card_dashboard(hass) == "/lovelace"


async def test_without_a_card_the_default_dashboard(
    hass: HomeAssistant, lovelace: Any
) -> None:
    """No dashboard holds the card (the default one is generated): ``/``."""
    await lovelace(type="lovelace/dashboards/create", url_path="home-lab", title="Lab")
    await lovelace(
        type="lovelace/config/save",
        url_path="home-lab",
        config={"views": [{"cards": [OTHER]}]},
    )
    assert await _proposal_link(hass) == "/"


async def test_without_lovelace_the_default_dashboard(hass: HomeAssistant) -> None:
    """No dashboards at all (a headless set-up): ``/``."""
    assert await async_card_dashboard(hass) == "/"
    assert await _proposal_link(hass) == "/"


def test_the_card_is_found_at_any_depth() -> None:
    """Views, sections, stacks, conditional cards: the graph card counts too."""
    assert holds_card(
        {
            "views": [
                {
                    "cards": [
                        {
                            "type": "conditional",
                            "card": {"type": "custom:wakehub-graph-card"},
                        }
                    ]
                }
            ]
        }
    )
    assert not holds_card({"views": [{"cards": [OTHER]}], "title": "wakehub-card"})
    assert not holds_card(None)
