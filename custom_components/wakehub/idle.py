"""Inactivity rules in Home Assistant: the monitor and the idle sensor.

The pure rule, timer and parsers live in :mod:`.inactivity`; this module feeds
them (docs/data-updates.md, "Inactivity"). After every refresh of an entry,
each of its nodes whose rule is enabled and which is on is sampled by
:mod:`.idle_sampling` (one job per module, docs/design.md).

The timer is suspended while a cascade involves the node, and reset while a
dependent is active; a start request resets it. When it is due,
:mod:`.idle_action` fires ``wakehub_node_idle`` (with every criterion and its
value) and runs a normal stop cascade, or makes a shutdown proposal when the
node asks before an automatic shutdown. The idle times are stored (a
``Store``) and survive a restart without being due at once.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Final

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import UnitOfTime
from homeassistant.core import (
    CALLBACK_TYPE,
    Event,
    EventStateChangedData,
    HomeAssistant,
    callback,
)
from homeassistant.helpers.event import async_track_state_change_event
from homeassistant.helpers.storage import Store

from .const import DOMAIN
from .core.model import PowerState, is_active
from .core.planner import Action
from .entity import WakeHubEntity
from .idle_action import async_act_when_due
from .idle_sampling import Watch, async_sample, rule_of
from .inactivity import IdleTimer, Rule, Suspension, evaluate
from .listeners import Listeners
from .orchestrator import CascadeStarted

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from .coordinator import WakeHubCoordinator
    from .hub import WakeHubHub
    from .models import TreeNode
    from .orchestrator import OrchestratorEvent

__all__ = ["IdleSensor", "InactivityMonitor", "Watch", "idle_sensors", "rule_of"]

STORAGE_KEY: Final = f"{DOMAIN}.inactivity"
STORAGE_VERSION: Final = 1
SAVE_DELAY: Final = 10.0


class InactivityMonitor:
    """Samples the nodes with a rule after each refresh and acts when due."""

    def __init__(self, hub: WakeHubHub) -> None:
        """Prepare the monitor; nothing is read before :meth:`async_load`."""
        self.hub = hub
        self.hass: HomeAssistant = hub.hass
        self.clock: Callable[[], float] = time.monotonic
        """Monotonic seconds; tests scale time through it."""
        self._store: Store[dict[str, Any]] = Store(
            self.hass, STORAGE_VERSION, STORAGE_KEY
        )
        self._stored: dict[str, Any] = {}
        self._watches: dict[str, Watch] = {}
        self._sampled: dict[str, object] = {}  # entry id -> the snapshot sampled
        self._busy: set[str] = set()
        self._listeners = Listeners()
        self._tracked: frozenset[str] = frozenset()
        self._untrack: CALLBACK_TYPE | None = None

    # -- life cycle ------------------------------------------------------------

    async def async_load(self) -> None:
        """Read the idle times stored before the last restart."""
        stored = await self._store.async_load() or {}
        timers = stored.get("timers")
        self._stored = dict(timers) if isinstance(timers, dict) else {}

    async def async_unload(self) -> None:
        """Stop following the signal entities; write the idle times now."""
        if self._untrack is not None:
            self._untrack()
            self._untrack = None
        await self._store.async_save(self._data_to_save())

    def _data_to_save(self) -> dict[str, Any]:
        timers = dict(self._stored)
        timers.update(
            {node_id: watch.timer.as_dict() for node_id, watch in self._watches.items()}
        )
        return {"timers": timers}

    def _schedule_save(self) -> None:
        self._store.async_delay_save(self._data_to_save, SAVE_DELAY)

    # -- queries ---------------------------------------------------------------

    def watch(self, node_id: str) -> Watch | None:
        """The node's watch, when its rule is enabled and it was sampled."""
        return self._watches.get(node_id)

    @callback
    def async_add_listener(self, update: CALLBACK_TYPE) -> CALLBACK_TYPE:
        """Call ``update`` after every sampling round; return the remover."""
        return self._listeners.add(update)

    # -- hooks -----------------------------------------------------------------

    @callback
    def on_refresh(self, coordinator: WakeHubCoordinator) -> None:
        """Sample the entry's nodes once per new snapshot (not per overlay)."""
        entry_id = coordinator.config_entry.entry_id
        snapshot = coordinator.data
        if snapshot is None or self._sampled.get(entry_id) is snapshot:
            return
        if entry_id in self._busy:
            return  # the next refresh samples again
        self._sampled[entry_id] = snapshot
        self._busy.add(entry_id)
        coordinator.config_entry.async_create_background_task(
            self.hass, self._async_sample_entry(coordinator), f"{DOMAIN} inactivity"
        )

    @callback
    def on_event(self, event: OrchestratorEvent) -> None:
        """A start request resets the count of every node it starts."""
        if not isinstance(event, CascadeStarted):
            return
        cascade = event.cascade
        if cascade.action is not Action.START:
            return
        nodes = {cascade.target, *(s.step.node for s in cascade.steps)}
        for node_id in nodes:
            if (watch := self._watches.get(node_id)) is not None:
                watch.timer.reset()
                if watch.status is not None:
                    watch.status = watch.timer.status()
        self._schedule_save()
        self._notify()

    def _notify(self) -> None:
        self._listeners.notify()

    # -- sampling --------------------------------------------------------------

    def _watch_for(self, node_id: str, rule: Rule) -> Watch:
        watch = self._watches.get(node_id)
        if watch is None:
            timer = IdleTimer.restore(self._stored.pop(node_id, None), rule.period_s)
            watch = self._watches[node_id] = Watch(rule=rule, timer=timer)
        elif watch.rule != rule:
            watch.rule = rule
            watch.timer = watch.timer.with_period(rule.period_s)
        return watch

    async def _async_sample_entry(self, coordinator: WakeHubCoordinator) -> None:
        try:
            for node in list(coordinator.tree.values()):
                rule = rule_of(coordinator, node)
                if not rule.enabled:
                    self._watches.pop(node.id, None)
                    continue
                await self._async_sample_node(coordinator, node, rule)
        finally:
            self._busy.discard(coordinator.config_entry.entry_id)
        self._track_signals()
        self._schedule_save()
        self._notify()

    @callback
    def _track_signals(self) -> None:
        """Follow every signal entity between polls (a short use counts too)."""
        wanted = frozenset(
            signal.entity_id
            for watch in self._watches.values()
            for signal in watch.rule.signals
        )
        if wanted == self._tracked:
            return
        if self._untrack is not None:
            self._untrack()
            self._untrack = None
        self._tracked = wanted
        if wanted:
            self._untrack = async_track_state_change_event(
                self.hass, wanted, self._on_signal
            )

    @callback
    def _on_signal(self, event: Event[EventStateChangedData]) -> None:
        """A signal that says "in use" resets the count of its nodes at once."""
        entity_id = event.data["entity_id"]
        new = event.data["new_state"]
        value = new.state if new is not None else None
        changed = False
        for watch in self._watches.values():
            if watch.status is None:
                continue  # off, or not sampled yet
            for signal in watch.rule.signals:
                if signal.entity_id == entity_id and signal.is_active(value):
                    watch.timer.reset()
                    watch.status = watch.timer.status()
                    changed = True
        if changed:
            self._schedule_save()
            self._notify()

    def _suspension(self, node_id: str) -> Suspension | None:
        """A cascade involving the node, or an active dependent, suspends it.

        A step acting on the node right now shows as its state (starting,
        stopping): the node is not on then, and is not sampled at all.
        """
        orchestrator = self.hub.orchestrator
        for cascade in (orchestrator.running, *orchestrator.queued):
            if cascade is None or cascade.done:
                continue
            if cascade.target == node_id or any(
                s.step.node == node_id for s in cascade.steps
            ):
                return Suspension.CASCADE
        topology = self.hub.topology
        if node_id in topology:
            for dependent in topology.dependents(node_id, transitive=True):
                owner = self.hub.coordinator_of(dependent)
                if owner is not None and is_active(owner.node_state(dependent)):
                    return Suspension.DEPENDENT_ACTIVE
        return None

    async def _async_sample_node(
        self, coordinator: WakeHubCoordinator, node: TreeNode, rule: Rule
    ) -> None:
        watch = self._watch_for(node.id, rule)
        if coordinator.node_state(node.id) is not PowerState.ON:
            watch.forget()
            return
        now = self.clock()
        sample = await async_sample(self.hass, coordinator, node, watch, now)
        watch.verdict = evaluate(rule, sample)
        watch.status = watch.timer.observe(
            now,
            idle=watch.verdict.idle,
            suspension=self._suspension(node.id),
        )
        if watch.status.due:
            await async_act_when_due(self.hub, node, watch)


