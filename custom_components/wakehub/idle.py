"""Inactivity rules in Home Assistant: sample each node, count, then act.

The pure rule, timer and parsers live in :mod:`.inactivity`; this module feeds
them. After every refresh of an entry, each of its nodes whose rule is
enabled and which is on is sampled (docs/data-updates.md, "Inactivity"):

* a Proxmox guest: ``cpu``, ``mem``/``maxmem``, ``netin``+``netout`` from the
  poll's own ``/cluster/resources`` (no extra request);
* a container: Docker's stats endpoint, once per rule period (one request per
  container with a rule per period, never per poll); the figures of that read
  hold until the next;
* a machine: the fixed read-only SSH commands (``ss`` for connections,
  ``/proc/stat`` and ``/proc/meminfo`` for CPU and RAM), at most once a
  minute, over the machine's pinned SSH settings;
* Home Assistant entities: their current state, no request at all.

The timer is suspended while a cascade involves the node, and reset while a
dependent is active; a start request resets it. When it is due, WakeHub fires
``wakehub_node_idle`` (with every criterion and its value) and runs a normal
stop cascade, or makes a shutdown proposal when the node asks before an
automatic shutdown. The idle times are stored (a ``Store``) and survive a
restart without being due at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import logging
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
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers.event import async_track_state_change_event
from homeassistant.helpers.storage import Store

from .channels import ChannelError, DockerHost, ReadOnlyCommand
from .const import CONF_INACTIVITY, DOMAIN, EVENT_NODE_IDLE
from .core.model import NodeKind, PowerState, is_active
from .core.planner import Action
from .entity import WakeHubEntity, node_settings
from .inactivity import (
    CounterRate,
    IdleTimer,
    Note,
    Rule,
    Sample,
    Suspension,
    TimerState,
    TimerStatus,
    Verdict,
    evaluate,
)
from .inactivity.parsers import CpuTimes, count_connections, cpu_percent, parse_proc
from .listeners import Listeners
from .orchestrator import CascadeStarted

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from .coordinator import WakeHubCoordinator
    from .hub import WakeHubHub
    from .models import TreeNode
    from .orchestrator import OrchestratorEvent

_LOGGER = logging.getLogger(__name__)

STORAGE_KEY: Final = f"{DOMAIN}.inactivity"
STORAGE_VERSION: Final = 1
SAVE_DELAY: Final = 10.0
SSH_READ_INTERVAL: Final = 60.0
"""Seconds between two SSH reads of one machine (the figures hold between)."""
GUESTS: Final = (NodeKind.VM, NodeKind.LXC)


def rule_of(coordinator: WakeHubCoordinator, node: TreeNode) -> Rule:
    """The node's stored rule; a malformed one is the default (disabled) rule."""
    raw = node_settings(coordinator, node).get(CONF_INACTIVITY)
    try:
        return Rule.from_dict(raw)
    except (TypeError, ValueError, KeyError):
        _LOGGER.warning("%s: ignoring a malformed inactivity rule %s", node.name, raw)
        return Rule()


