"""The early-wake option of a machine: in its node settings, saved, and used.

The orchestrator's own rules (which machines, the stagger, a failed or
cancelled start) are tested in ``tests/orchestrator/test_time_to_ready.py``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from homeassistant.data_entry_flow import FlowResultType
import pytest

from custom_components.wakehub.core.ids import machine_id
from custom_components.wakehub.core.model import PowerState
from custom_components.wakehub.core.planner import Action
from custom_components.wakehub.hub import HUB_KEY
from custom_components.wakehub.orchestrator import Cascade, NodeReached

from .conftest import state_of

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant
    from pytest_homeassistant_custom_component.common import MockConfigEntry

SETTINGS = {
    "confirm_shutdown": True,
    "pinned": False,
    "start_timeout": 5,
    "stop_timeout": 5,
}


@pytest.fixture(autouse=True)
def machine1_on(homelab: Any) -> None:
    """Machine1 runs, so its Proxmox API answers the first refresh."""
    homelab.set_power("Machine1", "on")


async def _machine_form(hass: HomeAssistant, entry: MockConfigEntry) -> Any:
    result = await hass.config_entries.options.async_init(entry.entry_id)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"next_step_id": "node_settings"}
    )
    return await hass.config_entries.options.async_configure(
        result["flow_id"], {"node": "machine"}
    )


async def test_early_wake_is_off_by_default_and_saved_with_its_stagger(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """Off by default; turned on with a stagger, the machine's entry keeps it
    and the orchestrator wakes this machine early, that long after the
    previous one; a stagger that is no number is a form error."""
    entry = init_integration
    machine = machine_id(entry.data["mac"])
    hub = hass.data[HUB_KEY]
    assert hub.orchestrator.early_wake == {}

    result = await _machine_form(hass, entry)
    schema = {str(key): key for key in result["data_schema"].schema}
    assert schema["early_wake"].default() is False
    assert schema["early_wake_stagger"].default() == 0

    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {**SETTINGS, "early_wake": True, "early_wake_stagger": float("nan")},
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"early_wake_stagger": "invalid_number"}

    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {**SETTINGS, "early_wake": True, "early_wake_stagger": 3}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options["machine"]["early_wake"] is True
    assert entry.options["machine"]["early_wake_stagger"] == 3
    await hass.async_block_till_done()
    assert hass.data[HUB_KEY].orchestrator.early_wake == {machine: 3.0}

    # Turned off again: no machine is woken early.
    result = await _machine_form(hass, entry)
    schema = {str(key): key for key in result["data_schema"].schema}
    assert schema["early_wake"].default() is True
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {**SETTINGS, "early_wake": False}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert hass.data[HUB_KEY].orchestrator.early_wake == {}


async def test_a_machine_woken_early_shows_on_when_its_watch_sees_it_up(
    hass: HomeAssistant, init_integration: MockConfigEntry, homelab: Any
) -> None:
    """The orchestrator reports a machine woken early as up before its step
    (``NodeReached``): its entities show it on at once, before any poll."""
    entry = init_integration
    coordinator = entry.runtime_data.coordinator
    homelab.set_power("Machine1", "off")
    await coordinator.async_refresh()
    await hass.async_block_till_done()
    assert state_of(hass, "Machine1") == "off"

    hub = hass.data[HUB_KEY]
    machine = machine_id(entry.data["mac"])
    cascade = Cascade(
        id="early", target=machine, target_name="Machine1", action=Action.START
    )
    hub.reporter.on_event(NodeReached(cascade, machine, PowerState.ON))
    await hass.async_block_till_done()
    assert state_of(hass, "Machine1") == "on"
    # A node of no loaded entry is ignored.
    hub.reporter.on_event(NodeReached(cascade, "gone", PowerState.ON))
    await hass.async_block_till_done()
