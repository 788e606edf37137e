"""The recoverable errors of the flows' checks.

Each check raises one type, which carries the form errors it stands for
(``{field: key}``) and the placeholders its text needs, the way Home
Assistant's ``homewizard`` flow's ``_async_try_connect`` does: a field
validator (:class:`InvalidInputError`), the SSH host key and login
(:class:`SshError`), the Proxmox VE API (:class:`ProxmoxError`) and the
Docker API (:class:`DockerError`). A step catches :class:`FlowError` only and
shows its form again. See docs/design.md, "Flows".
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Final

from custom_components.wakehub.channels.errors import (
    AuthenticationError,
    ChannelError,
    DockerSocketPermissionError,
    HostKeyMismatchError,
    PermissionDeniedError,
    ShutdownNotAllowedError,
    TlsVerificationError,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

_LOGGER = logging.getLogger(__name__)


class FlowError(Exception):
    """A check refused: show ``errors`` (field -> translation key) on the form."""

    def __init__(self, key: str, field: str = "base", **placeholders: str) -> None:
        """Refuse ``field`` with the error ``key`` (under ``config|options.error``)."""
        super().__init__(key)
        self.errors: dict[str, str] = {field: key}
        self.placeholders: dict[str, str] = placeholders


class InvalidInputError(FlowError):
    """The validators refused one or more fields of a form."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        """Refuse every field of ``errors`` at once."""
        super().__init__(next(iter(errors.values())))
        self.errors = dict(errors)


class SshError(FlowError):
    """The SSH check refused: the host key could not be read, or the login."""


class ProxmoxError(FlowError):
    """The Proxmox VE API check refused."""


class DockerError(FlowError):
    """The Docker API check refused."""


class FieldError(ValueError):
    """One validator refused one value: ``key`` is the form error."""

    def __init__(self, key: str) -> None:
        """Refuse with the error ``key``."""
        super().__init__(key)
        self.key = key


# The form error of each channel error, the first that matches.
_CHANNEL_ERROR_KEYS: Final[tuple[tuple[type[ChannelError], str], ...]] = (
    (AuthenticationError, "invalid_auth"),
    (DockerSocketPermissionError, "docker_socket_denied"),
    (PermissionDeniedError, "permission_denied"),
    (TlsVerificationError, "tls_error"),
    (HostKeyMismatchError, "host_key_mismatch"),
    (ChannelError, "cannot_connect"),
)


def channel_error_key(err: Exception) -> str:
    """A channel error's form error key (``unknown`` for anything else, logged)."""
    if isinstance(err, ShutdownNotAllowedError):
        return f"shutdown_{err.reason}"
    for error_class, key in _CHANNEL_ERROR_KEYS:
        if isinstance(err, error_class):
            return key
    _LOGGER.error("Unexpected error while testing a connection", exc_info=err)
    return "unknown"
