"""Config flow and options flow for WakeHub.

One config entry describes one physical machine; its ``unique_id`` is the
normalised MAC. The entry's ``data`` and ``options`` follow exactly the layout
documented in :mod:`.const`.

Config flow::

    user ──(probe answers)──────────────────────────────► ssh
      └─(no answer)─► powered_off ─┬─ wake ─(progress)──► ssh
                                   │    └─(timeout)─► wake_failed (same menu)
                                   └─ save_untested ───► ssh ──► entry
    ssh ──► ssh_host_key (confirm the fingerprint, pin it, test the login)
        ──► capabilities ─┬─ proxmox ─┬─ proxmox_token ──┐
                          │           └─ proxmox_password ┴► (proxmox_trust) ┐
                          │   (trust: the node certificate is confirmed, then
                          │    the cluster CA it chains to is pinned)        │
                          ├─ docker ─► docker_tcp | docker_tls | docker_unix |
                          │            docker_ssh ────────────────────────────┤
                          └─ finish ─► services (multi-select) ─► entry ◄─────┘

Every connection test runs against the real services through the channels;
each library error maps to a field or form error, with a last
``except Exception`` mapped to ``unknown``.

The Proxmox VE node is the one the API itself says it is
(``/cluster/status``, cross-checked with the machine's address), never the
first of ``GET /nodes``, which lists every member of a cluster. Reauth
reviews a changed SSH host key and a changed Proxmox certificate (or CA)
before asking for secrets.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
import hashlib
import ipaddress
import logging
import time
from typing import TYPE_CHECKING, Any, Final

from homeassistant.components import network
from homeassistant.config_entries import (
    SOURCE_RECONFIGURE,
    ConfigEntry,
    ConfigEntryState,
    ConfigFlow,
    ConfigFlowResult,
    OptionsFlow,
)
from homeassistant.core import callback
from homeassistant.helpers.selector import (
    BooleanSelector,
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    SelectOptionDict,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
    TextSelector,
    TextSelectorConfig,
    TextSelectorType,
)

from .channels.base import ChildInfo, ChildKind
from .channels.docker import DockerHost
from .channels.errors import (
    AuthenticationError,
    ChannelError,
    DockerSocketPermissionError,
    HostKeyMismatchError,
    InvalidConfigError,
    NodeIdentityError,
    PermissionDeniedError,
    ShutdownNotAllowedError,
    TlsVerificationError,
)
from .channels.probe import probe
from .channels.proxmox import (
    REQUIRED_GUEST_PRIVILEGES,
    ProxmoxHost,
    certificate_fingerprint,
    fetch_certificate,
    fetch_certificate_fingerprint,
    issued_by,
    normalize_fingerprint,
)
from .channels.ssh import ShutdownCommand, SshChannel, fetch_host_key, parse_host_key
from .compat import DhcpServiceInfo, vol
from .const import (
    CONF_BROADCAST_ADDRESS,
    CONF_BROADCAST_PORT,
    CONF_CA,
    CONF_CERT,
    CONF_CONFIRM_SHUTDOWN,
    CONF_DEPENDENCIES,
    CONF_DOCKER,
    CONF_FINGERPRINT,
    CONF_FORCE_STOP,
    CONF_FORCED_COMMAND,
    CONF_HOST,
    CONF_HOST_KEY,
    CONF_KEY,
    CONF_KIND,
    CONF_MAC,
    CONF_MACHINE,
    CONF_MODE,
    CONF_NAME,
    CONF_NODE,
    CONF_NODES,
    CONF_PARENT,
    CONF_PASSPHRASE,
    CONF_PASSWORD,
    CONF_PINNED,
    CONF_PORT,
    CONF_PRIVATE_KEY,
    CONF_PROBE_PORT,
    CONF_PROBE_PORTS,
    CONF_PROPOSAL_EXPIRY,
    CONF_PROXMOX,
    CONF_READINESS,
    CONF_READINESS_PORTS,
    CONF_REALM,
    CONF_SCAN_INTERVAL,
    CONF_SETTLE_TIME,
    CONF_SHUTDOWN_COMMAND,
    CONF_SHUTDOWN_TIMEOUT,
    CONF_SOCKET_PATH,
    CONF_SSH,
    CONF_START_TIMEOUT,
    CONF_STOP_TIMEOUT,
    CONF_TOKEN_NAME,
    CONF_TOKEN_USER,
    CONF_TOKEN_VALUE,
    CONF_URL,
    CONF_USE_SUDO,
    CONF_USERNAME,
    CONF_VERIFY_AT_BOOT,
    CONF_VERIFY_TLS,
    CONF_WOL_INTERFACE,
    DEFAULT_BROADCAST_ADDRESS,
    DEFAULT_BROADCAST_PORT,
    DEFAULT_DOCKER_PORT,
    DEFAULT_DOCKER_SOCKET,
    DEFAULT_DOCKER_TLS_PORT,
    DEFAULT_PROPOSAL_EXPIRY,
    DEFAULT_PROXMOX_PORT,
    DEFAULT_REALM,
    DEFAULT_SCAN_INTERVAL,
    DEFAULT_SSH_PORT,
    DEFAULT_START_TIMEOUTS,
    DEFAULT_STOP_TIMEOUTS,
    DOCKER_MODE_SSH,
    DOCKER_MODE_TCP,
    DOCKER_MODE_TLS,
    DOCKER_MODE_UNIX,
    DOCKER_MODES,
    DOMAIN,
    MAX_PROPOSAL_EXPIRY_MINUTES,
    MIN_SCAN_INTERVAL,
    PROXMOX_ROLE_PRIVILEGES,
    READINESS_CHECKS,
)
from .core.errors import DependencyCycleError
from .core.ids import machine_id, normalize_mac
from .entry_channels import (
    child_node_id,
    docker_config,
    proxmox_config,
    ssh_config,
    wake_on_lan,
)
from .flows.errors import FlowError
from .flows.inactivity import InactivityOptionsMixin
from .flows.validators import (
    API_FIELDS,
    MACHINE_FIELDS,
    NODE_FIELDS,
    POLLING_FIELDS,
    RECONFIGURE_FIELDS,
    SSH_FIELDS,
    async_private_key,
    validate,
)
from .graph import (
    BuiltTopology,
    build_topology,
    check_dependencies,
    dependency_choices,
    stored_edges,
    with_dependencies,
)
from .ha_driver import url_port
from .models import build_tree
from .option_issues import async_clear_option_issues
from .orchestrator.power import DEFAULT_SETTLE, Readiness

if TYPE_CHECKING:
    from collections.abc import Mapping

    from homeassistant.core import HomeAssistant

    from .models import WakeHubConfigEntry, WakeHubRuntimeData

_LOGGER = logging.getLogger(__name__)

SHUTDOWN_COMMANDS: Final = tuple(command.value for command in ShutdownCommand)

# How long "wake it now and continue" waits for the probe, and how often it
# probes meanwhile. A physical boot takes minutes.
WAKE_TIMEOUT: float = 300.0
WAKE_PROBE_INTERVAL: float = 2.0

DOCKER_NONE: Final = "none"

# The reauth form asks the Proxmox password under its own field name, since
# ``password`` is the SSH password there.
CONF_PROXMOX_PASSWORD: Final = "proxmox_password"  # noqa: S105  # a field name

# The box to tick on the form of a changed SSH host key.
CONF_ACCEPT_HOST_KEY: Final = "accept_host_key"

# The trust step's choice: pin the node certificate itself, not its CA.
CONF_PIN_CERTIFICATE_ONLY: Final = "pin_certificate_only"

# The box to tick on the form of a changed Proxmox certificate.
CONF_ACCEPT_CERTIFICATE: Final = "accept_certificate"

# hassfest forbids URLs in translations: the example is a placeholder.
URL_EXAMPLE: Final = "http://jellyfin.lan:8096"

_TEXT = TextSelector()
_PASSWORD = TextSelector(TextSelectorConfig(type=TextSelectorType.PASSWORD))
_MULTILINE = TextSelector(TextSelectorConfig(multiline=True))
_URL = TextSelector(TextSelectorConfig(type=TextSelectorType.URL))
_PORT = NumberSelector(
    NumberSelectorConfig(min=1, max=65535, step=1, mode=NumberSelectorMode.BOX)
)
_BOOL = BooleanSelector()


def _is_ip_address(host: str) -> bool:
    """Return True for an IPv4 or IPv6 address (not a host name)."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


_ERROR_KEYS: Final[tuple[tuple[type[ChannelError], str], ...]] = (
    (AuthenticationError, "invalid_auth"),
    (DockerSocketPermissionError, "docker_socket_denied"),
    (PermissionDeniedError, "permission_denied"),
    (TlsVerificationError, "tls_error"),
    (HostKeyMismatchError, "host_key_mismatch"),
    (ChannelError, "cannot_connect"),
)


def _error_key(err: Exception) -> str:
    """Map a channel error to the flow's error key (``unknown`` otherwise)."""
    if isinstance(err, ShutdownNotAllowedError):
        return f"shutdown_{err.reason}"
    for error_class, key in _ERROR_KEYS:
        if isinstance(err, error_class):
            return key
    _LOGGER.error("Unexpected error while testing a connection", exc_info=err)
    return "unknown"


def _docker_error_key(err: Exception) -> str:
    """Map a Docker API test's error to the form's error key.

    A Docker 403 names no privilege (an authorization plugin or a proxy
    refused), so it has its own text instead of ``permission_denied``'s; a
    socket the SSH user may not open keeps its own (``docker_socket_denied``).
    """
    if isinstance(err, PermissionDeniedError) and not isinstance(
        err, DockerSocketPermissionError
    ):
        return "docker_permission_denied"
    return _error_key(err)


def _pinned_fingerprint(host_key: str) -> str:
    """The SHA256 fingerprint of a pinned OpenSSH key line (``?`` if unreadable)."""
    try:
        return parse_host_key(host_key).fingerprint
    except InvalidConfigError:
        return "?"


def _move_host(data: Mapping[str, Any], new_host: str) -> dict[str, Any]:
    """The entry data with the machine at ``new_host``.

    The Proxmox VE and Docker APIs that were reached at the machine's old
    host move with it; an API configured at another address stays there.
    """
    old_host = data[CONF_HOST]
    moved: dict[str, Any] = {**data, CONF_HOST: new_host}
    for key in (CONF_PROXMOX, CONF_DOCKER):
        api = data.get(key)
        if api is not None and api.get(CONF_HOST) == old_host:
            moved[key] = {**api, CONF_HOST: new_host}
    return moved


