"""The dashboard card in a real browser, against the running demo.

Uses the session's ``scripts/develop --headless`` (its own session, a free
port, a temporary config directory; ``tests/demo_runner.py``'s
``shared_demo``, started once for ``tests/browser`` and ``tests/demo`` and
put back cold before each test), and drives Debian's headless Chromium
through Selenium and its ``/usr/bin/chromedriver``:

1. log in through Home Assistant's login page; the default dashboard opens
   on ``custom:wakehub-card`` with the pinned nodes, all off; tapping
   Jellyfin's name opens its more-info dialog;
2. click Start on Jellyfin: the card shows the cascade step by step, then
   "On"; the simulator's ``/log`` shows NAS -> Machine2 -> Jellyfin;
3. click Start on sandbox, wait until it is on;
4. click Stop on Jellyfin: the card asks "Shut down Jellyfin and its 1
   dependent?" and lists sandbox; confirm; both end "Off";
5. the NAS, left without an active dependent, gets a shutdown proposal on
   its row (a machine asks first); Dismiss closes it and the NAS stays on.
   Machine2 and Machine1, woken only to host Jellyfin and sandbox, get
   proposals too (VM-Docker, a VM, is stopped without asking); Confirm
   shuts both down;
6. click Start on plex, then Cancel while Machine1 boots, and confirm: the
   start ends at its step boundary, VM-Docker and plex are never started,
   plex ends "Off", and Machine1, woken for nothing, is proposed again;
7. with the NAS proposed, start Jellyfin while Machine2 ignores its
   Wake-on-LAN: the proposal leaves the NAS's row at once, and a late
   confirmation of it (as a phone notification would send) is refused:
   "NAS is needed by the start of Jellyfin";
8. Stop on the NAS meanwhile asks "Cancel the start of Jellyfin and shut NAS
   down?"; Keep starting; Machine2 comes up, Jellyfin ends "On", the NAS was
   never shut down;
9. stop Jellyfin, confirm the NAS's proposal; start Jellyfin while the NAS
   ignores its Wake-on-LAN: the NAS row's Cancel asks "Cancel the start of
   Jellyfin and shut NAS down?"; confirmed, Jellyfin is never started;
10. Machine2's Proxmox API answers HTTP 500: Jellyfin's status sensor goes
    unavailable (Home Assistant drops its attributes), and its row stays,
    "Unavailable";
11. Start Jellyfin meanwhile: the row says "Proxmox on Machine2 answered HTTP
    500 (internal error) when starting Jellyfin: see the Proxmox task log."
    once, with Retry and Dismiss; Dismiss clears it; after a second failure,
    Retry once the API answers starts Jellyfin and the error goes;
12. the user's language set to French: states, buttons and the stop
    question in French;
13. phone size (390 x 844): nothing sticks out of the card.

A second test reloads the page 20 times in a row, the browser's cache off:
the card renders every time.

A third (it restarts the demo's Home Assistant) clicks Start on
Jellyfin while Machine2 ignores its Wake-on-LAN, restarts Home Assistant
mid-cascade (Settings -> System -> Restart Home Assistant -> Restart), waits
until ``scripts/develop`` has started it again and WakeHub is loaded,
reloads the page and checks what the user sees:
the card, each row at the simulator's state, the "interrupted" notification
in the sidebar's drawer and the logbook line; and that the simulator was left
as it was (about 30 s, 15 s of it Home Assistant's own restart).

Screenshots of every stage go to ``artifacts/screenshots/`` (gitignored, CI
artifacts); the card alone goes to ``artifacts/screenshots/card.png`` (the
stop confirmation), ``card-error-retry.png`` and ``card-fr.png``, copied by
hand to ``docs/images/``.

Skipped, with the reason, when Chromium or chromedriver is not installed
(``apt-get install -y chromium chromium-driver``), or when Home Assistant
cannot start here. Set ``WAKEHUB_BROWSER_READY`` to a demo's ``READY`` line
to use a running demo instead of starting one (it is reset the same way).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
import json
import os
from pathlib import Path
import shutil
import tempfile
import time
from typing import TYPE_CHECKING, Any
import urllib.request

import pytest

from tests.demo_runner import ROOT, Started, ready_fields, reset_to_cold

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

pytestmark = pytest.mark.browser

SCREENSHOTS = ROOT / "artifacts" / "screenshots"
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
CHROME_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--window-size=1280,1000",
    "--force-device-scale-factor=1",
)
UI_TIMEOUT = 60.0  # the page, the login, the card
CASCADE_TIMEOUT = 180.0  # a whole cascade at the demo's time scale (~10-30 s)

START_ACTIONS = frozenset({"wol", "pve_start", "docker_start"})

# Finds the card anywhere in the frontend's nested shadow roots, then a row
# (a <section aria-label=NAME>) inside the card's own shadow root.
_JS_DEEP = """
const deep = (root, selector) => {
  const hit = root.querySelector(selector);
  if (hit) return hit;
  for (const el of root.querySelectorAll('*')) {
    if (el.shadowRoot) {
      const found = deep(el.shadowRoot, selector);
      if (found) return found;
    }
  }
  return null;
};
const card = deep(document, 'wakehub-card');
"""
_JS_CARD = _JS_DEEP + "return card && card.shadowRoot.querySelector('ha-card');"
# What the page holds when the card does not show: is the element defined,
# is it on the page, does the frontend show an error card, does it know the
# pinned WakeHub sensors.
_JS_PAGE = (
    _JS_DEEP
    + """
const ha = document.querySelector('home-assistant');
const states = (ha && ha.hass && ha.hass.states) || {};
const error = deep(document, 'hui-error-card');
return {
  defined: !!customElements.get('wakehub-card'),
  card: !!card,
  rendered: !!(card && card.shadowRoot && card.shadowRoot.querySelector('ha-card')),
  hass: !!(ha && ha.hass),
  connected: !!(ha && ha.hass && ha.hass.connected),
  pinned: Object.values(states).filter(
    (s) => s.attributes && s.attributes.node_id && s.attributes.pinned
  ).map((s) => s.entity_id),
  error_card: error ? (error.shadowRoot || error).textContent.trim().slice(0, 300) : null,
  modules: [...document.querySelectorAll('script')].map((s) => s.src || '').filter(
    (src) => src.includes('wakehub')),
};
"""
)
_JS_ROWS = (
    _JS_DEEP
    + """
