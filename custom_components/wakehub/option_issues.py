"""Stored options the validators refuse: left out at load, with a repair issue.

An entry never fails to load because of one stored option (a service URL
without a scheme once took a whole machine offline). At set-up the options
go through the flows' validators again (:func:`.flows.validators.clean_options`);
a refused value is left out of the entry's options, its default applies, and
an issue names the option (with its label in the options form, translated),
the node and the refused value. Saving the node's settings (or the polling
settings) in the options flow, which validates them, deletes the issue. See
docs/design.md, "Bad input".
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.translation import async_get_translations

from .const import CONF_KEY, CONF_MACHINE, CONF_NAME, CONF_NODES, DOMAIN
from .flows.validators import clean_options

if TYPE_CHECKING:
    from homeassistant.config_entries import ConfigEntry
    from homeassistant.core import HomeAssistant

    from .flows.validators import RefusedOption

TRANSLATION_KEY: Final = "invalid_option"
_GLOBAL: Final = "entry"
_VALUE_LENGTH: Final = 80


def _issue_prefix(entry_id: str, node: str | None) -> str:
    return f"{TRANSLATION_KEY}_{entry_id}_{node or _GLOBAL}_"


async def async_check_stored_options(hass: HomeAssistant, entry: ConfigEntry) -> None:
    """Leave out the entry's refused options; raise an issue for each."""
    cleaned, refused = clean_options(entry.options)
    if not refused:
        return
    hass.config_entries.async_update_entry(entry, options=cleaned)
    labels = await async_get_translations(
        hass, hass.config.language, "options", [DOMAIN]
    )
    for item in refused:
        ir.async_create_issue(
            hass,
            DOMAIN,
            _issue_prefix(entry.entry_id, item.node) + item.option,
            is_fixable=False,
            severity=ir.IssueSeverity.WARNING,
            translation_key=TRANSLATION_KEY,
            translation_placeholders={
                "name": entry.title,
                "node": _node_name(entry, item),
                "option": _label(labels, item),
                "value": _shown(item.value),
            },
        )


def _node_name(entry: ConfigEntry, item: RefusedOption) -> str:
    if item.node in (None, CONF_MACHINE):
        return entry.title
    node = entry.options.get(CONF_NODES, {}).get(item.node) or {}
    return str(node.get(CONF_NAME) or node.get(CONF_KEY) or item.node)


def _label(labels: dict[str, str], item: RefusedOption) -> str:
    step = "polling" if item.node is None else "node"
    key = f"component.{DOMAIN}.options.step.{step}.data.{item.option}"
    return labels.get(key, item.option)


def _shown(value: object) -> str:
    """The refused value as the issue shows it: one short line."""
    text = repr(value) if not isinstance(value, str) else value
    text = text.encode("unicode_escape").decode("ascii").replace("`", "'")
    if len(text) > _VALUE_LENGTH:
        text = text[: _VALUE_LENGTH - 1] + "…"
    return text


def async_clear_option_issues(
    hass: HomeAssistant, entry_id: str, node: str | None
) -> None:
    """Delete the issues of a node's (or the global) options: they were saved again."""
    prefix = _issue_prefix(entry_id, node)
    for domain, issue_id in list(ir.async_get(hass).issues):
        if domain == DOMAIN and issue_id.startswith(prefix):
            ir.async_delete_issue(hass, DOMAIN, issue_id)
