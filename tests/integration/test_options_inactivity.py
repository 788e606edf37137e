"""The options step "Inactivity": each node's rule, pre-filled, saved and used."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from homeassistant.data_entry_flow import FlowResultType
import pytest

from custom_components.wakehub.core.ids import guest_id
from custom_components.wakehub.flows.errors import InvalidInputError
from custom_components.wakehub.flows.inactivity import rule_from_form
from custom_components.wakehub.inactivity import EntitySignal, Rule, SignalKind

from .flow_helpers import node_doc

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant
    from pytest_homeassistant_custom_component.common import MockConfigEntry


@pytest.fixture
def managed() -> list[str]:
    """Machine1 manages VM-Docker only."""
    return ["VM-Docker"]


@pytest.fixture(autouse=True)
def machine1_on(homelab: Any) -> None:
    """Machine1 runs, so its Proxmox API answers the first refresh."""
    homelab.set_power("Machine1", "on")


async def _rule_form(hass: HomeAssistant, entry: MockConfigEntry, node: str) -> Any:
    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert "inactivity" in result["menu_options"]
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"next_step_id": "inactivity"}
    )
    assert result["step_id"] == "inactivity"
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"node": node}
    )
    assert result["step_id"] == "inactivity_rule"
    return result


def _defaults(result: Any) -> dict[str, Any]:
    found = {}
    for key in result["data_schema"].schema:
        if callable(key.default):
            found[str(key)] = key.default()
        elif key.description and "suggested_value" in key.description:
            found[str(key)] = key.description["suggested_value"]
    return found


async def test_machine_rule_prefilled_then_saved(
    hass: HomeAssistant, homelab: Any, init_integration: MockConfigEntry
) -> None:
    """The machine: defaults shown, connections offered, no network; saved."""
    result = await _rule_form(hass, init_integration, "machine")
    assert result["description_placeholders"] == {"node": "Machine1"}
    assert _defaults(result) == {
        "enabled": False,
        "minutes": 30,
        "cpu": True,
        "cpu_percent": 50.0,
        "ram": True,
        "ram_percent": 50.0,
        "connections": False,
        "ports": "",
        "entities": [],
        "entity_threshold": 0.0,
    }
    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {
            "enabled": True,
            "minutes": 20,
            "cpu": True,
            "cpu_percent": 40,
            "ram": False,
            "ram_percent": 50,
            "connections": True,
            "ports": "445, 2049 445",
            "entities": ["media_player.tv", "sensor.nas_power", "switch.backup"],
            "entity_threshold": 40,
        },
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    stored = Rule.from_dict(init_integration.options["machine"]["inactivity"])
    assert stored == Rule(
        enabled=True,
        minutes=20,
        cpu_percent=40,
        ram=False,
        connections=True,
        ports=(445, 2049),
        signals=(
            EntitySignal(entity_id="media_player.tv", kind=SignalKind.PLAYING),
            EntitySignal(
                entity_id="sensor.nas_power", kind=SignalKind.ABOVE, threshold=40
            ),
            EntitySignal(entity_id="switch.backup", kind=SignalKind.STATE, state="on"),
        ),
    )
    # Every other option kept; the entry reloaded with the node's idle sensor.
    assert init_integration.options["nodes"].keys() == {
        guest_id(node_doc(homelab, "Machine1")["mac"], 101)
    }
    assert hass.states.get("sensor.machine1_idle_time") is not None


async def test_guest_rule_errors_then_stored_signals_kept(
    hass: HomeAssistant, homelab: Any, init_integration: MockConfigEntry
) -> None:
    """A VM: network offered, bad numbers refused; a stored signal keeps its state."""
    vm = guest_id(node_doc(homelab, "Machine1")["mac"], 101)
    options = dict(init_integration.options)
    nodes = dict(options["nodes"])
    nodes[vm] = {
        **nodes[vm],
        "inactivity": Rule(
            enabled=True,
            minutes=15,
            signals=(
                EntitySignal(
                    entity_id="person.someone", kind=SignalKind.STATE, state="home"
                ),
                EntitySignal(entity_id="sensor.sessions", kind=SignalKind.ABOVE),
            ),
        ).as_dict(),
    }
    hass.config_entries.async_update_entry(
        init_integration, options={**options, "nodes": nodes}
    )
    await hass.async_block_till_done()
    result = await _rule_form(hass, init_integration, vm)
    defaults = _defaults(result)
    assert defaults["minutes"] == 15
    assert defaults["network"] is False
    assert defaults["network_kib_per_minute"] == 1024
    assert defaults["entities"] == ["person.someone", "sensor.sessions"]
    assert "connections" not in defaults
    form = {
        "enabled": True,
        "minutes": float("nan"),
        "cpu": False,
        "cpu_percent": float("nan"),
        "ram": True,
        "ram_percent": 30,
        "network": True,
        "network_kib_per_minute": 2,
        "entities": ["person.someone", "sensor.sessions"],
        "entity_threshold": 1,
    }
    result = await hass.config_entries.options.async_configure(result["flow_id"], form)
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {
        "minutes": "invalid_number",
        "cpu_percent": "invalid_number",
    }
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {**form, "minutes": 10, "cpu_percent": 50}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    stored = Rule.from_dict(init_integration.options["nodes"][vm]["inactivity"])
    assert stored == Rule(
        enabled=True,
        minutes=10,
        cpu=False,
        ram_percent=30,
        network=True,
        network_bytes_per_minute=2048,
        signals=(
            EntitySignal(
                entity_id="person.someone", kind=SignalKind.STATE, state="home"
            ),
            EntitySignal(
                entity_id="sensor.sessions", kind=SignalKind.ABOVE, threshold=1
            ),
        ),
    )


async def test_malformed_stored_rule_shows_the_defaults(
    hass: HomeAssistant, homelab: Any, init_integration: MockConfigEntry
) -> None:
    """A rule no form would store is shown as the default rule."""
    options = dict(init_integration.options)
    machine = {**options["machine"], "inactivity": {"minutes": "soon"}}
    hass.config_entries.async_update_entry(
        init_integration, options={**options, "machine": machine}
    )
    await hass.async_block_till_done()
    result = await _rule_form(hass, init_integration, "machine")
    assert _defaults(result)["minutes"] == 30
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"enabled": False, "ports": "22 x"}
    )
    assert result["errors"] == {"ports": "invalid_ports"}


@pytest.mark.parametrize(
    ("form", "errors"),
    [
        ({"ports": 445}, {"ports": "invalid_ports"}),
        ({"ports": "70000"}, {"ports": "invalid_ports"}),
        ({"entity_threshold": True}, {"entity_threshold": "invalid_number"}),
        (
            {"network_kib_per_minute": "lots"},
            {"network_kib_per_minute": "invalid_number"},
        ),
        ({"minutes": 1.5}, {"minutes": "invalid_number"}),
        ({"ram_percent": 101}, {"ram_percent": "invalid_number"}),
    ],
)
def test_rule_from_form_refusals(form: dict[str, Any], errors: dict[str, str]) -> None:
    """What the selectors let through (a REST client) is still checked."""
    with pytest.raises(InvalidInputError) as caught:
        rule_from_form(form, "machine", Rule())
    assert caught.value.errors == errors


def test_rule_from_form_defaults_to_the_stored_rule() -> None:
    """Fields a client leaves out keep the stored values; off unless enabled."""
    stored = Rule(enabled=True, minutes=12, ports=(22,), network=True)
    rule = rule_from_form({}, "vm", stored)
    assert rule == Rule(minutes=12, ports=(22,))


def test_empty_ports_mean_any_port() -> None:
    """No port listed: every established connection counts."""
    rule = rule_from_form({"ports": " ", "connections": True}, "machine", Rule())
    assert (rule.connections, rule.ports) == (True, ())
