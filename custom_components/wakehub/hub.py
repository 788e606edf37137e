"""The domain-wide WakeHub hub: one topology, one orchestrator, for all entries.

Created once in ``async_setup`` and kept under :data:`HUB_KEY`. Each loaded
entry registers with it (:meth:`WakeHubHub.async_add_entry`); the hub then
rebuilds ONE topology from every loaded entry's tree plus the dependency
edges held in their options (:mod:`.graph`; an edge may cross entries:
Jellyfin on Machine2 depends on the NAS entry). It rebuilds on load, unload
and when only the edges change.

It owns the :class:`~.orchestrator.Orchestrator` and takes the requests
(start, stop, confirm a proposal) with translated refusals. Around it:

- :mod:`.cascade_report` tells Home Assistant what the orchestrator does;
- :mod:`.restart_marker` keeps the running cascade and the autoremove marks
  across a restart;
- :mod:`.proposals` asks before a re-evaluation's shutdown;
- :mod:`.service_device` finds the "WakeHub" service device and the cascade
  sensor (:class:`~.sensor.CascadeSensor`) a home among the loaded entries.
"""

from __future__ import annotations

from contextlib import contextmanager
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Final

from homeassistant.config_entries import (
    SIGNAL_CONFIG_ENTRY_CHANGED,
    ConfigEntry,
    ConfigEntryChange,
    ConfigEntryState,
)
from homeassistant.const import EVENT_HOMEASSISTANT_STOP
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers.dispatcher import async_dispatcher_connect
from homeassistant.util.hass_dict import HassKey

from .availability import async_check_unavailable_dependencies, unavailable_refusal
from .cascade_report import CascadeReporter
from .const import (
    CONF_EARLY_WAKE,
    CONF_EARLY_WAKE_STAGGER,
    CONF_MACHINE,
    CONF_PROPOSAL_EXPIRY,
    DOMAIN,
    STAGGER_MAX,
)
from .core.errors import CoreError, UnknownNodeError
from .core.topology import Topology
from .graph import build_domain_topology
from .ha_driver import HaNodeDriver
from .idle import InactivityMonitor
from .listeners import Listeners
from .migration import async_check_migrations
from .orchestrator import (
    Cascade,
    NodeNeededError,
    Orchestrator,
    OrchestratorClosedError,
)
from .proposals import ProposalManager
from .repairs import async_check_dangling_edges
from .restart_marker import RestartMarker
from .service_device import ServiceDeviceHome

if TYPE_CHECKING:
    import asyncio
    from collections.abc import Iterable, Iterator, Mapping

    from homeassistant.core import CALLBACK_TYPE

    from .coordinator import WakeHubCoordinator
    from .core.planner import Action
    from .models import WakeHubConfigEntry

HUB_KEY: HassKey[WakeHubHub] = HassKey(DOMAIN)
"""Where the hub lives in ``hass.data``."""

POLL_INTERVAL: Final = 1.0
"""Seconds between two readiness polls during a cascade (tests lower it)."""


@contextmanager
def _translated_request_errors(node_id: str) -> Iterator[None]:
    """Turn the orchestrator's refusals into translated Home Assistant errors.

    Bad input (an unknown node, an invalid request) is the user's to fix:
    ``ServiceValidationError``; an orchestrator shutting down is not.
    """
    try:
        yield
    except NodeNeededError as err:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key=err.code,
            translation_placeholders=err.placeholders,
        ) from err
    except UnknownNodeError as err:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="unknown_node",
            translation_placeholders={"node": node_id},
        ) from err
    except CoreError as err:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="invalid_request",
            translation_placeholders={"message": str(err)},
        ) from err
    except OrchestratorClosedError as err:
        raise HomeAssistantError(
            translation_domain=DOMAIN, translation_key="orchestrator_closed"
        ) from err


