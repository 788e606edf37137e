"""Docker over TLS (2376-style, mutual TLS) with real certificates.

A TLS terminator on 127.0.0.1 (server certificate from a throwaway CA, client
certificate REQUIRED) forwards the raw bytes to the simulator's plain Docker
API, so the channel speaks real TLS to a real Docker API.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from typing import TYPE_CHECKING

import pytest
import trustme

from custom_components.wakehub.channels import (
    DockerConfig,
    DockerEndpoint,
    DockerHost,
    InvalidConfigError,
    TlsVerificationError,
)

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from homeassistant.core import HomeAssistant

    from tests.homelab import HomelabThread


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    writer.close()


class TlsDocker:
    """A mutual-TLS front for a plain Docker API."""

    def __init__(self, ca: trustme.CA, upstream_port: int) -> None:
        self.ca = ca
        self.upstream_port = upstream_port
        self.client = ca.issue_cert("wakehub-client")
        self.port = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.ca.issue_cert("127.0.0.1").configure_cert(context)
        self.ca.configure_trust(context)
        context.verify_mode = ssl.CERT_REQUIRED
        self._server = await asyncio.start_server(
            self._handle, "127.0.0.1", 0, ssl=context
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def _handle(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        up_reader, up_writer = await asyncio.open_connection(
            "127.0.0.1", self.upstream_port
        )
        pumps = [
            asyncio.create_task(_pipe(reader, up_writer)),
            asyncio.create_task(_pipe(up_reader, writer)),
        ]
        self._tasks.update(pumps)
        await asyncio.gather(*pumps, return_exceptions=True)
        self._tasks.difference_update(pumps)

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    def config(self, ca: trustme.CA | None = None) -> DockerConfig:
        return DockerConfig(
            endpoint=DockerEndpoint.TLS,
            host="127.0.0.1",
            port=self.port,
            tls_ca=(ca or self.ca).cert_pem.bytes().decode(),
            tls_cert=self.client.cert_chain_pems[0].bytes().decode(),
            tls_key=self.client.private_key_pem.bytes().decode(),
            timeout=5.0,
        )


@pytest.fixture
async def tls_docker(homelab: HomelabThread) -> AsyncIterator[TlsDocker]:
    """The RaspberryPi's Docker API behind mutual TLS."""
    homelab.set_power("RaspberryPi", "on")
    front = TlsDocker(
        trustme.CA(), homelab.ready["nodes"]["RaspberryPi"]["docker"]["port"]
    )
    await front.start()
    yield front
    await front.stop()


async def test_mutual_tls(tls_docker: TlsDocker, homelab: HomelabThread) -> None:
    """CA-verified server, client certificate presented: it works."""
    host = DockerHost(tls_docker.config())
    try:
        await host.check()
        homelab.reset_requests()
        assert set(await host.read_states()) == {"pihole", "uptime-kuma"}
        assert homelab.requests()["hosts"]["RaspberryPi"]["total"] == 1
        await host.start("pihole")
        homelab.wait_state("pihole", "running")
    finally:
        await host.close()


async def test_untrusted_server_is_refused(tls_docker: TlsDocker) -> None:
    """A server certificate from another CA fails verification."""
    host = DockerHost(tls_docker.config(ca=trustme.CA()))
    try:
        with pytest.raises(TlsVerificationError):
            await host.read_states()
    finally:
        await host.close()


async def test_bad_tls_material() -> None:
    """PEM text that is not a certificate is an InvalidConfigError."""
    host = DockerHost(
        DockerConfig(
            endpoint=DockerEndpoint.TLS,
            host="127.0.0.1",
            tls_ca="not a certificate",
            tls_cert="x",
            tls_key="y",
        )
    )
    with pytest.raises(InvalidConfigError):
        await host.read_states()
    await host.close()


async def test_tls_in_hass(hass: HomeAssistant, tls_docker: TlsDocker) -> None:
    """The TLS context is built in the executor: no blocking call in the loop."""
    host = DockerHost(tls_docker.config())
    try:
        assert "pihole" in await host.read_states()
    finally:
        await host.close()
