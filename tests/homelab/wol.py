"""Wake-on-LAN: one UDP listener decoding real magic packets.

A magic packet is six ``FF`` bytes followed by the target MAC repeated 16
times (102 bytes), optionally followed by a 4- or 6-byte SecureOn password.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
import logging
import socket
from typing import TYPE_CHECKING

from .service import loopback_socket

if TYPE_CHECKING:
    from collections.abc import Callable

_LOGGER = logging.getLogger(__name__)

SYNC = b"\xff" * 6


@dataclass(frozen=True)
class MagicPacket:
    """A decoded magic packet: the MAC (``aa:bb:..``, lower case) and password."""

    mac: str
    password: bytes


def normalize_mac(mac: str) -> str:
    """Return ``mac`` as lower-case, colon-separated hex."""
    digits = "".join(ch for ch in mac.lower() if ch in "0123456789abcdef")
    if len(digits) != 12:
        raise ValueError(f"invalid MAC address: {mac!r}")
    return ":".join(digits[i : i + 2] for i in range(0, 12, 2))


def parse_magic_packet(data: bytes) -> MagicPacket:
    """Decode a magic packet, raising ValueError when it is malformed."""
    if len(data) not in (102, 106, 108):
        raise ValueError(f"bad length {len(data)} (expected 102, 106 or 108)")
    if data[:6] != SYNC:
        raise ValueError("missing 6 x FF synchronisation stream")
    mac = data[6:12]
    if data[6:102] != mac * 16:
        raise ValueError("the MAC is not repeated 16 times")
    return MagicPacket(mac=":".join(f"{b:02x}" for b in mac), password=data[102:])


class WolProtocol(asyncio.DatagramProtocol):
    """Datagram protocol handing every valid packet to a callback."""

    def __init__(self, on_packet: Callable[[MagicPacket, str], None]) -> None:
        """Call ``on_packet(packet, sender)`` for each valid magic packet."""
        self._on_packet = on_packet
        self.rejected = 0

    def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        """Decode one datagram; malformed ones are logged and ignored."""
        sender = f"{addr[0]}:{addr[1]}"
        try:
            packet = parse_magic_packet(data)
        except ValueError as err:
            self.rejected += 1
            _LOGGER.warning(
                "homelab: ignoring malformed WoL packet from %s: %s", sender, err
            )
            return
        self._on_packet(packet, sender)


async def open_wol_listener(
    port: int, on_packet: Callable[[MagicPacket, str], None]
) -> tuple[asyncio.DatagramTransport, WolProtocol, int]:
    """Listen for magic packets on 127.0.0.1:``port`` (0 picks a free port)."""
    loop = asyncio.get_running_loop()
    sock = loopback_socket(port, socket.SOCK_DGRAM)
    try:
        transport, protocol = await loop.create_datagram_endpoint(
            lambda: WolProtocol(on_packet), sock=sock
        )
    except BaseException:
        sock.close()
        raise
    bound = transport.get_extra_info("sockname")[1]
    return transport, protocol, int(bound)
