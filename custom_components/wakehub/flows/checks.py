"""Connection tests: with :mod:`.host_key`, the only place the flows touch the channels.

Each ``async_try_*`` check returns what it found or raises its one
recoverable error type (:mod:`.errors`) with the form error and its
placeholders; an unexpected exception becomes ``unknown`` (logged) there,
and nowhere else.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from custom_components.wakehub.channels.docker import DockerHost
from custom_components.wakehub.channels.errors import (
    ChannelError,
    DockerSocketPermissionError,
    InvalidConfigError,
    NodeIdentityError,
    PermissionDeniedError,
)
from custom_components.wakehub.channels.probe import probe
from custom_components.wakehub.channels.proxmox import (
    REQUIRED_GUEST_PRIVILEGES,
    ProxmoxHost,
    fetch_certificate,
    fetch_certificate_fingerprint,
)
from custom_components.wakehub.const import (
    CONF_NODE,
    CONF_REALM,
    CONF_SOCKET_PATH,
    CONF_TOKEN_NAME,
    CONF_TOKEN_USER,
    CONF_TOKEN_VALUE,
    CONF_USERNAME,
    DEFAULT_REALM,
    DOCKER_MODE_TLS,
    DOCKER_MODE_UNIX,
    PROXMOX_ROLE_PRIVILEGES,
)
from custom_components.wakehub.entry_channels import (
    docker_config,
    proxmox_config,
    wake_on_lan,
)
from custom_components.wakehub.flows.errors import (
    DockerError,
    FlowError,
    ProxmoxError,
    channel_error_key,
)

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

    from custom_components.wakehub.channels.base import ChildInfo


@contextmanager
def recoverable(error: type[FlowError]) -> Iterator[None]:
    """Raise what a check's channels raise as ``error``, with its form key."""
    try:
        yield
    except FlowError:
        raise
    except Exception as err:  # the one catch-all: "unknown", logged
        raise error(channel_error_key(err)) from err


async def async_probe(host: str, port: int) -> bool:
    """Return True when the machine answers on its probe port."""
    return await probe(host, port)


async def async_wake(data: Mapping[str, Any]) -> None:
    """Send Wake-on-LAN magic packets to the machine."""
    await wake_on_lan(data).send()


async def async_try_certificate(host: str, port: int) -> str:
    """The SHA-256 fingerprint of the Proxmox API certificate, to confirm."""
    with recoverable(ProxmoxError):
        return await fetch_certificate_fingerprint(host, port)


async def async_fetch_certificate_der(host: str, port: int) -> bytes:
    """Fetch the certificate the Proxmox API presents (DER), without trusting it."""
    return await fetch_certificate(host, port)


@dataclass(frozen=True, slots=True)
class ProxmoxFound:
    """What a successful Proxmox test found."""

    node: str
    guests: dict[str, ChildInfo]
    ca: str | None = None


# What the flow's test reads and WakeHub then does: the guests' privileges,
# and Sys.Audit for /cluster/status (which node the API is) and the CA.
_FLOW_PRIVILEGES: Final = (*REQUIRED_GUEST_PRIVILEGES, "Sys.Audit")


def acl_command(proxmox: Mapping[str, Any]) -> str:
    """The ``pveum`` command that gives these credentials WakeHub's role."""
    if proxmox.get(CONF_TOKEN_VALUE):
        who = f"--tokens '{proxmox[CONF_TOKEN_USER]}!{proxmox[CONF_TOKEN_NAME]}'"
    else:
        user = str(proxmox[CONF_USERNAME])
        if "@" not in user:
            user = f"{user}@{proxmox.get(CONF_REALM) or DEFAULT_REALM}"
        who = f"--users '{user}'"
    return f"pveum acl modify / {who} --roles WakeHub"


async def async_try_proxmox(
    proxmox: Mapping[str, Any], machine_host: str | None, *, read_ca: bool = False
) -> ProxmoxFound:
    """Test the Proxmox API: its node, its guests and the credentials' privileges.

    The node is the one the API says it runs on (``/cluster/status``),
    checked against ``machine_host``; a node typed by hand must be that one.
    Credentials lacking a privilege of WakeHub's role on every path (a token
    with privilege separation and no ACL of its own sees an empty guest
    list, not an error) are refused first (``acl_missing``). With
    ``read_ca``, the cluster CA that signed the certificate is read too, to
    pin it. Raise :class:`.errors.ProxmoxError`.
    """
    with recoverable(ProxmoxError):
        api = ProxmoxHost(proxmox_config(proxmox, proxmox.get(CONF_NODE) or ""))
        try:
            try:
                held: frozenset[str] | None = await api.privileges()
            except PermissionDeniedError:
                held = None  # cannot tell: the calls below will say what is missing
            if held is not None:
                missing = tuple(p for p in _FLOW_PRIVILEGES if p not in held)
                if missing:
                    raise ProxmoxError(
                        "acl_missing",
                        privilege=" ".join(missing),
                        acl=acl_command(proxmox),
                    )
            node = await api.check_identity(machine_host)
            await api.check()
            guests = await api.read_states()
            ca = await api.certificate_authority() if read_ca else None
            return ProxmoxFound(node, guests, ca)
        except NodeIdentityError as err:
            raise ProxmoxError("node_identity", identity=err.message) from err
        except PermissionDeniedError as err:
            raise ProxmoxError(
                "permission_denied", privilege=err.privilege or PROXMOX_ROLE_PRIVILEGES
            ) from err
        finally:
            await api.close()


async def async_try_docker(
    docker: Mapping[str, Any], mode: str | None = None
) -> dict[str, ChildInfo]:
    """Test a Docker API; return its containers. Raise :class:`.errors.DockerError`.

    A Docker 403 names no privilege (an authorization plugin or a proxy
    refused), so it has its own text instead of ``permission_denied``'s; a
    socket the SSH user may not open keeps its own (``docker_socket_denied``).
    PEM text that is no certificate or key is ``invalid_tls_material``; on a
    unix socket nothing but the path can be wrong.
    """
    with recoverable(DockerError):
        api = DockerHost(docker_config(docker))
        try:
            await api.check()
            return await api.read_states()
        except ChannelError as err:
            if mode == DOCKER_MODE_TLS and isinstance(err, InvalidConfigError):
                raise DockerError("invalid_tls_material") from err
            raise DockerError(docker_error_key(err), _docker_field(mode)) from err
        finally:
            await api.close()


def _docker_field(mode: str | None) -> str:
    return CONF_SOCKET_PATH if mode == DOCKER_MODE_UNIX else "base"


def docker_error_key(err: Exception) -> str:
    """A Docker API test's error key: a 403 has its own text."""
    if isinstance(err, PermissionDeniedError) and not isinstance(
        err, DockerSocketPermissionError
    ):
        return "docker_permission_denied"
    return channel_error_key(err)
