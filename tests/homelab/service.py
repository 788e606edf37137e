"""TCP listeners that close while their node is down and reopen on the same port.

What a client sees of a service that does not accept depends on why:

* **its machine is on, the service is not running** (a crashed ``sshd``,
  the ``ssh_refuse`` fault; an API not started yet; a guest stopped on a
  running host): the client is *refused*. Linux answers a SYN to a port
  nobody listens on with a reset (net/ipv4/tcp_ipv4.c, ``tcp_v4_rcv`` ->
  ``no_tcp_socket`` -> ``tcp_v4_send_reset``), and ``connect()`` fails with
  ``ECONNREFUSED``. The simulator closes the listening socket.
* **its machine is off** (or still in its firmware, booting): nothing
  answers at all. A powered-off host sends no ARP reply, so the client's SYNs
  go unanswered until its own timeout (or ``EHOSTUNREACH`` once its ARP
  resolution gives up, net/ipv4/arp.c ``arp_error_report``). The simulator
  keeps the port bound with a full accept queue (:class:`Blackhole`):
  ``listen(0)`` plus one connection it never accepts. Linux then drops
  every new SYN without an answer (net/ipv4/tcp_input.c,
  ``tcp_conn_request``: ``sk_acceptq_is_full`` -> ``drop``), which is the TCP
  view of a host that is not there. ``close(silent=True)`` does that.

Either way the *same* port is bound again when the service comes back.

The simulator's sockets are its own (:func:`loopback_socket`). The test
harness (pytest-socket, loaded by pytest-homeassistant-custom-component)
switches ``socket.socket`` to a class that refuses to be created at the start
of every test, process-wide, until the test's ``socket_enabled`` fixture
switches it back. The simulator serves from its own thread during that
window, so it must neither create nor accept sockets through
``socket.socket``: a boot that completed then failed to open the node's
services, and a connection accepted then was leaked unanswered.
"""

from __future__ import annotations

import _socket
import asyncio
import contextlib
import logging
import random
import socket
import sys
import threading
from typing import TYPE_CHECKING, Any, Final

from aiohttp import web

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable
    import ssl

_LOGGER = logging.getLogger(__name__)

HOST = "127.0.0.1"


def _cpython_socket_class() -> type[socket.socket]:
    """Return the standard library's socket class, even while it is patched.

    pytest-socket replaces ``socket.socket`` with a subclass of it; the
    original is always in the replacement's MRO.
    """
    for cls in socket.socket.__mro__:
        if cls.__module__ == "socket" and cls.__qualname__ == "socket":
            return cls
    msg = "socket.socket is not the standard library's"  # pragma: no cover
    raise RuntimeError(msg)  # pragma: no cover


class _SimulatorSocket(_cpython_socket_class()):  # type: ignore[misc]
    """A socket whose accepted connections are simulator sockets too.

    The standard ``accept()`` wraps the new descriptor with whatever
    ``socket.socket`` names at that moment (CPython Lib/socket.py), which is
    pytest-socket's refusing class during a test's set-up.
    """

    __slots__ = ()

    def accept(self) -> tuple[socket.socket, Any]:
        """Accept a connection, as ``socket.socket.accept`` does."""
        fd, address = self._accept()  # type: ignore[attr-defined]
        conn = _SimulatorSocket(self.family, self.type, self.proto, fileno=fd)
        if socket.getdefaulttimeout() is None and self.gettimeout():
            conn.setblocking(True)
        return conn, address


def client_socket() -> socket.socket:
    """Return an unbound simulator TCP socket, for a connection it opens."""
    return _SimulatorSocket(socket.AF_INET, socket.SOCK_STREAM)


# Ports a stream service is first bound to: below Linux's default ephemeral
# range (32768-60999). A service closes its port while its node is off and
# binds the same one again when the node comes back; a port of the ephemeral
# range may meanwhile be taken by any outgoing connection on the machine (the
# local end of another test's client), and the node could never come up.
_SERVICE_PORTS: Final = range(20000, 32768)
# Every port handed to a service so far, in this process (simulators may run
# in several threads). A service keeps its port for life, and while its node
# is off that port is free to the kernel: without this record another
# service's first open could take it, and the first node could never come
# back (EADDRINUSE, seen with the hundreds of services of scripts/bench poll).
_HANDED_OUT: set[int] = set()
_HANDED_OUT_LOCK = threading.Lock()
# The same record across processes: several test runs at once (CI runs its
# phases side by side, pytest-xdist workers, the demo's own simulator). Each
# port handed out is also claimed machine-wide by binding an abstract unix
# socket named after it (Linux: one name per network namespace, so a chroot
# shares it too), held for the life of the process and released by the kernel
# when it exits. Another process never picks a claimed port, even while the
# service that owns it is closed and the port itself is free.
_CLAIMS: list[_socket.socket] = []


