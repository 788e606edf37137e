"""The reference homelab (docs/design.md, "The reference homelab"), as a topology.

Other test suites import it::

    from tests.core.reference import ID, build_reference_topology

``ID`` maps each display name to its node id; the fake MACs are
``02:00:00:00:00:0N``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from custom_components.wakehub.core import (
    Capability,
    Node,
    NodeKind,
    PowerState,
    Step,
    Topology,
    container_id,
    guest_id,
    machine_id,
)

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

NAS_ID: Final = machine_id("02:00:00:00:00:01")
MACHINE1_ID: Final = machine_id("02:00:00:00:00:02")
MACHINE2_ID: Final = machine_id("02:00:00:00:00:03")
RASPBERRY_PI_ID: Final = machine_id("02:00:00:00:00:04")
VM_DOCKER_ID: Final = guest_id(MACHINE1_ID, 101)
VM_UBUNTU_ID: Final = guest_id(MACHINE1_ID, 102)
HOME_ASSISTANT_ID: Final = guest_id(MACHINE2_ID, 201)
JELLYFIN_ID: Final = guest_id(MACHINE2_ID, 202)
CLOUDFLARED_ID: Final = guest_id(MACHINE2_ID, 203)

ID: Final[dict[str, str]] = {
    "NAS": NAS_ID,
    "Machine1": MACHINE1_ID,
    "VM-Docker": VM_DOCKER_ID,
    "sandbox": container_id(VM_DOCKER_ID, "sandbox"),
    "plex": container_id(VM_DOCKER_ID, "plex"),
    "VM-Ubuntu": VM_UBUNTU_ID,
    "Machine2": MACHINE2_ID,
    "Home-Assistant": HOME_ASSISTANT_ID,
    "Jellyfin": JELLYFIN_ID,
    "Cloudflared": CLOUDFLARED_ID,
    "RaspberryPi": RASPBERRY_PI_ID,
    "pihole": container_id(RASPBERRY_PI_ID, "pihole"),
    "uptime-kuma": container_id(RASPBERRY_PI_ID, "uptime-kuma"),
}
"""Node id by display name, in the table's order."""

NAME: Final[dict[str, str]] = {node_id: name for name, node_id in ID.items()}
"""Display name by node id."""

PROXMOX: Final = frozenset({Capability.PROXMOX})
DOCKER: Final = frozenset({Capability.DOCKER})

REFERENCE_NODES: Final[tuple[Node, ...]] = (
    Node(id=ID["NAS"], kind=NodeKind.MACHINE, name="NAS"),
    Node(id=ID["Machine1"], kind=NodeKind.MACHINE, name="Machine1", capabilities=PROXMOX),
    Node(id=ID["VM-Docker"], kind=NodeKind.VM, name="VM-Docker", parent=ID["Machine1"], capabilities=DOCKER),
    Node(id=ID["sandbox"], kind=NodeKind.CONTAINER, name="sandbox", parent=ID["VM-Docker"]),
    Node(id=ID["plex"], kind=NodeKind.CONTAINER, name="plex", parent=ID["VM-Docker"]),
    Node(id=ID["VM-Ubuntu"], kind=NodeKind.VM, name="VM-Ubuntu", parent=ID["Machine1"]),
    Node(id=ID["Machine2"], kind=NodeKind.MACHINE, name="Machine2", capabilities=PROXMOX),
    Node(id=ID["Home-Assistant"], kind=NodeKind.VM, name="Home-Assistant", parent=ID["Machine2"]),
    Node(id=ID["Jellyfin"], kind=NodeKind.LXC, name="Jellyfin", parent=ID["Machine2"]),
    Node(id=ID["Cloudflared"], kind=NodeKind.LXC, name="Cloudflared", parent=ID["Machine2"]),
    Node(id=ID["RaspberryPi"], kind=NodeKind.MACHINE, name="RaspberryPi", capabilities=DOCKER),
    Node(id=ID["pihole"], kind=NodeKind.CONTAINER, name="pihole", parent=ID["RaspberryPi"]),
    Node(id=ID["uptime-kuma"], kind=NodeKind.CONTAINER, name="uptime-kuma", parent=ID["RaspberryPi"]),
)  # fmt: skip
"""Every node of the reference homelab, parents before children."""

REFERENCE_DEPENDENCIES: Final[tuple[tuple[str, str], ...]] = (
    ("sandbox", "Jellyfin"),
    ("plex", "NAS"),
    ("Jellyfin", "NAS"),
)
"""The dependency edges, as (dependent, dependency) display names."""

SANDBOX_COLD_START: Final = (
    "NAS",
    "Machine2",
    "Jellyfin",
    "Machine1",
    "VM-Docker",
    "sandbox",
)
"""The start of sandbox from a cold homelab, in plan order (display names)."""


def build_reference_topology() -> Topology:
    """Return a fresh topology of the reference homelab."""
    topology = Topology()
    for node in REFERENCE_NODES:
        topology.add_node(node)
    for dependent, dependency in REFERENCE_DEPENDENCIES:
        topology.add_dependency(ID[dependent], ID[dependency])
    return topology


def states_of(
    on: Iterable[str] = (), default: PowerState = PowerState.OFF
) -> dict[str, PowerState]:
    """Return a state for every node: ``on`` (display names) ON, others ``default``."""
    running = set(on)
    return {
        node_id: PowerState.ON if name in running else default
        for name, node_id in ID.items()
    }


def named(steps: Iterable[Step]) -> list[tuple[str, str, str, str, str | None]]:
    """Render steps as (node, action, channel, reason, reason of), by display names."""
    return [
        (
            NAME[step.node],
            str(step.action),
            str(step.channel),
            str(step.reason.kind),
            None if step.reason.of is None else NAME[step.reason.of],
        )
        for step in steps
    ]


def names(node_ids: Iterable[str], lookup: Mapping[str, str] = NAME) -> list[str]:
    """Render node ids as display names."""
    return [lookup[node_id] for node_id in node_ids]
