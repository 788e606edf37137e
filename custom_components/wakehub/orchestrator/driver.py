"""The interface between the orchestrator and whatever powers the nodes.

The orchestrator decides *what* to do and *when*; a :class:`NodeDriver`
knows *how*: it sends a step's command through the node's channel, tells
whether a node is ready, and reports the polled states the planner needs. The
Home Assistant glue implements it on top of the channels and the
coordinators; the tests implement it on top of the channels and the
simulator's ready document.

Every driver uses the same per-kind step timeouts, ``const.DEFAULT_START_TIMEOUTS``
and ``const.DEFAULT_STOP_TIMEOUTS``: a physical boot takes minutes, so a
machine gets five of them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from custom_components.wakehub.const import (
    DEFAULT_START_TIMEOUTS,
    DEFAULT_STOP_TIMEOUTS,
)
from custom_components.wakehub.core.planner import Action

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Mapping

    from custom_components.wakehub.core.model import Capability, NodeKind, PowerState
    from custom_components.wakehub.core.planner import Step

    from .power import Sent


def default_step_timeout(kind: NodeKind, action: Action) -> float:
    """Return the default timeout in seconds of a step on a node of ``kind``."""
    table = DEFAULT_START_TIMEOUTS if action is Action.START else DEFAULT_STOP_TIMEOUTS
    return float(table[kind])


class NodeDriver(Protocol):
    """Powers nodes and reports on them, for the orchestrator.

    Every method may raise a ``ChannelError`` (``execute`` must, when the
    platform refuses a command); its ``code`` and ``message`` become the
    failed step's error. ``is_ready`` may also raise, but a driver should
    rather return ``False`` while a node is merely not up yet: an exception
    fails the step at once, ``False`` keeps the orchestrator polling until the
    step's timeout.
    """

    async def states(self) -> Mapping[str, PowerState]:
        """Return the *polled* power state of every node known.

        Only ``ON``, ``OFF`` and ``UNKNOWN`` belong here: the orchestrator's
        own transient states (starting, stopping, error) must not be fed back,
        or a retried start would skip a node left in error. A node missing from
        the mapping counts as off.
        """

    def known_states(self) -> Mapping[str, PowerState]:
        """Return the states the last polls found, without a new poll.

        For a cascade's request: its plan there is only a first view (the
        worker plans again from :meth:`states` when the cascade's turn
        comes), and the request must not wait for a look at a silent machine.
        """

    async def execute(self, step: Step, *, eager: bool = False) -> Sent:
        """Send the step's command (WoL, SSH shutdown, Proxmox or Docker call).

        The node's *live* state is read first (once): when it already is the
        step's goal, nothing is sent and ``Sent.NOTHING`` is returned (the
        step is skipped). Otherwise return once the platform accepted the
        command: ``Sent.AT_GOAL`` when its answer says the node is there
        (Docker's stop), else ``Sent.COMMAND``, and readiness is polled.

        ``eager`` (an early wake): a machine's magic packets go out at once,
        while the live look at it goes on; the answer still says whether it
        was off (``Sent.COMMAND``) or already up (``Sent.NOTHING``).
        """

    async def is_ready(
        self, node_id: str, *, action: Action, needs: frozenset[Capability]
    ) -> bool:
        """Return whether the node reached the state ``action`` aims at.

        For a start: a machine is ready when its probe answers, a VM or LXC
        when its readiness check passes (its service's port, its guest agent,
        or ``running`` for a settle time), a container when Docker reports it
        running and, if it has a health check, healthy. ``needs`` lists the
        APIs of this node that later steps of the plan go through (children of
        it come next): each of them must answer too. For a stop: the node is
        down (the probe no longer answers, the guest or container is stopped).
        """

    def look(
        self, node_id: str, *, needs: frozenset[Capability]
    ) -> Callable[[], Awaitable[bool]] | None:
        """Return the node's look that sends no request, if it has one.

        TCP connects only (:func:`~.power.free_look`): a machine's probe, a
        guest's service ports, the ports of the APIs in ``needs``. While a
        node boots, the orchestrator looks often, and checks readiness with
        :meth:`is_ready` (which may send requests) once the look passes.
        """

    async def step_timeout(self, node_id: str, action: Action) -> float:
        """Return the timeout in seconds of a step on this node.

        It covers the command and the wait for readiness. The per-node
        setting wins; otherwise :func:`default_step_timeout` applies. A
        guest's stop lasts at least Proxmox's own shutdown window plus a
        margin (:func:`~.power.step_timeout`), which may take one request.
        """
