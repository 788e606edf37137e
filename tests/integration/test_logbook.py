"""The logbook describes every WakeHub event in plain words."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from homeassistant.core import Event
from homeassistant.helpers import entity_registry as er
import pytest

from custom_components.wakehub.const import DOMAIN
from custom_components.wakehub.logbook import DESCRIBERS, async_describe_events

if TYPE_CHECKING:
    from collections.abc import Callable

    from homeassistant.core import HomeAssistant

NAS = "aa:aa:aa:aa:aa:01"
JELLYFIN = "aa:aa:aa:aa:aa:03/202"
CASCADE = {
    "cascade_id": "c1",
    "action": "start",
    "target": JELLYFIN,
    "target_name": "Jellyfin",
    "origin": "request",
    "status": "running",
}


@pytest.fixture
async def describe(
    hass: HomeAssistant,
) -> Callable[[str, dict[str, Any]], dict[str, str]]:
    """Register the descriptions as the logbook does; describe one event."""
    registered: dict[str, Callable[[Event], dict[str, str]]] = {}

    def _register(domain: str, event_type: str, fn: Any) -> None:
        assert domain == DOMAIN
        registered[event_type] = fn

    async_describe_events(hass, _register)
    await hass.async_block_till_done()  # the texts are loaded
    assert set(registered) == set(DESCRIBERS)

    def _describe(event_type: str, data: dict[str, Any]) -> dict[str, str]:
        return registered[event_type](Event(event_type, data))

    return _describe


@pytest.mark.parametrize(
    ("event_type", "data", "name", "message"),
    [
        (
            "wakehub_cascade_started",
            {**CASCADE, "steps": [{}, {}, {}]},
            "Jellyfin",
            "began starting (3 steps)",
        ),
        (
            "wakehub_cascade_started",
            {**CASCADE, "action": "stop", "origin": "reevaluation", "steps": [{}]},
            "Jellyfin",
            "began shutting down because nothing needs it any more (1 step)",
        ),
        (
            "wakehub_cascade_step",
            {
                **CASCADE,
                "node": NAS,
                "name": "NAS",
                "step": 1,
                "total": 3,
                "status": "started",
                "detail": "starting NAS through Wake-on-LAN",
                "detail_key": "command",
                "detail_placeholders": {
                    "node": "NAS",
                    "action": "start",
                    "channel": "wol",
                },
            },
            "NAS",
            "starting (step 1/3 of starting Jellyfin): starting NAS through Wake-on-LAN",
        ),
        (
            "wakehub_cascade_step",
            {
                **CASCADE,
                "node": JELLYFIN,
                "name": "Jellyfin",
                "step": 3,
                "total": 3,
                "status": "started",
                "detail": "English text the logbook does not show",
                "detail_key": "waiting_apis",
                "detail_placeholders": {"node": "Jellyfin", "apis": "docker,proxmox"},
            },
            "Jellyfin",
            (
                "starting (step 3/3 of starting Jellyfin): waiting for Jellyfin's"
                " Docker API and Proxmox API"
            ),
        ),
        (
            "wakehub_cascade_step",
            {
                **CASCADE,
                "node": NAS,
                "name": "NAS",
                "step": 1,
                "total": 3,
                "status": "done",
            },
            "NAS",
            "started (step 1/3 of starting Jellyfin)",
        ),
        (
            "wakehub_cascade_step",
            {
                **CASCADE,
                "action": "stop",
                "node": NAS,
                "name": "NAS",
                "step": 2,
                "total": 3,
                "status": "skipped",
            },
            "NAS",
            "skipped, already off (step 2/3 of shutting down Jellyfin)",
        ),
        (
            "wakehub_cascade_completed",
            {**CASCADE, "status": "completed", "cancel_reason": None},
            "Jellyfin",
            "was started",
        ),
        (
            "wakehub_cascade_completed",
            {
                **CASCADE,
                "status": "cancelled",
                "cancel_reason": "stop of NAS requested",
                "cancel_code": "stop_requested",
                "cancel_placeholders": {"target": "NAS"},
            },
            "Jellyfin",
            "starting was cancelled: NAS is being shut down",
        ),
        (
            "wakehub_cascade_failed",
            {
                **CASCADE,
                "status": "failed",
                "node": NAS,
                "name": "NAS",
                "step": 1,
                "total": 3,
                "error_code": "timeout",
                "error_message": "NAS was not up after 300 s (waiting for NAS)",
                "error_placeholders": {"seconds": "300", "goal": "up"},
            },
            "Jellyfin",
            "starting failed at step 1/3 (NAS): not up after 300 s",
        ),
        (
            "wakehub_cascade_failed",
            {
                **CASCADE,
                "status": "interrupted",
                "node": JELLYFIN,
                "name": "Jellyfin",
                "step": 3,
                "total": 3,
                "error_code": "interrupted",
                "error_message": "restart",
            },
            "Jellyfin",
            "starting was interrupted by a restart at step 3/3",
        ),
        (
            "wakehub_shutdown_proposed",
            {
                "proposal_id": "p1",
                "node": NAS,
                "name": "NAS",
                "expires_at": "2025-01-01T00:00:00+00:00",
            },
            "NAS",
            "nothing active needs it any more: shutting it down awaits confirmation",
        ),
        (
            "wakehub_shutdown_proposal_closed",
            {"proposal_id": "p1", "node": NAS, "name": "NAS", "outcome": "expired"},
            "NAS",
            "shutdown proposal expired without an answer: it stays on",
        ),
        (
            "wakehub_node_kept",
            {
                "node": NAS,
                "name": "NAS",
                "reason": "dependents",
                "dependent_names": ["Jellyfin", "plex"],
                "child_names": [],
            },
            "NAS",
            "stays on: still needed by Jellyfin and plex",
        ),
        (
            "wakehub_node_kept",
            {
                "node": NAS,
                "name": "Machine1",
                "reason": "children",
                "dependent_names": [],
                "child_names": ["VM-Docker"],
            },
            "Machine1",
            "stays on: still hosts VM-Docker",
        ),
        (
            "wakehub_node_kept",
            {"node": NAS, "name": "NAS", "reason": "manual"},
            "NAS",
            "stays on: it was started on its own",
        ),
        (
            "wakehub_node_kept",
            {
                "node": NAS,
                "name": "NAS",
                "reason": "starting",
                "needed_by": "x/202",
                "needed_by_name": "Jellyfin",
            },
            "NAS",
            "stays on: the start of Jellyfin needs it",
        ),
    ],
)
def test_descriptions(
    describe: Callable[[str, dict[str, Any]], dict[str, str]],
    event_type: str,
    data: dict[str, Any],
    name: str,
    message: str,
) -> None:
    """Each event reads as a sentence about the node."""
    assert describe(event_type, data) == {"name": name, "message": message}


def test_entry_attached_to_the_nodes_entity(
    hass: HomeAssistant,
    describe: Callable[[str, dict[str, Any]], dict[str, str]],
) -> None:
    """With a registered entity, the entry shows on the node's page."""
    registry = er.async_get(hass)
    sensor = registry.async_get_or_create("sensor", DOMAIN, f"{NAS}-status")
    described = describe("wakehub_shutdown_proposed", {"node": NAS, "name": "NAS"})
    assert described["entity_id"] == sensor.entity_id
    switch = registry.async_get_or_create("switch", DOMAIN, f"{NAS}-power")
    described = describe("wakehub_node_kept", {"node": NAS, "name": "NAS"})
    assert described["entity_id"] == switch.entity_id
    assert described["message"] == "stays on: it is still in use"


