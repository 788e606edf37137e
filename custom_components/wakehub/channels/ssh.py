"""SSH channel (asyncssh): shut a machine down, tunnel to its Docker socket.

Security model:

* The server's host key is **pinned**. :func:`fetch_host_key` reads it once,
  for the config flow to show its SHA256 fingerprint and store the key; every
  later connection is made with a ``known_hosts`` holding only that key, so a
  changed key raises :class:`HostKeyMismatchError` before authentication and
  before anything is sent.
* The shutdown command is one of :class:`ShutdownCommand`, optionally
  prefixed with ``sudo -n`` (non-interactive). It is never built from free
  user text.
* No file of the Home Assistant host (``~/.ssh/config``, default keys, agent,
  X.509 bundles) is read: everything the connection needs is in
  :class:`SshConfig`.

A connection dropped while the shutdown command runs means the machine went
down, and counts as success. A *refused* connection at shutdown means the
machine answers (it is on) but its SSH server does not run:
:class:`NotControllableError`, never "already off".

:meth:`SshChannel.check` (the config flow's test) proves more than a login:
it runs a harmless fixed command that shows the configured shutdown will be
allowed, ``id -u`` (uid 0) without sudo, ``sudo -n -l <shutdown command>``
with it, and raises :class:`ShutdownNotAllowedError` otherwise. A key that
the machine restricts to the shutdown (``command=`` in ``authorized_keys``,
``SshConfig.forced_command``) is only logged in with: the server would run
the shutdown instead of any command.

:meth:`SshChannel.read` runs the inactivity rules' fixed read-only commands
(:class:`ReadOnlyCommand`, never user text) over one pinned connection, and
refuses to with a forced-command key.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

import asyncssh

from .budget import RequestBudget
from .errors import (
    AuthenticationError,
    ChannelError,
    ChannelTimeoutError,
    CommandFailedError,
    HostKeyMismatchError,
    InvalidConfigError,
    NotControllableError,
    ShutdownNotAllowedError,
    UnreachableError,
)

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterable

DEFAULT_SSH_PORT = 22
DEFAULT_SSH_TIMEOUT = 10.0
SUDO_PREFIX = "sudo -n"


class ShutdownCommand(StrEnum):
    """The only commands WakeHub ever sends over SSH."""

    SYSTEMCTL_POWEROFF = "systemctl poweroff"
    SHUTDOWN_NOW = "shutdown -h now"
    POWEROFF = "poweroff"


@dataclass(frozen=True, slots=True, kw_only=True)
class HostKey:
    """An SSH server's host key, as shown to the user and stored."""

    algorithm: str
    """Key algorithm, e.g. ``ssh-ed25519``."""
    public_key: str
    """The OpenSSH public key line (``ssh-ed25519 AAAA...``) to pin."""
    fingerprint: str
    """``SHA256:...``, as ``ssh-keygen -l`` prints it."""


