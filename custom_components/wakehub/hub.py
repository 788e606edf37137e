"""The domain-wide WakeHub hub: one topology, one orchestrator, for all entries.

Created once in ``async_setup`` and kept under :data:`HUB_KEY`. Each loaded
entry registers with it (:meth:`WakeHubHub.async_add_entry`); the hub then
rebuilds ONE topology from every loaded entry's tree plus the dependency
edges held in their options (an edge may cross entries: Jellyfin on Machine2
depends on the NAS entry). It rebuilds on load, unload and options change.

It owns the :class:`~.orchestrator.Orchestrator` and maps its events to Home
Assistant:

- the coordinators' activity overlay: a node's status sensor shows
  ``starting``/``stopping``/``error`` with the current step in its
  attributes (``"2/3: waiting for Machine2's Proxmox API"``);
- bus events ``wakehub_cascade_started``/``_step``/``_completed``/``_failed``;
- a persistent notification, in the user's language, when a cascade fails;
- fast polling of the coordinators a running cascade acts on;
- the domain-level cascade sensor (see :class:`CascadeSensor`);
- a persisted marker of the running cascade, so that a cascade interrupted by
  a restart is reported as interrupted at the next start.

The cascade sensor belongs to one config entry (the first loaded one, its
"home") and sits on a small "WakeHub" service device. When the home entry
unloads, the sensor is added again through another loaded entry's sensor
platform (same unique id: the entity registry moves it), and the device is
moved along. The device also moves from a former home that is no longer
loaded (after the last entry unloaded, or a restart where another entry loads
first): Home Assistant 2026 would otherwise keep a second "WakeHub" device.
"""

from __future__ import annotations

from contextlib import contextmanager
from datetime import timedelta
import logging
from typing import TYPE_CHECKING, Any, Final

from homeassistant.components import persistent_notification
from homeassistant.components.sensor import SensorDeviceClass, SensorEntity
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import EVENT_HOMEASSISTANT_STOP, Platform
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import device_registry as dr, entity_registry as er
from homeassistant.helpers.device_registry import DeviceEntryType, DeviceInfo
from homeassistant.helpers.entity_platform import async_get_platforms
from homeassistant.helpers.storage import Store
from homeassistant.helpers.translation import async_get_translations
from homeassistant.util.hass_dict import HassKey

from .channels.errors import HostKeyMismatchError, NoQuorumError
from .compat import async_get_node_device, async_move_node_device
from .const import (
    CASCADE_NOTIFICATION_PREFIX,
    CONF_NODE,
    CONF_PINNED,
    CONF_PROPOSAL_EXPIRY,
    CONF_PROXMOX,
    CONF_URL,
    DOMAIN,
    EVENT_CASCADE_COMPLETED,
    EVENT_CASCADE_FAILED,
    EVENT_CASCADE_STARTED,
    EVENT_CASCADE_STEP,
)
from .coordinator import NodeActivity as Overlay
from .core.errors import CoreError, UnknownNodeError
from .core.topology import Topology
from .driver import HaNodeDriver
from .entity import node_settings
from .graph import build_topology
from .migration import async_move_guest
from .orchestrator import (
    Cascade,
    CascadeEnded,
    CascadeStarted,
    CascadeStatus,
    NodeActivityChanged,
    NodeNeededError,
    Orchestrator,
    OrchestratorClosedError,
    OrchestratorEvent,
    Reevaluated,
    StepChanged,
    StepEventKind,
)
from .proposals import ProposalManager
from .repairs import async_check_dangling_edges

if TYPE_CHECKING:
    import asyncio
    from collections.abc import Iterable, Iterator, Mapping

    from homeassistant.core import CALLBACK_TYPE

    from .coordinator import WakeHubConfigEntry, WakeHubCoordinator
    from .core.planner import Action

_LOGGER = logging.getLogger(__package__)

HUB_KEY: HassKey[WakeHubHub] = HassKey(DOMAIN)
"""Where the hub lives in ``hass.data``."""

POLL_INTERVAL: Final = 1.0
"""Seconds between two readiness polls during a cascade (tests lower it)."""