if (!card || !card.shadowRoot) return null;
return [...card.shadowRoot.querySelectorAll('section.node')].map((s) => ({
  name: s.getAttribute('aria-label'),
  state: s.dataset.state,
  label: s.querySelector('.state-label')?.textContent.trim(),
  buttons: [...s.querySelectorAll('button, a')].map((b) => ({
    text: b.textContent.trim(), label: b.getAttribute('aria-label'),
    disabled: !!b.disabled})),
  progress: s.querySelector('.progress')?.innerText ?? null,
  steps: [...s.querySelectorAll('.steps li')].map((li) => li.innerText),
  error: s.querySelector('.error')?.innerText ?? null,
  confirm: s.querySelector('.confirm')?.innerText ?? null,
  dependents: [...s.querySelectorAll('.confirm .dependents li')].map(
    (li) => li.textContent.trim()),
  proposal: s.querySelector('.proposal')?.innerText ?? null,
}));
"""
)
# A confirmation sent the way a phone notification's action does: the
# frontend's own connection calls wakehub.confirm_shutdown with the id.
_JS_CONFIRM = """
const done = arguments[arguments.length - 1];
const ha = document.querySelector('home-assistant');
// No toast (notifyOnError false): it would cover the buttons clicked next.
ha.hass.callService(
  'wakehub', 'confirm_shutdown', {proposal_id: arguments[0]}, undefined, false)
  .then(() => done({ok: true}),
        (err) => done({ok: false, code: err && err.code, message: err && err.message}));
"""
# Any action, through the frontend's own connection (no toast).
_JS_SERVICE = """
const done = arguments[arguments.length - 1];
const ha = document.querySelector('home-assistant');
ha.hass.callService(arguments[0], arguments[1], arguments[2], undefined, false)
  .then(() => done({ok: true}),
        (err) => done({ok: false, code: err && err.code, message: err && err.message}));
"""
# A row's pending proposal id, as the card sees it.
_JS_PROPOSAL = (
    _JS_DEEP
    + """
const node = card && card._nodes().find((n) => n.name === arguments[0]);
return node ? node.proposal : null;
"""
)
# The more-info dialog's entity, while it is open.
_JS_MORE_INFO = (
    _JS_DEEP
    + """
const dialog = deep(document, 'ha-more-info-dialog');
return (dialog && dialog._entityId) || null;
"""
)
# Whatever sticks out of the card (at phone size): rows, buttons, texts.
_JS_OVERFLOW = (
    _JS_DEEP
    + """
const box = card.shadowRoot.querySelector('ha-card').getBoundingClientRect();
const out = [...card.shadowRoot.querySelectorAll('section.node, button, a, .state')]
  .filter((el) => {
    const r = el.getBoundingClientRect();
    return r.left < box.left - 1 || r.right > box.right + 1;
  })
  .map((el) => el.textContent.trim().slice(0, 40));
if (document.scrollingElement.scrollWidth > window.innerWidth + 1) out.push('page scrolls');
return out;
"""
)
_JS_BUTTON = (
    _JS_DEEP
    + """
const row = card && [...card.shadowRoot.querySelectorAll('section.node')].find(
  (s) => s.getAttribute('aria-label') === arguments[0]);
return row && row.querySelector(`[data-action="${arguments[1]}"]`);
"""
)


# ---------------------------------------------------------------- the demo


@dataclass
class Demo:
    """A running demo: its URL, login and the simulator's control API."""

    url: str
    username: str
    password: str
    sim_url: str
    stderr: Path | None = None
    config: Path | None = None  # Home Assistant's config directory

    def log_tail(self, lines: int = 30) -> str:
        """The end of the script's stderr, for failure messages."""
        if self.stderr is None or not self.stderr.exists():
            return ""
        return "\n".join(self.stderr.read_text().splitlines()[-lines:])


def _get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.loads(response.read())


def _post_json(url: str, body: dict[str, Any]) -> Any:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def _parse_ready(
    line: str, stderr: Path | None = None, config: Path | None = None
) -> Demo:
    return Demo(*ready_fields(line), stderr, config)


@pytest.fixture(scope="module")
def chromium() -> None:
    """Skip, saying why, when the browser or its driver is missing."""
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if missing:
        pytest.skip(
            f"{', '.join(missing)} not installed:"
            " apt-get install -y chromium chromium-driver"
        )
    pytest.importorskip("selenium", reason="selenium is not installed (floor pins)")


@pytest.fixture
def demo(chromium: None, request: pytest.FixtureRequest) -> Demo:
    """The session's demo (``tests/demo_runner.py``), put back cold.

    ``WAKEHUB_BROWSER_READY`` (a demo's READY line) uses that demo instead
    (reset the same way).
    """
    if ready := os.environ.get("WAKEHUB_BROWSER_READY"):
        reset_to_cold(ready)
        return _parse_ready(ready)
    # Asked for here, after ``chromium``: no demo starts when the test skips.
    started: Started = request.getfixturevalue("shared_demo")
    reset_to_cold(started.ready_line)
    return _parse_ready(started.ready_line, started.stderr, started.config)


