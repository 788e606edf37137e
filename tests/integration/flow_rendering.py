"""Render every WakeHub flow step as Home Assistant's frontend does, en and fr.

The frontend fills a step's texts with the step's ``description_placeholders``
(and, in a repair's fix flow, the issue's ``translation_placeholders``); a
``{variable}`` it is not given shows as "Translation Error: ... variable
name was not provided". What gets placeholders depends on the kind of step;
in Home Assistant 2025.4's frontend (``renderMenuHeader``,
``renderShowFormProgressHeader`` of the config and options flows):

- a form: its title, description, field labels and helpers, and its errors;
- a menu: its description and option labels, but NOT its title;
- a progress step: the ``progress.<action>`` text, but NOT the step's title;
- an abort: its reason.

:func:`render_result` applies those rules to one flow result; the autouse
fixture :func:`render_every_flow_step` (imported by ``conftest.py``) renders
every step that every integration test reaches, in both languages, and fails
the test on a missing variable.
"""

from __future__ import annotations

from functools import cache
import json
from pathlib import Path
import re
from typing import TYPE_CHECKING, Any, Final

from homeassistant import data_entry_flow
from homeassistant.components.repairs.issue_handler import RepairsFlowManager
from homeassistant.config_entries import OptionsFlowManager
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import issue_registry as ir
import pytest

from custom_components.wakehub.const import DOMAIN

if TYPE_CHECKING:
    from collections.abc import Mapping

TRANSLATIONS: Final = (
    Path(__file__).resolve().parents[2] / "custom_components" / DOMAIN / "translations"
)
LANGUAGES: Final = ("en", "fr")
_VARIABLE: Final = re.compile(r"\{(\w+)\}")


class MissingVariableError(AssertionError):
    """A text names a variable its step does not provide."""


@cache
def translations(language: str) -> dict[str, Any]:
    """``translations/<language>.json``."""
    data: dict[str, Any] = json.loads((TRANSLATIONS / f"{language}.json").read_text())
    return data


def fill(text: str, placeholders: Mapping[str, Any], where: str) -> str:
    """``text`` with its ``{variables}`` filled; a missing one raises."""
    missing = [v for v in _VARIABLE.findall(text) if v not in placeholders]
    if missing:
        raise MissingVariableError(
            f"{where}: {text!r} needs {missing}, the step provides"
            f" {sorted(placeholders)}"
        )
    return _VARIABLE.sub(lambda m: str(placeholders[m.group(1)]), text)


def _get(tree: Mapping[str, Any], *keys: str) -> Any:
    node: Any = tree
    for key in keys:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


def render_result(
    result: Mapping[str, Any],
    scope: tuple[str, ...],
    language: str,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, str]:
    """Every text the frontend shows for ``result``, filled as it fills them.

    ``scope`` is where the flow's texts live: ``("config",)``,
    ``("options",)`` or ``("issues", key, "fix_flow")``. ``extra`` are the
    issue's placeholders of a repair flow. Returns ``{dotted key: text}``.
    """
    texts = translations(language)
    section = _get(texts, *scope) or {}
    placeholders = {**(extra or {}), **(result.get("description_placeholders") or {})}
    kind = result["type"]
    shown: dict[str, str] = {}
    where = f"{language}:{'.'.join(scope)}"

    def show(key: tuple[str, ...], with_placeholders: bool) -> None:
        text = _get(section, *key)
        if isinstance(text, str):
            label = f"{where}.{'.'.join(key)}"
            shown[label] = fill(text, placeholders if with_placeholders else {}, label)

    step = result.get("step_id")
    if kind == FlowResultType.FORM:
        show(("step", step, "title"), True)
        show(("step", step, "description"), True)
        for group in ("data", "data_description"):
            for field in _get(section, "step", step, group) or {}:
                show(("step", step, group, field), True)
        for error in (result.get("errors") or {}).values():
            show(("error", error), True)
    elif kind == FlowResultType.MENU:
        show(("step", step, "title"), False)
        show(("step", step, "description"), True)
        options = result.get("menu_options") or []
        for option in options if isinstance(options, list) else list(options):
            show(("step", step, "menu_options", option), True)
    elif kind == FlowResultType.SHOW_PROGRESS:
        show(("step", step, "title"), False)
        show(("progress", result["progress_action"]), True)
    elif kind == FlowResultType.ABORT:
        show(("abort", result["reason"]), True)
    return shown


def _scope(manager: Any, flow: Any) -> tuple[tuple[str, ...], dict[str, Any]] | None:
    """Where a WakeHub flow's texts live, and a repair issue's placeholders."""
    if isinstance(manager, RepairsFlowManager):
        if flow.handler != DOMAIN:
            return None
        issue = ir.async_get(manager.hass).async_get_issue(DOMAIN, flow.issue_id)
        key = (issue.translation_key if issue else None) or flow.issue_id
        extra = dict(issue.translation_placeholders or {}) if issue else {}
        return ("issues", key, "fix_flow"), extra
    if isinstance(manager, OptionsFlowManager):
        entry = manager.hass.config_entries.async_get_entry(flow.handler)
        if entry is None or entry.domain != DOMAIN:
            return None
        return ("options",), {}
    if flow.handler != DOMAIN:
        return None
    return ("config",), {}


@pytest.fixture(autouse=True)
def render_every_flow_step(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Render each step a WakeHub flow shows, in en and fr, as the frontend does.

    Returns the rendered keys (``language:scope.step...``), which a test may
    inspect; a missing variable fails the flow call at once.
    """
    seen: list[str] = []
    handle = data_entry_flow.FlowManager._async_handle_step

    async def rendering(self: Any, flow: Any, *args: Any, **kwargs: Any) -> Any:
        result = await handle(self, flow, *args, **kwargs)
        if (found := _scope(self, flow)) is not None:
            scope, extra = found
            for language in LANGUAGES:
                seen.extend(render_result(result, scope, language, extra))
        return result

    monkeypatch.setattr(data_entry_flow.FlowManager, "_async_handle_step", rendering)
    return seen