SERVICE_DEVICE_ID: Final = "wakehub"
"""The identifier of the "WakeHub" service device that holds the cascade sensor."""
CASCADE_SENSOR_UNIQUE_ID: Final = f"{DOMAIN}-cascade"

STORAGE_KEY: Final = f"{DOMAIN}.cascade"
STORAGE_VERSION: Final = 1


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


class WakeHubHub:
    """The domain-wide object: topology, orchestrator and their HA surfaces."""

    def __init__(self, hass: HomeAssistant) -> None:
        """Create an empty hub (no entry loaded yet)."""
        self.hass = hass
        self.entries: dict[str, WakeHubConfigEntry] = {}
        self._by_node: dict[str, WakeHubCoordinator] = {}
        self.driver = HaNodeDriver(lambda: self._by_node, self._refresh_in_background)
        self.orchestrator = self._new_orchestrator(())
        self.proposals = ProposalManager(hass, expiry_for=self._proposal_expiry)
        self._entry_listeners: dict[str, CALLBACK_TYPE] = {}
        self._listeners: list[CALLBACK_TYPE] = []
        self._step_text: dict[str, str] = {}
        self._fast_polling: dict[str, list[CALLBACK_TYPE]] = {}
        self._store: Store[dict[str, Any]] = Store(hass, STORAGE_VERSION, STORAGE_KEY)
        self._marker: dict[str, Any] | None = None
        self._stopping = False
        self._home: str | None = None
        self.last_cascade: Cascade | None = None

    # -- life cycle ---------------------------------------------------------------

    def _new_orchestrator(self, marks: Iterable[str]) -> Orchestrator:
        orchestrator = Orchestrator(
            Topology(),
            self.driver,
            poll_interval=POLL_INTERVAL,
            started_for_dependents=marks,
        )
        orchestrator.add_listener(self._on_event)
        return orchestrator

    async def async_setup(self) -> None:
        """Report a cascade a restart interrupted; shut down with Home Assistant.

        The orchestrator is created again with the stored autoremove marks
        (the nodes WakeHub started for a dependent), so the rule "stop
        automatically only what WakeHub started for a dependent" survives a
        restart.
        """
        await self.proposals.async_load()
        stored = await self._store.async_load()
        marks = [str(node) for node in (stored or {}).get("marks") or []]
        if marks:
            self.orchestrator = self._new_orchestrator(marks)
        if stored and (marker := stored.get("running")):
            await self._async_report_interrupted(marker)
            self._save_marker(None)
        self.hass.bus.async_listen_once(EVENT_HOMEASSISTANT_STOP, self._async_on_stop)

    async def _async_on_stop(self, _event: Event) -> None:
        await self.async_shutdown()

    async def async_shutdown(self) -> None:
        """Stop the orchestrator; the running cascade's marker stays stored."""
        self._stopping = True
        await self.orchestrator.async_shutdown()
        self.driver.cancel_pending()
        await self.proposals.async_unload()
        await self._store.async_save(self._data_to_save())

    # -- entries and topology -----------------------------------------------------

    @callback
    def async_add_entry(self, entry: WakeHubConfigEntry) -> None:
        """Take a loaded entry's tree and edges into the topology."""
        self.entries[entry.entry_id] = entry

        @callback
        def _on_refresh() -> None:
            self._check_withdrawals()
            self._check_migrations(entry)

        self._entry_listeners[entry.entry_id] = (
            entry.runtime_data.coordinator.async_add_listener(_on_refresh)
        )
        self.async_rebuild()
        if self._home is None:
            self._async_home_sensor(entry)

    @callback
    def async_remove_entry(self, entry: WakeHubConfigEntry) -> None:
        """Drop an unloaded entry; move the cascade sensor if it lived there."""
        self.entries.pop(entry.entry_id, None)
        if (remove := self._entry_listeners.pop(entry.entry_id, None)) is not None:
            remove()
        for node_id in entry.runtime_data.coordinator.tree:
            self._step_text.pop(node_id, None)
        self.async_rebuild()
        if self._home == entry.entry_id:
            self._home = None
            for other in self.entries.values():
                if self._async_home_sensor(other, previous=entry.entry_id):
                    break

    @callback
    def async_rebuild(self) -> None:
        """Build the global topology again from every loaded entry.

        One :func:`~.graph.build_topology` over the loaded entries: an edge
        it refuses (a cycle stored by hand) is left out with a warning. Edges
        to a node no loaded entry has are left out there and raised as
        repair issues (:func:`~.repairs.async_check_dangling_edges`).
        """
        built = build_topology(self.entries.values())
        self._by_node = {
            node_id: self.entries[owner].runtime_data.coordinator
            for node_id, owner in built.owners.items()
        }
        self.orchestrator.update_topology(built.topology)
        async_check_dangling_edges(self.hass, built.topology.nodes)
        self._notify()  # the cascade sensor's node list (see node_catalog)

    @callback
    def _check_migrations(self, entry: WakeHubConfigEntry) -> None:
        """Move the guests that migrated to another machine's node to its entry.

        A guest its node no longer runs, which the cluster reports on the
        node of another loaded entry, moves there with its settings,
        containers, dependencies and entities (:mod:`.migration`).
        """
        snapshot = entry.runtime_data.coordinator.data
        if snapshot is None or not snapshot.migrated:
            return
        for node_id, pve_node in snapshot.migrated.items():
            target = next(
                (
                    other
                    for other in self.entries.values()
                    if other.entry_id != entry.entry_id
                    and (other.data.get(CONF_PROXMOX) or {}).get(CONF_NODE) == pve_node
                ),
                None,
            )
            if target is not None:
                async_move_guest(self.hass, entry, target, node_id)

    @callback
    def _check_withdrawals(self) -> None:
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

    def node_catalog(self) -> list[dict[str, Any]]:
        """Every node, as the dashboard card lists it, in the cascade sensor.

        Each item holds what the status sensor's attributes say of the node
        (``node_id``, ``kind``, ``pinned``, ``url``), its ``name``, and
        ``status_entity``, the entity id of its status sensor (``None``
        before it is registered). A sensor that is
        unavailable loses its attributes in Home Assistant's state machine;
        the card still finds its node here, and shows it unavailable.
        """
        registry = er.async_get(self.hass)
        catalog: list[dict[str, Any]] = []
        for node_id, coordinator in self._by_node.items():
            tree_node = coordinator.tree.get(node_id)
            if tree_node is None:  # pragma: no cover - rebuilt from the tree
                continue
            settings = node_settings(coordinator, tree_node)
            catalog.append(
                {
                    "node_id": node_id,
                    "kind": tree_node.kind.value,
                    "pinned": bool(settings.get(CONF_PINNED)),
                    "url": settings.get(CONF_URL) or None,
                    "name": tree_node.name,
                    "status_entity": registry.async_get_entity_id(
                        Platform.SENSOR, DOMAIN, f"{node_id}-status"
                    ),
                }
            )
        return catalog

    def coordinator_of(self, node_id: str) -> WakeHubCoordinator | None:
        """The coordinator of the entry whose tree holds ``node_id``."""
        return self._by_node.get(node_id)

    def name_of(self, node_id: str) -> str:
        """A node's display name, or its id when it is unknown."""
        node = self.topology.nodes.get(node_id)
        return node.name if node is not None else node_id

    def pending_action(self, node_id: str) -> str | None:
        """``start``/``stop`` when a queued or running cascade targets the node."""
        for cascade in (self.orchestrator.running, *self.orchestrator.queued):
            if (
                cascade is not None
                and not cascade.done
                and cascade.cancel_reason is None
                and cascade.target == node_id
            ):
                return str(cascade.action)
        return None

    async def async_request(self, action: Action, node_id: str) -> Cascade:
        """Validate, plan and queue a cascade; translated errors at once.

        The listeners (switches, cascade sensor) update at once: a cascade
        queued behind another, or a start this request cancelled, shows
        before the orchestrator's next event.
        """
        with _translated_request_errors(node_id):
            cascade = await self.orchestrator.async_request(action, node_id)
        self._check_withdrawals()
        self._notify()
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
            self._check_withdrawals()
            with _translated_request_errors(node_id):
                raise NodeNeededError(self.name_of(node_id), needing[0])
        node_id = await self.proposals.async_confirm(proposal)
        with _translated_request_errors(node_id):
            return await self.orchestrator.async_confirm_shutdown(node_id)

    # -- listeners (cascade sensor, switches) ------------------------------------

    @callback
    def async_add_listener(self, update: CALLBACK_TYPE) -> CALLBACK_TYPE:
        """Call ``update`` whenever a cascade moves on; return the remover."""
        self._listeners.append(update)

        @callback
        def remove() -> None:
            if update in self._listeners:
                self._listeners.remove(update)

        return remove

    @callback
    def _notify(self) -> None:
        for update in list(self._listeners):
            update()

    # -- orchestrator events ----------------------------------------------------

    @callback
    def _on_event(self, event: OrchestratorEvent) -> None:
        if isinstance(event, NodeActivityChanged):
            self._apply_overlay(event.node)
            return
        if isinstance(event, StepChanged):
            self._on_step(event)
        elif isinstance(event, CascadeStarted):
            self._on_started(event.cascade)
            self._check_withdrawals()
        elif isinstance(event, CascadeEnded):
            self._on_ended(event.cascade)
        elif isinstance(event, Reevaluated):
            self._on_reevaluated(event)
        self._notify()

    @callback
    def _apply_overlay(self, node_id: str) -> None:
        coordinator = self._by_node.get(node_id)
        activity = self.orchestrator.node_activity(node_id)
        if activity is None:
            self._step_text.pop(node_id, None)
            if coordinator is not None:
                coordinator.clear_activity(node_id)
            return
        if coordinator is not None:
            coordinator.set_activity(
                node_id,
                Overlay(
                    state=activity.state,
                    step=self._step_text.get(node_id),
                    error_code=activity.code,
                    error_message=activity.message,
                ),
            )

    @callback
    def _on_started(self, cascade: Cascade) -> None:
        self.last_cascade = cascade
        ends: list[CALLBACK_TYPE] = []
        for coordinator in {
            id(c): c
            for node in cascade.nodes
            if (c := self._by_node.get(node)) is not None
        }.values():
            ends.append(coordinator.async_begin_fast_polling())
            coordinator.async_update_listeners()
        self._fast_polling[cascade.id] = ends
        self._save_marker(_marker(cascade))
        self.hass.bus.async_fire(
            EVENT_CASCADE_STARTED,
            {
                **_event_base(cascade),
                "steps": [
                    {
                        "node": cstep.node,
                        "name": cstep.name,
                        "action": str(cstep.step.action),
                        "channel": str(cstep.step.channel),
                    }
                    for cstep in cascade.steps
                ],
            },
        )

    @callback
    def _on_step(self, event: StepChanged) -> None:
        cascade, cstep = event.cascade, event.step
        if event.detail is not None:
            self._step_text[cstep.node] = (
                f"{event.index + 1}/{event.total}: {event.detail}"
            )
            self._apply_overlay(cstep.node)
        if event.kind is StepEventKind.STARTED:
            self._save_marker(_marker(cascade, event.index))
        if event.kind is StepEventKind.WAITING:
            return
        self.hass.bus.async_fire(
            EVENT_CASCADE_STEP,
            {
                **_event_base(cascade),
                "node": cstep.node,
                "name": cstep.name,
                "step": event.index + 1,
                "total": event.total,
                "status": str(event.kind),
                "detail": event.detail,
            },
        )

    @callback
    def _on_ended(self, cascade: Cascade) -> None:
        self.last_cascade = cascade
        for end in self._fast_polling.pop(cascade.id, []):
            end()
        # A last refresh of every tree the cascade touched: the entities show
        # where it left the nodes without waiting for the next poll.
        for coordinator in {
            id(c): c for node in cascade.nodes if (c := self._by_node.get(node))
        }.values():
            coordinator.async_update_listeners()
            if not self._stopping:
                self._refresh_in_background(coordinator)
        if self._stopping and cascade.status is CascadeStatus.INTERRUPTED:
            return  # Reported at the next start, from the stored marker.
        if self._marker is not None and self._marker.get("id") == cascade.id:
            self._save_marker(None)
        else:
            self._save_marker(self._marker)  # the autoremove marks changed
        if cascade.status in (CascadeStatus.COMPLETED, CascadeStatus.CANCELLED):
            self.hass.bus.async_fire(
                EVENT_CASCADE_COMPLETED,
                {**_event_base(cascade), "cancel_reason": cascade.cancel_reason},
            )
            return
        error = cascade.error
        step = error.step if error is not None else None
        node = error.node if error is not None and error.node else cascade.target
        data = {
            **_event_base(cascade),
            "node": node,
            "name": self.name_of(node),
            "step": step + 1 if step is not None else None,
            "total": len(cascade.steps),
            "error_code": error.code if error is not None else None,
            "error_message": error.message if error is not None else None,
        }
        self.hass.bus.async_fire(EVENT_CASCADE_FAILED, data)
        texts = ("cascade_failed_title", "cascade_failed")
        if data["error_code"] == HostKeyMismatchError.code and (
            machine := self._async_review_host_key(node)
        ):
            texts = ("cascade_failed_host_key_title", "cascade_failed_host_key")
            data = {**data, "machine": machine}
        elif data["error_code"] == NoQuorumError.code:
            texts = ("cascade_failed_no_quorum_title", "cascade_failed_no_quorum")
        self.hass.async_create_task(
            self._async_notify_failure(cascade.id, texts, data),
            eager_start=True,
        )

    @callback
    def _async_review_host_key(self, node: str) -> str | None:
        """Start the reauth that reviews a machine's changed SSH host key.

        ``node`` failed on a host key: the machine itself (its shutdown) or a
        container of the machine's own Docker API through SSH. Returns the
        machine's entry title, or ``None`` when the key is not the machine's
        (a guest's Docker tunnel: its key is re-pinned in the node settings).
        """
        coordinator = self._by_node.get(node)
        if coordinator is None:
            return None
        machine = coordinator.machine_id
        if node != machine and coordinator.tree[node].parent != machine:
            return None
        entry = coordinator.config_entry
        entry.async_start_reauth(self.hass)
        return entry.title

    @callback
    def _on_reevaluated(self, event: Reevaluated) -> None:
        # Every node: a KEEP decision names the dependents and children
        # that keep the node on.
        names = {node_id: node.name for node_id, node in self.topology.nodes.items()}
        self.hass.async_create_task(
            self.proposals.async_handle_reevaluation(event.decisions, names),
            eager_start=True,
        )

    # -- notifications and the restart marker -------------------------------------

    async def _async_notify_failure(
        self, cascade_id: str, texts: tuple[str, str], data: Mapping[str, Any]
    ) -> None:
        """A persistent notification in the user's language (English fallback).

        ``texts`` are the ``exceptions`` keys of its title and its message.
        """
        placeholders = {
            "target": str(data["target_name"]),
            "node": str(data.get("name") or data["target_name"]),
            "step": str(data.get("step") or "?"),
            "total": str(data.get("total") or "?"),
            "code": str(data.get("error_code") or ""),
            "message": str(data.get("error_message") or ""),
            "machine": str(data.get("machine") or ""),
        }
        title = await self._async_text(texts[0], placeholders)
        message = await self._async_text(texts[1], placeholders)
        persistent_notification.async_create(
            self.hass,
            message,
            title=title,
            notification_id=f"{CASCADE_NOTIFICATION_PREFIX}{cascade_id}",
        )

    async def _async_text(self, key: str, placeholders: Mapping[str, str]) -> str:
        full_key = f"component.{DOMAIN}.exceptions.{key}.message"
        text: str | None = None
        for language in dict.fromkeys((self.hass.config.language, "en")):
            strings = await async_get_translations(
                self.hass, language, "exceptions", [DOMAIN]
            )
            if (text := strings.get(full_key)) is not None:
                break
        if text is None:
            return key
        try:
            return text.format(**placeholders)
        except (KeyError, IndexError, ValueError):
            return text

    async def _async_report_interrupted(self, marker: Mapping[str, Any]) -> None:
        data = {
            "cascade_id": marker.get("id"),
            "action": marker.get("action"),
            "target": marker.get("target"),
            "target_name": marker.get("target_name"),
            "origin": marker.get("origin"),
            "status": str(CascadeStatus.INTERRUPTED),
            "node": marker.get("node"),
            "name": marker.get("name"),
            "step": marker.get("step"),
            "total": marker.get("total"),
            "error_code": "interrupted",
            "error_message": "Home Assistant restarted during the cascade",
        }
        _LOGGER.warning(
            "The cascade %s of %s was interrupted by a restart at step %s/%s",
            data["action"],
            data["target_name"],
            data["step"],
            data["total"],
        )
        self.hass.bus.async_fire(EVENT_CASCADE_FAILED, data)
        await self._async_notify_failure(
            str(marker.get("id")),
            ("cascade_interrupted_title", "cascade_interrupted"),
            data,
        )

    @callback
    def _save_marker(self, marker: dict[str, Any] | None) -> None:
        """Store the running cascade's marker, and the autoremove marks."""
        self._marker = marker
        self._store.async_delay_save(self._data_to_save, 0)

    def _data_to_save(self) -> dict[str, Any]:
        return {
            "running": self._marker,
            "marks": sorted(self.orchestrator.started_for_dependents),
        }

    def _proposal_expiry(self, node_id: str) -> timedelta | None:
        """The ``proposal_expiry`` option (minutes) of the node's entry."""
        coordinator = self._by_node.get(node_id)
        if coordinator is None:
            return None
        minutes = coordinator.config_entry.options.get(CONF_PROPOSAL_EXPIRY)
        return timedelta(minutes=float(minutes)) if minutes else None

    # -- background refreshes -----------------------------------------------------

    @callback
    def _refresh_in_background(
        self, coordinator: WakeHubCoordinator
    ) -> asyncio.Task[None] | None:
        entry = coordinator.config_entry
        if entry.state is not ConfigEntryState.LOADED:
            return None
        self.driver.mark_refreshed(coordinator)
        return entry.async_create_task(
            self.hass, coordinator.async_refresh(), f"{DOMAIN} cascade refresh"
        )

    # -- the cascade sensor -------------------------------------------------------

    @callback
    def _async_home_sensor(
        self, entry: WakeHubConfigEntry, previous: str | None = None
    ) -> bool:
        """Add the cascade sensor through ``entry``'s sensor platform."""
        platform = next(
            (
                p
                for p in async_get_platforms(self.hass, DOMAIN)
                if p.domain == Platform.SENSOR
                and p.config_entry is not None
                and p.config_entry.entry_id == entry.entry_id
            ),
            None,
        )
        if platform is None:
            return False
        self._home = entry.entry_id
        if previous is None:
            # A former home (before the last entry unloaded, or before a
            # restart) may still hold the device: it moves from there too.
            previous = self._service_device_holder(entry.entry_id)
        if previous is not None:
            # The same device changes hands (see compat): no copy is left behind.
            async_move_node_device(
                self.hass, SERVICE_DEVICE_ID, previous, entry.entry_id
            )
        dr.async_get(self.hass).async_get_or_create(
            config_entry_id=entry.entry_id,
            identifiers={(DOMAIN, SERVICE_DEVICE_ID)},
            name="WakeHub",
            manufacturer="WakeHub",
            model="Orchestrator",
            entry_type=DeviceEntryType.SERVICE,
        )
        if previous is not None:
            ent_reg = er.async_get(self.hass)
            if entity_id := ent_reg.async_get_entity_id(
                Platform.SENSOR, DOMAIN, CASCADE_SENSOR_UNIQUE_ID
            ):
                ent_reg.async_update_entity(entity_id, config_entry_id=entry.entry_id)
        self.hass.async_create_task(
            platform.async_add_entities([CascadeSensor(self)]), eager_start=True
        )
        return True

    def _service_device_holder(self, entry_id: str) -> str | None:
        """Another WakeHub entry that holds the "WakeHub" service device."""
        for other in self.hass.config_entries.async_entries(DOMAIN):
            if other.entry_id != entry_id and (
                async_get_node_device(self.hass, other.entry_id, SERVICE_DEVICE_ID)
                is not None
            ):
                return other.entry_id
        return None


