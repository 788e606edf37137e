"""An inactivity rule and the evaluation of one sample against it.

A rule is per node and off by default. Each criterion can be enabled on its
own, with its threshold; a sample is idle when every enabled criterion says
idle. Nothing here imports Home Assistant: the integration turns states and
channel reads into a :class:`Sample` and hands it to :func:`evaluate`.

Readings that cannot be taken (a failed SSH command, a missing field) count as
*active*: a node WakeHub cannot see is never shut down for being idle. The
network criterion is the exception for its first sample and after a counter
went back (the node rebooted): there is no rate to compare then, and a reboot
is not activity, so the criterion says idle.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from collections.abc import Mapping

DEFAULT_MINUTES: Final = 30
DEFAULT_CPU_PERCENT: Final = 50.0
DEFAULT_RAM_PERCENT: Final = 50.0
DEFAULT_NETWORK_BYTES_PER_MINUTE: Final = 1_048_576
MIN_MINUTES: Final = 1
MAX_MINUTES: Final = 24 * 60


class Criterion(StrEnum):
    """What a reading measures."""

    CPU = "cpu"
    RAM = "ram"
    NETWORK = "network"
    CONNECTIONS = "connections"
    ENTITY = "entity"


class SignalKind(StrEnum):
    """How a Home Assistant entity says "in use"."""

    ABOVE = "above"
    """A numeric state above a threshold (active sessions > 0, power > N W)."""
    PLAYING = "playing"
    """A media player that plays."""
    STATE = "state"
    """Any entity in a given state."""


class Note(StrEnum):
    """Why a reading has no plain value."""

    UNKNOWN = "unknown"
    """The value could not be read: counted as active."""
    BASELINE = "baseline"
    """First counter sample: no rate yet, not activity."""
    COUNTER_RESET = "counter_reset"
    """A counter went back (a reboot): not activity."""


UNAVAILABLE_STATES: Final = frozenset({"unavailable", "unknown", ""})


@dataclass(frozen=True, slots=True, kw_only=True)
class EntitySignal:
    """A Home Assistant entity that, while it says so, keeps the node active."""

    entity_id: str
    kind: SignalKind
    threshold: float = 0.0
    """For :attr:`SignalKind.ABOVE`: active when the state is above it."""
    state: str = ""
    """For :attr:`SignalKind.STATE`: active when the entity is in it."""

    def is_active(self, value: str | None) -> bool | None:
        """Return whether ``value`` (the entity's state) says active.

        A missing or unavailable media player is not playing, and an entity
        that is missing is not in the given state. For :attr:`SignalKind.ABOVE`
        a state that is not a number is ``None`` (unknown, counted as active).
        """
        if self.kind is SignalKind.PLAYING:
            return value == "playing"
        if self.kind is SignalKind.STATE:
            return value == self.state
        if value is None or value in UNAVAILABLE_STATES:
            return None
        try:
            return float(value) > self.threshold
        except ValueError:
            return None

    def as_dict(self) -> dict[str, Any]:
        """Return the signal as stored in an entry's options."""
        data: dict[str, Any] = {"entity_id": self.entity_id, "kind": str(self.kind)}
        if self.kind is SignalKind.ABOVE:
            data["threshold"] = self.threshold
        elif self.kind is SignalKind.STATE:
            data["state"] = self.state
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EntitySignal:
        """Build a signal from :meth:`as_dict`'s output."""
        return cls(
            entity_id=str(data["entity_id"]),
            kind=SignalKind(data.get("kind", SignalKind.ABOVE)),
            threshold=float(data.get("threshold", 0.0)),
            state=str(data.get("state", "")),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Rule:
    """A node's inactivity rule: its period and its enabled criteria.

    ``ports`` restricts the connections criterion to those local ports; empty
    means any port.
    """

    enabled: bool = False
    minutes: int = DEFAULT_MINUTES
    cpu: bool = True
    cpu_percent: float = DEFAULT_CPU_PERCENT
    ram: bool = True
    ram_percent: float = DEFAULT_RAM_PERCENT
    network: bool = False
    network_bytes_per_minute: float = DEFAULT_NETWORK_BYTES_PER_MINUTE
    connections: bool = False
    ports: tuple[int, ...] = ()
    signals: tuple[EntitySignal, ...] = ()

    def __post_init__(self) -> None:
        """Refuse values no option form would produce."""
        if not MIN_MINUTES <= self.minutes <= MAX_MINUTES:
            raise ValueError(f"minutes must be {MIN_MINUTES}-{MAX_MINUTES}")
        for percent in (self.cpu_percent, self.ram_percent):
            if not 0 <= percent <= 100:
                raise ValueError("a percentage must be 0-100")
        if self.network_bytes_per_minute < 0:
            raise ValueError("the network threshold must not be negative")
        if any(not 0 < port < 65536 for port in self.ports):
            raise ValueError("a port must be 1-65535")

    @property
    def period_s(self) -> float:
        """The idle period, in seconds."""
        return self.minutes * 60.0

    @property
    def criteria(self) -> tuple[Criterion, ...]:
        """The enabled criteria, in display order."""
        enabled = (
            (Criterion.CPU, self.cpu),
            (Criterion.RAM, self.ram),
            (Criterion.NETWORK, self.network),
            (Criterion.CONNECTIONS, self.connections),
            (Criterion.ENTITY, bool(self.signals)),
        )
        return tuple(criterion for criterion, on in enabled if on)

    def as_dict(self) -> dict[str, Any]:
        """Return the rule as stored in an entry's options."""
        return {
            "enabled": self.enabled,
            "minutes": self.minutes,
            "cpu": self.cpu,
            "cpu_percent": self.cpu_percent,
            "ram": self.ram,
            "ram_percent": self.ram_percent,
            "network": self.network,
            "network_bytes_per_minute": self.network_bytes_per_minute,
            "connections": self.connections,
            "ports": list(self.ports),
            "signals": [signal.as_dict() for signal in self.signals],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> Rule:
        """Build a rule from :meth:`as_dict`'s output; missing keys default."""
        if not data:
            return cls()
        defaults = cls()
        return cls(
            enabled=bool(data.get("enabled", defaults.enabled)),
            minutes=int(data.get("minutes", defaults.minutes)),
            cpu=bool(data.get("cpu", defaults.cpu)),
            cpu_percent=float(data.get("cpu_percent", defaults.cpu_percent)),
            ram=bool(data.get("ram", defaults.ram)),
            ram_percent=float(data.get("ram_percent", defaults.ram_percent)),
            network=bool(data.get("network", defaults.network)),
            network_bytes_per_minute=float(
                data.get("network_bytes_per_minute", defaults.network_bytes_per_minute)
            ),
            connections=bool(data.get("connections", defaults.connections)),
            ports=tuple(int(port) for port in data.get("ports", ())),
            signals=tuple(
                EntitySignal.from_dict(signal) for signal in data.get("signals", ())
            ),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Sample:
    """What was read about a node at one moment.

    ``cpu_percent`` and ``ram_percent`` are 0-100. ``network_rate`` is bytes
    per minute (see :class:`~.counters.CounterRate`), or a :class:`Note` when
    there is no rate. ``connections`` counts the established connections on
    the rule's ports. ``entities`` maps each signal's entity id to its state.
    ``None`` anywhere means "not read".
    """

    cpu_percent: float | None = None
    ram_percent: float | None = None
    network_rate: float | Note | None = None
    connections: int | None = None
    entities: Mapping[str, str | None] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class Reading:
    """One criterion's value in a sample, and what it says."""

    criterion: Criterion
    idle: bool
    value: float | int | str | None
    threshold: float | str | None = None
    note: Note | None = None
    entity_id: str | None = None

    def describe(self) -> str:
        """Return a short English text for logs and the logbook."""
        name = self.entity_id or str(self.criterion)
        if self.note is not None:
            return f"{name} {self.note}"
        value = _format(self.value)
        if self.criterion is Criterion.CONNECTIONS:
            return f"{value} connection{'s' if self.value != 1 else ''}"
        if self.criterion in (Criterion.CPU, Criterion.RAM):
            return f"{name} {value} % (threshold {_format(self.threshold)} %)"
        if self.criterion is Criterion.NETWORK:
            return f"network {value} B/min (threshold {_format(self.threshold)})"
        return f"{name} {value}"

    def as_dict(self) -> dict[str, Any]:
        """Return the reading for attributes, events and diagnostics."""
        data: dict[str, Any] = {
            "criterion": str(self.criterion),
            "idle": self.idle,
            "value": self.value,
        }
        if self.threshold is not None:
            data["threshold"] = self.threshold
        if self.note is not None:
            data["note"] = str(self.note)
        if self.entity_id is not None:
            data["entity_id"] = self.entity_id
        return data


def _format(value: float | str | None) -> str:
    if isinstance(value, float):
        return f"{value:.1f}".removesuffix(".0")
    return str(value)


@dataclass(frozen=True, slots=True)
class Verdict:
    """Whether a sample is idle, and each enabled criterion's reading."""

    idle: bool
    readings: tuple[Reading, ...]

    @property
    def active_readings(self) -> tuple[Reading, ...]:
        """The readings that say active (why the sample is not idle)."""
        return tuple(reading for reading in self.readings if not reading.idle)


def _below(criterion: Criterion, value: float | None, threshold: float) -> Reading:
    if value is None:
        return Reading(
            criterion=criterion,
            idle=False,
            value=None,
            threshold=threshold,
            note=Note.UNKNOWN,
        )
    return Reading(
        criterion=criterion, idle=value < threshold, value=value, threshold=threshold
    )


def evaluate(rule: Rule, sample: Sample) -> Verdict:
    """Evaluate ``sample`` against every criterion ``rule`` enables.

    A rule with no enabled criterion never says idle: there would be nothing
    to base a shutdown on.
    """
    readings: list[Reading] = []
    if rule.cpu:
        readings.append(_below(Criterion.CPU, sample.cpu_percent, rule.cpu_percent))
    if rule.ram:
        readings.append(_below(Criterion.RAM, sample.ram_percent, rule.ram_percent))
    if rule.network:
        rate = sample.network_rate
        if isinstance(rate, Note):
            readings.append(
                Reading(
                    criterion=Criterion.NETWORK,
                    idle=rate is not Note.UNKNOWN,
                    value=None,
                    threshold=rule.network_bytes_per_minute,
                    note=rate,
                )
            )
        else:
            readings.append(
                _below(Criterion.NETWORK, rate, rule.network_bytes_per_minute)
            )
    if rule.connections:
        count = sample.connections
        readings.append(
            Reading(
                criterion=Criterion.CONNECTIONS,
                idle=count == 0,
                value=count,
                threshold=0,
                note=Note.UNKNOWN if count is None else None,
            )
        )
    for signal in rule.signals:
        state = sample.entities.get(signal.entity_id)
        active = signal.is_active(state)
        readings.append(
            Reading(
                criterion=Criterion.ENTITY,
                idle=active is False,
                value=state,
                threshold=(
                    signal.threshold
                    if signal.kind is SignalKind.ABOVE
                    else signal.state or str(signal.kind)
                ),
                note=Note.UNKNOWN if active is None else None,
                entity_id=signal.entity_id,
            )
        )
    return Verdict(
        idle=bool(readings) and all(reading.idle for reading in readings),
        readings=tuple(readings),
    )
