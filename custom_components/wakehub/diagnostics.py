"""Diagnostics of a WakeHub entry, with every secret redacted."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from homeassistant.components.diagnostics import async_redact_data

from .const import (
    CONF_CA,
    CONF_CERT,
    CONF_DOCKER,
    CONF_FINGERPRINT,
    CONF_HOST_KEY,
    CONF_KEY,
    CONF_NODES,
    CONF_PASSPHRASE,
    CONF_PASSWORD,
    CONF_PRIVATE_KEY,
    CONF_TOKEN_NAME,
    CONF_TOKEN_USER,
    CONF_TOKEN_VALUE,
    CONF_USERNAME,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

    from homeassistant.core import HomeAssistant

    from .models import WakeHubConfigEntry

TO_REDACT = {
    # Credentials.
    CONF_PASSWORD,
    CONF_PASSPHRASE,
    CONF_PRIVATE_KEY,
    CONF_TOKEN_VALUE,
    CONF_KEY,  # a Docker TLS client key (PEM)
    # Who logs in, and the pins and certificates that identify the homelab.
    CONF_USERNAME,
    CONF_TOKEN_USER,
    CONF_TOKEN_NAME,
    CONF_HOST_KEY,
    CONF_FINGERPRINT,
    CONF_CA,
    CONF_CERT,
}
"""Every key that holds a secret, wherever it sits in the entry."""


def _redact_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """Redact the options; a node's own ``key`` is its vmid or name, kept.

    Only the nested Docker settings of a node can hold a TLS ``key``.
    """
    redacted = dict(options)
    if nodes := options.get(CONF_NODES):
        redacted[CONF_NODES] = {
            node_id: {
                **settings,
                CONF_DOCKER: async_redact_data(settings.get(CONF_DOCKER), TO_REDACT),
            }
            for node_id, settings in nodes.items()
        }
    return async_redact_data(redacted, TO_REDACT - {CONF_KEY})


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant, entry: WakeHubConfigEntry
) -> dict[str, Any]:
    """Return the entry's settings and what the last refresh saw."""
    coordinator = entry.runtime_data.coordinator
    data = coordinator.data
    return {
        "entry": {
            "title": entry.title,
            "data": async_redact_data(entry.data, TO_REDACT),
            "options": _redact_options(entry.options),
        },
        "coordinator": {
            "last_update_success": coordinator.last_update_success,
            "update_interval": coordinator.update_interval
            and coordinator.update_interval.total_seconds(),
            "pve_version": coordinator.pve_version,
            "docker_hosts": sorted(coordinator.docker_hosts),
        },
        "snapshot": {
            "machine_up": data.machine_up,
            "nodes": {
                node_id: {
                    "state": coordinator.node_state(node_id).value,
                    "status": node.status,
                    "details": dict(node.details),
                }
                for node_id, node in data.nodes.items()
            },
            "discovered": {
                host: [child.as_attribute() for child in children]
                for host, children in data.discovered.items()
            },
            "missing": sorted(data.missing),
            "failed_hosts": sorted(data.failed_hosts),
        },
    }
