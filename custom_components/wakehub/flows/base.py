"""What every step of the config flow shares: the machine being built and the one finish helper."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from homeassistant.config_entries import (
    SOURCE_REAUTH,
    SOURCE_RECONFIGURE,
    ConfigEntry,
    ConfigFlow,
    ConfigFlowResult,
)
from homeassistant.core import callback

from custom_components.wakehub.const import (
    CONF_CONFIRM_SHUTDOWN,
    CONF_DEPENDENCIES,
    CONF_MACHINE,
    CONF_NAME,
    CONF_NODES,
    CONF_PINNED,
    CONF_SCAN_INTERVAL,
    CONF_START_TIMEOUT,
    CONF_STOP_TIMEOUT,
    CONF_URL,
    DEFAULT_SCAN_INTERVAL,
)
from custom_components.wakehub.flows.records import sync_docker_ssh

if TYPE_CHECKING:
    import asyncio
    from collections.abc import Mapping

    from custom_components.wakehub.channels.base import ChildInfo


class FlowBase(ConfigFlow):
    """The state of a WakeHub config flow and how it ends."""

    if TYPE_CHECKING:
        # Steps of the other groups a step goes on to (the flow has them all).
        async def async_step_capabilities(
            self, user_input: dict[str, Any] | None = None
        ) -> ConfigFlowResult: ...

        async def async_step_reauth_confirm(
            self, user_input: dict[str, Any] | None = None
        ) -> ConfigFlowResult: ...

        async def async_step_host_key_changed(
            self, user_input: dict[str, Any] | None = None
        ) -> ConfigFlowResult: ...

        async def _async_host_key_changed(self) -> bool: ...

    def __init__(self) -> None:
        """Start with an empty machine."""
        self._data: dict[str, Any] = {}
        self._pending_ssh: dict[str, Any] = {}
        self._pending_host_key: str = ""
        self._pending_proxmox: dict[str, Any] = {}
        self._pending_fingerprint: str = ""
        self._proxmox_step = "proxmox_token"
        self._discovered: dict[str, tuple[ChildInfo, str]] = {}
        self._untested = False
        self._wake_task: asyncio.Task[bool] | None = None
        # A changed SSH host key under review (reauth, reconfigure).
        self._previous_fingerprint: str = ""

    @callback
    def _async_finish(
        self,
        data: Mapping[str, Any] | None = None,
        nodes: dict[str, dict[str, Any]] | None = None,
    ) -> ConfigFlowResult:
        """The one way a step ends the flow with a result.

        Adding a machine creates its entry (with the chosen ``nodes``);
        reauth and reconfigure update the entry's ``data`` (by default the
        flow's), the Docker tunnel following the machine's SSH, reload it
        and finish.
        """
        if self.source == SOURCE_REAUTH:
            entry = self._get_reauth_entry()
        elif self.source == SOURCE_RECONFIGURE:
            entry = self._get_reconfigure_entry()
        else:
            return self.async_create_entry(
                title=self._data[CONF_NAME],
                data=self._data,
                options={
                    CONF_SCAN_INTERVAL: int(DEFAULT_SCAN_INTERVAL.total_seconds()),
                    CONF_NODES: nodes or {},
                    CONF_MACHINE: {
                        CONF_CONFIRM_SHUTDOWN: None,
                        CONF_PINNED: False,
                        CONF_URL: None,
                        CONF_START_TIMEOUT: None,
                        CONF_STOP_TIMEOUT: None,
                    },
                    CONF_DEPENDENCIES: [],
                },
            )
        return self._async_update_reload_and_abort(
            entry, data=sync_docker_ssh(self._data if data is None else data)
        )

    @callback
    def _async_update_reload_and_abort(
        self,
        entry: ConfigEntry,
        *,
        data: Mapping[str, Any],
        reason: str | None = None,
    ) -> ConfigFlowResult:
        """Update ``entry``'s data, schedule its reload and finish the flow.

        Not ``async_update_reload_and_abort``: Home Assistant 2026 reports it
        when the entry has an update listener (to break in 2026.12). WakeHub's
        listener reloads only on option changes, never on data changes (the
        host key the coordinator pins at first boot must not reload), so the
        flow still schedules the reload itself, exactly once.
        """
        self.hass.config_entries.async_update_entry(entry, data=data)
        self.hass.config_entries.async_schedule_reload(entry.entry_id)
        if reason is None:
            reason = (
                "reconfigure_successful"
                if self.source == SOURCE_RECONFIGURE
                else "reauth_successful"
            )
        return self.async_abort(reason=reason)
