"""A step through the channels, and its readiness: the rules every driver shares.

A :class:`~.driver.NodeDriver` knows where a node's channels are (the Home
Assistant driver in the config entries' coordinators, the simulator tests'
driver in the simulator's ready document). It gathers them in a
:class:`NodeChannels` and hands it to :func:`send_step` and
:func:`reached`, which hold the rules (domain rules, section 3):

* a machine is woken by Wake-on-LAN and shut down over SSH, or through its
  own Proxmox API when the plan says so; a guest or a container is started
  and stopped through its host's Proxmox or Docker API, by its key;
* a machine is up when its probe answers; a guest when its host reports it
  running; a container when its host reports it running and, if it has a
  health check, healthy;
* a started node is ready once it is up and the APIs of it that later steps
  go through (``needs``) answer; a stopped node once it is no longer up.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Protocol

from custom_components.wakehub.channels import power_off, power_on
from custom_components.wakehub.channels.base import HostApi
from custom_components.wakehub.channels.errors import (
    ChannelError,
    ChannelTimeoutError,
    InvalidConfigError,
    UnreachableError,
    library_error,
)
from custom_components.wakehub.core.model import Capability, Channel, NodeKind
from custom_components.wakehub.core.planner import Action

if TYPE_CHECKING:
    from custom_components.wakehub.channels.base import MachinePower
    from custom_components.wakehub.core.planner import Step

NOT_UP_YET: Final = (UnreachableError, ChannelTimeoutError)
"""Errors that mean "not up (yet)" while polling readiness; others fail."""


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
    steps go through it. ``name`` is what errors call the node.
    """

    name: str
    kind: NodeKind
    machine: MachinePower | None = None
    host: HostApi | None = None
    key: str | None = None
    proxmox: NodeApi | None = None
    docker: HostApi | None = None


def _machine(node: NodeChannels) -> MachinePower:
    if node.machine is None:
        raise InvalidConfigError(f"{node.name} has no machine channels")
    return node.machine


def _host(node: NodeChannels) -> tuple[HostApi, str]:
    what = "Docker API" if node.kind is NodeKind.CONTAINER else "Proxmox API"
    if node.host is None or node.key is None:
        raise InvalidConfigError(f"The host of {node.name} has no {what}")
    return node.host, node.key


async def send_step(step: Step, node: NodeChannels) -> None:
    """Send ``step``'s command; return once the platform accepted it.

    A channel raises a ``ChannelError``; anything else a library raises comes
    out as a :class:`~custom_components.wakehub.channels.errors.LibraryError`
    that carries its type and message.
    """
    try:
        await _send_step(step, node)
    except (ChannelError, TimeoutError):
        raise
    except Exception as err:
        raise library_error(err, node.name) from err


async def _send_step(step: Step, node: NodeChannels) -> None:
    if node.kind is NodeKind.MACHINE:
        machine = _machine(node)
        if step.action is Action.START:
            await power_on(machine)
        elif step.channel is Channel.PROXMOX and node.proxmox is not None:
            await node.proxmox.node_shutdown()
        else:
            await power_off(machine)
        return
    host, key = _host(node)
    if step.action is Action.START:
        await power_on(host, key)
    else:
        await power_off(host, key)


async def is_up(node: NodeChannels) -> bool:
    """Whether the node is up: one probe, or one read of its host's API."""
    if node.kind is NodeKind.MACHINE:
        return await _machine(node).probe()
    host, key = _host(node)
    info = (await host.read_states()).get(key)
    if info is None or not info.running:
        return False
    if node.kind is NodeKind.CONTAINER:
        return info.details.get("health") in (None, "healthy")
    return True


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
        up = await is_up(node)
        if action is Action.STOP:
            return not up
        if not up:
            return False
        if Capability.PROXMOX in needs:
            if node.proxmox is None:
                raise InvalidConfigError(f"{node.name} has no Proxmox API")
            await node.proxmox.check()
        if Capability.DOCKER in needs:
            if node.docker is None:
                raise InvalidConfigError(f"{node.name} has no Docker API")
            await node.docker.check()
    except NOT_UP_YET:
        return action is Action.STOP
    return True
