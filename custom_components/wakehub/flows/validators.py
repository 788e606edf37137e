"""One validator per form field, shared by every step that asks for it.

The config, options, reauth and reconfigure steps run what a user (or any
REST client of Home Assistant's flow API) typed through the same functions:
each returns the clean value or raises :class:`.errors.FieldError` with the
form error's translation key. A selector's own checks are not enough: a
number selector lets ``nan`` through, and a text selector takes a trailing
newline or 10 kB. :func:`validate` runs a step's table and raises one
:class:`.errors.InvalidInputError` for every refused field.

:func:`clean_options` checks a stored entry's options again when it loads
(see docs/design.md, "Bad input"): an option refused there is left out, so
an entry never fails to load because of one, and the caller raises a repair
issue that names it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
import ipaddress
import math
import re
import socket
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit

from custom_components.wakehub.channels.errors import (
    AuthenticationError,
    InvalidConfigError,
)
from custom_components.wakehub.channels.ssh import check_private_key
from custom_components.wakehub.const import (
    CONF_BROADCAST_ADDRESS,
    CONF_BROADCAST_PORT,
    CONF_EARLY_WAKE_STAGGER,
    CONF_HOST,
    CONF_MAC,
    CONF_MACHINE,
    CONF_NAME,
    CONF_NODES,
    CONF_PASSPHRASE,
    CONF_PORT,
    CONF_PRIVATE_KEY,
    CONF_PROBE_PORT,
    CONF_PROBE_PORTS,
    CONF_PROPOSAL_EXPIRY,
    CONF_READINESS,
    CONF_READINESS_PORTS,
    CONF_SCAN_INTERVAL,
    CONF_SETTLE_TIME,
    CONF_SHUTDOWN_TIMEOUT,
    CONF_START_TIMEOUT,
    CONF_STOP_TIMEOUT,
    CONF_URL,
    CONF_USERNAME,
    CONF_WOL_INTERFACE,
    MAX_PROPOSAL_EXPIRY_MINUTES,
    MIN_SCAN_INTERVAL,
    READINESS_CHECKS,
    STAGGER_MAX,
)
from custom_components.wakehub.core.errors import InvalidMacError
from custom_components.wakehub.core.ids import normalize_mac

from .errors import FieldError, InvalidInputError

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant

Validator = Callable[[Any], Any]

NAME_MAX_LENGTH: Final = 64
USERNAME_MAX_LENGTH: Final = 64
URL_MAX_LENGTH: Final = 2048
URL_SCHEMES: Final = ("http", "https")
# A step timeout, in the form's unit (minutes for a machine, else seconds).
TIMEOUT_MAX: Final = 3600
# A stored step timeout, always in seconds (a machine's form says 120 min).
STORED_TIMEOUT_MAX: Final = 120 * 60

_HOSTNAME_RE: Final = re.compile(
    r"(?=.{1,253}\Z)(?!-)[A-Za-z0-9-]{1,63}(?<!-)(\.(?!-)[A-Za-z0-9-]{1,63}(?<!-))*\.?"
)
_PORTS_RE: Final = re.compile(r"[\s,;]+")


def _clean_text(value: Any, max_length: int) -> str:
    """One line of printable text, at most ``max_length`` long; ``ValueError``."""
    if not isinstance(value, str):
        raise TypeError(value)
    text = value.strip()
    if not text or len(text) > max_length or not text.isprintable():
        raise ValueError(value)
    return text


def name(value: Any) -> str:
    """A machine's or a node's name: one printable line, 1 to 64 characters."""
    try:
        return _clean_text(value, NAME_MAX_LENGTH)
    except (TypeError, ValueError):
        raise FieldError("invalid_name") from None


def host(value: Any) -> str:
    """An IP address or an RFC 1123 host name, nothing around it."""
    if not isinstance(value, str) or value != value.strip() or not value:
        raise FieldError("invalid_host")
    try:
        ipaddress.ip_address(value)
    except ValueError:
        if not _HOSTNAME_RE.fullmatch(value):
            raise FieldError("invalid_host") from None
    return value


def _whole(value: Any, minimum: int, maximum: int) -> int:
    """A whole number from ``minimum`` to ``maximum``; ``ValueError`` otherwise.

    ``nan`` and ``inf`` are refused (a number selector lets ``nan`` through).
    """
    if isinstance(value, bool):
        raise TypeError(value)
    number = float(value)
    if not math.isfinite(number) or not number.is_integer():
        raise ValueError(value)
    if not minimum <= number <= maximum:
        raise ValueError(value)
    return int(number)


def optional(validator: Validator) -> Validator:
    """``validator``, with an empty value meaning "not set" (``None``)."""

    def check(value: Any) -> Any:
        if value is None or value == "":
            return None
        return validator(value)

    return check


def port(value: Any) -> int:
    """A TCP or UDP port."""
    try:
        return _whole(value, 1, 65535)
    except (TypeError, ValueError):
        raise FieldError("invalid_port") from None


def timeout(value: Any) -> int:
    """A start, stop or shutdown timeout, in the form's unit (min or s)."""
    try:
        return _whole(value, 1, TIMEOUT_MAX)
    except (TypeError, ValueError):
        raise FieldError("invalid_number") from None