@pytest.fixture
def browser(demo: Demo) -> Iterator[Any]:
    """Headless Chromium with a fresh profile, through Debian's chromedriver."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in CHROME_FLAGS:
        options.add_argument(flag)
    profile = tempfile.mkdtemp(prefix="wakehub-chromium-")
    options.add_argument(f"--user-data-dir={profile}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_script_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


# ------------------------------------------------------------------- helpers


def _wait[T](
    what: str, probe: Callable[[], T | None], timeout: float, context: Callable[[], str]
) -> T:
    """Poll ``probe`` until it returns something truthy; fail saying ``what``."""
    if (result := _poll(probe, timeout)) is None:
        pytest.fail(f"timed out ({timeout:.0f}s) waiting for {what}\n{context()}")
    return result


def _poll[T](probe: Callable[[], T | None], timeout: float) -> T | None:
    """Poll ``probe`` until it returns something truthy, or None at the timeout."""
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(Exception):
            if result := probe():
                return result
        if time.monotonic() > deadline:
            return None
        time.sleep(0.2)


class Card:
    """The card in the browser, row by row (one row per node)."""

    def __init__(self, driver: Any, demo: Demo) -> None:
        self.driver = driver
        self.demo = demo
        self.shots: list[Path] = []

    def rows(self) -> dict[str, dict[str, Any]]:
        rows = self.driver.execute_script(_JS_ROWS) or []
        return {row["name"]: row for row in rows}

    def context(self) -> str:
        """What a failure message shows: the card, the page, the console, the logs."""
        try:
            rows = json.dumps(self.rows(), indent=1)
        except Exception as err:
            rows = f"(no card: {err})"
        try:
            page = json.dumps(self.driver.execute_script(_JS_PAGE), indent=1)
        except Exception as err:
            page = f"(no page: {err})"
        with contextlib.suppress(Exception):
            self.shot("failure")
        return (
            f"url: {self.driver.current_url}\ncard: {rows}\npage: {page}\n"
            f"console:\n{_console(self.driver)}\n{self.demo.log_tail()}"
        )

    def wait(
        self,
        what: str,
        probe: Callable[[dict[str, dict[str, Any]]], Any],
        timeout: float = UI_TIMEOUT,
    ) -> Any:
        return _wait(what, lambda: probe(self.rows()), timeout, self.context)

    def wait_state(
        self, name: str, state: str, timeout: float = CASCADE_TIMEOUT
    ) -> None:
        self.wait(
            f"{name} to show {state!r}",
            lambda rows: rows[name]["state"] == state,
            timeout,
        )

    def click(self, name: str, action: str) -> None:
        """Click a row's button, as a user would, once it is enabled.

        The card renders again on every state change; a button found just
        before a render is gone when the click comes (a stale element, and
        nothing was clicked): find it again and click again.
        """
        from selenium.common.exceptions import StaleElementReferenceException

        def clicked() -> bool:
            button = self.driver.execute_script(_JS_BUTTON, name, action)
            if not button or not button.is_enabled():
                return False
            try:
                button.click()
            except StaleElementReferenceException:
                return False
            return True

        _wait(
            f"an enabled {action!r} button on {name}",
            clicked,
            UI_TIMEOUT,
            self.context,
        )

    def shot(self, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{len(self.shots) + 1:02d}-{name}.png"
        self.driver.save_screenshot(str(path))
        self.shots.append(path)
        return path

    def shot_card(self, name: str) -> Path:
        """The card alone (its <ha-card>), for the docs."""
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        self.driver.execute_script(_JS_CARD).screenshot(str(path))
        return path


def _console(driver: Any, lines: int = 30) -> str:
    """The end of the browser's console (warnings and errors)."""
    try:
        entries = driver.get_log("browser")
    except Exception as err:
        return f"(no console log: {err})"
    return "\n".join(
        f"  {entry.get('level')}: {entry.get('message')}" for entry in entries[-lines:]
    )


def _login(driver: Any, demo: Demo) -> None:
    """Through the login page, as a user: username, password, Log in."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    driver.get(demo.url + "/")
    context = lambda: f"url: {driver.current_url}"  # noqa: E731
    user = _wait(
        "the login form",
        lambda: driver.find_element(By.CSS_SELECTOR, "input[name=username]"),
        UI_TIMEOUT,
        context,
    )
    user.send_keys(demo.username)
    password = driver.find_element(By.CSS_SELECTOR, "input[name=password]")
    password.send_keys(demo.password)
    password.send_keys(Keys.ENTER)
    _wait(
        "the frontend after the login",
        lambda: (
            "/auth/authorize" not in driver.current_url
            and driver.execute_script(
                "return !!document.querySelector('home-assistant')"
            )
        ),
        UI_TIMEOUT,
        context,
    )


def _power_log(demo: Demo) -> list[tuple[str, str]]:
    """The simulator's commands, repeats merged (WoL is sent a few times)."""
    log: list[tuple[str, str]] = []
    for entry in _get_json(f"{demo.sim_url}/log"):
        command = (entry["node"], entry["action"])
        if not log or log[-1] != command:
            log.append(command)
    return log


# --------------------------------------------------------------------- test


