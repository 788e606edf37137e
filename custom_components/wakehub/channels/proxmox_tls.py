"""Proxmox VE channel: TLS. Sessions that enforce the pinned CA or
certificate, and reading the certificate a server presents. See
:mod:`.proxmox`."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import ssl
from typing import TYPE_CHECKING, Any, cast

from requests.adapters import (  # type: ignore[import-untyped, unused-ignore]
    HTTPAdapter,
)

from .errors import (
    ChannelTimeoutError,
    TlsVerificationError,
    UnreachableError,
)
from .proxmox_config import (
    DEFAULT_PROXMOX_PORT,
    DEFAULT_TIMEOUT,
    ProxmoxConfig,
    normalize_fingerprint,
)

if TYPE_CHECKING:
    import requests  # type: ignore[import-untyped, unused-ignore]


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
