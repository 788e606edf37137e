"""Clients of the simulator's servers, shared by the simulator's tests."""

from __future__ import annotations

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
