"""Shutdown proposals: made from real re-evaluations, answered, expired, withdrawn.

The topology is the reference homelab's corner that matters here: the NAS (a
machine: it asks before an automatic shutdown), Machine2 with the Jellyfin LXC,
Machine1 with VM-Docker and plex; Jellyfin and plex depend on the NAS.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from homeassistant.components import persistent_notification
from homeassistant.exceptions import ServiceValidationError
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import (
    async_capture_events,
    async_fire_time_changed,
)

from custom_components.wakehub.const import (
    EVENT_NODE_KEPT,
    EVENT_PROPOSAL_CLOSED,
    EVENT_SHUTDOWN_PROPOSED,
)
from custom_components.wakehub.core import (
    Capability,
    Decision,
    Node,
    NodeKind,
    PowerState,
    Topology,
    Verdict,
    reevaluate,
)
from custom_components.wakehub.notifications import proposal_notification_id
from custom_components.wakehub.proposals import (
    CLOSED_MEMORY,
    STORAGE_KEY,
    ProposalManager,
    async_handle_reevaluation,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

    from freezegun.api import FrozenDateTimeFactory
    from homeassistant.core import HomeAssistant

NAS = "aa:aa:aa:aa:aa:01"
MACHINE1 = "aa:aa:aa:aa:aa:02"
MACHINE2 = "aa:aa:aa:aa:aa:03"
VM_DOCKER = f"{MACHINE1}/101"
PLEX = f"{VM_DOCKER}/docker/plex"
JELLYFIN = f"{MACHINE2}/202"
NOTIFICATION = proposal_notification_id(NAS)


def _topology() -> Topology:
    topology = Topology()
    topology.add_node(Node(id=NAS, kind=NodeKind.MACHINE, name="NAS"))
    for node_id, name in ((MACHINE1, "Machine1"), (MACHINE2, "Machine2")):
        topology.add_node(
            Node(
                id=node_id,
                kind=NodeKind.MACHINE,
                name=name,
                capabilities=frozenset({Capability.PROXMOX}),
            )
        )
    topology.add_node(
        Node(
            id=VM_DOCKER,
            kind=NodeKind.VM,
            name="VM-Docker",
            parent=MACHINE1,
            capabilities=frozenset({Capability.DOCKER}),
        )
    )
    topology.add_node(
        Node(id=PLEX, kind=NodeKind.CONTAINER, name="plex", parent=VM_DOCKER)
    )
    topology.add_node(
        Node(id=JELLYFIN, kind=NodeKind.LXC, name="Jellyfin", parent=MACHINE2)
    )
    topology.add_dependency(JELLYFIN, NAS)
    topology.add_dependency(PLEX, NAS)
    return topology


TOPOLOGY = _topology()
NAMES = {node_id: node.name for node_id, node in TOPOLOGY.nodes.items()}
ON = PowerState.ON
OFF = PowerState.OFF


def _states(**overrides: PowerState) -> dict[str, PowerState]:
    """Everything on, Jellyfin just stopped, plex off; then the overrides."""
    states = dict.fromkeys(TOPOLOGY, ON)
    states[JELLYFIN] = OFF
    states[PLEX] = OFF
    states.update({_ID[name]: state for name, state in overrides.items()})
    return states


_ID = {"nas": NAS, "jellyfin": JELLYFIN, "plex": PLEX, "machine2": MACHINE2}


def _decisions(states: Mapping[str, PowerState]) -> list[Decision]:
    """The planner's verdicts after Jellyfin's stop cascade."""
    return reevaluate(TOPOLOGY, states, {JELLYFIN})


def _notification(hass: HomeAssistant) -> dict[str, Any] | None:
    notifications = persistent_notification._async_get_or_create_notifications(hass)
    found = notifications.get(NOTIFICATION)
    return dict(found) if found is not None else None


@pytest.fixture
async def manager(hass: HomeAssistant) -> Any:
    """A loaded manager (with persistent notifications set up)."""
    assert await async_setup_component(hass, "persistent_notification", {})
    manager = ProposalManager(hass)
    await manager.async_load()
    yield manager
    await manager.async_unload()


async def _propose(hass: HomeAssistant, manager: ProposalManager) -> str:
    decisions = _decisions(_states())
    assert decisions == [Decision(NAS, Verdict.CONFIRM)]
    await async_handle_reevaluation(manager, decisions, NAMES)
    await hass.async_block_till_done()
    (proposal,) = manager.proposals
    return proposal["proposal_id"]


async def test_confirm_decision_notifies_and_fires(
    hass: HomeAssistant, manager: ProposalManager
) -> None:
    """A CONFIRM verdict: a notification, an event, a listed proposal."""
    proposed = async_capture_events(hass, EVENT_SHUTDOWN_PROPOSED)
    proposal_id = await _propose(hass, manager)

    notification = _notification(hass)
    assert notification is not None
    assert notification["title"] == "Shut down NAS?"
    assert notification["message"].startswith(
        "Nothing running needs NAS any more. Shut it down?"
    )
    # For people: the card (a link to the dashboard) or the phone, no
    # action to type with an id; the time in Home Assistant's time zone.
    assert (
        "on the [WakeHub card](/), or from the phone notification"
        in (notification["message"])
    )
    assert "wakehub.confirm_shutdown" not in notification["message"]
    assert proposal_id not in notification["message"]
    expires = dt_util.as_local(manager.get(NAS).expires_at)
    clock = f"{expires.hour % 12 or 12}:{expires.minute:02d}"
    assert f"Without an answer by {clock} " in notification["message"]

    (event,) = proposed
    assert event.data == {
        "proposal_id": proposal_id,
        "node": NAS,
        "name": "NAS",
        "expires_at": manager.proposals[0]["expires_at"],
    }
    (listed,) = manager.proposals
    assert listed["node"] == NAS
    assert (
        listed["notification_id"]
        == NOTIFICATION
        == "wakehub_proposal_aa_aa_aa_aa_aa_01"
    )
    created = listed["created_at"]
    expires = listed["expires_at"]
    assert created < expires
    assert manager.get(proposal_id) is manager.get(NAS)


async def test_notification_in_the_users_language(
    hass: HomeAssistant, manager: ProposalManager
) -> None:
    """The notification is written in Home Assistant's language."""
    hass.config.language = "fr"
    await hass.config.async_set_time_zone("Europe/Paris")
    await _propose(hass, manager)
    notification = _notification(hass)
    assert notification is not None
    assert notification["title"] == "Éteindre NAS ?"
    assert notification["message"].startswith(
        "Plus rien d'actif n'a besoin de NAS. L'éteindre ?"
    )
    # The expiry in Home Assistant's time zone, on a 24-hour clock.
    expires = manager.get(NAS).expires_at.astimezone(
        dt_util.get_time_zone("Europe/Paris")
    )
    assert (
        f"Sans réponse avant {expires:%H:%M}, NAS reste allumé."
        in (notification["message"])
    )


