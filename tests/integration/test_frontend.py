"""The dashboard card: served on a static path, loaded as an extra JS module.

The ``frontend`` component cannot load in these tests, so its
``add_extra_js_url`` is patched; ``http`` is real, and the card's file is
fetched through it. Also: the status sensors carry what the card reads.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import TYPE_CHECKING
from unittest.mock import patch

from homeassistant.setup import async_setup_component

from custom_components.wakehub.card import CARD_URL, async_register_card
from custom_components.wakehub.const import DOMAIN
from custom_components.wakehub.graph_card import GRAPH_CARD_URL

from .conftest import entity_id_of

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant
    from pytest_homeassistant_custom_component.common import MockConfigEntry
    from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

ADD_EXTRA_JS_URL = "homeassistant.components.frontend.add_extra_js_url"


async def test_card_is_served_and_registered(
    hass: HomeAssistant, hass_client: ClientSessionGenerator
) -> None:
    """With http and frontend loaded, async_setup serves and registers the card."""
    assert await async_setup_component(hass, "http", {})
    hass.config.components.add("frontend")
    with patch(ADD_EXTRA_JS_URL) as add_extra_js_url:
        assert await async_setup_component(hass, DOMAIN, {})
        await hass.async_block_till_done()
        # A second registration is harmless: same URL, registered once.
        url = await async_register_card(hass)

    assert url is not None
    assert url.startswith(f"{CARD_URL}?v=")
    # Registered once, with the graph card (and its languages) after it.
    urls = [c.args[1] for c in add_extra_js_url.call_args_list]
    assert urls[0] == url
    assert len(urls) == 2
    assert urls[1].startswith(f"{GRAPH_CARD_URL}?v=")
    assert urls[1].endswith("&l=en,fr")

    client = await hass_client()
    response = await client.get(url)
    assert response.status == HTTPStatus.OK
    assert "javascript" in response.headers["Content-Type"]
    text = await response.text()
    assert '"wakehub-card": WakeHubCard' in text
    assert "getStubConfig" in text
    # The URL lists the languages found (one file each), served beside it
    # with the same version.
    version = url.split("?v=")[1].split("&")[0]
    assert url.endswith("&l=en,fr")
    for language, word in (("en", '"Shut down"'), ("fr", '"Éteindre"')):
        response = await client.get(f"/{DOMAIN}/translations/{language}.js?v={version}")
        assert response.status == HTTPStatus.OK
        assert "javascript" in response.headers["Content-Type"]
        assert word in await response.text()
    # The graph card, its URL with the same languages; its text (section
    # "graph") is in the same files.
    response = await client.get(urls[1])
    assert response.status == HTTPStatus.OK
    assert 'customElements.define("wakehub-graph-card"' in await response.text()
    assert urls[1].endswith(f"&t={version}&l=en,fr")
    for language, word in (
        ("en", "Add a dependency"),
        ("fr", "Ajouter une dépendance"),
    ):
        response = await client.get(f"/{DOMAIN}/translations/{language}.js")
        assert word in await response.text()


async def test_card_skipped_without_frontend(hass: HomeAssistant) -> None:
    """No http/frontend (a headless set-up): nothing registered, setup fine."""
    with patch(ADD_EXTRA_JS_URL) as add_extra_js_url:
        assert await async_setup_component(hass, DOMAIN, {})
        assert await async_register_card(hass) is None
    add_extra_js_url.assert_not_called()


async def test_status_attributes_for_the_card(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """Every status sensor says its node id, kind, pin and URL."""
    machine = hass.states.get(entity_id_of("Machine1"))
    assert machine is not None
    assert machine.attributes["kind"] == "machine"
    assert machine.attributes["pinned"] is False
    assert machine.attributes["url"] is None
    assert isinstance(machine.attributes["node_id"], str)
    assert "proposal_id" not in machine.attributes
    vm = hass.states.get(entity_id_of("VM-Docker"))
    assert vm is not None
    assert vm.attributes["kind"] == "vm"
    assert vm.attributes["node_id"].startswith(machine.attributes["node_id"])
