"""The first-boot check of a machine saved while it was off.

An entry saved while its machine was off carries ``verify_at_boot`` and no
SSH host key. At the first refresh that finds the machine up, its SSH host
key is trusted on first use and the login is tested once: on success the key
is pinned in the entry and the marker dropped; on failure a repair issue
points at reauthentication, and the test runs again at the next boot or
after the entry reloads (reauth reloads it).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from homeassistant.helpers import issue_registry as ir

from .channels.errors import ChannelError
from .const import (
    CONF_HOST,
    CONF_PORT,
    CONF_SSH,
    CONF_VERIFY_AT_BOOT,
    DEFAULT_SSH_PORT,
    DOMAIN,
)
from .flows.host_key import async_pin_and_log_in, async_read_host_key

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant

    from .models import WakeHubChannels, WakeHubConfigEntry

_LOGGER = logging.getLogger(__package__)


def ssh_issue_id(entry_id: str) -> str:
    """The repair issue raised when the credentials fail at the first boot."""
    return f"ssh_failed_at_boot_{entry_id}"


async def async_verify_at_boot(
    hass: HomeAssistant, entry: WakeHubConfigEntry, channels: WakeHubChannels
) -> None:
    """Pin the host key and test the SSH login of an entry saved untested."""
    host: str = entry.data[CONF_HOST]
    ssh = dict(entry.data[CONF_SSH])
    issue_id = ssh_issue_id(entry.entry_id)
    try:
        # The one host-key pinning helper of the flows, without the review.
        key = await async_read_host_key(host, int(ssh.get(CONF_PORT, DEFAULT_SSH_PORT)))
        ssh, channel = await async_pin_and_log_in(host, ssh, key.public_key)
    except ChannelError as err:
        _LOGGER.warning(
            "The SSH credentials of %s failed at its first boot (%s): %s",
            entry.title,
            err.code,
            err.message,
        )
        ir.async_create_issue(
            hass,
            DOMAIN,
            issue_id,
            is_fixable=False,
            severity=ir.IssueSeverity.ERROR,
            translation_key="ssh_failed_at_boot",
            translation_placeholders={"name": entry.title, "message": err.message},
        )
        entry.async_start_reauth(hass)
        return
    _LOGGER.info(
        "Pinned the SSH host key of %s (%s) at its first boot",
        entry.title,
        key.fingerprint,
    )
    ir.async_delete_issue(hass, DOMAIN, issue_id)
    data = {k: v for k, v in entry.data.items() if k != CONF_VERIFY_AT_BOOT}
    hass.config_entries.async_update_entry(entry, data={**data, CONF_SSH: ssh})
    channels.machine.ssh = channel