def test_card_start_stop_confirm(demo: Demo, browser: Any) -> None:
    """Start Jellyfin, start sandbox, stop Jellyfin with its plan; the proposal."""
    started = time.monotonic()
    card = Card(browser, demo)
    assert _power_log(demo) == [], "the demo should start cold"

    # 1. Log in: the default dashboard is the card, the pinned nodes all off.
    _login(browser, demo)
    pinned = {"Jellyfin", "sandbox", "plex", "NAS", "Machine1", "Machine2"}

    def cold(rows: dict[str, dict[str, Any]]) -> bool:
        return set(rows) == pinned and all(
            row["state"] == "off" for row in rows.values()
        )

    # The card's module is imported alongside the frontend's own app; it
    # renders on the first load (no reload: see test_card_survives_reloads).
    card.wait("the card with the pinned nodes, all off", cold)
    rows = card.rows()
    assert rows["Jellyfin"]["label"] == "Off"  # a text label, not colour alone
    # Jellyfin has a service URL (its readiness check's port): an Open link.
    assert [b["label"] for b in rows["Jellyfin"]["buttons"]] == [
        "Open Jellyfin",
        "Start Jellyfin",
    ]
    card.shot("dashboard-cold")

    #    Tapping a row's name opens Home Assistant's more-info dialog, as a
    #    tile card does (then closed again).
    card.click("Jellyfin", "more-info")
    _wait(
        "Jellyfin's more-info dialog",
        lambda: browser.execute_script(_JS_MORE_INFO),
        UI_TIMEOUT,
        card.context,
    )
    browser.execute_script(
        "document.querySelector('home-assistant').dispatchEvent("
        "new CustomEvent('hass-more-info', {detail: {entityId: null}}))"
    )
    _wait(
        "the more-info dialog to close",
        lambda: not browser.execute_script(_JS_MORE_INFO),
        UI_TIMEOUT,
        card.context,
    )

    # 2. Start Jellyfin: the cascade step by step, then on.
    card.click("Jellyfin", "start")
    progress = card.wait(
        "Jellyfin's cascade progress",
        lambda rows: len(rows["Jellyfin"]["steps"]) == 3 and rows["Jellyfin"],
    )
    assert "Starting Jellyfin" in progress["progress"], progress
    assert all(
        name in step
        for name, step in zip(
            ("NAS", "Machine2", "Jellyfin"), progress["steps"], strict=True
        )
    ), progress["steps"]
    card.shot("jellyfin-starting")
    card.wait_state("Jellyfin", "on")
    rows = card.rows()
    assert rows["Jellyfin"]["label"] == "On"
    assert rows["NAS"]["state"] == "on"
    starts = [node for node, action in _power_log(demo) if action in START_ACTIONS]
    assert starts == ["NAS", "Machine2", "Jellyfin"], _power_log(demo)
    card.shot("jellyfin-on")

    # 3. Start sandbox through the card.
    card.click("sandbox", "start")
    card.wait_state("sandbox", "on")
    card.shot("sandbox-on")

    # 4. Stop Jellyfin: the plan lists sandbox; confirm; both off.
    card.click("Jellyfin", "stop")
    confirm = card.wait(
        "the stop confirmation",
        lambda rows: rows["Jellyfin"]["dependents"] and rows["Jellyfin"],
    )
    assert "Shut down Jellyfin?" in confirm["confirm"], confirm
    # sandbox needs Jellyfin (a dependency, not a hosted child); no
    # "Order:" line: the list is the order.
    assert confirm["dependents"] == ["sandbox, which needs Jellyfin"], confirm
    assert "Order" not in confirm["confirm"], confirm
    card.shot("jellyfin-stop-confirmation")
    card.shot_card("card")
    card.click("Jellyfin", "confirm-stop")
    card.wait_state("sandbox", "off")
    card.wait_state("Jellyfin", "off")
    log = _power_log(demo)
    stops = [node for node, action in log if "stop" in action or "shutdown" in action]
    assert stops[:2] == ["sandbox", "Jellyfin"], log
    card.shot("jellyfin-and-sandbox-off")

    # 5. The NAS has no active dependent left (plex is off): a machine asks.
    proposal = card.wait(
        "the NAS's shutdown proposal",
        lambda rows: rows["NAS"]["proposal"] and rows["NAS"],
        CASCADE_TIMEOUT,
    )
    assert "Shut it down?" in proposal["proposal"], proposal
    card.shot("nas-proposal")
    card.click("NAS", "dismiss-proposal")
    card.wait("the proposal to close", lambda rows: rows["NAS"]["proposal"] is None)
    assert card.rows()["NAS"]["state"] == "on"
    card.shot("nas-kept")

    #    The hosts WakeHub woke only for Jellyfin and sandbox do not stay on
    #    unasked: VM-Docker (a VM) stopped by itself, the machines ask.
    for machine in ("Machine2", "Machine1"):
        proposal = card.wait(
            f"{machine}'s shutdown proposal",
            lambda rows, m=machine: rows[m]["proposal"] and rows[m],
            CASCADE_TIMEOUT,
        )
        assert "Shut it down?" in proposal["proposal"], proposal
    card.shot("hosts-proposed")
    assert ("VM-Docker", "pve_shutdown") in _power_log(demo)
    for machine in ("Machine2", "Machine1"):
        card.click(machine, "confirm-proposal")
        card.wait_state(machine, "off")
    card.shot("hosts-off")

    # 6. plex's start wakes Machine1 first. Cancel while it boots: the start
    #    cascade ends at its step boundary, VM-Docker and plex are never
    #    started, plex ends off; Machine1, woken for nothing, is proposed.
    before = len(_power_log(demo))
    card.click("plex", "start")
    starting = card.wait(
        "plex starting, with an enabled Cancel button",
        lambda rows: (
            rows["plex"]["state"] == "starting"
            and [(b["text"], b["disabled"]) for b in rows["plex"]["buttons"]]
            == [("Cancel", False)]
            and rows["plex"]
        ),
    )
    assert starting["buttons"][0]["label"] == "Cancel the start of plex", starting
    card.click("plex", "stop")
    confirm = card.wait(
        "the cancel confirmation",
        lambda rows: "?" in (rows["plex"]["confirm"] or "") and rows["plex"],
    )
    assert "Cancel the start of plex and shut it down?" in confirm["confirm"], confirm
    assert "Keep starting" in confirm["confirm"], confirm  # not a second "Cancel"
    card.shot("plex-cancel-confirmation")
    card.click("plex", "confirm-stop")
    card.wait(
        "plex off, no cascade running",
        lambda rows: (
            rows["plex"]["state"] == "off" and rows["plex"]["progress"] is None
        ),
        CASCADE_TIMEOUT,
    )
    log = _power_log(demo)[before:]
    assert log[0] == ("Machine1", "wol"), log
    assert ("VM-Docker", "pve_start") not in log, log
    assert ("plex", "docker_start") not in log, log
    card.wait(
        "Machine1's proposal after the cancelled start",
        lambda rows: rows["Machine1"]["proposal"],
        CASCADE_TIMEOUT,
    )
    card.shot("plex-cancelled")

    # 7. A stale proposal never undoes a start. The NAS is proposed (plex's
    #    stop left it unneeded); Jellyfin's start waits for Machine2, which
    #    ignores its Wake-on-LAN for now.
    card.wait(
        "the NAS's proposal after plex's stop",
        lambda rows: rows["NAS"]["proposal"],
        CASCADE_TIMEOUT,
    )
    proposal_id = browser.execute_script(_JS_PROPOSAL, "NAS")
    assert proposal_id, card.rows()["NAS"]
    _post_json(f"{demo.sim_url}/faults", {"node": "Machine2", "fault": "ignore_wol"})
    before = len(_power_log(demo))
    card.click("Jellyfin", "start")
    card.wait(
        "the NAS's proposal to leave while Jellyfin starts",
        lambda rows: (
            rows["NAS"]["proposal"] is None and rows["Jellyfin"]["state"] == "starting"
        ),
        UI_TIMEOUT,
    )
    card.shot("nas-proposal-withdrawn")
    answer = browser.execute_async_script(_JS_CONFIRM, proposal_id)
    assert answer["ok"] is False, answer
    assert "NAS is needed by the start of Jellyfin" in answer["message"], answer
    assert card.rows()["Jellyfin"]["state"] == "starting"

    # 8. Stop on the NAS names the start it would cancel; keep it.
    card.click("NAS", "stop")
    confirm = card.wait(
        "the NAS's stop confirmation",
        lambda rows: "?" in (rows["NAS"]["confirm"] or "") and rows["NAS"],
    )
    assert "Cancel the start of Jellyfin and shut NAS down?" in confirm["confirm"], (
        confirm
    )
    card.shot("nas-stop-names-jellyfin")
    card.click("NAS", "cancel-stop")  # "Keep starting"
    card.wait("the confirmation to close", lambda rows: rows["NAS"]["confirm"] is None)
    _post_json(
        f"{demo.sim_url}/faults",
        {"node": "Machine2", "fault": "ignore_wol", "value": None},
    )
    _post_json(f"{demo.sim_url}/power", {"node": "Machine2", "state": "on"})
    card.wait_state("Jellyfin", "on")
    log = _power_log(demo)[before:]
    assert ("Jellyfin", "pve_start") in log, log
    assert not [c for c in log if c[0] == "NAS"], log  # never shut down
    assert card.rows()["NAS"]["state"] == "on"

    # 9. Cancel on the NAS's row while it starts for Jellyfin: the question
    #    names Jellyfin's start, which is what gets cancelled.
    card.click("Jellyfin", "stop")
    card.wait(
        "Jellyfin's stop confirmation",
        lambda rows: "?" in (rows["Jellyfin"]["confirm"] or ""),
    )
    card.click("Jellyfin", "confirm-stop")
    card.wait_state("Jellyfin", "off")
    card.wait(
        "the NAS's proposal after Jellyfin's stop",
        lambda rows: rows["NAS"]["proposal"],
        CASCADE_TIMEOUT,
    )
    card.click("NAS", "confirm-proposal")
    card.wait_state("NAS", "off")
    _post_json(f"{demo.sim_url}/faults", {"node": "NAS", "fault": "ignore_wol"})
    before = len(_power_log(demo))
    # The raw log: the merged one folds this shutdown into the last one (a
    # magic packet the NAS ignores is not a command it records).
    before_raw = len(_get_json(f"{demo.sim_url}/log"))
    card.click("Jellyfin", "start")
    starting = card.wait(
        "the NAS starting for Jellyfin, with Cancel",
        lambda rows: (
            rows["NAS"]["state"] == "starting"
            and "Cancel" in [b["text"] for b in rows["NAS"]["buttons"]]
            and rows["NAS"]
        ),
    )
    assert starting["buttons"][0]["label"] == "Cancel the start of Jellyfin", starting
    card.click("NAS", "stop")
    confirm = card.wait(
        "the NAS's cancel confirmation",
        lambda rows: "?" in (rows["NAS"]["confirm"] or "") and rows["NAS"],
    )
    assert "Cancel the start of Jellyfin and shut NAS down?" in confirm["confirm"], (
        confirm
    )
    card.shot("nas-cancel-names-jellyfin")
    card.click("NAS", "confirm-stop")
    # The NAS's step ends only once it is up (a machine can only be shut
    # down once it answers): let it boot, then the start ends cancelled.
    _post_json(
        f"{demo.sim_url}/faults", {"node": "NAS", "fault": "ignore_wol", "value": None}
    )
    _post_json(f"{demo.sim_url}/power", {"node": "NAS", "state": "on"})
    # Between the cancelled start's end and the NAS's stop the row may show
    # the last poll's "off" for a moment: the simulator's log, not the row,
    # says when the shutdown went out.
    _wait(
        "the NAS's shutdown after the cancelled start",
        lambda: any(
            (entry["node"], entry["action"]) == ("NAS", "ssh_shutdown")
            for entry in _get_json(f"{demo.sim_url}/log")[before_raw:]
        ),
        CASCADE_TIMEOUT,
        card.context,
    )
    card.wait_state("NAS", "off")
    card.wait(
        "Jellyfin off, no cascade running",
        lambda rows: (
            rows["Jellyfin"]["state"] == "off" and rows["Jellyfin"]["progress"] is None
        ),
        CASCADE_TIMEOUT,
    )
    log = _power_log(demo)[before:]
    assert ("Jellyfin", "pve_start") not in log, log
    card.shot("jellyfin-start-cancelled")

    # 10. A node whose API fails keeps its row: Machine2's Proxmox answers
    #     HTTP 500, Jellyfin's status sensor goes unavailable (without its
    #     attributes); the card still lists Jellyfin, "Unavailable".
    def refresh_jellyfin() -> None:
        answer = browser.execute_async_script(
            _JS_SERVICE,
            "homeassistant",
            "update_entity",
            {"entity_id": "sensor.jellyfin_status"},
        )
        assert answer["ok"], answer

    _post_json(
        f"{demo.sim_url}/faults",
        {"node": "Machine2", "fault": "api_status", "value": 500},
    )
    refresh_jellyfin()
    unavailable = card.wait(
        "Jellyfin's row, unavailable",
        lambda rows: (
            rows.get("Jellyfin", {}).get("state") == "unavailable" and rows["Jellyfin"]
        ),
        CASCADE_TIMEOUT,
    )
    assert unavailable["label"] == "Unavailable", unavailable
    assert set(card.rows()) == pinned  # no row lost
    card.shot("jellyfin-unavailable")

    # 11. Retry and clear. Start Jellyfin while Machine2's Proxmox still
    #     answers HTTP 500: the row says what answered, where and what to
    #     check, once, and offers Retry and Dismiss instead of Stop.
    _post_json(f"{demo.sim_url}/power", {"node": "NAS", "state": "on"})
    _post_json(f"{demo.sim_url}/power", {"node": "Machine2", "state": "on"})
    card.click("Jellyfin", "start")
    failed = card.wait(
        "Jellyfin's error, with Retry",
        lambda rows: (
            rows["Jellyfin"]["error"]
            and [b["text"] for b in rows["Jellyfin"]["buttons"]]
            == ["Open", "Dismiss", "Retry"]
            and rows["Jellyfin"]
        ),
        CASCADE_TIMEOUT,
    )
    assert failed["error"].startswith(
        "Proxmox on Machine2 answered HTTP 500 (internal error) when starting"
        " Jellyfin: see the Proxmox task log."
    ), failed
    assert failed["error"].count("HTTP 500") == 1, failed
    assert "api_error" not in failed["error"], failed
    card.shot("jellyfin-error-retry")
    card.shot_card("card-error-retry")
    #    Dismiss clears the node's error (wakehub.clear_error).
    card.click("Jellyfin", "dismiss-error")
    card.wait("the error to go", lambda rows: rows["Jellyfin"]["error"] is None)
    #    Fail again, then Retry once Proxmox answers: Jellyfin starts, and
    #    the error clears as it reaches "on".
    card.click("Jellyfin", "start")
    card.wait(
        "Jellyfin's error again",
        lambda rows: "Retry" in [b["text"] for b in rows["Jellyfin"]["buttons"]],
        CASCADE_TIMEOUT,
    )
    _post_json(
        f"{demo.sim_url}/faults",
        {"node": "Machine2", "fault": "api_status", "value": None},
    )
    card.click("Jellyfin", "retry")
    card.wait_state("Jellyfin", "on")
    card.wait("no error left", lambda rows: rows["Jellyfin"]["error"] is None)

    # 12. The card in French (the user's language, as the profile sets it):
    #     states, buttons, the plan and its question.
    browser.execute_script(
        "document.querySelector('home-assistant').dispatchEvent("
        "new CustomEvent('hass-language-select', {detail: 'fr'}))"
    )
    french = card.wait(
        "the card in French",
        lambda rows: rows["Jellyfin"]["label"] == "Allumé" and rows,
    )
    assert french["plex"]["label"] == "Éteint", french["plex"]
    assert [b["text"] for b in french["plex"]["buttons"]] == ["Démarrer"]
    card.click("Jellyfin", "stop")
    confirm = card.wait(
        "the French stop confirmation",
        lambda rows: "?" in (rows["Jellyfin"]["confirm"] or "") and rows["Jellyfin"],
    )
    assert "Éteindre Jellyfin ?" in confirm["confirm"], confirm
    card.shot("card-french")
    card.shot_card("card-fr")
    card.click("Jellyfin", "cancel-stop")

    # 13. Phone size: every row and its buttons inside the card, no
    #     horizontal scrolling.
    browser.set_window_size(390, 844)
    card.wait("the rows at phone size", lambda rows: set(rows) == pinned)
    overflow = browser.execute_script(_JS_OVERFLOW)
    assert overflow == [], overflow
    card.shot("phone")
    browser.execute_script(
        "document.querySelector('home-assistant').dispatchEvent("
        "new CustomEvent('hass-language-select', {detail: 'en'}))"
    )

    print(
        f"browser test: {time.monotonic() - started:.1f}s after READY;"
        f" screenshots in {SCREENSHOTS}: {', '.join(p.name for p in card.shots)}"
    )


