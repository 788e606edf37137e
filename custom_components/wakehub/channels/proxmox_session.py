"""Proxmox VE channel: the session. Ticket logins through the pinned
session, error mapping, and the connection every call goes through. See
:mod:`.proxmox`."""

from __future__ import annotations

import asyncio
import re
import threading
import time
from typing import TYPE_CHECKING, Any, cast

from proxmoxer import AuthenticationError as ProxmoxerAuthenticationError
from proxmoxer.backends.https import (
    JsonSerializer,
    ProxmoxHTTPApiTokenAuth,
    ProxmoxHTTPAuthBase,
    ProxmoxHttpSession,
)
from proxmoxer.core import ProxmoxResource, ResourceException
import requests  # type: ignore[import-untyped, unused-ignore]
from requests.cookies import (  # type: ignore[import-untyped, unused-ignore]
    cookiejar_from_dict,
)

from .budget import RequestBudget
from .errors import (
    ApiError,
    AuthenticationError,
    ChannelError,
    ChannelTimeoutError,
    NoQuorumError,
    NotFoundError,
    PermissionDeniedError,
    TlsVerificationError,
    UnreachableError,
)
from .proxmox_config import DEFAULT_TASK_TIMEOUT, TASK_POLL_INTERVAL, ProxmoxConfig
from .proxmox_tls import _prepare

if TYPE_CHECKING:
    from collections.abc import Callable

    from .base import ChildKind


_TICKET_RENEW_AGE = 3600.0
_PRIVILEGE = re.compile(r"Permission check failed \(([^,]*),\s*([^)]+)\)")
# How OpenSSL (trust store, pinned CA) and urllib3 (pinned fingerprint) say
# that they refused the certificate the server presented.
_CERTIFICATE_REFUSED = ("CERTIFICATE_VERIFY_FAILED", "Fingerprints did not match")
# PVE's answer to a guest start without quorum (pve-cluster PVE/Cluster.pm).
_NO_QUORUM = "no quorum"


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


class ProxmoxConnection:
    """One Proxmox VE API: the proxmoxer session, its login, and every call
    run in the executor with its errors mapped to channel errors."""

    def __init__(
        self,
        config: ProxmoxConfig,
        *,
        task_poll_interval: float = TASK_POLL_INTERVAL,
        task_timeout: float = DEFAULT_TASK_TIMEOUT,
        shutdown_timeout: int | None = None,
        force_stop: bool = False,
        budget: RequestBudget | None = None,
    ) -> None:
        """Prepare the channel; the first call connects (and logs in).

        ``budget``: the machine's request budget, shared with its other
        channels (:mod:`.budget`); by default the API's own.

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
        self.budget = budget or RequestBudget(window=task_poll_interval)
        """The calls this API may receive in any second (the task poll
        interval), shared by every caller (:mod:`.budget`)."""

    @property
    def tcp_address(self) -> tuple[str, int]:
        """Where the API listens: the configured node's address and port."""
        return self.config.host, self.config.port

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
        sent = await self.budget.take()

        def run() -> Any:
            api = self._connect()
            sent[0] = time.monotonic()  # leaves now (see RequestBudget.take)
            return func(api)

        try:
            return await loop.run_in_executor(None, run)
        except Exception as err:
            mapped = _map_error(err, self._where)
            if isinstance(mapped, AuthenticationError):
                await loop.run_in_executor(None, self._drop)
            raise mapped from err

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

    async def close(self) -> None:
        """Close the HTTP sessions."""
        if self._session is not None:
            await asyncio.get_running_loop().run_in_executor(None, self._drop)