def _claim(port: int) -> _socket.socket | None:
    """Claim ``port`` machine-wide; None when another process holds it.

    Where abstract unix sockets do not exist (not Linux), the in-process
    record is all there is: the claim is an unbound socket.
    """
    claim = _socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    if not sys.platform.startswith("linux"):  # pragma: no cover
        return claim
    try:
        claim.bind(f"\0wakehub-simulator-port-{port}")
    except OSError:
        claim.close()
        return None
    return claim


def loopback_socket(port: int, kind: socket.SocketKind) -> socket.socket:
    """Return a simulator socket of ``kind`` bound to 127.0.0.1:``port``.

    Stream sockets get ``SO_REUSEADDR``, so a service reopens on its port
    while connections from its last run linger in TIME_WAIT. A stream
    socket's first port (``port`` 0) is picked outside the ephemeral range.
    """
    if port == 0 and kind == socket.SOCK_STREAM:
        with _HANDED_OUT_LOCK:
            for candidate in random.sample(_SERVICE_PORTS, 64):
                if candidate in _HANDED_OUT:
                    continue
                claim = _claim(candidate)
                if claim is None:
                    continue
                try:
                    sock = loopback_socket(candidate, kind)
                except OSError:
                    claim.close()
                    continue
                _HANDED_OUT.add(candidate)
                _CLAIMS.append(claim)
                return sock
    sock = _SimulatorSocket(socket.AF_INET, kind)
    try:
        if kind == socket.SOCK_STREAM:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((HOST, port))
    except BaseException:
        sock.close()
        raise
    return sock


