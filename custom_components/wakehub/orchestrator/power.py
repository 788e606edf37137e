"""A step through the channels, and its readiness: the rules every driver shares.

A :class:`~.driver.NodeDriver` knows where a node's channels are (the Home
Assistant driver in the config entries' coordinators, the simulator tests'
driver in the simulator's ready document). It gathers them in a
:class:`NodeChannels` and hands it to :func:`send_step` and
:func:`reached`, which hold the rules (docs/design.md, "Starting a node"):

* a machine is woken by Wake-on-LAN and shut down over SSH, or through its
  own Proxmox API when the plan says so; a guest or a container is started
  and stopped through its host's Proxmox or Docker API, by its key;
* whether a step's command is sent at all rests on the node's live state,
  read once per step: a probe for a machine, the guest's own
  ``status/current`` for a guest (``/cluster/resources`` lags), one listing
  of its Docker host for a container;
* a machine is up when its probe answers; a guest when its **readiness
  check** passes (:class:`Readiness`: its service's TCP port(s), its QEMU
  guest agent, or, when nothing else is known, ``running`` for a settle
  time), not merely when Proxmox says ``running``, since a start task ends
  once QEMU is launched; a container when its host reports it running and,
  if it has a health check, healthy;
* a started node is ready once it is up and the APIs of it that later steps
  go through (``needs``) answer; a stopped node once it is no longer up (a
  machine once none of its signals, probe ports and its own APIs, accepts a
  connection any more);
* a guest's stop step lasts at least Proxmox's own shutdown window plus a
  margin (:func:`step_timeout`), so WakeHub never reports a failure while
  Proxmox is still inside it.

Every readiness check is ONE cheap request (a TCP connect, an agent ping, a
``status/current``), so it can be polled often.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from enum import Enum, StrEnum
from typing import TYPE_CHECKING, Final, Protocol, runtime_checkable

from custom_components.wakehub.channels import power_off, power_on
from custom_components.wakehub.channels.base import HostApi
from custom_components.wakehub.channels.errors import (
    ChannelError,
    ChannelTimeoutError,
    InvalidConfigError,
    UnreachableError,
    library_error,
)
from custom_components.wakehub.channels.probe import probe, quick_look_timeout
from custom_components.wakehub.channels.proxmox import STOP_MARGIN
from custom_components.wakehub.core.model import Capability, Channel, NodeKind
from custom_components.wakehub.core.planner import Action

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from custom_components.wakehub.channels.base import MachinePower
    from custom_components.wakehub.channels.proxmox import GuestStatus
    from custom_components.wakehub.core.planner import Step

NOT_UP_YET: Final = (UnreachableError, ChannelTimeoutError)
"""Errors that mean "not up (yet)" while polling readiness; others fail."""

DEFAULT_SETTLE: Final = 30.0
"""Seconds a guest must have been running to count as ready, when nothing
else (a service port, a guest agent) is known about it."""

READINESS_PROBE_TIMEOUT: Final = 1.0
"""Seconds one TCP readiness connect may take."""


class Readiness(StrEnum):
    """How a VM or an LXC is known to be ready (docs/design.md, "Starting a node")."""

    TCP = "tcp"
    """Its service's TCP port(s) accept connections."""
    AGENT = "agent"
    """Its QEMU guest agent answers ``agent/ping``."""
    RUNNING = "running"
    """Proxmox reports it running, for at least the settle time."""


@dataclass(frozen=True, slots=True, kw_only=True)
class GuestSettings:
    """A guest's readiness check and shutdown settings.

    ``address`` and ``ports`` are where the TCP check connects (the service
    URL's host and port by default); ``settle`` is the ``running`` check's
    time. ``shutdown_timeout`` ``None`` lets Proxmox apply the guest's own
    (``startup: down=``); ``force_stop`` kills the guest once it passed.
    """

    readiness: Readiness = Readiness.RUNNING
    address: str | None = None
    ports: tuple[int, ...] = ()
    settle: float = DEFAULT_SETTLE
    shutdown_timeout: int | None = None
    force_stop: bool = False


DEFAULT_GUEST: Final = GuestSettings()


