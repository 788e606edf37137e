# ruff: noqa: S105  # configuration keys, not secrets
"""Constants shared by the WakeHub integration.

Config entry layout (one entry per physical machine; ``unique_id`` is the
normalised MAC)::

    entry.data = {
        "name": "Machine1",
        "host": "192.168.1.10",
        "mac": "aa:bb:cc:dd:ee:ff",
        "broadcast_address": "255.255.255.255",
        "broadcast_port": 9,
        "probe_port": 22,
        "ssh": {                                  # always present
            "port": 22, "username": "root",
            "password": "...",                    # or
            "private_key": "-----BEGIN OPENSSH...", "passphrase": "...",
            "host_key": "ssh-ed25519 AAAA...",    # pinned at setup
            "shutdown_command": "systemctl poweroff",
            "use_sudo": False,
        },
        "proxmox": {                              # optional
            "host": "192.168.1.10", "port": 8006, "node": "pve1",
            "token_user": "wakehub@pve", "token_name": "wakehub",
            "token_value": "...",                 # or
            "username": "root", "realm": "pam", "password": "...",
            "verify_tls": True,                   # against the trust store (ACME)
            "ca": "-----BEGIN CERTIFICATE-----...",   # or the pinned cluster CA
            "fingerprint": "AB:CD:...",           # or the pinned node certificate
        },
        "docker": { ... DOCKER_* keys ... },      # optional, the machine's own
        "verify_at_boot": True,                   # only while the key is unpinned
    }

    entry.options = {
        "scan_interval": 30,
        "proposal_expiry": 60,                    # minutes; optional
        "nodes": {                                # managed children, by node id
            "<node id>": {
                "kind": "vm" | "lxc" | "container",
                "key": "101" | "plex",            # vmid or container name
                "parent": "<parent node id>",
                "name": "VM-Docker",              # display name
                "confirm_shutdown": None | bool,  # None = per-kind default
                "pinned": False,
                "url": None | "https://...",
                "start_timeout": None | seconds,
                "stop_timeout": None | seconds,
                "docker": None | { DOCKER_* keys },   # VM/LXC running Docker
                # VM/LXC only:
                "shutdown_timeout": None | seconds,   # None = Proxmox's own
                "force_stop": False,                  # kill after that timeout
                "readiness": None | "tcp" | "agent" | "running",  # None = auto
                "readiness_ports": [8096, ...],       # the TCP check's ports
                "settle_time": None | seconds,        # the "running" check's
                "inactivity": None | {...},           # inactivity.Rule.as_dict()
            },
        },
        "machine": {                              # the machine's own settings
            "confirm_shutdown": None | bool, "pinned": False, "url": None,
            "start_timeout": None, "stop_timeout": None,
            "inactivity": None | {...},           # inactivity.Rule.as_dict()
        },
        "dependencies": [["<dependent id>", "<dependency id>"], ...],
    }

Docker access (``DOCKER_*``)::

    {"mode": "tcp", "host": "...", "port": 2375}
    {"mode": "tls", "host": "...", "port": 2376, "ca": PEM, "cert": PEM, "key": PEM}
    {"mode": "unix", "socket_path": "/var/run/docker.sock"}
    {"mode": "ssh", "host": "...", "port": 22, "username": ..., "password"/
     "private_key"/"passphrase", "host_key": ..., "socket_path": "/var/run/docker.sock"}

Node ids come from ``core.ids``: a machine is its MAC, a guest ``<mac>/<vmid>``,
a container ``<host id>/docker/<name>``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Final

from .core.model import NodeKind

if TYPE_CHECKING:
    from collections.abc import Mapping

DOMAIN: Final = "wakehub"

# Events on Home Assistant's bus (their data: ``logbook.py``; docs/events.md).
EVENT_CASCADE_STARTED: Final = f"{DOMAIN}_cascade_started"
EVENT_CASCADE_STEP: Final = f"{DOMAIN}_cascade_step"
EVENT_CASCADE_COMPLETED: Final = f"{DOMAIN}_cascade_completed"
EVENT_CASCADE_FAILED: Final = f"{DOMAIN}_cascade_failed"
EVENT_SHUTDOWN_PROPOSED: Final = f"{DOMAIN}_shutdown_proposed"
"""Fired when a proposal is made (or asked again): answer it by its id."""
EVENT_PROPOSAL_CLOSED: Final = f"{DOMAIN}_shutdown_proposal_closed"
"""Fired when a proposal ends; ``outcome`` is a ``proposal_record.Outcome``."""
EVENT_NODE_KEPT: Final = f"{DOMAIN}_node_kept"
"""Fired for a KEEP decision: the node stays on, ``reason`` says why."""
EVENT_NODE_IDLE: Final = f"{DOMAIN}_node_idle"
"""Fired when a node's inactivity rule is due: a stop or a proposal follows."""

# Persistent notification ids: the prefix, then the cascade id / the node id.
CASCADE_NOTIFICATION_PREFIX: Final = f"{DOMAIN}_cascade_"
PROPOSAL_NOTIFICATION_PREFIX: Final = f"{DOMAIN}_proposal_"

