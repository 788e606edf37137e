"""The children each host of an entry reported, kept across restarts.

A machine that is off at start-up still shows its children: every answering
host's listing is remembered and persisted (``.storage/wakehub.<entry id>``,
without the figures that change at every poll). The children the user does
not manage yet are *discovered* (the ``services_to_configure`` sensor).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from homeassistant.helpers.storage import Store

from .channels.base import ChildInfo, ChildKind
from .const import DOMAIN
from .core.model import PowerState
from .entry_channels import child_node_id
from .models import DiscoveredChild, stable_details

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from homeassistant.core import HomeAssistant

STORAGE_VERSION: Final = 1


def child_power(info: ChildInfo) -> PowerState:
    """A child's polled power state.

    A Proxmox guest is off only when Proxmox says ``stopped``: ``unknown``
    (``pvestatd`` has not published it yet, just after the node booted) and
    QEMU's other words (``paused``, ``suspended``, ``inmigrate``...) are not
    off, and a start must not skip a paused VM as if it were on. A start or
    a stop then reads the guest's live status before acting.
    """
    if info.running:
        return PowerState.ON
    if info.kind is ChildKind.CONTAINER or info.status == "stopped":
        return PowerState.OFF
    return PowerState.UNKNOWN


def _child_to_json(info: ChildInfo) -> dict[str, Any]:
    """Serialise a child for the store (without the volatile figures)."""
    return {
        "key": info.key,
        "kind": str(info.kind),
        "name": info.name,
        "details": stable_details(info.details),
    }


def _child_from_json(raw: Mapping[str, Any]) -> ChildInfo:
    """Rebuild a persisted child; it is shown ``off`` until its host answers."""
    return ChildInfo(
        key=str(raw["key"]),
        kind=ChildKind(raw["kind"]),
        name=str(raw["name"]),
        running=False,
        status="unknown",
        details=dict(raw.get("details", {})),
    )


def _store(hass: HomeAssistant, entry_id: str) -> Store[dict[str, Any]]:
    """The store of an entry's last known tree."""
    return Store(hass, STORAGE_VERSION, f"{DOMAIN}.{entry_id}")


async def async_remove_persisted_tree(hass: HomeAssistant, entry_id: str) -> None:
    """Forget the persisted tree of an entry that is being removed."""
    await _store(hass, entry_id).async_remove()


class KnownChildren:
    """Every host's last listing, by host id then child key."""

    def __init__(self, hass: HomeAssistant, entry_id: str) -> None:
        """Nothing known before :meth:`async_load`."""
        self._store = _store(hass, entry_id)
        self._stored: dict[str, Any] | None = None
        self._known: dict[str, dict[str, ChildInfo]] = {}

    async def async_load(self) -> None:
        """Read the last known listings."""
        stored = await self._store.async_load()
        if stored:
            self._stored = stored
            self._known = {
                host: {raw["key"]: _child_from_json(raw) for raw in children}
                for host, children in stored.get("children", {}).items()
            }

    async def async_remember(
        self, read: Mapping[str, dict[str, ChildInfo] | None]
    ) -> None:
        """Keep the children each answering host listed, and persist changes."""
        for host, children in read.items():
            if children is not None:
                self._known[host] = dict(children)
        stored = {
            "children": {
                host: [_child_to_json(info) for info in children.values()]
                for host, children in sorted(self._known.items())
            }
        }
        if stored != self._stored:
            self._stored = stored
            await self._store.async_save(stored)

    def discovered(
        self, hosts: Iterable[str], managed: Mapping[str, Any]
    ) -> dict[str, tuple[DiscoveredChild, ...]]:
        """The known children of each of ``hosts`` that are not ``managed``."""
        discovered: dict[str, tuple[DiscoveredChild, ...]] = {}
        for host in hosts:
            found = []
            for info in self._known.get(host, {}).values():
                node_id = child_node_id(host, info)
                if node_id not in managed:
                    found.append(
                        DiscoveredChild(node_id=node_id, host_id=host, info=info)
                    )
            discovered[host] = tuple(sorted(found, key=lambda c: c.info.name.lower()))
        return discovered