@runtime_checkable
class GuestApi(HostApi, Protocol):
    """A Proxmox VE node as the host of its guests (``ProxmoxHost``)."""

    async def current(self, key: str) -> GuestStatus:
        """The guest's live ``status/current``."""

    async def power_guest(
        self,
        key: str,
        start: bool,
        *,
        wait: float,
        timeout: int | None = None,  # noqa: ASYNC109 - Proxmox's own parameter
        force_stop: bool | None = None,
    ) -> bool:
        """Bring a guest to running or stopped; whether a command was sent."""

    async def agent_ping(self, key: str) -> bool:
        """Whether the guest's QEMU agent answers."""

    async def shutdown_window(
        self,
        key: str,
        *,
        timeout: int | None = None,  # noqa: ASYNC109 - Proxmox's own parameter
        force_stop: bool = False,
    ) -> float:
        """Seconds Proxmox may spend on a shutdown of this guest."""


class NodeApi(HostApi, Protocol):
    """A machine's own Proxmox VE API: the host of its guests, which can also
    shut the machine itself down (``ProxmoxHost``)."""

    async def node_shutdown(self) -> None:
        """Shut the Proxmox VE node down."""


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeChannels:
    """The channels one node is powered and checked through.

    A machine has ``machine``. A guest or a container has ``host``, its
    parent's Proxmox or Docker API, and ``key``, its vmid or container name.
    ``proxmox`` and ``docker`` are the node's *own* APIs (a machine's Proxmox
    VE, a machine's or a VM's Docker engine), ``None`` when it has none: a
    machine's Proxmox API is a stop channel, and each is checked when later
    steps go through it. ``guest`` holds a VM's or an LXC's readiness check
    and shutdown settings. ``name`` is what errors call the node.
    """

    name: str
    kind: NodeKind
    machine: MachinePower | None = None
    host: HostApi | None = None
    key: str | None = None
    proxmox: NodeApi | None = None
    docker: HostApi | None = None
    guest: GuestSettings = DEFAULT_GUEST


def _machine(node: NodeChannels) -> MachinePower:
    if node.machine is None:
        raise InvalidConfigError(f"{node.name} has no machine channels")
    return node.machine


def _host(node: NodeChannels) -> tuple[HostApi, str]:
    what = "Docker API" if node.kind is NodeKind.CONTAINER else "Proxmox API"
    if node.host is None or node.key is None:
        raise InvalidConfigError(f"The host of {node.name} has no {what}")
    return node.host, node.key


def _guest_api(node: NodeChannels) -> tuple[GuestApi, str]:
    host, key = _host(node)
    if not isinstance(host, GuestApi):
        raise InvalidConfigError(f"The host of {node.name} has no Proxmox API")
    return host, key


def _is_guest(node: NodeChannels) -> bool:
    return node.kind in (NodeKind.VM, NodeKind.LXC)


async def step_timeout(node: NodeChannels, action: Action, configured: float) -> float:
    """The timeout of a step: ``configured``, stretched for a guest's stop.

    A guest's stop lasts at least Proxmox's own shutdown window (the
    timeout sent, else the guest's ``startup: down=``) plus
    :data:`STOP_MARGIN`: WakeHub must not report a failure while Proxmox
    may still be shutting the guest down.
    """
    if action is not Action.STOP or not _is_guest(node):
        return configured
    host, key = _guest_api(node)
    try:
        window = await host.shutdown_window(
            key,
            timeout=node.guest.shutdown_timeout,
            force_stop=node.guest.force_stop,
        )
    except (ChannelError, TimeoutError):
        raise
    except Exception as err:
        raise library_error(err, node.name) from err
    return max(configured, window + STOP_MARGIN)


class Sent(Enum):
    """What a step's command did (:func:`send_step`)."""

    NOTHING = "nothing"
    """The node already was at the step's goal: nothing was sent (skipped)."""
    COMMAND = "command"
    """The command went out; readiness checks tell when the node is there."""
    AT_GOAL = "at_goal"
    """The command went out, and its own answer says the node is there."""


LOOK_GRACE: Final = 0.05
"""Seconds a machine's start waits for the look before waking it: a machine
that is up answers a probe on the LAN within a few milliseconds."""


def command_wait(timeout: float) -> float:
    """How long a step's command may wait (for a migration, for Proxmox HA).

    A little less than the step's ``timeout``, so that the command's own
    error, which names the cause (the HA state...), is the one reported.
    """
    return timeout * 0.9


