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

And one way a simulator in ANOTHER process (CI runs its test phases side by
side) could stop it: a node's port is free to the kernel while its service is
closed, and the other simulator took it as a new service's first port.
"""

from __future__ import annotations

import asyncio
import errno
from pathlib import Path
import random
import socket
import subprocess
import sys
from typing import TYPE_CHECKING

import pytest_socket

from tests.homelab import service
from tests.homelab.wol import SYNC

from .helpers import tcp_answer
from .test_wol_ssh import _ssh

if TYPE_CHECKING:
    import pytest

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


# A second process takes every port of a small range, then closes them (its
# services are down: the ports are free to the kernel, not to other simulators).
_OTHER_SIMULATOR = """
import socket, sys
from tests.homelab import service
service._SERVICE_PORTS = range(int(sys.argv[1]), int(sys.argv[1]) + 64)
ports = []
for _ in range(64):
    sock = service.loopback_socket(0, socket.SOCK_STREAM)
    ports.append(sock.getsockname()[1])
    sock.close()
print(*ports, flush=True)
sys.stdin.read()
"""


def test_a_port_another_process_handed_out_is_never_taken(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Ports of another process's closed services stay its own until it exits."""
    start = random.randrange(20000, 32768 - 64)
    other = subprocess.Popen(
        [sys.executable, "-c", _OTHER_SIMULATOR, str(start)],
        cwd=Path(__file__).resolve().parents[2],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    claims: list[socket.socket] = []
    # This process's own record starts empty: only the claims keep it off.
    monkeypatch.setattr(service, "_SERVICE_PORTS", range(start, start + 64))
    monkeypatch.setattr(service, "_HANDED_OUT", set())
    monkeypatch.setattr(service, "_CLAIMS", claims)
    try:
        assert other.stdout is not None
        theirs = {int(port) for port in other.stdout.readline().split()}
        in_range = theirs & set(range(start, start + 64))
        assert in_range, theirs
        assert not any(_listening(port) for port in in_range)
        with service.loopback_socket(0, socket.SOCK_STREAM) as mine:
            assert mine.getsockname()[1] not in theirs
    finally:
        other.communicate("", timeout=30)
    # Once it has exited, the kernel has released its claims.
    with service.loopback_socket(0, socket.SOCK_STREAM) as mine:
        assert mine.getsockname()[1] in in_range
    for claim in claims:
        claim.close()
