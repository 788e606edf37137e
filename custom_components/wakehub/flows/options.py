"""The options flow: services to configure, node settings, dependencies, polling.

Each step group is a mixin of :class:`WakeHubOptionsFlow` in its own module
(``options_node``, ``options_docker``, ``options_dependencies``), on
:class:`.options_base.OptionsBase`. Another group is one more module, one
more base here and its entry in :meth:`WakeHubOptionsFlow._menu_options`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from homeassistant.helpers.selector import (
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    SelectOptionDict,
    SelectSelector,
    SelectSelectorConfig,
)

from custom_components.wakehub.compat import vol
from custom_components.wakehub.const import (
    CONF_MACHINE,
    CONF_NODE,
    CONF_NODES,
    CONF_PROPOSAL_EXPIRY,
    CONF_SCAN_INTERVAL,
    DEFAULT_PROPOSAL_EXPIRY,
    DEFAULT_SCAN_INTERVAL,
    MAX_PROPOSAL_EXPIRY_MINUTES,
    MIN_SCAN_INTERVAL,
)
from custom_components.wakehub.flows.errors import FlowError
from custom_components.wakehub.flows.inactivity import InactivityOptionsMixin
from custom_components.wakehub.flows.options_base import (
    runtime_discovered,
)
from custom_components.wakehub.flows.options_dependencies import DependencySteps
from custom_components.wakehub.flows.options_docker import NodeDockerSteps
from custom_components.wakehub.flows.options_node import NodeSettingsSteps
from custom_components.wakehub.flows.records import kind_label, node_record
from custom_components.wakehub.flows.validators import (
    POLLING_FIELDS,
    validate,
)

if TYPE_CHECKING:
    from homeassistant.config_entries import (
        ConfigFlowResult,
    )


class WakeHubOptionsFlow(
    InactivityOptionsMixin, NodeSettingsSteps, NodeDockerSteps, DependencySteps
):
    """Services to configure, node settings and the polling interval."""

    def _menu_options(self) -> list[str]:
        """The entries of the options menu: a new step group adds its own."""
        return ["services", "node_settings", "dependencies", "inactivity", "polling"]

    async def async_step_init(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """The options menu."""
        self._options = {
            CONF_SCAN_INTERVAL: int(DEFAULT_SCAN_INTERVAL.total_seconds()),
            CONF_NODES: {},
            CONF_MACHINE: {},
            **self.config_entry.options,
        }
        self._options[CONF_NODES] = dict(self._options[CONF_NODES])
        self._discovered = runtime_discovered(self.config_entry)
        return self.async_show_menu(
            step_id="init",
            menu_options=self._menu_options(),
            description_placeholders={
                "count": str(len(self._unmanaged())),
                "machine": self.config_entry.title,
            },
        )

    async def async_step_services(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Pick one discovered service to configure."""
        unmanaged = self._unmanaged()
        if not unmanaged:
            return self.async_abort(reason="no_services")
        if user_input is not None:
            self._node_id = user_input[CONF_NODE]
            child, parent = unmanaged[self._node_id]
            self._options[CONF_NODES][self._node_id] = node_record(child, parent)
            return await self.async_step_node()
        options = [
            SelectOptionDict(value=node_id, label=kind_label(child))
            for node_id, (child, _parent) in sorted(
                unmanaged.items(), key=lambda item: item[1][0].name.lower()
            )
        ]
        return self.async_show_form(
            step_id="services",
            data_schema=vol.Schema(
                {
                    vol.Required(CONF_NODE): SelectSelector(
                        SelectSelectorConfig(options=options)
                    )
                }
            ),
            description_placeholders={"count": str(len(options))},
        )

    async def async_step_node_settings(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Pick the machine or one managed node."""
        if user_input is not None:
            self._node_id = user_input[CONF_NODE]
            return await self.async_step_node()
        return self.async_show_form(
            step_id="node_settings",
            data_schema=self._node_picker(self._managed_choices()),
        )

    async def async_step_polling(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """The polling interval (seconds) and the proposals' expiry (minutes)."""
        errors: dict[str, str] = {}
        if user_input is not None:
            try:
                clean = validate(user_input, POLLING_FIELDS)
            except FlowError as err:
                errors = err.errors
            else:
                self._options[CONF_SCAN_INTERVAL] = clean[CONF_SCAN_INTERVAL]
                self._options[CONF_PROPOSAL_EXPIRY] = clean[CONF_PROPOSAL_EXPIRY]
                return self._async_save_validated(None)
        expiry = self._options.get(CONF_PROPOSAL_EXPIRY) or int(
            DEFAULT_PROPOSAL_EXPIRY.total_seconds() // 60
        )
        return self.async_show_form(
            step_id="polling",
            data_schema=vol.Schema(
                {
                    vol.Required(
                        CONF_SCAN_INTERVAL,
                        default=self._options[CONF_SCAN_INTERVAL],
                    ): NumberSelector(
                        NumberSelectorConfig(
                            min=MIN_SCAN_INTERVAL.total_seconds(),
                            max=3600,
                            step=1,
                            mode=NumberSelectorMode.BOX,
                            unit_of_measurement="s",
                        )
                    ),
                    vol.Required(CONF_PROPOSAL_EXPIRY, default=expiry): NumberSelector(
                        NumberSelectorConfig(
                            min=1,
                            max=MAX_PROPOSAL_EXPIRY_MINUTES,
                            step=1,
                            mode=NumberSelectorMode.BOX,
                            unit_of_measurement="min",
                        )
                    ),
                }
            ),
            errors=errors,
        )
