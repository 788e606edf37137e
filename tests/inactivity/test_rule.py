"""The inactivity rule: its defaults, its stored form and one sample's verdict."""

from __future__ import annotations

import pytest

from custom_components.wakehub.inactivity import (
    Criterion,
    EntitySignal,
    Note,
    Rule,
    Sample,
    SignalKind,
    evaluate,
)

SESSIONS = EntitySignal(
    entity_id="sensor.jellyfin_active_sessions", kind=SignalKind.ABOVE
)
POWER = EntitySignal(entity_id="sensor.nas_power", kind=SignalKind.ABOVE, threshold=40)
TV = EntitySignal(entity_id="media_player.tv", kind=SignalKind.PLAYING)
BACKUP = EntitySignal(
    entity_id="input_boolean.backup", kind=SignalKind.STATE, state="on"
)


def test_defaults() -> None:
    """Off, 30 minutes, CPU and RAM below 50 % enabled."""
    rule = Rule()
    assert not rule.enabled
    assert rule.minutes == 30
    assert rule.period_s == 1800
    assert rule.criteria == (Criterion.CPU, Criterion.RAM)
    assert (rule.cpu_percent, rule.ram_percent) == (50, 50)


def test_round_trip_through_options() -> None:
    """A rule stored in an entry's options comes back the same."""
    rule = Rule(
        enabled=True,
        minutes=12,
        cpu=False,
        ram_percent=70,
        network=True,
        network_bytes_per_minute=2000,
        connections=True,
        ports=(22, 8096),
        signals=(SESSIONS, POWER, TV, BACKUP),
    )
    assert Rule.from_dict(rule.as_dict()) == rule
    assert rule.criteria == (
        Criterion.RAM,
        Criterion.NETWORK,
        Criterion.CONNECTIONS,
        Criterion.ENTITY,
    )


@pytest.mark.parametrize("data", [None, {}])
def test_no_options_is_the_default_rule(data: dict[str, object] | None) -> None:
    """A node without stored options has the default (disabled) rule."""
    assert Rule.from_dict(data) == Rule()


@pytest.mark.parametrize(
    "kwargs",
    [
        {"minutes": 0},
        {"minutes": 24 * 60 + 1},
        {"cpu_percent": 101},
        {"ram_percent": -1},
        {"network_bytes_per_minute": -5},
        {"ports": (0,)},
        {"ports": (65536,)},
    ],
)
def test_out_of_range_values_are_refused(kwargs: dict[str, object]) -> None:
    """Values no option form produces raise."""
    with pytest.raises(ValueError):
        Rule(**kwargs)  # type: ignore[arg-type]


def test_cpu_and_ram_below_thresholds_is_idle() -> None:
    """Both under 50 %: idle, with both readings."""
    verdict = evaluate(Rule(), Sample(cpu_percent=3.2, ram_percent=41))
    assert verdict.idle
    assert [(r.criterion, r.value, r.idle) for r in verdict.readings] == [
        (Criterion.CPU, 3.2, True),
        (Criterion.RAM, 41, True),
    ]
    assert verdict.active_readings == ()


def test_one_criterion_above_is_active() -> None:
    """CPU at the threshold is not below it: active, and that is the reason."""
    verdict = evaluate(Rule(), Sample(cpu_percent=50, ram_percent=10))
    assert not verdict.idle
    (reason,) = verdict.active_readings
    assert reason.criterion is Criterion.CPU
    assert reason.describe() == "cpu 50 % (threshold 50 %)"


def test_unread_value_counts_as_active() -> None:
    """A node WakeHub cannot read is never taken for idle."""
    verdict = evaluate(Rule(), Sample(cpu_percent=1.0))
    assert not verdict.idle
    (reason,) = verdict.active_readings
    assert (reason.criterion, reason.note) == (Criterion.RAM, Note.UNKNOWN)
    assert reason.describe() == "ram unknown"


def test_rule_without_criteria_is_never_idle() -> None:
    """Nothing enabled: nothing to base a shutdown on."""
    verdict = evaluate(Rule(cpu=False, ram=False), Sample(cpu_percent=0))
    assert not verdict.idle
    assert verdict.readings == ()