async def test_keep_and_stop_decisions(
    hass: HomeAssistant, manager: ProposalManager
) -> None:
    """KEEP fires why the node stays on; STOP is left to the hub's cascades."""
    kept = async_capture_events(hass, EVENT_NODE_KEPT)
    proposed = async_capture_events(hass, EVENT_SHUTDOWN_PROPOSED)
    decisions = _decisions(_states(plex=ON))
    assert [d.verdict for d in decisions] == [Verdict.KEEP]
    await async_handle_reevaluation(
        manager, [*decisions, Decision(MACHINE2, Verdict.STOP)], NAMES
    )
    await hass.async_block_till_done()
    (event,) = kept
    assert event.data == {
        "node": NAS,
        "name": "NAS",
        "reason": "dependents",
        "active_dependents": [PLEX],
        "active_children": [],
        "dependent_names": ["plex"],
        "child_names": [],
        "needed_by": None,
        "needed_by_name": None,
    }
    assert not proposed
    assert manager.proposals == []

    await async_handle_reevaluation(
        manager, [Decision(MACHINE1, Verdict.KEEP, (), (VM_DOCKER,))], NAMES
    )
    await hass.async_block_till_done()
    assert kept[-1].data["reason"] == "children"
    assert kept[-1].data["child_names"] == ["VM-Docker"]

    await async_handle_reevaluation(
        manager, [Decision(NAS, Verdict.KEEP, needed_by=PLEX)], NAMES
    )
    await hass.async_block_till_done()
    assert kept[-1].data["reason"] == "starting"
    assert kept[-1].data["needed_by"] == PLEX
    assert kept[-1].data["needed_by_name"] == "plex"


