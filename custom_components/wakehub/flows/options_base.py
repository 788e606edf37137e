"""What every step of the options flow shares."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from homeassistant.config_entries import (
    ConfigEntry,
    ConfigEntryState,
    ConfigFlowResult,
    OptionsFlow,
)
from homeassistant.core import callback
from homeassistant.helpers.selector import (
    SelectOptionDict,
    SelectSelector,
    SelectSelectorConfig,
)

from custom_components.wakehub.compat import vol
from custom_components.wakehub.const import (
    CONF_KIND,
    CONF_MACHINE,
    CONF_NAME,
    CONF_NODE,
    CONF_NODES,
)
from custom_components.wakehub.option_issues import async_clear_option_issues

if TYPE_CHECKING:
    from custom_components.wakehub.channels.base import ChildInfo
    from custom_components.wakehub.models import WakeHubRuntimeData


MACHINE_NODE: Final = "machine"


def runtime_discovered(entry: ConfigEntry) -> dict[str, tuple[ChildInfo, str]]:
    """The children the entry's coordinator discovered and nobody manages yet.

    Read from the runtime data of a loaded entry (the coordinator's last
    refresh, or the persisted tree while the machine is off); an entry that is
    not loaded has nothing discovered.
    """
    if entry.state is not ConfigEntryState.LOADED:
        return {}
    runtime: WakeHubRuntimeData = entry.runtime_data
    snapshot = runtime.coordinator.data
    return {
        child.node_id: (child.info, child.host_id)
        for children in snapshot.discovered.values()
        for child in children
    }


class OptionsBase(OptionsFlow):
    """The options being edited and how they are saved."""

    if TYPE_CHECKING:
        # Steps of the other groups a step goes on to (the flow has them all).
        async def async_step_node(
            self, user_input: dict[str, Any] | None = None
        ) -> ConfigFlowResult: ...

        async def async_step_node_docker(
            self, user_input: dict[str, Any] | None = None
        ) -> ConfigFlowResult: ...

    def __init__(self) -> None:
        """Start with nothing read from the machine yet."""
        self._options: dict[str, Any] = {}
        self._discovered: dict[str, tuple[ChildInfo, str]] | None = None
        self._node_id: str = ""
        self._docker_mode: str = ""
        self._pending_docker: dict[str, Any] = {}
        self._pending_fingerprint: str = ""

    def _unmanaged(self) -> dict[str, tuple[ChildInfo, str]]:
        """Discovered children that are not managed nodes yet."""
        assert self._discovered is not None
        return {
            node_id: found
            for node_id, found in self._discovered.items()
            if node_id not in self._options[CONF_NODES]
        }

    @callback
    def _async_save(self) -> ConfigFlowResult:
        """Save every option, the untouched parts included."""
        return self.async_create_entry(data=self._options)

    @callback
    def _async_save_validated(self, node: str | None) -> ConfigFlowResult:
        """Save a node's (or the global) settings, validated: their issues go."""
        async_clear_option_issues(self.hass, self.config_entry.entry_id, node)
        return self._async_save()

    def _managed_choices(self) -> list[SelectOptionDict]:
        """The machine, then each managed node by name: what a step picks from."""
        return [SelectOptionDict(value=MACHINE_NODE, label=self.config_entry.title)] + [
            SelectOptionDict(
                value=node_id, label=f"{node[CONF_NAME]} ({node[CONF_KIND]})"
            )
            for node_id, node in sorted(
                self._options[CONF_NODES].items(),
                key=lambda item: str(item[1][CONF_NAME]).lower(),
            )
        ]

    @staticmethod
    def _node_picker(choices: list[SelectOptionDict]) -> vol.Schema:
        """The form that picks one node (the machine or a managed node)."""
        return vol.Schema(
            {
                vol.Required(CONF_NODE): SelectSelector(
                    SelectSelectorConfig(options=choices)
                )
            }
        )

    def _node(self) -> tuple[str, dict[str, Any]]:
        """The kind and the settings of the node being edited."""
        if self._node_id == MACHINE_NODE:
            return MACHINE_NODE, dict(self._options[CONF_MACHINE])
        node = dict(self._options[CONF_NODES][self._node_id])
        return str(node[CONF_KIND]), node
