"""The Proxmox VE API of a machine (``/api2/json`` over HTTPS).

Shapes, status codes, reason phrases and error bodies follow
docs/design.md, "The Proxmox VE API as WakeHub meets it"; proxmoxer talks
to it unmodified.

In a cluster scenario the API of each member answers for the whole cluster,
as pve-manager's does: ``GET /nodes`` and ``GET /cluster/resources`` list
every member and its guests, ``GET /cluster/status`` says which member
answered (``local: 1``), and a call for another member's node is proxied to
it (``proxyto => 'node'``, pve-http-server ``PVE/APIServer/AnyEvent.pm``).

It also behaves as a real node does where a naive simulator would be kinder
(each handler's docstring names its upstream source):

* ``/cluster/resources`` shows what ``pvestatd`` published on its last cycle
  (pve-manager ``PVE/Service/pvestatd.pm``, ``PVE/API2Tools.pm``): with a
  ``status_interval`` it lags the truth by up to that period and says
  ``unknown`` for that long after the machine booted; for QEMU its status
  is ``qmpstatus || status`` (``paused``, ``suspended``...);
* ``status/current`` is live (qemu-server ``PVE/API2/Qemu.pm``);
* a start task ends once QEMU is launched; the guest's services and its
  agent come up later (the homelab's two-phase boot);
* a shutdown without ``timeout`` uses the guest's ``startup: down=``;
  ``forceStop`` kills it once the window passed, and the log says so;
* HA-managed guests get ``hastart``/``hastop`` tasks that end at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
import json
import logging
import random
import re
import secrets
import time
from typing import TYPE_CHECKING, Any, Final

from aiohttp import web
from cryptography.hazmat.primitives import serialization

from . import metrics
from .crypto import fingerprint_sha256
from .model import Node, monotonic, wall_time

if TYPE_CHECKING:
    from .core import Homelab

HA_DELAY: Final = 1.0
"""Unscaled seconds the HA manager takes to act on a request."""

_LOGGER = logging.getLogger(__name__)

API_PREFIX: Final = "/api2/json"
SERVER: Final = "pve-api-daemon/3.0"
VERSION: Final = {"version": "9.2.11", "release": "9.2", "repoid": "c743d6c1"}
TICKET_LIFETIME: Final = 7200
AUTH_FAILURE_DELAY: Final = 3.0
NODE_SHUTDOWN_DELAY: Final = 2.0
NO_QUORUM: Final = "cluster not ready - no quorum?"
FAULT_REASONS: Final = {
    401: "Authentication failed!",
    403: "Permission check failed",
    500: "internal error",
    501: "Not Implemented",
    503: "Service Unavailable",
    595: "Connection refused",
}

# Parameters each power action accepts (PVE rejects anything else with a 400).
ACTION_PARAMS: Final = {
    ("qemu", "start"): {"timeout": "integer", "skiplock": "boolean"},
    ("qemu", "shutdown"): {
        "timeout": "integer",
        "forceStop": "boolean",
        "keepActive": "boolean",
        "skiplock": "boolean",
    },
    ("qemu", "stop"): {
        "timeout": "integer",
        "keepActive": "boolean",
        "skiplock": "boolean",
        "overrule-shutdown": "boolean",
    },
    ("lxc", "start"): {"skiplock": "boolean", "debug": "boolean"},
    ("lxc", "shutdown"): {"timeout": "integer", "forceStop": "boolean"},
    ("lxc", "stop"): {"skiplock": "boolean", "overrule-shutdown": "boolean"},
    ("qemu", "resume"): {"skiplock": "boolean", "nocheck": "boolean"},
}
TASK_TYPES: Final = {
    ("qemu", "start"): "qmstart",
    ("qemu", "shutdown"): "qmshutdown",
    ("qemu", "stop"): "qmstop",
    ("lxc", "start"): "vzstart",
    ("lxc", "shutdown"): "vzshutdown",
    ("lxc", "stop"): "vzstop",
    ("qemu", "resume"): "qmresume",
}
UPID_RE: Final = re.compile(
    r"^UPID:(?P<node>[a-zA-Z0-9]([a-zA-Z0-9\-]*[a-zA-Z0-9])?):(?P<pid>[0-9A-F]{8}):"
    r"(?P<pstart>[0-9A-F]{8,9}):(?P<starttime>[0-9A-F]{8}):(?P<type>[^:\s]+):"
    r"(?P<id>[^:\s]*):(?P<user>[^:\s]+):$"
)


class PveError(Exception):
    """An API error: status, reason phrase (PVE's message) and optional errors."""

    def __init__(
        self, status: int, message: str, errors: dict[str, str] | None = None
    ) -> None:
        """Store the status, PVE's one-line message and per-parameter errors."""
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors


def pve_response(
    data: Any, status: int = 200, reason: str | None = None
) -> web.Response:
    """Return ``{"data": data}`` as PVE formats it."""
    return web.Response(
        status=status,
        reason=reason,
        text=json.dumps({"data": data}, separators=(",", ":")),
        content_type="application/json",
        charset="UTF-8",
    )


def error_response(err: PveError) -> web.Response:
    """Return an error: reason phrase = message, body ``{"data":null,"message":...}``.

    pve-http-server ``PVE/APIServer/Formatter/Standard.pm``: the body carries
    the full ``message`` (with its newline) and, for a parameter error,
    ``errors`` per parameter.
    """
    body: dict[str, Any] = {"data": None, "message": f"{err.message}\n"}
    if err.errors:
        body["errors"] = err.errors
    return web.Response(
        status=err.status,
        reason=err.message.splitlines()[0] if err.message else None,
        text=json.dumps(body, separators=(",", ":")),
        content_type="application/json",
        charset="UTF-8",
    )


@dataclass
class Identity:
    """Who made a request: ``root@pam`` (ticket) or ``user@realm!token``."""

    user: str
    privileges: frozenset[str]
    ticket: str | None = None

    @property
    def user_and_token(self) -> tuple[str, str | None]:
        """``("wakehub@pve", "wakehub")`` for a token, ``("root@pam", None)`` else."""
        user, sep, token = self.user.partition("!")
        return user, token if sep else None

    def require(self, path: str, privilege: str) -> None:
        """Raise a 403 unless this identity holds ``privilege``."""
        if privilege not in self.privileges:
            raise PveError(403, f"Permission check failed ({path}, {privilege})")


@dataclass
class Task:
    """A PVE worker task."""

    upid: str
    node: str
    pid: int
    pstart: int
    starttime: int
    type: str
    id: str
    user: str
    exitstatus: str | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)

    def status(self) -> dict[str, Any]:
        """Return the task as ``GET .../tasks/{upid}/status`` shows it.

        pve-manager ``PVE/API2/Tasks.pm``: a task started by an API token
        shows ``user`` = ``user@realm`` and ``tokenid`` = the token's id
        (the UPID itself keeps ``user@realm!tokenid``).
        """
        user, sep, tokenid = self.user.partition("!")
        data: dict[str, Any] = {
            "upid": self.upid,
            "node": self.node,
            "pid": self.pid,
            "pstart": self.pstart,
            "starttime": self.starttime,
            "type": self.type,
            "id": self.id,
            "user": user,
            "status": "stopped" if self.exitstatus is not None else "running",
        }
        if sep:
            data["tokenid"] = tokenid
        if self.exitstatus is not None:
            data["exitstatus"] = self.exitstatus
        return data