class ReadOnlyCommand(StrEnum):
    """The fixed read-only commands an inactivity rule reads a machine with."""

    CONNECTIONS = "ss -Htn state established"
    """Established TCP connections (iproute2), no header, no State column."""
    USAGE = "cat /proc/stat /proc/meminfo"
    """Cumulative CPU jiffies and memory figures (proc(5))."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SshConfig:
    """How to reach and authenticate to one machine over SSH.

    ``host_key`` is the pinned OpenSSH public key line returned by
    :func:`fetch_host_key`. Either ``password`` or ``private_key`` (OpenSSH
    or PEM text, with an optional ``passphrase``) must be given.
    """

    host: str
    username: str
    host_key: str
    port: int = DEFAULT_SSH_PORT
    password: str | None = field(default=None, repr=False)
    private_key: str | None = field(default=None, repr=False)
    passphrase: str | None = field(default=None, repr=False)
    shutdown_command: ShutdownCommand = ShutdownCommand.SYSTEMCTL_POWEROFF
    use_sudo: bool = False
    forced_command: bool = False
    """The key is restricted to the shutdown by ``command=`` in the machine's
    ``authorized_keys``: the server runs that command whatever is asked, so
    :meth:`SshChannel.check` must not run any command."""
    timeout: float = DEFAULT_SSH_TIMEOUT

    def __post_init__(self) -> None:
        """Reject a configuration that could never work."""
        if not self.password and not self.private_key:
            raise InvalidConfigError("a password or a private key is required")
        try:
            command = ShutdownCommand(self.shutdown_command)
        except ValueError as err:
            raise InvalidConfigError(
                f"unsupported shutdown command {self.shutdown_command!r}"
            ) from err
        object.__setattr__(self, "shutdown_command", command)

    @property
    def command_line(self) -> str:
        """The exact command line sent by :meth:`SshChannel.shutdown`."""
        if self.use_sudo:
            return f"{SUDO_PREFIX} {self.shutdown_command.value}"
        return self.shutdown_command.value


def host_key_from_ssh_key(key: asyncssh.SSHKey) -> HostKey:
    """Describe an asyncssh public key as a :class:`HostKey`."""
    return HostKey(
        algorithm=key.get_algorithm(),
        public_key=key.export_public_key("openssh").decode().strip(),
        fingerprint=key.get_fingerprint("sha256"),
    )


def parse_host_key(public_key: str) -> HostKey:
    """Parse a pinned OpenSSH public key line; raise ``InvalidConfigError``."""
    try:
        key = asyncssh.import_public_key(public_key.strip())
    except (asyncssh.KeyImportError, ValueError) as err:
        raise InvalidConfigError(f"invalid SSH host key: {err}") from err
    return host_key_from_ssh_key(key)


def check_private_key(private_key: str, passphrase: str | None = None) -> None:
    """Read a private key (blocking: run it in an executor).

    Raise ``InvalidConfigError`` for text that is no private key, and
    ``AuthenticationError`` for a key the passphrase does not decrypt.
    """
    try:
        asyncssh.import_private_key(private_key, passphrase)
    except (asyncssh.KeyImportError, asyncssh.KeyEncryptionError, ValueError) as err:
        if isinstance(err, asyncssh.KeyEncryptionError):
            raise AuthenticationError(f"cannot decrypt the private key: {err}") from err
        raise InvalidConfigError(f"invalid private key: {err}") from err


def _map_error(err: BaseException, where: str) -> ChannelError:
    """Translate an asyncssh/OS error into a channel error."""
    if isinstance(err, ChannelError):
        return err
    if isinstance(err, asyncssh.HostKeyNotVerifiable):
        return HostKeyMismatchError(
            f"the SSH host key of {where} is not the pinned one: {err.reason}"
        )
    if isinstance(err, asyncssh.PermissionDenied):
        return AuthenticationError(f"SSH authentication refused by {where}")
    if isinstance(err, asyncssh.KeyEncryptionError):
        return AuthenticationError(f"cannot decrypt the private key: {err}")
    if isinstance(err, asyncssh.KeyImportError):
        return InvalidConfigError(f"invalid private key: {err}")
    if isinstance(err, TimeoutError):
        return ChannelTimeoutError(f"SSH connection to {where} timed out")
    if isinstance(err, ConnectionRefusedError):
        return UnreachableError(f"SSH connection to {where} refused")
    if isinstance(err, asyncssh.DisconnectError):
        return UnreachableError(f"SSH connection to {where} closed: {err.reason}")
    if isinstance(err, OSError):
        return UnreachableError(f"cannot reach {where}: {err.strerror or err}")
    return UnreachableError(f"SSH error with {where}: {err}")


def _base_options() -> dict[str, object]:
    """Options that keep asyncssh away from the host's own SSH files."""
    return {
        "config": None,
        "agent_path": None,
        "x509_trusted_certs": None,
        "x509_trusted_cert_paths": None,
        "gss_host": None,
        "client_host_keys": None,
    }