@dataclass(slots=True)
class Watch:
    """One node's rule in motion: its timer and its last readings."""

    rule: Rule
    timer: IdleTimer
    net: CounterRate = field(default_factory=CounterRate)
    verdict: Verdict | None = None
    status: TimerStatus | None = None
    read_at: float | None = None
    """When the last Docker or SSH read was made (monotonic)."""
    remote: Sample = field(default_factory=Sample)
    """That read's figures, which hold until the next one."""
    cpu_times: CpuTimes | None = None

    def forget(self) -> None:
        """The node is off: the count and the baselines start over."""
        self.timer.reset()
        self.net.clear()
        self.verdict = self.status = self.read_at = self.cpu_times = None
        self.remote = Sample()

    def summary(self) -> str:
        """A short English status: ``idle 12 of 30 min``, ``active: 3 connections``."""
        status, verdict = self.status, self.verdict
        if status is None:
            return "off"
        if status.state is TimerState.SUSPENDED:
            return f"suspended: {status.suspension}"
        if verdict is not None and not verdict.idle:
            reasons = ", ".join(r.describe() for r in verdict.active_readings)
            return f"active: {reasons or 'no criterion'}"
        return f"idle {int(status.idle_s // 60)} of {self.rule.minutes} min"


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
        sample = await self._async_sample(coordinator, node, watch, now)
        watch.verdict = evaluate(rule, sample)
        watch.status = watch.timer.observe(
            now,
            idle=watch.verdict.idle,
            suspension=self._suspension(node.id),
        )
        if watch.status.due:
            await self._async_due(node, watch)

    def _entities(self, rule: Rule) -> dict[str, str | None]:
        states = {}
        for signal in rule.signals:
            state = self.hass.states.get(signal.entity_id)
            states[signal.entity_id] = state.state if state is not None else None
        return states

    async def _async_sample(
        self, coordinator: WakeHubCoordinator, node: TreeNode, watch: Watch, now: float
    ) -> Sample:
        rule = watch.rule
        entities = self._entities(rule)
        if node.kind in GUESTS:
            data = coordinator.data.nodes.get(node.id) if coordinator.data else None
            details = data.details if data is not None else {}
            cpu = details.get("cpu")
            mem, maxmem = details.get("mem"), details.get("maxmem")
            net = None
            if "netin" in details and "netout" in details:
                net = int(details["netin"]) + int(details["netout"])
            return Sample(
                cpu_percent=float(cpu) * 100 if cpu is not None else None,
                ram_percent=100.0 * mem / maxmem
                if mem is not None and maxmem
                else None,
                network_rate=watch.net.update(net, now) if rule.network else None,
                entities=entities,
            )
        if node.kind is NodeKind.CONTAINER:
            if (rule.cpu or rule.ram or rule.network) and (
                watch.read_at is None or now - watch.read_at >= rule.period_s
            ):
                watch.read_at = now
                watch.remote = await self._async_read_container(
                    coordinator, node, watch, now
                )
        elif (rule.cpu or rule.ram or rule.connections) and (
            watch.read_at is None or now - watch.read_at >= SSH_READ_INTERVAL
        ):
            watch.read_at = now
            watch.remote = await self._async_read_machine(coordinator, watch)
        remote = watch.remote
        return Sample(
            cpu_percent=remote.cpu_percent,
            ram_percent=remote.ram_percent,
            network_rate=remote.network_rate,
            connections=remote.connections,
            entities=entities,
        )

    async def _async_read_container(
        self, coordinator: WakeHubCoordinator, node: TreeNode, watch: Watch, now: float
    ) -> Sample:
        api = coordinator.channels.docker.get(node.parent or "")
        if not isinstance(api, DockerHost) or node.key is None:
            return Sample(network_rate=Note.UNKNOWN)
        try:
            usage = await api.usage(node.key)
        except ChannelError as err:
            _LOGGER.debug("%s: no Docker stats: %s", node.name, err)
            return Sample(network_rate=Note.UNKNOWN)
        return Sample(
            cpu_percent=usage.cpu_percent,
            ram_percent=usage.ram_percent,
            network_rate=watch.net.update(usage.net_bytes, now),
        )

    async def _async_read_machine(
        self, coordinator: WakeHubCoordinator, watch: Watch
    ) -> Sample:
        rule = watch.rule
        ssh = coordinator.channels.machine.ssh
        if ssh is None:
            return Sample(network_rate=Note.UNKNOWN)
        commands: list[ReadOnlyCommand] = []
        if rule.connections:
            commands.append(ReadOnlyCommand.CONNECTIONS)
        if rule.cpu or rule.ram:
            commands.append(ReadOnlyCommand.USAGE)
        try:
            outputs = await ssh.read(commands)
        except ChannelError as err:
            _LOGGER.debug("%s: no usage over SSH: %s", ssh.config.host, err)
            return Sample(network_rate=Note.UNKNOWN)
        connections = None
        if (listing := outputs.get(ReadOnlyCommand.CONNECTIONS.value)) is not None:
            connections = count_connections(
                listing, rule.ports, exclude=(ssh.config.port,)
            )
        cpu = ram = None
        if (proc := outputs.get(ReadOnlyCommand.USAGE.value)) is not None:
            times, ram = parse_proc(proc)
            # The first read has no previous one: the figure since boot.
            cpu = cpu_percent(watch.cpu_times or CpuTimes(0, 0), times)
            watch.cpu_times = times
        # Machines have no network counter source: network is not offered.
        return Sample(
            cpu_percent=cpu,
            ram_percent=ram,
            network_rate=Note.UNKNOWN,
            connections=connections,
        )

    # -- acting ----------------------------------------------------------------

    async def _async_due(self, node: TreeNode, watch: Watch) -> None:
        """Fire ``wakehub_node_idle``, then stop the node or propose it."""
        topology_node = self.hub.topology.nodes.get(node.id)
        if topology_node is None:  # pragma: no cover - sampled from the topology
            return
        propose = topology_node.needs_confirmation
        readings = watch.verdict.readings if watch.verdict is not None else ()
        self.hass.bus.async_fire(
            EVENT_NODE_IDLE,
            {
                "node": node.id,
                "name": node.name,
                "minutes": watch.rule.minutes,
                "action": "propose" if propose else "stop",
                "criteria": [reading.as_dict() for reading in readings],
                "description": "; ".join(r.describe() for r in readings),
            },
        )
        _LOGGER.info(
            "%s idle for %s min (%s): %s",
            node.name,
            watch.rule.minutes,
            "; ".join(r.describe() for r in readings),
            "proposing its shutdown" if propose else "stopping it",
        )
        if propose:
            await self.hub.proposals.async_propose(node.id, {node.id: node.name})
            return
        try:
            await self.hub.async_request(Action.STOP, node.id)
        except HomeAssistantError as err:
            _LOGGER.warning("%s is idle but cannot be stopped: %s", node.name, err)


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
