"""Shutdown proposals: the re-evaluation's questions to the user.

After a stop cascade, the planner's re-evaluation may find a dependency that
nothing needs any more but that asks before an automatic shutdown (a machine,
by default). Such a CONFIRM decision becomes a *proposal*:

* a persistent notification (id ``wakehub_proposal_<node id, slugified>``),
  in the user's language, asks "Nothing active needs NAS any more. Shut
  it down?" and says how to answer;
* a ``wakehub_shutdown_proposed`` event (``proposal_id``, ``node``, ``name``,
  ``expires_at``) lets automations answer, e.g. from a mobile actionable
  notification.

The answers:

* :meth:`ProposalManager.async_confirm` (the ``wakehub.confirm_shutdown``
  action) closes the proposal and returns the node id; the caller runs the
  stop cascade;
* :meth:`ProposalManager.async_dismiss` (the ``wakehub.dismiss_shutdown``
  action), or dismissing the notification, declines it;
* without an answer the proposal expires (default one hour; the
  ``proposal_expiry`` option of the entry owning the node, in minutes);
* it is withdrawn as soon as the node gets an active dependent or child again,
  is stopped some other way, or a queued or running start needs it (as a
  dependency or a host: :meth:`ProposalManager.async_check_withdrawals`,
  which the hub calls the moment it queues a start). A confirmation that
  arrives while such a start exists is refused by the hub, with the reason
  (:meth:`ProposalManager.node_of` finds the node of a withdrawn proposal).

Every end fires ``wakehub_shutdown_proposal_closed`` (``proposal_id``,
``node``, ``name``, ``outcome``), so an automation can clear what it showed.
KEEP decisions fire ``wakehub_node_kept`` with why the node stays on
(``reason``: ``dependents``, ``children``, ``starting`` when a queued start
needs it, or ``manual`` for a node started on its own). Proposal ids start with ``p_``. Pending
proposals are persisted with a :class:`~homeassistant.helpers.storage.Store`
and come back, with their notifications, after a restart.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Final
import uuid

from homeassistant.components import persistent_notification
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers.event import async_track_point_in_utc_time
from homeassistant.util import dt as dt_util

from .const import (
    DEFAULT_PROPOSAL_EXPIRY,
    DOMAIN,
    EVENT_PROPOSAL_CLOSED,
    EVENT_SHUTDOWN_PROPOSED,
)
from .core.model import PowerState, is_active
from .core.planner import Decision, Verdict
from .dashboard_link import async_card_dashboard
from .node_kept import report_kept
from .notifications import async_local_time, async_notify
from .proposal_record import PROPOSAL_ID_PREFIX, Outcome, Proposal
from .proposal_store import STORAGE_KEY, ProposalStore

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping
    from datetime import datetime, timedelta

    from .core.topology import Topology
    from .proposal_record import ProposalDict

_LOGGER = logging.getLogger(__name__)

CLOSED_MEMORY: Final = 100
"""How many closed proposals :meth:`ProposalManager.node_of` still knows."""


def withdrawal_reason(
    node_id: str,
    states: Mapping[str, PowerState],
    topology: Topology,
    needed: Mapping[str, str],
) -> str | None:
    """Why a proposal about ``node_id`` no longer makes sense, or ``None``.

    See :meth:`ProposalManager.async_check_withdrawals`.
    """
    if node_id not in topology:
        return "it no longer exists"
    if (target := needed.get(node_id)) is not None:
        return f"the start of {target} needs it"
    if states.get(node_id, PowerState.OFF) in (PowerState.OFF, PowerState.STOPPING):
        return "it was stopped some other way"
    if any(is_active(states.get(n)) for n in topology.dependents(node_id)):
        return "it has an active dependent again"
    if any(is_active(states.get(n)) for n in topology.children(node_id)):
        return "it hosts an active node again"
    return None


class ProposalManager:
    """Persist, notify, answer, expire and withdraw shutdown proposals.

    The hub creates one in ``async_setup``, awaits :meth:`async_load`, feeds
    it every :class:`~.orchestrator.events.Reevaluated` event through
    :func:`async_handle_reevaluation`, calls :meth:`async_check_withdrawals`
    on every coordinator update, and :meth:`async_unload` when it goes away.
    """

    def __init__(
        self,
        hass: HomeAssistant,
        *,
        expiry: timedelta = DEFAULT_PROPOSAL_EXPIRY,
        expiry_for: Callable[[str], timedelta | None] | None = None,
        on_change: Callable[[str], None] | None = None,
        store_key: str = STORAGE_KEY,
    ) -> None:
        """Prepare an empty manager; nothing is read before :meth:`async_load`.

        ``expiry_for(node_id)`` gives the expiry configured for a node (the
        ``proposal_expiry`` option of the entry owning it), or ``None`` for
        ``expiry``. ``on_change(node_id)`` is called when a proposal about
        the node is made, renewed or closed.
        """
        self.hass = hass
        self.expiry = expiry
        self._expiry_for = expiry_for
        self._on_change = on_change
        self._store = ProposalStore(
            hass,
            store_key,
            lambda: [dict(p.as_dict()) for p in self._proposals.values()],
        )
        self._proposals: dict[str, Proposal] = {}  # by node id
        self._closed: dict[str, str] = {}  # node id by closed proposal id
        self._timers: dict[str, CALLBACK_TYPE] = {}  # by node id
        self._unsubscribe: CALLBACK_TYPE | None = None

    # ------------------------------------------------------------- life cycle

    async def async_load(self) -> None:
        """Read the stored proposals, re-notify the live ones, expire the others.

        Also starts listening to persistent-notification removals: dismissing
        a proposal's notification declines it.
        """
        now = dt_util.utcnow()
        expired: list[Proposal] = []
        for raw in await self._store.async_load():
            try:
                proposal = Proposal.from_dict(raw)
            except (KeyError, TypeError, ValueError):
                _LOGGER.warning("Dropping a malformed stored proposal: %s", raw)
                self._store.dirty = True
                continue
            if proposal.expires_at <= now:
                expired.append(proposal)
                continue
            self._proposals[proposal.node] = proposal
        self._unsubscribe = persistent_notification.async_register_callback(
            self.hass, self._async_notifications_updated
        )
        for proposal in expired:
            self._store.dirty = True
            persistent_notification.async_dismiss(self.hass, proposal.notification_id)
            fire_closed(self.hass, proposal, Outcome.EXPIRED)
        for proposal in self._proposals.values():
            await async_notify_proposal(self.hass, proposal)
            self._schedule_expiry(proposal)
        if self._store.dirty:
            self._store.schedule_save()

    async def async_unload(self) -> None:
        """Cancel every timer and subscription, and write what is pending.

        Proposals and their notifications stay: they outlive a restart.
        """
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        for cancel in self._timers.values():
            cancel()
        self._timers.clear()
        await self._store.async_save_if_dirty()

    # ---------------------------------------------------------------- queries

    @property
    def proposals(self) -> list[ProposalDict]:
        """The pending proposals, oldest first, for the card and the sensors."""
        return [
            proposal.as_dict()
            for proposal in sorted(
                self._proposals.values(), key=lambda proposal: proposal.created_at
            )
        ]

    def get(self, proposal_id_or_node_id: str) -> Proposal | None:
        """Return the pending proposal with this id, or about this node."""
        if (proposal := self._proposals.get(proposal_id_or_node_id)) is not None:
            return proposal
        for proposal in self._proposals.values():
            if proposal.id == proposal_id_or_node_id:
                return proposal
        return None

    def node_of(self, proposal_id_or_node_id: str) -> str | None:
        """The node a pending or recently closed proposal is about.

        A confirmation may come from a notification shown before the
        proposal was withdrawn: its node tells the caller why it is refused.
        """
        if (proposal := self.get(proposal_id_or_node_id)) is not None:
            return proposal.node
        return self._closed.get(proposal_id_or_node_id)

    # -------------------------------------------------------- re-evaluations

    async def async_propose(self, node_id: str, names: Mapping[str, str]) -> Proposal:
        """Make (or renew) the proposal to shut ``node_id`` down.

        A node that already has a pending proposal keeps its proposal id (an
        automation may hold it); the question is asked again with a new
        expiry.
        """
        now = dt_util.utcnow()
        name = names.get(node_id, node_id)
        expiry = self.expiry_of(node_id)
        proposal = self._proposals.get(node_id)
        if proposal is None:
            proposal = Proposal(
                id=f"{PROPOSAL_ID_PREFIX}{uuid.uuid4().hex}",
                node=node_id,
                name=name,
                created_at=now,
                expires_at=now + expiry,
            )
            self._proposals[node_id] = proposal
        else:
            proposal.name = name
            proposal.expires_at = now + expiry
        _LOGGER.info(
            "Nothing active needs %s any more: asking before shutting it down"
            " (proposal %s)",
            name,
            proposal.id,
        )
        self._schedule_expiry(proposal)
        self._changed(node_id)
        await async_notify_proposal(self.hass, proposal)
        self.hass.bus.async_fire(
            EVENT_SHUTDOWN_PROPOSED,
            {
                "proposal_id": proposal.id,
                "node": proposal.node,
                "name": proposal.name,
                "expires_at": proposal.expires_at.isoformat(),
            },
        )
        self._store.schedule_save()
        return proposal

    def expiry_of(self, node_id: str) -> timedelta:
        """How long a proposal about ``node_id`` waits for an answer."""
        if self._expiry_for is not None and (configured := self._expiry_for(node_id)):
            return configured
        return self.expiry

    # ---------------------------------------------------------------- answers

    async def async_confirm(self, proposal_id_or_node_id: str) -> str:
        """Accept a proposal; return its node id, for the caller's stop cascade."""
        return await self._async_answer(proposal_id_or_node_id, Outcome.CONFIRMED)

    async def async_dismiss(self, proposal_id_or_node_id: str) -> str:
        """Decline a proposal: the node stays on. Returns its node id."""
        return await self._async_answer(proposal_id_or_node_id, Outcome.DISMISSED)

    async def _async_answer(self, proposal_id_or_node_id: str, outcome: Outcome) -> str:
        """Close a proposal with the user's answer, stored at once.

        Raises :class:`ServiceValidationError` (``unknown_proposal``) when no
        proposal has this id or is about this node.
        """
        proposal = self._require(proposal_id_or_node_id)
        self._close(proposal, outcome)
        await self._store.async_flush()
        return proposal.node

    @callback
    def async_check_withdrawals(
        self,
        states: Mapping[str, PowerState],
        topology: Topology,
        needed: Mapping[str, str] | None = None,
    ) -> list[str]:
        """Withdraw the proposals that no longer make sense; return their nodes.

        ``states`` maps node ids to their current state (the polled one, or a
        cascade's overlay); a node without a state counts as off. ``needed``
        maps the nodes that a queued or running start needs to the name of
        that start's target. A proposal is withdrawn when its node left the
        topology, a start needs it, it is off or stopping (it was stopped
        some other way), or has an active dependent or hosted child again
        (error and unknown count as active, to be safe).
        """
        withdrawn: list[str] = []
        for proposal in list(self._proposals.values()):
            why = withdrawal_reason(proposal.node, states, topology, needed or {})
            if why is None:
                continue
            _LOGGER.info(
                "Withdrawing the proposal to shut %s down: %s", proposal.name, why
            )
            self._close(proposal, Outcome.WITHDRAWN)
            withdrawn.append(proposal.node)
        return withdrawn

    def _require(self, proposal_id_or_node_id: str) -> Proposal:
        """Return the pending proposal, or raise a translated validation error."""
        proposal = self.get(proposal_id_or_node_id)
        if proposal is None:
            raise ServiceValidationError(
                f"There is no pending shutdown proposal {proposal_id_or_node_id!r}",
                translation_domain=DOMAIN,
                translation_key="unknown_proposal",
                translation_placeholders={"proposal": proposal_id_or_node_id},
            )
        return proposal

    @callback
    def _close(self, proposal: Proposal, outcome: Outcome) -> None:
        """End a proposal: forget it, remove its notification, tell the bus.

        The proposal leaves the table *before* its notification is dismissed,
        so that our own removal is not taken for the user declining it.
        """
        if self._proposals.get(proposal.node) is not proposal:
            return
        del self._proposals[proposal.node]
        self._closed[proposal.id] = proposal.node
        while len(self._closed) > CLOSED_MEMORY:
            del self._closed[next(iter(self._closed))]
        if (cancel := self._timers.pop(proposal.node, None)) is not None:
            cancel()
        persistent_notification.async_dismiss(self.hass, proposal.notification_id)
        if outcome is not Outcome.WITHDRAWN:
            _LOGGER.info("The proposal to shut %s down was %s", proposal.name, outcome)
        self._changed(proposal.node)
        fire_closed(self.hass, proposal, outcome)
        self._store.schedule_save()

    def _changed(self, node_id: str) -> None:
        if self._on_change is not None:
            self._on_change(node_id)

    @callback
    def _async_notifications_updated(
        self,
        update_type: persistent_notification.UpdateType,
        notifications: Mapping[str, persistent_notification.Notification],
    ) -> None:
        """Dismissing a proposal's notification declines the proposal."""
        if update_type != persistent_notification.UpdateType.REMOVED:
            return
        for proposal in list(self._proposals.values()):
            if proposal.notification_id in notifications:
                _LOGGER.debug("Notification of proposal %s dismissed", proposal.id)
                self._close(proposal, Outcome.DISMISSED)

    # ---------------------------------------------------- expiry, notification

    def _schedule_expiry(self, proposal: Proposal) -> None:
        """(Re)arm the timer that expires ``proposal``."""
        if (cancel := self._timers.pop(proposal.node, None)) is not None:
            cancel()

        @callback
        def _expire(_now: datetime) -> None:
            self._timers.pop(proposal.node, None)
            self._close(proposal, Outcome.EXPIRED)

        self._timers[proposal.node] = async_track_point_in_utc_time(
            self.hass, _expire, proposal.expires_at
        )


