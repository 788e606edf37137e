"""The options step "Inactivity": one node's rule (docs/configuration.md).

Mixed into the options flow: pick the machine or a managed node, then edit
its :class:`~custom_components.wakehub.inactivity.Rule`, pre-filled with the
stored rule or the defaults. What each kind offers follows where its figures
come from (docs/data-updates.md, "Inactivity"): network traffic for guests and
containers (Proxmox and Docker counters), established connections for the
machine (over its SSH connection). Home Assistant entities are signals for
every kind; their kind follows their domain: a media player is active while
it plays, a sensor or a number above the threshold, anything else while it is
``on``. A signal already stored keeps its own settings.
"""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING, Any, Final

from homeassistant.helpers.selector import (
    BooleanSelector,
    EntitySelector,
    EntitySelectorConfig,
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    TextSelector,
)

from custom_components.wakehub.compat import vol
from custom_components.wakehub.const import (
    CONF_INACTIVITY,
    CONF_KIND,
    CONF_MACHINE,
    CONF_NAME,
    CONF_NODE,
    CONF_NODES,
)
from custom_components.wakehub.inactivity import EntitySignal, Rule, SignalKind

from .errors import FieldError, InvalidInputError

if TYPE_CHECKING:
    from homeassistant.config_entries import ConfigFlowResult

    from .options_base import OptionsBase

    _Base = OptionsBase
else:
    _Base = object

CONF_ENABLED: Final = "enabled"
CONF_MINUTES: Final = "minutes"
CONF_CPU: Final = "cpu"
CONF_CPU_PERCENT: Final = "cpu_percent"
CONF_RAM: Final = "ram"
CONF_RAM_PERCENT: Final = "ram_percent"
CONF_NETWORK: Final = "network"
CONF_NETWORK_KIB: Final = "network_kib_per_minute"
CONF_CONNECTIONS: Final = "connections"
CONF_PORTS: Final = "ports"
CONF_ENTITIES: Final = "entities"
CONF_ENTITY_THRESHOLD: Final = "entity_threshold"

MACHINE: Final = CONF_MACHINE
"""The value that picks the machine itself (its settings are the entry's)."""
NUMERIC_DOMAINS: Final = frozenset({"sensor", "number", "input_number"})
MAX_MINUTES: Final = 24 * 60
MAX_KIB_PER_MINUTE: Final = 10**9
_PORTS_RE: Final = re.compile(r"[\s,;]+")
_BOOL = BooleanSelector()


def _number(value: Any, minimum: float, maximum: float, *, whole: bool) -> float:
    """A finite number in range (``nan`` refused); ``FieldError`` otherwise."""
    if isinstance(value, bool):
        raise FieldError("invalid_number")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise FieldError("invalid_number") from None
    if not math.isfinite(number) or not minimum <= number <= maximum:
        raise FieldError("invalid_number")
    if whole and not number.is_integer():
        raise FieldError("invalid_number")
    return number


def _ports(value: Any) -> tuple[int, ...]:
    """``"445, 2049"`` as distinct ports (empty: any port)."""
    if not isinstance(value, str):
        raise FieldError("invalid_ports")
    ports: list[int] = []
    for part in _PORTS_RE.split(value.strip()):
        if not part:
            continue
        if not part.isdigit() or not 0 < int(part) < 65536:
            raise FieldError("invalid_ports")
        ports.append(int(part))
    return tuple(dict.fromkeys(ports))


def _signal(
    entity_id: str, threshold: float, stored: EntitySignal | None
) -> EntitySignal:
    """The signal of a chosen entity: its stored one, else one by its domain."""
    domain = entity_id.partition(".")[0]
    if stored is not None:
        if stored.kind is SignalKind.ABOVE:
            return EntitySignal(
                entity_id=entity_id, kind=SignalKind.ABOVE, threshold=threshold
            )
        return stored
    if domain == "media_player":
        return EntitySignal(entity_id=entity_id, kind=SignalKind.PLAYING)
    if domain in NUMERIC_DOMAINS:
        return EntitySignal(
            entity_id=entity_id, kind=SignalKind.ABOVE, threshold=threshold
        )
    return EntitySignal(entity_id=entity_id, kind=SignalKind.STATE, state="on")


def rule_from_form(user_input: dict[str, Any], kind: str, stored: Rule) -> Rule:
    """The rule a submitted form describes; ``InvalidInputError`` names each bad field."""
    errors: dict[str, str] = {}

    def field(name: str, check: Any, default: Any) -> Any:
        if name not in user_input:
            return default
        try:
            return check(user_input[name])
        except FieldError as err:
            errors[name] = err.key
            return default

    minutes = field(
        CONF_MINUTES,
        lambda v: int(_number(v, 1, MAX_MINUTES, whole=True)),
        stored.minutes,
    )
    cpu_percent = field(
        CONF_CPU_PERCENT, lambda v: _number(v, 1, 100, whole=False), stored.cpu_percent
    )
    ram_percent = field(
        CONF_RAM_PERCENT, lambda v: _number(v, 1, 100, whole=False), stored.ram_percent
    )
    kib = field(
        CONF_NETWORK_KIB,
        lambda v: _number(v, 0, MAX_KIB_PER_MINUTE, whole=False),
        stored.network_bytes_per_minute / 1024,
    )
    ports = field(CONF_PORTS, _ports, stored.ports)
    threshold = field(
        CONF_ENTITY_THRESHOLD,
        lambda v: _number(v, -1e12, 1e12, whole=False),
        0.0,
    )
    if errors:
        raise InvalidInputError(errors)
    stored_signals = {signal.entity_id: signal for signal in stored.signals}
    entities = list(dict.fromkeys(user_input.get(CONF_ENTITIES) or []))
    guest_or_container = kind != MACHINE
    return Rule(
        enabled=bool(user_input.get(CONF_ENABLED, False)),
        minutes=minutes,
        cpu=bool(user_input.get(CONF_CPU, stored.cpu)),
        cpu_percent=cpu_percent,
        ram=bool(user_input.get(CONF_RAM, stored.ram)),
        ram_percent=ram_percent,
        network=guest_or_container and bool(user_input.get(CONF_NETWORK, False)),
        network_bytes_per_minute=kib * 1024,
        connections=not guest_or_container
        and bool(user_input.get(CONF_CONNECTIONS, False)),
        ports=ports,
        signals=tuple(
            _signal(entity_id, threshold, stored_signals.get(entity_id))
            for entity_id in entities
        ),
    )