IDLE_DESCRIPTION: Final = SensorEntityDescription(
    key="idle",
    device_class=SensorDeviceClass.DURATION,
    native_unit_of_measurement=UnitOfTime.MINUTES,
    state_class=SensorStateClass.MEASUREMENT,
    suggested_display_precision=0,
)


def idle_sensors(
    hub: WakeHubHub, coordinator: WakeHubCoordinator
) -> Iterable[IdleSensor]:
    """One idle sensor per node of the entry whose rule is enabled."""
    return [
        IdleSensor(hub.inactivity, coordinator, node)
        for node in coordinator.tree.values()
        if rule_of(coordinator, node).enabled
    ]


class IdleSensor(WakeHubEntity, SensorEntity):
    """A node's idle time against its rule, with each criterion's value."""

    _attr_translation_key = "idle"
    _unrecorded_attributes = frozenset({"criteria", "status"})

    def __init__(
        self,
        monitor: InactivityMonitor,
        coordinator: WakeHubCoordinator,
        node: TreeNode,
    ) -> None:
        """Bind the sensor to the node and the monitor."""
        super().__init__(coordinator, node, IDLE_DESCRIPTION)
        self._monitor = monitor

    async def async_added_to_hass(self) -> None:
        """Follow the monitor's rounds as well as the coordinator."""
        await super().async_added_to_hass()
        self.async_on_remove(
            self._monitor.async_add_listener(self.async_write_ha_state)
        )

    @property
    def native_value(self) -> float:
        """Minutes counted idle so far."""
        watch = self._monitor.watch(self.node.id)
        if watch is None or watch.status is None:
            return 0
        return round(watch.status.idle_s / 60, 1)

    @property
    def extra_state_attributes(self) -> dict[str, Any]:
        """The status text, the period, the time left and every criterion."""
        watch = self._monitor.watch(self.node.id)
        rule = watch.rule if watch is not None else rule_of(self.coordinator, self.node)
        attributes: dict[str, Any] = {
            "status": watch.summary() if watch is not None else "off",
            "period": rule.minutes,
        }
        status = watch.status if watch is not None else None
        if status is None:
            attributes["state"] = "off"
            attributes["remaining"] = None
            return attributes
        attributes["state"] = str(status.state)
        attributes["remaining"] = round(status.remaining_s / 60, 1)
        if status.suspension is not None:
            attributes["suspension"] = str(status.suspension)
        if watch is not None and watch.verdict is not None:
            attributes["criteria"] = {
                reading.entity_id or str(reading.criterion): reading.as_dict()
                for reading in watch.verdict.readings
            }
        return attributes
