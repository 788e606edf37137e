"""TCP reachability probe: is a machine (or one of its APIs) answering?

A machine counts as up when a TCP connection to its probe port (22 for SSH,
8006 for Proxmox VE, 2375 for Docker...) succeeds within a short timeout. The
probe is a plain asyncio connect: it never blocks the event loop, sends no
data and always closes the socket it opened.
"""

from __future__ import annotations

import asyncio
import contextlib

DEFAULT_PROBE_TIMEOUT = 2.0


async def probe(
    host: str,
    port: int,
    timeout: float = DEFAULT_PROBE_TIMEOUT,  # noqa: ASYNC109 - the probe's own deadline
) -> bool:
    """Return True when ``host:port`` accepts a TCP connection within ``timeout``.

    Refused connections, unreachable hosts, failed name resolution and
    timeouts all return False; nothing is raised.
    """
    try:
        async with asyncio.timeout(timeout):
            _reader, writer = await asyncio.open_connection(host, port)
    except (OSError, TimeoutError):
        return False
    writer.close()
    with contextlib.suppress(OSError, TimeoutError):
        async with asyncio.timeout(timeout):
            await writer.wait_closed()
    return True
