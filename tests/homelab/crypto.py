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
    """A certificate and its key, as PEM, plus PVE's fingerprint."""

    cert_pem: bytes
    key_pem: bytes
    fingerprint: str

    def server_context(self) -> ssl.SSLContext:
        """Return a server-side SSL context serving this certificate."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.load_into(context)
        return context

    def load_into(self, context: ssl.SSLContext) -> None:
        """Serve this certificate from ``context`` (new handshakes only)."""
        # The ssl module only loads certificates from files.
        with tempfile.TemporaryDirectory(prefix="homelab-tls-") as tmp:
            cert = Path(tmp, "cert.pem")
            key = Path(tmp, "key.pem")
            cert.write_bytes(self.cert_pem)
            key.write_bytes(self.key_pem)
            context.load_cert_chain(cert, key)


@dataclass(frozen=True)
class CertificateAuthority:
    """A cluster's own CA (``pve-root-ca.pem``): it signs every node's certificate."""

    certificate: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    @property
    def cert_pem(self) -> bytes:
        """The CA certificate as PEM."""
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    @property
    def fingerprint(self) -> str:
        """The CA certificate's SHA-256 fingerprint (``AB:CD:...``)."""
        return fingerprint_sha256(
            self.certificate.public_bytes(serialization.Encoding.DER)
        )


def fingerprint_sha256(cert_der: bytes) -> str:
    """Return a certificate's SHA-256 fingerprint as PVE shows it (AB:CD:...)."""
    digest = hashes.Hash(hashes.SHA256())
    digest.update(cert_der)
    return ":".join(f"{byte:02X}" for byte in digest.finalize())


def make_ca(cluster: str) -> CertificateAuthority:
    """Create a cluster CA valid 10 years, as ``pvecm updatecerts`` makes it.

    pve-cluster ``PVE/Cluster/Setup.pm`` (``gen_pveca_cert``): a self-signed
    CA, ``CN=Proxmox Virtual Environment``, ``OU=<random>``, 10 years.
    """
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, "Proxmox Virtual Environment"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, cluster),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "PVE Cluster Manager CA"),
        ]
    )
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
            critical=False,
        )
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    return CertificateAuthority(certificate=cert, key=key)


def make_tls_identity(
    common_name: str, ca: CertificateAuthority | None = None
) -> TlsIdentity:
    """Create a certificate for ``common_name`` valid for 127.0.0.1.

    With ``ca`` it is a node certificate (``pve-ssl.pem``) signed by that CA
    and valid 2 years, as pve-cluster ``PVE/Cluster/Setup.pm``
    (``gen_pve_ssl_cert``) makes it; without, a self-signed one.
    """
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "PVE Cluster Node"),
        ]
    )
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(ca.certificate.subject if ca is not None else name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=730 if ca is not None else 3650))
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
    )
    if ca is not None:
        builder = builder.add_extension(
            x509.BasicConstraints(ca=False, path_length=None), critical=True
        ).add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(
                ca.certificate.public_key()  # type: ignore[arg-type]
            ),
            critical=False,
        )
    cert = builder.sign(ca.key if ca is not None else key, hashes.SHA256())
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
