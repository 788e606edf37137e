"""Review a changed SSH host key (reauth, reconfigure) before pinning it."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from homeassistant.config_entries import SOURCE_RECONFIGURE

from custom_components.wakehub.channels.errors import ChannelError
from custom_components.wakehub.compat import vol
from custom_components.wakehub.const import (
    CONF_HOST,
    CONF_HOST_KEY,
    CONF_NAME,
    CONF_PORT,
    CONF_PROBE_PORT,
    CONF_SSH,
)
from custom_components.wakehub.flows.base import FlowBase
from custom_components.wakehub.flows.checks import async_probe
from custom_components.wakehub.flows.errors import FlowError
from custom_components.wakehub.flows.host_key import (
    async_read_host_key,
    async_try_log_in,
    pinned_fingerprint,
)
from custom_components.wakehub.flows.schemas import (
    BOOL,
    CONF_ACCEPT_HOST_KEY,
    ssh_schema,
)

if TYPE_CHECKING:
    from homeassistant.config_entries import ConfigFlowResult

_LOGGER = logging.getLogger(__name__)


class HostKeySteps(FlowBase):
    """Review a changed SSH host key (reauth, reconfigure)."""

    async def _async_host_key_changed(self) -> bool:
        """Whether the machine, when up, presents another SSH host key.

        Reads the key the machine presents now into ``_pending_host_key``.
        A machine that is off, an entry without a pinned key (saved
        untested: the key is pinned at its first boot) or a key that cannot
        be read count as unchanged: the login test that follows reports it.
        """
        ssh = self._data[CONF_SSH]
        pinned: str | None = ssh.get(CONF_HOST_KEY)
        host = self._data[CONF_HOST]
        if not pinned or not await async_probe(host, self._data[CONF_PROBE_PORT]):
            return False
        try:
            key = await async_read_host_key(host, int(ssh[CONF_PORT]))
        except ChannelError:
            return False
        previous = pinned_fingerprint(pinned)
        if key.fingerprint == previous:
            return False
        self._previous_fingerprint = previous
        self._pending_fingerprint = key.fingerprint
        self._pending_host_key = key.public_key
        return True

    async def async_step_host_key_changed(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Show the pinned and the presented key; pin the new one if accepted.

        Nothing is pinned unless the user ticks the box. The login is then
        tested with the new key: when it is refused, the credentials are asked
        (reauth) or the SSH step is shown again (reconfigure), with the new
        key kept.
        """
        errors: dict[str, str] = {}
        if user_input is not None:
            if not user_input[CONF_ACCEPT_HOST_KEY]:
                errors[CONF_ACCEPT_HOST_KEY] = "host_key_not_accepted"
            else:
                ssh = {**self._data[CONF_SSH], CONF_HOST_KEY: self._pending_host_key}
                self._data[CONF_SSH] = ssh
                _LOGGER.warning(
                    "The user accepted the new SSH host key of %s (%s), "
                    "replacing the pinned one (%s)",
                    self._data[CONF_NAME],
                    self._pending_fingerprint,
                    self._previous_fingerprint,
                )
                try:
                    await async_try_log_in(
                        self._data[CONF_HOST], ssh, self._pending_host_key
                    )
                except FlowError as err:
                    if err.errors != {"base": "invalid_auth"}:
                        errors.update(err.errors)
                    elif self.source == SOURCE_RECONFIGURE:
                        self._pending_ssh = ssh
                        return self.async_show_form(
                            step_id="ssh",
                            data_schema=ssh_schema(ssh),
                            errors=err.errors,
                            description_placeholders={"host": self._data[CONF_HOST]},
                        )
                    else:
                        return await self.async_step_reauth_confirm()
                else:
                    if self.source == SOURCE_RECONFIGURE:
                        return await self.async_step_capabilities()
                    return self._async_finish()
        return self.async_show_form(
            step_id="host_key_changed",
            data_schema=vol.Schema({vol.Required(CONF_ACCEPT_HOST_KEY): BOOL}),
            errors=errors,
            description_placeholders={
                "name": self._data[CONF_NAME],
                "host": self._data[CONF_HOST],
                "pinned": self._previous_fingerprint,
                "presented": self._pending_fingerprint,
            },
        )