# The visual editor, as the card editor dialog creates it: Home Assistant's
# ha-form, the pinned nodes named when none is chosen, and a pick that
# changes the card's configuration.
_JS_EDITOR = """
const done = arguments[arguments.length - 1];
const ha = document.querySelector('home-assistant');
(async () => {
  await customElements.whenDefined('wakehub-card');
  const editor = customElements.get('wakehub-card').getConfigElement();
  document.body.appendChild(editor);
  editor.hass = ha.hass;
  editor.setConfig({type: 'custom:wakehub-card'});
  await customElements.whenDefined('ha-form');
  for (let i = 0; i < 100 && !editor.querySelector('ha-form'); i++) {
    await new Promise((r) => setTimeout(r, 100));
  }
  const form = editor.querySelector('ha-form');
  const changed = new Promise((resolve) =>
    editor.addEventListener('config-changed', (ev) => resolve(ev.detail.config), {once: true}));
  form.dispatchEvent(new CustomEvent('value-changed',
    {detail: {value: {title: 'Lab', nodes: ['sensor.nas_status']}}}));
  const config = await changed;
  const nodes = form.schema.find((s) => s.name === 'nodes');
  const result = {
    rendered: !!form.shadowRoot,
    labels: form.schema.map((s) => form.computeLabel(s)),
    helper: form.computeHelper(nodes),
    offered: nodes.selector.entity.include_entities,
    config,
  };
  editor.remove();
  return result;
})().then(done, (err) => done({error: String(err)}));
"""


