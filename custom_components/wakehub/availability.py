"""Nodes whose config entry is not loaded: kept, refused, reported.

See docs/design.md, "Unavailable nodes". The hub keeps the nodes of every
WakeHub entry in its topology; those of an entry that is not loaded (a setup
error or retry, a disabled entry, one still loading) are *unavailable*:

- :func:`unavailable_refusal`: the translated error of a request about such
  a node, or of a start that needs one;
- :func:`async_check_unavailable_dependencies`: a repair issue per edge to
  such a node whose entry failed or is disabled.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from homeassistant.config_entries import ConfigEntryState
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import issue_registry as ir

from .const import DOMAIN
from .core.planner import Action
from .graph import start_closure
from .repairs import delete_other_issues, digest

if TYPE_CHECKING:
    from collections.abc import Mapping

    from homeassistant.config_entries import ConfigEntry
    from homeassistant.core import HomeAssistant

    from .core.topology import Topology

UNAVAILABLE_PREFIX: Final = "dependency_unavailable_"
FAILED_STATES: Final = frozenset(
    {
        ConfigEntryState.SETUP_ERROR,
        ConfigEntryState.SETUP_RETRY,
        ConfigEntryState.MIGRATION_ERROR,
        ConfigEntryState.FAILED_UNLOAD,
    }
)
"""The states of an entry that tried to load and failed."""


def async_check_unavailable_dependencies(
    hass: HomeAssistant, topology: Topology, unavailable: Mapping[str, str]
) -> None:
    """Raise an issue per edge to a node whose entry failed or is disabled.

    ``unavailable`` maps the nodes of entries that are not loaded to their
    entry id (see docs/design.md, "Unavailable nodes"). An entry that is
    still loading raises nothing. Issues that no longer apply are deleted.
    """
    wanted: set[str] = set()
    for dependent, dependency in topology.dependency_edges():
        if dependent in unavailable or (owner := unavailable.get(dependency)) is None:
            continue
        entry = hass.config_entries.async_get_entry(owner)
        if entry is None or not (entry.disabled_by or entry.state in FAILED_STATES):
            continue
        issue_id = f"{UNAVAILABLE_PREFIX}{digest(owner, dependent, dependency)}"
        wanted.add(issue_id)
        common: dict[str, Any] = {
            "is_fixable": False,
            "is_persistent": False,
            "severity": ir.IssueSeverity.ERROR,
            "translation_placeholders": {
                "dependent": topology.node(dependent).name,
                "dependency": topology.node(dependency).name,
                "entry": entry.title,
            },
        }
        if entry.disabled_by:
            ir.async_create_issue(
                hass, DOMAIN, issue_id, translation_key="dependency_disabled", **common
            )
        else:
            ir.async_create_issue(
                hass, DOMAIN, issue_id, translation_key="dependency_failed", **common
            )
    delete_other_issues(hass, UNAVAILABLE_PREFIX, wanted)


def unavailable_refusal(
    hass: HomeAssistant,
    topology: Topology,
    unavailable: Mapping[str, str],
    action: Action,
    target: str,
) -> ServiceValidationError | None:
    """The error refusing ``action`` on ``target``, or ``None`` when it may run.

    A target whose entry is not loaded is refused whatever the action. A
    start is also refused when it needs such a node (a dependency or a host,
    recursively): the error names the first one found and why its entry is
    not loaded. ``unavailable`` maps those nodes to their entry id.
    """
    if target not in topology:
        return None  # The orchestrator says the node is unknown.

    def name(node_id: str) -> str:
        return topology.node(node_id).name

    if (entry := _entry_of(hass, unavailable, target)) is not None:
        return ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="node_unavailable",
            translation_placeholders={
                "node": name(target),
                "entry": entry.title,
            },
        )
    if action is not Action.START:
        return None
    for node_id in start_closure(topology, target):
        if (entry := _entry_of(hass, unavailable, node_id)) is None:
            continue
        translation_key = "dependency_not_loaded"
        if entry.disabled_by:
            translation_key = "dependency_disabled"
        elif entry.state in FAILED_STATES:
            translation_key = "dependency_failed"
        return ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key=translation_key,
            translation_placeholders={
                "target": name(target),
                "dependency": name(node_id),
                "entry": entry.title,
            },
        )
    return None


def _entry_of(
    hass: HomeAssistant, unavailable: Mapping[str, str], node_id: str
) -> ConfigEntry[Any] | None:
    """The entry of an unavailable node, or ``None`` for an available one."""
    owner = unavailable.get(node_id)
    return hass.config_entries.async_get_entry(owner) if owner is not None else None
