"""The one SSH host-key pinning helper: read the key, pin it, log in with it.

Every place that pins a host key goes through these two functions: the
machine's SSH step (the fingerprint is shown between them), the review of a
changed key (reauth, reconfigure), the reauth login test, a guest's Docker
API through SSH, and the coordinator's pin at the first boot of a machine
saved untested (trust on first use). The ``async_try_*`` forms raise the
flows' :class:`.errors.SshError`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from custom_components.wakehub.channels.errors import InvalidConfigError
from custom_components.wakehub.channels.ssh import (
    HostKey,
    SshChannel,
    fetch_host_key,
    parse_host_key,
)
from custom_components.wakehub.const import CONF_HOST_KEY
from custom_components.wakehub.entry_channels import ssh_config
from custom_components.wakehub.flows.checks import recoverable
from custom_components.wakehub.flows.errors import SshError

if TYPE_CHECKING:
    from collections.abc import Mapping


async def async_read_host_key(host: str, port: int) -> HostKey:
    """The SSH host key ``host`` presents, trusting nothing yet."""
    return await fetch_host_key(host, port)


async def async_pin_and_log_in(
    host: str, ssh: Mapping[str, Any], key_line: str
) -> tuple[dict[str, Any], SshChannel]:
    """Pin ``key_line`` in the ``ssh`` settings and log in with them.

    Return the settings with the key pinned and the channel that logged in;
    raise a channel error when the login fails.
    """
    pinned = {**ssh, CONF_HOST_KEY: key_line}
    config = ssh_config(host, pinned)
    assert config is not None  # the key was just pinned
    channel = SshChannel(config)
    await channel.check()
    return pinned, channel


async def async_try_read_host_key(host: str, port: int) -> HostKey:
    """:func:`async_read_host_key`, raising :class:`.errors.SshError`."""
    with recoverable(SshError):
        return await async_read_host_key(host, port)


async def async_try_log_in(
    host: str, ssh: Mapping[str, Any], key_line: str
) -> dict[str, Any]:
    """:func:`async_pin_and_log_in`, raising :class:`.errors.SshError`."""
    with recoverable(SshError):
        pinned, _channel = await async_pin_and_log_in(host, ssh, key_line)
        return pinned


def pinned_fingerprint(host_key: str) -> str:
    """The SHA256 fingerprint of a pinned OpenSSH key line (``?`` if unreadable)."""
    try:
        return parse_host_key(host_key).fingerprint
    except InvalidConfigError:
        return "?"