def test_missing_data_still_reads(
    describe: Callable[[str, dict[str, Any]], dict[str, str]],
) -> None:
    """An event with little data still gives a readable entry."""
    assert describe("wakehub_cascade_failed", {}) == {
        "name": "WakeHub",
        "message": "starting failed",
    }
    assert describe("wakehub_cascade_step", {"target": JELLYFIN}) == {
        "name": "WakeHub",
        "message": f"starting (starting {JELLYFIN})",
    }
    assert (
        describe("wakehub_shutdown_proposal_closed", {"outcome": "odd"})["message"]
        == "shutdown proposal closed (odd)"
    )


async def test_descriptions_in_french(hass: HomeAssistant) -> None:
    """In Home Assistant's language: the same events read in French."""
    hass.config.language = "fr"
    registered: dict[str, Callable[[Event], dict[str, str]]] = {}
    async_describe_events(
        hass, lambda _domain, event_type, fn: registered.__setitem__(event_type, fn)
    )
    await hass.async_block_till_done()

    def message(event_type: str, data: dict[str, Any]) -> str:
        return registered[event_type](Event(event_type, data))["message"]

    assert message("wakehub_cascade_started", {**CASCADE, "steps": [1, 2, 3]}) == (
        "a commencé à démarrer (3 étapes)"
    )
    assert message(
        "wakehub_cascade_step",
        {
            **CASCADE,
            "node": NAS,
            "name": "NAS",
            "step": 1,
            "total": 3,
            "status": "done",
        },
    ) == ("démarré (étape 1/3 : démarrage de Jellyfin)")
    assert message(
        "wakehub_cascade_failed",
        {**CASCADE, "name": "NAS", "step": 1, "total": 3, "error_code": "timeout"},
    ) == ("le démarrage a échoué à l'étape 1/3 (NAS): erreur timeout")
    # What a step does, why a start was cancelled, how long WakeHub waited:
    # codes and placeholders, read in French (the API's own words stay).
    assert message(
        "wakehub_cascade_step",
        {
            **CASCADE,
            "node": JELLYFIN,
            "name": "Jellyfin",
            "step": 3,
            "total": 3,
            "status": "started",
            "detail": "starting Jellyfin through Machine2's Proxmox API",
            "detail_key": "command_via",
            "detail_placeholders": {
                "node": "Jellyfin",
                "action": "start",
                "channel": "proxmox",
                "host": "Machine2",
            },
        },
    ).endswith(": démarrage de Jellyfin via l'API Proxmox de Machine2")
    assert message(
        "wakehub_cascade_completed",
        {
            **CASCADE,
            "status": "cancelled",
            "cancel_reason": "stop of NAS requested",
            "cancel_code": "stop_requested",
            "cancel_placeholders": {"target": "NAS"},
        },
    ).endswith(": NAS est en cours d'arrêt")
    assert message(
        "wakehub_cascade_failed",
        {
            **CASCADE,
            "name": "NAS",
            "step": 1,
            "total": 3,
            "error_code": "timeout",
            "error_message": "NAS was not up after 300 s",
            "error_placeholders": {"seconds": "300", "goal": "up"},
        },
    ).endswith(": pas démarré après 300 s")
    assert message(
        "wakehub_cascade_failed",
        {
            **CASCADE,
            "name": "Jellyfin",
            "step": 3,
            "total": 3,
            "error_code": "api_error",
            "error_message": "HTTP 500: internal error",
        },
    ).endswith(": erreur api_error (HTTP 500: internal error)")
    # A code whose message WakeHub writes in English: its own sentence.
    assert message(
        "wakehub_cascade_failed",
        {
            **CASCADE,
            "name": "Machine2",
            "step": 2,
            "total": 3,
            "error_code": "auth_failed",
            "error_message": "Proxmox API at 10.0.0.2 refused the token",
            "api": "Proxmox",
            "host": "Machine2",
        },
    ) == (
        "le démarrage a échoué à l'étape 2/3 (Machine2): Proxmox sur Machine2 a"
        " refusé les identifiants de WakeHub : mettez-les à jour dans les réglages"
        " de la machine."
    )
    assert message(
        "wakehub_node_kept",
        {"node": NAS, "name": "NAS", "dependent_names": ["plex", "Jellyfin"]},
    ) == ("reste allumé : encore nécessaire à plex et Jellyfin")
    assert message("wakehub_shutdown_proposal_closed", {"outcome": "dismissed"}) == (
        "extinction refusée : il reste allumé"
    )


