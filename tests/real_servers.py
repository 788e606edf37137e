"""Pytest fixtures that run REAL servers on 127.0.0.1 for the channel tests.

``real_dockerd``
    Debian's Docker Engine (``dockerd``), listening on a unix socket in a
    temporary directory and on ``tcp://127.0.0.1:<free port>``. It touches no
    host networking (``--bridge none``, no iptables). A busybox image is
    imported as ``wakehub/busybox:test``; containers are created with
    ``--network none``.

``real_sshd``
    OpenSSH's ``sshd`` on ``127.0.0.1:<free port>`` with its own ed25519 host
    key, password and public-key auth for the dedicated system user
    ``wakehub-test``, and a ``ForceCommand`` that appends
    ``$SSH_ORIGINAL_COMMAND`` to a log file instead of running it (so a
    shutdown command is harmless). A second sshd, the *impostor*, serves the
    same user with ANOTHER host key, for host-key mismatch tests. A third, the
    *plain* one (``plain_port``), has no ForceCommand: commands really run, as
    that unprivileged user without any sudo rule, for the checks that prove a
    shutdown would be refused (only harmless commands are sent to it).

Both fixtures are session-scoped, install their Debian packages when missing
(as root), and ``pytest.skip`` with a visible reason when the server cannot run.
Every process they start is stopped at the end and the temporary directories
are removed; the server logs are printed when a server fails to start.
"""

from __future__ import annotations

import _socket
import contextlib
from dataclasses import dataclass, field
import fcntl
import os
from pathlib import Path
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from collections.abc import Iterator

DOCKER_IMAGE = "wakehub/busybox:test"
SSH_USER = "wakehub-test"
SSH_PASSWORD = "wakehub-test-password"

_APT_ENV = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}


def _raw_socket(family: int) -> _socket.socket:
    """A socket that pytest-socket's guard does not intercept.

    Session fixtures are set up while pytest-socket has disabled
    ``socket.socket`` for the current test; the fixtures only ever talk to
    127.0.0.1 (or a unix socket), so they use the C-level class directly.
    """
    return _socket.socket(family, socket.SOCK_STREAM)


def free_port() -> int:
    """Return a TCP port that is free on 127.0.0.1 right now."""
    sock = _raw_socket(socket.AF_INET)
    try:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
    finally:
        sock.close()


def _ensure_packages(binaries: dict[str, str]) -> str | None:
    """Install the Debian packages of missing binaries; return a reason on failure.

    ``binaries`` maps an absolute binary path to the package providing it.
    """
    missing = {pkg for path, pkg in binaries.items() if not Path(path).exists()}
    if not missing:
        return None
    if os.geteuid() != 0:
        return f"{', '.join(sorted(missing))} missing and not running as root"
    for cmd in (
        ["apt-get", "update", "-qq"],
        ["apt-get", "install", "-y", "-qq", *sorted(missing)],
    ):
        proc = subprocess.run(
            cmd, capture_output=True, text=True, env=_APT_ENV, check=False
        )
        if proc.returncode != 0:
            return f"{' '.join(cmd)} failed: {proc.stderr.strip()[-500:]}"
    still = [path for path in binaries if not Path(path).exists()]
    return f"still missing after apt-get: {still}" if still else None


def _wait_tcp(port: int, proc: subprocess.Popen[bytes], timeout: float) -> bool:
    """Wait until 127.0.0.1:port accepts a connection (or the process dies)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        sock = _raw_socket(socket.AF_INET)
        try:
            sock.settimeout(0.5)
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return True
        finally:
            sock.close()
        time.sleep(0.05)
    return False


def _stop(proc: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    """Stop a process: SIGTERM, then SIGKILL if it does not exit in time."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def _unmount_below(directory: Path) -> None:
    """Unmount anything still mounted below ``directory`` (deepest first)."""
    prefix = str(directory.resolve()) + "/"
    mounts = [
        line.split()[1]
        for line in Path("/proc/mounts").read_text().splitlines()
        if line.split()[1].startswith(prefix)
    ]
    for mount in sorted(mounts, key=len, reverse=True):
        subprocess.run(["umount", "-l", mount], check=False, capture_output=True)


