"""Wake-on-LAN: send magic packets to wake a physical machine.

The MAC address is validated and normalised by the pure core
(:func:`custom_components.wakehub.core.ids.normalize_mac`), so
``aa-bb-cc-dd-ee-ff``, ``AABB.CCDD.EEFF`` and ``aabbccddeeff`` are accepted and
anything else raises :class:`~custom_components.wakehub.core.errors.InvalidMacError`.

Packets are sent with the ``wakeonlan`` package, whose socket calls are
blocking, so each send runs in the default executor. Only
``send_magic_packet(mac, ip_address=, port=, interface=)`` is used: it is the
one call every release our manifest admits has (2.1.0 and 3.3.0, which Home
Assistant's own integrations pin and so are what a real install runs, and
4.x, where it still exists next to the newer ``wake``). A few packets are sent,
spaced out, because a single UDP datagram is easily lost. The broadcast
address, port and source interface are configurable; they default to
255.255.255.255:9.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

import wakeonlan

from custom_components.wakehub.core.ids import normalize_mac

from .errors import UnreachableError

if TYPE_CHECKING:
    from .budget import RequestBudget

DEFAULT_BROADCAST = "255.255.255.255"
DEFAULT_WOL_PORT = 9
DEFAULT_PACKETS = 3
DEFAULT_INTERVAL = 0.3


@dataclass(frozen=True, slots=True, kw_only=True)
class WakeOnLan:
    """Where and how to send the magic packets of one machine.

    ``mac`` is normalised on creation (an invalid MAC raises
    ``InvalidMacError``, a ``ValueError``).
    """

    mac: str
    broadcast: str = DEFAULT_BROADCAST
    port: int = DEFAULT_WOL_PORT
    interface: str | None = None
    packets: int = DEFAULT_PACKETS
    interval: float = DEFAULT_INTERVAL

    def __post_init__(self) -> None:
        """Normalise the MAC and check the packet count and port."""
        object.__setattr__(self, "mac", normalize_mac(self.mac))
        if self.packets < 1:
            raise ValueError("at least one magic packet must be sent")
        if not 0 < self.port < 65536:
            raise ValueError(f"invalid Wake-on-LAN port {self.port}")

    async def send(self, budget: RequestBudget | None = None) -> None:
        """Send the magic packets, ``interval`` seconds apart.

        Each packet takes room in ``budget``, the machine's request budget,
        when there is one: a machine that boots faster than the packets'
        spacing must not then get its API's calls on top of them.

        Raises ``UnreachableError`` when the packet cannot be sent at all
        (no route, unknown interface address...).
        """
        loop = asyncio.get_running_loop()
        send = partial(
            wakeonlan.send_magic_packet,
            self.mac,
            ip_address=self.broadcast,
            port=self.port,
            interface=self.interface,
        )
        for index in range(self.packets):
            if index:
                await asyncio.sleep(self.interval)
            if budget is not None:
                await budget.take()
            try:
                await loop.run_in_executor(None, send)
            except OSError as err:
                raise UnreachableError(
                    f"cannot send Wake-on-LAN to {self.broadcast}:{self.port}: {err}"
                ) from err