async def test_idle_readings_in_french(hass: HomeAssistant) -> None:
    """The readings of an idle node, from the event's criteria, in French.

    Not the event's English ``description``: each reading's criterion, figure
    and note are translated.
    """
    hass.config.language = "fr"
    registered: dict[str, Callable[[Event], dict[str, str]]] = {}
    async_describe_events(
        hass, lambda _domain, event_type, fn: registered.__setitem__(event_type, fn)
    )
    await hass.async_block_till_done()
    data = {
        "node": NAS,
        "name": "NAS",
        "minutes": 30,
        "action": "propose",
        "criteria": [
            {"criterion": "cpu", "idle": True, "value": 1.71, "threshold": 50.0},
            {"criterion": "network", "idle": True, "value": 120, "threshold": 1000},
            {"criterion": "connections", "idle": True, "value": 0},
            {"criterion": "ram", "idle": False, "value": None, "note": "unknown"},
            {
                "criterion": "entity",
                "idle": True,
                "value": "idle",
                "entity_id": "media_player.tv",
            },
            {"criterion": "network", "idle": True, "value": None, "note": "baseline"},
        ],
        "description": "English text the logbook does not show",
    }
    message = registered["wakehub_node_idle"](Event("wakehub_node_idle", data))
    assert message["message"] == (
        "inactif depuis 30 min (CPU 1.7 % (seuil 50 %); réseau 120 o/min (seuil"
        " 1000); connexions : 0; RAM : non lu; media_player.tv : idle; réseau :"
        " première mesure) : son extinction attend une confirmation"
    )
