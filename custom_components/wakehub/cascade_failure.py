"""How a failed cascade is told: the notification's texts and facts.

One job only (docs/design.md): from a failed cascade's event data, pick the
title and message keys of its persistent notification and the facts they
show (a changed host key, no quorum, a node WakeHub cannot control, a node
not ready in time, or the HTTP answer of a guest's Proxmox or a container's Docker). The reporter
(:mod:`.cascade_report`) fires the events and sends the notification.
"""

from __future__ import annotations

import contextlib
import json
import re
from typing import TYPE_CHECKING, Any, Final

from .channels.errors import (
    HostKeyMismatchError,
    NoQuorumError,
    NotControllableError,
)
from .core.model import Capability, Channel, NodeKind
from .core.planner import Action
from .orchestrator import ERROR_TIMEOUT

if TYPE_CHECKING:
    from collections.abc import Callable

    from .hub import WakeHubHub
    from .orchestrator import Cascade


def failure_texts(
    hub: WakeHubHub,
    cascade: Cascade,
    data: dict[str, Any],
    review_host_key: Callable[[str], str | None],
) -> tuple[tuple[str, str], dict[str, Any]]:
    """The notification's title and message keys, and its data with the facts.

    ``review_host_key`` starts the review of a machine's changed host key and
    returns the machine's name (``None`` when the key is not the machine's).
    """
    node = data["node"]
    texts = ("cascade_failed_title", "cascade_failed")
    if data["error_code"] == HostKeyMismatchError.code and (
        machine := review_host_key(node)
    ):
        texts = ("cascade_failed_host_key_title", "cascade_failed_host_key")
        data = {**data, "machine": machine}
    elif data["error_code"] == NoQuorumError.code:
        texts = ("cascade_failed_no_quorum_title", "cascade_failed_no_quorum")
    elif data["error_code"] == NotControllableError.code:
        texts = (
            "cascade_failed_not_controllable_title",
            "cascade_failed_not_controllable",
        )
    elif data["error_code"] == ERROR_TIMEOUT and (
        seconds := (data.get("error_placeholders") or {}).get("seconds")
    ):
        # WakeHub's own wait: how long, in the translated sentence (the
        # English message is for the log).
        stop = cascade.action is Action.STOP
        texts = (
            "cascade_failed_title",
            "cascade_failed_not_ready_stop"
            if stop
            else "cascade_failed_not_ready_start",
        )
        data = {**data, "seconds": seconds}
    elif data["error_code"] in EXPLAINED_CODES:
        # A code WakeHub explains in the user's language: the channel's own
        # message is English built by WakeHub, so it stays in the log.
        stop = cascade.action is Action.STOP
        texts = (
            "cascade_failed_title",
            "cascade_failed_why_stop" if stop else "cascade_failed_why_start",
        )
        data = {
            **data,
            "why": data["error_code"],
            **api_of_step(hub, cascade, node, data.get("step")),
        }
    elif (answer := api_answer(hub, node, data["error_message"])) is not None:
        # What answered, where, and where to look: not "api_error: HTTP 500".
        stop = cascade.action is Action.STOP
        if answer["api"] == "Docker":
            texts = (
                "cascade_failed_title",
                "cascade_failed_docker_stop" if stop else "cascade_failed_docker_start",
            )
        else:
            texts = (
                "cascade_failed_title",
                "cascade_failed_proxmox_stop"
                if stop
                else "cascade_failed_proxmox_start",
            )
        data = {**data, **answer}
    return texts, data


EXPLAINED_CODES: Final = frozenset(
    {
        "unreachable",
        "timeout",
        "auth_failed",
        "permission_denied",
        "docker_socket_denied",
        "shutdown_not_allowed",
        "not_found",
        "tls_error",
        "invalid_config",
        "guest_migrating",
        "guest_migrated",
        "guest_state",
        "ha_timeout",
        "node_identity",
        "unknown_node",
    }
)
"""The codes whose notification says what to check in a sentence of its own
(``cascade_error_<code>``, filled in by the reporter), instead of the
channel's English message."""

_API_NAMES: Final = {
    Channel.WOL: "Wake-on-LAN",
    Channel.SSH: "SSH",
    Channel.PROXMOX: "Proxmox",
    Channel.DOCKER: "Docker",
}


def failed_channel(
    hub: WakeHubHub, cascade: Cascade, node_id: str, step: int | None
) -> tuple[Channel | None, str]:
    """What answered for the failed step (a channel), and the node it runs on.

    A guest's or a container's API is its host's (Proxmox, Docker); a
    machine's is the step's channel (SSH, or Proxmox for a node it shuts
    down), except for a start: the magic packet gets no answer, so what
    failed is the API the start waited for (Proxmox, else Docker). ``step``
    counts from 1; ``None`` for a node WakeHub no longer knows.
    """
    node = hub.topology.nodes.get(node_id)
    steps = cascade.steps
    channel = steps[step - 1].step.channel if step and 0 < step <= len(steps) else None
    if node is None:
        return None, node_id
    if node.kind in (NodeKind.VM, NodeKind.LXC) and node.parent is not None:
        return Channel.PROXMOX, node.parent
    if node.kind is NodeKind.CONTAINER and node.parent is not None:
        return Channel.DOCKER, node.parent
    if channel in (None, Channel.WOL) and cascade.action is Action.START:
        if Capability.PROXMOX in node.capabilities:
            channel = Channel.PROXMOX
        elif Capability.DOCKER in node.capabilities:
            channel = Channel.DOCKER
        else:
            channel = Channel.WOL
    elif channel is None:
        channel = Channel.SSH
    return channel, node.id


def api_of_step(
    hub: WakeHubHub, cascade: Cascade, node_id: str, step: int | None
) -> dict[str, str]:
    """:func:`failed_channel` for people: ``{"api": "Proxmox", "host": "Machine2"}``."""
    channel, host = failed_channel(hub, cascade, node_id, step)
    return {
        "api": _API_NAMES[channel] if channel is not None else "WakeHub",
        "host": hub.name_of(host),
    }


def api_answer(
    hub: WakeHubHub, node_id: str, message: str | None
) -> dict[str, str] | None:
    """The HTTP answer of a guest's Proxmox or a container's Docker, if that failed.

    ``{"api", "host", "status", "reason"}`` for a message ``HTTP 500: ...``
    about a VM, an LXC (Proxmox on its machine) or a container (Docker on
    its host); ``None`` otherwise.
    """
    node = hub.topology.nodes.get(node_id)
    match = re.match(r"HTTP (\d{3})\b:?\s*(.*)", message or "")
    if node is None or match is None or node.parent is None:
        return None
    if node.kind in (NodeKind.VM, NodeKind.LXC):
        api = "Proxmox"
    elif node.kind is NodeKind.CONTAINER:
        api = "Docker"
    else:
        return None
    reason = match.group(2)
    with contextlib.suppress(ValueError, AttributeError):
        # Docker answers {"message": "..."}: its words, not the JSON.
        reason = str(json.loads(reason)["message"])
    return {
        "api": api,
        "host": hub.name_of(node.parent),
        "status": match.group(1),
        "reason": reason or match.group(1),
    }
