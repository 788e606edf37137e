"""Nodes, kinds, states and channels."""

from __future__ import annotations

import dataclasses

import pytest

from custom_components.wakehub.core import (
    Capability,
    Channel,
    InvalidNodeError,
    Node,
    NodeKind,
    PowerState,
    TopologyError,
    is_active,
)


@pytest.mark.parametrize(
    ("state", "active"),
    [
        (PowerState.ON, True),
        (PowerState.OFF, False),
        (PowerState.STARTING, True),
        (PowerState.STOPPING, True),
        (PowerState.ERROR, True),
        (PowerState.UNKNOWN, True),
        (None, False),
    ],
)
def test_is_active(state: PowerState | None, active: bool) -> None:
    """Anything but OFF is active; error and unknown count, to be safe."""
    assert is_active(state) is active


@pytest.mark.parametrize(
    ("kind", "confirm", "expected"),
    [
        (NodeKind.MACHINE, None, True),
        (NodeKind.VM, None, False),
        (NodeKind.LXC, None, False),
        (NodeKind.CONTAINER, None, False),
        (NodeKind.MACHINE, False, False),
        (NodeKind.CONTAINER, True, True),
    ],
)
def test_needs_confirmation(
    kind: NodeKind, confirm: bool | None, expected: bool
) -> None:
    """Machines ask by default, guests do not; the node setting wins."""
    parent = None if kind is NodeKind.MACHINE else "p"
    node = Node(id="n", kind=kind, name="n", parent=parent, confirm_shutdown=confirm)
    assert node.needs_confirmation is expected


def test_node_is_frozen_and_keyword_only() -> None:
    """A node is an immutable value built by keyword."""
    node = Node(id="n", kind=NodeKind.MACHINE, name="NAS")
    with pytest.raises(dataclasses.FrozenInstanceError):
        node.name = "other"  # type: ignore[misc]
    with pytest.raises(TypeError):
        Node("n", NodeKind.MACHINE, "NAS")  # type: ignore[misc]
    assert node.parent is None
    assert node.capabilities == frozenset()
    assert node.shutdown_channel is Channel.SSH


@pytest.mark.parametrize(
    ("kind", "start", "stop"),
    [
        (NodeKind.MACHINE, Channel.WOL, Channel.SSH),
        (NodeKind.VM, Channel.PROXMOX, Channel.PROXMOX),
        (NodeKind.LXC, Channel.PROXMOX, Channel.PROXMOX),
        (NodeKind.CONTAINER, Channel.DOCKER, Channel.DOCKER),
    ],
)
def test_channels_follow_the_kind(
    kind: NodeKind, start: Channel, stop: Channel
) -> None:
    """The channel is deduced, never configured."""
    node = Node(id="n", kind=kind, name="n", parent="p")
    assert node.start_channel is start
    assert node.stop_channel is stop


def test_machine_may_shut_down_through_proxmox() -> None:
    """A Proxmox machine may use the node-shutdown API."""
    node = Node(
        id="m",
        kind=NodeKind.MACHINE,
        name="Machine1",
        capabilities=frozenset({Capability.PROXMOX}),
        shutdown_channel=Channel.PROXMOX,
    )
    assert node.stop_channel is Channel.PROXMOX
    assert node.start_channel is Channel.WOL


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"id": "", "kind": NodeKind.MACHINE}, "empty_node_id"),
        (
            {
                "kind": NodeKind.CONTAINER,
                "capabilities": frozenset({Capability.DOCKER}),
            },
            "capability_not_allowed",
        ),
        (
            {"kind": NodeKind.VM, "capabilities": frozenset({Capability.PROXMOX})},
            "capability_not_allowed",
        ),
        (
            {"kind": NodeKind.MACHINE, "shutdown_channel": Channel.PROXMOX},
            "invalid_shutdown_channel",
        ),
        (
            {
                "kind": NodeKind.MACHINE,
                "capabilities": frozenset(Capability),
                "shutdown_channel": Channel.WOL,
            },
            "invalid_shutdown_channel",
        ),
        (
            {"kind": NodeKind.VM, "shutdown_channel": Channel.PROXMOX},
            "invalid_shutdown_channel",
        ),
    ],
)
def test_invalid_nodes_are_refused(kwargs: dict[str, object], code: str) -> None:
    """Settings that contradict the kind raise InvalidNodeError with a code."""
    arguments: dict[str, object] = {"id": "n", "name": "Thing", **kwargs}
    with pytest.raises(InvalidNodeError) as caught:
        Node(**arguments)  # type: ignore[arg-type]
    assert isinstance(caught.value, TopologyError)
    assert caught.value.code == code
    assert caught.value.placeholders["node"] == "Thing"