def _check_params(
    params: dict[str, str], schema: dict[str, str], required: tuple[str, ...] = ()
) -> dict[str, Any]:
    errors: dict[str, str] = {}
    parsed: dict[str, Any] = {}
    for key in required:
        if key not in params:
            errors[key] = "property is missing and it is not optional"
    for key, value in params.items():
        kind = schema.get(key)
        if kind is None:
            errors[key] = (
                "property is not defined in schema and the schema does not allow additional properties"
            )
        elif kind == "boolean":
            if value not in ("0", "1"):
                errors[key] = f"type check ('boolean') failed - got '{value}'"
            else:
                parsed[key] = value == "1"
        elif kind == "integer":
            if not re.fullmatch(r"[+-]?\d+", value):
                errors[key] = f"type check ('integer') failed - got '{value}'"
            else:
                parsed[key] = int(value)
        else:
            parsed[key] = value
    if errors:
        raise PveError(400, "Parameter verification failed.", errors)
    return parsed


def _parse_vmid(raw: str) -> int:
    if not re.fullmatch(r"\d+", raw):
        raise PveError(
            400,
            "Parameter verification failed.",
            {"vmid": f"type check ('integer') failed - got '{raw}'"},
        )
    vmid = int(raw)
    if vmid < 100:
        raise PveError(
            400,
            "Parameter verification failed.",
            {"vmid": "value must have a minimum value of 100"},
        )
    if vmid > 999_999_999:
        raise PveError(
            400,
            "Parameter verification failed.",
            {"vmid": "value must have a maximum value of 999999999"},
        )
    return vmid


Handler = Callable[
    ["ProxmoxApi", web.Request, Identity, dict[str, str]], Awaitable[web.Response]
]