async def async_handle_reevaluation(
    manager: ProposalManager, decisions: Iterable[Decision], names: Mapping[str, str]
) -> None:
    """Turn CONFIRM decisions into ``manager``'s proposals; report KEEP decisions.

    ``names`` maps node ids to display names (a missing one shows the id).
    STOP decisions are ignored: the orchestrator runs them as cascades. A
    node that already has a pending proposal keeps its proposal id (an
    automation may hold it); the question is asked again with a new
    expiry.

    ``names`` should cover every node of the topology: a KEEP decision
    names the dependents and children that keep the node on.
    """
    for decision in decisions:
        if decision.verdict is Verdict.KEEP:
            report_kept(manager.hass, decision, names)
        elif decision.verdict is Verdict.CONFIRM:
            await manager.async_propose(decision.node, names)


def fire_closed(hass: HomeAssistant, proposal: Proposal, outcome: Outcome) -> None:
    """Tell the bus how a proposal ended (``wakehub_shutdown_proposal_closed``)."""
    hass.bus.async_fire(
        EVENT_PROPOSAL_CLOSED,
        {
            "proposal_id": proposal.id,
            "node": proposal.node,
            "name": proposal.name,
            "outcome": str(outcome),
        },
    )


async def async_notify_proposal(hass: HomeAssistant, proposal: Proposal) -> None:
    """Create (or replace) the proposal's notification, translated."""
    placeholders = {
        "name": proposal.name,
        "proposal_id": proposal.id,
        # The dashboard that holds the card, else the default one.
        "dashboard": await async_card_dashboard(hass),
        "expires_at": await async_local_time(hass, proposal.expires_at),
    }
    await async_notify(
        hass,
        proposal.notification_id,
        ("proposal_title", "proposal_message"),
        placeholders,
    )
