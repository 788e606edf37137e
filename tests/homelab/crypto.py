"""Key material for the simulator: TLS certificates and SSH keys.

Everything is generated in memory when a :class:`~tests.homelab.core.Homelab`
is created, so no secret ever lands in the repository.
"""

from __future__ import annotations

from dataclasses import dataclass
import datetime as dt
import ipaddress
from pathlib import Path
import ssl
import tempfile

import asyncssh
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


@dataclass(frozen=True)
class TlsIdentity:
    """A self-signed certificate and its key, as PEM, plus PVE's fingerprint."""

    cert_pem: bytes
    key_pem: bytes
    fingerprint: str

    def server_context(self) -> ssl.SSLContext:
        """Return a server-side SSL context serving this certificate."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        # The ssl module only loads certificates from files.
        with tempfile.TemporaryDirectory(prefix="homelab-tls-") as tmp:
            cert = Path(tmp, "cert.pem")
            key = Path(tmp, "key.pem")
            cert.write_bytes(self.cert_pem)
            key.write_bytes(self.key_pem)
            context.load_cert_chain(cert, key)
        return context


def fingerprint_sha256(cert_der: bytes) -> str:
    """Return a certificate's SHA-256 fingerprint as PVE shows it (AB:CD:...)."""
    digest = hashes.Hash(hashes.SHA256())
    digest.update(cert_der)
    return ":".join(f"{byte:02X}" for byte in digest.finalize())


def make_tls_identity(common_name: str) -> TlsIdentity:
    """Create a self-signed certificate for ``common_name`` valid for 127.0.0.1."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.DNSName(common_name),
                    x509.DNSName("localhost"),
                    x509.IPAddress(ipaddress.IPv4Address("127.0.0.1")),
                ]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    return TlsIdentity(
        cert_pem=cert.public_bytes(serialization.Encoding.PEM),
        key_pem=key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
        fingerprint=fingerprint_sha256(cert.public_bytes(serialization.Encoding.DER)),
    )


def make_ssh_key() -> asyncssh.SSHKey:
    """Create a fresh ed25519 SSH key (host key or client key)."""
    return asyncssh.generate_private_key("ssh-ed25519")


def public_key_line(key: asyncssh.SSHKey, comment: str | None = None) -> str:
    """Return the OpenSSH public key line of ``key`` (``ssh-ed25519 AAAA... c``)."""
    line = key.export_public_key("openssh").decode().strip()
    parts = line.split()
    return " ".join(parts[:2] + ([comment] if comment else []))


def private_key_text(key: asyncssh.SSHKey) -> str:
    """Return ``key`` as unencrypted OpenSSH private key text."""
    return key.export_private_key("openssh").decode()
