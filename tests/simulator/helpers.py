"""Clients of the simulator's servers, shared by the simulator's tests."""

from __future__ import annotations

import errno
import socket
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
