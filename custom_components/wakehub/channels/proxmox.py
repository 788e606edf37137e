"""Proxmox VE channel (proxmoxer, https backend): guests and node power.

Every proxmoxer call is synchronous (requests), so each one runs in the
executor; the event loop never waits on a socket.

TLS: the certificate is verified against the system's trust store by default
(a publicly trusted certificate, e.g. from ACME). Proxmox's own certificate is
signed by the cluster's CA (``pve-root-ca.pem``, 10 years), which no trust
store holds: that CA is pinned, and every connection (API calls and ticket
logins alike) must present a certificate chaining to it and to no other CA.
The node certificate itself (``pve-ssl.pem``) is renewed by ``pveupdate``
every two years or sooner, which a CA pin survives. Pinning the node
certificate's SHA-256 fingerprint instead (urllib3's ``assert_fingerprint``)
remains possible. A connection is never simply left unverified.

Node identity: in a cluster every member's API lists every node and every
guest, so the node a machine runs is read from ``GET /cluster/status`` (the
entry marked ``local``), never taken from ``GET /nodes``.

The proxmoxer pieces are assembled here (``ProxmoxHttpSession``, its auth
classes, ``ProxmoxResource``) rather than through ``ProxmoxAPI`` because
proxmoxer's own ticket login posts with a bare ``requests.post`` that a pinned
session could not cover.

Requests per call: :meth:`ProxmoxHost.read_states` makes exactly ONE request,
``GET /cluster/resources?type=vm``, filtered to the configured node. That
listing comes from ``pvestatd``'s last cycle (up to 10 s old, ``unknown`` just
after the node booted, QMP words such as ``paused`` for QEMU), so every
decision to act on one guest reads :meth:`ProxmoxHost.current`, the guest's
live ``status/current``, instead (docs/proxmox.md, "Guest power").

Modules, one job each (this one assembles them and is what other layers
import): :mod:`.proxmox_config` (how to reach a node, certificate helpers),
:mod:`.proxmox_tls` (the pinned sessions, reading a server's certificate),
:mod:`.proxmox_session` (login, error mapping, every call in the executor),
:mod:`.proxmox_status` (the cluster's and a guest's status as read),
:mod:`.proxmox_node` (identity, quorum, privileges, CA, tasks, node power)
and :mod:`.proxmox_guests` (listing and power of the VMs and LXCs).
"""

from __future__ import annotations

from .proxmox_config import (
    DEFAULT_PROXMOX_PORT,
    DEFAULT_TASK_TIMEOUT,
    DEFAULT_TIMEOUT,
    FORCE_STOP_GRACE,
    LXC_STOP_GRACE,
    PROXMOX_SHUTDOWN_TIMEOUT,
    REQUIRED_GUEST_PRIVILEGES,
    TASK_POLL_INTERVAL,
    ProxmoxConfig,
    certificate_fingerprint,
    issued_by,
    normalize_fingerprint,
)
from .proxmox_guests import ProxmoxGuests
from .proxmox_status import STOP_MARGIN, ClusterMember, ClusterStatus, GuestStatus
from .proxmox_tls import fetch_certificate, fetch_certificate_fingerprint

__all__ = [
    "DEFAULT_PROXMOX_PORT",
    "DEFAULT_TASK_TIMEOUT",
    "DEFAULT_TIMEOUT",
    "FORCE_STOP_GRACE",
    "LXC_STOP_GRACE",
    "PROXMOX_SHUTDOWN_TIMEOUT",
    "REQUIRED_GUEST_PRIVILEGES",
    "STOP_MARGIN",
    "TASK_POLL_INTERVAL",
    "ClusterMember",
    "ClusterStatus",
    "GuestStatus",
    "ProxmoxConfig",
    "ProxmoxHost",
    "certificate_fingerprint",
    "fetch_certificate",
    "fetch_certificate_fingerprint",
    "issued_by",
    "normalize_fingerprint",
]


class ProxmoxHost(ProxmoxGuests):
    """A Proxmox VE node as a ``HostApi``: its VMs and LXCs, and itself.

    The session and its calls come from :class:`~.proxmox_session.ProxmoxConnection`,
    the node's identity, quorum and power from :class:`~.proxmox_node.ProxmoxNode`,
    the guests from :class:`~.proxmox_guests.ProxmoxGuests`.
    """