def test_card_survives_reloads(demo: Demo, browser: Any) -> None:
    """20 reloads in a row, the cache off: the card renders every time; the editor.

    The card's module is imported alongside the frontend's app, whose scoped
    custom-element registry polyfill replaces ``window.customElements``; a
    card defined before that was invisible to it ("Custom element doesn't
    exist", 1 load in 7, 1 in 2 without the cache). The card defines itself
    again in the frontend's registry.
    """
    card = Card(browser, demo)
    _login(browser, demo)
    browser.execute_cdp_cmd("Network.enable", {})
    browser.execute_cdp_cmd("Network.setCacheDisabled", {"cacheDisabled": True})
    rendered = 0
    for attempt in range(20):
        if attempt:
            browser.refresh()
        _wait(
            f"the card after reload {attempt}",
            lambda: len(card.rows()) == 6,
            20.0,
            card.context,
        )
        rendered += 1
    assert rendered == 20

    # The visual editor is Home Assistant's own form.
    editor = browser.execute_async_script(_JS_EDITOR)
    assert editor.get("rendered"), editor
    assert editor["labels"] == ["Title", "Nodes"], editor
    assert editor["helper"] == (
        "None chosen: every pinned node"
        " (Jellyfin, Machine1, Machine2, NAS, plex and sandbox)."
    ), editor
    assert "sensor.nas_status" in editor["offered"], editor
    assert "sensor.wakehub_cascade" not in editor["offered"], editor
    assert editor["config"] == {
        "type": "custom:wakehub-card",
        "title": "Lab",
        "nodes": ["sensor.nas_status"],
    }, editor