def rule_schema(kind: str, rule: Rule) -> vol.Schema:
    """The form, pre-filled with ``rule`` (the stored one, or the defaults)."""
    percent = NumberSelector(
        NumberSelectorConfig(
            min=1, max=100, step=1, mode=NumberSelectorMode.BOX, unit_of_measurement="%"
        )
    )
    above = next((s.threshold for s in rule.signals if s.kind is SignalKind.ABOVE), 0.0)
    fields: dict[Any, Any] = {
        vol.Required(CONF_ENABLED, default=rule.enabled): _BOOL,
        vol.Required(CONF_MINUTES, default=rule.minutes): NumberSelector(
            NumberSelectorConfig(
                min=1,
                max=MAX_MINUTES,
                step=1,
                mode=NumberSelectorMode.BOX,
                unit_of_measurement="min",
            )
        ),
        vol.Required(CONF_CPU, default=rule.cpu): _BOOL,
        vol.Required(CONF_CPU_PERCENT, default=rule.cpu_percent): percent,
        vol.Required(CONF_RAM, default=rule.ram): _BOOL,
        vol.Required(CONF_RAM_PERCENT, default=rule.ram_percent): percent,
    }
    if kind == MACHINE:
        fields[vol.Required(CONF_CONNECTIONS, default=rule.connections)] = _BOOL
        fields[
            vol.Optional(
                CONF_PORTS, default=", ".join(str(port) for port in rule.ports)
            )
        ] = TextSelector()
    else:
        fields[vol.Required(CONF_NETWORK, default=rule.network)] = _BOOL
        fields[
            vol.Required(
                CONF_NETWORK_KIB, default=round(rule.network_bytes_per_minute / 1024)
            )
        ] = NumberSelector(
            NumberSelectorConfig(
                min=0,
                max=MAX_KIB_PER_MINUTE,
                step=1,
                mode=NumberSelectorMode.BOX,
                unit_of_measurement="KiB/min",
            )
        )
    fields[
        vol.Optional(
            CONF_ENTITIES, default=[signal.entity_id for signal in rule.signals]
        )
    ] = EntitySelector(EntitySelectorConfig(multiple=True))
    fields[vol.Required(CONF_ENTITY_THRESHOLD, default=above)] = NumberSelector(
        NumberSelectorConfig(mode=NumberSelectorMode.BOX, step="any")
    )
    return vol.Schema(fields)


class InactivityOptionsMixin(_Base):
    """The options flow's "Inactivity" steps (the flow holds the options)."""

    _options: dict[str, Any]
    _node_id: str

    if TYPE_CHECKING:

        def _async_save_validated(self, node: str | None) -> ConfigFlowResult:
            """Save the options, clearing the node's option issues."""

    async def async_step_inactivity(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Pick the machine or one managed node, whose rule to edit."""
        if user_input is not None:
            self._node_id = user_input[CONF_NODE]
            return await self.async_step_inactivity_rule()
        return self.async_show_form(
            step_id="inactivity",
            data_schema=self._node_picker(self._managed_choices()),
        )

    async def async_step_inactivity_rule(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """The node's rule, pre-filled; saved with every other option kept."""
        if self._node_id == MACHINE:
            kind, node = MACHINE, dict(self._options.get(CONF_MACHINE) or {})
            name = self.config_entry.title
        else:
            node = dict(self._options[CONF_NODES][self._node_id])
            kind, name = str(node[CONF_KIND]), str(node[CONF_NAME])
        try:
            stored = Rule.from_dict(node.get(CONF_INACTIVITY))
        except (TypeError, ValueError, KeyError):
            stored = Rule()
        errors: dict[str, str] = {}
        rule = stored
        if user_input is not None:
            try:
                rule = rule_from_form(user_input, kind, stored)
            except InvalidInputError as err:
                errors = err.errors
            else:
                node[CONF_INACTIVITY] = rule.as_dict()
                if kind == MACHINE:
                    self._options[CONF_MACHINE] = node
                else:
                    self._options[CONF_NODES] = {
                        **self._options[CONF_NODES],
                        self._node_id: node,
                    }
                return self._async_save_validated(self._node_id)
        return self.async_show_form(
            step_id="inactivity_rule",
            data_schema=self.add_suggested_values_to_schema(
                rule_schema(kind, rule), user_input or {}
            ),
            errors=errors,
            description_placeholders={"node": name},
        )