async def send_step(
    step: Step, node: NodeChannels, *, wait: float, eager: bool = False
) -> Sent:
    """Send ``step``'s command unless the node already is at its goal.

    The decision rests on the node's live state, read once. Return what was
    sent (:class:`Sent`); return once the platform accepted the command (a
    guest's command may wait up to ``wait`` seconds for a migration to end,
    or for Proxmox HA to act). ``eager`` (early wake): a machine's magic
    packets go out at once, while its look goes on (:func:`_wake`).

    A channel raises a ``ChannelError``; anything else a library raises comes
    out as a :class:`~custom_components.wakehub.channels.errors.LibraryError`
    that carries its type and message.
    """
    try:
        return await _send_step(step, node, wait=wait, eager=eager)
    except (ChannelError, TimeoutError):
        raise
    except Exception as err:
        raise library_error(err, node.name) from err


async def _send_step(
    step: Step, node: NodeChannels, *, wait: float, eager: bool
) -> Sent:
    start = step.action is Action.START
    if node.kind is NodeKind.MACHINE:
        machine = _machine(node)
        if start:
            woken = await _wake(machine, grace=0.0 if eager else LOOK_GRACE)
            return Sent.COMMAND if woken else Sent.NOTHING
        # On: a probe port or one of its APIs answers (a machine whose sshd is
        # down but whose API answers is still on).
        if not await machine.is_on():
            return Sent.NOTHING
        if step.channel is Channel.PROXMOX and node.proxmox is not None:
            await node.proxmox.node_shutdown()
        else:
            await power_off(machine)
        return Sent.COMMAND
    if _is_guest(node):
        guests, key = _guest_api(node)
        sent = await guests.power_guest(
            key,
            start,
            wait=wait,
            timeout=node.guest.shutdown_timeout,
            force_stop=node.guest.force_stop,
        )
        return Sent.COMMAND if sent else Sent.NOTHING
    host, key = _host(node)
    info = (await host.read_states()).get(key)
    if (info is not None and info.running) == start:
        return Sent.NOTHING
    if start:
        await power_on(host, key)
        return Sent.COMMAND
    # Docker answers a stop once the container has exited (or was killed at
    # the end of its grace): no readiness check needs to ask again.
    await power_off(host, key)
    return Sent.AT_GOAL


async def _wake(machine: MachinePower, *, grace: float) -> bool:
    """Wake ``machine`` unless a quick look finds it up; return whether it was off.

    A machine that is up answers the look at once (within ``grace``,
    :data:`LOOK_GRACE` for a step) and gets nothing: the step is skipped. An
    off machine answers nothing, and waiting the look's whole deadline for
    that silence would delay every wake by it: its magic packets go out after
    the grace, while the look goes on. Should the look then find it up after
    all (a slow network), the step is still skipped, and the packets did
    nothing to a machine already on (docs/design.md, "Starting a node"). An
    early wake has no grace: it is sent while the plan is still being made.
    """
    look = asyncio.create_task(machine.probe(quick=True))
    try:
        done, _ = await asyncio.wait((look,), timeout=grace)
        if done and look.result():
            return False
        await power_on(machine)
        return bool(done) or not await look
    finally:
        look.cancel()  # a step ended early (cancelled, failed) leaves no look


async def _guest_ready(node: NodeChannels) -> bool:
    """A started guest's readiness check: ONE cheap request (or one per port)."""
    guests, key = _guest_api(node)
    settings = node.guest
    if settings.readiness is Readiness.TCP:
        if settings.address is None or not settings.ports:
            raise InvalidConfigError(
                f"the readiness check of {node.name} needs a service URL and a port"
            )
        address = settings.address
        answers = await asyncio.gather(
            *(probe(address, port, READINESS_PROBE_TIMEOUT) for port in settings.ports)
        )
        return all(answers)
    if settings.readiness is Readiness.AGENT:
        return await guests.agent_ping(key)
    status = await guests.current(key)
    return status.running and status.uptime >= settings.settle


def free_look(
    node: NodeChannels, needs: frozenset[Capability]
) -> Callable[[], Awaitable[bool]] | None:
    """A started node's look that sends no request: TCP connects only.

    A machine's probe; a guest's service ports (its readiness check is
    ``tcp``); and the ports of the node's own APIs that the steps after it go
    through (``needs``), when they listen over TCP. ``None`` when the node has
    none of them (a container; a guest known only through its host's API).
    Each connect waits a quick look's deadline at most; a machine's ports
    are looked at once its probe answers. While the look fails,
    the node is not ready; once it passes, the readiness check proper
    (:func:`reached`) tells, with its requests (docs/design.md, "Readiness").
    """
    machine = _machine(node) if node.kind is NodeKind.MACHINE else None
    ports: list[tuple[str, int]] = []
    guest = node.guest
    if _is_guest(node) and guest.readiness is Readiness.TCP and guest.address:
        ports.extend((guest.address, port) for port in guest.ports)
    for capability, api in (
        (Capability.PROXMOX, node.proxmox),
        (Capability.DOCKER, node.docker),
    ):
        if capability in needs and api is not None and api.tcp_address is not None:
            ports.append(api.tcp_address)
    if machine is None and not ports:
        return None
    timeout = quick_look_timeout()

    async def look() -> bool:
        # A machine still off holds one connect (its probe) for the whole
        # deadline, not one per port: each runs in the executor.
        if machine is not None and not await machine.probe(quick=True):
            return False
        return all(
            await asyncio.gather(*(probe(host, port, timeout) for host, port in ports))
        )

    return look


