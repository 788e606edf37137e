"""Clients of the simulator's servers, shared by the simulator's tests."""

from __future__ import annotations

import errno
import socket
import time
from typing import TYPE_CHECKING, Any

from proxmoxer import ProxmoxAPI

if TYPE_CHECKING:
    from tests.homelab import HomelabThread


def pve_client(homelab: HomelabThread, machine: str, **options: Any) -> ProxmoxAPI:
    """proxmoxer on ``machine``'s simulated Proxmox API, with WakeHub's token.

    ``options`` go to :class:`ProxmoxAPI` as they are (e.g. ``timeout=10``).
    """
    info = homelab.ready["nodes"][machine]["proxmox"]
    return ProxmoxAPI(
        "127.0.0.1",
        port=info["port"],
        user=info["token_user"],
        token_name=info["token_name"],
        token_value=info["token_value"],
        verify_ssl=False,
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
) -> Any:
    """proxmoxer on ``machine``'s simulated Proxmox API with the API token ``token``."""
    info = homelab.ready["nodes"][machine]["proxmox"]
    return ProxmoxAPI(
        "127.0.0.1",
        port=info["port"],
        user=info["token_user"],
        token_name=token,
        token_value=info["tokens"][token]["value"],
        verify_ssl=False,
        timeout=10,
    )


def pve_with_password(homelab: HomelabThread, machine: str = "Machine1") -> Any:
    """proxmoxer on ``machine``'s simulated Proxmox API, logged in with a password."""
    info = homelab.ready["nodes"][machine]["proxmox"]
    return ProxmoxAPI(
        "127.0.0.1",
        port=info["port"],
        user=info["user"],
        password=info["password"],
        verify_ssl=False,
        timeout=10,
    )


def wait_task(pve: Any, node: str, upid: str) -> dict[str, Any]:
    """Poll a Proxmox task until it stopped (at most 5 s); return its status."""
    for _ in range(500):
        status: dict[str, Any] = pve.nodes(node).tasks(upid).status.get()
        if status["status"] == "stopped":
            return status
        time.sleep(0.01)
    raise AssertionError(f"task {upid} never finished")