async def test_confirm(hass: HomeAssistant, manager: ProposalManager) -> None:
    """Confirming returns the node for the stop cascade and closes everything."""
    closed = async_capture_events(hass, EVENT_PROPOSAL_CLOSED)
    proposal_id = await _propose(hass, manager)
    assert await manager.async_confirm(proposal_id) == NAS
    await hass.async_block_till_done()
    assert manager.proposals == []
    assert _notification(hass) is None
    assert [e.data["outcome"] for e in closed] == ["confirmed"]
    assert closed[0].data["proposal_id"] == proposal_id

    with pytest.raises(ServiceValidationError) as err:
        await manager.async_confirm(proposal_id)
    assert err.value.translation_key == "unknown_proposal"
    assert err.value.translation_placeholders == {"proposal": proposal_id}


async def test_confirm_by_node_id(
    hass: HomeAssistant, manager: ProposalManager
) -> None:
    """A node id answers too (the card knows nodes, not proposals)."""
    await _propose(hass, manager)
    assert await manager.async_confirm(NAS) == NAS


async def test_dismiss(hass: HomeAssistant, manager: ProposalManager) -> None:
    """Dismissing (the service's way) declines: the node stays on."""
    closed = async_capture_events(hass, EVENT_PROPOSAL_CLOSED)
    proposal_id = await _propose(hass, manager)
    assert await manager.async_dismiss(proposal_id) == NAS
    await hass.async_block_till_done()
    assert manager.proposals == []
    assert _notification(hass) is None
    assert [e.data["outcome"] for e in closed] == ["dismissed"]
    with pytest.raises(ServiceValidationError):
        await manager.async_dismiss("no-such-proposal")


async def test_dismissing_the_notification_declines(
    hass: HomeAssistant, manager: ProposalManager
) -> None:
    """Closing the notification (its dismiss action) declines the proposal."""
    closed = async_capture_events(hass, EVENT_PROPOSAL_CLOSED)
    proposal_id = await _propose(hass, manager)
    await hass.services.async_call(
        persistent_notification.DOMAIN,
        "dismiss",
        {"notification_id": NOTIFICATION},
        blocking=True,
    )
    await hass.async_block_till_done()
    assert manager.proposals == []
    assert [(e.data["proposal_id"], e.data["outcome"]) for e in closed] == [
        (proposal_id, "dismissed")
    ]

    # Another notification going away does not touch a proposal.
    await _propose(hass, manager)
    persistent_notification.async_create(hass, "other", notification_id="other")
    persistent_notification.async_dismiss(hass, "other")
    await hass.async_block_till_done()
    assert len(manager.proposals) == 1


async def test_expiry(hass: HomeAssistant, freezer: FrozenDateTimeFactory) -> None:
    """Without an answer a proposal expires after the configured time."""
    assert await async_setup_component(hass, "persistent_notification", {})
    manager = ProposalManager(hass, expiry=timedelta(minutes=10))
    await manager.async_load()
    closed = async_capture_events(hass, EVENT_PROPOSAL_CLOSED)
    await _propose(hass, manager)

    freezer.tick(timedelta(minutes=9))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    assert len(manager.proposals) == 1

    freezer.tick(timedelta(minutes=1, seconds=1))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    assert manager.proposals == []
    assert _notification(hass) is None
    assert [e.data["outcome"] for e in closed] == ["expired"]
    await manager.async_unload()


