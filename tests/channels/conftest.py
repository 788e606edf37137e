"""Fixtures of the channel tests."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
import pytest_socket

if TYPE_CHECKING:
    from collections.abc import Iterator

    from tests.homelab import Homelab, HomelabThread


@pytest.fixture(autouse=True)
def _allow_unix_sockets(_loopback_sockets: None) -> None:
    """Also allow unix sockets (dockerd's), still restricting TCP to 127.0.0.1.

    pytest-homeassistant-custom-component restricts ``connect()`` to
    127.0.0.1 and, as a side effect, refuses every unix socket connect.
    """
    pytest_socket.socket_allow_hosts(["127.0.0.1"], allow_unix_socket=True)


@pytest.fixture
def restore_host_keys(homelab: HomelabThread) -> Iterator[HomelabThread]:
    """The homelab, with its SSH host keys put back after the test.

    A ``hostkey_change`` fault replaces a key for the rest of the session
    (``reset()`` keeps it) while ``homelab.ready`` still shows the first one;
    restoring it keeps later tests, ours and others', consistent.
    """
    saved = homelab.call(lambda lab: dict(lab.host_keys))
    yield homelab

    def _restore(lab: Homelab) -> None:
        lab.host_keys.update(saved)

    homelab.call(_restore)
    homelab.reset()