# Settings -> System -> Restart Home Assistant, as a user clicks through it
# (Home Assistant's own labels, in English): the toolbar's button, the
# dialog's "Restart Home Assistant" item, then the confirmation's "Restart".
# Each returns the element to click, or null while it is not there yet.
_JS_RESTART_STEP = """
const deepAll = (root, selector, out = []) => {
  out.push(...root.querySelectorAll(selector));
  for (const el of root.querySelectorAll('*')) {
    if (el.shadowRoot) deepAll(el.shadowRoot, selector, out);
  }
  return out;
};
const text = (el) => (el.textContent || '').replace(/\\s+/g, ' ').trim();
const step = arguments[0];
if (step === 'toolbar') {
  return deepAll(document, 'ha-icon-button').find(
    (b) => b.label === 'Restart Home Assistant') || null;
}
if (step === 'dialog') {
  const dialog = deepAll(document, 'dialog-restart')[0];
  const root = dialog && dialog.shadowRoot;
  return (root && [...root.querySelectorAll('ha-md-list-item')].find((item) => {
    const headline = item.querySelector('[slot=headline]');
    return headline && text(headline) === 'Restart Home Assistant';
  })) || null;
}
const box = deepAll(document, 'dialog-box')[0];
return (box && deepAll(box.shadowRoot, 'mwc-button, ha-button, button').find(
  (b) => text(b) === 'Restart')) || null;
"""
_JS_CONNECTED = """
const ha = document.querySelector('home-assistant');
return !!(ha && ha.hass && ha.hass.connected);
"""
# The sidebar's Notifications item, clicked as a user does; then the drawer's
# items: what each shows (its notification's title and message).
_JS_DEEP_ALL = """
const deepAll = (root, selector, out = []) => {
  out.push(...root.querySelectorAll(selector));
  for (const el of root.querySelectorAll('*')) {
    if (el.shadowRoot) deepAll(el.shadowRoot, selector, out);
  }
  return out;
};
"""
_JS_OPEN_NOTIFICATIONS = (
    _JS_DEEP_ALL
    + """
const sidebar = deepAll(document, 'ha-sidebar')[0];
const item = sidebar && sidebar.shadowRoot.querySelector('.notifications');
if (!item) return false;
item.click();
return true;
"""
)
_JS_NOTIFICATIONS = (
    _JS_DEEP_ALL
    + """
return deepAll(document, 'persistent-notification-item').map((item) => ({
  id: item.notification.notification_id,
  title: item.notification.title,
  message: item.notification.message,
  shown: (item.shadowRoot ? deepAll(item.shadowRoot, '*') : [])
    .map((el) => (el.shadowRoot ? el.shadowRoot.textContent : '') + el.textContent)
    .join(' '),
}));
"""
)
# WakeHub's logbook lines since a time, through the frontend's connection.
_JS_LOGBOOK = """
const done = arguments[arguments.length - 1];
const ha = document.querySelector('home-assistant');
ha.hass.callWS({type: 'logbook/get_events', start_time: arguments[0]})
  .then((events) => done(events.filter((e) => e.domain === 'wakehub')),
        (err) => done({error: String(err && err.message)}));
"""
RESTART_TIMEOUT = 240.0  # Home Assistant's stop, then its start and WakeHub's
TRANSLATIONS = ROOT / "custom_components" / "wakehub" / "translations" / "en.json"


def _sim_states(demo: Demo) -> dict[str, str]:
    """Each simulated node's state, as on or off."""
    return {
        node["name"]: "on" if node["state"] in ("on", "running") else "off"
        for node in _get_json(f"{demo.sim_url}/nodes")
    }


