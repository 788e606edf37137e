"""Pytest fixtures for the homelab simulator (registered in tests/conftest.py).

- ``homelab_server`` (session): a :class:`~tests.homelab.HomelabThread` running
  the reference scenario at time scale :data:`TIME_SCALE`.
- ``homelab`` (function): the same handle, reset first (all off, no faults,
  empty log and counters).
- ``cluster_homelab`` (function): the ``cluster`` scenario (Machine1 and
  Machine2 in one cluster, no QDevice), started once per session, reset first.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

import pytest

from .thread import HomelabThread

if TYPE_CHECKING:
    from collections.abc import Iterator

TIME_SCALE: Final = 0.02


def _start(scenario: str) -> HomelabThread:
    # Set up during a test's set-up, while the test harness refuses new
    # sockets (pytest-socket): the simulator makes its own
    # (tests.homelab.service.loopback_socket), so it needs no exception.
    return HomelabThread(scenario, time_scale=TIME_SCALE).start()


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