def _remove_tree(directory: Path) -> None:
    """Remove a temporary tree, but never while anything is mounted in it."""
    _unmount_below(directory)
    prefix = str(directory.resolve()) + "/"
    if any(
        line.split()[1].startswith(prefix)
        for line in Path("/proc/mounts").read_text().splitlines()
    ):
        print(f"real_servers: leaving {directory}: still mounted")
        return
    # A just-stopped daemon's children may still be removing their own files.
    for _ in range(20):
        shutil.rmtree(directory, ignore_errors=True)
        if not directory.exists():
            return
        time.sleep(0.25)
    print(f"real_servers: could not remove {directory}")


# --------------------------------------------------------------------------
# Docker Engine
# --------------------------------------------------------------------------


@dataclass
class RealDockerd:
    """A running dockerd: where to reach it and how to make containers."""

    unix_socket: str
    tcp_port: int
    image: str = DOCKER_IMAGE
    docker_cli: str = "/usr/bin/docker"
    _created: list[str] = field(default_factory=list)

    @property
    def unix_url(self) -> str:
        """``unix:///path/to/docker.sock``."""
        return f"unix://{self.unix_socket}"

    @property
    def tcp_url(self) -> str:
        """``tcp://127.0.0.1:<port>`` (plain TCP, loopback only)."""
        return f"tcp://127.0.0.1:{self.tcp_port}"

    def docker(self, *args: str, check: bool = True) -> str:
        """Run the docker CLI against this engine; return its stdout."""
        proc = subprocess.run(
            [self.docker_cli, "-H", self.unix_url, *args],
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        if check and proc.returncode != 0:
            raise RuntimeError(f"docker {' '.join(args)}: {proc.stderr.strip()}")
        return proc.stdout.strip()

    def create_container(
        self,
        name: str,
        *,
        health_cmd: str | None = None,
        start: bool = False,
    ) -> str:
        """Create (and optionally start) a sleeping busybox container; return its id.

        An existing container of that name is removed first. With
        ``health_cmd``, the container has a health check run every second.
        """
        self.remove_container(name)
        args = ["create", "--network", "none", "--name", name]
        if health_cmd is not None:
            args += [
                "--health-cmd",
                health_cmd,
                "--health-interval",
                "1s",
                "--health-retries",
                "1",
            ]
        container_id = self.docker(*args, self.image, "/bin/sleep", "100000")
        self._created.append(name)
        if start:
            self.docker("start", name)
        return container_id

    def remove_container(self, name: str) -> None:
        """Force-remove a container if it exists."""
        self.docker("rm", "-f", name, check=False)

    def state(self, name: str) -> str:
        """The container's ``State.Status`` (``created``, ``running``, ``exited``)."""
        return self.docker("inspect", "-f", "{{.State.Status}}", name)


def _unix_ping(path: str) -> bool:
    """GET /_ping on a unix socket; True when the engine answers OK."""
    sock = _raw_socket(socket.AF_UNIX)
    try:
        sock.settimeout(2)
        sock.connect(path)
        sock.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
        answer = sock.recv(4096)
    except OSError:
        return False
    finally:
        sock.close()
    return answer.startswith(b"HTTP/1.") and b" 200 " in answer.split(b"\r\n")[0]


@pytest.fixture(scope="session")
def real_dockerd() -> Iterator[RealDockerd]:
    """Run a real dockerd on a temp unix socket and on 127.0.0.1:<free port>."""
    reason = _ensure_packages(
        {
            "/usr/sbin/dockerd": "docker.io",
            "/usr/bin/docker": "docker.io",
            "/bin/busybox": "busybox-static",
        }
    )
    if reason:
        pytest.skip(f"real dockerd unavailable: {reason}")
    # A short path: containerd's sockets live under exec-root (108-byte limit).
    base = Path(tempfile.mkdtemp(prefix="wh-dockerd-", dir="/tmp"))
    base.chmod(0o755)
    sock = base / "docker.sock"
    port = free_port()
    log_path = base / "dockerd.log"
    cmd = [
        "/usr/sbin/dockerd",
        "--host",
        f"unix://{sock}",
        "--host",
        f"tcp://127.0.0.1:{port}",
        "--data-root",
        str(base / "data"),
        "--exec-root",
        str(base / "exec"),
        "--pidfile",
        str(base / "dockerd.pid"),
        "--bridge",
        "none",
        "--iptables=false",
        "--ip6tables=false",
        "--ip-masq=false",
        "--userland-proxy=false",
        "--log-level",
        "warn",
    ]
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        deadline = time.monotonic() + 60
        while not _unix_ping(str(sock)):
            if proc.poll() is not None or time.monotonic() > deadline:
                print(log_path.read_text(errors="replace")[-4000:])
                pytest.skip(
                    f"real dockerd did not start (exit {proc.poll()}); see log above"
                )
            time.sleep(0.2)
        # The SSH tunnel test reaches the socket as the unprivileged test user.
        sock.chmod(0o666)
        engine = RealDockerd(unix_socket=str(sock), tcp_port=port)
        rootfs = base / "rootfs"
        (rootfs / "bin").mkdir(parents=True)
        shutil.copy2("/bin/busybox", rootfs / "bin" / "busybox")
        for applet in ("sh", "sleep", "true", "false"):
            (rootfs / "bin" / applet).symlink_to("busybox")
        tar = subprocess.Popen(
            ["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE
        )
        imported = subprocess.run(
            [engine.docker_cli, "-H", engine.unix_url, "import", "-", DOCKER_IMAGE],
            stdin=tar.stdout,
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        tar.wait()
        if imported.returncode != 0:
            print(log_path.read_text(errors="replace")[-4000:])
            pytest.skip(f"docker import failed: {imported.stderr.strip()}")
        yield engine
        for name in engine._created:
            engine.remove_container(name)
    finally:
        _stop(proc)
        _remove_tree(base)


# --------------------------------------------------------------------------
# OpenSSH server
# --------------------------------------------------------------------------


@dataclass
class RealSshd:
    """A running sshd whose forced command logs instead of executing."""

    host: str
    port: int
    impostor_port: int
    plain_port: int
    """Same host key, no ForceCommand: commands really run, as ``username``."""
    username: str
    password: str
    client_private_key: str
    client_public_key: str
    host_public_key: str
    host_key_fingerprint: str
    impostor_public_key: str
    impostor_fingerprint: str
    command_log: Path
    log_files: list[Path]

    def commands(self) -> list[str]:
        """Every command a client asked to run, in order."""
        if not self.command_log.exists():
            return []
        return [
            line for line in self.command_log.read_text().splitlines() if line.strip()
        ]

    def clear_commands(self) -> None:
        """Forget the commands logged so far."""
        self.command_log.write_text("")

    def server_log(self) -> str:
        """The sshd logs, for debugging a failed test."""
        return "\n".join(p.read_text(errors="replace") for p in self.log_files)


def _ensure_user() -> None:
    """Create the system user ``wakehub-test`` (idempotent) and set its password.

    Test runs at the same time (CI's phases, pytest-xdist workers) take turns:
    two ``useradd`` of one user race, and the loser fails.
    """
    with Path("/tmp/wakehub-test-user.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        _ensure_user_locked()


def _ensure_user_locked() -> None:
    if subprocess.run(["id", SSH_USER], capture_output=True, check=False).returncode:
        subprocess.run(
            [
                "useradd",
                "--system",
                "--no-create-home",
                "--home-dir",
                "/nonexistent",
                "--shell",
                "/bin/sh",
                SSH_USER,
            ],
            check=True,
            capture_output=True,
        )
    subprocess.run(
        ["chpasswd"],
        input=f"{SSH_USER}:{SSH_PASSWORD}\n",
        text=True,
        check=True,
        capture_output=True,
    )


def _keygen(path: Path) -> tuple[str, str]:
    """Make an ed25519 key pair; return (public key line, SHA256 fingerprint)."""
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "", "-f", str(path)],
        check=True,
        capture_output=True,
    )
    public = Path(f"{path}.pub").read_text().strip()
    finger = subprocess.run(
        ["ssh-keygen", "-l", "-E", "sha256", "-f", f"{path}.pub"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()[1]
    return public, finger


@pytest.fixture(scope="session")
def real_sshd() -> Iterator[RealSshd]:
    """Run OpenSSH's sshd on 127.0.0.1 with a logging ForceCommand."""
    reason = _ensure_packages(
        {"/usr/sbin/sshd": "openssh-server", "/usr/bin/ssh-keygen": "openssh-client"}
    )
    if reason:
        pytest.skip(f"real sshd unavailable: {reason}")
    if os.geteuid() != 0:
        pytest.skip("real sshd needs root (it switches to the test user)")
    _ensure_user()
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
    base = Path(tempfile.mkdtemp(prefix="wh-sshd-", dir="/tmp"))
    base.chmod(0o755)
    host_pub, host_fp = _keygen(base / "host_ed25519")
    impostor_pub, impostor_fp = _keygen(base / "impostor_ed25519")
    client_pub, _ = _keygen(base / "client_ed25519")
    authorized = base / "authorized_keys"
    authorized.write_text(client_pub + "\n")
    authorized.chmod(0o644)
    command_log = base / "commands.log"
    command_log.write_text("")
    command_log.chmod(0o666)
    logger = base / "log-command.sh"
    logger.write_text(
        "#!/bin/sh\n"
        f'printf "%s\\n" "$SSH_ORIGINAL_COMMAND" >> "{command_log}"\n'
        "exit 0\n"
    )
    logger.chmod(0o755)

    procs: list[subprocess.Popen[bytes]] = []
    logs: list[Path] = []
    ports: list[int] = []
    try:
        for label, key in (
            ("main", "host_ed25519"),
            ("impostor", "impostor_ed25519"),
            ("plain", "host_ed25519"),
        ):
            # The port is free when picked but not reserved: another process
            # may bind it before sshd does (test runs at the same time). Then
            # sshd exits, and another port is tried.
            for attempt in range(5):
                port = free_port()
                # The plain server runs commands for real, as the unprivileged
                # test user (no sudo rule): only the SSH check's harmless
                # commands (id, sudo -n -l) are ever sent to it.
                force = "" if label == "plain" else f"ForceCommand {logger}\n"
                config = base / f"sshd_{label}.conf"
                config.write_text(
                    f"Port {port}\n"
                    "ListenAddress 127.0.0.1\n"
                    f"HostKey {base / key}\n"
                    f"PidFile {base / f'sshd_{label}.pid'}\n"
                    f"AuthorizedKeysFile {authorized}\n"
                    "UsePAM no\n"
                    "StrictModes no\n"
                    "PubkeyAuthentication yes\n"
                    "PasswordAuthentication yes\n"
                    "KbdInteractiveAuthentication no\n"
                    "PermitRootLogin no\n"
                    f"AllowUsers {SSH_USER}\n"
                    "AllowTcpForwarding yes\n"
                    "AllowStreamLocalForwarding yes\n"
                    "X11Forwarding no\n"
                    f"{force}"
                    "MaxStartups 100\n"
                    "LogLevel VERBOSE\n"
                )
                log_path = base / f"sshd_{label}.log"
                proc = subprocess.Popen(
                    [
                        "/usr/sbin/sshd",
                        *("-D", "-e", "-f", str(config), "-E", str(log_path)),
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    start_new_session=True,
                )
                procs.append(proc)
                if _wait_tcp(port, proc, timeout=20):
                    break
                log = log_path.read_text(errors="replace") if log_path.exists() else ""
                if "Address already in use" not in log or attempt == 4:
                    print(log)
                    pytest.skip(f"real sshd ({label}) did not start; see log above")
                log_path.unlink()
            logs.append(log_path)
            ports.append(port)
        yield RealSshd(
            host="127.0.0.1",
            port=ports[0],
            impostor_port=ports[1],
            plain_port=ports[2],
            username=SSH_USER,
            password=SSH_PASSWORD,
            client_private_key=(base / "client_ed25519").read_text(),
            client_public_key=client_pub,
            host_public_key=host_pub,
            host_key_fingerprint=host_fp,
            impostor_public_key=impostor_pub,
            impostor_fingerprint=impostor_fp,
            command_log=command_log,
            log_files=logs,
        )
    finally:
        for proc in procs:
            with contextlib.suppress(Exception):
                _stop(proc, timeout=10)
        _remove_tree(base)