def _event_base(cascade: Cascade) -> dict[str, Any]:
    return {
        "cascade_id": cascade.id,
        "action": str(cascade.action),
        "target": cascade.target,
        "target_name": cascade.target_name,
        "origin": str(cascade.origin),
        "status": str(cascade.status),
    }


def _marker(cascade: Cascade, index: int | None = None) -> dict[str, Any]:
    """What the store keeps of the running cascade."""
    cstep = cascade.steps[index] if index is not None else None
    return {
        "id": cascade.id,
        "action": str(cascade.action),
        "target": cascade.target,
        "target_name": cascade.target_name,
        "origin": str(cascade.origin),
        "total": len(cascade.steps),
        "step": index + 1 if index is not None else None,
        "node": cstep.node if cstep is not None else None,
        "name": cstep.name if cstep is not None else None,
    }


CASCADE_STATES: Final = ["idle", "running"]


class CascadeSensor(SensorEntity):
    """Idle or running, with the current (or last) cascade in its attributes.

    The attributes give the target, the action, the status and every step
    with its own status (pending, running, done, skipped, failed, cancelled),
    for dashboards, and ``nodes``: every node as the card lists it (see
    :meth:`WakeHubHub.node_catalog`), since this sensor stays available when
    a node's own entities do not.
    """

    _attr_has_entity_name = True
    _attr_should_poll = False
    _attr_translation_key = "cascade"
    _attr_device_class = SensorDeviceClass.ENUM
    _attr_options = CASCADE_STATES
    _attr_unique_id = CASCADE_SENSOR_UNIQUE_ID
    _unrecorded_attributes = frozenset({"steps", "queued", "nodes"})

    def __init__(self, hub: WakeHubHub) -> None:
        """Follow ``hub``'s cascades."""
        self._hub = hub
        self._attr_device_info = DeviceInfo(
            identifiers={(DOMAIN, SERVICE_DEVICE_ID)},
            name="WakeHub",
            manufacturer="WakeHub",
            model="Orchestrator",
            entry_type=DeviceEntryType.SERVICE,
        )

    async def async_added_to_hass(self) -> None:
        """Update on every cascade event."""
        self.async_on_remove(self._hub.async_add_listener(self.async_write_ha_state))

    @property
    def native_value(self) -> str:
        """``running`` while a cascade runs, else ``idle``."""
        orchestrator = self._hub.orchestrator
        running = orchestrator.running
        busy = (running is not None and not running.done) or orchestrator.queued
        return "running" if busy else "idle"

    @property
    def extra_state_attributes(self) -> dict[str, Any]:
        """The running (or last) cascade, its steps, and what is queued."""
        orchestrator = self._hub.orchestrator
        cascade = orchestrator.running or self._hub.last_cascade
        attributes: dict[str, Any] = {
            "target": None,
            "target_name": None,
            "action": None,
            "status": None,
            "steps": [],
            "queued": [c.target_name for c in orchestrator.queued],
            "nodes": self._hub.node_catalog(),
        }
        if cascade is not None:
            data = cascade.as_dict()
            attributes.update(
                {
                    "cascade_id": data["id"],
                    "target": data["target"],
                    "target_name": data["target_name"],
                    "action": data["action"],
                    "status": data["status"],
                    "current_step": data["current_step"],
                    "steps": [
                        {
                            "node": step["node"],
                            "name": step["name"],
                            "action": step["action"],
                            "status": step["status"],
                        }
                        for step in data["steps"]
                    ],
                    "error": data["error"],
                }
            )
        return attributes
