"""Proxmox VE channel: what the API says about the cluster and a guest
(``/cluster/status``, ``status/current``). See
:mod:`.proxmox`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

_MIGRATING = frozenset({"inmigrate", "postmigrate", "finish-migrate"})


@dataclass(frozen=True, slots=True, kw_only=True)
class ClusterMember:
    """One node of ``GET /cluster/status``."""

    name: str
    ip: str | None
    online: bool
    local: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class ClusterStatus:
    """``GET /cluster/status``: the cluster's name (``None`` when standalone)."""

    name: str | None
    quorate: bool
    members: tuple[ClusterMember, ...]


STOP_MARGIN = 30.0
"""Seconds WakeHub waits beyond Proxmox's own shutdown window."""


@dataclass(frozen=True, slots=True)
class GuestStatus:
    """A guest's live ``status/current``: the words Proxmox really uses.

    ``status`` is QEMU's ``qmpstatus`` when present (``running``, ``paused``,
    ``suspended``, ``prelaunch``, ``inmigrate``...), else ``status``.
    """

    key: str
    kind: str
    status: str
    lock: str | None = None
    ha_managed: bool = False
    ha_state: str | None = None
    agent: bool = False
    uptime: int = 0

    @classmethod
    def from_current(cls, key: str, kind: str, data: dict[str, Any]) -> GuestStatus:
        """Read ``status/current``'s answer."""
        ha = data.get("ha") or {}
        return cls(
            key=key,
            kind=kind,
            status=str(data.get("qmpstatus") or data.get("status") or "unknown"),
            lock=str(data["lock"]) if data.get("lock") else None,
            ha_managed=bool(int(ha.get("managed") or 0)),
            ha_state=str(ha["state"]) if ha.get("state") else None,
            agent=str(data.get("agent") or "0") in ("1", "enabled=1"),
            uptime=int(data.get("uptime") or 0),
        )

    @property
    def running(self) -> bool:
        """Whether the guest runs (a paused VM does not)."""
        return self.status == "running"

    @property
    def migrating(self) -> bool:
        """Whether a migration of the guest is under way."""
        return self.lock == "migrate" or self.status in _MIGRATING

    @property
    def noun(self) -> str:
        """``VM`` or ``CT``, as Proxmox names guests."""
        return "VM" if self.kind == "qemu" else "CT"

    def describe(self) -> str:
        """``VM 101 is paused`` (with its lock, if any)."""
        lock = f", locked ({self.lock})" if self.lock else ""
        return f"{self.noun} {self.key} is {self.status}{lock}"
