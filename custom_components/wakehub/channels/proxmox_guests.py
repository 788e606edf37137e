"""Proxmox VE channel: the guests. One listing request, each guest's live
state, and their power. See :mod:`.proxmox`."""

from __future__ import annotations

import asyncio
import re
from typing import Any

from .base import ChildInfo, ChildKind
from .errors import (
    ApiError,
    ChannelTimeoutError,
    InvalidConfigError,
    NoQuorumError,
    NotFoundError,
    TaskFailedError,
)
from .proxmox_config import FORCE_STOP_GRACE, LXC_STOP_GRACE, PROXMOX_SHUTDOWN_TIMEOUT
from .proxmox_node import ProxmoxNode
from .proxmox_status import STOP_MARGIN, GuestStatus

_GUEST_TYPES = {"qemu": ChildKind.VM, "lxc": ChildKind.LXC}
_DETAIL_FIELDS = ("cpu", "maxcpu", "mem", "maxmem", "uptime", "netin", "netout")
_RESUMABLE = frozenset({"paused", "suspended", "prelaunch"})
"""QMP states a ``status/resume`` brings back to ``running`` (qemu-server)."""
_STARTUP_DOWN = re.compile(r"(?:^|,)down=(\d+)")


class ProxmoxGuests(ProxmoxNode):
    """The node's VMs and LXCs: the listing, each guest's live state, and
    their power (start, shutdown, resume, migrations and HA awaited)."""

    async def read_states(self) -> dict[str, ChildInfo]:
        """Every guest of the node, keyed by vmid, in ONE request.

        In a cluster the same answer lists the other members' guests: they
        are not this node's, and are only remembered in :attr:`elsewhere`
        (a vmid is unique in a cluster), so a guest that migrated away can
        be followed to its new node.
        """
        resources = await self._call(lambda api: api.cluster.resources.get(type="vm"))
        states: dict[str, ChildInfo] = {}
        elsewhere: dict[str, str] = {}
        for item in resources or []:
            kind = _GUEST_TYPES.get(str(item.get("type")))
            node = item.get("node")
            if kind is None or node != self.config.node or item.get("template"):
                if kind is not None and node and "vmid" in item:
                    elsewhere[str(item["vmid"])] = str(node)
                continue
            key = str(item["vmid"])
            status = str(item.get("status", "unknown"))
            states[key] = ChildInfo(
                key=key,
                kind=kind,
                name=str(item.get("name") or key),
                running=status == "running",
                status=status,
                details={f: item[f] for f in _DETAIL_FIELDS if f in item},
            )
        self._kinds = {key: info.kind for key, info in states.items()}
        self.elsewhere = elsewhere
        return states

    async def _kind(self, key: str) -> str:
        """``qemu`` or ``lxc`` for a vmid (read from the last ``read_states``)."""
        if key not in self._kinds:
            await self.read_states()
        if key not in self._kinds:
            raise NotFoundError(f"guest {key} does not exist on {self.config.node}")
        return "qemu" if self._kinds[key] is ChildKind.VM else "lxc"

    async def _path(self, key: str) -> tuple[str, str]:
        """The node and the ``qemu``/``lxc`` collection of a guest."""
        return self.config.node, await self._kind(key)

    async def current(self, key: str) -> GuestStatus:
        """The guest's live state: ONE ``GET .../{vmid}/status/current``.

        Unlike ``/cluster/resources`` it is read from the node at once, so
        it is what the decision to act on a guest rests on.
        """
        node, kind = await self._path(key)
        data = await self._call(
            lambda api: getattr(api.nodes(node), kind)(key).status.current.get()
        )
        return GuestStatus.from_current(key, kind, dict(data or {}))

    async def _task(self, key: str, action: str, **data: str) -> Any:
        """POST a guest action; return its UPID.

        The first one checks that the API is the configured node.
        """
        await self._ensure_identity()
        node, kind = await self._path(key)
        return await self._call(
            lambda api: getattr(api.nodes(node), kind)(key).status(action).post(**data)
        )

    async def _guest_action(
        self,
        key: str,
        action: str,
        *,
        idempotent: str,
        max_wait: float | None = None,
        **data: str,
    ) -> None:
        """POST a guest power action and await its task.

        A platform answer containing ``idempotent`` (``already running``,
        ``not running``) means the guest is already where we want it.
        """
        try:
            upid = await self._task(key, action, **data)
        except NoQuorumError as err:
            raise await self._no_quorum(err) from err
        except ApiError as err:
            if idempotent in err.message:
                return
            raise
        try:
            await self.wait_task(str(upid), max_wait=max_wait or self.task_timeout)
        except TaskFailedError as err:
            if not err.message.endswith(idempotent):
                raise

    async def start(self, key: str) -> None:
        """Start a guest and wait for its task to finish."""
        await self._guest_action(key, "start", idempotent="already running")

    async def shutdown(
        self,
        key: str,
        *,
        timeout: int | None = None,  # noqa: ASYNC109 - Proxmox's own parameter
        force_stop: bool | None = None,
        max_wait: float | None = None,
    ) -> None:
        """Shut a guest down gracefully (ACPI / init).

        With no ``timeout`` none is sent and Proxmox applies the guest's own
        (``startup: down=``); with ``force_stop`` the guest is killed once
        the window passes, otherwise the task fails and the guest keeps
        running. The task is awaited ``max_wait`` seconds, by default the
        whole window (:meth:`shutdown_window`) plus :data:`STOP_MARGIN`.
        """
        seconds = self.shutdown_timeout if timeout is None else timeout
        force = self.force_stop if force_stop is None else force_stop
        data: dict[str, str] = {}
        if seconds is not None:
            data["timeout"] = str(seconds)
        if force:
            data["forceStop"] = "1"
        if max_wait is None:
            window = await self.shutdown_window(key, timeout=seconds, force_stop=force)
            max_wait = max(self.task_timeout, window + STOP_MARGIN)
        await self._guest_action(
            key, "shutdown", idempotent="not running", max_wait=max_wait, **data
        )

    async def shutdown_window(
        self,
        key: str,
        *,
        timeout: int | None = None,  # noqa: ASYNC109 - Proxmox's own parameter
        force_stop: bool = False,
    ) -> float:
        """Seconds Proxmox may spend on a shutdown of this guest.

        The ``timeout`` sent, else the guest's ``startup: down=`` (one
        ``GET .../config``), else Proxmox's default; plus the LXC task's own
        grace and, when forced, the time the kill takes.
        """
        kind = await self._kind(key)
        if timeout is None:
            node = self.config.node
            config = await self._call(
                lambda api: getattr(api.nodes(node), kind)(key).config.get()
            )
            match = _STARTUP_DOWN.search(str((config or {}).get("startup") or ""))
            timeout = int(match.group(1)) if match else PROXMOX_SHUTDOWN_TIMEOUT
        window = float(timeout)
        if kind == "lxc":
            window += LXC_STOP_GRACE
        if force_stop:
            window += FORCE_STOP_GRACE
        return window

    async def stop(self, key: str) -> None:
        """``HostApi.stop``: a graceful shutdown with the channel's defaults."""
        await self.shutdown(key)

    async def hard_stop(self, key: str) -> None:
        """Stop a guest immediately (pulls the virtual plug)."""
        await self._guest_action(key, "stop", idempotent="not running")

    async def resume(self, key: str) -> None:
        """Resume a paused or suspended VM (``status/resume``) and await its task."""
        upid = await self._task(key, "resume")
        await self.wait_task(str(upid))

    async def _settled(self, key: str, deadline: float) -> GuestStatus:
        """The guest's live state once no migration is under way.

        A guest that migrated away is reported as such; one still migrating
        at ``deadline`` (loop time) raises ``ChannelTimeoutError``.
        """
        loop = asyncio.get_running_loop()
        migrating = False
        while True:
            try:
                status = await self.current(key)
            except NotFoundError as err:
                if not migrating:
                    raise
                raise NotFoundError(
                    f"guest {key} migrated away from node {self.config.node}",
                    code="guest_migrated",
                ) from err
            if not status.migrating:
                return status
            migrating = True
            if loop.time() >= deadline:
                raise ChannelTimeoutError(
                    f"guest {key} is still migrating ({status.describe()})",
                    code="guest_migrating",
                )
            await asyncio.sleep(self.task_poll_interval)

    async def power_guest(
        self,
        key: str,
        start: bool,
        *,
        wait: float,
        timeout: int | None = None,  # noqa: ASYNC109 - Proxmox's own parameter
        force_stop: bool | None = None,
    ) -> bool:
        """Bring a guest to running (``start``) or stopped; return whether a
        command was sent (``False``: it already was there).

        The decision rests on the guest's live ``status/current`` (one
        request), not on the lagging ``/cluster/resources``: a migration in
        progress is waited for (``wait`` seconds at most); a paused or
        suspended VM is resumed rather than started; a state WakeHub cannot
        act from (``io-error``, ``internal-error``...) is a clear error. An
        HA-managed guest's ``hastart``/``hastop`` task only hands the request
        to the HA manager, so the guest's own state is awaited after it, up to
        ``wait``, and a timeout names the HA state.
        """
        deadline = asyncio.get_running_loop().time() + wait
        status = await self._settled(key, deadline)
        if start:
            if status.running:
                return False
            if status.status in _RESUMABLE and status.kind == "qemu":
                await self.resume(key)
                return True
            if status.status != "stopped":
                raise ApiError(
                    f"{status.describe()}: WakeHub cannot start it from that state",
                    code="guest_state",
                )
            await self.start(key)
        else:
            if status.status == "stopped":
                return False
            remaining = deadline - asyncio.get_running_loop().time()
            await self.shutdown(
                key,
                timeout=timeout,
                force_stop=force_stop,
                max_wait=max(remaining, self.task_poll_interval),
            )
        if status.ha_managed:
            await self._await_ha(key, start, deadline)
        return True

    async def _await_ha(self, key: str, start: bool, deadline: float) -> None:
        """Poll ``status/current`` until an HA-managed guest reached the goal."""
        loop = asyncio.get_running_loop()
        while True:
            status = await self.current(key)
            if status.running == start and status.status in ("running", "stopped"):
                return
            if loop.time() >= deadline:
                verb = "start" if start else "stop"
                raise ChannelTimeoutError(
                    f"Proxmox HA did not {verb} {status.noun} {key}; its HA state is "
                    f"{status.ha_state or 'unknown'} and it is {status.status}",
                    code="ha_timeout",
                )
            await asyncio.sleep(self.task_poll_interval)

    async def agent_ping(self, key: str) -> bool:
        """Whether the QEMU guest agent answers (ONE ``POST .../agent/ping``).

        ``False`` while the agent is not up yet (the VM is not running, or
        its OS has not started the agent); a VM without an agent configured
        is a configuration error.
        """
        node = self.config.node
        try:
            await self._call(lambda api: api.nodes(node).qemu(key).agent.ping.post())
        except ApiError as err:
            if "No QEMU guest agent configured" in err.message:
                raise InvalidConfigError(
                    f"VM {key} has no QEMU guest agent configured"
                ) from err
            if "not running" in err.message:
                return False
            raise
        return True
