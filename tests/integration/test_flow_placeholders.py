"""Config-flow texts with placeholders render, in English and in French.

On Home Assistant 2025.4, "{name} does not answer" showed as "Translation
Error: ... variable name was not provided": that frontend fills a menu's
title, and a progress step's title, without the step's placeholders. The
autouse fixture of :mod:`tests.integration.flow_rendering` renders every
step that every integration test reaches (config, options and repair
flows) with the frontend's rules, in en and fr, and fails on a missing
variable. These tests walk the machine flow's menus and progress step, which
had placeholders in their titles, and check what a user reads; and they show
that the renderer fails on a missing variable.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from unittest.mock import patch

from homeassistant.data_entry_flow import FlowResultType
import pytest

from custom_components.wakehub.flows import machine as machine_flow

from .flow_helpers import choose, ssh_input, start_machine_flow, through_ssh
from .flow_rendering import MissingVariableError, render_result

if TYPE_CHECKING:
    from collections.abc import Iterator

    from homeassistant.core import HomeAssistant

pytestmark = pytest.mark.usefixtures("enable_custom_integrations", "mock_setup_entry")


@pytest.fixture
def mock_setup_entry() -> Iterator[None]:
    """Keep the created entries from being set up: only the flow is tested."""
    with patch("custom_components.wakehub.async_setup_entry", return_value=True):
        yield


def _texts(result: Any, language: str) -> dict[str, str]:
    """The step's texts as the frontend shows them, by key below ``config.step``."""
    shown = render_result(result, ("config",), language)
    prefix = f"{language}:config."
    return {
        key.removeprefix(prefix).removeprefix("step."): text
        for key, text in shown.items()
    }


async def test_powered_off_wake_and_wake_failed_render(
    hass: HomeAssistant, homelab: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The powered-off menu, the wake progress and the wake-failed menu."""
    # The NAS ignores its magic packets: the wake times out at once.
    monkeypatch.setattr(machine_flow, "WAKE_TIMEOUT", 0.3)
    monkeypatch.setattr(machine_flow, "WAKE_PROBE_INTERVAL", 0.05)
    homelab.fault("NAS", "ignore_wol")
    result = await start_machine_flow(hass, homelab, "NAS")
    assert result["type"] is FlowResultType.MENU
    assert result["step_id"] == "powered_off"
    en, fr = _texts(result, "en"), _texts(result, "fr")
    assert en["powered_off.title"] == "The machine does not answer"
    assert fr["powered_off.title"] == "La machine ne répond pas"
    assert en["powered_off.description"].startswith("NAS seems to be powered off")
    assert fr["powered_off.description"].startswith("NAS semble éteinte")
    assert en["powered_off.menu_options.wake"] == "Wake it now and continue"

    result = await choose(hass, result, "wake")
    assert result["type"] is FlowResultType.SHOW_PROGRESS
    en, fr = _texts(result, "en"), _texts(result, "fr")
    assert en["wake.title"] == "Waking the machine"
    assert fr["wake.title"] == "Réveil de la machine"
    assert en["progress.wake"].startswith("Magic packets sent to NAS.")

    await hass.async_block_till_done(wait_background_tasks=True)
    result = await hass.config_entries.flow.async_configure(result["flow_id"])
    assert result["step_id"] == "wake_failed"
    en, fr = _texts(result, "en"), _texts(result, "fr")
    assert en["wake_failed.title"] == "The machine did not wake up"
    assert en["wake_failed.description"].startswith(
        f"NAS did not answer within {result['description_placeholders']['timeout']}"
        " seconds"
    )
    assert fr["wake_failed.description"].startswith("NAS n'a pas répondu")

    result = await choose(hass, result, "save_untested")
    assert result["step_id"] == "ssh"
    en = _texts(result, "en")
    host = homelab.ready["nodes"]["NAS"]["host"]
    assert en["ssh.description"].startswith(f"WakeHub shuts {host} down over SSH")
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], ssh_input(homelab, "NAS")
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY


async def test_capabilities_menu_renders(
    hass: HomeAssistant, homelab: Any, render_every_flow_step: list[str]
) -> None:
    """The "what does it run" menu names the machine in its description."""
    homelab.set_power("Machine1", "on")
    result = await through_ssh(hass, homelab, "Machine1")
    en, fr = _texts(result, "en"), _texts(result, "fr")
    assert en["capabilities.title"] == "What does the machine run?"
    assert "containers of Machine1." in en["capabilities.description"]
    assert "conteneurs de Machine1." in fr["capabilities.description"]
    # The fixture rendered every step of the walk, in both languages.
    for language in ("en", "fr"):
        for step in ("user", "ssh", "ssh_host_key", "capabilities"):
            assert f"{language}:config.step.{step}.title" in render_every_flow_step


def test_a_missing_variable_fails() -> None:
    """The renderer fails as the frontend would: a variable nobody provides."""
    menu = {
        "type": FlowResultType.MENU,
        "step_id": "powered_off",
        "menu_options": ["wake", "save_untested"],
        "description_placeholders": {},
    }
    with pytest.raises(
        MissingVariableError, match=r"powered_off\.description.*\['name'\]"
    ):
        render_result(menu, ("config",), "fr")
    # A form's title gets the placeholders; a menu's title does not.
    form = {
        "type": FlowResultType.FORM,
        "step_id": "reconfigure",
        "description_placeholders": {"name": "NAS"},
        "errors": {},
    }
    assert render_result(form, ("config",), "en")[
        "en:config.step.reconfigure.title"
    ] == ("Reconfigure NAS")
    form["type"] = FlowResultType.MENU
    with pytest.raises(MissingVariableError, match=r"reconfigure\.title"):
        render_result(form, ("config",), "en")