def settle_time(value: Any) -> int:
    """A guest's settle time (seconds)."""
    try:
        return _whole(value, 0, TIMEOUT_MAX)
    except (TypeError, ValueError):
        raise FieldError("invalid_number") from None


def stagger(value: Any) -> int:
    """A machine's early-wake stagger (seconds)."""
    try:
        return _whole(value, 0, STAGGER_MAX)
    except (TypeError, ValueError):
        raise FieldError("invalid_number") from None


def scan_interval(value: Any) -> int:
    """The polling interval (seconds)."""
    try:
        return _whole(value, int(MIN_SCAN_INTERVAL.total_seconds()), 3600)
    except (TypeError, ValueError):
        raise FieldError("invalid_number") from None


def proposal_expiry(value: Any) -> int:
    """How long a shutdown proposal waits (minutes)."""
    try:
        return _whole(value, 1, MAX_PROPOSAL_EXPIRY_MINUTES)
    except (TypeError, ValueError):
        raise FieldError("invalid_number") from None


def username(value: Any) -> str:
    """An account name: 1 to 64 printable characters, no space."""
    try:
        text = _clean_text(value, USERNAME_MAX_LENGTH)
    except (TypeError, ValueError):
        text = ""
    if not text or any(char.isspace() for char in text):
        raise FieldError("invalid_username")
    return text


def mac(value: Any) -> str:
    """A MAC address, normalised (``aa:bb:cc:dd:ee:ff``)."""
    if not isinstance(value, str):
        raise FieldError("invalid_mac")
    try:
        return normalize_mac(value)
    except InvalidMacError:
        raise FieldError("invalid_mac") from None


def url(value: Any) -> str | None:
    """A service URL: ``http`` or ``https``, with a host; empty means none.

    Anything else (no scheme, ``javascript:``) is refused: the dashboard
    card and the device page open it.
    """
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > URL_MAX_LENGTH:
        raise FieldError("invalid_url")
    if not value.isprintable() or any(char.isspace() for char in value):
        raise FieldError("invalid_url")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018  # raises ValueError for a bad port
    except (TypeError, ValueError):
        raise FieldError("invalid_url") from None
    if parts.scheme not in URL_SCHEMES or not parts.hostname:
        raise FieldError("invalid_url")
    return value


def _port_list(value: Any) -> list[int]:
    """``"8096, 2049"`` (or a stored list) as distinct ports; ``ValueError``."""
    if isinstance(value, (list, tuple)):
        parts: list[Any] = list(value)
    elif isinstance(value, str):
        parts = [part for part in _PORTS_RE.split(value.strip()) if part]
    elif value is None:
        parts = []
    else:
        raise TypeError(value)
    return list(dict.fromkeys(_whole(part, 1, 65535) for part in parts))


def probe_ports(value: Any) -> list[int]:
    """A machine's more probe ports."""
    try:
        return _port_list(value)
    except (TypeError, ValueError):
        raise FieldError("invalid_probe_ports") from None


def readiness_ports(value: Any) -> list[int]:
    """A guest's service ports (the TCP readiness check)."""
    try:
        return _port_list(value)
    except (TypeError, ValueError):
        raise FieldError("invalid_ports") from None


def wol_interface(value: Any) -> str | None:
    """An IPv4 address of this Home Assistant host to send Wake-on-LAN from.

    Binding a UDP socket to it is what the Wake-on-LAN library does with its
    ``interface``: it fails when the address is not one of ours.
    """
    text = str(value or "").strip()
    if not text:
        return None
    try:
        if ipaddress.ip_address(text).version != 4:
            raise FieldError("invalid_interface")
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.bind((text, 0))
    except (ValueError, OSError):
        raise FieldError("invalid_interface") from None
    return text


async def async_private_key(
    hass: HomeAssistant, private_key: str | None, passphrase: str | None
) -> None:
    """Refuse a private key that is no key, or that its passphrase does not open.

    Read in the executor (decrypting a key is slow). No key is fine: the
    caller asks for a password or a key.
    """
    if not private_key:
        return
    try:
        await hass.async_add_executor_job(
            check_private_key, private_key, passphrase or None
        )
    except InvalidConfigError:
        raise InvalidInputError({CONF_PRIVATE_KEY: "invalid_private_key"}) from None
    except AuthenticationError:
        raise InvalidInputError({CONF_PASSPHRASE: "invalid_passphrase"}) from None


def validate(
    user_input: Mapping[str, Any], validators: Mapping[str, Validator]
) -> dict[str, Any]:
    """``user_input`` with each field of ``validators`` it holds made clean.

    Raise :class:`.errors.InvalidInputError` naming every refused field.
    """
    cleaned = dict(user_input)
    errors: dict[str, str] = {}
    for field, validator in validators.items():
        if field not in user_input:
            continue
        try:
            cleaned[field] = validator(user_input[field])
        except FieldError as err:
            errors[field] = err.key
    if errors:
        raise InvalidInputError(errors)
    return cleaned


