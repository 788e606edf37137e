"""Inactivity sampling: read each criterion of a node's rule (docs/design.md).

One job only: turn a node into a :class:`~.inactivity.Sample`. The monitor
(:mod:`.idle`) decides when to sample and what to do with the verdict.

* a Proxmox guest: ``cpu``, ``mem``/``maxmem``, ``netin``+``netout`` from the
  poll's own ``/cluster/resources`` (no extra request);
* a container: Docker's stats endpoint, once per rule period; the figures of
  that read hold until the next;
* a machine: the fixed read-only SSH commands, at most once a minute;
* Home Assistant entities: their current state, no request at all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import logging
from typing import TYPE_CHECKING, Final

from .channels import ChannelError, DockerHost, ReadOnlyCommand
from .const import CONF_INACTIVITY
from .core.model import NodeKind
from .entity import node_settings
from .inactivity import (
    CounterRate,
    IdleTimer,
    Note,
    Rule,
    Sample,
    TimerState,
    TimerStatus,
    Verdict,
)
from .inactivity.parsers import CpuTimes, count_connections, cpu_percent, parse_proc

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant

    from .coordinator import WakeHubCoordinator
    from .models import TreeNode

_LOGGER = logging.getLogger(__name__)

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


def _entities(hass: HomeAssistant, rule: Rule) -> dict[str, str | None]:
    states = {}
    for signal in rule.signals:
        state = hass.states.get(signal.entity_id)
        states[signal.entity_id] = state.state if state is not None else None
    return states


async def async_sample(
    hass: HomeAssistant,
    coordinator: WakeHubCoordinator,
    node: TreeNode,
    watch: Watch,
    now: float,
) -> Sample:
    """Read every criterion of the node's rule (remote reads are rate-limited)."""
    rule = watch.rule
    entities = _entities(hass, rule)
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
            ram_percent=100.0 * mem / maxmem if mem is not None and maxmem else None,
            network_rate=watch.net.update(net, now) if rule.network else None,
            entities=entities,
        )
    if node.kind is NodeKind.CONTAINER:
        if (rule.cpu or rule.ram or rule.network) and (
            watch.read_at is None or now - watch.read_at >= rule.period_s
        ):
            watch.read_at = now
            watch.remote = await _async_read_container(coordinator, node, watch, now)
    elif (rule.cpu or rule.ram or rule.connections) and (
        watch.read_at is None or now - watch.read_at >= SSH_READ_INTERVAL
    ):
        watch.read_at = now
        watch.remote = await _async_read_machine(coordinator, watch)
    remote = watch.remote
    return Sample(
        cpu_percent=remote.cpu_percent,
        ram_percent=remote.ram_percent,
        network_rate=remote.network_rate,
        connections=remote.connections,
        entities=entities,
    )


async def _async_read_container(
    coordinator: WakeHubCoordinator, node: TreeNode, watch: Watch, now: float
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


async def _async_read_machine(coordinator: WakeHubCoordinator, watch: Watch) -> Sample:
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
        connections = count_connections(listing, rule.ports, exclude=(ssh.config.port,))
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
