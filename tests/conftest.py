"""Fixtures shared by every WakeHub test.

The integration package is imported here, before any ``hass`` fixture runs, so
Home Assistant finds *our* ``custom_components`` and not the plugin's own
testing config.
"""

from __future__ import annotations

from collections import OrderedDict
import importlib
from typing import Any, Final

import pytest
import pytest_socket

import custom_components.wakehub  # noqa: F401

pytest_plugins = [
    "pytest_homeassistant_custom_component",
    "tests.real_servers",
    "tests.homelab.fixtures",
    "tests.demo_runner",  # shared_demo: one demo for tests/browser and tests/demo
]


@pytest.fixture(autouse=True)
def _loopback_sockets(socket_enabled: None) -> None:
    """Allow sockets: every server a test talks to lives on 127.0.0.1.

    pytest-homeassistant-custom-component disables sockets and restricts
    ``connect()`` to 127.0.0.1; we re-enable them but keep that restriction,
    so a test can never reach another address. The switch is process-wide and
    happens only when this fixture runs: every fixture set up before it, and
    the session simulator's thread meanwhile, see sockets refused (the
    simulator makes its own, see ``tests/homelab/service.py``).
    Unix sockets are allowed too (the plugin's restriction refuses them all
    as a side effect): Docker over SSH connects through a private local unix
    socket.
    """
    pytest_socket.socket_allow_hosts(["127.0.0.1"], allow_unix_socket=True)


# A probe of a powered-off simulated machine waits out its whole timeout (the
# simulator's silent ports drop every SYN, as a host that is off answers
# nothing: tests/homelab/service.py). Loopback answers within microseconds,
# so the tests wait 0.1 s instead of the 2 s a real network is given.
TEST_PROBE_TIMEOUT = 0.1


@pytest.fixture(autouse=True)
def _short_probe_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    """Shorten the TCP probe's default timeout (custom_components/.../probe.py)."""
    # The package exports a function named ``probe``: fetch the module itself.
    module = importlib.import_module("custom_components.wakehub.channels.probe")
    monkeypatch.setattr(module, "DEFAULT_PROBE_TIMEOUT", TEST_PROBE_TIMEOUT)


# --- pytest-xdist: the longest files first, the demo's files together --------
# scripts/test spreads the suite over pytest-xdist workers, one test file at a
# time (--dist loadfile). xdist hands out the files with the most tests first,
# which puts the few tests that use a whole Home Assistant (the browser and
# demo files, minutes each) last: the run then ends with one worker on them
# and the other idle. Handing those out first lets the short files fill in.
# Those files also share one demo (tests/demo_runner.py's session fixture
# ``shared_demo``, reset to cold before each test): they go to the same
# worker as one unit, so that the demo starts once, not once per file.
LONG_FILES: Final = ("tests/browser/", "tests/demo/")
DEMO_UNIT: Final = "tests/demo/ + tests/browser/ (one shared demo)"


class _LongFirst(OrderedDict[str, Any]):
    """xdist's queue of work units, popped long files first."""

    def popitem(self, last: bool = True) -> tuple[str, Any]:
        """Pop the first long file while any is left, else as usual."""
        if not last:
            for scope in self:
                if scope.startswith(LONG_FILES):
                    return scope, self.pop(scope)
        return super().popitem(last)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """Use loadfile scheduling with the long files first (when loadfile is asked)."""
    if config.getoption("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class DemoTogether(LoadFileScheduling):  # type: ignore[misc]
        """Files are the units, but the demo's files are one unit."""

        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            return DEMO_UNIT if path.startswith(LONG_FILES) else path

    scheduler = DemoTogether(config, log)
    scheduler.workqueue = _LongFirst(scheduler.workqueue)
    return scheduler
