"""Sanity checks of the real-server fixtures themselves (dockerd, sshd)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from tests.real_servers import RealDockerd, RealSshd


@pytest.mark.real_docker
def test_real_dockerd_runs_containers(real_dockerd: RealDockerd) -> None:
    """The engine imports busybox and runs a container without networking."""
    real_dockerd.create_container("wh-fixture-check", start=True)
    assert real_dockerd.state("wh-fixture-check") == "running"
    real_dockerd.docker("stop", "-t", "0", "wh-fixture-check")
    assert real_dockerd.state("wh-fixture-check") == "exited"
    assert real_dockerd.tcp_url.startswith("tcp://127.0.0.1:")


@pytest.mark.real_sshd
def test_real_sshd_details(real_sshd: RealSshd) -> None:
    """The server has distinct host keys and an empty command log."""
    assert real_sshd.host == "127.0.0.1"
    assert real_sshd.port != real_sshd.impostor_port
    assert real_sshd.host_key_fingerprint.startswith("SHA256:")
    assert real_sshd.host_key_fingerprint != real_sshd.impostor_fingerprint
    assert real_sshd.client_private_key.startswith(
        "-----BEGIN OPENSSH PRIVATE KEY-----"
    )
    real_sshd.clear_commands()
    assert real_sshd.commands() == []
