"""The session simulator keeps serving whatever the tests around it do.

Two ways it used to stop booting machines for the rest of a session:

- pytest-homeassistant-custom-component calls pytest-socket's
  ``disable_socket()`` at the start of every test; ``socket.socket`` then
  refuses to be created, process-wide, until the test's ``socket_enabled``
  fixture runs. The simulator thread serves throughout, so a boot that
  completed in that window could not open the node's services, a
  connection accepted in it was leaked unanswered, and a Docker socket
  tunnelled through SSH could not reach the Docker API.
- The ``homelab`` fixture's reset cancels the boots still running from the
  previous test. A boot cancelled while its listener was being opened left
  a server listening that the simulator did not know of: the node accepted
  connections while off, and it never came up again (EADDRINUSE).
"""

from __future__ import annotations

import asyncio
import errno
import socket
from typing import TYPE_CHECKING

import pytest_socket

from tests.homelab.wol import SYNC

from .helpers import tcp_answer
from .test_wol_ssh import _ssh

if TYPE_CHECKING:
    from tests.homelab import Homelab, HomelabThread


def _magic_packet(mac: str) -> bytes:
    return SYNC + bytes.fromhex(mac.replace(":", "")) * 16


def _listening(port: int) -> bool:
    """Return True while something listens on 127.0.0.1:``port``.

    ``SO_REUSEADDR`` lets the probe bind over a socket that is bound but not
    listening (or lingering in TIME_WAIT); only a listener refuses it.
    """
    probe = socket.socket()
    try:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind(("127.0.0.1", port))
    except OSError as err:
        if err.errno != errno.EADDRINUSE:
            raise
        return True
    finally:
        probe.close()
    return False


def _banner(port: int) -> bytes:
    """Return an SSH server's banner: the connection was accepted and served.

    Reading it also lets the accept finish before the test moves on (closing
    a server mid-accept trips CPython's gh-109564 on 3.13.0).
    """
    with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
        return client.recv(64)


def test_serves_while_the_harness_refuses_sockets(homelab: HomelabThread) -> None:
    """A boot, a power-on and an accepted connection, all inside the window."""
    nodes = homelab.ready["nodes"]
    wol = homelab.ready["wol"]
    # The test's own sockets are made first: inside the window it has none.
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    client = socket.socket()
    client.settimeout(5)
    pytest_socket.disable_socket(allow_unix_socket=True)
    try:
        sender.sendto(
            _magic_packet(nodes["Machine1"]["mac"]), (wol["host"], wol["port"])
        )
        homelab.set_power("NAS", "on")
        client.connect(("127.0.0.1", nodes["NAS"]["ssh"]["port"]))
        banner = client.recv(64)
        homelab.wait_state("Machine1", "on")
    finally:
        pytest_socket.enable_socket()
        sender.close()
        client.close()
    assert banner.startswith(b"SSH-2.0-")
    assert homelab.state("NAS") == "on"
    assert _banner(nodes["Machine1"]["ssh"]["port"]).startswith(b"SSH-2.0-")


def test_a_reset_during_a_boot_leaves_no_listener_behind(
    homelab: HomelabThread,
) -> None:
    """The reset lands while the NAS's sshd is being opened; the NAS still boots."""
    port = homelab.ready["nodes"]["NAS"]["ssh"]["port"]

    async def reset_mid_open(lab: Homelab) -> None:
        lab.boot_machine("NAS")
        listener = lab.ssh["NAS"]
        # Wait, one loop iteration at a time, for the boot to be inside the
        # listener's open with the port listening: create_server yields there.
        while not (listener._lock.locked() and _listening(port)):
            assert lab.node("NAS").state == "booting"
            await asyncio.sleep(0)
        await lab.reset()

    homelab.run(reset_mid_open)

    assert homelab.state("NAS") == "off"
    assert tcp_answer(port) == "silent"
    homelab.set_power("NAS", "on")
    assert _banner(port).startswith(b"SSH-2.0-")
    homelab.reset()
    homelab.call(lambda lab: lab.boot_machine("NAS"))
    homelab.wait_state("NAS", "on")


async def test_tunnels_while_the_harness_refuses_sockets(
    homelab: HomelabThread,
) -> None:
    """VM-Docker's docker.sock through SSH, opened inside the window."""
    homelab.set_power("VM-Docker", "running")
    async with await _ssh(homelab, "VM-Docker") as conn:
        pytest_socket.disable_socket(allow_unix_socket=True)
        try:
            reader, writer = await conn.open_unix_connection("/var/run/docker.sock")
            writer.write(
                b"GET /_ping HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n\r\n"
            )
            answer = await asyncio.wait_for(reader.read(), 5)
            writer.close()
        finally:
            pytest_socket.enable_socket()
    assert answer.startswith(b"HTTP/1.1 200")
    assert answer.endswith(b"OK")