async def test_asked_again_keeps_the_id_and_renews(
    hass: HomeAssistant, manager: ProposalManager, freezer: FrozenDateTimeFactory
) -> None:
    """A second CONFIRM for the same node keeps its id, with a new expiry."""
    proposal_id = await _propose(hass, manager)
    first_expiry = manager.proposals[0]["expires_at"]
    freezer.tick(timedelta(minutes=50))
    assert await _propose(hass, manager) == proposal_id
    assert manager.proposals[0]["expires_at"] > first_expiry

    # The first expiry time passes: the renewed proposal is still pending.
    freezer.tick(timedelta(minutes=20))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    assert len(manager.proposals) == 1


async def test_restart_keeps_the_proposal_and_its_notification(
    hass: HomeAssistant, hass_storage: dict[str, Any]
) -> None:
    """A second manager on the same storage brings the proposal back."""
    assert await async_setup_component(hass, "persistent_notification", {})
    first = ProposalManager(hass)
    await first.async_load()
    proposal_id = await _propose(hass, first)
    await first.async_unload()
    assert hass_storage[STORAGE_KEY]["data"]["proposals"][0]["proposal_id"] == (
        proposal_id
    )
    # A restart loses the in-memory notifications; the unloaded manager no
    # longer listens, so this is not a decline.
    persistent_notification.async_dismiss(hass, NOTIFICATION)

    second = ProposalManager(hass)
    await second.async_load()
    assert [p["proposal_id"] for p in second.proposals] == [proposal_id]
    notification = _notification(hass)
    assert notification is not None
    assert "Nothing running needs NAS any more" in notification["message"]
    # Answers work on the restored proposal, and are written at once.
    assert await second.async_confirm(proposal_id) == NAS
    assert hass_storage[STORAGE_KEY]["data"]["proposals"] == []
    await second.async_unload()


async def test_restart_after_expiry(
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    freezer: FrozenDateTimeFactory,
) -> None:
    """A proposal that expired while Home Assistant was down is dropped."""
    assert await async_setup_component(hass, "persistent_notification", {})
    first = ProposalManager(hass)
    await first.async_load()
    await _propose(hass, first)
    await first.async_unload()

    freezer.tick(timedelta(hours=2))
    closed = async_capture_events(hass, EVENT_PROPOSAL_CLOSED)
    second = ProposalManager(hass)
    await second.async_load()
    await hass.async_block_till_done()
    assert second.proposals == []
    assert _notification(hass) is None
    assert [e.data["outcome"] for e in closed] == ["expired"]
    await second.async_unload()
    assert hass_storage[STORAGE_KEY]["data"]["proposals"] == []


async def test_malformed_storage_is_dropped(
    hass: HomeAssistant, hass_storage: dict[str, Any]
) -> None:
    """A broken stored record is logged and dropped, not fatal."""
    hass_storage[STORAGE_KEY] = {
        "version": 1,
        "minor_version": 1,
        "key": STORAGE_KEY,
        "data": {"proposals": [{"node": NAS}]},
    }
    assert await async_setup_component(hass, "persistent_notification", {})
    manager = ProposalManager(hass)
    await manager.async_load()
    assert manager.proposals == []
    await manager.async_unload()
    assert hass_storage[STORAGE_KEY]["data"]["proposals"] == []