def _early_wake(entries: Iterable[WakeHubConfigEntry]) -> dict[str, float]:
    """The machines that opted in to early wake, with their stagger (seconds)."""
    machines: dict[str, float] = {}
    for entry in entries:
        settings = entry.options.get(CONF_MACHINE) or {}
        if settings.get(CONF_EARLY_WAKE) is True:
            stagger = settings.get(CONF_EARLY_WAKE_STAGGER)
            if not isinstance(stagger, int | float) or not 0 <= stagger <= STAGGER_MAX:
                stagger = 0  # junk stored by hand: the option's validator refuses it
            machines[entry.runtime_data.coordinator.machine_id] = float(stagger)
    return machines


class WakeHubHub:
    """The domain-wide object: the topology, the orchestrator and the requests."""

    def __init__(self, hass: HomeAssistant) -> None:
        """Create an empty hub (no entry loaded yet)."""
        self.hass = hass
        self.entries: dict[str, WakeHubConfigEntry] = {}
        self._by_node: dict[str, WakeHubCoordinator] = {}
        self.driver = HaNodeDriver(lambda: self._by_node, self.refresh_in_background)
        self.reporter = CascadeReporter(self)
        self.inactivity = InactivityMonitor(self)
        self.orchestrator = self._new_orchestrator(())
        self.marker = RestartMarker(
            hass, lambda: self.orchestrator.started_for_dependents
        )
        self.proposals = ProposalManager(
            hass, expiry_for=self._proposal_expiry, on_change=self._push_overlay
        )
        self._pending: dict[str, Action] = {}
        self._unavailable: dict[str, str] = {}
        self._unsubscribe: CALLBACK_TYPE | None = None
        self.home = ServiceDeviceHome(hass)
        self._entry_listeners: dict[str, CALLBACK_TYPE] = {}
        self._listeners = Listeners()

    # -- life cycle ---------------------------------------------------------------

    def _new_orchestrator(self, marks: Iterable[str]) -> Orchestrator:
        orchestrator = Orchestrator(
            Topology(),
            self.driver,
            poll_interval=POLL_INTERVAL,
            started_for_dependents=marks,
        )
        orchestrator.add_listener(self.reporter.on_event)
        orchestrator.add_listener(self.inactivity.on_event)
        return orchestrator

    async def async_setup(self) -> None:
        """Report a cascade a restart interrupted; shut down with Home Assistant.

        The orchestrator is created again with the stored autoremove marks
        (the nodes WakeHub started for a dependent), so the rule "stop
        automatically only what WakeHub started for a dependent" survives a
        restart.
        """
        await self.proposals.async_load()
        await self.inactivity.async_load()
        marks, interrupted = await self.marker.async_load()
        if marks:
            self.orchestrator = self._new_orchestrator(marks)
        if interrupted is not None:
            await self.reporter.async_report_interrupted(interrupted)
            self.marker.save(None)
        self.hass.bus.async_listen_once(EVENT_HOMEASSISTANT_STOP, self._async_on_stop)
        self._unsubscribe = async_dispatcher_connect(
            self.hass, SIGNAL_CONFIG_ENTRY_CHANGED, self._on_entry_changed
        )

    @callback
    def _on_entry_changed(
        self, _change: ConfigEntryChange, entry: ConfigEntry[Any]
    ) -> None:
        """Rebuild when an entry that is not loaded fails, is disabled or goes."""
        if entry.domain == DOMAIN and entry.entry_id not in self.entries:
            self.async_rebuild()

    async def _async_on_stop(self, _event: Event) -> None:
        await self.async_shutdown()

    async def async_shutdown(self) -> None:
        """Stop the orchestrator; the running cascade's marker stays stored."""
        self.reporter.stopping = True
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        await self.orchestrator.async_shutdown()
        await self.proposals.async_unload()
        await self.inactivity.async_unload()
        await self.marker.async_flush()

    @property
    def last_cascade(self) -> Cascade | None:
        """The running cascade, or the last one that ran."""
        return self.reporter.last_cascade

    # -- entries and topology -----------------------------------------------------

    @callback
    def async_add_entry(self, entry: WakeHubConfigEntry) -> None:
        """Take a loaded entry's tree and edges into the topology."""
        self.entries[entry.entry_id] = entry

        @callback
        def _on_refresh() -> None:
            self.check_withdrawals()
            async_check_migrations(self.hass, entry, self.entries.values())
            self.reporter.clear_reached_errors(entry.runtime_data.coordinator)
            self.inactivity.on_refresh(entry.runtime_data.coordinator)

        self._entry_listeners[entry.entry_id] = (
            entry.runtime_data.coordinator.async_add_listener(_on_refresh)
        )
        self.async_rebuild()
        self.home.async_entry_added(entry.entry_id)

    @callback
    def async_remove_entry(self, entry: WakeHubConfigEntry) -> None:
        """Drop an unloaded entry; move the cascade sensor if it lived there."""
        self.entries.pop(entry.entry_id, None)
        if (remove := self._entry_listeners.pop(entry.entry_id, None)) is not None:
            remove()
        self.reporter.forget(entry.runtime_data.coordinator.tree)
        self.async_rebuild()
        self.home.async_entry_removed(entry.entry_id, self.entries)

    @callback
    def async_rebuild(self) -> None:
        """Build the global topology again from every loaded entry.

        One :func:`~.graph.build_domain_topology` over every WakeHub entry: an edge
        it refuses (a cycle stored by hand) is left out with a warning. The
        nodes of an entry that is not loaded stay in, *unavailable*: a start
        that needs one is refused, and an edge to one is a repair issue
        (docs/design.md, "Unavailable nodes"). Edges to a node no entry has
        are left out and raised as repair issues
        (:func:`~.repairs.async_check_dangling_edges`).
        """
        built = build_domain_topology(self.hass)
        self._by_node = {
            node_id: self.entries[owner].runtime_data.coordinator
            for node_id, owner in built.owners.items()
            if owner in self.entries
        }
        self._unavailable = {
            node_id: owner
            for node_id, owner in built.owners.items()
            if owner not in self.entries
        }
        self.orchestrator.update_topology(built.topology)
        self.orchestrator.set_early_wake(_early_wake(self.entries.values()))
        async_check_unavailable_dependencies(
            self.hass, built.topology, self._unavailable
        )
        for node_id in self._by_node:
            self._push_overlay(node_id)
        async_check_dangling_edges(self.hass, built.topology.nodes)
        self.notify_listeners()  # the cascade sensor's node list (see node_catalog)

    @callback
    def check_withdrawals(self) -> None:
        """Withdraw the proposals that a poll or a queued start made pointless.

        Called on every coordinator update, and the moment a start is queued
        or picked up: a start that needs a proposed node (as a dependency or
        a host) withdraws the proposal at once, not at the next poll.
        """
        if not self.proposals.proposals:
            return
        states = {
            node_id: coordinator.node_state(node_id)
            for node_id, coordinator in self._by_node.items()
        }
        needed = {
            node_id: cascade.target_name
            for node_id, cascade in self.orchestrator.needed_nodes().items()
        }
        self.proposals.async_check_withdrawals(states, self.topology, needed)

    @property
    def topology(self) -> Topology:
        """The current global topology."""
        return self.orchestrator.topology

    @callback
    def clear_error(self, node_id: str) -> None:
        """Forget a node's error (the user dismissed it): its polled state shows."""
        self.orchestrator.clear_error(node_id)
        self.notify_listeners()

    @property
    def loaded_nodes(self) -> Mapping[str, WakeHubCoordinator]:
        """Every node of a loaded entry, with its entry's coordinator."""
        return self._by_node

    def coordinator_of(self, node_id: str) -> WakeHubCoordinator | None:
        """The coordinator of the entry whose tree holds ``node_id``."""
        return self._by_node.get(node_id)

    def coordinators_of(self, node_ids: Iterable[str]) -> list[WakeHubCoordinator]:
        """The coordinators of the entries holding ``node_ids``, each once."""
        found = (self._by_node.get(node_id) for node_id in node_ids)
        return list({id(c): c for c in found if c is not None}.values())

    def name_of(self, node_id: str) -> str:
        """A node's display name, or its id when it is unknown."""
        node = self.topology.nodes.get(node_id)
        return node.name if node is not None else node_id

    async def async_request(self, action: Action, node_id: str) -> Cascade:
        """Validate, plan and queue a cascade; translated errors at once.

        The listeners (switches, cascade sensor) update at once: a cascade
        queued behind another, or a start this request cancelled, shows
        before the orchestrator's next event.
        """
        if (
            refusal := unavailable_refusal(
                self.hass, self.topology, self._unavailable, action, node_id
            )
        ) is not None:
            raise refusal
        with _translated_request_errors(node_id):
            cascade = await self.orchestrator.async_request(action, node_id)
        self.check_withdrawals()
        self.notify_listeners()
        return cascade

    async def async_confirm_shutdown(self, proposal: str) -> Cascade:
        """Accept a shutdown proposal and queue its stop cascade.

        Refused, with the reason, while a queued or running start needs the
        node (a stale notification or card must never undo a start); the
        proposal, if still pending, is withdrawn then.
        """
        node_id = self.proposals.node_of(proposal)
        if node_id is None and proposal in self.topology:
            node_id = proposal
        if node_id is not None and (
            needing := self.orchestrator.starts_needing(node_id)
        ):
            self.check_withdrawals()
            with _translated_request_errors(node_id):
                raise NodeNeededError(self.name_of(node_id), needing[0])
        node_id = await self.proposals.async_confirm(proposal)
        with _translated_request_errors(node_id):
            return await self.orchestrator.async_confirm_shutdown(node_id)

    # -- listeners (cascade sensor, switches) ------------------------------------

    @callback
    def async_add_listener(self, update: CALLBACK_TYPE) -> CALLBACK_TYPE:
        """Call ``update`` whenever a cascade moves on; return the remover."""
        return self._listeners.add(update)

    @callback
    def notify_listeners(self) -> None:
        """Call every listener (a cascade moved on, the topology changed).

        The nodes' views learn first which cascades target them.
        """
        pending: dict[str, Action] = {}
        for cascade in (self.orchestrator.running, *self.orchestrator.queued):
            if (
                cascade is not None
                and not cascade.done
                and cascade.cancel_reason is None
            ):
                pending.setdefault(cascade.target, cascade.action)
        previous, self._pending = self._pending, pending
        for node_id in previous.keys() | pending.keys():
            if previous.get(node_id) != pending.get(node_id):
                self._push_overlay(node_id)
        self._listeners.notify()

    @callback
    def _push_overlay(self, node_id: str) -> None:
        """Give the node's coordinator its pending cascade and proposal."""
        if (coordinator := self._by_node.get(node_id)) is None:
            return
        proposal = self.proposals.get(node_id)
        coordinator.async_set_overlay(
            node_id,
            pending=self._pending.get(node_id),
            proposal_id=proposal.id if proposal is not None else None,
            proposal_expires_at=proposal.expires_at if proposal is not None else None,
        )

    def _proposal_expiry(self, node_id: str) -> timedelta | None:
        """The ``proposal_expiry`` option (minutes) of the node's entry."""
        coordinator = self._by_node.get(node_id)
        if coordinator is None:
            return None
        minutes = coordinator.config_entry.options.get(CONF_PROPOSAL_EXPIRY)
        return timedelta(minutes=float(minutes)) if minutes else None

    # -- background refreshes -----------------------------------------------------

    @callback
    def refresh_in_background(
        self, coordinator: WakeHubCoordinator
    ) -> asyncio.Task[None] | None:
        entry = coordinator.config_entry
        if entry.state is not ConfigEntryState.LOADED:
            return None
        self.driver.mark_refreshed(coordinator)
        return entry.async_create_task(
            self.hass, coordinator.async_refresh(), f"{DOMAIN} cascade refresh"
        )
