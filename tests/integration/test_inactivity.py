"""Inactivity rules end to end: the reference homelab in Home Assistant, time scaled.

The monitor's monotonic clock is a test clock moved 30 s per poll; each poll
is a real refresh against the simulator, whose usage figures the control API
sets (tests/homelab/metrics.py).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from homeassistant.const import SERVICE_TURN_ON
import pytest
from pytest_homeassistant_custom_component.common import async_capture_events

from custom_components.wakehub.channels import ApiError
from custom_components.wakehub.const import (
    EVENT_CASCADE_STARTED,
    EVENT_NODE_IDLE,
    EVENT_SHUTDOWN_PROPOSED,
)
from custom_components.wakehub.core.planner import Action
from custom_components.wakehub.logbook import DESCRIBERS, async_load_texts, texts
from custom_components.wakehub.sensor import node_catalog
from tests.homelab import metrics

from . import hub_helpers
from .conftest import entity_id_of, node_id_of
from .hub_helpers import (
    async_setup_homelab,
    async_turn,
    async_wait_idle,
    commands,
    hub_of,
)

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant

    from tests.homelab.thread import HomelabThread

pytestmark = pytest.mark.usefixtures("fast_polls")

RULE: dict[str, Any] = {"enabled": True, "minutes": 1}
SESSIONS = "sensor.jellyfin_active_sessions"


class Clock:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def _setup(
    hass: HomeAssistant,
    homelab: HomelabThread,
    rules: dict[str, dict[str, Any]],
) -> Clock:
    settings = {name: {"inactivity": rule} for name, rule in rules.items()}
    await async_setup_homelab(hass, homelab, settings=settings)
    clock = Clock()
    hub_of(hass).inactivity.clock = clock
    return clock


async def _poll(
    hass: HomeAssistant, homelab: HomelabThread, clock: Clock, *names: str
) -> None:
    """Move the clock 30 s and refresh the entries of ``names``."""
    clock.now += 30
    hub = hub_of(hass)
    ready = homelab.ready
    for coordinator in hub.coordinators_of(node_id_of(ready, n) for n in names):
        await coordinator.async_refresh()
    await hass.async_block_till_done(wait_background_tasks=True)


def _idle(hass: HomeAssistant, name: str) -> tuple[str, dict[str, Any]]:
    state = hass.states.get(entity_id_of(name, "idle_time"))
    assert state is not None
    return state.state, dict(state.attributes)


def _set(homelab: HomelabThread, name: str, **values: Any) -> None:
    homelab.call(lambda lab: metrics.set_metrics(lab.node(name), values))


@pytest.fixture
async def half_idle(hass: HomeAssistant, homelab: HomelabThread) -> Clock:
    """VM-Ubuntu running, idle for half of its 1-minute rule (a baseline, one poll)."""
    homelab.set_power("VM-Ubuntu", "running")
    clock = await _setup(hass, homelab, {"VM-Ubuntu": RULE})
    await _poll(hass, homelab, clock, "VM-Ubuntu")
    await _poll(hass, homelab, clock, "VM-Ubuntu")
    assert _idle(hass, "VM-Ubuntu")[0] == "0.5"
    return clock


async def test_vm_idle_for_its_period_is_stopped(
    hass: HomeAssistant, homelab: HomelabThread
) -> None:
    """VM-Ubuntu idle for 1 min: wakehub_node_idle, then its stop cascade."""
    homelab.set_power("VM-Ubuntu", "running")
    clock = await _setup(hass, homelab, {"VM-Ubuntu": RULE})
    idle = async_capture_events(hass, EVENT_NODE_IDLE)
    await _poll(hass, homelab, clock, "VM-Ubuntu")  # the baseline
    await _poll(hass, homelab, clock, "VM-Ubuntu")
    value, attributes = _idle(hass, "VM-Ubuntu")
    assert value == "0.5"
    assert attributes["status"] == "idle 0 of 1 min"
    assert attributes["remaining"] == 0.5
    assert set(attributes["criteria"]) == {"cpu", "ram"}
    # The card finds the time left through the cascade sensor's node list.
    catalog = {item["name"]: item for item in node_catalog(hub_of(hass))}
    assert catalog["VM-Ubuntu"]["idle_entity"] == entity_id_of("VM-Ubuntu", "idle_time")
    assert "idle_entity" not in catalog["VM-Docker"]
    assert attributes["criteria"]["ram"]["value"] == 25.0
    assert not idle
    await _poll(hass, homelab, clock, "VM-Ubuntu")
    await async_wait_idle(hass)
    assert [event.data["action"] for event in idle] == ["stop"]
    # The logbook entry names the criteria and their values.
    await async_load_texts(hass)
    assert DESCRIBERS[EVENT_NODE_IDLE](texts(hass), idle[0].data) == (
        "VM-Ubuntu",
        (
            "idle for 1 min (CPU 1.7 % (threshold 50 %); RAM 25 % (threshold 50 %)):"
            " shutting it down"
        ),
        node_id_of(homelab.ready, "VM-Ubuntu"),
    )
    assert ("pve_shutdown", "VM-Ubuntu") in commands(homelab)
    assert homelab.state("VM-Ubuntu") == "stopped"
    await _poll(hass, homelab, clock, "VM-Ubuntu")
    value, attributes = _idle(hass, "VM-Ubuntu")
    assert (value, attributes["status"], attributes["remaining"]) == ("0", "off", None)


async def test_activity_resets_the_timer(
    hass: HomeAssistant, homelab: HomelabThread, half_idle: Clock
) -> None:
    """A busy CPU sets the count back to zero, and says why."""
    clock = half_idle
    _set(homelab, "VM-Ubuntu", cpu=0.9)
    await _poll(hass, homelab, clock, "VM-Ubuntu")
    value, attributes = _idle(hass, "VM-Ubuntu")
    assert value == "0.0"
    assert attributes["status"] == "active: cpu 90 % (threshold 50 %)"
    _set(homelab, "VM-Ubuntu", cpu=None)
    await _poll(hass, homelab, clock, "VM-Ubuntu")
    assert _idle(hass, "VM-Ubuntu")[0] == "0.5"
    await _poll(hass, homelab, clock, "VM-Ubuntu")
    await async_wait_idle(hass)
    assert ("pve_shutdown", "VM-Ubuntu") in commands(homelab)


@pytest.fixture
def unrestricted_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    """The machines' SSH keys may run other commands than the shutdown."""
    original = hub_helpers.entry_data_for

    def entry_data_for(
        *args: Any, **kwargs: Any
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        data, options = original(*args, **kwargs)
        data["ssh"]["forced_command"] = False
        return data, options

    monkeypatch.setattr(hub_helpers, "entry_data_for", entry_data_for)


@pytest.mark.usefixtures("unrestricted_keys")
async def test_active_dependent_suspends_the_rule(
    hass: HomeAssistant, homelab: HomelabThread
) -> None:
    """The NAS stays while Jellyfin (its dependent) runs, however idle it is."""
    homelab.set_power("NAS", "on")
    homelab.set_power("Jellyfin", "running")
    clock = await _setup(hass, homelab, {"NAS": {**RULE, "connections": True}})
    for _ in range(4):
        await _poll(hass, homelab, clock, "NAS", "Jellyfin")
    value, attributes = _idle(hass, "NAS")
    assert (value, attributes["state"], attributes["suspension"]) == (
        "0.0",
        "suspended",
        "dependent_active",
    )
    assert attributes["status"] == "suspended: dependent_active"
    assert homelab.state("NAS") == "on"
    # Jellyfin stops: the NAS counts from then on (and asks: it is a machine).
    homelab.set_power("Jellyfin", "stopped")
    proposed = async_capture_events(hass, EVENT_SHUTDOWN_PROPOSED)
    for _ in range(3):
        await _poll(hass, homelab, clock, "NAS", "Jellyfin")
    assert [event.data["name"] for event in proposed] == ["NAS"]
    assert homelab.state("NAS") == "on"


async def test_confirmation_makes_a_proposal_not_a_stop(
    hass: HomeAssistant, homelab: HomelabThread
) -> None:
    """With "confirm before automatic shutdown", an idle VM is proposed."""
    homelab.set_power("VM-Ubuntu", "running")
    idle = async_capture_events(hass, EVENT_NODE_IDLE)
    proposed = async_capture_events(hass, EVENT_SHUTDOWN_PROPOSED)
    started = async_capture_events(hass, EVENT_CASCADE_STARTED)
    settings = {"inactivity": RULE, "confirm_shutdown": True}
    await async_setup_homelab(hass, homelab, settings={"VM-Ubuntu": settings})
    clock = Clock()
    hub_of(hass).inactivity.clock = clock
    for _ in range(3):
        await _poll(hass, homelab, clock, "VM-Ubuntu")
    await async_wait_idle(hass)
    assert [event.data["action"] for event in idle] == ["propose"]
    await async_load_texts(hass)
    assert DESCRIBERS[EVENT_NODE_IDLE](texts(hass), idle[0].data)[1].endswith(
        ": shutting it down awaits confirmation"
    )
    assert [event.data["name"] for event in proposed] == ["VM-Ubuntu"]
    assert started == []
    assert homelab.state("VM-Ubuntu") == "running"


async def test_ha_sensor_keeps_jellyfin_up(
    hass: HomeAssistant, homelab: HomelabThread
) -> None:
    """While the sessions sensor is above 0, Jellyfin is active."""
    homelab.set_power("Jellyfin", "running")
    hass.states.async_set(SESSIONS, "1")
    rule = {**RULE, "signals": [{"entity_id": SESSIONS, "kind": "above"}]}
    clock = await _setup(hass, homelab, {"Jellyfin": rule})
    for _ in range(5):
        await _poll(hass, homelab, clock, "Jellyfin")
    value, attributes = _idle(hass, "Jellyfin")
    assert value == "0.0"
    assert attributes["status"] == f"active: {SESSIONS} 1"
    assert attributes["criteria"][SESSIONS]["idle"] is False
    assert homelab.state("Jellyfin") == "running"
    hass.states.async_set(SESSIONS, "0")
    for _ in range(3):
        await _poll(hass, homelab, clock, "Jellyfin")
    await async_wait_idle(hass)
    assert ("pve_shutdown", "Jellyfin") in commands(homelab)


async def test_explicit_start_resets_the_count(
    hass: HomeAssistant, homelab: HomelabThread, half_idle: Clock
) -> None:
    """Turning the switch on during the count starts it over."""
    clock = half_idle
    await async_turn(hass, SERVICE_TURN_ON, "VM-Ubuntu")
    await async_wait_idle(hass)
    assert _idle(hass, "VM-Ubuntu")[0] == "0.0"
    # Without the reset, this poll would complete the minute.
    await _poll(hass, homelab, clock, "VM-Ubuntu")
    assert _idle(hass, "VM-Ubuntu")[0] == "0.5"
    assert homelab.state("VM-Ubuntu") == "running"


async def test_restart_keeps_the_idle_time(
    hass: HomeAssistant, homelab: HomelabThread, hass_storage: dict[str, Any]
) -> None:
    """Stored at shutdown; restored, it neither starts over nor is due at once."""
    homelab.set_power("VM-Ubuntu", "running")
    node_id = node_id_of(homelab.ready, "VM-Ubuntu")
    hass_storage["wakehub.inactivity"] = {
        "version": 1,
        "key": "wakehub.inactivity",
        "data": {"timers": {node_id: {"version": 1, "idle_s": 75.0}}},
    }
    idle = async_capture_events(hass, EVENT_NODE_IDLE)
    rule = {**RULE, "minutes": 2}
    clock = await _setup(hass, homelab, {"VM-Ubuntu": rule})
    await _poll(hass, homelab, clock, "VM-Ubuntu")  # a baseline only
    assert _idle(hass, "VM-Ubuntu")[0] == "1.2"
    assert not idle
    await _poll(hass, homelab, clock, "VM-Ubuntu")
    assert _idle(hass, "VM-Ubuntu")[0] == "1.8"
    await hub_of(hass).async_shutdown()
    stored = hass_storage["wakehub.inactivity"]["data"]["timers"]
    assert stored[node_id]["idle_s"] == 105.0


async def test_container_stats_once_per_period(
    hass: HomeAssistant, homelab: HomelabThread
) -> None:
    """pihole: one stats request per period; fresh figures when it is due."""
    homelab.set_power("pihole", "running")
    rule = {**RULE, "minutes": 2, "network": True}
    clock = await _setup(hass, homelab, {"pihole": rule})
    homelab.reset_requests()
    for _ in range(4):
        await _poll(hass, homelab, clock, "pihole")
    value, attributes = _idle(hass, "pihole")
    assert value == "1.5"
    assert attributes["criteria"]["network"]["note"] == "baseline"
    endpoints = homelab.requests()["hosts"]["RaspberryPi"]["endpoints"]
    assert endpoints["docker GET /containers/{id}/stats"] == 1
    await _poll(hass, homelab, clock, "pihole")
    await async_wait_idle(hass)
    endpoints = homelab.requests()["hosts"]["RaspberryPi"]["endpoints"]
    assert endpoints["docker GET /containers/{id}/stats"] == 2
    assert ("docker_stop", "pihole") in commands(homelab)


async def test_container_traffic_between_reads_is_activity(
    hass: HomeAssistant, homelab: HomelabThread
) -> None:
    """Bytes that flowed during the period show in the next read's rate."""
    homelab.set_power("pihole", "running")
    _set(homelab, "pihole", netin=0, netout=0)
    rule = {**RULE, "minutes": 2, "network": True, "cpu": False, "ram": False}
    clock = await _setup(hass, homelab, {"pihole": rule})
    for _ in range(4):
        await _poll(hass, homelab, clock, "pihole")
    _set(homelab, "pihole", netin=50_000_000)
    await _poll(hass, homelab, clock, "pihole")
    value, attributes = _idle(hass, "pihole")
    assert value == "0.0"
    assert attributes["status"].startswith("active: network 2")
    assert homelab.state("pihole") == "running"


async def test_unreadable_container_counts_as_active(
    hass: HomeAssistant, homelab: HomelabThread, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failing stats read leaves the container on, the reason shown."""
    homelab.set_power("pihole", "running")
    clock = await _setup(hass, homelab, {"pihole": RULE})
    coordinator = hub_of(hass).coordinator_of(node_id_of(homelab.ready, "pihole"))
    assert coordinator is not None
    (api,) = coordinator.channels.docker.values()

    async def usage(key: str) -> None:
        raise ApiError(f"no stats for {key}")

    monkeypatch.setattr(api, "usage", usage)
    for _ in range(3):
        await _poll(hass, homelab, clock, "pihole")
    value, attributes = _idle(hass, "pihole")
    assert value == "0.0"
    assert attributes["status"] == "active: cpu unknown, ram unknown"
    assert homelab.state("pihole") == "running"


async def test_machine_with_a_restricted_key_is_never_idle(
    hass: HomeAssistant, homelab: HomelabThread
) -> None:
    """A key restricted to the shutdown runs nothing else: no figure, no stop."""
    homelab.set_power("NAS", "on")
    clock = await _setup(hass, homelab, {"NAS": RULE})
    for _ in range(3):
        await _poll(hass, homelab, clock, "NAS")
    _, attributes = _idle(hass, "NAS")
    assert attributes["status"] == "active: cpu unknown, ram unknown"
    assert homelab.commands() == []


async def test_malformed_rule_is_ignored(
    hass: HomeAssistant, homelab: HomelabThread, caplog: pytest.LogCaptureFixture
) -> None:
    """A rule no form would store is the default one: disabled, no sensor."""
    homelab.set_power("VM-Ubuntu", "running")
    await _setup(hass, homelab, {"VM-Ubuntu": {"enabled": True, "minutes": 0}})
    assert hass.states.get(entity_id_of("VM-Ubuntu", "idle_time")) is None
    assert "ignoring a malformed inactivity rule" in caplog.text


async def test_changed_rule_keeps_the_count(
    hass: HomeAssistant, homelab: HomelabThread, half_idle: Clock
) -> None:
    """A longer period set in the options keeps the idle time counted so far."""
    clock = half_idle
    coordinator = hub_of(hass).coordinator_of(node_id_of(homelab.ready, "VM-Ubuntu"))
    assert coordinator is not None
    entry = coordinator.config_entry
    node_id = node_id_of(homelab.ready, "VM-Ubuntu")
    nodes = dict(entry.options["nodes"])
    nodes[node_id] = {**nodes[node_id], "inactivity": {**RULE, "minutes": 2}}
    hass.config_entries.async_update_entry(
        entry, options={**entry.options, "nodes": nodes}
    )
    await hass.async_block_till_done(wait_background_tasks=True)
    await _poll(hass, homelab, clock, "VM-Ubuntu")
    value, attributes = _idle(hass, "VM-Ubuntu")
    assert (value, attributes["period"]) == ("1.0", 2)
    assert homelab.state("VM-Ubuntu") == "running"


async def test_cascade_involving_the_node_holds_the_count(
    hass: HomeAssistant, homelab: HomelabThread
) -> None:
    """VM-Ubuntu, a later step of Machine1's stop: suspended, its count kept."""
    homelab.set_power("VM-Ubuntu", "running")
    homelab.set_power("VM-Docker", "running")
    # Its OS takes 3 s to shut down (at the test's scale), within its window.
    homelab.fault("VM-Docker", "startup_down", 300)
    homelab.fault("VM-Docker", "shutdown_delay", 150)
    clock = await _setup(hass, homelab, {"VM-Ubuntu": {**RULE, "minutes": 5}})
    await _poll(hass, homelab, clock, "VM-Ubuntu")
    await _poll(hass, homelab, clock, "VM-Ubuntu")
    hub = hub_of(hass)
    cascade = await hub.async_request(
        Action.STOP, node_id_of(homelab.ready, "Machine1")
    )
    # VM-Docker's shutdown runs; VM-Ubuntu's step waits, the VM still on.
    async with asyncio.timeout(10):
        while [step.name for step in cascade.steps if step.status == "running"] != [
            "VM-Docker"
        ]:
            await asyncio.sleep(0.02)
    await _poll(hass, homelab, clock, "VM-Ubuntu")
    value, attributes = _idle(hass, "VM-Ubuntu")
    assert (value, attributes["state"], attributes["suspension"]) == (
        "0.5",
        "suspended",
        "cascade",
    )
    assert attributes["status"] == "suspended: cascade"
    await async_wait_idle(hass)
    assert homelab.state("VM-Ubuntu") == "stopped"


async def test_signal_between_polls_resets_the_count(
    hass: HomeAssistant, homelab: HomelabThread
) -> None:
    """A media player that plays for a moment between two polls is activity."""
    homelab.set_power("Jellyfin", "running")
    hass.states.async_set("media_player.tv", "idle")
    rule = {**RULE, "signals": [{"entity_id": "media_player.tv", "kind": "playing"}]}
    clock = await _setup(hass, homelab, {"Jellyfin": rule})
    await _poll(hass, homelab, clock, "Jellyfin")
    await _poll(hass, homelab, clock, "Jellyfin")
    assert _idle(hass, "Jellyfin")[0] == "0.5"
    hass.states.async_set("media_player.tv", "playing")
    await hass.async_block_till_done()
    assert _idle(hass, "Jellyfin")[0] == "0.0"
    hass.states.async_set("media_player.tv", "paused")
    await _poll(hass, homelab, clock, "Jellyfin")  # would have completed the minute
    await async_wait_idle(hass)
    assert homelab.state("Jellyfin") == "running"
    assert _idle(hass, "Jellyfin")[0] == "0.0"