async def fetch_host_key(host: str, port: int = DEFAULT_SSH_PORT) -> HostKey:
    """Read the host key an SSH server presents, for the user to pin.

    Gives up after ``DEFAULT_SSH_TIMEOUT`` seconds (``ChannelTimeoutError``).
    """
    where = f"{host}:{port}"
    try:
        async with asyncio.timeout(DEFAULT_SSH_TIMEOUT):
            key = await asyncssh.get_server_host_key(host, port, config=None)
    except (OSError, TimeoutError, asyncssh.Error) as err:
        raise _map_error(err, where) from err
    if key is None:
        raise UnreachableError(f"{where} presented no SSH host key")
    return host_key_from_ssh_key(key)


async def close_connection(conn: asyncssh.SSHClientConnection) -> None:
    """Close an SSH connection and wait (boundedly) until it is closed."""
    conn.close()
    with contextlib.suppress(Exception):
        async with asyncio.timeout(DEFAULT_SSH_TIMEOUT):
            await conn.wait_closed()


def _first_line(result: asyncssh.SSHCompletedProcess, *, stderr: bool = True) -> str:
    """The first non-empty line a command printed (stderr first, if asked)."""
    streams = (result.stderr, result.stdout) if stderr else (result.stdout,)
    for stream in streams:
        if isinstance(stream, str) and (lines := stream.strip().splitlines()):
            return lines[0].strip()
    return ""