def test_restart_during_a_cascade(demo: Demo, browser: Any) -> None:
    """Settings -> Restart while Jellyfin starts: the card after Home Assistant is back.

    The demo's Home Assistant restarts (``scripts/develop`` starts it again;
    the tests after it get the demo reset to cold like any other). Machine2
    ignores its Wake-on-LAN, so the start clicked in the card waits at
    Machine2's step; Home Assistant restarts (Settings -> System -> Restart
    Home Assistant -> Restart, clicked); ``scripts/develop``
    starts it again with the simulator left as it was. After a reload the
    card renders, the nodes show the simulator's states, and the interrupted
    cascade is reported: the persistent notification in the sidebar's drawer
    (the ``cascade_interrupted`` texts) and the logbook line.
    """
    card = Card(browser, demo)
    pinned = {"Jellyfin", "sandbox", "plex", "NAS", "Machine1", "Machine2"}
    _login(browser, demo)
    # Whatever the tests before left on: Machine2 off (Jellyfin with it),
    # ignoring its magic packets.
    _post_json(f"{demo.sim_url}/faults", {"node": "Machine2", "fault": "ignore_wol"})
    _post_json(f"{demo.sim_url}/power", {"node": "Machine2", "state": "off"})
    card.wait(
        "Machine2 and Jellyfin off, no cascade on Jellyfin",
        lambda rows: (
            set(rows) == pinned
            and rows["Machine2"]["state"] == "off"
            and rows["Jellyfin"]["state"] == "off"
            and rows["Jellyfin"]["progress"] is None
        ),
        CASCADE_TIMEOUT,
    )
    began = time.monotonic()
    since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 5))
    before = len(_get_json(f"{demo.sim_url}/log"))

    # 1. Start Jellyfin in the card; it waits at Machine2's step.
    card.click("Jellyfin", "start")
    _wait(
        "Machine2's ignored magic packet",
        lambda: any(
            (entry["node"], entry["action"]) == ("Machine2", "wol")
            for entry in _get_json(f"{demo.sim_url}/log")[before:]
        ),
        CASCADE_TIMEOUT,
        card.context,
    )
    waiting = card.wait(
        "the card on Machine2's step",
        lambda rows: (
            any("Machine2" in s and "running" in s for s in rows["Jellyfin"]["steps"])
            and rows["Jellyfin"]
        ),
    )
    steps = waiting["steps"]
    step = 1 + next(i for i, s in enumerate(steps) if "Machine2" in s)
    card.shot("restart-cascade-waiting")
    log_before = _get_json(f"{demo.sim_url}/log")

    # 2. Settings -> System -> Restart Home Assistant -> Restart; the
    #    frontend loses its connection.
    token = browser.execute_script(
        "return document.querySelector('home-assistant').hass.auth.data.access_token"
    )
    browser.get(f"{demo.url}/config/system")
    for step_name in ("toolbar", "dialog", "confirmation"):
        element = _wait(
            f"the restart's {step_name}",
            lambda s=step_name: browser.execute_script(_JS_RESTART_STEP, s),
            UI_TIMEOUT,
            card.context,
        )
        element.click()
    card.shot("restart-confirmed")
    _wait(
        "the frontend to lose Home Assistant",
        lambda: not browser.execute_script(_JS_CONNECTED),
        RESTART_TIMEOUT,
        card.context,
    )
    stopped = time.monotonic()

    # 3. Home Assistant back (scripts/develop says it restarted it), WakeHub's
    #    entries loaded again (the same user's token still valid); reload.
    def loaded() -> bool:
        if demo.stderr and "Home Assistant restarted" not in demo.stderr.read_text():
            return False  # scripts/develop has not seen it answer yet
        request = urllib.request.Request(
            f"{demo.url}/api/config/config_entries/entry?domain=wakehub",
            headers={"Authorization": f"Bearer {token}"},
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            entries = json.loads(response.read())
        return bool(entries) and {e["state"] for e in entries} == {"loaded"}

    _wait("WakeHub loaded again", loaded, RESTART_TIMEOUT, card.context)
    browser.get(f"{demo.url}/")
    card.wait("the card after the restart", lambda rows: set(rows) == pinned)
    back = time.monotonic()
    if demo.config is not None:
        hass_log = (demo.config / ".wakehub-demo" / "hass.log").read_text()
        assert "--- restart at " in hass_log

    #    The simulator was left as it was: its log kept, the fault still set.
    sim = _get_json(f"{demo.sim_url}/nodes/Machine2")
    assert sim["faults"] == {"ignore_wol": True}, sim
    assert _get_json(f"{demo.sim_url}/log")[: len(log_before)] == log_before

    # 4. The nodes show their real states: no cascade runs any more, each row
    #    says what the simulator says (Machine2 never woke, nor Jellyfin).
    rows = card.wait(
        "every row at the simulator's state",
        lambda rows: (
            all(rows[name]["state"] == _sim_states(demo)[name] for name in pinned)
            and all(row["progress"] is None for row in rows.values())
            and rows
        ),
    )
    assert rows["Jellyfin"]["state"] == "off", rows["Jellyfin"]
    assert rows["Machine2"]["state"] == "off", rows["Machine2"]
    assert rows["NAS"]["state"] == "on", rows["NAS"]
    card.shot("restart-card-back")

    # 5. The interrupted cascade is reported: a notification in the drawer,
    #    in the translations' words ...
    texts = json.loads(TRANSLATIONS.read_text())["exceptions"]
    values = {
        "target": "Jellyfin",
        "node": "Machine2",
        "step": str(step),
        "total": str(len(steps)),
    }
    title = texts["cascade_interrupted_title"]["message"].format(**values)
    message = texts["cascade_interrupted"]["message"].format(**values)
    _wait(
        "the sidebar's notifications",
        lambda: browser.execute_script(_JS_OPEN_NOTIFICATIONS),
        UI_TIMEOUT,
        card.context,
    )
    notes = _wait(
        "the interrupted cascade's notification in the drawer",
        lambda: [
            n
            for n in browser.execute_script(_JS_NOTIFICATIONS)
            if n["id"].startswith("wakehub_cascade_")
        ],
        UI_TIMEOUT,
        card.context,
    )
    assert len(notes) == 1, notes
    assert (notes[0]["title"], notes[0]["message"]) == (title, message), notes
    assert title in notes[0]["shown"], notes
    card.shot("restart-notification")
    #    ... and the logbook's line on Jellyfin.
    interrupted = json.loads(TRANSLATIONS.read_text())["exceptions"][
        "logbook_interrupted_start"
    ]["message"].split("{")[0]
    lines = browser.execute_async_script(_JS_LOGBOOK, since)
    assert [
        line["name"] for line in lines if line["message"].startswith(interrupted)
    ] == ["Jellyfin"], lines

    _post_json(
        f"{demo.sim_url}/faults",
        {"node": "Machine2", "fault": "ignore_wol", "value": None},
    )
    print(
        f"restart test: {time.monotonic() - began:.1f}s from the click"
        f" (Home Assistant away {back - stopped:.1f}s)"
    )
