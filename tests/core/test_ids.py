"""Node ids: MAC normalisation, guest and container ids."""

from __future__ import annotations

import pytest

from custom_components.wakehub.core import (
    CoreError,
    InvalidMacError,
    container_id,
    guest_id,
    machine_id,
    normalize_mac,
)


@pytest.mark.parametrize(
    "value",
    [
        "aa:bb:cc:dd:ee:ff",
        "AA:BB:CC:DD:EE:FF",
        "aa-bb-cc-dd-ee-ff",
        "Aa-Bb-cC-dD-eE-fF",
        "aabb.ccdd.eeff",
        "AABB.CCDD.EEFF",
        "aabbccddeeff",
        "AABBCCDDEEFF",
        "  aa:bb:cc:dd:ee:ff\n",
        "\taabbccddeeff ",
    ],
)
def test_normalize_mac_accepts_common_forms(value: str) -> None:
    """Every usual spelling normalises to lowercase, colon-separated."""
    assert normalize_mac(value) == "aa:bb:cc:dd:ee:ff"


@pytest.mark.parametrize(
    "value",
    [
        "",
        "   ",
        "aa:bb:cc:dd:ee",
        "aa:bb:cc:dd:ee:ff:00",
        "aa:bb:cc:dd:ee:fg",
        "aa-bb:cc-dd:ee-ff",
        "aa:bb:cc:dd:ee-ff",
        "aabb.ccdd.eef",
        "aabb:ccdd:eeff",
        "aabbccddeef",
        "aabbccddeeff0",
        "a:b:c:d:e:f",
        "aa bb cc dd ee ff",
        "aa:bb:cc:dd:ee:ff:",
        "zzzzzzzzzzzz",
    ],
)
def test_normalize_mac_refuses_anything_else(value: str) -> None:
    """Malformed MACs raise InvalidMacError, a ValueError naming the input."""
    with pytest.raises(InvalidMacError) as caught:
        normalize_mac(value)
    assert isinstance(caught.value, ValueError)
    assert isinstance(caught.value, CoreError)
    assert caught.value.code == "invalid_mac"
    assert caught.value.placeholders == {"mac": value}
    assert caught.value.value == value
    assert repr(value) in str(caught.value)


def test_machine_id_is_the_normalised_mac() -> None:
    """A machine is identified by its MAC."""
    assert machine_id("02-00-00-00-00-0A") == "02:00:00:00:00:0a"
    with pytest.raises(InvalidMacError):
        machine_id("nope")


def test_guest_id() -> None:
    """A guest is its machine plus its vmid."""
    assert guest_id("02:00:00:00:00:02", 101) == "02:00:00:00:00:02/101"


@pytest.mark.parametrize("vmid", [0, -1, True])
def test_guest_id_refuses_invalid_vmid(vmid: int) -> None:
    """A vmid is a positive integer."""
    with pytest.raises(ValueError, match="vmid"):
        guest_id("02:00:00:00:00:02", vmid)


@pytest.mark.parametrize("name", ["plex", "/plex", " /plex "])
def test_container_id(name: str) -> None:
    """A container is its host plus its name, without Docker's leading slash."""
    assert container_id("h/101", name) == "h/101/docker/plex"


@pytest.mark.parametrize("name", ["", "/", "  "])
def test_container_id_refuses_empty_name(name: str) -> None:
    """An empty name cannot identify a container."""
    with pytest.raises(ValueError, match="container name"):
        container_id("h", name)
