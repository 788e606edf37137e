"""Proxmox VE channel: the node. Cluster membership and identity, quorum,
privileges, the cluster CA, tasks and the node shutdown. See
:mod:`.proxmox`."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import ipaddress

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from .errors import (
    ApiError,
    ChannelError,
    ChannelTimeoutError,
    InvalidConfigError,
    NodeIdentityError,
    NoQuorumError,
    NotFoundError,
    PermissionDeniedError,
    TaskFailedError,
)
from .proxmox_config import issued_by
from .proxmox_session import ProxmoxConnection
from .proxmox_status import ClusterMember, ClusterStatus

TASK_READ_BUDGET = 4
"""The calls to one Proxmox API, in any second, after which a task's status
read waits: with a refresh, at most 5 (docs/design.md, "Readiness")."""


def _ip_address(
    value: str | None,
) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """``value`` as an IP address, or ``None`` (a host name, nothing)."""
    if not value:
        return None
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        return None


def _task_succeeded(exitstatus: str) -> bool:
    """``OK`` and ``WARNINGS: N`` are successes; anything else is an error."""
    return exitstatus == "OK" or exitstatus.startswith("WARNINGS")


class ProxmoxNode(ProxmoxConnection):
    """The node itself: which cluster member the API is, its privileges, its
    CA, its quorum, its tasks and its own power."""

    async def cluster_status(self) -> ClusterStatus:
        """``GET /cluster/status``: the cluster (if any), its quorum and members.

        Needs Sys.Audit. A standalone node lists only itself and is quorate.
        """
        entries = await self._call(lambda api: api.cluster.status.get())
        name: str | None = None
        quorate = True
        members: list[ClusterMember] = []
        for item in entries or []:
            if item.get("type") == "cluster":
                name = str(item.get("name") or "") or None
                quorate = bool(item.get("quorate", 1))
            elif item.get("type") == "node" and item.get("name"):
                members.append(
                    ClusterMember(
                        name=str(item["name"]),
                        ip=str(item["ip"]) if item.get("ip") else None,
                        online=bool(item.get("online")),
                        local=bool(item.get("local")),
                    )
                )
        return ClusterStatus(name=name, quorate=quorate, members=tuple(members))

    async def identify_node(self, machine_host: str | None = None) -> str:
        """The name of the node this API runs on (``local`` in ``/cluster/status``).

        ``machine_host`` is the machine's own address: when it is an IP
        address that another member has, and not the answering node, the API
        belongs to another machine and ``NodeIdentityError`` is raised, as it
        is when no single member is marked ``local``.
        """
        status = await self.cluster_status()
        local = [member for member in status.members if member.local]
        if len(local) != 1:
            raise NodeIdentityError(
                f"{self._where} does not say which node it is "
                f"({len(local)} of {len(status.members)} members marked local)"
            )
        node = local[0]
        address = _ip_address(machine_host)
        if address is not None and _ip_address(node.ip) != address:
            owners = [
                member.name
                for member in status.members
                if _ip_address(member.ip) == address
            ]
            if owners:
                raise NodeIdentityError(
                    f"{self._where} is node {node.name}, but the machine's address "
                    f"{machine_host} is node {owners[0]}'s"
                )
        return node.name

    async def check_identity(self, machine_host: str | None = None) -> str:
        """Check that the configured node is the one this API runs on; return it.

        An empty configured node becomes the discovered one. A configured
        node that is another cluster member raises ``NodeIdentityError``: its
        guests and its power belong to another machine.
        """
        node = await self.identify_node(machine_host)
        if not self.config.node:
            self.config = dataclasses.replace(self.config, node=node)
        elif self.config.node != node:
            raise NodeIdentityError(
                f"{self._where} is node {node}, not {self.config.node}"
            )
        return node

    async def privileges(self) -> frozenset[str]:
        """Every privilege the credentials hold, on any path (access/permissions)."""
        permissions = await self._call(lambda api: api.access.permissions.get())
        held: set[str] = set()
        for privileges in (permissions or {}).values():
            if isinstance(privileges, dict):
                held.update(str(name) for name, value in privileges.items() if value)
        return frozenset(held)

    async def certificate_authority(self) -> str | None:
        """The cluster CA (PEM) that signed the certificate this node serves.

        Read from ``GET /nodes/{node}/certificates/info`` (Sys.Audit), over
        the connection the configuration already trusts (the pinned node
        certificate). ``None`` when the node serves a certificate that CA did
        not sign (an uploaded or ACME certificate), or the CA cannot be read.
        """
        node = self.config.node
        try:
            infos = await self._call(
                lambda api: api.nodes(node).certificates.info.get()
            )
        except (PermissionDeniedError, NotFoundError, ApiError):
            return None
        by_name = {str(info.get("filename")): info for info in infos or []}
        ca = str(by_name.get("pve-root-ca.pem", {}).get("pem") or "")
        # A custom certificate (uploaded, ACME) is served instead of pve-ssl.pem.
        served = by_name.get("pveproxy-ssl.pem") or by_name.get("pve-ssl.pem") or {}
        try:
            der = x509.load_pem_x509_certificate(
                str(served.get("pem") or "").encode()
            ).public_bytes(serialization.Encoding.DER)
            return ca if issued_by(der, ca) else None
        except (ValueError, InvalidConfigError):
            return None

    async def _no_quorum(self, err: NoQuorumError) -> NoQuorumError:
        """The same error, naming the cluster members that are offline."""
        try:
            status = await self.cluster_status()
        except ChannelError:
            return err
        offline = tuple(m.name for m in status.members if not m.online)
        cluster = f"cluster {status.name}" if status.name else "the cluster"
        verb = "is" if len(offline) == 1 else "are"
        detail = f", {', '.join(offline)} {verb} offline" if offline else ""
        return NoQuorumError(
            f"{cluster} has no quorum{detail}: {err.message}", offline=offline
        )

    async def node_shutdown(self) -> None:
        """Power the node itself off (needs Sys.PowerMgmt). No task is returned."""
        await self._ensure_identity()
        node = self.config.node
        await self._call(lambda api: api.nodes(node).status.post(command="shutdown"))

    async def _ensure_identity(self) -> None:
        """Before the first power action: the API must be the configured node.

        Once per channel (one ``GET /cluster/status``): in a cluster any
        member's API would forward the action to the configured node, so an
        entry naming another member (as set up before WakeHub read the node
        from ``/cluster/status``) would power that member's guests, or that
        member itself. Credentials without Sys.Audit cannot read it; the
        action then goes ahead unchecked, as before.
        """
        if self._identity_checked:
            return
        with contextlib.suppress(PermissionDeniedError):
            await self.check_identity(self.config.host)
        self._identity_checked = True

    async def wait_task(self, upid: str, *, max_wait: float | None = None) -> None:
        """Poll ``/nodes/{node}/tasks/{upid}/status`` until the task stops.

        A task ending with anything but ``OK``/``WARNINGS`` raises
        ``TaskFailedError`` carrying its ``exitstatus``.
        """
        node = upid.split(":")[1] if upid.count(":") >= 8 else self.config.node
        # A task often ends within a second: the first look comes after a
        # fifth of the poll interval (one read at once, while the task has
        # only just begun, would be a request spent on "running"), then the
        # reads back off to a quarter of it.
        delay = self.task_poll_interval / 5
        try:
            async with asyncio.timeout(max_wait or self.task_timeout):
                await asyncio.sleep(delay)
                while True:
                    status = await self._call(
                        lambda api: api.nodes(node).tasks(upid).status.get()
                    )
                    if status.get("status") == "stopped":
                        exitstatus = str(status.get("exitstatus", ""))
                        if _task_succeeded(exitstatus):
                            return
                        raise TaskFailedError(exitstatus or "task failed")
                    # At most a quarter of the interval between reads (a task
                    # is seen done soon after it is), within the host's budget
                    # shared with the refreshes and readiness checks.
                    await asyncio.sleep(
                        max(delay, self.budget.room_in(TASK_READ_BUDGET))
                    )
                    delay = min(delay * 1.5, self.task_poll_interval / 4)
        except TimeoutError as err:
            raise ChannelTimeoutError(f"task {upid} did not finish in time") from err
