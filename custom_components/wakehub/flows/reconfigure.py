"""Reconfiguration (host, ports, capabilities) and DHCP address moves."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from custom_components.wakehub.compat import DhcpServiceInfo, vol
from custom_components.wakehub.const import (
    CONF_BROADCAST_ADDRESS,
    CONF_BROADCAST_PORT,
    CONF_HOST,
    CONF_PORT,
    CONF_PROBE_PORT,
    CONF_SSH,
    DOMAIN,
)
from custom_components.wakehub.core.ids import normalize_mac
from custom_components.wakehub.flows.base import FlowBase
from custom_components.wakehub.flows.errors import FlowError
from custom_components.wakehub.flows.records import (
    is_ip_address,
    move_host,
    sync_docker_ssh,
)
from custom_components.wakehub.flows.schemas import PORT, machine_schema
from custom_components.wakehub.flows.validators import (
    RECONFIGURE_FIELDS,
    validate,
)

if TYPE_CHECKING:
    from homeassistant.config_entries import (
        ConfigFlowResult,
    )


_LOGGER = logging.getLogger(__name__)


class ReconfigureSteps(FlowBase):
    """Change where the machine is, and follow its address."""

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Change the host, the ports and the capabilities."""
        entry = self._get_reconfigure_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            try:
                clean = validate(user_input, RECONFIGURE_FIELDS)
            except FlowError as err:
                errors.update(err.errors)
            else:
                self._data = {
                    **move_host(entry.data, clean[CONF_HOST]),
                    CONF_BROADCAST_ADDRESS: clean[CONF_BROADCAST_ADDRESS],
                    CONF_BROADCAST_PORT: clean[CONF_BROADCAST_PORT],
                    CONF_PROBE_PORT: clean[CONF_PROBE_PORT],
                    CONF_SSH: {**entry.data[CONF_SSH], CONF_PORT: clean[CONF_PORT]},
                }
                # A new host (or a reinstalled one) may present another key.
                if await self._async_host_key_changed():
                    return await self.async_step_host_key_changed()
                return await self.async_step_capabilities()
        schema = machine_schema(entry.data, with_identity=False).extend(
            {
                vol.Required(CONF_PORT, default=entry.data[CONF_SSH][CONF_PORT]): PORT,
            }
        )
        return self.async_show_form(
            step_id="reconfigure",
            data_schema=schema,
            errors=errors,
            description_placeholders={"name": entry.title},
        )

    async def async_step_dhcp(
        self, discovery_info: DhcpServiceInfo
    ) -> ConfigFlowResult:
        """A DHCP packet of a machine WakeHub knows: follow its new address.

        The manifest's matcher (``registered_devices``) makes Home Assistant
        report only the MAC addresses of WakeHub's own machine devices. For a
        machine configured at an IP address, the entry moves to the address
        the machine now has (with the Proxmox VE and Docker APIs that were at
        the old one) and reloads; a machine configured by host name is left
        alone, since DNS follows it. A MAC of no entry is not offered for
        set-up: a machine cannot be added from a DHCP packet, which carries
        no SSH credentials, so the user adds it by hand.
        """
        mac = normalize_mac(discovery_info.macaddress)
        await self.async_set_unique_id(mac)
        entry = self.hass.config_entries.async_entry_for_domain_unique_id(DOMAIN, mac)
        if entry is None:
            return self.async_abort(reason="not_supported")
        host: str = entry.data[CONF_HOST]
        if host == discovery_info.ip or not is_ip_address(host):
            return self.async_abort(reason="already_configured")
        _LOGGER.info(
            "%s (%s) moved from %s to %s (DHCP)",
            entry.title,
            mac,
            host,
            discovery_info.ip,
        )
        return self._async_update_reload_and_abort(
            entry,
            data=sync_docker_ssh(move_host(entry.data, discovery_info.ip)),
            reason="already_configured",
        )
