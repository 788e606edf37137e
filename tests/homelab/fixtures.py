"""Pytest fixtures for the homelab simulator (registered in tests/conftest.py).

- ``homelab_server`` (session): a :class:`~tests.homelab.HomelabThread` running
  the reference scenario at time scale :data:`TIME_SCALE`.
- ``homelab`` (function): the same handle, reset first (all off, no faults,
  empty log and counters).
- ``cluster_homelab`` (function): the ``cluster`` scenario (Machine1 and
  Machine2 in one cluster, no QDevice), started once per session, reset first.
"""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING, Final

import pytest

from .thread import HomelabThread

if TYPE_CHECKING:
    from collections.abc import Iterator

TIME_SCALE: Final = 0.02


def _start(scenario: str) -> HomelabThread:
    # pytest-socket (loaded by Home Assistant's plugin) may have disabled
    # sockets for the test being set up; the simulator binds loopback only.
    saved = socket.socket
    try:
        import pytest_socket

        pytest_socket.enable_socket()
    except ImportError:  # pragma: no cover - the plugin is always installed here
        pass
    try:
        return HomelabThread(scenario, time_scale=TIME_SCALE).start()
    finally:
        socket.socket = saved  # type: ignore[misc]


@pytest.fixture(scope="session")
def homelab_server() -> Iterator[HomelabThread]:
    """Run the reference homelab for the whole session, in its own thread."""
    server = _start("reference")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def cluster_homelab_server() -> Iterator[HomelabThread]:
    """Run the cluster scenario for the whole session, in its own thread."""
    server = _start("cluster")
    yield server
    server.stop()


@pytest.fixture
def cluster_homelab(cluster_homelab_server: HomelabThread) -> HomelabThread:
    """Return the session cluster homelab, reset to "everything off, no faults"."""
    cluster_homelab_server.reset()
    return cluster_homelab_server


@pytest.fixture
def homelab(homelab_server: HomelabThread) -> HomelabThread:
    """Return the session homelab, reset to "everything off, no faults"."""
    homelab_server.reset()
    return homelab_server
