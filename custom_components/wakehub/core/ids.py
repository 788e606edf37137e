"""Stable, readable node identifiers.

Dependency edges and Home Assistant unique IDs refer to node ids, so an id must
survive renames, reboots and container re-creation:

* a machine is its normalised MAC address (``aa:bb:cc:dd:ee:ff``);
* a Proxmox guest is its machine plus its vmid (``aa:bb:cc:dd:ee:ff/101``);
* a container is its host plus its *name* (``<host id>/docker/plex``), because
  Docker gives a container a new ID every time it is recreated.
"""

from __future__ import annotations

import re

from .errors import InvalidMacError

_MAC_SEPARATED = re.compile(r"[0-9a-f]{2}([:-])(?:[0-9a-f]{2}\1){4}[0-9a-f]{2}")
_MAC_DOTTED = re.compile(r"[0-9a-f]{4}\.[0-9a-f]{4}\.[0-9a-f]{4}")
_MAC_BARE = re.compile(r"[0-9a-f]{12}")
_MAC_SEPARATORS = re.compile(r"[:.-]")


def normalize_mac(value: str) -> str:
    """Return ``value`` as a lowercase, colon-separated MAC address.

    Accepted forms, in any case and with surrounding whitespace ignored:
    ``aa:bb:cc:dd:ee:ff``, ``aa-bb-cc-dd-ee-ff`` (one separator throughout),
    ``aabb.ccdd.eeff`` and ``aabbccddeeff``. Anything else raises
    :class:`InvalidMacError`.
    """
    text = value.strip().lower()
    if _MAC_SEPARATED.fullmatch(text) or _MAC_DOTTED.fullmatch(text):
        digits = _MAC_SEPARATORS.sub("", text)
    elif _MAC_BARE.fullmatch(text):
        digits = text
    else:
        raise InvalidMacError(value)
    return ":".join(digits[i : i + 2] for i in range(0, 12, 2))


def machine_id(mac: str) -> str:
    """Return the node id of the machine whose NIC has ``mac``."""
    return normalize_mac(mac)


def guest_id(machine_id: str, vmid: int) -> str:
    """Return the node id of Proxmox guest ``vmid`` on ``machine_id``."""
    if isinstance(vmid, bool) or vmid < 1:
        raise ValueError(f"Invalid Proxmox vmid {vmid!r}: expected a positive integer")
    return f"{machine_id}/{vmid}"


def container_id(host_id: str, name: str) -> str:
    """Return the node id of the container called ``name`` on ``host_id``.

    Docker's API reports names with a leading ``/`` (``/plex``); it is dropped,
    so both spellings give the same id.
    """
    bare = name.strip().removeprefix("/")
    if not bare:
        raise ValueError(f"Invalid container name {name!r}")
    return f"{host_id}/docker/{bare}"
