"""Proxmox VE channel (proxmoxer, https backend): guests and node power.

Every proxmoxer call is synchronous (requests), so each one runs in the
executor; the event loop never waits on a socket.

TLS: the certificate is verified against the system's trust store by default
(a publicly trusted certificate, e.g. from ACME). Proxmox's own certificate is
signed by the cluster's CA (``pve-root-ca.pem``, 10 years), which no trust
store holds: that CA is pinned, and every connection (API calls and ticket
logins alike) must present a certificate chaining to it and to no other CA.
The node certificate itself (``pve-ssl.pem``) is renewed by ``pveupdate``
every two years or sooner, which a CA pin survives. Pinning the node
certificate's SHA-256 fingerprint instead (urllib3's ``assert_fingerprint``)
remains possible. A connection is never simply left unverified.

Node identity: in a cluster every member's API lists every node and every
guest, so the node a machine runs is read from ``GET /cluster/status`` (the
entry marked ``local``), never taken from ``GET /nodes``.

The proxmoxer pieces are assembled here (``ProxmoxHttpSession``, its auth
classes, ``ProxmoxResource``) rather than through ``ProxmoxAPI`` because
proxmoxer's own ticket login posts with a bare ``requests.post`` that a pinned
session could not cover.

Requests per call: :meth:`ProxmoxHost.read_states` makes exactly ONE request,
``GET /cluster/resources?type=vm``, filtered to the configured node. That
listing comes from ``pvestatd``'s last cycle (up to 10 s old, ``unknown`` just
after the node booted, QMP words such as ``paused`` for QEMU), so every
decision to act on one guest reads :meth:`ProxmoxHost.current`, the guest's
live ``status/current``, instead (docs/proxmox.md, "Guest power").
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from dataclasses import dataclass, field
import hashlib
import ipaddress
import re
import ssl
import threading
import time
from typing import TYPE_CHECKING, Any, cast

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from proxmoxer import AuthenticationError as ProxmoxerAuthenticationError
from proxmoxer.backends.https import (
    JsonSerializer,
    ProxmoxHTTPApiTokenAuth,
    ProxmoxHTTPAuthBase,
    ProxmoxHttpSession,
)
from proxmoxer.core import ProxmoxResource, ResourceException
import requests  # type: ignore[import-untyped, unused-ignore]
from requests.adapters import (  # type: ignore[import-untyped, unused-ignore]
    HTTPAdapter,
)
from requests.cookies import (  # type: ignore[import-untyped, unused-ignore]
    cookiejar_from_dict,
)

from .base import ChildInfo, ChildKind
from .errors import (
    ApiError,
    AuthenticationError,
    ChannelError,
    ChannelTimeoutError,
    InvalidConfigError,
    NodeIdentityError,
    NoQuorumError,
    NotFoundError,
    PermissionDeniedError,
    TaskFailedError,
    TlsVerificationError,
    UnreachableError,
)

if TYPE_CHECKING:
    from collections.abc import Callable

DEFAULT_PROXMOX_PORT = 8006
DEFAULT_TIMEOUT = 10.0
DEFAULT_TASK_TIMEOUT = 180.0
PROXMOX_SHUTDOWN_TIMEOUT = 60
"""Proxmox's own shutdown window when neither the request nor the guest's
``startup: down=`` gives one (qemu-server ``vm_stop``, pve-container
``vm_shutdown``)."""
LXC_STOP_GRACE = 5
"""Seconds an LXC shutdown task waits beyond its timeout (pve-container)."""
FORCE_STOP_GRACE = 10
"""Seconds a forced stop may take once the window is over (SIGTERM, SIGKILL)."""
TASK_POLL_INTERVAL = 1.0
_TICKET_RENEW_AGE = 3600.0
_PRIVILEGE = re.compile(r"Permission check failed \(([^,]*),\s*([^)]+)\)")
_HEX_FINGERPRINT = re.compile(r"[0-9A-F]{64}")
_GUEST_TYPES = {"qemu": ChildKind.VM, "lxc": ChildKind.LXC}
_DETAIL_FIELDS = ("cpu", "maxcpu", "mem", "maxmem", "uptime", "netin", "netout")
# How OpenSSL (trust store, pinned CA) and urllib3 (pinned fingerprint) say
# that they refused the certificate the server presented.
_CERTIFICATE_REFUSED = ("CERTIFICATE_VERIFY_FAILED", "Fingerprints did not match")
_RESUMABLE = frozenset({"paused", "suspended", "prelaunch"})
"""QMP states a ``status/resume`` brings back to ``running`` (qemu-server)."""
_MIGRATING = frozenset({"inmigrate", "postmigrate", "finish-migrate"})
_STARTUP_DOWN = re.compile(r"(?:^|,)down=(\d+)")
# PVE's answer to a guest start without quorum (pve-cluster PVE/Cluster.pm).
_NO_QUORUM = "no quorum"
# What WakeHub needs on guests, at least on some path (see docs/proxmox.md).
REQUIRED_GUEST_PRIVILEGES = ("VM.Audit", "VM.PowerMgmt")


def _load_ca(pem: str) -> x509.Certificate:
    """Parse a CA certificate (PEM); anything else raises ``InvalidConfigError``."""
    try:
        certificate = x509.load_pem_x509_certificate(pem.encode())
    except ValueError as err:
        raise InvalidConfigError(f"invalid CA certificate: {err}") from err
    try:
        constraints = certificate.extensions.get_extension_for_class(
            x509.BasicConstraints
        ).value
    except x509.ExtensionNotFound:
        constraints = None
    if constraints is None or not constraints.ca:
        raise InvalidConfigError("the pinned certificate is not a CA certificate")
    return certificate


def certificate_fingerprint(pem: str) -> str:
    """The SHA-256 fingerprint (``AB:CD:...``) of a PEM certificate."""
    try:
        der = x509.load_pem_x509_certificate(pem.encode()).public_bytes(
            serialization.Encoding.DER
        )
    except ValueError as err:
        raise InvalidConfigError(f"invalid certificate: {err}") from err
    return normalize_fingerprint(hashlib.sha256(der).hexdigest())


def issued_by(certificate_der: bytes, ca_pem: str) -> bool:
    """Whether a certificate (DER) was signed by the CA ``ca_pem``."""
    ca = _load_ca(ca_pem)
    try:
        x509.load_der_x509_certificate(certificate_der).verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def normalize_fingerprint(value: str) -> str:
    """Return a SHA-256 fingerprint as ``AB:CD:...`` (Proxmox's own format).

    Colons, spaces and case are ignored; anything but 32 bytes of hex raises
    ``InvalidConfigError``.
    """
    digits = re.sub(r"[\s:]", "", value).upper()
    if not _HEX_FINGERPRINT.fullmatch(digits):
        raise InvalidConfigError(f"invalid SHA-256 fingerprint {value!r}")
    return ":".join(digits[i : i + 2] for i in range(0, 64, 2))


@dataclass(frozen=True, slots=True, kw_only=True)
class ProxmoxConfig:
    """How to reach one Proxmox VE node.

    Give either an API token (``user`` + ``token_name`` + ``token_value``) or a
    password (``user`` + ``password``, ``realm`` appended when ``user`` has
    no ``@``). ``ca_certificate`` (PEM) pins the cluster's CA: the server's
    certificate must be signed by it (its host name is not checked: the CA
    is the cluster's own). ``fingerprint`` pins the node's certificate
    itself; ``verify_tls`` checks it against the trust store. At least one
    of them must apply.
    """

    host: str
    node: str
    user: str
    port: int = DEFAULT_PROXMOX_PORT
    realm: str = "pam"
    token_name: str | None = None
    token_value: str | None = field(default=None, repr=False)
    password: str | None = field(default=None, repr=False)
    verify_tls: bool = True
    fingerprint: str | None = None
    ca_certificate: str | None = field(default=None, repr=False)
    timeout: float = DEFAULT_TIMEOUT

    def __post_init__(self) -> None:
        """Validate the credentials and the TLS settings."""
        uses_token = self.token_name is not None or self.token_value is not None
        if uses_token and not (self.token_name and self.token_value):
            raise InvalidConfigError("an API token needs a token name and a value")
        if uses_token == (self.password is not None):
            raise InvalidConfigError("give either an API token or a password")
        if self.ca_certificate is not None:
            if self.fingerprint is not None:
                raise InvalidConfigError("pin either a CA or a certificate, not both")
            _load_ca(self.ca_certificate)
        elif self.fingerprint is not None:
            object.__setattr__(
                self, "fingerprint", normalize_fingerprint(self.fingerprint)
            )
        elif not self.verify_tls:
            raise InvalidConfigError(
                "an unverified certificate must be pinned by its fingerprint"
            )

    @property
    def verify(self) -> bool:
        """Whether the TLS handshake verifies a chain (trust store or pinned CA)."""
        return self.verify_tls or self.ca_certificate is not None

    @property
    def user_id(self) -> str:
        """``user@realm``, as Proxmox expects it."""
        return self.user if "@" in self.user else f"{self.user}@{self.realm}"

    @property
    def base_url(self) -> str:
        """``https://host:port/api2/json``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"https://{host}:{self.port}/api2/json"


class _PinnedAdapter(HTTPAdapter):  # type: ignore[misc, unused-ignore]
    """An adapter whose connections all assert the peer certificate's SHA-256."""

    def __init__(self, fingerprint: str) -> None:
        self._fingerprint = fingerprint
        super().__init__()

    def init_poolmanager(
        self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any
    ) -> None:
        pool_kwargs["assert_fingerprint"] = self._fingerprint
        super().init_poolmanager(connections, maxsize, block, **pool_kwargs)


class _CaPinnedAdapter(HTTPAdapter):  # type: ignore[misc, unused-ignore]
    """An adapter whose connections verify the chain against one CA, and only it.

    The SSL context trusts the pinned CA alone; requests would add its own CA
    bundle to every connection (``cert_verify``), so that is undone. The host
    name is not checked: a node certificate names the node's host name and
    addresses, not necessarily the one WakeHub uses, and only the cluster's
    own CA signs it.
    """

    def __init__(self, ca_pem: str) -> None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(cadata=ca_pem)
        self._context = context
        super().__init__()

    def init_poolmanager(
        self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any
    ) -> None:
        pool_kwargs["ssl_context"] = self._context
        pool_kwargs["assert_hostname"] = False
        super().init_poolmanager(connections, maxsize, block, **pool_kwargs)

    def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
        """Require a verified chain, against the pinned CA only."""
        super().cert_verify(conn, url, verify, cert)
        conn.cert_reqs = "CERT_REQUIRED"
        conn.ca_certs = None
        conn.ca_cert_dir = None


def _prepare(session: requests.Session, config: ProxmoxConfig) -> None:
    """Make a session ignore the environment and enforce the pin, if any."""
    session.trust_env = False
    if config.ca_certificate is not None:
        session.mount("https://", _CaPinnedAdapter(config.ca_certificate))
    elif config.fingerprint is not None:
        session.mount("https://", _PinnedAdapter(config.fingerprint))


class _TicketAuth(ProxmoxHTTPAuthBase):  # type: ignore[misc]
    """Ticket (password) auth whose logins go through the pinned session."""

    def __init__(self, config: ProxmoxConfig, verify: bool) -> None:
        super().__init__(timeout=config.timeout, verify_ssl=verify)
        self._config = config
        self._login_session = requests.Session()
        _prepare(self._login_session, config)
        self._lock = threading.Lock()
        self._ticket = ""
        self._csrf = ""
        self._birth = 0.0
        self._login()

    def _login(self) -> None:
        """POST /access/ticket with the password; store ticket and CSRF token."""
        response = self._login_session.post(
            f"{self._config.base_url}/access/ticket",
            data={"username": self._config.user_id, "password": self._config.password},
            verify=self.verify_ssl,
            timeout=self.timeout,
        )
        if response.status_code in (401, 403):
            raise ProxmoxerAuthenticationError(
                f"authentication failure: {response.reason}"
            )
        if response.status_code != 200:
            raise ResourceException(
                response.status_code, response.reason, response.reason
            )
        data = response.json()["data"]
        if data.get("NeedTFA"):
            raise ProxmoxerAuthenticationError(
                "two-factor authentication is not supported; use an API token"
            )
        self._ticket = data["ticket"]
        self._csrf = data["CSRFPreventionToken"]
        self._birth = time.monotonic()

    def close(self) -> None:
        """Close the login session."""
        self._login_session.close()

    def get_cookies(self) -> Any:
        """The ``PVEAuthCookie`` cookie jar (proxmoxer's session asks for it)."""
        return cookiejar_from_dict({"PVEAuthCookie": self._ticket})

    def get_tokens(self) -> tuple[str, str]:
        """The ticket and CSRF token."""
        return self._ticket, self._csrf

    def __call__(self, request: Any) -> Any:
        """Attach the (renewed when old) ticket, and the CSRF token to writes."""
        with self._lock:
            if time.monotonic() - self._birth >= _TICKET_RENEW_AGE:
                self._login()
            ticket, csrf = self._ticket, self._csrf
        request.headers["Cookie"] = f"PVEAuthCookie={ticket}"
        if request.method != "GET":
            request.headers["CSRFPreventionToken"] = csrf
        return request


def _map_error(err: BaseException, where: str) -> ChannelError:
    """Translate a proxmoxer/requests error into a channel error."""
    if isinstance(err, ChannelError):
        return err
    if isinstance(err, ProxmoxerAuthenticationError):
        return AuthenticationError(str(err) or "authentication failure")
    if isinstance(err, ResourceException):
        status = int(err.status_code)
        message = str(err.content or err.status_message or "").strip()
        message = message.splitlines()[0] if message else f"HTTP {status}"
        if isinstance(err.errors, dict) and err.errors:
            # A parameter error: PVE's reason is generic, the detail is here.
            details = "; ".join(f"{key}: {value}" for key, value in err.errors.items())
            message = f"{message.rstrip('.')}: {details}"
        if status == 401:
            return AuthenticationError(message)
        if status == 403:
            match = _PRIVILEGE.search(message)
            return PermissionDeniedError(
                message, privilege=match.group(2).strip() if match else None
            )
        if status == 404 or (status == 500 and "does not exist" in message):
            return NotFoundError(message)
        if status == 500 and _NO_QUORUM in message:
            return NoQuorumError(message)
        if status == 595:
            # pveproxy could not reach the cluster member it proxies to.
            return UnreachableError(f"{where} cannot reach the node: {message}")
        return ApiError(f"HTTP {status}: {message}")
    if isinstance(err, requests.exceptions.SSLError):
        return TlsVerificationError(
            f"TLS verification of {where} failed: {err}",
            certificate_refused=any(sign in str(err) for sign in _CERTIFICATE_REFUSED),
        )
    if isinstance(err, requests.exceptions.Timeout):
        return ChannelTimeoutError(f"{where} did not answer in time")
    if isinstance(err, requests.exceptions.ConnectionError):
        return UnreachableError(f"cannot connect to {where}: {err}")
    if isinstance(err, (requests.exceptions.RequestException, ValueError, KeyError)):
        return ApiError(f"unexpected answer from {where}: {err}")
    return ApiError(f"{where}: {err}")


async def fetch_certificate_fingerprint(
    host: str, port: int = DEFAULT_PROXMOX_PORT
) -> str:
    """Return the SHA-256 fingerprint (``AB:CD:...``) of a server's certificate.

    For the config flow: the user compares it with the one Proxmox shows
    (Datacenter > node > Certificates) and the integration pins it. The
    certificate is read, not trusted; no request is sent.
    """
    der = await fetch_certificate(host, port)
    return normalize_fingerprint(hashlib.sha256(der).hexdigest())


async def fetch_certificate(host: str, port: int = DEFAULT_PROXMOX_PORT) -> bytes:
    """Return the certificate (DER) a server presents; read, not trusted."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    where = f"{host}:{port}"
    try:
        async with asyncio.timeout(DEFAULT_TIMEOUT):
            _reader, writer = await asyncio.open_connection(host, port, ssl=context)
    except TimeoutError as err:
        raise ChannelTimeoutError(f"{where} did not answer in time") from err
    except ssl.SSLError as err:
        raise TlsVerificationError(f"TLS handshake with {where} failed: {err}") from err
    except OSError as err:
        raise UnreachableError(f"cannot connect to {where}: {err}") from err
    try:
        ssl_object = cast("ssl.SSLObject", writer.get_extra_info("ssl_object"))
        der = ssl_object.getpeercert(binary_form=True)
    finally:
        writer.close()
        with contextlib.suppress(OSError, TimeoutError, ssl.SSLError):
            async with asyncio.timeout(DEFAULT_TIMEOUT):
                await writer.wait_closed()
    if not der:
        raise TlsVerificationError(f"{where} presented no certificate")
    return der


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


def _task_succeeded(exitstatus: str) -> bool:
    """``OK`` and ``WARNINGS: N`` are successes; anything else is an error."""
    return exitstatus == "OK" or exitstatus.startswith("WARNINGS")


class ProxmoxHost:
    """A Proxmox VE node as a ``HostApi``: its VMs and LXCs, and itself."""

    def __init__(
        self,
        config: ProxmoxConfig,
        *,
        task_poll_interval: float = TASK_POLL_INTERVAL,
        task_timeout: float = DEFAULT_TASK_TIMEOUT,
        shutdown_timeout: int | None = None,
        force_stop: bool = False,
    ) -> None:
        """Prepare the channel; the first call connects (and logs in).

        ``shutdown_timeout`` and ``force_stop`` are the defaults of
        :meth:`shutdown`: ``None`` and ``False`` send neither parameter, so
        Proxmox applies the guest's own configuration (``startup: down=``).
        """
        self.config = config
        self.task_poll_interval = task_poll_interval
        self.task_timeout = task_timeout
        self.shutdown_timeout = shutdown_timeout
        self.force_stop = force_stop
        self._where = f"{config.host}:{config.port}"
        self._api: ProxmoxResource | None = None
        self._session: ProxmoxHttpSession | None = None
        self._kinds: dict[str, ChildKind] = {}
        self.elsewhere: dict[str, str] = {}
        """Guests the last ``read_states`` saw on other cluster nodes: vmid -> node."""
        self._identity_checked = False
        self._connect_lock = threading.Lock()

    # -- plumbing -----------------------------------------------------------

    def _connect(self) -> ProxmoxResource:
        """Build the proxmoxer resource (in the executor: a ticket logs in)."""
        with self._connect_lock:
            if self._api is None:
                self._api = self._build()
            return self._api

    def _build(self) -> ProxmoxResource:
        """Assemble session, auth and resource (a ticket auth logs in now)."""
        config = self.config
        verify = config.verify
        auth: ProxmoxHTTPAuthBase
        if config.token_name is not None:
            auth = ProxmoxHTTPApiTokenAuth(
                config.user_id,
                config.token_name,
                config.token_value,
                verify_ssl=verify,
                timeout=config.timeout,
            )
        else:
            auth = _TicketAuth(config, verify)
        session = ProxmoxHttpSession()
        _prepare(session, config)
        session.auth = auth
        session.headers["Connection"] = "keep-alive"
        serializer = JsonSerializer()
        session.headers["accept"] = serializer.get_accept_types()
        self._session = session
        return ProxmoxResource(
            base_url=config.base_url, session=session, serializer=serializer
        )

    def _drop(self) -> None:
        """Forget the session (after an auth error, or on close)."""
        with self._connect_lock:
            session, self._session, self._api = self._session, None, None
        if session is not None:
            if isinstance(session.auth, _TicketAuth):
                session.auth.close()
            session.close()

    async def _call(self, func: Callable[[ProxmoxResource], Any]) -> Any:
        """Run ``func(api)`` in the executor and map every error."""
        loop = asyncio.get_running_loop()

        def run() -> Any:
            return func(self._connect())

        try:
            return await loop.run_in_executor(None, run)
        except Exception as err:
            mapped = _map_error(err, self._where)
            if isinstance(mapped, AuthenticationError):
                await loop.run_in_executor(None, self._drop)
            raise mapped from err

    # -- HostApi --------------------------------------------------------------

    async def version(self) -> dict[str, Any]:
        """``GET /version``: ``{"version": "9.2.11", "release": ..., ...}``."""
        return cast("dict[str, Any]", await self._call(lambda api: api.version.get()))

    async def nodes(self) -> list[dict[str, Any]]:
        """``GET /nodes``: every node (``node``, ``status``, ``ssl_fingerprint``...).

        Works with an empty ``ProxmoxConfig.node``, to discover the node name.
        """
        nodes = await self._call(lambda api: api.nodes.get())
        return [dict(item) for item in nodes or []]

    async def check(self) -> None:
        """Check credentials, TLS and that the configured node exists."""
        names = {item.get("node") for item in await self.nodes()}
        if self.config.node not in names:
            raise NotFoundError(
                f"node {self.config.node!r} not found on {self._where} "
                f"(known: {', '.join(sorted(str(n) for n in names))})"
            )

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
        # A task often ends within a second: look again after a fifth of the
        # poll interval, then back off to it (with the command, at most 5
        # requests in the first second).
        delay = self.task_poll_interval / 5
        try:
            async with asyncio.timeout(max_wait or self.task_timeout):
                while True:
                    status = await self._call(
                        lambda api: api.nodes(node).tasks(upid).status.get()
                    )
                    if status.get("status") == "stopped":
                        exitstatus = str(status.get("exitstatus", ""))
                        if _task_succeeded(exitstatus):
                            return
                        raise TaskFailedError(exitstatus or "task failed")
                    await asyncio.sleep(delay)
                    delay = min(delay * 1.5, self.task_poll_interval)
        except TimeoutError as err:
            raise ChannelTimeoutError(f"task {upid} did not finish in time") from err

    async def close(self) -> None:
        """Close the HTTP sessions."""
        if self._session is not None:
            await asyncio.get_running_loop().run_in_executor(None, self._drop)
