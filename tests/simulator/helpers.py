"""Clients of the simulator's servers, shared by the simulator's tests."""

from __future__ import annotations

import errno
import socket
import time
from typing import TYPE_CHECKING, Any

from proxmoxer import ProxmoxAPI

if TYPE_CHECKING:
    from tests.homelab import HomelabThread


def _proxmoxer(homelab: HomelabThread, machine: str, **options: Any) -> ProxmoxAPI:
    """proxmoxer on ``machine``'s simulated Proxmox API; ``options`` log in."""
    port = homelab.ready["nodes"][machine]["proxmox"]["port"]
    return ProxmoxAPI("127.0.0.1", port=port, verify_ssl=False, **options)


def pve_client(
    homelab: HomelabThread,
    machine: str = "Machine1",
    token: str | None = None,
    **options: Any,
) -> ProxmoxAPI:
    """proxmoxer on ``machine``'s simulated Proxmox API, with WakeHub's token
    (or the API token ``token`` of the ready document).

    ``options`` go to :class:`ProxmoxAPI` as they are (e.g. ``timeout=10``).
    """
    info = homelab.ready["nodes"][machine]["proxmox"]
    return _proxmoxer(
        homelab,
        machine,
        user=info["token_user"],
        token_name=token or info["token_name"],
        token_value=info["tokens"][token]["value"] if token else info["token_value"],
        **options,
    )


def tcp_answer(port: int, timeout: float = 0.3) -> str:
    """What a plain TCP connect to 127.0.0.1:``port`` gets, with no other client.

    ``"open"`` (accepted), ``"refused"`` (a reset: the machine is on, nothing
    listens) or ``"silent"`` (no answer within ``timeout``: the machine is off).
    """
    with socket.socket() as client:
        client.settimeout(timeout)
        try:
            client.connect(("127.0.0.1", port))
        except TimeoutError:
            return "silent"
        except OSError as err:
            if err.errno == errno.ECONNREFUSED:
                return "refused"
            raise
    return "open"


def pve_with_token(
    homelab: HomelabThread, machine: str = "Machine1", token: str = "wakehub"
) -> ProxmoxAPI:
    """:func:`pve_client` with the API token ``token``, its calls timing out at 10 s."""
    return pve_client(homelab, machine, token, timeout=10)


def pve_with_password(homelab: HomelabThread, machine: str = "Machine1") -> ProxmoxAPI:
    """proxmoxer on ``machine``'s simulated Proxmox API, logged in with a password."""
    info = homelab.ready["nodes"][machine]["proxmox"]
    return _proxmoxer(
        homelab, machine, user=info["user"], password=info["password"], timeout=10
    )


def wait_task(pve: Any, node: str, upid: str) -> dict[str, Any]:
    """Poll a Proxmox task until it stopped (at most 5 s); return its status."""
    for _ in range(500):
        status: dict[str, Any] = pve.nodes(node).tasks(upid).status.get()
        if status["status"] == "stopped":
            return status
        time.sleep(0.01)
    raise AssertionError(f"task {upid} never finished")
