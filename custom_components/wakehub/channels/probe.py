"""TCP reachability probe: is a machine (or one of its APIs) answering?

A TCP connect to a port has three outcomes, and they mean different things:

``OPEN``
    the connection is accepted: the service runs;
``REFUSED``
    the host answered the SYN with a reset (``ECONNREFUSED``), or reset the
    connection during the handshake (``ECONNRESET``): its network stack
    runs, so the machine is **on**, but nothing listens on that port (a
    crashed ``sshd``, an API not started yet);
``SILENT``
    no answer within the timeout, or "no route to host" / "network
    unreachable" (``EHOSTUNREACH``, ``ENETUNREACH``...): a powered-off machine
    answers nothing (no ARP reply, so the SYN is never answered).

:func:`probe_port` tells the three apart; :func:`probe` says whether the
port is open. The connect runs in the executor as a plain blocking
``socket.create_connection`` with a socket-level timeout: its deadline is
the kernel's, in real time, whatever the event loop's clock does. It sends
no data and always closes the socket it opened.
"""

from __future__ import annotations

import asyncio
from enum import StrEnum
import errno
import socket

# Seconds a probe waits for an answer. A LAN host answers a SYN within
# milliseconds; a silent port costs the whole timeout. Read at each probe, so
# tests of a loopback simulator may shorten it.
DEFAULT_PROBE_TIMEOUT = 2.0

# Seconds of the quick look at a machine while its entry is set up: setting
# up the entry of a machine that is off must be instant (docs/design.md), and
# a LAN host that is on answers within milliseconds. A machine silent that
# long is shown off at once and probed again in full right after set-up.
QUICK_LOOK_TIMEOUT = 0.3


def quick_look_timeout(timeout: float | None = None) -> float:
    """Return the quick look's deadline: ``timeout`` (or the default), at most 0.3 s."""
    return min(
        QUICK_LOOK_TIMEOUT, DEFAULT_PROBE_TIMEOUT if timeout is None else timeout
    )


# The host itself answered: a reset to the SYN, or during the handshake.
_ANSWERED_ERRNOS = frozenset({errno.ECONNREFUSED, errno.ECONNRESET})


class ProbeResult(StrEnum):
    """What one TCP connect attempt found."""

    OPEN = "open"
    REFUSED = "refused"
    SILENT = "silent"


def _connect(host: str, port: int, timeout: float) -> ProbeResult:
    """One blocking connect, bounded by ``timeout`` (run in the executor)."""
    try:
        sock = socket.create_connection((host, port), timeout=timeout)
    except OSError as err:
        # TimeoutError, EHOSTUNREACH, ENETUNREACH, a failed name resolution:
        # nothing answered.
        if err.errno in _ANSWERED_ERRNOS:
            return ProbeResult.REFUSED
        return ProbeResult.SILENT
    sock.close()
    return ProbeResult.OPEN


async def probe_port(
    host: str,
    port: int,
    timeout: float | None = None,  # noqa: ASYNC109 - the probe's own deadline
) -> ProbeResult:
    """Connect to ``host:port`` and say whether it is open, refused or silent.

    ``timeout`` defaults to :data:`DEFAULT_PROBE_TIMEOUT`. Nothing is raised:
    a failed name resolution or any other error counts as silent (nothing
    answered).
    """
    if timeout is None:
        timeout = DEFAULT_PROBE_TIMEOUT
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(None, _connect, host, port, timeout)


async def probe(
    host: str,
    port: int,
    timeout: float | None = None,  # noqa: ASYNC109 - the probe's own deadline
) -> bool:
    """Return True when ``host:port`` accepts a TCP connection within ``timeout``.

    Refused connections, unreachable hosts, failed name resolution and
    timeouts all return False; nothing is raised.
    """
    return await probe_port(host, port, timeout) is ProbeResult.OPEN
