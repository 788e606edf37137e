"""Repairs: dependency edges to a node that no longer exists; lost nodes.

A managed guest or container its answering host no longer reports gets a
``node_missing`` issue (:func:`async_update_missing_issues`, from each poll).

An edge ``[dependent, dependency]`` lives in the options of the entry that
owns the dependent. When either end disappears (its entry was removed, or the
managed container or guest was removed from its host's entry), the edge is
*dangling*. It is never dropped silently: it becomes a fixable repair issue
(``dangling_dependency``) whose fix flow removes the edge from the owning
entry's options once the user confirms.

The hub calls :func:`async_check_dangling_edges` whenever it rebuilds the
global topology; issues that no longer apply are deleted there.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Final

from homeassistant.components.repairs import RepairsFlow
from homeassistant.helpers import issue_registry as ir

from .compat import vol
from .const import DOMAIN
from .graph import stored_edges, without_edge
from .models import build_tree

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from homeassistant.core import HomeAssistant

    from .compat import RepairsFlowResult
    from .models import TreeNode

ISSUE_PREFIX: Final = "dangling_dependency_"
TRANSLATION_KEY: Final = "dangling_dependency"

type IssueData = dict[str, str | int | float | None]
"""What a repair issue carries (``issue.data``)."""

DATA_ENTRY_ID: Final = "entry_id"
DATA_DEPENDENT: Final = "dependent"
DATA_DEPENDENCY: Final = "dependency"


def digest(*parts: str) -> str:
    """A stable, URL-safe digest of ``parts``, for an issue id."""
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:20]


def delete_other_issues(hass: HomeAssistant, prefix: str, wanted: set[str]) -> None:
    """Delete WakeHub's issues whose id starts with ``prefix``, except ``wanted``."""
    registry = ir.async_get(hass)
    for domain, issue_id in list(registry.issues):
        if domain == DOMAIN and issue_id.startswith(prefix) and issue_id not in wanted:
            ir.async_delete_issue(hass, DOMAIN, issue_id)


def dangling_issue_id(entry_id: str, dependent: str, dependency: str) -> str:
    """The repair issue id of one edge of one entry (stable, URL-safe)."""
    return f"{ISSUE_PREFIX}{digest(entry_id, dependent, dependency)}"


def _label(node_id: str, names: dict[str, str]) -> str:
    """A display name for a node, even a vanished one.

    A vanished container is shown by its name (the end of its id); any other
    vanished node by its id.
    """
    if node_id in names:
        return names[node_id]
    _, sep, container = node_id.rpartition("/docker/")
    return container if sep and container else node_id


def async_check_dangling_edges(
    hass: HomeAssistant, known_node_ids: Iterable[str]
) -> list[tuple[str, str, str]]:
    """Raise an issue per dangling edge, delete the issues that no longer apply.

    ``known_node_ids`` are the nodes of the hub's global topology. A node
    managed by a config entry that is not loaded (an entry that failed to set
    up, or is disabled) still exists: its edges are not dangling. Returns the
    dangling edges as ``(entry_id, dependent, dependency)``.
    """
    entries = hass.config_entries.async_entries(DOMAIN)
    existing = set(known_node_ids)
    names: dict[str, str] = {}
    for entry in entries:
        tree = build_tree(entry)
        existing.update(tree)
        names.update({node_id: node.name for node_id, node in tree.items()})

    dangling: list[tuple[str, str, str]] = []
    wanted: set[str] = set()
    for entry in entries:
        for dependent, dependency in stored_edges(entry.options):
            if dependent in existing and dependency in existing:
                continue
            dangling.append((entry.entry_id, dependent, dependency))
            issue_id = dangling_issue_id(entry.entry_id, dependent, dependency)
            wanted.add(issue_id)
            ir.async_create_issue(
                hass,
                DOMAIN,
                issue_id,
                is_fixable=True,
                is_persistent=False,
                severity=ir.IssueSeverity.WARNING,
                translation_key=TRANSLATION_KEY,
                translation_placeholders={
                    "dependent": _label(dependent, names),
                    "dependency": _label(dependency, names),
                    "entry": entry.title,
                },
                data={
                    DATA_ENTRY_ID: entry.entry_id,
                    DATA_DEPENDENT: dependent,
                    DATA_DEPENDENCY: dependency,
                },
            )

    delete_other_issues(hass, ISSUE_PREFIX, wanted)
    return dangling


MISSING_PREFIX: Final = "node_missing_"


def missing_issue_id(node_id: str) -> str:
    """The repair issue of a managed node its host no longer reports."""
    return f"{MISSING_PREFIX}{node_id}"


def async_update_missing_issues(
    hass: HomeAssistant, tree: Mapping[str, TreeNode], missing: Iterable[str]
) -> None:
    """Raise a repair issue per node of ``tree`` its answering host lost.

    The issues of the other nodes of the tree are deleted.
    """
    missing = set(missing)
    for node in tree.values():
        issue_id = missing_issue_id(node.id)
        if node.id not in missing:
            ir.async_delete_issue(hass, DOMAIN, issue_id)
            continue
        assert node.parent is not None
        ir.async_create_issue(
            hass,
            DOMAIN,
            issue_id,
            is_fixable=False,
            severity=ir.IssueSeverity.WARNING,
            translation_key="node_missing",
            translation_placeholders={
                "node": node.name,
                "host": tree[node.parent].name,
                "key": node.key or "",
            },
        )


def async_remove_edge(
    hass: HomeAssistant, entry_id: str, dependent: str, dependency: str
) -> bool:
    """Remove one edge from an entry's options, keeping every other option.

    Returns whether the edge was there. The entry's update listener reloads
    it, and the hub then rebuilds the topology.
    """
    entry = hass.config_entries.async_get_entry(entry_id)
    if entry is None:
        return False
    options = without_edge(entry.options, (dependent, dependency))
    if options is None:
        return False
    hass.config_entries.async_update_entry(entry, options=options)
    return True


class DanglingDependencyRepairFlow(RepairsFlow):
    """Confirm, then remove the dangling edge from its entry's options."""

    def __init__(self, data: IssueData) -> None:
        """Keep which edge of which entry the issue is about."""
        self._entry_id = str(data[DATA_ENTRY_ID])
        self._dependent = str(data[DATA_DEPENDENT])
        self._dependency = str(data[DATA_DEPENDENCY])

    async def async_step_init(
        self, user_input: dict[str, str] | None = None
    ) -> RepairsFlowResult:
        """Go straight to the confirmation."""
        return await self.async_step_confirm()

    async def async_step_confirm(
        self, user_input: dict[str, str] | None = None
    ) -> RepairsFlowResult:
        """Show the edge; on submit, remove it."""
        if user_input is not None:
            async_remove_edge(
                self.hass, self._entry_id, self._dependent, self._dependency
            )
            return self.async_create_entry(data={})
        issue = ir.async_get(self.hass).async_get_issue(DOMAIN, self.issue_id)
        placeholders = dict(issue.translation_placeholders or {}) if issue else {}
        return self.async_show_form(
            step_id="confirm",
            data_schema=vol.Schema({}),
            description_placeholders=placeholders,
        )


async def async_create_fix_flow(
    hass: HomeAssistant, issue_id: str, data: IssueData | None
) -> RepairsFlow:
    """Create the fix flow of a WakeHub repair issue."""
    if issue_id.startswith(ISSUE_PREFIX) and data is not None:
        return DanglingDependencyRepairFlow(data)
    raise ValueError(f"WakeHub has no fix flow for issue {issue_id!r}")
