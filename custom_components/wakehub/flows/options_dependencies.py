"""What a node needs: its dependency edges, a cycle refused."""

from __future__ import annotations

from typing import Any

from homeassistant.config_entries import (
    ConfigEntryState,
    ConfigFlowResult,
)
from homeassistant.helpers.selector import (
    SelectOptionDict,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
)

from custom_components.wakehub.compat import vol
from custom_components.wakehub.const import (
    CONF_DEPENDENCIES,
    CONF_NODE,
    DOMAIN,
)
from custom_components.wakehub.core.errors import DependencyCycleError
from custom_components.wakehub.flows.options_base import OptionsBase
from custom_components.wakehub.graph import (
    BuiltTopology,
    build_domain_topology,
    check_dependencies,
    dependency_choices,
    stored_edges,
    with_dependencies,
)
from custom_components.wakehub.models import build_tree


class DependencySteps(OptionsBase):
    """Edit the dependencies of the machine or of one managed node."""

    def _dependency_topology(self) -> BuiltTopology:
        """Every node of every entry, with their edges, as the hub sees them.

        The hub's own builder (:func:`~.graph.build_domain_topology`); stored
        edges that do not fit (a vanished node: see the dangling-edge repair)
        are left out.
        """
        return build_domain_topology(self.hass)

    def _current_dependencies(self) -> list[str]:
        """What the node being edited depends on, as stored."""
        return [
            dependency
            for dependent, dependency in stored_edges(self._options)
            if dependent == self._node_id
        ]

    async def async_step_dependencies(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Pick the machine or one managed node, whose dependencies to edit."""
        if user_input is not None:
            self._node_id = user_input[CONF_NODE]
            return await self.async_step_dependencies_edit()
        tree = build_tree(self.config_entry)
        options = [
            SelectOptionDict(
                value=node.id,
                # A child is named with what it runs on, not its raw kind.
                label=node.name
                if node.parent is None or node.parent not in tree
                else f"{node.name} ({tree[node.parent].name})",
            )
            for node in tree.values()
        ]
        return self.async_show_form(
            step_id="dependencies", data_schema=self._node_picker(options)
        )

    async def async_step_dependencies_edit(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Every node of every loaded entry but this one; a cycle is refused.

        The edges are stored in this entry's options (it owns the dependent),
        replacing the node's previous ones and keeping every other option.
        """
        built = self._dependency_topology()
        labels = built.labels
        current = self._current_dependencies()
        errors: dict[str, str] = {}
        placeholders = {"node": labels.get(self._node_id, self._node_id), "path": ""}
        if user_input is not None:
            chosen = list(dict.fromkeys(user_input.get(CONF_DEPENDENCIES, [])))
            try:
                # A vanished node kept on purpose is not checked: the repair says so.
                check_dependencies(
                    built.topology,
                    self._node_id,
                    [node for node in chosen if node in built.topology],
                )
            except DependencyCycleError as err:
                errors["base"] = "dependency_cycle"
                placeholders["path"] = err.placeholders["path"]
            if not errors:
                self._options = with_dependencies(self._options, self._node_id, chosen)
                return self._async_save()
            current = chosen
        # Neither its hosts, what runs on it, nor a node that would close a
        # cycle, nor a node of an entry that is not loaded; what is chosen
        # already stays listed, so it can be removed.
        loaded = {
            entry.entry_id
            for entry in self.hass.config_entries.async_entries(DOMAIN)
            if entry.state is ConfigEntryState.LOADED
        } | {self.config_entry.entry_id}
        allowed = set(current) | {
            node_id
            for node_id in dependency_choices(built.topology, self._node_id)
            if built.owners.get(node_id) in loaded
        }
        options = [
            SelectOptionDict(value=node_id, label=label)
            for node_id, label in sorted(labels.items(), key=lambda i: i[1].lower())
            if node_id in allowed
        ] + [
            # A dependency on a vanished node stays listed, so it can be removed.
            SelectOptionDict(value=node_id, label=node_id)
            for node_id in current
            if node_id not in labels
        ]
        return self.async_show_form(
            step_id="dependencies_edit",
            data_schema=vol.Schema(
                {
                    vol.Optional(CONF_DEPENDENCIES, default=current): SelectSelector(
                        SelectSelectorConfig(
                            options=options,
                            multiple=True,
                            mode=SelectSelectorMode.LIST,
                        )
                    )
                }
            ),
            errors=errors,
            description_placeholders=placeholders,
        )
