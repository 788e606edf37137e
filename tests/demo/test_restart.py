"""Settings -> Restart in the demo: Home Assistant comes back, the simulator stays.

``homeassistant.restart`` makes Home Assistant exit with its restart code
(100); ``scripts/develop`` starts it again on the same config and leaves the
simulator running with its state. This test restarts Home Assistant through
the REST API (``POST /api/services/homeassistant/restart``, what Settings ->
Restart calls) in the middle of a cascade, and checks the "interrupted"
report end to end:

1. Machine2 ignores its Wake-on-LAN (a simulator fault), so the start of
   Jellyfin (NAS -> Machine2 -> Jellyfin) waits at Machine2's step;
2. the restart: the script says so on stderr, Home Assistant answers again,
   with the same users and WakeHub entries;
3. the simulator was left as it was: same control API, the NAS still on,
   Machine2's fault still set, its command log kept;
4. the cascade is reported interrupted: a ``wakehub_cascade_failed`` logbook
   line, and the persistent notification whose title and message are the
   ``cascade_interrupted`` texts of ``translations/en.json``.

The browser test ``tests/browser/test_card.py::test_restart_during_a_cascade``
does all this through the dashboard (the card, the sidebar's notification):
this one runs only where that one cannot (no Chromium, chromedriver or
Selenium: scripts/test-latest's root), so that every run covers the restart
once. Skipped (with the reason) too when Home Assistant cannot start here.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
from pathlib import Path
import time
from typing import TYPE_CHECKING, Any
import urllib.error

import pytest

from tests.demo.test_develop import _http, _login
from tests.demo_runner import (
    ROOT,
    notifications,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from tests.demo_runner import Demo

pytestmark = pytest.mark.demo


def _browser_covers_it() -> bool:
    """Whether the browser test can run here (its browser, driver and Selenium)."""
    return (
        CHROMIUM.exists()
        and CHROMEDRIVER.exists()
        and importlib.util.find_spec("selenium") is not None
    )


# What the browser test needs (tests/browser/test_card.py's CHROMIUM and
# CHROMEDRIVER; not imported: that module is marked ``browser``).
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
RESTART_TIMEOUT = 240.0
STEP_TIMEOUT = 120.0
TRANSLATIONS = ROOT / "custom_components" / "wakehub" / "translations" / "en.json"


def _wait(what: str, check: Callable[[], Any], demo: Demo, timeout: float) -> Any:
    """Poll ``check`` until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if result := check():
                return result
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass  # Home Assistant is restarting
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not seen in {timeout}s\n{demo.log_tail()}")
        time.sleep(0.5)


def _sim_nodes(demo: Demo) -> dict[str, dict[str, Any]]:
    return {n["name"]: n for n in _http("GET", f"{demo.sim_url}/nodes")}


def _interrupted_texts(placeholders: dict[str, str]) -> tuple[str, str]:
    """The notification's title and message, from the shipped translations."""
    texts = json.loads(TRANSLATIONS.read_text())["exceptions"]
    return (
        texts["cascade_interrupted_title"]["message"].format(**placeholders),
        texts["cascade_interrupted"]["message"].format(**placeholders),
    )


@pytest.mark.skipif(
    _browser_covers_it(),
    reason="covered by the browser test"
    " (tests/browser/test_card.py::test_restart_during_a_cascade)",
)
def test_restart_during_a_cascade(demo: Demo) -> None:
    """A restart mid-cascade: HA comes back, the cascade is reported interrupted."""
    token = _login(demo)
    # 1. Jellyfin's start waits at Machine2, which ignores its magic packet.
    _http(
        "POST",
        f"{demo.sim_url}/faults",
        {"node": "Machine2", "fault": "ignore_wol"},
    )
    _http(
        "POST",
        f"{demo.url}/api/services/wakehub/start",
        {"entity_id": "sensor.jellyfin_status"},
        token=token,
    )
    _wait(
        "Machine2's ignored magic packet",
        lambda: any(
            e["node"] == "Machine2" and e["action"] == "wol"
            for e in _http("GET", f"{demo.sim_url}/log")
        ),
        demo,
        STEP_TIMEOUT,
    )
    assert _sim_nodes(demo)["NAS"]["state"] == "on"
    log_before = _http("GET", f"{demo.sim_url}/log")

    # 2. Settings -> Restart. The answer may be cut by the restart itself.
    restarted_at = time.time()
    with contextlib.suppress(urllib.error.URLError, ConnectionError):
        _http(
            "POST",
            f"{demo.url}/api/services/homeassistant/restart",
            {},
            token=token,
        )
    _wait(
        "scripts/develop's restart message",
        lambda: "Home Assistant restarted" in demo.stderr.read_text(),
        demo,
        RESTART_TIMEOUT,
    )
    assert demo.process.poll() is None, demo.log_tail()
    hass_log = (demo.config / ".wakehub-demo" / "hass.log").read_text()
    assert "--- restart at " in hass_log
    token = _login(demo)  # the same user, from the same config
    entries = _http(
        "GET",
        f"{demo.url}/api/config/config_entries/entry?domain=wakehub",
        token=token,
    )
    _wait(
        "every WakeHub entry loaded again",
        lambda: (
            {
                e["state"]
                for e in _http(
                    "GET",
                    f"{demo.url}/api/config/config_entries/entry?domain=wakehub",
                    token=token,
                )
            }
            == {"loaded"}
        ),
        demo,
        STEP_TIMEOUT,
    )
    assert len(entries) == 4

    # 3. The simulator was left as it was.
    nodes = _sim_nodes(demo)
    assert nodes["NAS"]["state"] == "on"
    assert nodes["Machine2"]["faults"] == {"ignore_wol": True}
    assert _http("GET", f"{demo.sim_url}/log")[: len(log_before)] == log_before

    # 4. The cascade is reported interrupted: the logbook line ...
    since = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(restarted_at - 120))
    lines = _wait(
        "the logbook's interrupted line",
        lambda: [
            e
            for e in _http("GET", f"{demo.url}/api/logbook/{since}Z", token=token)
            if e.get("domain") == "wakehub" and "interrupted" in e.get("message", "")
        ],
        demo,
        STEP_TIMEOUT,
    )
    assert lines[0]["name"] == "Jellyfin", lines
    # ... and the persistent notification, in the translations' words.
    notes = [
        n
        for n in asyncio.run(notifications(demo.url, token))
        if n["notification_id"].startswith("wakehub_cascade_")
    ]
    assert len(notes) == 1, notes
    title, message = _interrupted_texts(
        {"target": "Jellyfin", "node": "Machine2", "step": "2", "total": "3"}
    )
    assert (notes[0]["title"], notes[0]["message"]) == (title, message)
    home_log = (demo.config / "home-assistant.log").read_text()
    assert "interrupted by a restart" in home_log
