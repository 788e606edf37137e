"""Fixtures of the channel tests."""

from __future__ import annotations

import pytest
import pytest_socket


@pytest.fixture(autouse=True)
def _allow_unix_sockets(_loopback_sockets: None) -> None:
    """Also allow unix sockets (dockerd's), still restricting TCP to 127.0.0.1.

    pytest-homeassistant-custom-component restricts ``connect()`` to
    127.0.0.1 and, as a side effect, refuses every unix socket connect.
    """
    pytest_socket.socket_allow_hosts(["127.0.0.1"], allow_unix_socket=True)