class SshChannel:
    """Authenticated, host-key-pinned SSH access to one machine."""

    def __init__(
        self, config: SshConfig, *, budget: RequestBudget | None = None
    ) -> None:
        """Prepare the channel; nothing is connected until it is used.

        ``budget``: the machine's request budget, shared with its APIs
        (:mod:`.budget`); each command takes room in it.
        """
        self.config = config
        self.budget = budget or RequestBudget()
        self._where = f"{config.host}:{config.port}"
        self._client_key: asyncssh.SSHKey | None = None

    async def _load_client_key(self) -> asyncssh.SSHKey | None:
        """Import (and decrypt) the private key once, in the executor."""
        if self.config.private_key is None:
            return None
        if self._client_key is None:
            loop = asyncio.get_running_loop()
            try:
                self._client_key = await loop.run_in_executor(
                    None,
                    asyncssh.import_private_key,
                    self.config.private_key,
                    self.config.passphrase,
                )
            except (asyncssh.KeyImportError, asyncssh.KeyEncryptionError) as err:
                raise _map_error(err, self._where) from err
        return self._client_key

    async def open(self) -> asyncssh.SSHClientConnection:
        """Open a verified, authenticated connection; the caller closes it."""
        pinned = parse_host_key(self.config.host_key)
        trusted = asyncssh.import_public_key(pinned.public_key)
        client_key = await self._load_client_key()
        try:
            async with asyncio.timeout(self.config.timeout):
                return await asyncssh.connect(
                    self.config.host,
                    self.config.port,
                    username=self.config.username,
                    password=self.config.password,
                    client_keys=[client_key] if client_key is not None else None,
                    known_hosts=([trusted], [], []),
                    connect_timeout=self.config.timeout,
                    **_base_options(),
                )
        except (OSError, TimeoutError, asyncssh.Error) as err:
            raise _map_error(err, self._where) from err

    @contextlib.asynccontextmanager
    async def connection(self) -> AsyncIterator[asyncssh.SSHClientConnection]:
        """Open a verified, authenticated connection; close it on exit."""
        conn = await self.open()
        try:
            yield conn
        finally:
            await close_connection(conn)

    async def check(self) -> None:
        """Connect, authenticate and prove the shutdown will be allowed.

        Raises :class:`ShutdownNotAllowedError` when the user is not root and
        does not use sudo (``not_root``), or when sudo will not run the
        shutdown command without a password (``sudo_refused``). With a key
        restricted by ``command=`` (``forced_command``) it only logs in: any
        command would run the shutdown itself.
        """
        async with self.connection() as conn:
            if not self.config.forced_command:
                await self._check_shutdown_allowed(conn)

    async def _run_check(
        self, conn: asyncssh.SSHClientConnection, command: str
    ) -> asyncssh.SSHCompletedProcess:
        """Run one of the fixed check commands, boundedly."""
        await self.budget.take()
        try:
            async with asyncio.timeout(self.config.timeout):
                return await conn.run(command, check=False)
        except TimeoutError as err:
            raise ChannelTimeoutError(
                f"{command!r} did not finish within {self.config.timeout} s"
            ) from err
        except (OSError, asyncssh.Error) as err:
            raise _map_error(err, self._where) from err

    async def _check_shutdown_allowed(self, conn: asyncssh.SSHClientConnection) -> None:
        """Raise ``ShutdownNotAllowedError`` unless the shutdown is permitted."""
        config = self.config
        command = config.shutdown_command.value
        if config.use_sudo:
            check = f"{SUDO_PREFIX} -l {command}"
            result = await self._run_check(conn, check)
            if result.exit_status == 0:
                return
            detail = _first_line(result) or f"exit status {result.exit_status}"
            raise ShutdownNotAllowedError(
                f"sudo will not run {command!r} for {config.username} on "
                f"{self._where} without a password ({check!r}: {detail})",
                reason="sudo_refused",
            )
        result = await self._run_check(conn, "id -u")
        uid = _first_line(result, stderr=False)
        if result.exit_status == 0 and uid == "0":
            return
        raise ShutdownNotAllowedError(
            f"{config.username} on {self._where} is not root (id -u: "
            f"{uid or _first_line(result) or result.exit_status}), so {command!r} "
            "would be refused: log in as root, or use sudo with a rule that "
            "allows it without a password",
            reason="not_root",
        )

    async def shutdown(self) -> None:
        """Send the configured shutdown command.

        Success when the command exits 0 or the connection drops (the machine
        is going down). A non-zero exit (e.g. ``sudo: a password is
        required``) raises ``CommandFailedError`` with the remote message.
        """
        command = self.config.command_line
        try:
            conn = await self.open()
        except UnreachableError as err:
            if isinstance(err.__cause__, ConnectionRefusedError):
                raise NotControllableError(
                    f"{self._where} refuses SSH connections: the machine answers, "
                    "so it is on, but its SSH server does not run"
                ) from err
            raise
        try:
            await self.budget.take()
            async with asyncio.timeout(self.config.timeout):
                result = await conn.run(command, check=False)
        except (asyncssh.ConnectionLost, asyncssh.DisconnectError, OSError):
            return  # the machine dropped the connection: it is going down
        except TimeoutError as err:
            raise ChannelTimeoutError(
                f"{command!r} did not finish within {self.config.timeout} s"
            ) from err
        finally:
            await close_connection(conn)
        if result.exit_status in (0, None):
            return  # None: closed by the server without a status (shutting down)
        stderr = result.stderr if isinstance(result.stderr, str) else ""
        stdout = result.stdout if isinstance(result.stdout, str) else ""
        message = (stderr.strip() or stdout.strip()).splitlines()
        detail = message[0] if message else f"exit status {result.exit_status}"
        raise CommandFailedError(f"{command!r} failed on {self._where}: {detail}")

    async def read(self, commands: Iterable[ReadOnlyCommand]) -> dict[str, str]:
        """Run fixed read-only commands over ONE connection; their stdout.

        Raises :class:`InvalidConfigError` with a forced-command key (the
        server would run the shutdown instead), :class:`CommandFailedError`
        when a command exits non-zero (``ss`` missing, say).
        """
        if self.config.forced_command:
            raise InvalidConfigError(
                f"the key for {self._where} is restricted to the shutdown "
                "(command= in authorized_keys): nothing else can be read"
            )
        outputs: dict[str, str] = {}
        async with self.connection() as conn:
            for command in commands:
                result = await self._run_check(conn, str(ReadOnlyCommand(command)))
                if result.exit_status != 0:
                    detail = _first_line(result) or f"exit status {result.exit_status}"
                    raise CommandFailedError(
                        f"{command.value!r} failed on {self._where}: {detail}"
                    )
                stdout = result.stdout
                outputs[command.value] = stdout if isinstance(stdout, str) else ""
        return outputs
