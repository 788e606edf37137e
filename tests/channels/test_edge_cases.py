"""Timeouts and broken peers, on loopback and against the simulator."""

from __future__ import annotations

import asyncio
import socket
from typing import TYPE_CHECKING

import pytest

from custom_components.wakehub.channels import (
    ChannelTimeoutError,
    ProxmoxHost,
    SshChannel,
    SshConfig,
    TlsVerificationError,
    UnreachableError,
    fetch_certificate_fingerprint,
)
from custom_components.wakehub.channels.errors import ChannelError
from tests.channels.test_sim_proxmox import token_config

if TYPE_CHECKING:
    from tests.homelab import HomelabThread

HOST_KEY = (
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHh0eXGJ7r0Yqkq8O8rG3yqmW4u3Xh2bQ0lFHEO0vZ1e"
)


def _ssh(port: int) -> SshConfig:
    return SshConfig(
        host="127.0.0.1",
        port=port,
        username="u",
        password="p",
        host_key=HOST_KEY,
        timeout=0.5,
    )


async def test_ssh_server_that_never_speaks_times_out() -> None:
    """The kernel accepts, no SSH banner ever comes: ChannelTimeoutError."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        with pytest.raises(ChannelTimeoutError):
            await SshChannel(_ssh(listener.getsockname()[1])).shutdown()


async def test_ssh_peer_that_is_not_ssh() -> None:
    """A peer answering garbage and hanging up is UnreachableError."""

    async def handle(
        _reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        writer.write(b"HTTP/1.1 400 Bad Request\r\n\r\n")
        await writer.drain()
        writer.close()
        await writer.wait_closed()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        with pytest.raises(UnreachableError):
            await SshChannel(_ssh(server.sockets[0].getsockname()[1])).check()
    finally:
        server.close()
        await server.wait_closed()


async def test_certificate_of_a_non_tls_port(homelab: HomelabThread) -> None:
    """Asking an SSH port for its certificate is a TLS error, not a crash."""
    homelab.set_power("NAS", "on")
    with pytest.raises(TlsVerificationError):
        await fetch_certificate_fingerprint(
            "127.0.0.1", homelab.ready["nodes"]["NAS"]["ssh"]["port"]
        )


async def test_task_that_never_ends_times_out(homelab: HomelabThread) -> None:
    """A shutdown task outliving the wait it is given: ChannelTimeoutError.

    (By default a shutdown waits for Proxmox's whole window plus a margin;
    a cascade gives it what is left of its step.)
    """
    homelab.set_power("VM-Ubuntu", "running")
    homelab.fault("VM-Ubuntu", "ignore_shutdown")
    host = ProxmoxHost(token_config(homelab), task_poll_interval=0.05, task_timeout=0.3)
    try:
        with pytest.raises(ChannelTimeoutError, match="did not finish"):
            await host.shutdown("102", timeout=600, force_stop=False, max_wait=0.3)
    finally:
        await host.close()


def test_error_codes() -> None:
    """Every error has a stable code; a more precise one can be given."""
    assert ChannelError("x").code == "channel_error"
    assert ChannelError("x", code="custom").code == "custom"
    assert UnreachableError().message == "unreachable"
