"""TCP reachability probe: is a machine (or one of its APIs) answering?

A TCP connect to a port has three outcomes, and they mean different things:

``OPEN``
    the connection is accepted: the service runs;
``REFUSED``
    the host answered with a reset: its network stack runs, so the machine
    is **on**, but nothing listens on that port (a crashed ``sshd``, an API
    not started yet);
``SILENT``
    no answer within the timeout, or "no route to host" / "network
    unreachable": a powered-off machine answers nothing.

:func:`probe_port` tells the three apart; :func:`probe` says whether the
port is open. The probe is a plain asyncio connect: it never blocks the event
loop, sends no data and always closes the socket it opened.
"""

from __future__ import annotations

import asyncio
import contextlib
from enum import StrEnum
import errno

DEFAULT_PROBE_TIMEOUT = 2.0

_SILENT_ERRNOS = frozenset(
    {errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EHOSTDOWN, errno.ENETDOWN}
)


class ProbeResult(StrEnum):
    """What one TCP connect attempt found."""

    OPEN = "open"
    REFUSED = "refused"
    SILENT = "silent"


async def probe_port(
    host: str,
    port: int,
    timeout: float = DEFAULT_PROBE_TIMEOUT,  # noqa: ASYNC109 - the probe's own deadline
) -> ProbeResult:
    """Connect to ``host:port`` and say whether it is open, refused or silent.

    Nothing is raised: a failed name resolution or any other error counts as
    silent (nothing answered).
    """
    try:
        async with asyncio.timeout(timeout):
            _reader, writer = await asyncio.open_connection(host, port)
    except ConnectionRefusedError:
        return ProbeResult.REFUSED
    except OSError as err:
        if err.errno in _SILENT_ERRNOS:
            return ProbeResult.SILENT
        # e.g. a reset during the handshake: the host answered.
        if err.errno in (errno.ECONNRESET, errno.ECONNREFUSED):
            return ProbeResult.REFUSED
        return ProbeResult.SILENT
    except TimeoutError:
        return ProbeResult.SILENT
    writer.close()
    with contextlib.suppress(OSError, TimeoutError):
        async with asyncio.timeout(timeout):
            await writer.wait_closed()
    return ProbeResult.OPEN


async def probe(
    host: str,
    port: int,
    timeout: float = DEFAULT_PROBE_TIMEOUT,  # noqa: ASYNC109 - the probe's own deadline
) -> bool:
    """Return True when ``host:port`` accepts a TCP connection within ``timeout``.

    Refused connections, unreachable hosts, failed name resolution and
    timeouts all return False; nothing is raised.
    """
    return await probe_port(host, port, timeout) is ProbeResult.OPEN
