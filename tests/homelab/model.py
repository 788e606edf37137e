"""The homelab's nodes, their power states and the scenarios that build them.

Everything here is plain data: the behaviour (delays, services, cascades)
lives in :mod:`tests.homelab.core`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import secrets
import time
from typing import Any, Final, Literal

NodeKind = Literal["machine", "vm", "lxc", "container"]

# Power states. Machines use the first four, guests and containers the last two.
OFF: Final = "off"
BOOTING: Final = "booting"
ON: Final = "on"
SHUTTING_DOWN: Final = "shutting_down"
STOPPED: Final = "stopped"
RUNNING: Final = "running"

MACHINE_STATES: Final = (OFF, BOOTING, ON, SHUTTING_DOWN)
GUEST_STATES: Final = (STOPPED, RUNNING)

# The real monotonic clock, captured at import time and kept inside a tuple so
# that freezegun (which rewrites module attributes equal to ``time.monotonic``)
# cannot freeze the simulator when a Home Assistant test uses ``freezer``.
_REAL_CLOCK: Final = (time.monotonic, time.time)


def monotonic() -> float:
    """Return the real monotonic time, immune to freezegun."""
    return _REAL_CLOCK[0]()


def wall_time() -> float:
    """Return the real wall-clock time (epoch seconds), immune to freezegun."""
    return _REAL_CLOCK[1]()


def new_container_id() -> str:
    """Return a fresh 64-hex-digit container ID, as Docker makes them."""
    return secrets.token_hex(32)


@dataclass
class Delays:
    """Unscaled delays in seconds; the homelab multiplies them by its time scale."""

    up: float
    down: float
    health: float = 0.0


# Realistic-looking defaults, in seconds at time scale 1.0.
MACHINE_DELAYS: Final = Delays(up=6.0, down=3.0)
VM_DELAYS: Final = Delays(up=3.0, down=2.0)
LXC_DELAYS: Final = Delays(up=1.5, down=1.0)
CONTAINER_DELAYS: Final = Delays(up=0.5, down=1.0, health=2.0)


@dataclass
class Node:
    """One node of the homelab: a machine, a guest (VM or LXC) or a container."""

    name: str
    kind: NodeKind
    parent: str | None = None
    vmid: int | None = None
    mac: str | None = None
    pve_node: str | None = None
    docker: bool = False
    ssh: bool = False
    delays: Delays = field(default_factory=lambda: Delays(up=1.0, down=1.0))
    # Guest details
    agent: bool = False
    maxcpu: int = 2
    maxmem: int = 2 * 1024**3
    maxdisk: int = 32 * 1024**3
    # Container details
    image: str = ""
    healthcheck: bool = False
    container_id: str = ""
    created: float = 0.0
    # Dynamic state
    state: str = OFF
    transition: str | None = None  # "starting" or "stopping" while a delay runs
    since: float = 0.0  # monotonic time of the last state change
    started_wall: float = 0.0  # epoch time the node last came up
    finished_wall: float = 0.0  # epoch time the node last went down
    health: str | None = None  # "starting" / "healthy" for containers with a check
    pid: int = 0
    faults: dict[str, Any] = field(default_factory=dict)
    # Usage overrides set through the control API (see metrics.py).
    metrics: dict[str, Any] = field(default_factory=dict)
    # Guests: whether the OS has booted (its services and agent answer), the
    # QMP status when not plain running/stopped, HA's view of it.
    booted: bool = False
    qmpstatus: str | None = None
    ha_state: str | None = None  # None: not HA-managed

    @property
    def is_machine(self) -> bool:
        """Return True for a physical machine."""
        return self.kind == "machine"

    @property
    def is_guest(self) -> bool:
        """Return True for a Proxmox guest (VM or LXC)."""
        return self.kind in ("vm", "lxc")

    @property
    def up_state(self) -> str:
        """Return the state meaning "up" for this kind of node."""
        return ON if self.is_machine else RUNNING

    @property
    def down_state(self) -> str:
        """Return the state meaning "down" for this kind of node."""
        return OFF if self.is_machine else STOPPED

    @property
    def is_up(self) -> bool:
        """Return True while the node is up (a guest: Proxmox says running)."""
        return self.state == self.up_state

    @property
    def serving(self) -> bool:
        """Return True while the node's services answer.

        A machine serves once booted. A guest is ``running`` for Proxmox as
        soon as QEMU is launched but serves only once its OS booted (the
        two-phase boot), and not while paused or suspended.
        """
        if not self.is_up:
            return False
        return (
            self.is_machine
            or self.kind == "container"
            or (self.booted and self.qmpstatus is None)
        )

    def uptime(self) -> int:
        """Return whole seconds since the node came up, 0 while down."""
        if not self.is_up:
            return 0
        return int(max(0.0, wall_time() - self.started_wall))


def _machine(
    name: str, mac: str, *, pve_node: str | None = None, docker: bool = False
) -> Node:
    return Node(
        name=name,
        kind="machine",
        mac=mac,
        pve_node=pve_node,
        docker=docker,
        ssh=True,
        delays=Delays(MACHINE_DELAYS.up, MACHINE_DELAYS.down),
        maxcpu=8,
        maxmem=32 * 1024**3,
    )


def _guest(
    name: str,
    kind: NodeKind,
    parent: str,
    vmid: int,
    *,
    docker: bool = False,
    agent: bool = False,
) -> Node:
    base = VM_DELAYS if kind == "vm" else LXC_DELAYS
    return Node(
        name=name,
        kind=kind,
        parent=parent,
        vmid=vmid,
        docker=docker,
        ssh=docker,
        agent=agent,
        delays=Delays(base.up, base.down),
        state=STOPPED,
        maxmem=(4 if kind == "vm" else 1) * 1024**3,
    )


def _container(
    name: str, parent: str, image: str, *, healthcheck: bool = False
) -> Node:
    return Node(
        name=name,
        kind="container",
        parent=parent,
        image=image,
        healthcheck=healthcheck,
        delays=Delays(
            CONTAINER_DELAYS.up, CONTAINER_DELAYS.down, CONTAINER_DELAYS.health
        ),
        state=STOPPED,
        container_id=new_container_id(),
        created=wall_time(),
    )


def reference_nodes(*, extra_guests: int = 0, extra_containers: int = 0) -> list[Node]:
    """Build the reference homelab (docs/design.md, "The reference homelab"), all off.

    ``extra_guests`` adds that many more guests on Machine1 (alternately VMs and
    LXCs, vmids from 1001, named ``bench-guest-NNN``) and ``extra_containers``
    adds containers on VM-Docker (``bench-NNN``), for benchmarks.
    """
    nodes = [
        _machine("NAS", "52:54:00:00:00:01"),
        _machine("Machine1", "52:54:00:00:00:02", pve_node="pve1"),
        _guest("VM-Docker", "vm", "Machine1", 101, docker=True, agent=True),
        _container("sandbox", "VM-Docker", "ghcr.io/example/sandbox:latest"),
        _container("plex", "VM-Docker", "plexinc/pms-docker:latest", healthcheck=True),
        _guest("VM-Ubuntu", "vm", "Machine1", 102),
        _machine("Machine2", "52:54:00:00:00:03", pve_node="pve2"),
        _guest("Home-Assistant", "vm", "Machine2", 201, agent=True),
        _guest("Jellyfin", "lxc", "Machine2", 202),
        _guest("Cloudflared", "lxc", "Machine2", 203),
        _machine("RaspberryPi", "52:54:00:00:00:04", docker=True),
        _container("pihole", "RaspberryPi", "pihole/pihole:latest"),
        _container("uptime-kuma", "RaspberryPi", "louislam/uptime-kuma:1"),
    ]
    for index in range(extra_guests):
        kind: NodeKind = "vm" if index % 2 == 0 else "lxc"
        nodes.append(_guest(f"bench-guest-{index:03d}", kind, "Machine1", 1001 + index))
    nodes.extend(
        _container(f"bench-{index:03d}", "VM-Docker", "busybox:latest")
        for index in range(extra_containers)
    )
    return nodes


SCENARIOS: Final = {"reference": reference_nodes, "cluster": reference_nodes}

# Scenarios whose Proxmox hosts form one cluster: (cluster name, members).
# In ``cluster`` Machine1 (pve1) and Machine2 (pve2) are one two-node cluster;
# the nodes, guests and everything else are the reference homelab's.
CLUSTERS: Final = {"cluster": ("homelab", ("Machine1", "Machine2"))}
