"""The forms of the config flow: field names of the flow's own, selectors, schemas."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from homeassistant.helpers.selector import (
    BooleanSelector,
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
    TextSelector,
    TextSelectorConfig,
    TextSelectorType,
)

from custom_components.wakehub.channels.ssh import (
    ShutdownCommand,
)
from custom_components.wakehub.compat import vol
from custom_components.wakehub.const import (
    CONF_BROADCAST_ADDRESS,
    CONF_BROADCAST_PORT,
    CONF_CA,
    CONF_CERT,
    CONF_FORCED_COMMAND,
    CONF_HOST,
    CONF_KEY,
    CONF_MAC,
    CONF_NAME,
    CONF_NODE,
    CONF_PASSPHRASE,
    CONF_PASSWORD,
    CONF_PORT,
    CONF_PRIVATE_KEY,
    CONF_PROBE_PORT,
    CONF_SHUTDOWN_COMMAND,
    CONF_SOCKET_PATH,
    CONF_USE_SUDO,
    CONF_USERNAME,
    CONF_VERIFY_TLS,
    DEFAULT_BROADCAST_ADDRESS,
    DEFAULT_BROADCAST_PORT,
    DEFAULT_DOCKER_PORT,
    DEFAULT_DOCKER_SOCKET,
    DEFAULT_DOCKER_TLS_PORT,
    DEFAULT_PROXMOX_PORT,
    DEFAULT_SSH_PORT,
    DOCKER_MODE_SSH,
    DOCKER_MODE_TLS,
    DOCKER_MODE_UNIX,
)

if TYPE_CHECKING:
    from collections.abc import Mapping


SHUTDOWN_COMMANDS: Final = tuple(command.value for command in ShutdownCommand)


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


TEXT = TextSelector()


PASSWORD = TextSelector(TextSelectorConfig(type=TextSelectorType.PASSWORD))


MULTILINE = TextSelector(TextSelectorConfig(multiline=True))


URL = TextSelector(TextSelectorConfig(type=TextSelectorType.URL))


PORT = NumberSelector(
    NumberSelectorConfig(min=1, max=65535, step=1, mode=NumberSelectorMode.BOX)
)


BOOL = BooleanSelector()


def machine_schema(defaults: Mapping[str, Any], *, with_identity: bool) -> vol.Schema:
    """The machine form (``user``) and the reconfigure form."""
    fields: dict[Any, Any] = {}
    if with_identity:
        fields[vol.Required(CONF_NAME, default=defaults.get(CONF_NAME, ""))] = TEXT
    fields[vol.Required(CONF_HOST, default=defaults.get(CONF_HOST, ""))] = TEXT
    if with_identity:
        fields[vol.Required(CONF_MAC, default=defaults.get(CONF_MAC, ""))] = TEXT
    fields.update(
        {
            vol.Required(
                CONF_BROADCAST_ADDRESS,
                default=defaults.get(CONF_BROADCAST_ADDRESS, DEFAULT_BROADCAST_ADDRESS),
            ): TEXT,
            vol.Required(
                CONF_BROADCAST_PORT,
                default=defaults.get(CONF_BROADCAST_PORT, DEFAULT_BROADCAST_PORT),
            ): PORT,
            vol.Required(
                CONF_PROBE_PORT,
                default=defaults.get(CONF_PROBE_PORT, DEFAULT_SSH_PORT),
            ): PORT,
        }
    )
    return vol.Schema(fields)


def ssh_schema(defaults: Mapping[str, Any]) -> vol.Schema:
    """The SSH form."""
    return vol.Schema(
        {
            vol.Required(
                CONF_USERNAME, default=defaults.get(CONF_USERNAME, "root")
            ): TEXT,
            vol.Required(
                CONF_PORT, default=defaults.get(CONF_PORT, DEFAULT_SSH_PORT)
            ): PORT,
            vol.Optional(CONF_PASSWORD): PASSWORD,
            vol.Optional(CONF_PRIVATE_KEY): MULTILINE,
            vol.Optional(CONF_PASSPHRASE): PASSWORD,
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
            ): BOOL,
            vol.Required(
                CONF_FORCED_COMMAND,
                default=defaults.get(CONF_FORCED_COMMAND, False),
            ): BOOL,
        }
    )


def proxmox_common(defaults: Mapping[str, Any]) -> dict[Any, Any]:
    """Fields shared by both Proxmox authentication forms."""
    return {
        vol.Required(CONF_HOST, default=defaults.get(CONF_HOST, "")): TEXT,
        vol.Required(
            CONF_PORT, default=defaults.get(CONF_PORT, DEFAULT_PROXMOX_PORT)
        ): PORT,
        vol.Optional(
            CONF_NODE, description={"suggested_value": defaults.get(CONF_NODE)}
        ): TEXT,
        vol.Required(
            CONF_VERIFY_TLS, default=defaults.get(CONF_VERIFY_TLS, True)
        ): BOOL,
    }


def docker_schema(mode: str, defaults: Mapping[str, Any]) -> vol.Schema:
    """The form of one Docker access mode."""
    if mode == DOCKER_MODE_UNIX:
        return vol.Schema(
            {
                vol.Required(
                    CONF_SOCKET_PATH,
                    default=defaults.get(CONF_SOCKET_PATH, DEFAULT_DOCKER_SOCKET),
                ): TEXT
            }
        )
    if mode == DOCKER_MODE_SSH:
        return vol.Schema(
            {
                vol.Required(
                    CONF_SOCKET_PATH,
                    default=defaults.get(CONF_SOCKET_PATH, DEFAULT_DOCKER_SOCKET),
                ): TEXT
            }
        )
    fields: dict[Any, Any] = {
        vol.Required(CONF_HOST, default=defaults.get(CONF_HOST, "")): TEXT,
        vol.Required(
            CONF_PORT,
            default=defaults.get(
                CONF_PORT,
                DEFAULT_DOCKER_TLS_PORT
                if mode == DOCKER_MODE_TLS
                else DEFAULT_DOCKER_PORT,
            ),
        ): PORT,
    }
    if mode == DOCKER_MODE_TLS:
        fields[vol.Required(CONF_CA)] = MULTILINE
        fields[vol.Required(CONF_CERT)] = MULTILINE
        fields[vol.Required(CONF_KEY)] = MULTILINE
    return vol.Schema(fields)