def _sync_docker_ssh(data: Mapping[str, Any]) -> dict[str, Any]:
    """The entry data with a Docker tunnel that follows the machine's SSH.

    The machine's Docker API "through SSH" uses the machine's own SSH access
    (host, port, account, secrets and pinned host key): whatever changed in
    ``ssh`` (a new secret, a re-pinned key, a new host) applies to it too.
    """
    docker = data.get(CONF_DOCKER)
    if docker is None or docker[CONF_MODE] != DOCKER_MODE_SSH:
        return dict(data)
    kept = {
        key: value
        for key, value in docker.items()
        if key not in (CONF_PASSWORD, CONF_PRIVATE_KEY, CONF_PASSPHRASE)
    }
    return {
        **data,
        CONF_DOCKER: {**kept, **_ssh_target(data[CONF_HOST], data[CONF_SSH])},
    }


def _ssh_auth(data: Mapping[str, Any]) -> dict[str, Any]:
    """Keep only the SSH authentication fields the user filled in."""
    auth: dict[str, Any] = {}
    for key in (CONF_PASSWORD, CONF_PRIVATE_KEY, CONF_PASSPHRASE):
        if value := data.get(key):
            auth[key] = value
    return auth


def _kind_label(child: ChildInfo) -> str:
    """A short human label for a discovered child, for select options."""
    if child.kind is ChildKind.CONTAINER:
        image = child.details.get("image")
        return f"{child.name} (container{f', {image}' if image else ''})"
    return f"{child.name} ({child.kind.value.upper()} {child.key})"


def _node_record(child: ChildInfo, parent: str) -> dict[str, Any]:
    """A fresh ``options["nodes"]`` record for a discovered child."""
    return {
        CONF_KIND: child.kind.value,
        CONF_KEY: child.key,
        CONF_PARENT: parent,
        CONF_NAME: child.name,
        CONF_CONFIRM_SHUTDOWN: None,
        CONF_PINNED: False,
        CONF_URL: None,
        CONF_START_TIMEOUT: None,
        CONF_STOP_TIMEOUT: None,
        CONF_DOCKER: None,
    }


# --------------------------------------------------------------------------
# Connection tests: the only place the flows touch the channels.
# --------------------------------------------------------------------------


async def _async_probe(host: str, port: int) -> bool:
    """Return True when the machine answers on its probe port."""
    return await probe(host, port)


async def _async_wake(data: Mapping[str, Any]) -> None:
    """Send Wake-on-LAN magic packets to the machine."""
    await wake_on_lan(data).send()


async def _async_fetch_host_key(host: str, port: int) -> tuple[str, str]:
    """Fetch the SSH host key: its fingerprint and its OpenSSH key line."""
    key = await fetch_host_key(host, port)
    return key.fingerprint, key.public_key


async def _async_check_ssh(host: str, ssh: Mapping[str, Any]) -> None:
    """Log in over SSH with the pinned host key, or raise a channel error."""
    config = ssh_config(host, ssh)
    assert config is not None  # the flow always pins the key before testing
    await SshChannel(config).check()


async def _async_fetch_certificate(host: str, port: int) -> str:
    """Fetch the SHA-256 fingerprint of the Proxmox API certificate."""
    return await fetch_certificate_fingerprint(host, port)


async def _async_fetch_certificate_der(host: str, port: int) -> bytes:
    """Fetch the certificate the Proxmox API presents (DER), without trusting it."""
    return await fetch_certificate(host, port)


@dataclass(frozen=True, slots=True)
class _ProxmoxCheck:
    """What a successful Proxmox test found."""

    node: str
    guests: dict[str, ChildInfo]
    ca: str | None = None


# What the flow's test reads and WakeHub then does: the guests' privileges,
# and Sys.Audit for /cluster/status (which node the API is) and the CA.
_FLOW_PRIVILEGES: Final = (*REQUIRED_GUEST_PRIVILEGES, "Sys.Audit")


class _AclMissingError(Exception):
    """The credentials work, but lack a privilege WakeHub needs on every path."""

    def __init__(self, missing: tuple[str, ...]) -> None:
        super().__init__(" ".join(missing))
        self.missing = missing


def _acl_command(proxmox: Mapping[str, Any]) -> str:
    """The ``pveum`` command that gives these credentials WakeHub's role."""
    if proxmox.get(CONF_TOKEN_VALUE):
        who = f"--tokens '{proxmox[CONF_TOKEN_USER]}!{proxmox[CONF_TOKEN_NAME]}'"
    else:
        user = str(proxmox[CONF_USERNAME])
        if "@" not in user:
            user = f"{user}@{proxmox.get(CONF_REALM) or DEFAULT_REALM}"
        who = f"--users '{user}'"
    return f"pveum acl modify / {who} --roles WakeHub"


async def _async_check_proxmox(
    proxmox: Mapping[str, Any], machine_host: str | None, *, read_ca: bool = False
) -> _ProxmoxCheck:
    """Test the Proxmox API: its node, its guests and the credentials' privileges.

    The node is the one the API says it runs on (``/cluster/status``),
    checked against ``machine_host``; a node typed by hand must be that one.
    Credentials lacking a privilege of WakeHub's role on every path (a token
    with privilege separation and no ACL of its own sees an empty guest
    list, not an error) raise ``_AclMissingError`` first. With ``read_ca``,
    the cluster CA that signed the certificate is read too, to pin it.
    """
    api = ProxmoxHost(proxmox_config(proxmox, proxmox.get(CONF_NODE) or ""))
    try:
        try:
            held: frozenset[str] | None = await api.privileges()
        except PermissionDeniedError:
            held = None  # cannot tell: the calls below will say what is missing
        if held is not None:
            missing = tuple(p for p in _FLOW_PRIVILEGES if p not in held)
            if missing:
                raise _AclMissingError(missing)
        node = await api.check_identity(machine_host)
        await api.check()
        guests = await api.read_states()
        ca = await api.certificate_authority() if read_ca else None
        return _ProxmoxCheck(node, guests, ca)
    finally:
        await api.close()


async def _async_check_docker(
    docker: Mapping[str, Any],
) -> dict[str, ChildInfo]:
    """Test a Docker API; return its containers."""
    api = DockerHost(docker_config(docker))
    try:
        await api.check()
        return await api.read_states()
    finally:
        await api.close()


async def _async_test_proxmox_errors(
    proxmox: Mapping[str, Any],
    machine_host: str,
    errors: dict[str, str],
    placeholders: dict[str, str],
    *,
    read_ca: bool = False,
) -> _ProxmoxCheck | None:
    """Run :func:`_async_check_proxmox`; map a failure to a form error."""
    try:
        return await _async_check_proxmox(proxmox, machine_host, read_ca=read_ca)
    except _AclMissingError as err:
        errors["base"] = "acl_missing"
        placeholders["privilege"] = " ".join(err.missing)
        placeholders["acl"] = _acl_command(proxmox)
    except NodeIdentityError as err:
        errors["base"] = "node_identity"
        placeholders["identity"] = err.message
    except PermissionDeniedError as err:
        errors["base"] = "permission_denied"
        placeholders["privilege"] = err.privilege or PROXMOX_ROLE_PRIVILEGES
    except Exception as err:  # noqa: BLE001
        errors["base"] = _error_key(err)
    return None


# --------------------------------------------------------------------------
# Schemas
# --------------------------------------------------------------------------


def _machine_schema(defaults: Mapping[str, Any], *, with_identity: bool) -> vol.Schema:
    """The machine form (``user``) and the reconfigure form."""
    fields: dict[Any, Any] = {}
    if with_identity:
        fields[vol.Required(CONF_NAME, default=defaults.get(CONF_NAME, ""))] = _TEXT
    fields[vol.Required(CONF_HOST, default=defaults.get(CONF_HOST, ""))] = _TEXT
    if with_identity:
        fields[vol.Required(CONF_MAC, default=defaults.get(CONF_MAC, ""))] = _TEXT
    fields.update(
        {
            vol.Required(
                CONF_BROADCAST_ADDRESS,
                default=defaults.get(CONF_BROADCAST_ADDRESS, DEFAULT_BROADCAST_ADDRESS),
            ): _TEXT,
            vol.Required(
                CONF_BROADCAST_PORT,
                default=defaults.get(CONF_BROADCAST_PORT, DEFAULT_BROADCAST_PORT),
            ): _PORT,
            vol.Required(
                CONF_PROBE_PORT,
                default=defaults.get(CONF_PROBE_PORT, DEFAULT_SSH_PORT),
            ): _PORT,
        }
    )
    return vol.Schema(fields)


def _ssh_schema(defaults: Mapping[str, Any]) -> vol.Schema:
    """The SSH form."""
    return vol.Schema(
        {
            vol.Required(
                CONF_USERNAME, default=defaults.get(CONF_USERNAME, "root")
            ): _TEXT,
            vol.Required(
                CONF_PORT, default=defaults.get(CONF_PORT, DEFAULT_SSH_PORT)
            ): _PORT,
            vol.Optional(CONF_PASSWORD): _PASSWORD,
            vol.Optional(CONF_PRIVATE_KEY): _MULTILINE,
            vol.Optional(CONF_PASSPHRASE): _PASSWORD,
            vol.Required(
                CONF_SHUTDOWN_COMMAND,
                default=defaults.get(CONF_SHUTDOWN_COMMAND, SHUTDOWN_COMMANDS[0]),
            ): SelectSelector(
                SelectSelectorConfig(
                    options=list(SHUTDOWN_COMMANDS),
                    mode=SelectSelectorMode.DROPDOWN,
                )
            ),
            vol.Required(
                CONF_USE_SUDO, default=defaults.get(CONF_USE_SUDO, False)
            ): _BOOL,
            vol.Required(
                CONF_FORCED_COMMAND,
                default=defaults.get(CONF_FORCED_COMMAND, False),
            ): _BOOL,
        }
    )