@pytest.mark.parametrize(
    ("rate", "idle", "note"),
    [
        (100.0, True, None),
        (5000.0, False, None),
        (Note.BASELINE, True, Note.BASELINE),
        (Note.COUNTER_RESET, True, Note.COUNTER_RESET),
        (Note.UNKNOWN, False, Note.UNKNOWN),
        (None, False, Note.UNKNOWN),
    ],
)
def test_network(rate: float | Note | None, idle: bool, note: Note | None) -> None:
    """Below the threshold is idle; a first sample or a reboot is not activity."""
    rule = Rule(cpu=False, ram=False, network=True, network_bytes_per_minute=1000)
    (reading,) = evaluate(rule, Sample(network_rate=rate)).readings
    assert (reading.idle, reading.note) == (idle, note)


def test_connections() -> None:
    """No established connection is idle; three are the reason it is active."""
    rule = Rule(cpu=False, ram=False, connections=True, ports=(445,))
    assert evaluate(rule, Sample(connections=0)).idle
    verdict = evaluate(rule, Sample(connections=3))
    assert not verdict.idle
    assert verdict.active_readings[0].describe() == "3 connections"
    assert evaluate(rule, Sample(connections=1)).readings[0].describe() == (
        "1 connection"
    )
    assert not evaluate(rule, Sample()).idle


@pytest.mark.parametrize(
    ("signal", "state", "active"),
    [
        (SESSIONS, "0", False),
        (SESSIONS, "2", True),
        (SESSIONS, "unavailable", None),
        (SESSIONS, None, None),
        (SESSIONS, "many", None),
        (POWER, "39.5", False),
        (POWER, "40.1", True),
        (TV, "playing", True),
        (TV, "paused", False),
        (TV, "unavailable", False),
        (TV, None, False),
        (BACKUP, "on", True),
        (BACKUP, "off", False),
        (BACKUP, None, False),
    ],
)
def test_entity_signals(
    signal: EntitySignal, state: str | None, active: bool | None
) -> None:
    """Each kind of Home Assistant signal, and what an unreadable state means."""
    assert signal.is_active(state) is active
    rule = Rule(cpu=False, ram=False, signals=(signal,))
    verdict = evaluate(rule, Sample(entities={signal.entity_id: state}))
    assert verdict.idle is (active is False)
    assert verdict.readings[0].entity_id == signal.entity_id


def test_entity_signal_keeps_jellyfin_up_while_other_criteria_idle() -> None:
    """While the signal says active, the node is active whatever else says."""
    rule = Rule(enabled=True, signals=(SESSIONS,))
    sample = Sample(cpu_percent=1, ram_percent=1, entities={SESSIONS.entity_id: "1"})
    verdict = evaluate(rule, sample)
    assert not verdict.idle
    (reason,) = verdict.active_readings
    assert reason.describe() == "sensor.jellyfin_active_sessions 1"
    assert reason.as_dict() == {
        "criterion": "entity",
        "idle": False,
        "value": "1",
        "threshold": 0.0,
        "entity_id": SESSIONS.entity_id,
    }


def test_reading_descriptions_and_attributes() -> None:
    """What the logbook and the sensor's attributes show."""
    rule = Rule(network=True, network_bytes_per_minute=1000, signals=(TV,))
    verdict = evaluate(
        rule,
        Sample(
            cpu_percent=12.25,
            ram_percent=30,
            network_rate=Note.BASELINE,
            entities={TV.entity_id: "idle"},
        ),
    )
    assert [r.describe() for r in verdict.readings] == [
        "cpu 12.2 % (threshold 50 %)",
        "ram 30 % (threshold 50 %)",
        "network baseline",
        "media_player.tv idle",
    ]
    assert verdict.readings[2].as_dict() == {
        "criterion": "network",
        "idle": True,
        "value": None,
        "threshold": 1000,
        "note": "baseline",
    }
    network = evaluate(rule, Sample(network_rate=512.0)).readings[2]
    assert network.describe() == "network 512 B/min (threshold 1000)"
