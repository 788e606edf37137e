"""The entry's data records the flows build and move (see :mod:`..const`)."""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING, Any

from custom_components.wakehub.channels.base import ChildInfo, ChildKind
from custom_components.wakehub.const import (
    CONF_CA,
    CONF_CERT,
    CONF_CONFIRM_SHUTDOWN,
    CONF_DOCKER,
    CONF_HOST,
    CONF_HOST_KEY,
    CONF_KEY,
    CONF_KIND,
    CONF_MODE,
    CONF_NAME,
    CONF_PARENT,
    CONF_PASSPHRASE,
    CONF_PASSWORD,
    CONF_PINNED,
    CONF_PORT,
    CONF_PRIVATE_KEY,
    CONF_PROXMOX,
    CONF_SOCKET_PATH,
    CONF_SSH,
    CONF_START_TIMEOUT,
    CONF_STOP_TIMEOUT,
    CONF_URL,
    CONF_USERNAME,
    DOCKER_MODE_SSH,
    DOCKER_MODE_TLS,
    DOCKER_MODE_UNIX,
)

if TYPE_CHECKING:
    from collections.abc import Mapping


def is_ip_address(host: str) -> bool:
    """Return True for an IPv4 or IPv6 address (not a host name)."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def move_host(data: Mapping[str, Any], new_host: str) -> dict[str, Any]:
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


def sync_docker_ssh(data: Mapping[str, Any]) -> dict[str, Any]:
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
        CONF_DOCKER: {**kept, **ssh_target(data[CONF_HOST], data[CONF_SSH])},
    }


def ssh_auth(data: Mapping[str, Any]) -> dict[str, Any]:
    """Keep only the SSH authentication fields the user filled in."""
    auth: dict[str, Any] = {}
    for key in (CONF_PASSWORD, CONF_PRIVATE_KEY, CONF_PASSPHRASE):
        if value := data.get(key):
            auth[key] = value
    return auth


def kind_label(child: ChildInfo) -> str:
    """A short human label for a discovered child, for select options."""
    if child.kind is ChildKind.CONTAINER:
        image = child.details.get("image")
        return f"{child.name} (container{f', {image}' if image else ''})"
    return f"{child.name} ({child.kind.value.upper()} {child.key})"


def node_record(child: ChildInfo, parent: str) -> dict[str, Any]:
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


def docker_config(
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


def ssh_target(host: str, ssh: Mapping[str, Any]) -> dict[str, Any]:
    """The SSH part of a ``docker`` dict in ``ssh`` mode."""
    return {
        CONF_HOST: host,
        CONF_PORT: ssh[CONF_PORT],
        CONF_USERNAME: ssh[CONF_USERNAME],
        **ssh_auth(ssh),
        CONF_HOST_KEY: ssh[CONF_HOST_KEY],
    }
