"""Proxmox VE channel: how to reach a node, and the certificate helpers its
validation needs (CA and fingerprint pins). See :mod:`.proxmox`."""

from __future__ import annotations

from dataclasses import dataclass, field
import hashlib
import re

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization

from .errors import (
    InvalidConfigError,
)

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
_HEX_FINGERPRINT = re.compile(r"[0-9A-F]{64}")
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