class Blackhole:
    """A bound port that answers no SYN: what a client sees of a host that is off.

    ``listen(0)`` and one connection from the simulator itself that is never
    accepted fill the accept queue (Linux allows ``backlog + 1`` queued
    connections, include/net/sock.h ``sk_acceptq_is_full``); from then on
    Linux drops every SYN to the port silently (net/ipv4/tcp_input.c,
    ``tcp_conn_request``), and a client's ``connect()`` ends only at its own
    timeout. Nothing runs: no thread, no task, two file descriptors.
    """

    def __init__(self, port: int) -> None:
        """Bind ``port`` and fill its accept queue."""
        self._listener = loopback_socket(port, socket.SOCK_STREAM)
        self._filler: socket.socket | None = None
        try:
            self._listener.listen(0)
            filler = client_socket()
            self._filler = filler
            # On loopback the handshake completes inside connect().
            filler.settimeout(1.0)
            filler.connect((HOST, port))
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Unbind the port (the queued connection is reset)."""
        if self._filler is not None:
            self._filler.close()
            self._filler = None
        self._listener.close()


def _finished(protocol: asyncio.BaseProtocol) -> bool:
    transport = getattr(protocol, "transport", None)
    return transport is None or transport.is_closing()


def _port_of(sockets: Any) -> int:
    for sock in sockets or ():
        return int(sock.getsockname()[1])
    raise RuntimeError("listener has no socket")


class Listener:
    """Base class: a service bound to one loopback port, opened and closed at will."""

    def __init__(self, name: str) -> None:
        """Initialise a closed listener; the port is chosen on first open."""
        self.name = name
        self.port = 0
        self._lock = asyncio.Lock()
        self._blackhole: Blackhole | None = None

    @property
    def is_silent(self) -> bool:
        """Return True while the port answers nothing (its machine is off)."""
        return self._blackhole is not None

    @property
    def is_open(self) -> bool:
        """Return True while the listener accepts connections."""
        raise NotImplementedError

    async def open(self) -> None:
        """Start listening (on a new ephemeral port the first time).

        Opening is never interrupted halfway. asyncio's ``create_server``
        starts serving, then yields once (CPython Lib/asyncio/base_events.py);
        a cancellation there (a reset, or another power action cancelling a
        boot) used to leave a server listening that nothing knew of: the
        node refused nothing while off, and every later open of that port
        failed with EADDRINUSE, so the node never came up again. A cancelled
        caller now waits for the open to finish (still holding the lock, so
        the canceller's own close comes after it), then is cancelled.
        """
        async with self._lock:
            if self.is_open:
                return
            self._unsilence()
            opening = asyncio.ensure_future(self._open_with_retries())
            try:
                await asyncio.shield(opening)
            except asyncio.CancelledError:
                with contextlib.suppress(Exception):
                    await opening
                raise

    async def _open_with_retries(self) -> None:
        for attempt in range(50):
            try:
                await self._open()
            except OSError:
                # The port may linger briefly; retry instead of moving,
                # because clients remember it.
                if self.port == 0 or attempt == 49:
                    raise
                await asyncio.sleep(0.02)
            else:
                return

    async def close(self, *, silent: bool = False) -> None:
        """Stop listening and drop every open connection.

        The port then refuses connections (a service down on a machine that
        is on), or with ``silent`` answers nothing (the machine is off).
        """
        async with self._lock:
            await self._close()
            if not silent:
                self._unsilence()
            elif self._blackhole is None and self.port:
                self._blackhole = Blackhole(self.port)

    def _unsilence(self) -> None:
        blackhole, self._blackhole = self._blackhole, None
        if blackhole is not None:
            blackhole.close()

    async def _open(self) -> None:
        raise NotImplementedError

    async def _close(self) -> None:
        raise NotImplementedError


class ProtocolListener(Listener):
    """A listener for an asyncio protocol factory (aiohttp, forwarders...)."""

    def __init__(
        self,
        name: str,
        factory: Callable[[], asyncio.BaseProtocol],
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        """Wrap ``factory``; ``ssl_context`` turns on TLS."""
        super().__init__(name)
        self._factory = factory
        self._ssl = ssl_context
        self._server: asyncio.Server | None = None
        # Protocols often use __slots__ (no weakrefs): keep strong references
        # and prune the finished ones on every new connection.
        self._protocols: set[asyncio.BaseProtocol] = set()

    @property
    def is_open(self) -> bool:
        """Return True while the listener accepts connections."""
        return self._server is not None

    def _make_protocol(self) -> asyncio.BaseProtocol:
        protocol = self._factory()
        self._protocols = {p for p in self._protocols if not _finished(p)}
        self._protocols.add(protocol)
        return protocol

    async def _open(self) -> None:
        loop = asyncio.get_running_loop()
        sock = loopback_socket(self.port, socket.SOCK_STREAM)
        try:
            self._server = await loop.create_server(
                self._make_protocol, sock=sock, ssl=self._ssl
            )
        except BaseException:
            sock.close()
            raise
        self.port = _port_of(self._server.sockets)

    async def _close(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        for protocol in list(self._protocols):
            transport = getattr(protocol, "transport", None)
            if transport is not None:
                transport.abort()
        self._protocols.clear()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(server.wait_closed(), 1.0)


class WebListener(ProtocolListener):
    """An aiohttp application served by a :class:`ProtocolListener`."""

    def __init__(
        self,
        name: str,
        app: web.Application,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        """Serve ``app``; call :meth:`setup` before the first :meth:`open`."""
        self.runner = web.AppRunner(app, handle_signals=False, access_log=None)
        super().__init__(name, self._protocol, ssl_context)

    def _protocol(self) -> asyncio.BaseProtocol:
        server = self.runner.server
        assert server is not None
        return server()

    async def setup(self) -> None:
        """Prepare the aiohttp runner."""
        await self.runner.setup()

    async def _close(self) -> None:
        server = self.runner.server
        if server is not None:
            for handler in server.connections:
                if handler.transport is not None:
                    handler.transport.abort()
        await super()._close()

    async def cleanup(self) -> None:
        """Close for good and release the runner."""
        await self.close()
        await self.runner.cleanup()


async def run_later(delay: float, callback: Callable[[], Awaitable[None]]) -> None:
    """Await ``callback`` after ``delay`` seconds, logging any failure."""
    await asyncio.sleep(delay)
    try:
        await callback()
    except Exception:
        _LOGGER.exception("homelab: delayed action failed")
