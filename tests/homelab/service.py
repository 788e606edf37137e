"""TCP listeners that close while their node is down and reopen on the same port.

A powered-off host refuses TCP connections, so the simulator closes a
service's listening socket (and drops its open connections) when the node
goes down, and binds the *same* port again when it comes back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable
    import ssl

_LOGGER = logging.getLogger(__name__)

HOST = "127.0.0.1"


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

    @property
    def is_open(self) -> bool:
        """Return True while the listener accepts connections."""
        raise NotImplementedError

    async def open(self) -> None:
        """Start listening (on a new ephemeral port the first time)."""
        async with self._lock:
            if self.is_open:
                return
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

    async def close(self) -> None:
        """Stop listening and drop every open connection."""
        async with self._lock:
            await self._close()

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
        self._server = await loop.create_server(
            self._make_protocol,
            HOST,
            self.port,
            family=socket.AF_INET,
            ssl=self._ssl,
            reuse_address=True,
        )
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
