"""The SSH server of each machine (and of each Docker-capable guest).

It accepts two users, with the homelab's password or the client key:

``root`` (uid 0)
    may shut the host down and use the Docker socket, as on a Proxmox VE
    host where one logs in as root;
``wakehub`` (uid 1000, not in the ``docker`` group)
    may run the shutdown commands only through ``sudo`` (a NOPASSWD rule for
    them, unless the ``sudo_password_required`` fault is set), and may not
    use the Docker socket.

It runs what a real host would honour of: the shutdown commands, ``id``,
``id -u``, ``sudo -n -l <command>`` and the two read-only usage commands
(``ss -Htn state established``, ``cat /proc/stat /proc/meminfo``: metrics.py);
it answers 127 to anything else. It
forwards direct-streamlocal channels for ``/var/run/docker.sock`` to the
host's simulated Docker API, as ``ssh -L`` to a real host would.

Upstream behaviour modelled, and where it comes from:

* a non-root user's ``systemctl poweroff`` (``shutdown``, ``poweroff``: the
  same binary) over SSH is refused by logind's polkit check, exit 1, "Failed
  to power off system via logind: Interactive authentication required."
  (systemd src/systemctl/systemctl-logind.c);
* ``sudo -n`` that would need a password exits 1 with "sudo: a password is
  required"; ``sudo -n -l <command>`` prints the command's full path and
  exits 0 when the policy allows it without a password, else exits 1
  (sudo plugins/sudoers/sudoers.c, display_cmnd; root needs no password);
* OpenSSH answers a direct-streamlocal channel it cannot connect for the user
  (missing socket, EACCES) with OPEN_CONNECT_FAILED, reason "open failed"
  (openssh serverloop.c, server_input_channel_open).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shlex
import socket
from typing import TYPE_CHECKING, Any, Final

import asyncssh

from . import metrics
from .model import monotonic
from .service import HOST, Listener, client_socket, loopback_socket

if TYPE_CHECKING:
    from .core import Homelab

_LOGGER = logging.getLogger(__name__)

SHUTDOWN_COMMANDS: Final = (
    ("systemctl", "poweroff"),
    ("shutdown", "-h", "now"),
    ("poweroff",),
)
DOCKER_SOCKETS: Final = ("/var/run/docker.sock", "/run/docker.sock")
SUDO_PASSWORD_REQUIRED: Final = "sudo: a password is required\n"
SUDO_NO_TTY: Final = (
    "sudo: a terminal is required to read the password; either use the -S "
    "option to read from standard input or configure an askpass helper\n"
)
# Grace period (real seconds) between a shutdown command's exit status and the
# connection drop, so that the client reliably sees "exit 0" first.
DROP_GRACE: Final = 0.05
ROOT: Final = "root"
UNPRIVILEGED: Final = "wakehub"
USERS: Final = {ROOT: (0, ("root",)), UNPRIVILEGED: (1000, ("wakehub",))}
"""Each user's uid and groups (gid = the first group's, as ``useradd`` does)."""
COMMAND_PATHS: Final = {
    "systemctl": "/usr/bin/systemctl",
    "shutdown": "/usr/sbin/shutdown",
    "poweroff": "/usr/sbin/poweroff",
}
LOGIND_REFUSAL: Final = (
    "Failed to power off system via logind: Interactive authentication required.\n"
)
OPEN_FAILED: Final = "open failed"


def _address(sockaddr: Any) -> str:
    """``host:port`` as ``ss`` prints it (IPv6 in brackets)."""
    host, port = sockaddr[0], sockaddr[1]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def id_line(username: str) -> str:
    """What ``id`` prints for ``username``."""
    uid, groups = USERS[username]
    listed = ",".join(
        f"{uid if index == 0 else 900 + index}({group})"
        for index, group in enumerate(groups)
    )
    return f"uid={uid}({username}) gid={uid}({groups[0]}) groups={listed}\n"


class _Server(asyncssh.SSHServer):
    """Per-connection server object: authentication and tunnels."""

    def __init__(self, listener: SshListener) -> None:
        self._listener = listener
        self._conn: asyncssh.SSHServerConnection | None = None
        self._username = ""

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self._conn = conn
        self._listener.connections.add(conn)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._conn is not None:
            self._listener.connections.discard(self._conn)

    def begin_auth(self, username: str) -> bool:
        self._username = username
        return True

    def password_auth_supported(self) -> bool:
        return True

    def validate_password(self, username: str, password: str) -> bool:
        lab = self._listener.lab
        return username in USERS and password == lab.ssh_password

    def public_key_auth_supported(self) -> bool:
        return True

    def validate_public_key(self, username: str, key: asyncssh.SSHKey) -> bool:
        lab = self._listener.lab
        return username in USERS and key.public_data == lab.client_key.public_data

    def unix_connection_requested(self, dest_path: str) -> Any:
        lab = self._listener.lab
        name = self._listener.node_name
        lab.count(name, "ssh direct-streamlocal")
        docker = lab.docker.get(name)
        if dest_path not in DOCKER_SOCKETS or docker is None:
            raise asyncssh.ChannelOpenError(
                asyncssh.OPEN_CONNECT_FAILED, f"{dest_path}: No such file or directory"
            )
        if self._username != ROOT:
            # Not root and not in the docker group: EACCES on the socket.
            raise asyncssh.ChannelOpenError(asyncssh.OPEN_CONNECT_FAILED, OPEN_FAILED)
        if not docker.is_open or self._conn is None:
            raise asyncssh.ChannelOpenError(
                asyncssh.OPEN_CONNECT_FAILED, f"{dest_path}: Connection refused"
            )
        return _forward(docker.port)


async def _forward(port: int) -> asyncssh.SSHForwarder:
    """Tunnel a channel to 127.0.0.1:``port``, as ``forward_connection`` does.

    Not ``SSHServerConnection.forward_connection`` itself: it connects with
    ``loop.create_connection(host, port)``, whose socket comes from
    ``socket.socket`` (see :mod:`.service` for why the simulator makes its own).
    """
    loop = asyncio.get_running_loop()
    sock = client_socket()
    try:
        sock.setblocking(False)
        await loop.sock_connect(sock, (HOST, port))
        _, peer = await loop.create_connection(asyncssh.SSHForwarder, sock=sock)
    except OSError as err:
        sock.close()
        raise asyncssh.ChannelOpenError(
            asyncssh.OPEN_CONNECT_FAILED, str(err)
        ) from None
    except BaseException:
        sock.close()
        raise
    return asyncssh.SSHForwarder(peer)


class SshListener(Listener):
    """The sshd of one node, closed while the node is down."""

    def __init__(self, lab: Homelab, node_name: str) -> None:
        """Serve ``node_name``'s SSH with the homelab's credentials."""
        super().__init__(f"{node_name} ssh")
        self.lab = lab
        self.node_name = node_name
        self.connections: set[asyncssh.SSHServerConnection] = set()
        self._acceptor: asyncssh.SSHAcceptor | None = None

    @property
    def is_open(self) -> bool:
        """Return True while the listener accepts connections."""
        return self._acceptor is not None

    async def _open(self) -> None:
        sock = loopback_socket(self.port, socket.SOCK_STREAM)
        try:
            self._acceptor = await asyncssh.listen(
                sock=sock,
                server_factory=lambda: _Server(self),
                server_host_keys=[self.lab.host_keys[self.node_name]],
                process_factory=self._handle_process,
                allow_scp=False,
                agent_forwarding=False,
                x11_forwarding=False,
                login_timeout=30,
            )
        except BaseException:
            sock.close()
            raise
        self.port = self._acceptor.get_port()

    async def _close(self) -> None:
        acceptor, self._acceptor = self._acceptor, None
        if acceptor is None:
            return
        acceptor.close()
        for conn in list(self.connections):
            conn.abort()
        self.connections.clear()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(acceptor.wait_closed(), 1.0)

    async def _handle_process(self, process: asyncssh.SSHServerProcess[str]) -> None:
        lab = self.lab
        node = lab.node(self.node_name)
        command = process.command
        lab.count(self.node_name, "ssh exec" if command is not None else "ssh shell")
        lab.ssh_commands.append(
            {"t": monotonic(), "node": self.node_name, "command": command}
        )
        if command is None:
            process.stderr.write("This simulated host only runs commands.\n")
            process.exit(1)
            return
        username = str(process.get_extra_info("username") or "")
        try:
            words = shlex.split(command)
        except ValueError:
            words = command.split()
        if words == ["id"]:
            process.stdout.write(id_line(username))
            process.exit(0)
            return
        if words == ["id", "-u"]:
            process.stdout.write(f"{USERS[username][0]}\n")
            process.exit(0)
            return
        missing = words == metrics.SS_WORDS and node.faults.get("ss_missing")
        if words in (metrics.SS_WORDS, metrics.PROC_WORDS) and not missing:
            if words == metrics.SS_WORDS:
                session = (
                    _address(process.get_extra_info("sockname")),
                    _address(process.get_extra_info("peername")),
                )
                process.stdout.write(metrics.ss_output(node, session))
            else:
                process.stdout.write(metrics.proc_output(node))
            process.exit(0)
            return
        sudo = False
        if words[:1] == ["sudo"]:
            sudo = True
            non_interactive = words[1:2] == ["-n"]
            words = words[2:] if non_interactive else words[1:]
            listing = words[:1] == ["-l"]
            if listing:
                words = words[1:]
            if username != ROOT and node.faults.get("sudo_password_required"):
                _LOGGER.info(
                    "homelab: %s: sudo refused for %r", self.node_name, command
                )
                process.stderr.write(
                    SUDO_PASSWORD_REQUIRED
                    if non_interactive
                    else SUDO_NO_TTY + SUDO_PASSWORD_REQUIRED
                )
                process.exit(1)
                return
            if listing:
                if tuple(words) in SHUTDOWN_COMMANDS:
                    path = COMMAND_PATHS[words[0]]
                    process.stdout.write(" ".join([path, *words[1:]]) + "\n")
                    process.exit(0)
                else:
                    process.exit(1)
                return
        if tuple(words) in SHUTDOWN_COMMANDS:
            if username != ROOT and not sudo:
                _LOGGER.info(
                    "homelab: %s: %r refused for %s", self.node_name, command, username
                )
                process.stderr.write(LOGIND_REFUSAL)
                process.exit(1)
                return
            lab.record(
                self.node_name, "ssh_shutdown", "ssh", command=command, sudo=sudo
            )
            process.exit(0)
            await asyncio.sleep(DROP_GRACE)
            if node.is_machine:
                await lab.shutdown_machine(self.node_name)
            else:
                lab.stop_guest(self.node_name, graceful=True)
            return
        _LOGGER.info("homelab: %s: unknown command %r", self.node_name, command)
        program = words[0] if words else command
        process.stderr.write(f"bash: line 1: {program}: command not found\n")
        process.exit(127)
