"""Pytest fixtures for the homelab simulator (registered in tests/conftest.py).

- ``homelab_server`` (session): a :class:`~tests.homelab.HomelabThread` running
  the reference scenario at time scale :data:`TIME_SCALE`.
- ``homelab`` (function): the same handle, reset first (all off, no faults,
  empty log and counters).
"""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING, Final

import pytest

from .thread import HomelabThread

if TYPE_CHECKING:
    from collections.abc import Iterator

TIME_SCALE: Final = 0.02


@pytest.fixture(scope="session")
def homelab_server() -> Iterator[HomelabThread]:
    """Run the reference homelab for the whole session, in its own thread."""
    # pytest-socket (loaded by Home Assistant's plugin) may have disabled
    # sockets for the test being set up; the simulator binds loopback only.
    saved = socket.socket
    try:
        import pytest_socket

        pytest_socket.enable_socket()
    except ImportError:  # pragma: no cover - the plugin is always installed here
        pass
    try:
        server = HomelabThread("reference", time_scale=TIME_SCALE).start()
    finally:
        socket.socket = saved  # type: ignore[misc]
    yield server
    server.stop()


@pytest.fixture
def homelab(homelab_server: HomelabThread) -> HomelabThread:
    """Return the session homelab, reset to "everything off, no faults"."""
    homelab_server.reset()
    return homelab_server