async def test_unload_cancels_the_timers(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """After unload, nothing fires: no lingering timer."""
    assert await async_setup_component(hass, "persistent_notification", {})
    manager = ProposalManager(hass)
    await manager.async_load()
    await _propose(hass, manager)
    await manager.async_unload()
    closed = async_capture_events(hass, EVENT_PROPOSAL_CLOSED)
    freezer.tick(timedelta(hours=2))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    assert closed == []


@pytest.mark.parametrize(
    ("states", "withdrawn"),
    [
        pytest.param(_states(), False, id="nothing-changed"),
        pytest.param(_states(jellyfin=ON), True, id="dependent-back-on"),
        pytest.param(_states(plex=PowerState.STARTING), True, id="dependent-starting"),
        pytest.param(_states(jellyfin=PowerState.ERROR), True, id="dependent-error"),
        pytest.param(_states(nas=OFF), True, id="stopped-some-other-way"),
        pytest.param(_states(nas=PowerState.STOPPING), True, id="being-stopped"),
        pytest.param(_states(nas=PowerState.UNKNOWN), False, id="nas-unknown"),
    ],
)
async def test_withdrawal(
    hass: HomeAssistant,
    manager: ProposalManager,
    states: dict[str, PowerState],
    withdrawn: bool,
) -> None:
    """Withdrawn once the node is needed again or is no longer on."""
    closed = async_capture_events(hass, EVENT_PROPOSAL_CLOSED)
    await _propose(hass, manager)
    result = manager.async_check_withdrawals(states, TOPOLOGY)
    await hass.async_block_till_done()
    assert result == ([NAS] if withdrawn else [])
    assert (manager.proposals == []) is withdrawn
    assert (_notification(hass) is None) is withdrawn
    assert [e.data["outcome"] for e in closed] == (["withdrawn"] if withdrawn else [])


async def test_withdrawal_when_a_child_runs_again(
    hass: HomeAssistant, manager: ProposalManager
) -> None:
    """A machine proposal is withdrawn when one of its guests runs again."""
    await async_handle_reevaluation(
        manager, [Decision(MACHINE1, Verdict.CONFIRM)], NAMES
    )
    states = dict.fromkeys(TOPOLOGY, OFF) | {MACHINE1: ON}
    assert manager.async_check_withdrawals(states, TOPOLOGY) == []
    states[VM_DOCKER] = ON
    assert manager.async_check_withdrawals(states, TOPOLOGY) == [MACHINE1]


async def test_withdrawal_when_a_start_needs_the_node(
    hass: HomeAssistant, manager: ProposalManager
) -> None:
    """A start that needs the node withdraws its proposal, whatever the states.

    Its node is still known afterwards, by the proposal's id, so that a late
    confirmation can be refused with the reason.
    """
    proposal_id = await _propose(hass, manager)
    assert manager.node_of(proposal_id) == NAS
    assert manager.node_of(NAS) == NAS
    assert manager.async_check_withdrawals(_states(), TOPOLOGY, {}) == []
    needed = {NAS: "Jellyfin", MACHINE2: "Jellyfin"}
    assert manager.async_check_withdrawals(_states(), TOPOLOGY, needed) == [NAS]
    assert manager.proposals == []
    assert manager.get(proposal_id) is None
    assert manager.node_of(proposal_id) == NAS
    assert manager.node_of(NAS) is None
    assert manager.node_of("p_unknown") is None


async def test_closed_proposals_are_remembered_within_a_bound(
    hass: HomeAssistant, manager: ProposalManager
) -> None:
    """Only the last ``CLOSED_MEMORY`` closed proposals keep their node."""
    first = await _propose(hass, manager)
    await manager.async_dismiss(first)
    for _ in range(CLOSED_MEMORY):
        await manager.async_dismiss(await _propose(hass, manager))
    assert manager.node_of(first) is None


async def test_withdrawal_when_the_node_is_gone(
    hass: HomeAssistant, manager: ProposalManager
) -> None:
    """A node that left the topology (its entry unloaded) loses its proposal."""
    await _propose(hass, manager)
    topology = TOPOLOGY.copy()
    topology.remove_node(NAS)
    assert manager.async_check_withdrawals(_states(), topology) == [NAS]