# entry.data
CONF_NAME: Final = "name"
CONF_HOST: Final = "host"
CONF_MAC: Final = "mac"
CONF_BROADCAST_ADDRESS: Final = "broadcast_address"
CONF_BROADCAST_PORT: Final = "broadcast_port"
CONF_PROBE_PORT: Final = "probe_port"
CONF_PROBE_PORTS: Final = "probe_ports"
CONF_WOL_INTERFACE: Final = "wol_interface"
# Wake this machine at the start of a cascade that needs it (opt-in), this
# many seconds after the previous early wake.
CONF_EARLY_WAKE: Final = "early_wake"
CONF_EARLY_WAKE_STAGGER: Final = "early_wake_stagger"
STAGGER_MAX: Final = 600
CONF_SSH: Final = "ssh"
# Set when the machine was saved while powered off: the SSH host key is still
# to be pinned (trust on first use) and the credentials verified at the first
# boot, with a repair issue if they fail.
CONF_VERIFY_AT_BOOT: Final = "verify_at_boot"
CONF_PROXMOX: Final = "proxmox"
CONF_DOCKER: Final = "docker"

# nested keys
CONF_PORT: Final = "port"
CONF_USERNAME: Final = "username"
CONF_PASSWORD: Final = "password"
CONF_PRIVATE_KEY: Final = "private_key"
CONF_PASSPHRASE: Final = "passphrase"
CONF_HOST_KEY: Final = "host_key"
CONF_SHUTDOWN_COMMAND: Final = "shutdown_command"
CONF_USE_SUDO: Final = "use_sudo"
CONF_FORCED_COMMAND: Final = "forced_command"
CONF_NODE: Final = "node"
CONF_TOKEN_USER: Final = "token_user"
CONF_TOKEN_NAME: Final = "token_name"
CONF_TOKEN_VALUE: Final = "token_value"
CONF_REALM: Final = "realm"
CONF_VERIFY_TLS: Final = "verify_tls"
CONF_FINGERPRINT: Final = "fingerprint"
CONF_MODE: Final = "mode"
CONF_CA: Final = "ca"
CONF_CERT: Final = "cert"
CONF_KEY: Final = "key"
CONF_SOCKET_PATH: Final = "socket_path"

# entry.options
CONF_SCAN_INTERVAL: Final = "scan_interval"
CONF_NODES: Final = "nodes"
CONF_MACHINE: Final = "machine"
CONF_DEPENDENCIES: Final = "dependencies"
CONF_KIND: Final = "kind"
CONF_PARENT: Final = "parent"
CONF_CONFIRM_SHUTDOWN: Final = "confirm_shutdown"
CONF_PINNED: Final = "pinned"
CONF_URL: Final = "url"
CONF_START_TIMEOUT: Final = "start_timeout"
CONF_STOP_TIMEOUT: Final = "stop_timeout"
CONF_SHUTDOWN_TIMEOUT: Final = "shutdown_timeout"
CONF_FORCE_STOP: Final = "force_stop"
CONF_READINESS: Final = "readiness"
CONF_READINESS_PORTS: Final = "readiness_ports"
CONF_SETTLE_TIME: Final = "settle_time"
CONF_INACTIVITY: Final = "inactivity"
"""A node's inactivity rule (``inactivity.Rule.as_dict``), in its settings."""
# A guest's readiness checks (orchestrator.power.Readiness), as the form offers them.
READINESS_CHECKS: Final = ("tcp", "agent", "running")
CONF_PROPOSAL_EXPIRY: Final = "proposal_expiry"
"""Minutes a shutdown proposal about one of the entry's nodes waits for an answer."""

DOCKER_MODE_TCP: Final = "tcp"
DOCKER_MODE_TLS: Final = "tls"
DOCKER_MODE_UNIX: Final = "unix"
DOCKER_MODE_SSH: Final = "ssh"
DOCKER_MODES: Final = (
    DOCKER_MODE_TCP,
    DOCKER_MODE_TLS,
    DOCKER_MODE_UNIX,
    DOCKER_MODE_SSH,
)

DEFAULT_BROADCAST_ADDRESS: Final = "255.255.255.255"
DEFAULT_BROADCAST_PORT: Final = 9
DEFAULT_SSH_PORT: Final = 22
DEFAULT_PROXMOX_PORT: Final = 8006
DEFAULT_DOCKER_PORT: Final = 2375
DEFAULT_DOCKER_TLS_PORT: Final = 2376
DEFAULT_DOCKER_SOCKET: Final = "/var/run/docker.sock"
DEFAULT_REALM: Final = "pam"

DEFAULT_SCAN_INTERVAL: Final = timedelta(seconds=30)
MIN_SCAN_INTERVAL: Final = timedelta(seconds=10)
DEFAULT_PROPOSAL_EXPIRY: Final = timedelta(hours=1)
"""How long a shutdown proposal waits for an answer, unless the entry says."""
MAX_PROPOSAL_EXPIRY_MINUTES: Final = 7 * 24 * 60

# Per-kind step timeouts (command plus readiness), in seconds: a physical boot
# takes minutes. The one table: the options flow shows it, the HA driver and
# the orchestrator apply it. Keyed by NodeKind, a StrEnum, so the plain kind
# strings of entry.options look it up too.
DEFAULT_START_TIMEOUTS: Final[Mapping[str, int]] = {
    NodeKind.MACHINE: 300,
    NodeKind.VM: 180,
    NodeKind.LXC: 90,
    NodeKind.CONTAINER: 60,
}
DEFAULT_STOP_TIMEOUTS: Final[Mapping[str, int]] = {
    NodeKind.MACHINE: 300,
    NodeKind.VM: 180,
    NodeKind.LXC: 90,
    NodeKind.CONTAINER: 60,
}

# The least-privilege Proxmox role WakeHub needs (shown in the flow and docs).
PROXMOX_ROLE_PRIVILEGES: Final = "VM.Audit VM.PowerMgmt Sys.Audit"