async def is_up(node: NodeChannels) -> bool:
    """Whether the node is up: one probe, or one read of its host's API.

    A guest is up when its readiness check passes (:func:`_guest_ready`).
    """
    if node.kind is NodeKind.MACHINE:
        # A quick look: a booting machine answers nothing, and a full probe
        # would cost the whole probe timeout at each check (docs/design.md).
        return await _machine(node).probe(quick=True)
    if _is_guest(node):
        return await _guest_ready(node)
    host, key = _host(node)
    info = (await host.read_states()).get(key)
    if info is None or not info.running:
        return False
    return info.details.get("health") in (None, "healthy")


async def is_down(node: NodeChannels) -> bool:
    """Whether the node is down: one probe, or one read of its host's API.

    A guest is down when its live ``status/current`` says ``stopped``.
    """
    if node.kind is NodeKind.MACHINE:
        return not await _machine(node).is_on(quick=True)
    if _is_guest(node):
        guests, key = _guest_api(node)
        return (await guests.current(key)).status == "stopped"
    host, key = _host(node)
    info = (await host.read_states()).get(key)
    return info is None or not info.running


async def reached(
    node: NodeChannels, action: Action, needs: frozenset[Capability]
) -> bool:
    """Whether the node reached the goal of a step doing ``action``.

    ``False`` while it is merely not there yet (it does not answer, or its
    API times out: :data:`NOT_UP_YET`); any other channel error raises, and
    fails the step at once.
    """
    try:
        return await _reached(node, action, needs)
    except (ChannelError, TimeoutError):
        raise
    except Exception as err:
        raise library_error(err, node.name) from err


async def _reached(
    node: NodeChannels, action: Action, needs: frozenset[Capability]
) -> bool:
    try:
        if action is Action.STOP:
            return await is_down(node)
        if not await is_up(node):
            return False
        if Capability.PROXMOX in needs:
            if node.proxmox is None:
                raise InvalidConfigError(f"{node.name} has no Proxmox API")
            # One read of its guests: it proves the API answers WakeHub's
            # credentials, and it tells the guests' kinds, so that the next
            # step's command on a guest need not ask (a host that has just
            # booted gets every call at once: docs/design.md, "Readiness").
            await node.proxmox.read_states()
        if Capability.DOCKER in needs:
            if node.docker is None:
                raise InvalidConfigError(f"{node.name} has no Docker API")
            await node.docker.check()
    except NOT_UP_YET:
        return action is Action.STOP
    return True


class StepTimeouts:
    """The timeout of each node's steps, worked out once, for a driver.

    Both drivers (Home Assistant's and the tests' simulator driver) keep one:
    :meth:`resolve` answers their ``step_timeout`` from the node's configured
    value and remembers it; :meth:`send` sends a step with the remembered
    timeout, asking the driver only when the engine has not yet.
    """

    def __init__(self) -> None:
        """Start with no timeout known."""
        self._known: dict[tuple[str, Action], float] = {}

    async def resolve(
        self, node_id: str, node: NodeChannels, action: Action, configured: float
    ) -> float:
        """``configured``, stretched for a guest's stop (:func:`step_timeout`)."""
        timeout = await step_timeout(node, action, configured)
        self._known[node_id, action] = timeout
        return timeout

    async def send(
        self,
        step: Step,
        node: NodeChannels,
        timeout_of: Callable[[str, Action], Awaitable[float]],
        *,
        eager: bool = False,
    ) -> Sent:
        """:func:`send_step`, its command waiting as the step's timeout allows."""
        timeout = self._known.get((step.node, step.action))
        if timeout is None:
            timeout = await timeout_of(step.node, step.action)
        return await send_step(step, node, wait=command_wait(timeout), eager=eager)
