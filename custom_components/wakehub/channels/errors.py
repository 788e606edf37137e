"""Typed errors raised by every power channel.

Each error carries a stable ``code``. The Home Assistant glue uses the code as a
translation key (``exceptions.<code>`` in ``strings.json``) and shows the
platform's own ``message`` as a placeholder, so the user sees both what went
wrong in WakeHub's words and what the remote system said.
"""

from __future__ import annotations

import sys


class ChannelError(Exception):
    """Base class of every error a channel raises."""

    code: str = "channel_error"

    def __init__(self, message: str = "", *, code: str | None = None) -> None:
        """Store the platform's message and, optionally, a more precise code."""
        super().__init__(message or self.code)
        self.message = message or self.code
        if code is not None:
            self.code = code


class InvalidConfigError(ChannelError, ValueError):
    """The configuration given to a channel is invalid (e.g. a malformed MAC)."""

    code = "invalid_config"


class UnreachableError(ChannelError):
    """The remote end refused the connection or could not be reached."""

    code = "unreachable"


class ChannelTimeoutError(ChannelError):
    """The remote end did not answer in time."""

    code = "timeout"


class AuthenticationError(ChannelError):
    """The credentials were refused (HTTP 401, SSH auth failure): reauth."""

    code = "auth_failed"


class PermissionDeniedError(ChannelError):
    """Authenticated, but a privilege is missing (HTTP 403)."""

    code = "permission_denied"

    def __init__(self, message: str = "", *, privilege: str | None = None) -> None:
        """Remember which privilege is missing when the platform says so."""
        super().__init__(message)
        self.privilege = privilege


class DockerSocketPermissionError(PermissionDeniedError):
    """Docker over SSH: the SSH user may not use the remote Docker socket."""

    code = "docker_socket_denied"


class ShutdownNotAllowedError(ChannelError):
    """SSH works, but the configured shutdown would be refused.

    ``reason`` is ``not_root`` (no sudo, and the user is not root) or
    ``sudo_refused`` (sudo will not run the command without a password).
    """

    code = "shutdown_not_allowed"

    def __init__(self, message: str, *, reason: str) -> None:
        """Remember why the shutdown would be refused."""
        super().__init__(message)
        self.reason = reason


class NotControllableError(ChannelError):
    """The machine is on (it answers), but the channel that stops it refuses.

    A refused TCP connection is an answer: the machine's network stack runs.
    A machine whose SSH server refuses connections (``sshd`` crashed or
    stopped) is on, and WakeHub cannot shut it down over SSH.
    """

    code = "not_controllable"


class NotFoundError(ChannelError):
    """The node (guest, container) does not exist on its host."""

    code = "not_found"


class TlsVerificationError(ChannelError):
    """The TLS certificate could not be verified, or its pin did not match.

    ``certificate_refused`` says that the handshake itself went through and
    the certificate was refused (by the trust store, a pinned CA or a pinned
    fingerprint), as opposed to a handshake cut short.
    """

    code = "tls_error"

    def __init__(self, message: str = "", *, certificate_refused: bool = False) -> None:
        """Remember whether the certificate itself was refused."""
        super().__init__(message)
        self.certificate_refused = certificate_refused


class HostKeyMismatchError(ChannelError):
    """The SSH host key is not the pinned one: nothing was sent."""

    code = "host_key_mismatch"


class CommandFailedError(ChannelError):
    """A remote command ran and failed (non-zero exit, sudo needs a password)."""

    code = "command_failed"


class TaskFailedError(ChannelError):
    """A Proxmox task ended with an exit status other than OK."""

    code = "task_failed"


class ApiError(ChannelError):
    """The API answered with an unexpected error (e.g. HTTP 500)."""

    code = "api_error"


class LibraryError(ChannelError):
    """A library a channel uses raised an exception WakeHub does not expect.

    It keeps the library's own message and the exception's type, so the user
    (the failure notification, the node's ``error_message``) and a bug report
    see what actually went wrong, e.g. ``AttributeError: module 'wakeonlan'
    has no attribute 'wake'`` when an installed release lacks a call.
    """

    code = "library_error"

    def __init__(self, message: str, *, error_type: str, library: str | None) -> None:
        """Store the message with the exception's type and library."""
        super().__init__(message)
        self.error_type = error_type
        self.library = library


def _library_of(err: BaseException) -> str | None:
    """The innermost third-party package in ``err``'s traceback, if any."""
    library: str | None = None
    tb = err.__traceback__
    while tb is not None:
        module = str(tb.tb_frame.f_globals.get("__name__", ""))
        top = module.partition(".")[0]
        if top and top not in sys.stdlib_module_names and top != "custom_components":
            library = top
        tb = tb.tb_next
    if library is None:
        top = type(err).__module__.partition(".")[0]
        if top not in sys.stdlib_module_names and top not in {
            "builtins",
            "custom_components",
        }:
            library = top
    return library


def library_error(err: Exception, where: str) -> LibraryError:
    """Turn ``err``, raised while ``where`` was being powered or probed, into a
    :class:`LibraryError` carrying its type, message and library."""
    kind = type(err)
    error_type = (
        kind.__qualname__
        if kind.__module__ == "builtins"
        else f"{kind.__module__}.{kind.__qualname__}"
    )
    library = _library_of(err)
    detail = f"{error_type}: {err}" if str(err) else error_type
    origin = f" (raised in {library})" if library else ""
    return LibraryError(
        f"{where}: {detail}{origin}",
        error_type=error_type,
        library=library,
    )


class NoQuorumError(ChannelError):
    """The Proxmox VE cluster has no quorum: guests cannot start.

    ``offline`` names the cluster members that are off (their node names).
    """

    code = "no_quorum"

    def __init__(self, message: str = "", *, offline: tuple[str, ...] = ()) -> None:
        """Remember which members are offline."""
        super().__init__(message)
        self.offline = offline


class NodeIdentityError(ChannelError):
    """The Proxmox VE API cannot tell which node it runs on, or is another node."""

    code = "node_identity"
