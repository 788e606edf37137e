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
``GET /cluster/resources?type=vm``, filtered to the configured node.
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
DEFAULT_SHUTDOWN_TIMEOUT = 120
DEFAULT_TASK_TIMEOUT = 180.0
TASK_POLL_INTERVAL = 1.0
_TICKET_RENEW_AGE = 3600.0
_PRIVILEGE = re.compile(r"Permission check failed \(([^,]*),\s*([^)]+)\)")
_HEX_FINGERPRINT = re.compile(r"[0-9A-F]{64}")
_GUEST_TYPES = {"qemu": ChildKind.VM, "lxc": ChildKind.LXC}
_DETAIL_FIELDS = ("cpu", "maxcpu", "mem", "maxmem", "uptime", "netin", "netout")
# How OpenSSL (trust store, pinned CA) and urllib3 (pinned fingerprint) say
# that they refused the certificate the server presented.
_CERTIFICATE_REFUSED = ("CERTIFICATE_VERIFY_FAILED", "Fingerprints did not match")
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
        shutdown_timeout: int = DEFAULT_SHUTDOWN_TIMEOUT,
        force_stop: bool = True,
    ) -> None:
        """Prepare the channel; the first call connects (and logs in)."""
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
        """Every privilege the credentials hold, on any path (``/access/permissions``)."""
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

    async def _guest_action(
        self, key: str, action: str, *, idempotent: str, **data: str
    ) -> None:
        """POST a guest power action and await its task.

        A platform answer containing ``idempotent`` (``already running``,
        ``not running``) means the guest is already where we want it.
        """
        await self._ensure_identity()
        kind = await self._kind(key)
        node = self.config.node

        def post(api: ProxmoxResource) -> Any:
            return getattr(api.nodes(node), kind)(key).status(action).post(**data)

        try:
            upid = await self._call(post)
        except NoQuorumError as err:
            raise await self._no_quorum(err) from err
        except ApiError as err:
            if idempotent in err.message:
                return
            raise
        try:
            await self.wait_task(str(upid), max_wait=self.task_timeout)
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
    ) -> None:
        """Shut a guest down gracefully (ACPI / init), forcing it after ``timeout``."""
        seconds = self.shutdown_timeout if timeout is None else timeout
        force = self.force_stop if force_stop is None else force_stop
        await self._guest_action(
            key,
            "shutdown",
            idempotent="not running",
            timeout=str(seconds),
            forceStop="1" if force else "0",
        )

    async def stop(self, key: str) -> None:
        """``HostApi.stop``: a graceful shutdown with the channel's defaults."""
        await self.shutdown(key)

    async def hard_stop(self, key: str) -> None:
        """Stop a guest immediately (pulls the virtual plug)."""
        await self._guest_action(key, "stop", idempotent="not running")

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
                    await asyncio.sleep(self.task_poll_interval)
        except TimeoutError as err:
            raise ChannelTimeoutError(f"task {upid} did not finish in time") from err

    async def close(self) -> None:
        """Close the HTTP sessions."""
        if self._session is not None:
            await asyncio.get_running_loop().run_in_executor(None, self._drop)