def _proxmox_common(defaults: Mapping[str, Any]) -> dict[Any, Any]:
    """Fields shared by both Proxmox authentication forms."""
    return {
        vol.Required(CONF_HOST, default=defaults.get(CONF_HOST, "")): _TEXT,
        vol.Required(
            CONF_PORT, default=defaults.get(CONF_PORT, DEFAULT_PROXMOX_PORT)
        ): _PORT,
        vol.Optional(
            CONF_NODE, description={"suggested_value": defaults.get(CONF_NODE)}
        ): _TEXT,
        vol.Required(
            CONF_VERIFY_TLS, default=defaults.get(CONF_VERIFY_TLS, True)
        ): _BOOL,
    }


def _docker_schema(mode: str, defaults: Mapping[str, Any]) -> vol.Schema:
    """The form of one Docker access mode."""
    if mode == DOCKER_MODE_UNIX:
        return vol.Schema(
            {
                vol.Required(
                    CONF_SOCKET_PATH,
                    default=defaults.get(CONF_SOCKET_PATH, DEFAULT_DOCKER_SOCKET),
                ): _TEXT
            }
        )
    if mode == DOCKER_MODE_SSH:
        return vol.Schema(
            {
                vol.Required(
                    CONF_SOCKET_PATH,
                    default=defaults.get(CONF_SOCKET_PATH, DEFAULT_DOCKER_SOCKET),
                ): _TEXT
            }
        )
    fields: dict[Any, Any] = {
        vol.Required(CONF_HOST, default=defaults.get(CONF_HOST, "")): _TEXT,
        vol.Required(
            CONF_PORT,
            default=defaults.get(
                CONF_PORT,
                DEFAULT_DOCKER_TLS_PORT
                if mode == DOCKER_MODE_TLS
                else DEFAULT_DOCKER_PORT,
            ),
        ): _PORT,
    }
    if mode == DOCKER_MODE_TLS:
        fields[vol.Required(CONF_CA)] = _MULTILINE
        fields[vol.Required(CONF_CERT)] = _MULTILINE
        fields[vol.Required(CONF_KEY)] = _MULTILINE
    return vol.Schema(fields)


def _docker_config(
    mode: str, user_input: Mapping[str, Any], ssh_target: Mapping[str, Any]
) -> dict[str, Any]:
    """Build the ``DOCKER_*`` dict of :mod:`.const` from a Docker form."""
    if mode == DOCKER_MODE_UNIX:
        return {CONF_MODE: mode, CONF_SOCKET_PATH: user_input[CONF_SOCKET_PATH]}
    if mode == DOCKER_MODE_SSH:
        return {
            CONF_MODE: mode,
            **ssh_target,
            CONF_SOCKET_PATH: user_input[CONF_SOCKET_PATH],
        }
    config: dict[str, Any] = {
        CONF_MODE: mode,
        CONF_HOST: user_input[CONF_HOST],
        CONF_PORT: user_input[CONF_PORT],
    }
    if mode == DOCKER_MODE_TLS:
        for key in (CONF_CA, CONF_CERT, CONF_KEY):
            config[key] = user_input[key]
    return config


def _ssh_target(host: str, ssh: Mapping[str, Any]) -> dict[str, Any]:
    """The SSH part of a ``docker`` dict in ``ssh`` mode."""
    return {
        CONF_HOST: host,
        CONF_PORT: ssh[CONF_PORT],
        CONF_USERNAME: ssh[CONF_USERNAME],
        **_ssh_auth(ssh),
        CONF_HOST_KEY: ssh[CONF_HOST_KEY],
    }