# The fields of each form, with their one validator.
MACHINE_FIELDS: Final[Mapping[str, Validator]] = {
    CONF_NAME: name,
    CONF_HOST: host,
    CONF_MAC: mac,
    CONF_BROADCAST_ADDRESS: host,
    CONF_BROADCAST_PORT: port,
    CONF_PROBE_PORT: port,
}
RECONFIGURE_FIELDS: Final[Mapping[str, Validator]] = {
    CONF_HOST: host,
    CONF_BROADCAST_ADDRESS: host,
    CONF_BROADCAST_PORT: port,
    CONF_PROBE_PORT: port,
    CONF_PORT: port,
}
SSH_FIELDS: Final[Mapping[str, Validator]] = {CONF_USERNAME: username, CONF_PORT: port}
API_FIELDS: Final[Mapping[str, Validator]] = {
    CONF_HOST: host,
    CONF_PORT: port,
    CONF_USERNAME: username,
}
"""The Proxmox VE and Docker API forms (the account of the password form and
of Docker through a guest's SSH)."""
NODE_FIELDS: Final[Mapping[str, Validator]] = {
    CONF_NAME: name,
    CONF_URL: url,
    CONF_START_TIMEOUT: timeout,
    CONF_STOP_TIMEOUT: timeout,
    CONF_PROBE_PORTS: probe_ports,
    CONF_WOL_INTERFACE: wol_interface,
    CONF_READINESS_PORTS: readiness_ports,
    CONF_SETTLE_TIME: settle_time,
    CONF_SHUTDOWN_TIMEOUT: optional(timeout),
    CONF_EARLY_WAKE_STAGGER: stagger,
}
POLLING_FIELDS: Final[Mapping[str, Validator]] = {
    CONF_SCAN_INTERVAL: scan_interval,
    CONF_PROPOSAL_EXPIRY: proposal_expiry,
}


# ---------------------------------------------------------------- at load


def _readiness(value: Any) -> str:
    if value not in READINESS_CHECKS:
        raise FieldError("invalid_readiness")
    return str(value)


def _stored_timeout(value: Any) -> int:
    """A stored timeout, in seconds."""
    try:
        return _whole(value, 1, STORED_TIMEOUT_MAX)
    except (TypeError, ValueError):
        raise FieldError("invalid_number") from None


# A stored node's settings: what each holds, and what it falls back to.
_STORED_NODE: Final[Mapping[str, tuple[Validator, Any]]] = {
    CONF_NAME: (name, None),
    CONF_URL: (url, None),
    CONF_START_TIMEOUT: (_stored_timeout, None),
    CONF_STOP_TIMEOUT: (_stored_timeout, None),
    CONF_SETTLE_TIME: (settle_time, None),
    CONF_SHUTDOWN_TIMEOUT: (_stored_timeout, None),
    CONF_READINESS: (_readiness, None),
    CONF_READINESS_PORTS: (readiness_ports, []),
    CONF_PROBE_PORTS: (probe_ports, []),
    CONF_EARLY_WAKE_STAGGER: (stagger, 0),
}
_STORED_GLOBAL: Final[Mapping[str, Validator]] = POLLING_FIELDS


@dataclass(frozen=True, slots=True)
class RefusedOption:
    """A stored option the validators refuse: left out at load."""

    node: str | None
    """The node id (``machine`` for the machine), or None for a global option."""
    option: str
    value: Any


def clean_options(
    options: Mapping[str, Any],
) -> tuple[dict[str, Any], list[RefusedOption]]:
    """The options with each refused value left out, and what was refused.

    A refused node setting falls back to its default (``None``: the node's
    key as its name, no URL, the kind's timeouts); a refused global option
    is removed (its default applies). Unset values (``None``) are fine.
    """
    cleaned = dict(options)
    refused: list[RefusedOption] = []

    def clean_node(node_id: str, node: Mapping[str, Any]) -> dict[str, Any]:
        settings = dict(node)
        for option, (validator, fallback) in _STORED_NODE.items():
            value = settings.get(option)
            if value is None:
                continue
            try:
                validator(value)
            except FieldError:
                refused.append(RefusedOption(node_id, option, value))
                settings[option] = fallback
        return settings

    for option, validator in _STORED_GLOBAL.items():
        if (value := cleaned.get(option)) is None:
            continue
        try:
            validator(value)
        except FieldError:
            refused.append(RefusedOption(None, option, value))
            del cleaned[option]
    if isinstance(machine := cleaned.get(CONF_MACHINE), Mapping):
        cleaned[CONF_MACHINE] = clean_node(CONF_MACHINE, machine)
    if isinstance(nodes := cleaned.get(CONF_NODES), Mapping):
        cleaned[CONF_NODES] = {
            node_id: clean_node(node_id, node) if isinstance(node, Mapping) else node
            for node_id, node in nodes.items()
        }
    return cleaned, refused
