"""An in-memory :class:`NodeDriver` for the orchestrator's unit tests.

It powers no real thing: a command flips the node's state after a short
delay, unless a fault says otherwise. The scenario tests use the simulator
through the real channels instead (see ``driver.py``); this one exists to
test the engine's own rules (ordering, concurrency, failure, events) quickly
and deterministically.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from custom_components.wakehub.core import (
    Action,
    Capability,
    NodeKind,
    PowerState,
    Step,
    Topology,
)
from custom_components.wakehub.orchestrator.power import Sent

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Mapping

    from custom_components.wakehub.channels.errors import ChannelError


@dataclass
class InMemoryDriver:
    """Node states in a dict; commands take ``delay`` seconds to take effect.

    ``delays`` overrides ``delay`` per node. ``log`` records every command as
    ``(node id, action)``. ``ignore`` holds
    nodes that silently ignore commands (a dead NIC); ``errors`` maps a node to
    the ``ChannelError`` its command raises; ``api_down`` holds nodes whose
    APIs never answer although the node is up.
    """

    topology: Topology
    states_: dict[str, PowerState] = field(default_factory=dict)
    delay: float = 0.02
    delays: dict[str, float] = field(default_factory=dict)
    timeout: float = 1.0
    log: list[tuple[str, str]] = field(default_factory=list)
    ignore: set[str] = field(default_factory=set)
    errors: dict[str, ChannelError] = field(default_factory=dict)
    api_down: set[str] = field(default_factory=set)
    ready_calls: list[tuple[str, Action, frozenset[Capability]]] = field(
        default_factory=list
    )
    command_started: asyncio.Event = field(default_factory=asyncio.Event)
    in_flight: int = 0
    max_in_flight: int = 0

    async def states(self) -> Mapping[str, PowerState]:
        """Return a copy of the current states."""
        return dict(self.states_)

    def known_states(self) -> Mapping[str, PowerState]:
        """The current states: in memory, the last poll is now."""
        return dict(self.states_)

    async def execute(self, step: Step, *, eager: bool = False) -> Sent:
        """Record the command, then flip the state after ``delay``.

        A node already at the step's goal gets no command (``Sent.NOTHING``).
        """
        goal = PowerState.ON if step.action is Action.START else PowerState.OFF
        if self.states_.get(step.node, PowerState.OFF) == goal:
            return Sent.NOTHING
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            self.log.append((step.node, str(step.action)))
            self.command_started.set()
            await asyncio.sleep(0)
            if step.node in self.errors:
                raise self.errors[step.node]
            if step.node in self.ignore:
                return Sent.COMMAND
            asyncio.get_running_loop().call_later(
                self.delays.get(step.node, self.delay),
                self.states_.__setitem__,
                step.node,
                goal,
            )
        finally:
            self.in_flight -= 1
        return Sent.COMMAND

    async def is_ready(
        self, node_id: str, *, action: Action, needs: frozenset[Capability]
    ) -> bool:
        """Up (with its APIs) for a start, off for a stop."""
        self.ready_calls.append((node_id, action, needs))
        state = self.states_.get(node_id, PowerState.OFF)
        if action is Action.STOP:
            return state is PowerState.OFF
        if needs and node_id in self.api_down:
            return False
        return state is PowerState.ON

    def look(
        self, node_id: str, *, needs: frozenset[Capability]
    ) -> Callable[[], Awaitable[bool]] | None:
        """A machine's look: whether it is on (its APIs are not looked at)."""
        if self.topology.node(node_id).kind is not NodeKind.MACHINE:
            return None

        async def look() -> bool:
            return self.states_.get(node_id) is PowerState.ON

        return look

    async def step_timeout(self, node_id: str, action: Action) -> float:
        """The same short timeout for every step."""
        return self.timeout
