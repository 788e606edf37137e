"""The machine's Proxmox VE API: credentials, certificate trust, test."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from homeassistant.core import callback

from custom_components.wakehub.compat import vol
from custom_components.wakehub.const import (
    CONF_CA,
    CONF_FINGERPRINT,
    CONF_HOST,
    CONF_MAC,
    CONF_NODE,
    CONF_PASSWORD,
    CONF_PORT,
    CONF_PROXMOX,
    CONF_REALM,
    CONF_TOKEN_NAME,
    CONF_TOKEN_USER,
    CONF_TOKEN_VALUE,
    CONF_USERNAME,
    CONF_VERIFY_TLS,
    DEFAULT_REALM,
    PROXMOX_ROLE_PRIVILEGES,
)
from custom_components.wakehub.core.ids import machine_id
from custom_components.wakehub.entry_channels import (
    child_node_id,
)
from custom_components.wakehub.flows.base import FlowBase
from custom_components.wakehub.flows.checks import (
    async_try_certificate,
    async_try_proxmox,
)
from custom_components.wakehub.flows.errors import FlowError
from custom_components.wakehub.flows.schemas import (
    BOOL,
    CONF_PIN_CERTIFICATE_ONLY,
    PASSWORD,
    TEXT,
    proxmox_common,
)
from custom_components.wakehub.flows.validators import (
    API_FIELDS,
    validate,
)

if TYPE_CHECKING:
    from homeassistant.config_entries import (
        ConfigFlowResult,
    )


class ProxmoxSteps(FlowBase):
    """Add (or replace, or remove) the Proxmox VE API."""

    async def async_step_proxmox(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Choose how to authenticate to the Proxmox VE API."""
        return self.async_show_menu(
            step_id="proxmox",
            menu_options=["proxmox_token", "proxmox_password"],
            description_placeholders={"privileges": PROXMOX_ROLE_PRIVILEGES},
        )

    def _proxmox_defaults(self) -> dict[str, Any]:
        """Prefill the Proxmox forms from the machine and any earlier try."""
        return {
            CONF_HOST: self._data[CONF_HOST],
            **self._data.get(CONF_PROXMOX, {}),
            **self._pending_proxmox,
        }

    async def async_step_proxmox_token(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Proxmox VE API with an API token (recommended)."""
        return await self._async_proxmox_credentials(
            "proxmox_token",
            user_input,
            (CONF_TOKEN_USER, CONF_TOKEN_NAME, CONF_TOKEN_VALUE),
        )

    async def async_step_proxmox_password(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Proxmox VE API with a user, a password and a realm."""
        return await self._async_proxmox_credentials(
            "proxmox_password", user_input, (CONF_USERNAME, CONF_PASSWORD, CONF_REALM)
        )

    async def _async_proxmox_credentials(
        self,
        step_id: str,
        user_input: dict[str, Any] | None,
        credentials: tuple[str, ...],
    ) -> ConfigFlowResult:
        """Test the Proxmox VE API with one kind of ``credentials``."""
        errors: dict[str, str] = {}
        placeholders = {"privileges": PROXMOX_ROLE_PRIVILEGES}
        if user_input is not None:
            try:
                user_input = validate(user_input, API_FIELDS)
                proxmox = {
                    CONF_HOST: user_input[CONF_HOST],
                    CONF_PORT: user_input[CONF_PORT],
                    CONF_NODE: user_input.get(CONF_NODE) or None,
                    **{key: user_input[key] for key in credentials},
                    CONF_VERIFY_TLS: user_input[CONF_VERIFY_TLS],
                    CONF_FINGERPRINT: None,
                }
                self._pending_proxmox = proxmox
                if not proxmox[CONF_VERIFY_TLS]:
                    self._pending_fingerprint = await async_try_certificate(
                        proxmox[CONF_HOST], proxmox[CONF_PORT]
                    )
                    return await self.async_step_proxmox_trust()
                return await self._async_test_proxmox(proxmox)
            except FlowError as err:
                errors.update(err.errors)
                placeholders.update(err.placeholders)
        self._proxmox_step = step_id
        return self._async_show_proxmox_form(errors, placeholders)

    @callback
    def _async_show_proxmox_form(
        self, errors: dict[str, str], placeholders: dict[str, str]
    ) -> ConfigFlowResult:
        """Show the Proxmox credentials form the user chose, with any error."""
        defaults = self._proxmox_defaults()
        fields = proxmox_common(defaults)
        if self._proxmox_step == "proxmox_token":
            fields[
                vol.Required(
                    CONF_TOKEN_USER,
                    default=defaults.get(CONF_TOKEN_USER, "wakehub@pve"),
                )
            ] = TEXT
            fields[
                vol.Required(
                    CONF_TOKEN_NAME, default=defaults.get(CONF_TOKEN_NAME, "wakehub")
                )
            ] = TEXT
            fields[vol.Required(CONF_TOKEN_VALUE)] = PASSWORD
        else:
            fields[
                vol.Required(CONF_USERNAME, default=defaults.get(CONF_USERNAME, "root"))
            ] = TEXT
            fields[vol.Required(CONF_PASSWORD)] = PASSWORD
            fields[
                vol.Required(
                    CONF_REALM, default=defaults.get(CONF_REALM, DEFAULT_REALM)
                )
            ] = TEXT
        return self.async_show_form(
            step_id=self._proxmox_step,
            data_schema=vol.Schema(fields),
            errors=errors,
            description_placeholders={
                "privileges": PROXMOX_ROLE_PRIVILEGES,
                **placeholders,
            },
        )

    async def _async_test_proxmox(
        self, proxmox: dict[str, Any], *, pin_ca: bool = False
    ) -> ConfigFlowResult:
        """Test the Proxmox API; on success store it and its guests.

        With ``pin_ca`` (the certificate was just confirmed by its
        fingerprint), the cluster CA that signed it is pinned instead, when
        the node serves one; otherwise the certificate stays pinned. Raise
        :class:`.errors.ProxmoxError`.
        """
        found = await async_try_proxmox(proxmox, self._data[CONF_HOST], read_ca=pin_ca)
        stored = {**proxmox, CONF_NODE: found.node, CONF_CA: None}
        if found.ca is not None:
            stored.update({CONF_FINGERPRINT: None, CONF_CA: found.ca})
        self._data[CONF_PROXMOX] = stored
        self._pending_proxmox = {}
        host = machine_id(self._data[CONF_MAC])
        for child in found.guests.values():
            self._discovered[child_node_id(host, child)] = (child, host)
        return await self.async_step_capabilities()

    async def async_step_proxmox_trust(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Show the certificate's SHA-256 fingerprint and pin it.

        A failed test with the pinned certificate goes back to the credentials
        form, with the error, for the user to fix them.
        """
        if user_input is not None:
            proxmox = {
                **self._pending_proxmox,
                CONF_FINGERPRINT: self._pending_fingerprint,
            }
            try:
                return await self._async_test_proxmox(
                    proxmox, pin_ca=not user_input.get(CONF_PIN_CERTIFICATE_ONLY, False)
                )
            except FlowError as err:
                return self._async_show_proxmox_form(err.errors, err.placeholders)
        return self.async_show_form(
            step_id="proxmox_trust",
            data_schema=vol.Schema(
                {vol.Optional(CONF_PIN_CERTIFICATE_ONLY, default=False): BOOL}
            ),
            description_placeholders={
                "fingerprint": self._pending_fingerprint,
                "host": self._pending_proxmox[CONF_HOST],
            },
        )

    async def async_step_remove_proxmox(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Reconfigure: forget the Proxmox VE API."""
        self._data.pop(CONF_PROXMOX)
        return await self.async_step_capabilities()
