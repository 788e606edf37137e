"""Typed errors raised by every power channel.

Each error carries a stable ``code``. The Home Assistant glue uses the code as a
translation key (``exceptions.<code>`` in ``strings.json``) and shows the
platform's own ``message`` as a placeholder, so the user sees both what went
wrong in WakeHub's words and what the remote system said.
"""

from __future__ import annotations


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


class NotFoundError(ChannelError):
    """The node (guest, container) does not exist on its host."""

    code = "not_found"


class TlsVerificationError(ChannelError):
    """The TLS certificate could not be verified, or its pin did not match."""

    code = "tls_error"


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
