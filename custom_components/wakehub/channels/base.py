"""The small interface every power channel implements.

Two shapes of channel exist, matching the two things WakeHub powers:

``MachinePower``
    A physical machine: woken by Wake-on-LAN, probed by a TCP connect, shut
    down over SSH (or the Proxmox node API).

``HostApi``
    A node that hosts children and can power them: a Proxmox VE node (its VMs
    and LXCs) or a Docker engine (its containers). ``read_states`` returns the
    state of *every* child in ONE request, whatever their number.

The orchestrator and the coordinator only ever talk to these protocols; which
protocol sits behind them is deduced from the parent's capability.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol


class ChildKind(StrEnum):
    """What a child of a host is."""

    VM = "vm"
    LXC = "lxc"
    CONTAINER = "container"


@dataclass(frozen=True, slots=True, kw_only=True)
class ChildInfo:
    """What one ``read_states`` call knows about one child of a host.

    ``key`` is the stable identity of the child on its host: the vmid (as a
    string) for a Proxmox guest, the container *name* (no leading ``/``) for
    Docker. ``details`` holds the extra figures the single request returned
    (cpu, mem, maxmem, uptime, netin, netout for guests; image, health, id for
    containers), for diagnostic sensors and pre-filled forms.
    """

    key: str
    kind: ChildKind
    name: str
    running: bool
    status: str
    details: dict[str, Any] = field(default_factory=dict)


class HostApi(Protocol):
    """A Proxmox VE node or a Docker engine, seen as a host of children."""

    @property
    def tcp_address(self) -> tuple[str, int] | None:
        """Where the API accepts TCP connections, for a look that sends it no
        request (``None``: reached through a unix socket or an SSH tunnel)."""

    async def check(self) -> None:
        """Raise a ``ChannelError`` unless the API answers and accepts us."""

    async def read_states(self) -> dict[str, ChildInfo]:
        """Return every child keyed by ``ChildInfo.key``, in ONE request."""

    async def start(self, key: str) -> None:
        """Start a child and return once the platform accepted (and, for
        Proxmox, finished) the command."""

    async def stop(self, key: str) -> None:
        """Stop a child gracefully."""

    async def close(self) -> None:
        """Release connections."""


class MachinePower(Protocol):
    """A physical machine."""

    async def probe(self, *, quick: bool = False) -> bool:
        """Return True when the machine's probe port accepts a connection.

        ``quick``: a short look (readiness), not the whole probe timeout.
        """

    async def is_on(self, *, quick: bool = False) -> bool:
        """Return False only when nothing of the machine answers (it is off).

        ``quick``: a short look (set-up, readiness), not the whole timeout.
        """

    async def wake(self) -> None:
        """Send Wake-on-LAN magic packets."""

    async def shutdown(self) -> None:
        """Shut the machine down (SSH with a pinned host key)."""