class ProxmoxApi:
    """The PVE API daemon of one machine."""

    def __init__(self, lab: Homelab, machine: str) -> None:
        """Serve the guests of ``machine``."""
        self.lab = lab
        self.machine = machine
        node = lab.node(machine)
        assert node.pve_node is not None
        self.pve_node = node.pve_node
        lab.pve_apis[machine] = self
        # Tickets (ticket -> CSRF token) are shared by a cluster's members.
        members = lab.members_of(machine)
        self.tickets: dict[str, str] = lab.pve_tickets.setdefault(members[0], {})
        self.tasks: dict[str, Task] = {}
        self.daemon_pid = random.randint(1000, 60000)
        self._pending: dict[str, tuple[str, asyncio.Future[str]]] = {}
        # pvestatd's last published guest statuses, and when.
        self._published: dict[str, str] = {}
        self._published_at = float("-inf")
        self.routes: list[tuple[str, re.Pattern[str], str, Handler]] = []
        for method, pattern, handler in (
            ("GET", r"/version", ProxmoxApi.get_version),
            ("GET", r"/nodes", ProxmoxApi.get_nodes),
            ("GET", r"/cluster/status", ProxmoxApi.get_cluster_status),
            ("GET", r"/access/permissions", ProxmoxApi.get_permissions),
            (
                "GET",
                r"/nodes/(?P<node>[^/]+)/certificates/info",
                ProxmoxApi.get_certificates,
            ),
            ("GET", r"/nodes/(?P<node>[^/]+)/status", ProxmoxApi.get_node_status),
            ("POST", r"/nodes/(?P<node>[^/]+)/status", ProxmoxApi.post_node_status),
            ("GET", r"/cluster/resources", ProxmoxApi.get_resources),
            (
                "GET",
                r"/nodes/(?P<node>[^/]+)/(?P<kind>qemu|lxc)",
                ProxmoxApi.list_guests,
            ),
            (
                "GET",
                r"/nodes/(?P<node>[^/]+)/(?P<kind>qemu|lxc)/(?P<vmid>[^/]+)/status/current",
                ProxmoxApi.guest_status,
            ),
            (
                "POST",
                r"/nodes/(?P<node>[^/]+)/(?P<kind>qemu|lxc)/(?P<vmid>[^/]+)/status/(?P<action>start|shutdown|stop)",
                ProxmoxApi.guest_power,
            ),
            (
                "POST",
                r"/nodes/(?P<node>[^/]+)/(?P<kind>qemu)/(?P<vmid>[^/]+)/status/(?P<action>resume)",
                ProxmoxApi.guest_power,
            ),
            (
                "GET",
                r"/nodes/(?P<node>[^/]+)/(?P<kind>qemu|lxc)/(?P<vmid>[^/]+)/config",
                ProxmoxApi.guest_config,
            ),
            (
                "POST",
                r"/nodes/(?P<node>[^/]+)/qemu/(?P<vmid>[^/]+)/agent/ping",
                ProxmoxApi.agent_ping,
            ),
            (
                "GET",
                r"/nodes/(?P<node>[^/]+)/tasks/(?P<upid>[^/]+)/status",
                ProxmoxApi.task_status,
            ),
        ):
            template = re.sub(r"\(\?P<(\w+)>[^)]*\)", r"{\1}", pattern)
            self.routes.append(
                (method, re.compile(f"^{pattern}/?$"), template, handler)
            )

    # ------------------------------------------------------------- plumbing

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Dispatch one request (the app's only handler)."""
        path = request.path
        route: tuple[str, dict[str, str], Handler] | None = None
        rel = path[len(API_PREFIX) :] if path.startswith(API_PREFIX + "/") else None
        endpoint = f"{request.method} {path}"
        if rel is not None:
            if rel == "/access/ticket" and request.method == "POST":
                endpoint = "POST /access/ticket"
            for method, regex, template, handler in self.routes:
                match = regex.match(rel)
                if match and method == request.method:
                    route = (template, match.groupdict(), handler)
                    endpoint = f"{method} {template}"
                    break
        self.lab.count(self.machine, f"proxmox {endpoint}")
        started = monotonic()
        node = self.lab.node(self.machine)
        latency = node.faults.get("latency")
        if latency:
            await asyncio.sleep(float(latency))
        try:
            status = node.faults.get("api_status")
            if status:
                if rel == "/access/ticket" and status == 401:
                    return await self._auth_failure(started)
                raise PveError(
                    int(status), FAULT_REASONS.get(int(status), "simulated fault")
                )
            if rel == "/access/ticket" and request.method == "POST":
                return await self.post_ticket(request, started)
            identity = self._authenticate(request)
            if route is None:
                shown = rel if rel is not None else path
                raise PveError(
                    501, f"Method '{request.method} {shown}' not implemented"
                )
            _template, match_info, handler = route
            target = self
            if "node" in match_info:
                target = self._target(match_info["node"])
            return await handler(target, request, identity, match_info)
        except PveError as err:
            if err.status == 401:
                await self._unauthorized_delay(started)
                if not err.errors:
                    return web.Response(status=401, reason=err.message)
            return error_response(err)

    async def _unauthorized_delay(self, started: float) -> None:
        """Every 401 leaves 3 s after the request came in.

        pve-http-server ``PVE/APIServer/AnyEvent.pm``: "always delay
        unauthorized calls by 3 seconds" (scaled here, like every delay).
        """
        delay = self.lab.scaled(AUTH_FAILURE_DELAY) - (monotonic() - started)
        if delay > 0:
            # On the real clock: a Home Assistant test may freeze asyncio's.
            await asyncio.get_running_loop().run_in_executor(None, time.sleep, delay)

    def _target(self, name: str) -> ProxmoxApi:
        """The API of cluster member ``name``: this one, or one to proxy to.

        pve-manager's node and guest calls carry ``proxyto => 'node'``: the
        request is forwarded to that member (pve-http-server
        ``PVE/APIServer/AnyEvent.pm``, ``proxy_request``), which answers 595
        when it cannot be reached. A name that is no member fails the host
        name lookup, as on a real node.
        """
        for member in self.lab.members_of(self.machine):
            api = self.lab.pve_apis[member]
            if api.pve_node == name:
                if api is not self and not self.lab.nodes[member].is_up:
                    raise PveError(595, "No route to host")
                return api
        self._check_node(name)
        return self

    async def _auth_failure(self, started: float) -> web.Response:
        await self._unauthorized_delay(started)
        return web.Response(
            status=401,
            reason="authentication failure",
            text=json.dumps({"data": None, "message": "authentication failure\n"}),
            content_type="application/json",
            charset="UTF-8",
        )

    def _authenticate(self, request: web.Request) -> Identity:
        header = request.headers.get("Authorization", "")
        if header.startswith("PVEAPIToken="):
            token_id, sep, secret = header[len("PVEAPIToken=") :].partition("=")
            known = self.lab.pve_tokens.get(token_id)
            if (
                not sep
                or known is None
                or not secrets.compare_digest(known.value, secret)
            ):
                raise PveError(401, "Authentication failed!")
            return Identity(user=token_id, privileges=known.privileges)
        ticket = request.cookies.get("PVEAuthCookie")
        if not ticket:
            raise PveError(401, "No ticket")
        csrf = self.tickets.get(ticket)
        if csrf is None or not self._ticket_fresh(ticket):
            raise PveError(401, "invalid PVE ticket")
        if (
            request.method != "GET"
            and request.headers.get("CSRFPreventionToken") != csrf
        ):
            raise PveError(401, "Permission denied - invalid csrf token")
        from .core import ALL_PRIVILEGES, PVE_USER

        return Identity(user=PVE_USER, privileges=ALL_PRIVILEGES, ticket=ticket)

    @staticmethod
    def _ticket_fresh(ticket: str) -> bool:
        parts = ticket.split(":")
        try:
            issued = int(parts[2], 16)
        except (IndexError, ValueError):
            return False
        return wall_time() - issued < TICKET_LIFETIME

    async def post_ticket(self, request: web.Request, started: float) -> web.Response:
        """``POST /access/ticket``: exchange a password (or a ticket) for a ticket."""
        from .core import ALL_PRIVILEGES, PVE_USER

        if request.headers.get("Authorization", "").startswith("PVEAPIToken="):
            raise PveError(
                403, "Permission check failed (/access/ticket, user != token)"
            )
        form = dict(await request.post())
        username = str(form.get("username", ""))
        password = str(form.get("password", ""))
        realm = form.get("realm")
        if realm:
            username = f"{username}@{realm}"
        renewing = password in self.tickets and self._ticket_fresh(password)
        if username != PVE_USER or not (
            renewing or secrets.compare_digest(password, self.lab.pve_password)
        ):
            return await self._auth_failure(started)
        stamp = f"{int(wall_time()):08X}"
        ticket = f"PVE:{PVE_USER}:{stamp}::{secrets.token_urlsafe(96)}"
        csrf = f"{stamp}:{secrets.token_urlsafe(32)}"
        self.tickets[ticket] = csrf
        caps = {
            priv.split(".")[0].lower(): {priv: 1} for priv in sorted(ALL_PRIVILEGES)
        }
        data: dict[str, Any] = {
            "username": PVE_USER,
            "ticket": ticket,
            "CSRFPreventionToken": csrf,
            "cap": caps,
        }
        if self.lab.cluster_name and self.machine in self.lab.cluster_members:
            data["clustername"] = self.lab.cluster_name
        return pve_response(data)

    def _check_node(self, name: str) -> None:
        if name != self.pve_node:
            raise PveError(
                500,
                f"hostname lookup '{name}' failed - failed to get address info for: {name}: "
                "Name or service not known",
            )

    def _guest(self, kind: str, vmid: int) -> Node:
        for guest in self.lab.guests_of(self.machine):
            if guest.vmid == vmid and (guest.kind == "vm") == (kind == "qemu"):
                return guest
        folder = "qemu-server" if kind == "qemu" else "lxc"
        raise PveError(
            500,
            f"Configuration file 'nodes/{self.pve_node}/{folder}/{vmid}.conf' does not exist",
        )

    # ----------------------------------------------------------- formatting

    @staticmethod
    def _guest_fields(guest: Node) -> dict[str, Any]:
        up = guest.is_up
        uptime = guest.uptime()
        data: dict[str, Any] = {
            "vmid": guest.vmid,
            "status": "running" if up else "stopped",
            "name": guest.name,
            "cpus": guest.maxcpu,
            "cpu": metrics.cpu(guest),
            "maxmem": guest.maxmem,
            "mem": metrics.mem(guest, guest.maxmem),
            "maxdisk": guest.maxdisk,
            "disk": guest.maxdisk // 5 if guest.kind == "lxc" and up else 0,
            "netin": metrics.counter(guest, "netin"),
            "netout": metrics.counter(guest, "netout"),
            "diskread": 4096 * uptime if up else 0,
            "diskwrite": 2048 * uptime if up else 0,
            "uptime": uptime,
        }
        if up:
            data["pid"] = guest.pid
        if guest.kind == "lxc":
            data["type"] = "lxc"
            data["maxswap"] = 512 * 1024**2
            data["swap"] = 0
        return data

    @staticmethod
    def _live_status(guest: Node) -> str:
        """``qmpstatus || status``, as pvestatd publishes a guest's status."""
        if guest.is_up and guest.kind == "vm" and guest.qmpstatus:
            return guest.qmpstatus
        return "running" if guest.is_up else "stopped"

    def _published_status(self, guest: Node) -> str:
        """The status ``/cluster/resources`` shows: pvestatd's last cycle.

        pve-manager ``PVE/Service/pvestatd.pm`` publishes every cycle and
        skips its first one after start, and ``PVE/API2Tools.pm`` reads the
        published RRD data, hence ``unknown`` after a boot and a lag.
        """
        interval = self.lab.scaled(self.lab.status_interval)
        if interval <= 0:
            return self._live_status(guest)
        now = monotonic()
        booted_at = self.lab.machine_of(guest.name).since
        if now - booted_at < interval:
            return "unknown"
        if now - self._published_at >= interval or self._published_at < booted_at:
            self._published = {
                g.name: self._live_status(g)
                for member in self.lab.members_of(self.machine)
                for g in self.lab.guests_of(member)
            }
            self._published_at = now
        return self._published.get(guest.name, "unknown")

    def _resource(self, guest: Node, pve_node: str, online: bool) -> dict[str, Any]:
        """One guest of ``GET /cluster/resources``.

        A guest of an offline member is listed with status ``unknown``: its
        node publishes no status (pve-manager ``PVE/API2Tools.pm``).
        """
        fields = self._guest_fields(guest)
        fields["status"] = self._published_status(guest)
        kind = "qemu" if guest.kind == "vm" else "lxc"
        return {
            "id": f"{kind}/{guest.vmid}",
            "type": kind,
            "vmid": guest.vmid,
            "node": pve_node,
            "name": guest.name,
            "status": fields["status"] if online else "unknown",
            "template": 0,
            "uptime": fields["uptime"],
            "maxcpu": guest.maxcpu,
            "cpu": fields["cpu"],
            "maxmem": guest.maxmem,
            "mem": fields["mem"],
            "maxdisk": guest.maxdisk,
            "disk": fields["disk"],
            "netin": fields["netin"],
            "netout": fields["netout"],
            "diskread": fields["diskread"],
            "diskwrite": fields["diskwrite"],
        }

    def _node_entry(self, member: str, with_stats: bool) -> dict[str, Any]:
        """One member as ``GET /nodes`` lists it (no stats while offline)."""
        machine = self.lab.node(member)
        pve_node = machine.pve_node
        online = member == self.machine or machine.is_up
        entry: dict[str, Any] = {
            "id": f"node/{pve_node}",
            "node": pve_node,
            "type": "node",
            "status": "online" if online else "offline",
            "level": "",
            "ssl_fingerprint": self.lab.tls[member].fingerprint,
        }
        if with_stats and online:
            entry.update(
                {
                    "cpu": metrics.cpu(machine),
                    "maxcpu": machine.maxcpu,
                    "mem": metrics.mem(machine, machine.maxmem),
                    "maxmem": machine.maxmem,
                    "disk": 12 * 1024**3,
                    "maxdisk": 100 * 1024**3,
                    "uptime": machine.uptime(),
                }
            )
        return entry

    # -------------------------------------------------------------- handlers

    async def get_version(
        self, request: web.Request, who: Identity, m: dict[str, str]
    ) -> web.Response:
        """``GET /version``."""
        return pve_response(dict(VERSION))

    async def get_nodes(
        self, request: web.Request, who: Identity, m: dict[str, str]
    ) -> web.Response:
        """``GET /nodes``: every cluster member; stats need Sys.Audit.

        pve-manager ``PVE/API2/Nodes.pm`` (index): the members of the
        cluster, online or not, whichever node answers.
        """
        audit = "Sys.Audit" in who.privileges
        return pve_response(
            [
                self._node_entry(member, audit)
                for member in self.lab.members_of(self.machine)
            ]
        )

    async def get_cluster_status(
        self, request: web.Request, who: Identity, m: dict[str, str]
    ) -> web.Response:
        """``GET /cluster/status``: the cluster, and each member (``local: 1``).

        pve-manager ``PVE/API2/Cluster.pm`` (``get_status``, Sys.Audit on
        ``/``): a ``cluster`` entry with
        ``quorate``, then one ``node`` entry per member with its cluster
        address, ``online``, ``nodeid`` and ``local`` set on the node that
        answered. A standalone node lists only itself, with nodeid 0.
        """
        who.require("/", "Sys.Audit")
        members = self.lab.members_of(self.machine)
        data: list[dict[str, Any]] = []
        clustered = len(members) > 1 and self.lab.cluster_name is not None
        if clustered:
            data.append(
                {
                    "type": "cluster",
                    "id": "cluster",
                    "name": self.lab.cluster_name,
                    "nodes": len(members),
                    "quorate": int(self.lab.quorate(self.machine)),
                    "version": len(members),
                }
            )
        for nodeid, member in enumerate(members, start=1):
            machine = self.lab.node(member)
            data.append(
                {
                    "type": "node",
                    "id": f"node/{machine.pve_node}",
                    "name": machine.pve_node,
                    "ip": self.lab.cluster_ips[member],
                    "level": "",
                    "local": int(member == self.machine),
                    "nodeid": nodeid if clustered else 0,
                    "online": int(member == self.machine or machine.is_up),
                }
            )
        return pve_response(data)

    async def get_permissions(
        self, request: web.Request, who: Identity, m: dict[str, str]
    ) -> web.Response:
        """``GET /access/permissions``: what the caller may do, per path.

        pve-access-control ``PVE/API2/AccessControl.pm`` (``permissions``):
        ``{path: {privilege: 1}}``; a privilege-separated token without ACLs
        of its own gets ``{}``.
        """
        _check_params(dict(request.query), {"path": "string", "userid": "string"})
        if not who.privileges:
            return pve_response({})
        privileges = dict.fromkeys(sorted(who.privileges), 1)
        data: dict[str, Any] = {"/": privileges}
        vms = {p: 1 for p in privileges if p.startswith("VM.")}
        nodes = {p: 1 for p in privileges if p.startswith("Sys.")}
        if vms:
            data["/vms"] = vms
        if nodes:
            data["/nodes"] = nodes
        return pve_response(data)

    async def get_certificates(
        self, request: web.Request, who: Identity, m: dict[str, str]
    ) -> web.Response:
        """``GET /nodes/{node}/certificates/info``: the CA and the node certificate.

        pve-manager ``PVE/API2/Certificates.pm`` (``info``, Sys.Audit on the
        node) and pve-common ``PVE/Certificate.pm`` (``get_certificate_info``):
        ``pve-root-ca.pem`` and ``pve-ssl.pem`` with their PEM and SHA-256
        fingerprint.
        """
        self._check_node(m["node"])
        who.require(f"/nodes/{self.pve_node}", "Sys.Audit")
        from cryptography import x509

        data = []
        for filename, pem in (
            ("pve-root-ca.pem", self.lab.pve_ca[self.machine].cert_pem),
            ("pve-ssl.pem", self.lab.tls[self.machine].cert_pem),
        ):
            cert = x509.load_pem_x509_certificate(pem)
            data.append(
                {
                    "filename": filename,
                    "fingerprint": fingerprint_sha256(
                        cert.public_bytes(serialization.Encoding.DER)
                    ),
                    "subject": cert.subject.rfc4514_string(),
                    "issuer": cert.issuer.rfc4514_string(),
                    "notbefore": int(cert.not_valid_before_utc.timestamp()),
                    "notafter": int(cert.not_valid_after_utc.timestamp()),
                    "pem": pem.decode(),
                    "public-key-type": "id-ecPublicKey",
                    "public-key-bits": 256,
                }
            )
        return pve_response(data)

    async def get_node_status(
        self, request: web.Request, who: Identity, m: dict[str, str]
    ) -> web.Response:
        """``GET /nodes/{node}/status``: a subset of the node's status."""
        self._check_node(m["node"])
        who.require(f"/nodes/{self.pve_node}", "Sys.Audit")
        machine = self.lab.node(self.machine)
        return pve_response(
            {
                "uptime": machine.uptime(),
                "cpu": 0.01,
                "cpuinfo": {
                    "cpus": machine.maxcpu,
                    "model": "Simulated CPU",
                    "sockets": 1,
                },
                "memory": {
                    "total": machine.maxmem,
                    "used": machine.maxmem // 5,
                    "free": machine.maxmem - machine.maxmem // 5,
                },
                "pveversion": f"pve-manager/{VERSION['version']}/{VERSION['repoid']}",
                "kversion": "Linux 6.14.8-2-pve #1 SMP PREEMPT_DYNAMIC",
                "loadavg": ["0.05", "0.03", "0.01"],
            }
        )

    async def post_node_status(
        self, request: web.Request, who: Identity, m: dict[str, str]
    ) -> web.Response:
        """``POST /nodes/{node}/status command=shutdown|reboot``: no task, off ~2 s later."""
        self._check_node(m["node"])
        who.require(f"/nodes/{self.pve_node}", "Sys.PowerMgmt")
        params = _check_params(
            {k: str(v) for k, v in (await request.post()).items()},
            {"command": "string"},
            ("command",),
        )
        command = params["command"]
        if command not in ("shutdown", "reboot"):
            raise PveError(
                400,
                "Parameter verification failed.",
                {
                    "command": f"value '{command}' does not have a value in the enumeration 'reboot, shutdown'"
                },
            )
        self.lab.record(
            self.machine, "pve_node_shutdown", "proxmox", command=command, user=who.user
        )
        lab, machine = self.lab, self.machine

        async def _later() -> None:
            await asyncio.sleep(lab.scaled(NODE_SHUTDOWN_DELAY))
            await lab.shutdown_machine(machine)
            if command == "reboot":
                await lab.wait_state(machine, "off", timeout=3600)
                lab.boot_machine(machine)

        lab._spawn(_later())
        return pve_response(None)

    async def get_resources(
        self, request: web.Request, who: Identity, m: dict[str, str]
    ) -> web.Response:
        """``GET /cluster/resources[?type=vm]``: guests the caller may audit.

        pve-manager ``PVE/API2/Cluster.pm`` (``resources``): the nodes and
        guests of every member; guests without VM.Audit are left out (a
        privilege-separated token without ACLs gets an empty list, no 403).
        """
        params = _check_params(dict(request.query), {"type": "string"})
        kind = params.get("type")
        if kind is not None and kind not in ("vm", "storage", "node", "sdn"):
            raise PveError(
                400,
                "Parameter verification failed.",
                {
                    "type": f"value '{kind}' does not have a value in the enumeration 'vm, storage, node, sdn'"
                },
            )
        data: list[dict[str, Any]] = []
        members = self.lab.members_of(self.machine)
        if kind in (None, "node"):
            audit = "Sys.Audit" in who.privileges
            data.extend(self._node_entry(member, audit) for member in members)
        if kind in (None, "vm") and "VM.Audit" in who.privileges:
            for member in members:
                machine = self.lab.node(member)
                assert machine.pve_node is not None
                online = member == self.machine or machine.is_up
                data.extend(
                    self._resource(guest, machine.pve_node, online)
                    for guest in self.lab.guests_of(member)
                )
        return pve_response(data)

    async def list_guests(
        self, request: web.Request, who: Identity, m: dict[str, str]
    ) -> web.Response:
        """``GET /nodes/{node}/qemu`` and ``/lxc``."""
        self._check_node(m["node"])
        want = "vm" if m["kind"] == "qemu" else "lxc"
        data = []
        if "VM.Audit" in who.privileges:
            data = [
                self._guest_fields(guest)
                for guest in self.lab.guests_of(self.machine)
                if guest.kind == want
            ]
        return pve_response(data)

    async def guest_status(
        self, request: web.Request, who: Identity, m: dict[str, str]
    ) -> web.Response:
        """``GET .../{vmid}/status/current``: live (qemu-server ``PVE/API2/Qemu.pm``,
        pve-container ``PVE/API2/LXC/Status.pm``).

        ``qmpstatus`` is QEMU's own (``paused``... while ``status`` stays
        ``running``), ``lock`` shows a migration, ``ha`` the HA manager's view
        (pve-ha-manager ``PVE/HA/Config.pm``, ``get_service_status``).
        """
        self._check_node(m["node"])
        who.require(f"/vms/{m['vmid']}", "VM.Audit")
        guest = self._guest(m["kind"], _parse_vmid(m["vmid"]))
        data = self._guest_fields(guest)
        data["ha"] = {"managed": 0}
        if guest.faults.get("ha"):
            data["ha"] = {
                "managed": 1,
                "state": guest.ha_state or ("started" if guest.is_up else "stopped"),
                "group": "",
            }
        if lock := guest.faults.get("lock"):
            data["lock"] = str(lock)
        if m["kind"] == "qemu":
            data["qmpstatus"] = self._live_status(guest)
            if guest.agent:
                data["agent"] = 1
        return pve_response(data)

    async def guest_config(
        self, request: web.Request, who: Identity, m: dict[str, str]
    ) -> web.Response:
        """``GET .../{vmid}/config``: the few keys WakeHub reads (``startup``)."""
        self._check_node(m["node"])
        who.require(f"/vms/{m['vmid']}", "VM.Audit")
        guest = self._guest(m["kind"], _parse_vmid(m["vmid"]))
        data: dict[str, Any] = {
            "name" if m["kind"] == "qemu" else "hostname": guest.name,
            "memory": guest.maxmem // 1024**2,
            "digest": secrets.token_hex(20),
        }
        if m["kind"] == "qemu" and guest.agent:
            data["agent"] = "1"
        if down := guest.faults.get("startup_down"):
            data["startup"] = f"order=1,down={int(down)}"
        return pve_response(data)

    async def agent_ping(
        self, request: web.Request, who: Identity, m: dict[str, str]
    ) -> web.Response:
        """``POST .../qemu/{vmid}/agent/ping``."""
        self._check_node(m["node"])
        who.require(f"/vms/{m['vmid']}", "VM.GuestAgent.Audit")
        guest = self._guest("qemu", _parse_vmid(m["vmid"]))
        if not guest.agent:
            raise PveError(500, "No QEMU guest agent configured")
        if not guest.is_up:
            raise PveError(500, f"VM {guest.vmid} is not running")
        if not guest.serving:  # the OS has not started the agent (yet)
            raise PveError(500, "QEMU guest agent is not running")
        return pve_response({"result": {}})

    async def task_status(
        self, request: web.Request, who: Identity, m: dict[str, str]
    ) -> web.Response:
        """``GET /nodes/{node}/tasks/{upid}/status``.

        pve-manager ``PVE/API2/Tasks.pm`` (``read_task_status``): an unknown
        UPID is a parameter error, 400 with ``{"upid": "no such task"}``.
        """
        self._check_node(m["node"])
        upid = m["upid"]
        if not UPID_RE.match(upid):
            raise PveError(
                400,
                "Parameter verification failed.",
                {"upid": f"unable to parse worker upid '{upid}'"},
            )
        task = self.tasks.get(upid)
        if task is None:
            # pve-manager PVE/API2/Tasks.pm (read_task_status): no task log.
            raise PveError(
                400, "Parameter verification failed.", {"upid": "no such task"}
            )
        if task.user != who.user:
            who.require(f"/nodes/{self.pve_node}", "Sys.Audit")
        return pve_response(task.status())

    async def guest_power(
        self, request: web.Request, who: Identity, m: dict[str, str]
    ) -> web.Response:
        """``POST .../{vmid}/status/start|shutdown|stop``: returns a UPID.

        A start without quorum fails at once, 500 ``cluster not ready - no
        quorum?``: qemu-server ``PVE/API2/Qemu.pm`` and pve-container
        ``PVE/API2/LXC/Status.pm`` call pve-cluster's ``check_cfs_quorum``
        (``PVE/Cluster.pm``) before forking the task.
        """
        self._check_node(m["node"])
        kind, action = m["kind"], m["action"]
        who.require(f"/vms/{m['vmid']}", "VM.PowerMgmt")
        params = _check_params(
            {k: str(v) for k, v in (await request.post()).items()},
            ACTION_PARAMS[(kind, action)],
        )
        vmid = _parse_vmid(m["vmid"])
        guest = self._guest(kind, vmid)
        self.lab.record(guest.name, f"pve_{action}", "proxmox", user=who.user, **params)
        entry = self.lab.power_log[-1]
        if action == "start" and not self.lab.quorate(self.machine):
            # qemu-server PVE/API2/Qemu.pm and pve-container PVE/API2/LXC/Status.pm
            # call PVE::Cluster::check_cfs_quorum() before forking the task.
            raise PveError(500, NO_QUORUM)
        running = guest.is_up or guest.transition == "starting"
        if kind == "lxc":
            if action == "start" and running and guest.transition != "stopping":
                raise PveError(500, f"CT {vmid} already running")
            if action != "start" and not running:
                raise PveError(500, f"CT {vmid} not running")
        if action == "resume" and not guest.is_up:
            raise PveError(500, f"VM {vmid} not running")
        if action == "shutdown" and guest.qmpstatus and not params.get("forceStop"):
            # qemu-server PVE/API2/Qemu.pm vm_shutdown: a paused VM cannot
            # process ACPI, so only forceStop may stop it.
            raise PveError(500, f"VM {vmid} is {guest.qmpstatus} - cannot shutdown")
        if guest.faults.get("ha") and action in ("start", "shutdown", "stop"):
            return pve_response(self._ha_request(guest, action, who.user).upid)
        task = self._new_task(TASK_TYPES[(kind, action)], str(vmid), who.user)
        self.lab._spawn(self._run_task(task, guest, action, params, entry))
        return pve_response(task.upid)

    def _ha_request(self, guest: Node, action: str, user: str) -> Task:
        """Hand a power request to the HA manager: a task that ends at once.

        qemu-server ``PVE/API2/Qemu.pm`` and pve-container
        ``PVE/API2/LXC/Status.pm`` run ``ha-manager set --state`` in a
        ``hastart``/``hastop`` worker; the HA manager (pve-ha-manager
        ``PVE/HA/Manager.pm``) acts on its next round, or never when it fails
        (the ``ha`` fault ``error``).
        """
        start = action == "start"
        task = self._new_task("hastart" if start else "hastop", str(guest.vmid), user)
        task.exitstatus = "OK"
        task.done.set()
        if guest.faults.get("ha") == "error":
            guest.ha_state = "error"
            return task
        guest.ha_state = "request_start" if start else "request_stop"
        lab = self.lab

        async def _manager() -> None:
            await asyncio.sleep(lab.scaled(HA_DELAY))
            if guest.faults.get("ha") == "error":
                guest.ha_state = "error"
                return
            if start and not guest.is_up:
                await lab.start_guest(guest.name)
            elif not start and guest.is_up:
                await lab.stop_guest(guest.name, graceful=True, force=True)
            guest.ha_state = "started" if start else "stopped"

        lab._spawn(_manager())
        return task

    def _new_task(self, task_type: str, task_id: str, user: str) -> Task:
        pid = random.randint(1000, 4_000_000)
        pstart = int(monotonic() * 100) & 0xFFFFFFFF
        starttime = int(wall_time())
        upid = f"UPID:{self.pve_node}:{pid:08X}:{pstart:08X}:{starttime:08X}:{task_type}:{task_id}:{user}:"
        task = Task(
            upid, self.pve_node, pid, pstart, starttime, task_type, task_id, user
        )
        self.tasks[upid] = task
        return task

    async def _run_task(
        self,
        task: Task,
        guest: Node,
        action: str,
        params: dict[str, Any],
        entry: dict[str, Any],
    ) -> None:
        try:
            task.exitstatus = await self._perform(guest, action, params)
            entry["result"] = task.exitstatus
            if action in ("shutdown", "stop") and task.exitstatus == "OK":
                entry["forced"] = action == "stop" or self.lab.stops_forced.get(
                    guest.name, False
                )
        except asyncio.CancelledError:
            task.exitstatus = "interrupted"
            raise
        except Exception as err:  # the task log would show the error text
            _LOGGER.exception("homelab: task %s failed", task.upid)
            task.exitstatus = str(err) or type(err).__name__
        finally:
            task.done.set()

    async def _perform(self, guest: Node, action: str, params: dict[str, Any]) -> str:
        """Run a power task (qemu-server ``PVE/QemuServer.pm`` ``vm_start``,
        ``vm_stop``, ``vm_resume``; pve-container ``PVE/LXC.pm``).

        A start ends once QEMU is launched (the OS boots afterwards); a
        shutdown waits ``timeout``, else the guest's ``startup: down=``, and
        then kills it with ``forceStop`` or fails without it.
        """
        # Let the task be seen "running" at least once, as on a real node.
        await asyncio.sleep(self.lab.scaled(0.05))
        noun = "VM" if guest.kind == "vm" else "CT"
        pending = self._pending.get(guest.name)
        if action == "resume":
            await self.lab.set_fault(guest.name, "qmpstatus", None)
            return "OK"
        if action == "start":
            if guest.is_up and guest.transition != "stopping":
                return f"{noun} {guest.vmid} already running"
            if pending is not None and pending[0] == "start" and not pending[1].done():
                return await asyncio.shield(pending[1])
            future = self.lab.start_guest(guest.name)
        else:
            if not guest.is_up and guest.transition != "starting":
                return "OK"
            graceful = action == "shutdown"
            future = self.lab.stop_guest(
                guest.name,
                graceful=graceful,
                timeout=params.get("timeout"),
                force=bool(params.get("forceStop")),
            )
        self._pending[guest.name] = (action, future)
        return await asyncio.shield(future)


def build_proxmox_app(lab: Homelab, machine: str) -> web.Application:
    """Return the aiohttp application serving ``machine``'s Proxmox API."""
    api = ProxmoxApi(lab, machine)
    app = web.Application()

    async def _server_header(
        request: web.Request, response: web.StreamResponse
    ) -> None:
        response.headers["Server"] = SERVER

    app.on_response_prepare.append(_server_header)
    app.router.add_route("*", "/{tail:.*}", api.handle)
    return app
