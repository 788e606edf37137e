"""Docker Engine channel: where an API lives and how to authenticate to it.

:class:`DockerConfig` names the endpoint (see :mod:`.docker` for the four
kinds); :func:`build_tls_context` turns its PEM texts into a client TLS
context. :mod:`.docker` talks to the API.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
import os
from pathlib import Path
import ssl
import tempfile
from typing import TYPE_CHECKING

from .errors import InvalidConfigError

if TYPE_CHECKING:
    from .ssh import SshConfig

DEFAULT_DOCKER_PORT = 2375
DEFAULT_DOCKER_TLS_PORT = 2376
DEFAULT_SOCKET = "/var/run/docker.sock"
DEFAULT_TIMEOUT = 10.0
DEFAULT_STOP_TIMEOUT = 10


class DockerEndpoint(StrEnum):
    """How WakeHub reaches a Docker Engine API."""

    TCP = "tcp"
    TLS = "tls"
    UNIX = "unix"
    SSH = "ssh"


@dataclass(frozen=True, slots=True, kw_only=True)
class DockerConfig:
    """Where one Docker Engine API lives and how to authenticate to it."""

    endpoint: DockerEndpoint
    host: str = ""
    port: int | None = None
    socket_path: str = DEFAULT_SOCKET
    tls_ca: str | None = field(default=None, repr=False)
    tls_cert: str | None = field(default=None, repr=False)
    tls_key: str | None = field(default=None, repr=False)
    ssh: SshConfig | None = None
    timeout: float = DEFAULT_TIMEOUT
    stop_timeout: int = DEFAULT_STOP_TIMEOUT

    def __post_init__(self) -> None:
        """Check that the endpoint has what it needs."""
        endpoint = DockerEndpoint(self.endpoint)
        object.__setattr__(self, "endpoint", endpoint)
        if endpoint in (DockerEndpoint.TCP, DockerEndpoint.TLS) and not self.host:
            raise InvalidConfigError("a Docker TCP endpoint needs a host")
        if endpoint is DockerEndpoint.TLS and not (
            self.tls_ca and self.tls_cert and self.tls_key
        ):
            raise InvalidConfigError(
                "Docker over TLS needs a CA, a client certificate and its key"
            )
        if endpoint is DockerEndpoint.SSH and self.ssh is None:
            raise InvalidConfigError("Docker over SSH needs an SSH configuration")

    @property
    def where(self) -> str:
        """A human-readable description of the endpoint."""
        match self.endpoint:
            case DockerEndpoint.UNIX:
                return f"unix://{self.socket_path}"
            case DockerEndpoint.SSH:
                assert self.ssh is not None
                return f"ssh://{self.ssh.host}:{self.ssh.port}{self.socket_path}"
            case _:
                return f"{self.host}:{self.effective_port}"

    @property
    def effective_port(self) -> int:
        """The TCP port, defaulting to 2375 (plain) or 2376 (TLS)."""
        if self.port is not None:
            return self.port
        if self.endpoint is DockerEndpoint.TLS:
            return DEFAULT_DOCKER_TLS_PORT
        return DEFAULT_DOCKER_PORT


def build_tls_context(ca: str, cert: str, key: str) -> ssl.SSLContext:
    """Build a client TLS context from PEM texts (blocking: run in an executor).

    The server is verified against ``ca`` only (host name included); the
    client presents ``cert``/``key``. The PEM texts go through a private
    temporary directory because ``load_cert_chain`` only reads files.
    """
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cadata=ca)
    with tempfile.TemporaryDirectory(prefix="wakehub-docker-") as tmp:
        cert_path = Path(tmp) / "cert.pem"
        key_path = Path(tmp) / "key.pem"
        cert_path.write_text(cert)
        key_fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(key_fd, "w") as key_file:
            key_file.write(key)
        context.load_cert_chain(cert_path, key_path)
    return context
