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
each check raises its one recoverable error type, which carries its form
error (see docs/design.md, "Flows").

The steps live in :mod:`.flows`, one module per step group; this class puts
them together as Home Assistant expects.

The Proxmox VE node is the one the API itself says it is
(``/cluster/status``, cross-checked with the machine's address), never the
first of ``GET /nodes``, which lists every member of a cluster. Reauth
reviews a changed SSH host key and a changed Proxmox certificate (or CA)
before asking for secrets.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from homeassistant.core import callback

from .const import (
    DOMAIN,
)
from .flows.docker import DockerSteps
from .flows.host_key_review import HostKeySteps
from .flows.machine import MachineSteps
from .flows.options import WakeHubOptionsFlow
from .flows.proxmox import ProxmoxSteps
from .flows.reauth import ReauthSteps
from .flows.reconfigure import ReconfigureSteps

if TYPE_CHECKING:
    from .models import WakeHubConfigEntry


class WakeHubConfigFlow(
    MachineSteps,
    ProxmoxSteps,
    DockerSteps,
    ReauthSteps,
    HostKeySteps,
    ReconfigureSteps,
    domain=DOMAIN,
):
    """Add one physical machine of the homelab."""

    VERSION = 1
    MINOR_VERSION = 1

    @staticmethod
    @callback
    def async_get_options_flow(
        config_entry: WakeHubConfigEntry,
    ) -> WakeHubOptionsFlow:
        """Return the options flow."""
        return WakeHubOptionsFlow()