class WakeHubConfigFlow(ConfigFlow, domain=DOMAIN):
    """Add one physical machine of the homelab."""

    VERSION = 1
    MINOR_VERSION = 1

    @callback
    def _async_update_reload_and_abort(
        self,
        entry: ConfigEntry,
        *,
        data: Mapping[str, Any],
        reason: str | None = None,
    ) -> ConfigFlowResult:
        """Update ``entry``'s data, schedule its reload and finish the flow.

        Not ``async_update_reload_and_abort``: Home Assistant 2026 reports it
        when the entry has an update listener (to break in 2026.12). WakeHub's
        listener reloads only on option changes, never on data changes (the
        host key the coordinator pins at first boot must not reload), so the
        flow still schedules the reload itself, exactly once.
        """
        self.hass.config_entries.async_update_entry(entry, data=data)
        self.hass.config_entries.async_schedule_reload(entry.entry_id)
        if reason is None:
            reason = (
                "reconfigure_successful"
                if self.source == SOURCE_RECONFIGURE
                else "reauth_successful"
            )
        return self.async_abort(reason=reason)

    def __init__(self) -> None:
        """Start with an empty machine."""
        self._data: dict[str, Any] = {}
        self._pending_ssh: dict[str, Any] = {}
        self._pending_host_key: str = ""
        self._pending_proxmox: dict[str, Any] = {}
        self._pending_fingerprint: str = ""
        self._proxmox_step = "proxmox_token"
        self._discovered: dict[str, tuple[ChildInfo, str]] = {}
        self._untested = False
        self._wake_task: asyncio.Task[bool] | None = None
        # A changed SSH host key under review (reauth, reconfigure).
        self._previous_fingerprint: str = ""

    @staticmethod
    @callback
    def async_get_options_flow(
        config_entry: WakeHubConfigEntry,
    ) -> WakeHubOptionsFlow:
        """Return the options flow."""
        return WakeHubOptionsFlow()

    # ---------------------------------------------------------------- machine

    async def async_step_user(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Describe the machine: name, host, MAC, Wake-on-LAN and probe port."""
        errors: dict[str, str] = {}
        if user_input is not None:
            try:
                clean = validate(user_input, MACHINE_FIELDS)
            except FlowError as err:
                errors.update(err.errors)
            else:
                await self.async_set_unique_id(clean[CONF_MAC])
                self._abort_if_unique_id_configured()
                self._data = {
                    key: clean[key]
                    for key in (
                        CONF_NAME,
                        CONF_HOST,
                        CONF_MAC,
                        CONF_BROADCAST_ADDRESS,
                        CONF_BROADCAST_PORT,
                        CONF_PROBE_PORT,
                    )
                }
                if await _async_probe(
                    self._data[CONF_HOST], self._data[CONF_PROBE_PORT]
                ):
                    return await self.async_step_ssh()
                return await self.async_step_powered_off()
        return self.async_show_form(
            step_id="user",
            data_schema=self.add_suggested_values_to_schema(
                _machine_schema({}, with_identity=True), user_input
            ),
            errors=errors,
        )

    async def async_step_powered_off(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """The machine does not answer: wake it now, or save it untested."""
        return self.async_show_menu(
            step_id="powered_off",
            menu_options=["wake", "save_untested"],
            description_placeholders={"name": self._data[CONF_NAME]},
        )

    async def async_step_wake_failed(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """The machine did not answer in time: the same two choices."""
        return self.async_show_menu(
            step_id="wake_failed",
            menu_options=["wake", "save_untested"],
            description_placeholders={
                "name": self._data[CONF_NAME],
                "timeout": str(round(WAKE_TIMEOUT)),
            },
        )

    async def _async_wake_and_wait(self) -> bool:
        """Send WoL, then probe until the machine answers or time runs out."""
        await _async_wake(self._data)
        deadline = time.monotonic() + WAKE_TIMEOUT
        while time.monotonic() < deadline:
            if await _async_probe(self._data[CONF_HOST], self._data[CONF_PROBE_PORT]):
                return True
            await asyncio.sleep(WAKE_PROBE_INTERVAL)
        return False

    async def async_step_wake(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Wake the machine and show progress until it answers."""
        if self._wake_task is None:
            self._wake_task = self.hass.async_create_task(
                self._async_wake_and_wait(), eager_start=False
            )
        if not self._wake_task.done():
            return self.async_show_progress(
                step_id="wake",
                progress_action="wake",
                description_placeholders={"name": self._data[CONF_NAME]},
                progress_task=self._wake_task,
            )
        task, self._wake_task = self._wake_task, None
        try:
            awake = task.result()
        except Exception:  # WoL could not be sent: same as a timeout
            _LOGGER.debug("Wake-on-LAN failed", exc_info=True)
            awake = False
        return self.async_show_progress_done(
            next_step_id="ssh" if awake else "wake_failed"
        )

    async def async_step_save_untested(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Save without testing: the SSH fields are asked, not tested."""
        self._untested = True
        return await self.async_step_ssh()

    # -------------------------------------------------------------------- ssh

    async def async_step_ssh(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """SSH credentials and the shutdown command."""
        errors: dict[str, str] = {}
        if user_input is not None:
            try:
                ssh = await self._async_ssh_input(user_input)
                if self._untested:
                    self._data[CONF_SSH] = {**ssh, CONF_HOST_KEY: None}
                    self._data[CONF_VERIFY_AT_BOOT] = True
                    return self._async_create_machine_entry()
                try:
                    fingerprint, key_line = await _async_fetch_host_key(
                        self._data[CONF_HOST], ssh[CONF_PORT]
                    )
                except Exception as err:  # noqa: BLE001
                    errors["base"] = _error_key(err)
                else:
                    self._pending_ssh = ssh
                    self._pending_host_key = key_line
                    self._pending_fingerprint = fingerprint
                    return await self.async_step_ssh_host_key()
            except FlowError as err:
                errors.update(err.errors)
        return self.async_show_form(
            step_id="ssh",
            data_schema=self.add_suggested_values_to_schema(
                _ssh_schema(self._pending_ssh), user_input
            ),
            errors=errors,
            description_placeholders={"host": self._data[CONF_HOST]},
        )

    async def _async_ssh_input(self, user_input: dict[str, Any]) -> dict[str, Any]:
        """The SSH form's fields, each through its validator, and a secret."""
        clean = validate(user_input, SSH_FIELDS)
        await async_private_key(
            self.hass, user_input.get(CONF_PRIVATE_KEY), user_input.get(CONF_PASSPHRASE)
        )
        ssh = {
            CONF_PORT: clean[CONF_PORT],
            CONF_USERNAME: clean[CONF_USERNAME],
            **_ssh_auth(user_input),
            CONF_SHUTDOWN_COMMAND: user_input[CONF_SHUTDOWN_COMMAND],
            CONF_USE_SUDO: user_input[CONF_USE_SUDO],
            CONF_FORCED_COMMAND: user_input[CONF_FORCED_COMMAND],
        }
        if CONF_PASSWORD not in ssh and CONF_PRIVATE_KEY not in ssh:
            raise FlowError("auth_required")
        return ssh

    async def async_step_ssh_host_key(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Show the host key fingerprint; on accept, pin it and log in."""
        errors: dict[str, str] = {}
        if user_input is not None:
            ssh = {**self._pending_ssh, CONF_HOST_KEY: self._pending_host_key}
            try:
                await _async_check_ssh(self._data[CONF_HOST], ssh)
            except Exception as err:  # noqa: BLE001
                errors["base"] = _error_key(err)
                return self.async_show_form(
                    step_id="ssh",
                    data_schema=_ssh_schema(self._pending_ssh),
                    errors=errors,
                    description_placeholders={"host": self._data[CONF_HOST]},
                )
            self._data[CONF_SSH] = ssh
            return await self.async_step_capabilities()
        return self.async_show_form(
            step_id="ssh_host_key",
            data_schema=vol.Schema({}),
            description_placeholders={
                "host": self._data[CONF_HOST],
                "fingerprint": self._pending_fingerprint,
            },
        )

    # ----------------------------------------------------------- capabilities

    async def async_step_capabilities(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Add a Proxmox VE API, a Docker API, both, or neither.

        When reconfiguring, a configured capability can be replaced (its step
        is offered again) or removed.
        """
        options: list[str] = []
        reconfiguring = self.source == SOURCE_RECONFIGURE
        for step, key in (("proxmox", CONF_PROXMOX), ("docker", CONF_DOCKER)):
            if key not in self._data:
                options.append(step)
            elif reconfiguring:
                options.extend((step, f"remove_{step}"))
        return self.async_show_menu(
            step_id="capabilities",
            menu_options=[*options, "finish"],
            description_placeholders={"name": self._data[CONF_NAME]},
        )

    async def async_step_proxmox(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Choose how to authenticate to the Proxmox VE API."""
        return self.async_show_menu(
            step_id="proxmox",
            menu_options=["proxmox_token", "proxmox_password"],
            description_placeholders={"privileges": PROXMOX_ROLE_PRIVILEGES},
        )

    def _proxmox_defaults(self) -> dict[str, Any]:
        """Prefill the Proxmox forms from the machine and any earlier try."""
        return {
            CONF_HOST: self._data[CONF_HOST],
            **self._data.get(CONF_PROXMOX, {}),
            **self._pending_proxmox,
        }

    async def async_step_proxmox_token(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Proxmox VE API with an API token (recommended)."""
        return await self._async_proxmox_credentials(
            "proxmox_token",
            user_input,
            (CONF_TOKEN_USER, CONF_TOKEN_NAME, CONF_TOKEN_VALUE),
        )

    async def async_step_proxmox_password(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Proxmox VE API with a user, a password and a realm."""
        return await self._async_proxmox_credentials(
            "proxmox_password", user_input, (CONF_USERNAME, CONF_PASSWORD, CONF_REALM)
        )

    async def _async_proxmox_credentials(
        self,
        step_id: str,
        user_input: dict[str, Any] | None,
        credentials: tuple[str, ...],
    ) -> ConfigFlowResult:
        """Test the Proxmox VE API with one kind of ``credentials``."""
        errors: dict[str, str] = {}
        placeholders = {"privileges": PROXMOX_ROLE_PRIVILEGES}
        if user_input is not None:
            try:
                user_input = validate(user_input, API_FIELDS)
            except FlowError as err:
                errors.update(err.errors)
                self._proxmox_step = step_id
                return self._async_show_proxmox_form(errors, placeholders)
            proxmox = {
                CONF_HOST: user_input[CONF_HOST],
                CONF_PORT: user_input[CONF_PORT],
                CONF_NODE: user_input.get(CONF_NODE) or None,
                **{key: user_input[key] for key in credentials},
                CONF_VERIFY_TLS: user_input[CONF_VERIFY_TLS],
                CONF_FINGERPRINT: None,
            }
            result = await self._async_proxmox_submitted(proxmox, errors, placeholders)
            if result is not None:
                return result
        self._proxmox_step = step_id
        return self._async_show_proxmox_form(errors, placeholders)

    @callback
    def _async_show_proxmox_form(
        self, errors: dict[str, str], placeholders: dict[str, str]
    ) -> ConfigFlowResult:
        """Show the Proxmox credentials form the user chose, with any error."""
        defaults = self._proxmox_defaults()
        fields = _proxmox_common(defaults)
        if self._proxmox_step == "proxmox_token":
            fields[
                vol.Required(
                    CONF_TOKEN_USER,
                    default=defaults.get(CONF_TOKEN_USER, "wakehub@pve"),
                )
            ] = _TEXT
            fields[
                vol.Required(
                    CONF_TOKEN_NAME, default=defaults.get(CONF_TOKEN_NAME, "wakehub")
                )
            ] = _TEXT
            fields[vol.Required(CONF_TOKEN_VALUE)] = _PASSWORD
        else:
            fields[
                vol.Required(CONF_USERNAME, default=defaults.get(CONF_USERNAME, "root"))
            ] = _TEXT
            fields[vol.Required(CONF_PASSWORD)] = _PASSWORD
            fields[
                vol.Required(
                    CONF_REALM, default=defaults.get(CONF_REALM, DEFAULT_REALM)
                )
            ] = _TEXT
        return self.async_show_form(
            step_id=self._proxmox_step,
            data_schema=vol.Schema(fields),
            errors=errors,
            description_placeholders={
                "privileges": PROXMOX_ROLE_PRIVILEGES,
                **placeholders,
            },
        )

    async def _async_proxmox_submitted(
        self,
        proxmox: dict[str, Any],
        errors: dict[str, str],
        placeholders: dict[str, str],
    ) -> ConfigFlowResult | None:
        """Validate a Proxmox form; return the next step, or None on error."""
        self._pending_proxmox = proxmox
        if not proxmox[CONF_VERIFY_TLS]:
            try:
                self._pending_fingerprint = await _async_fetch_certificate(
                    proxmox[CONF_HOST], proxmox[CONF_PORT]
                )
            except Exception as err:  # noqa: BLE001
                errors["base"] = _error_key(err)
                return None
            return await self.async_step_proxmox_trust()
        return await self._async_test_proxmox(proxmox, errors, placeholders)

    async def _async_test_proxmox(
        self,
        proxmox: dict[str, Any],
        errors: dict[str, str],
        placeholders: dict[str, str],
        *,
        pin_ca: bool = False,
    ) -> ConfigFlowResult | None:
        """Test the Proxmox API; on success store it and its guests.

        With ``pin_ca`` (the certificate was just confirmed by its
        fingerprint), the cluster CA that signed it is pinned instead, when
        the node serves one; otherwise the certificate stays pinned.
        """
        check = await _async_test_proxmox_errors(
            proxmox, self._data[CONF_HOST], errors, placeholders, read_ca=pin_ca
        )
        if check is None:
            return None
        stored = {**proxmox, CONF_NODE: check.node, CONF_CA: None}
        if check.ca is not None:
            stored.update({CONF_FINGERPRINT: None, CONF_CA: check.ca})
        self._data[CONF_PROXMOX] = stored
        self._pending_proxmox = {}
        guests = check.guests
        mac = self._data[CONF_MAC]
        for child in guests.values():
            self._discovered[child_node_id(machine_id(mac), child)] = (
                child,
                machine_id(mac),
            )
        return await self.async_step_capabilities()

    async def async_step_proxmox_trust(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Show the certificate's SHA-256 fingerprint and pin it.

        A failed test with the pinned certificate goes back to the credentials
        form, with the error, for the user to fix them.
        """
        if user_input is not None:
            errors: dict[str, str] = {}
            placeholders: dict[str, str] = {}
            proxmox = {
                **self._pending_proxmox,
                CONF_FINGERPRINT: self._pending_fingerprint,
            }
            result = await self._async_test_proxmox(
                proxmox,
                errors,
                placeholders,
                pin_ca=not user_input.get(CONF_PIN_CERTIFICATE_ONLY, False),
            )
            if result is not None:
                return result
            return self._async_show_proxmox_form(errors, placeholders)
        return self.async_show_form(
            step_id="proxmox_trust",
            data_schema=vol.Schema(
                {vol.Optional(CONF_PIN_CERTIFICATE_ONLY, default=False): _BOOL}
            ),
            description_placeholders={
                "fingerprint": self._pending_fingerprint,
                "host": self._pending_proxmox[CONF_HOST],
            },
        )

    async def async_step_remove_proxmox(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Reconfigure: forget the Proxmox VE API."""
        self._data.pop(CONF_PROXMOX)
        return await self.async_step_capabilities()

    async def async_step_remove_docker(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Reconfigure: forget the machine's Docker API."""
        self._data.pop(CONF_DOCKER)
        return await self.async_step_capabilities()

    async def async_step_docker(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Choose how to reach the machine's Docker API."""
        return self.async_show_menu(
            step_id="docker",
            menu_options=[f"docker_{mode}" for mode in DOCKER_MODES],
        )

    async def _async_docker_step(
        self, mode: str, user_input: dict[str, Any] | None
    ) -> ConfigFlowResult:
        """One Docker access form: tested before it is accepted."""
        errors: dict[str, str] = {}
        defaults: dict[str, Any] = {CONF_HOST: self._data[CONF_HOST]}
        if user_input is not None:
            defaults.update(user_input)
            try:
                user_input = validate(user_input, API_FIELDS)
            except FlowError as err:
                errors.update(err.errors)
            else:
                docker = _docker_config(
                    mode,
                    user_input,
                    _ssh_target(self._data[CONF_HOST], self._data[CONF_SSH]),
                )
                try:
                    containers = await _async_check_docker(docker)
                except Exception as err:  # noqa: BLE001
                    if mode == DOCKER_MODE_TLS and isinstance(err, InvalidConfigError):
                        # PEM text that is no certificate or key.
                        errors["base"] = "invalid_tls_material"
                    elif mode == DOCKER_MODE_UNIX:
                        # Nothing else than the path can be wrong.
                        errors[CONF_SOCKET_PATH] = _docker_error_key(err)
                    else:
                        errors["base"] = _docker_error_key(err)
                else:
                    self._data[CONF_DOCKER] = docker
                    host = machine_id(self._data[CONF_MAC])
                    for child in containers.values():
                        self._discovered[child_node_id(host, child)] = (child, host)
                    return await self.async_step_capabilities()
        # A failed try shows the form again with what was typed, to fix it.
        return self.async_show_form(
            step_id=f"docker_{mode}",
            data_schema=self.add_suggested_values_to_schema(
                _docker_schema(mode, defaults), user_input
            ),
            errors=errors,
        )

    async def async_step_docker_tcp(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Docker API over plain TCP."""
        return await self._async_docker_step(DOCKER_MODE_TCP, user_input)

    async def async_step_docker_tls(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Docker API over TLS with a client certificate."""
        return await self._async_docker_step(DOCKER_MODE_TLS, user_input)

    async def async_step_docker_unix(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Docker API on a local unix socket."""
        return await self._async_docker_step(DOCKER_MODE_UNIX, user_input)

    async def async_step_docker_ssh(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Docker API through the machine's SSH connection."""
        return await self._async_docker_step(DOCKER_MODE_SSH, user_input)

    # --------------------------------------------------------------- services

    async def async_step_finish(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """No more capabilities: pick services, or create the entry."""
        if self.source == SOURCE_RECONFIGURE:
            return self._async_update_reload_and_abort(
                self._get_reconfigure_entry(), data=_sync_docker_ssh(self._data)
            )
        if self._discovered:
            return await self.async_step_services()
        return self._async_create_machine_entry()

    async def async_step_services(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Pick the discovered VMs, LXCs and containers to manage."""
        if user_input is not None:
            nodes = {
                node_id: _node_record(*self._discovered[node_id])
                for node_id in user_input.get(CONF_NODES, [])
            }
            return self._async_create_machine_entry(nodes)
        options = [
            SelectOptionDict(value=node_id, label=_kind_label(child))
            for node_id, (child, _parent) in sorted(
                self._discovered.items(), key=lambda item: item[1][0].name.lower()
            )
        ]
        return self.async_show_form(
            step_id="services",
            data_schema=vol.Schema(
                {
                    vol.Optional(CONF_NODES, default=[]): SelectSelector(
                        SelectSelectorConfig(options=options, multiple=True)
                    )
                }
            ),
            description_placeholders={"count": str(len(options))},
        )

    @callback
    def _async_create_machine_entry(
        self, nodes: dict[str, dict[str, Any]] | None = None
    ) -> ConfigFlowResult:
        """Create the entry with the layout of :mod:`.const`."""
        return self.async_create_entry(
            title=self._data[CONF_NAME],
            data=self._data,
            options={
                CONF_SCAN_INTERVAL: int(DEFAULT_SCAN_INTERVAL.total_seconds()),
                CONF_NODES: nodes or {},
                CONF_MACHINE: {
                    CONF_CONFIRM_SHUTDOWN: None,
                    CONF_PINNED: False,
                    CONF_URL: None,
                    CONF_START_TIMEOUT: None,
                    CONF_STOP_TIMEOUT: None,
                },
                "dependencies": [],
            },
        )

    # ----------------------------------------------------------------- reauth

    async def async_step_reauth(
        self, entry_data: Mapping[str, Any]
    ) -> ConfigFlowResult:
        """The credentials were refused, or the SSH host key changed.

        When the machine is up and presents another SSH host key than the
        pinned one, the user reviews that key first (``host_key_changed``).
        """
        self._data = dict(self._get_reauth_entry().data)
        if await self._async_host_key_changed():
            return await self.async_step_host_key_changed()
        if await self._async_certificate_changed():
            return await self.async_step_certificate_changed()
        return await self.async_step_reauth_confirm()

    async def _async_certificate_changed(self) -> bool:
        """Whether the Proxmox API, when up, presents a certificate the pin refuses.

        With a pinned CA, the certificate must be signed by it (a renewed
        node certificate is); with a pinned certificate, it must be that one.
        A machine that is off, an API verified against the trust store, or a
        certificate that cannot be read count as unchanged.
        """
        proxmox: dict[str, Any] | None = self._data.get(CONF_PROXMOX)
        if not proxmox or not (proxmox.get(CONF_CA) or proxmox.get(CONF_FINGERPRINT)):
            return False
        if not await _async_probe(self._data[CONF_HOST], self._data[CONF_PROBE_PORT]):
            return False
        try:
            der = await _async_fetch_certificate_der(
                proxmox[CONF_HOST], int(proxmox[CONF_PORT])
            )
        except ChannelError:
            return False
        presented = normalize_fingerprint(hashlib.sha256(der).hexdigest())
        ca: str | None = proxmox.get(CONF_CA)
        if ca is not None:
            if issued_by(der, ca):
                return False
            previous = certificate_fingerprint(ca)
        else:
            previous = normalize_fingerprint(proxmox[CONF_FINGERPRINT])
            if presented == previous:
                return False
        self._previous_fingerprint = previous
        self._pending_fingerprint = presented
        return True

    async def async_step_certificate_changed(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Show the pinned and the presented certificate; re-pin if accepted.

        Nothing is pinned unless the user ticks the box. The API is then
        tested with the presented certificate pinned; when the pin was a CA,
        the CA that signed the new certificate is read and pinned in its
        place. Refused credentials lead to the secrets form, the new pin kept.
        """
        errors: dict[str, str] = {}
        placeholders: dict[str, str] = {}
        proxmox: dict[str, Any] = self._data[CONF_PROXMOX]
        pinned_ca = proxmox.get(CONF_CA) is not None
        if user_input is not None:
            if not user_input[CONF_ACCEPT_CERTIFICATE]:
                errors[CONF_ACCEPT_CERTIFICATE] = "certificate_not_accepted"
            else:
                trial = {
                    **proxmox,
                    CONF_FINGERPRINT: self._pending_fingerprint,
                    CONF_CA: None,
                }
                _LOGGER.warning(
                    "The user accepted the new Proxmox VE certificate of %s (%s), "
                    "replacing the pinned %s (%s)",
                    self._data[CONF_NAME],
                    self._pending_fingerprint,
                    "CA" if pinned_ca else "certificate",
                    self._previous_fingerprint,
                )
                check = await _async_test_proxmox_errors(
                    trial,
                    self._data[CONF_HOST],
                    errors,
                    placeholders,
                    read_ca=pinned_ca,
                )
                if errors.get("base") == "invalid_auth":
                    self._data[CONF_PROXMOX] = trial
                    return await self.async_step_reauth_confirm()
                if check is not None:
                    if check.ca is not None:
                        trial.update({CONF_FINGERPRINT: None, CONF_CA: check.ca})
                    self._data[CONF_PROXMOX] = {**trial, CONF_NODE: check.node}
                    return self._async_update_reload_and_abort(
                        self._get_reauth_entry(), data=_sync_docker_ssh(self._data)
                    )
        return self.async_show_form(
            step_id="certificate_changed",
            data_schema=vol.Schema({vol.Required(CONF_ACCEPT_CERTIFICATE): _BOOL}),
            errors=errors,
            description_placeholders={
                "name": self._data[CONF_NAME],
                "host": proxmox[CONF_HOST],
                "pinned": self._previous_fingerprint,
                "presented": self._pending_fingerprint,
                "privilege": PROXMOX_ROLE_PRIVILEGES,
                "acl": "",
                "identity": "",
                **placeholders,
            },
        )

    async def _async_host_key_changed(self) -> bool:
        """Whether the machine, when up, presents another SSH host key.

        Reads the key the machine presents now into ``_pending_host_key``.
        A machine that is off, an entry without a pinned key (saved
        untested: the key is pinned at its first boot) or a key that cannot
        be read count as unchanged: the login test that follows reports it.
        """
        ssh = self._data[CONF_SSH]
        pinned: str | None = ssh.get(CONF_HOST_KEY)
        host = self._data[CONF_HOST]
        if not pinned or not await _async_probe(host, self._data[CONF_PROBE_PORT]):
            return False
        try:
            fingerprint, key_line = await _async_fetch_host_key(
                host, int(ssh[CONF_PORT])
            )
        except ChannelError:
            return False
        previous = _pinned_fingerprint(pinned)
        if fingerprint == previous:
            return False
        self._previous_fingerprint = previous
        self._pending_fingerprint = fingerprint
        self._pending_host_key = key_line
        return True

    async def async_step_host_key_changed(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Show the pinned and the presented key; pin the new one if accepted.

        Nothing is pinned unless the user ticks the box. The login is then
        tested with the new key: when it is refused, the credentials are asked
        (reauth) or the SSH step is shown again (reconfigure), with the new
        key kept.
        """
        errors: dict[str, str] = {}
        if user_input is not None:
            if not user_input[CONF_ACCEPT_HOST_KEY]:
                errors[CONF_ACCEPT_HOST_KEY] = "host_key_not_accepted"
            else:
                ssh = {**self._data[CONF_SSH], CONF_HOST_KEY: self._pending_host_key}
                self._data[CONF_SSH] = ssh
                _LOGGER.warning(
                    "The user accepted the new SSH host key of %s (%s), "
                    "replacing the pinned one (%s)",
                    self._data[CONF_NAME],
                    self._pending_fingerprint,
                    self._previous_fingerprint,
                )
                try:
                    await _async_check_ssh(self._data[CONF_HOST], ssh)
                except AuthenticationError:
                    if self.source == SOURCE_RECONFIGURE:
                        self._pending_ssh = ssh
                        return self.async_show_form(
                            step_id="ssh",
                            data_schema=_ssh_schema(ssh),
                            errors={"base": "invalid_auth"},
                            description_placeholders={"host": self._data[CONF_HOST]},
                        )
                    return await self.async_step_reauth_confirm()
                except Exception as err:  # noqa: BLE001
                    errors["base"] = _error_key(err)
                else:
                    if self.source == SOURCE_RECONFIGURE:
                        return await self.async_step_capabilities()
                    return self._async_update_reload_and_abort(
                        self._get_reauth_entry(), data=_sync_docker_ssh(self._data)
                    )
        return self.async_show_form(
            step_id="host_key_changed",
            data_schema=vol.Schema({vol.Required(CONF_ACCEPT_HOST_KEY): _BOOL}),
            errors=errors,
            description_placeholders={
                "name": self._data[CONF_NAME],
                "host": self._data[CONF_HOST],
                "pinned": self._previous_fingerprint,
                "presented": self._pending_fingerprint,
            },
        )

    async def async_step_reauth_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask for new SSH and Proxmox secrets and test them."""
        entry = self._get_reauth_entry()
        data = self._data  # the entry's, with a host key the user re-pinned
        proxmox: dict[str, Any] | None = data.get(CONF_PROXMOX)
        errors: dict[str, str] = {}
        placeholders: dict[str, str] = {
            "name": entry.title,
            "privilege": PROXMOX_ROLE_PRIVILEGES,
        }
        if user_input is not None:
            ssh = {
                key: value
                for key, value in data[CONF_SSH].items()
                if key not in (CONF_PASSWORD, CONF_PRIVATE_KEY, CONF_PASSPHRASE)
            }
            ssh.update(_ssh_auth(user_input))
            updates: dict[str, Any] = {CONF_SSH: ssh}
            try:
                await async_private_key(
                    self.hass, ssh.get(CONF_PRIVATE_KEY), ssh.get(CONF_PASSPHRASE)
                )
            except FlowError as err:
                errors.update(err.errors)
            if errors:
                pass
            elif CONF_PASSWORD not in ssh and CONF_PRIVATE_KEY not in ssh:
                errors["base"] = "auth_required"
            elif ssh[CONF_HOST_KEY] is not None and await _async_probe(
                data[CONF_HOST], data[CONF_PROBE_PORT]
            ):
                try:
                    await _async_check_ssh(data[CONF_HOST], ssh)
                except Exception as err:  # noqa: BLE001
                    errors["base"] = _error_key(err)
            if proxmox is not None and not errors:
                if CONF_TOKEN_VALUE in proxmox:
                    secret = {CONF_TOKEN_VALUE: user_input[CONF_TOKEN_VALUE]}
                else:
                    secret = {CONF_PASSWORD: user_input[CONF_PROXMOX_PASSWORD]}
                new_proxmox = {**proxmox, **secret}
                await _async_test_proxmox_errors(
                    new_proxmox, data[CONF_HOST], errors, placeholders
                )
                updates[CONF_PROXMOX] = new_proxmox
            if not errors:
                return self._async_update_reload_and_abort(
                    entry, data=_sync_docker_ssh({**data, **updates})
                )
        fields: dict[Any, Any] = {
            vol.Optional(CONF_PASSWORD): _PASSWORD,
            vol.Optional(CONF_PRIVATE_KEY): _MULTILINE,
            vol.Optional(CONF_PASSPHRASE): _PASSWORD,
        }
        if proxmox is not None:
            if CONF_TOKEN_VALUE in proxmox:
                fields[vol.Required(CONF_TOKEN_VALUE)] = _PASSWORD
            else:
                fields[vol.Required(CONF_PROXMOX_PASSWORD)] = _PASSWORD
        return self.async_show_form(
            step_id="reauth_confirm",
            data_schema=vol.Schema(fields),
            errors=errors,
            description_placeholders=placeholders,
        )

    # ------------------------------------------------------------ reconfigure

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Change the host, the ports and the capabilities."""
        entry = self._get_reconfigure_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            try:
                clean = validate(user_input, RECONFIGURE_FIELDS)
            except FlowError as err:
                errors.update(err.errors)
            else:
                self._data = {
                    **_move_host(entry.data, clean[CONF_HOST]),
                    CONF_BROADCAST_ADDRESS: clean[CONF_BROADCAST_ADDRESS],
                    CONF_BROADCAST_PORT: clean[CONF_BROADCAST_PORT],
                    CONF_PROBE_PORT: clean[CONF_PROBE_PORT],
                    CONF_SSH: {**entry.data[CONF_SSH], CONF_PORT: clean[CONF_PORT]},
                }
                # A new host (or a reinstalled one) may present another key.
                if await self._async_host_key_changed():
                    return await self.async_step_host_key_changed()
                return await self.async_step_capabilities()
        schema = _machine_schema(entry.data, with_identity=False).extend(
            {
                vol.Required(CONF_PORT, default=entry.data[CONF_SSH][CONF_PORT]): _PORT,
            }
        )
        return self.async_show_form(
            step_id="reconfigure",
            data_schema=schema,
            errors=errors,
            description_placeholders={"name": entry.title},
        )

    # ------------------------------------------------------------------ dhcp

    async def async_step_dhcp(
        self, discovery_info: DhcpServiceInfo
    ) -> ConfigFlowResult:
        """A DHCP packet of a machine WakeHub knows: follow its new address.

        The manifest's matcher (``registered_devices``) makes Home Assistant
        report only the MAC addresses of WakeHub's own machine devices. For a
        machine configured at an IP address, the entry moves to the address
        the machine now has (with the Proxmox VE and Docker APIs that were at
        the old one) and reloads; a machine configured by host name is left
        alone, since DNS follows it. A MAC of no entry is not offered for
        set-up: a machine cannot be added from a DHCP packet, which carries
        no SSH credentials, so the user adds it by hand.
        """
        mac = normalize_mac(discovery_info.macaddress)
        await self.async_set_unique_id(mac)
        entry = self.hass.config_entries.async_entry_for_domain_unique_id(DOMAIN, mac)
        if entry is None:
            return self.async_abort(reason="not_supported")
        host: str = entry.data[CONF_HOST]
        if host == discovery_info.ip or not _is_ip_address(host):
            return self.async_abort(reason="already_configured")
        _LOGGER.info(
            "%s (%s) moved from %s to %s (DHCP)",
            entry.title,
            mac,
            host,
            discovery_info.ip,
        )
        return self._async_update_reload_and_abort(
            entry,
            data=_sync_docker_ssh(_move_host(entry.data, discovery_info.ip)),
            reason="already_configured",
        )


# --------------------------------------------------------------------------
# Options flow
# --------------------------------------------------------------------------

_MACHINE_NODE: Final = "machine"
_AGENT_READ_TIMEOUT: Final = 5.0


async def _async_interface_options(hass: HomeAssistant) -> list[SelectOptionDict]:
    """Home Assistant's IPv4 addresses, to send Wake-on-LAN from one of them."""
    options: list[SelectOptionDict] = []
    for adapter in await network.async_get_adapters(hass):
        for ipv4 in adapter["ipv4"]:
            address = str(ipv4["address"])
            options.append(
                SelectOptionDict(value=address, label=f"{address} ({adapter['name']})")
            )
    return options


def _guest_settings(
    kind: str, node: dict[str, Any], user_input: dict[str, Any]
) -> dict[str, str]:
    """Store a guest's readiness and shutdown settings in ``node``; the errors.

    ``user_input`` went through the validators. The TCP check connects to the
    service URL's host, on the ports given or else the URL's own port; the
    guest agent is QEMU's only.
    """
    errors: dict[str, str] = {}
    readiness = Readiness(user_input[CONF_READINESS])
    host, url_default = url_port(node.get(CONF_URL))
    ports: tuple[int, ...] = tuple(user_input.get(CONF_READINESS_PORTS) or ())
    if readiness is Readiness.TCP:
        # A valid service URL is http(s): it always has a port.
        if host is None:
            errors[CONF_URL] = "readiness_needs_url"
        ports = ports or ((url_default,) if url_default is not None else ())
    if readiness is Readiness.AGENT and kind != ChildKind.VM:
        errors[CONF_READINESS] = "agent_needs_vm"
    node.update(
        {
            CONF_READINESS: readiness.value,
            CONF_READINESS_PORTS: list(ports),
            CONF_SETTLE_TIME: user_input[CONF_SETTLE_TIME],
            CONF_SHUTDOWN_TIMEOUT: user_input.get(CONF_SHUTDOWN_TIMEOUT),
            CONF_FORCE_STOP: user_input[CONF_FORCE_STOP],
        }
    )
    return errors


def _default_readiness(node: dict[str, Any], *, agent: bool) -> str:
    """The stored check, else the service URL's port, else the guest agent
    when it is enabled, else ``running``."""
    if stored := node.get(CONF_READINESS):
        return str(stored)
    _host, port = url_port(node.get(CONF_URL))
    if port is not None:
        return Readiness.TCP.value
    return (Readiness.AGENT if agent else Readiness.RUNNING).value


async def _agent_enabled(entry: ConfigEntry, node: dict[str, Any]) -> bool:
    """Whether Proxmox says the VM's QEMU guest agent is enabled.

    One live ``status/current`` read, only for a VM without a readiness
    check of its own; an entry not loaded, or an API that fails, says no.
    """
    loaded = entry.state is ConfigEntryState.LOADED
    runtime: WakeHubRuntimeData | None = entry.runtime_data if loaded else None
    proxmox = runtime.coordinator.channels.proxmox if runtime is not None else None
    if node.get(CONF_KIND) != ChildKind.VM or node.get(CONF_READINESS) or not proxmox:
        return False
    try:
        async with asyncio.timeout(_AGENT_READ_TIMEOUT):
            return (await proxmox.current(str(node[CONF_KEY]))).agent
    except (ChannelError, TimeoutError):
        return False


def _runtime_discovered(entry: ConfigEntry) -> dict[str, tuple[ChildInfo, str]]:
    """The children the entry's coordinator discovered and nobody manages yet.

    Read from the runtime data of a loaded entry (the coordinator's last
    refresh, or the persisted tree while the machine is off); an entry that is
    not loaded has nothing discovered.
    """
    if entry.state is not ConfigEntryState.LOADED:
        return {}
    runtime: WakeHubRuntimeData = entry.runtime_data
    snapshot = runtime.coordinator.data
    return {
        child.node_id: (child.info, child.host_id)
        for children in snapshot.discovered.values()
        for child in children
    }


def _describe_child(child: ChildInfo) -> str:
    """What the API already knows about a child, for a form's description."""
    if child.kind is ChildKind.CONTAINER:
        facts = [f"image {child.details.get('image', '?')}"]
    else:
        maxcpu = child.details.get("maxcpu")
        maxmem = child.details.get("maxmem")
        facts = [
            f"vmid {child.key}",
            *([f"{maxcpu} vCPU"] if maxcpu else []),
            *([f"{int(maxmem) // 2**20} MiB"] if maxmem else []),
        ]
    facts.append(child.status)
    return ", ".join(facts)


def _identify_node(node_id: str, node: Mapping[str, Any], mac: str) -> str:
    """A node the API does not list now: the machine's MAC, a guest's vmid, a container's name."""
    if node_id == _MACHINE_NODE:
        return f"MAC {mac}"
    key = node_id.rsplit("/", 1)[-1]
    if node.get(CONF_KIND) == ChildKind.CONTAINER.value:
        return f"container {key}"
    return f"vmid {key}"


class WakeHubOptionsFlow(InactivityOptionsMixin, OptionsFlow):
    """Services to configure, node settings and the polling interval."""

    def __init__(self) -> None:
        """Start with nothing read from the machine yet."""
        self._options: dict[str, Any] = {}
        self._discovered: dict[str, tuple[ChildInfo, str]] | None = None
        self._node_id: str = ""
        self._docker_mode: str = ""
        self._pending_docker: dict[str, Any] = {}
        self._pending_fingerprint: str = ""

    def _menu_options(self) -> list[str]:
        """The entries of the options menu.

        The dependencies step of the orchestration issue plugs in here.
        """
        return ["services", "node_settings", "dependencies", "inactivity", "polling"]

    async def async_step_init(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """The options menu."""
        self._options = {
            CONF_SCAN_INTERVAL: int(DEFAULT_SCAN_INTERVAL.total_seconds()),
            CONF_NODES: {},
            CONF_MACHINE: {},
            **self.config_entry.options,
        }
        self._options[CONF_NODES] = dict(self._options[CONF_NODES])
        self._discovered = _runtime_discovered(self.config_entry)
        return self.async_show_menu(
            step_id="init",
            menu_options=self._menu_options(),
            description_placeholders={
                "count": str(len(self._unmanaged())),
                "machine": self.config_entry.title,
            },
        )

    def _unmanaged(self) -> dict[str, tuple[ChildInfo, str]]:
        """Discovered children that are not managed nodes yet."""
        assert self._discovered is not None
        return {
            node_id: found
            for node_id, found in self._discovered.items()
            if node_id not in self._options[CONF_NODES]
        }

    @callback
    def _async_save(self) -> ConfigFlowResult:
        """Save every option, the untouched parts included."""
        return self.async_create_entry(data=self._options)

    @callback
    def _async_save_validated(self, node: str | None) -> ConfigFlowResult:
        """Save a node's (or the global) settings, validated: their issues go."""
        async_clear_option_issues(self.hass, self.config_entry.entry_id, node)
        return self._async_save()

    # --------------------------------------------------- services to configure

    async def async_step_services(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Pick one discovered service to configure."""
        unmanaged = self._unmanaged()
        if not unmanaged:
            return self.async_abort(reason="no_services")
        if user_input is not None:
            self._node_id = user_input[CONF_NODE]
            child, parent = unmanaged[self._node_id]
            self._options[CONF_NODES][self._node_id] = _node_record(child, parent)
            return await self.async_step_node()
        options = [
            SelectOptionDict(value=node_id, label=_kind_label(child))
            for node_id, (child, _parent) in sorted(
                unmanaged.items(), key=lambda item: item[1][0].name.lower()
            )
        ]
        return self.async_show_form(
            step_id="services",
            data_schema=vol.Schema(
                {
                    vol.Required(CONF_NODE): SelectSelector(
                        SelectSelectorConfig(options=options)
                    )
                }
            ),
            description_placeholders={"count": str(len(options))},
        )

    # ---------------------------------------------------------- node settings

    async def async_step_node_settings(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Pick the machine or one managed node."""
        if user_input is not None:
            self._node_id = user_input[CONF_NODE]
            return await self.async_step_node()
        options = [
            SelectOptionDict(value=_MACHINE_NODE, label=self.config_entry.title)
        ] + [
            SelectOptionDict(
                value=node_id, label=f"{node[CONF_NAME]} ({node[CONF_KIND]})"
            )
            for node_id, node in sorted(
                self._options[CONF_NODES].items(),
                key=lambda item: str(item[1][CONF_NAME]).lower(),
            )
        ]
        return self.async_show_form(
            step_id="node_settings",
            data_schema=vol.Schema(
                {
                    vol.Required(CONF_NODE): SelectSelector(
                        SelectSelectorConfig(options=options)
                    )
                }
            ),
        )

    def _node(self) -> tuple[str, dict[str, Any]]:
        """The kind and the settings of the node being edited."""
        if self._node_id == _MACHINE_NODE:
            return _MACHINE_NODE, dict(self._options[CONF_MACHINE])
        node = dict(self._options[CONF_NODES][self._node_id])
        return str(node[CONF_KIND]), node

    async def async_step_node(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """The settings of one node, pre-filled from the API and the options."""
        kind, node = self._node()
        # A machine's timeouts are entered in minutes, the others in seconds.
        scale = 60 if kind == _MACHINE_NODE else 1
        guest = kind in (ChildKind.VM, ChildKind.LXC)
        errors: dict[str, str] = {}
        if user_input is not None:
            try:
                clean = validate(user_input, NODE_FIELDS)
            except FlowError as err:
                errors = err.errors
        if user_input is not None and not errors:
            node.update(
                {
                    CONF_CONFIRM_SHUTDOWN: clean[CONF_CONFIRM_SHUTDOWN],
                    CONF_PINNED: clean[CONF_PINNED],
                    CONF_URL: clean.get(CONF_URL),
                    CONF_START_TIMEOUT: clean[CONF_START_TIMEOUT] * scale,
                    CONF_STOP_TIMEOUT: clean[CONF_STOP_TIMEOUT] * scale,
                }
            )
            if kind == _MACHINE_NODE:
                node[CONF_PROBE_PORTS] = clean.get(CONF_PROBE_PORTS) or []
                node[CONF_WOL_INTERFACE] = clean.get(CONF_WOL_INTERFACE)
                self._options[CONF_MACHINE] = node
                return self._async_save_validated(_MACHINE_NODE)
            node[CONF_NAME] = clean[CONF_NAME]
            if guest:
                errors = _guest_settings(kind, node, clean)
        if user_input is not None and not errors:
            mode = user_input.get(CONF_DOCKER, DOCKER_NONE)
            if mode == DOCKER_NONE:
                node[CONF_DOCKER] = None
            self._options[CONF_NODES][self._node_id] = node
            if mode == DOCKER_NONE:
                return self._async_save_validated(self._node_id)
            self._docker_mode = mode
            return await self.async_step_node_docker()

        confirm = node.get(CONF_CONFIRM_SHUTDOWN)
        start = node.get(CONF_START_TIMEOUT) or DEFAULT_START_TIMEOUTS[kind]
        stop = node.get(CONF_STOP_TIMEOUT) or DEFAULT_STOP_TIMEOUTS[kind]
        fields: dict[Any, Any] = {}
        if kind != _MACHINE_NODE:
            fields[vol.Required(CONF_NAME, default=node[CONF_NAME])] = _TEXT
        unit_max = 120 if scale == 60 else 3600
        timeout = NumberSelector(
            NumberSelectorConfig(
                min=1,
                max=unit_max,
                step=1,
                mode=NumberSelectorMode.BOX,
                unit_of_measurement="min" if scale == 60 else "s",
            )
        )
        fields.update(
            {
                vol.Required(
                    CONF_CONFIRM_SHUTDOWN,
                    default=(kind == _MACHINE_NODE) if confirm is None else confirm,
                ): _BOOL,
                vol.Required(CONF_PINNED, default=bool(node.get(CONF_PINNED))): _BOOL,
                vol.Optional(
                    CONF_URL, description={"suggested_value": node.get(CONF_URL)}
                ): _URL,
                vol.Required(CONF_START_TIMEOUT, default=start // scale): timeout,
                vol.Required(CONF_STOP_TIMEOUT, default=stop // scale): timeout,
            }
        )
        if kind == _MACHINE_NODE:
            probe_ports = node.get(CONF_PROBE_PORTS) or []
            fields.update(
                {
                    vol.Optional(
                        CONF_PROBE_PORTS,
                        description={
                            "suggested_value": ", ".join(map(str, probe_ports)) or None
                        },
                    ): _TEXT,
                    vol.Optional(
                        CONF_WOL_INTERFACE,
                        description={"suggested_value": node.get(CONF_WOL_INTERFACE)},
                    ): SelectSelector(
                        SelectSelectorConfig(
                            options=await _async_interface_options(self.hass),
                            custom_value=True,
                            mode=SelectSelectorMode.DROPDOWN,
                        )
                    ),
                }
            )
        if guest:
            ports = node.get(CONF_READINESS_PORTS) or []
            if not ports and (url_default := url_port(node.get(CONF_URL))[1]):
                ports = [url_default]
            shutdown = node.get(CONF_SHUTDOWN_TIMEOUT)
            fields.update(
                {
                    vol.Required(
                        CONF_READINESS,
                        default=_default_readiness(
                            node, agent=await _agent_enabled(self.config_entry, node)
                        ),
                    ): SelectSelector(
                        SelectSelectorConfig(
                            options=[*READINESS_CHECKS],
                            translation_key=CONF_READINESS,
                        )
                    ),
                    vol.Optional(
                        CONF_READINESS_PORTS,
                        description={
                            "suggested_value": ", ".join(str(p) for p in ports)
                        },
                    ): _TEXT,
                    vol.Required(
                        CONF_SETTLE_TIME,
                        default=node.get(CONF_SETTLE_TIME) or int(DEFAULT_SETTLE),
                    ): NumberSelector(
                        NumberSelectorConfig(
                            min=0,
                            max=unit_max,
                            step=1,
                            mode=NumberSelectorMode.BOX,
                            unit_of_measurement="s",
                        )
                    ),
                    vol.Optional(
                        CONF_SHUTDOWN_TIMEOUT,
                        description={"suggested_value": shutdown},
                    ): timeout,
                    vol.Required(
                        CONF_FORCE_STOP, default=bool(node.get(CONF_FORCE_STOP))
                    ): _BOOL,
                }
            )
            docker = node.get(CONF_DOCKER) or {}
            fields[
                vol.Required(CONF_DOCKER, default=docker.get(CONF_MODE, DOCKER_NONE))
            ] = SelectSelector(
                SelectSelectorConfig(
                    options=[DOCKER_NONE, *DOCKER_MODES],
                    translation_key=CONF_DOCKER,
                )
            )
        assert self._discovered is not None
        found = self._discovered.get(self._node_id)
        schema = vol.Schema(fields)
        if user_input is not None:
            schema = self.add_suggested_values_to_schema(schema, user_input)
        return self.async_show_form(
            step_id="node",
            data_schema=schema,
            errors=errors,
            description_placeholders={
                "name": node.get(CONF_NAME, self.config_entry.title),
                "machine": self.config_entry.title,
                # What the API reports, else what identifies the node.
                "details": (
                    _describe_child(found[0])
                    if found
                    else _identify_node(
                        self._node_id, node, self.config_entry.data[CONF_MAC]
                    )
                ),
                "url_example": URL_EXAMPLE,
            },
        )

    def _node_docker_schema(self) -> vol.Schema:
        """The form of the guest's Docker API in the chosen mode."""
        node = self._options[CONF_NODES][self._node_id]
        defaults: dict[str, Any] = {**(node.get(CONF_DOCKER) or {})}
        if self._docker_mode != DOCKER_MODE_SSH:
            return _docker_schema(self._docker_mode, defaults)
        return vol.Schema(
            {
                vol.Required(CONF_HOST, default=defaults.get(CONF_HOST, "")): _TEXT,
                vol.Required(
                    CONF_PORT, default=defaults.get(CONF_PORT, DEFAULT_SSH_PORT)
                ): _PORT,
                vol.Required(
                    CONF_USERNAME, default=defaults.get(CONF_USERNAME, "root")
                ): _TEXT,
                vol.Optional(CONF_PASSWORD): _PASSWORD,
                vol.Optional(CONF_PRIVATE_KEY): _MULTILINE,
                vol.Optional(CONF_PASSPHRASE): _PASSWORD,
                vol.Required(
                    CONF_SOCKET_PATH,
                    default=defaults.get(CONF_SOCKET_PATH, DEFAULT_DOCKER_SOCKET),
                ): _TEXT,
            }
        )

    async def async_step_node_docker(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """The Docker API of a VM or LXC: the same choices as the machine's."""
        errors: dict[str, str] = {}
        if user_input is not None:
            mode = self._docker_mode
            try:
                user_input = validate(user_input, API_FIELDS)
                await async_private_key(
                    self.hass,
                    user_input.get(CONF_PRIVATE_KEY),
                    user_input.get(CONF_PASSPHRASE),
                )
            except FlowError as err:
                errors.update(err.errors)
            if errors:
                pass
            elif mode == DOCKER_MODE_SSH:
                auth = _ssh_auth(user_input)
                if not auth.get(CONF_PASSWORD) and not auth.get(CONF_PRIVATE_KEY):
                    errors["base"] = "auth_required"
                else:
                    try:
                        fingerprint, key_line = await _async_fetch_host_key(
                            user_input[CONF_HOST], user_input[CONF_PORT]
                        )
                    except Exception as err:  # noqa: BLE001
                        errors["base"] = _error_key(err)
                    else:
                        self._pending_fingerprint = fingerprint
                        self._pending_docker = {
                            CONF_MODE: mode,
                            CONF_HOST: user_input[CONF_HOST],
                            CONF_PORT: user_input[CONF_PORT],
                            CONF_USERNAME: user_input[CONF_USERNAME],
                            **auth,
                            CONF_HOST_KEY: key_line,
                            CONF_SOCKET_PATH: user_input[CONF_SOCKET_PATH],
                        }
                        return await self.async_step_node_docker_host_key()
            else:
                docker = _docker_config(mode, user_input, {})
                result = await self._async_test_node_docker(docker, errors)
                if result is not None:
                    return result
        return self.async_show_form(
            step_id="node_docker",
            data_schema=self.add_suggested_values_to_schema(
                self._node_docker_schema(), user_input
            ),
            errors=errors,
            description_placeholders={"mode": self._docker_mode},
        )

    async def async_step_node_docker_host_key(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Confirm the guest's SSH host key, pin it and test the tunnel."""
        errors: dict[str, str] = {}
        if user_input is not None:
            result = await self._async_test_node_docker(self._pending_docker, errors)
            if result is not None:
                return result
            return self.async_show_form(
                step_id="node_docker",
                data_schema=self._node_docker_schema(),
                errors=errors,
                description_placeholders={"mode": self._docker_mode},
            )
        return self.async_show_form(
            step_id="node_docker_host_key",
            data_schema=vol.Schema({}),
            description_placeholders={
                "host": self._pending_docker[CONF_HOST],
                "fingerprint": self._pending_fingerprint,
            },
        )

    async def _async_test_node_docker(
        self, docker: dict[str, Any], errors: dict[str, str]
    ) -> ConfigFlowResult | None:
        """Test a guest's Docker API; on success save every option."""
        try:
            await _async_check_docker(docker)
        except Exception as err:  # noqa: BLE001
            errors["base"] = _docker_error_key(err)
            return None
        node = dict(self._options[CONF_NODES][self._node_id])
        node[CONF_DOCKER] = docker
        self._options[CONF_NODES][self._node_id] = node
        return self._async_save_validated(self._node_id)

    # ---------------------------------------------------------- dependencies

    def _dependency_topology(self) -> BuiltTopology:
        """Every node of every loaded entry and of this one, with their edges.

        Built as the hub builds it (:func:`~.graph.build_topology`); stored
        edges that do not fit (a vanished node: see the dangling-edge repair)
        are left out.
        """
        return build_topology(
            entry
            for entry in self.hass.config_entries.async_entries(DOMAIN)
            if entry.state is ConfigEntryState.LOADED
            or entry.entry_id == self.config_entry.entry_id
        )

    def _current_dependencies(self) -> list[str]:
        """What the node being edited depends on, as stored."""
        return [
            dependency
            for dependent, dependency in stored_edges(self._options)
            if dependent == self._node_id
        ]

    async def async_step_dependencies(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Pick the machine or one managed node, whose dependencies to edit."""
        if user_input is not None:
            self._node_id = user_input[CONF_NODE]
            return await self.async_step_dependencies_edit()
        tree = build_tree(self.config_entry)
        options = [
            SelectOptionDict(
                value=node.id,
                # A child is named with what it runs on, not its raw kind.
                label=node.name
                if node.parent is None or node.parent not in tree
                else f"{node.name} ({tree[node.parent].name})",
            )
            for node in tree.values()
        ]
        return self.async_show_form(
            step_id="dependencies",
            data_schema=vol.Schema(
                {
                    vol.Required(CONF_NODE): SelectSelector(
                        SelectSelectorConfig(options=options)
                    )
                }
            ),
        )

    async def async_step_dependencies_edit(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Every node of every loaded entry but this one; a cycle is refused.

        The edges are stored in this entry's options (it owns the dependent),
        replacing the node's previous ones and keeping every other option.
        """
        built = self._dependency_topology()
        labels = built.labels
        current = self._current_dependencies()
        errors: dict[str, str] = {}
        placeholders = {"node": labels.get(self._node_id, self._node_id), "path": ""}
        if user_input is not None:
            chosen = list(dict.fromkeys(user_input.get(CONF_DEPENDENCIES, [])))
            try:
                # A vanished node kept on purpose is not checked: the repair says so.
                check_dependencies(
                    built.topology,
                    self._node_id,
                    [node for node in chosen if node in built.topology],
                )
            except DependencyCycleError as err:
                errors["base"] = "dependency_cycle"
                placeholders["path"] = err.placeholders["path"]
            if not errors:
                self._options = with_dependencies(self._options, self._node_id, chosen)
                return self._async_save()
            current = chosen
        # Neither its hosts, what runs on it, nor a node that would close a
        # cycle; what is chosen already stays listed, so it can be removed.
        allowed = set(current) | dependency_choices(built.topology, self._node_id)
        options = [
            SelectOptionDict(value=node_id, label=label)
            for node_id, label in sorted(labels.items(), key=lambda i: i[1].lower())
            if node_id in allowed
        ] + [
            # A dependency on a vanished node stays listed, so it can be removed.
            SelectOptionDict(value=node_id, label=node_id)
            for node_id in current
            if node_id not in labels
        ]
        return self.async_show_form(
            step_id="dependencies_edit",
            data_schema=vol.Schema(
                {
                    vol.Optional(CONF_DEPENDENCIES, default=current): SelectSelector(
                        SelectSelectorConfig(
                            options=options,
                            multiple=True,
                            mode=SelectSelectorMode.LIST,
                        )
                    )
                }
            ),
            errors=errors,
            description_placeholders=placeholders,
        )

    # -------------------------------------------------------------- polling

    async def async_step_polling(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """The polling interval (seconds) and the proposals' expiry (minutes)."""
        errors: dict[str, str] = {}
        if user_input is not None:
            try:
                clean = validate(user_input, POLLING_FIELDS)
            except FlowError as err:
                errors = err.errors
            else:
                self._options[CONF_SCAN_INTERVAL] = clean[CONF_SCAN_INTERVAL]
                self._options[CONF_PROPOSAL_EXPIRY] = clean[CONF_PROPOSAL_EXPIRY]
                return self._async_save_validated(None)
        expiry = self._options.get(CONF_PROPOSAL_EXPIRY) or int(
            DEFAULT_PROPOSAL_EXPIRY.total_seconds() // 60
        )
        return self.async_show_form(
            step_id="polling",
            data_schema=vol.Schema(
                {
                    vol.Required(
                        CONF_SCAN_INTERVAL,
                        default=self._options[CONF_SCAN_INTERVAL],
                    ): NumberSelector(
                        NumberSelectorConfig(
                            min=MIN_SCAN_INTERVAL.total_seconds(),
                            max=3600,
                            step=1,
                            mode=NumberSelectorMode.BOX,
                            unit_of_measurement="s",
                        )
                    ),
                    vol.Required(CONF_PROPOSAL_EXPIRY, default=expiry): NumberSelector(
                        NumberSelectorConfig(
                            min=1,
                            max=MAX_PROPOSAL_EXPIRY_MINUTES,
                            step=1,
                            mode=NumberSelectorMode.BOX,
                            unit_of_measurement="min",
                        )
                    ),
                }
            ),
            errors=errors,
        )
