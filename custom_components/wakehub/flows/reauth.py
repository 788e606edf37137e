"""Reauthentication: a changed certificate or host key is reviewed first, then the secrets."""

from __future__ import annotations

import hashlib
import logging
from typing import TYPE_CHECKING, Any

from custom_components.wakehub.channels.errors import (
    ChannelError,
)
from custom_components.wakehub.channels.proxmox import (
    certificate_fingerprint,
    issued_by,
    normalize_fingerprint,
)
from custom_components.wakehub.compat import vol
from custom_components.wakehub.const import (
    CONF_CA,
    CONF_FINGERPRINT,
    CONF_HOST,
    CONF_HOST_KEY,
    CONF_NAME,
    CONF_NODE,
    CONF_PASSPHRASE,
    CONF_PASSWORD,
    CONF_PORT,
    CONF_PRIVATE_KEY,
    CONF_PROBE_PORT,
    CONF_PROXMOX,
    CONF_SSH,
    CONF_TOKEN_VALUE,
    PROXMOX_ROLE_PRIVILEGES,
)
from custom_components.wakehub.flows.base import FlowBase
from custom_components.wakehub.flows.checks import (
    async_fetch_certificate_der,
    async_probe,
    async_try_proxmox,
)
from custom_components.wakehub.flows.errors import FlowError
from custom_components.wakehub.flows.host_key import async_try_log_in
from custom_components.wakehub.flows.records import ssh_auth
from custom_components.wakehub.flows.schemas import (
    BOOL,
    CONF_ACCEPT_CERTIFICATE,
    CONF_PROXMOX_PASSWORD,
    MULTILINE,
    PASSWORD,
)
from custom_components.wakehub.flows.validators import (
    async_private_key,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

    from homeassistant.config_entries import (
        ConfigFlowResult,
    )


_LOGGER = logging.getLogger(__name__)


class ReauthSteps(FlowBase):
    """The credentials were refused, or a pinned key or certificate changed."""

    async def async_step_reauth(
        self, entry_data: Mapping[str, Any]
    ) -> ConfigFlowResult:
        """The credentials were refused, or the SSH host key changed.

        When the machine is up and presents another SSH host key than the
        pinned one, the user reviews that key first (``host_key_changed``).
        """
        self._data = dict(self._get_reauth_entry().data)
        if await self._async_host_key_changed():
            return await self.async_step_host_key_changed()
        if await self._async_certificate_changed():
            return await self.async_step_certificate_changed()
        return await self.async_step_reauth_confirm()

    async def _async_certificate_changed(self) -> bool:
        """Whether the Proxmox API, when up, presents a certificate the pin refuses.

        With a pinned CA, the certificate must be signed by it (a renewed
        node certificate is); with a pinned certificate, it must be that one.
        A machine that is off, an API verified against the trust store, or a
        certificate that cannot be read count as unchanged.
        """
        proxmox: dict[str, Any] | None = self._data.get(CONF_PROXMOX)
        if not proxmox or not (proxmox.get(CONF_CA) or proxmox.get(CONF_FINGERPRINT)):
            return False
        if not await async_probe(self._data[CONF_HOST], self._data[CONF_PROBE_PORT]):
            return False
        try:
            der = await async_fetch_certificate_der(
                proxmox[CONF_HOST], int(proxmox[CONF_PORT])
            )
        except ChannelError:
            return False
        presented = normalize_fingerprint(hashlib.sha256(der).hexdigest())
        ca: str | None = proxmox.get(CONF_CA)
        if ca is not None:
            if issued_by(der, ca):
                return False
            previous = certificate_fingerprint(ca)
        else:
            previous = normalize_fingerprint(proxmox[CONF_FINGERPRINT])
            if presented == previous:
                return False
        self._previous_fingerprint = previous
        self._pending_fingerprint = presented
        return True

    async def async_step_certificate_changed(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Show the pinned and the presented certificate; re-pin if accepted.

        Nothing is pinned unless the user ticks the box. The API is then
        tested with the presented certificate pinned; when the pin was a CA,
        the CA that signed the new certificate is read and pinned in its
        place. Refused credentials lead to the secrets form, the new pin kept.
        """
        errors: dict[str, str] = {}
        placeholders: dict[str, str] = {}
        proxmox: dict[str, Any] = self._data[CONF_PROXMOX]
        pinned_ca = proxmox.get(CONF_CA) is not None
        if user_input is not None:
            if not user_input[CONF_ACCEPT_CERTIFICATE]:
                errors[CONF_ACCEPT_CERTIFICATE] = "certificate_not_accepted"
            else:
                trial = {
                    **proxmox,
                    CONF_FINGERPRINT: self._pending_fingerprint,
                    CONF_CA: None,
                }
                _LOGGER.warning(
                    "The user accepted the new Proxmox VE certificate of %s (%s), "
                    "replacing the pinned %s (%s)",
                    self._data[CONF_NAME],
                    self._pending_fingerprint,
                    "CA" if pinned_ca else "certificate",
                    self._previous_fingerprint,
                )
                try:
                    found = await async_try_proxmox(
                        trial, self._data[CONF_HOST], read_ca=pinned_ca
                    )
                except FlowError as err:
                    if err.errors.get("base") == "invalid_auth":
                        self._data[CONF_PROXMOX] = trial
                        return await self.async_step_reauth_confirm()
                    errors.update(err.errors)
                    placeholders.update(err.placeholders)
                else:
                    if found.ca is not None:
                        trial.update({CONF_FINGERPRINT: None, CONF_CA: found.ca})
                    self._data[CONF_PROXMOX] = {**trial, CONF_NODE: found.node}
                    return self._async_finish()
        return self.async_show_form(
            step_id="certificate_changed",
            data_schema=vol.Schema({vol.Required(CONF_ACCEPT_CERTIFICATE): BOOL}),
            errors=errors,
            description_placeholders={
                "name": self._data[CONF_NAME],
                "host": proxmox[CONF_HOST],
                "pinned": self._previous_fingerprint,
                "presented": self._pending_fingerprint,
                "privilege": PROXMOX_ROLE_PRIVILEGES,
                "acl": "",
                "identity": "",
                **placeholders,
            },
        )

    async def async_step_reauth_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask for new SSH and Proxmox secrets and test them."""
        entry = self._get_reauth_entry()
        data = self._data  # the entry's, with a host key the user re-pinned
        proxmox: dict[str, Any] | None = data.get(CONF_PROXMOX)
        errors: dict[str, str] = {}
        placeholders: dict[str, str] = {
            "name": entry.title,
            "privilege": PROXMOX_ROLE_PRIVILEGES,
        }
        if user_input is not None:
            try:
                updated = await self._async_try_secrets(user_input)
            except FlowError as err:
                errors.update(err.errors)
                placeholders.update(err.placeholders)
            else:
                return self._async_finish(updated)
        fields: dict[Any, Any] = {
            vol.Optional(CONF_PASSWORD): PASSWORD,
            vol.Optional(CONF_PRIVATE_KEY): MULTILINE,
            vol.Optional(CONF_PASSPHRASE): PASSWORD,
        }
        if proxmox is not None:
            if CONF_TOKEN_VALUE in proxmox:
                fields[vol.Required(CONF_TOKEN_VALUE)] = PASSWORD
            else:
                fields[vol.Required(CONF_PROXMOX_PASSWORD)] = PASSWORD
        return self.async_show_form(
            step_id="reauth_confirm",
            data_schema=vol.Schema(fields),
            errors=errors,
            description_placeholders=placeholders,
        )

    async def _async_try_secrets(self, user_input: dict[str, Any]) -> dict[str, Any]:
        """The entry's data with the new secrets, each checked and tested.

        The SSH login is tested when a host key is pinned and the machine is
        up (an entry saved untested pins it at the first boot); the Proxmox
        VE API always. Raise :class:`.errors.FlowError`.
        """
        data = self._data  # the entry's, with a host key the user re-pinned
        ssh = {
            key: value
            for key, value in data[CONF_SSH].items()
            if key not in (CONF_PASSWORD, CONF_PRIVATE_KEY, CONF_PASSPHRASE)
        }
        ssh.update(ssh_auth(user_input))
        await async_private_key(
            self.hass, ssh.get(CONF_PRIVATE_KEY), ssh.get(CONF_PASSPHRASE)
        )
        if CONF_PASSWORD not in ssh and CONF_PRIVATE_KEY not in ssh:
            raise FlowError("auth_required")
        if ssh[CONF_HOST_KEY] is not None and await async_probe(
            data[CONF_HOST], data[CONF_PROBE_PORT]
        ):
            await async_try_log_in(data[CONF_HOST], ssh, ssh[CONF_HOST_KEY])
        updated = {**data, CONF_SSH: ssh}
        if (proxmox := data.get(CONF_PROXMOX)) is not None:
            if CONF_TOKEN_VALUE in proxmox:
                secret = {CONF_TOKEN_VALUE: user_input[CONF_TOKEN_VALUE]}
            else:
                secret = {CONF_PASSWORD: user_input[CONF_PROXMOX_PASSWORD]}
            updated[CONF_PROXMOX] = {**proxmox, **secret}
            await async_try_proxmox(updated[CONF_PROXMOX], data[CONF_HOST])
        return updated
