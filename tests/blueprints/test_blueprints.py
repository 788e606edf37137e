"""The blueprints under ``blueprints/automation/wakehub/``, through HA's own code.

Each blueprint is validated by the blueprint integration (schema, inputs,
selectors), then copied into the test configuration's blueprint folder and used
by an automation (``use_blueprint``). The WakeHub events are fired on the bus,
and the notify and WakeHub actions are mock services: the assertions are about
which actions the automation calls, with which data.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
import shutil
from typing import TYPE_CHECKING, Any

from homeassistant.components.automation import DOMAIN as AUTOMATION_DOMAIN
from homeassistant.components.automation.config import AUTOMATION_BLUEPRINT_SCHEMA
from homeassistant.components.automation.helpers import async_get_blueprints
from homeassistant.components.blueprint import models
from homeassistant.components.blueprint.schemas import BLUEPRINT_SCHEMA
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util, yaml as yaml_util
import pytest
from pytest_homeassistant_custom_component.common import (
    async_fire_time_changed,
    async_mock_service,
)

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant, ServiceCall

BLUEPRINTS = Path(__file__).parents[2] / "blueprints" / "automation" / "wakehub"
CONFIRM = "confirm_shutdown_mobile.yaml"
FAILED = "notify_cascade_failed.yaml"
PHONE = "notify.mobile_app_pixel_8"
PROPOSAL = "0f3c2a9d8b7e4c1a9e2d5b6a7c8d9e0f"


# ----------------------------------------------------------------- validation


@pytest.mark.parametrize("name", [CONFIRM, FAILED])
def test_blueprint_is_valid(name: str) -> None:
    """Each file is a valid automation blueprint with a source URL."""
    data = yaml_util.load_yaml_dict(BLUEPRINTS / name)
    BLUEPRINT_SCHEMA(data)
    blueprint = models.Blueprint(
        data, expected_domain=AUTOMATION_DOMAIN, schema=AUTOMATION_BLUEPRINT_SCHEMA
    )
    assert blueprint.domain == AUTOMATION_DOMAIN
    assert blueprint.name.startswith("WakeHub - ")
    meta = blueprint.metadata
    assert meta["source_url"].endswith(f"blueprints/automation/wakehub/{name}")
    assert meta["description"]
    for key, spec in meta["input"].items():
        assert spec["name"], key
        assert spec["selector"], key
    assert blueprint.validate() is None


def test_every_blueprint_is_tested() -> None:
    """A new blueprint gets a test here."""
    assert sorted(p.name for p in BLUEPRINTS.glob("*.yaml")) == sorted(
        [CONFIRM, FAILED]
    )


async def test_blueprints_load_through_domain_blueprints(
    hass: HomeAssistant, tmp_path: Path
) -> None:
    """The blueprint integration finds and loads both files from the config."""
    _install(hass, tmp_path)
    assert await async_setup_component(hass, "blueprint", {})
    loaded = await async_get_blueprints(hass).async_get_blueprints()
    assert set(loaded) == {f"wakehub/{CONFIRM}", f"wakehub/{FAILED}"}
    for path, blueprint in loaded.items():
        assert isinstance(blueprint, models.Blueprint), (path, blueprint)


# -------------------------------------------------------------------- helpers


async def _settle() -> None:
    """Let the bus, the automations and the mock services run.

    ``hass.async_block_till_done()`` would wait for the automation run that
    is still waiting for an answer (up to the proposal's expiry), so the loop
    is only given a fixed number of turns.
    """
    for _ in range(50):
        await asyncio.sleep(0)


def _install(hass: HomeAssistant, tmp_path: Path) -> None:
    """Copy the repo's blueprints into a fresh configuration folder."""
    hass.config.config_dir = str(tmp_path)
    target = tmp_path / "blueprints" / "automation" / "wakehub"
    target.mkdir(parents=True)
    for path in BLUEPRINTS.glob("*.yaml"):
        shutil.copy(path, target / path.name)


async def _automation(
    hass: HomeAssistant, tmp_path: Path, name: str, inputs: dict[str, Any]
) -> None:
    """Set up one automation that uses the blueprint ``name``."""
    _install(hass, tmp_path)
    assert await async_setup_component(
        hass,
        AUTOMATION_DOMAIN,
        {
            AUTOMATION_DOMAIN: {
                "id": name.removesuffix(".yaml"),
                "alias": name.removesuffix(".yaml"),
                "use_blueprint": {"path": f"wakehub/{name}", "input": inputs},
            }
        },
    )
    await _settle()
    state = hass.states.get(f"automation.{name.removesuffix('.yaml')}")
    assert state is not None
    assert state.state == "on"


class Mocks:
    """The mocked actions the blueprints call."""

    def __init__(self, hass: HomeAssistant) -> None:
        self.phone = async_mock_service(hass, "notify", "mobile_app_pixel_8")
        self.confirm = async_mock_service(hass, "wakehub", "confirm_shutdown")
        self.dismiss = async_mock_service(hass, "wakehub", "dismiss_shutdown")

    @property
    def wakehub(self) -> list[ServiceCall]:
        return [*self.confirm, *self.dismiss]


def _propose(
    hass: HomeAssistant,
    proposal_id: str = PROPOSAL,
    expires_in: timedelta = timedelta(hours=1),
) -> None:
    """Fire the event WakeHub fires for a shutdown proposal."""
    hass.bus.async_fire(
        "wakehub_shutdown_proposed",
        {
            "proposal_id": proposal_id,
            "node": "aa:bb:cc:dd:ee:01",
            "name": "NAS",
            "expires_at": (dt_util.utcnow() + expires_in).isoformat(),
        },
    )


# ------------------------------------------------- confirm_shutdown_mobile


@pytest.fixture
async def confirm(hass: HomeAssistant, tmp_path: Path) -> Mocks:
    """The confirm blueprint set up for one phone, with mocked actions."""
    mocks = Mocks(hass)
    await _automation(hass, tmp_path, CONFIRM, {"notify_service": PHONE})
    return mocks


async def test_proposal_sends_actionable_notification(
    hass: HomeAssistant, confirm: Mocks
) -> None:
    """The phone gets Confirm and Dismiss actions tied to the proposal id."""
    _propose(hass)
    await _settle()

    assert len(confirm.phone) == 1
    data = confirm.phone[0].data
    assert data["title"] == "Shut down NAS?"
    assert data["message"].startswith("Nothing active needs NAS any more.")
    assert data["data"]["tag"] == f"wakehub_proposal_{PROPOSAL}"
    assert data["data"]["actions"] == [
        {"action": f"WAKEHUB_CONFIRM_{PROPOSAL}", "title": "Shut down"},
        {"action": f"WAKEHUB_DISMISS_{PROPOSAL}", "title": "Keep it on"},
    ]
    assert confirm.wakehub == []


async def test_event_without_proposal_id_is_ignored(
    hass: HomeAssistant, confirm: Mocks
) -> None:
    """Nothing is sent for a malformed event."""
    hass.bus.async_fire("wakehub_shutdown_proposed", {"node": "x", "name": "NAS"})
    await _settle()
    assert confirm.phone == []


async def test_confirm_on_the_phone_confirms_the_proposal(
    hass: HomeAssistant, confirm: Mocks
) -> None:
    """Tapping Confirm calls wakehub.confirm_shutdown with the proposal id."""
    _propose(hass)
    await _settle()
    hass.bus.async_fire(
        "mobile_app_notification_action", {"action": f"WAKEHUB_CONFIRM_{PROPOSAL}"}
    )
    await _settle()

    assert [call.data for call in confirm.confirm] == [{"proposal_id": PROPOSAL}]
    assert confirm.dismiss == []
    assert len(confirm.phone) == 1  # nothing to clear: the app closes it


async def test_dismiss_on_the_phone_dismisses_the_proposal(
    hass: HomeAssistant, confirm: Mocks
) -> None:
    """Tapping Dismiss calls wakehub.dismiss_shutdown with the proposal id."""
    _propose(hass)
    await _settle()
    hass.bus.async_fire(
        "mobile_app_notification_action", {"action": f"WAKEHUB_DISMISS_{PROPOSAL}"}
    )
    await _settle()

    assert [call.data for call in confirm.dismiss] == [{"proposal_id": PROPOSAL}]
    assert confirm.confirm == []


async def test_an_answer_for_another_proposal_is_ignored(
    hass: HomeAssistant, confirm: Mocks
) -> None:
    """Two proposals wait side by side; each answer reaches only its own."""
    other = "feedface" * 4
    _propose(hass)
    _propose(hass, other)
    await _settle()
    assert len(confirm.phone) == 2

    hass.bus.async_fire(
        "mobile_app_notification_action", {"action": f"WAKEHUB_DISMISS_{other}"}
    )
    await _settle()
    assert [call.data for call in confirm.dismiss] == [{"proposal_id": other}]
    assert confirm.confirm == []

    hass.bus.async_fire(
        "mobile_app_notification_action", {"action": f"WAKEHUB_CONFIRM_{PROPOSAL}"}
    )
    await _settle()
    assert [call.data for call in confirm.confirm] == [{"proposal_id": PROPOSAL}]
    assert len(confirm.dismiss) == 1


async def test_proposal_closed_elsewhere_clears_the_phone(
    hass: HomeAssistant, confirm: Mocks
) -> None:
    """Answered in the UI (or withdrawn): the phone's notification is cleared."""
    _propose(hass)
    await _settle()
    hass.bus.async_fire(
        "wakehub_shutdown_proposal_closed",
        {
            "proposal_id": PROPOSAL,
            "node": "aa:bb:cc:dd:ee:01",
            "name": "NAS",
            "outcome": "withdrawn",
        },
    )
    await _settle()

    assert confirm.wakehub == []
    assert len(confirm.phone) == 2
    clear = confirm.phone[1].data
    assert clear == {
        "message": "clear_notification",
        "data": {"tag": f"wakehub_proposal_{PROPOSAL}"},
    }
    # A late tap on the phone no longer reaches WakeHub.
    hass.bus.async_fire(
        "mobile_app_notification_action", {"action": f"WAKEHUB_CONFIRM_{PROPOSAL}"}
    )
    await _settle()
    assert confirm.wakehub == []


async def test_expiry_clears_the_phone(hass: HomeAssistant, confirm: Mocks) -> None:
    """Without an answer the wait ends when the proposal expires."""
    _propose(hass, expires_in=timedelta(minutes=5))
    await _settle()
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(minutes=6))
    await _settle()

    assert confirm.wakehub == []
    assert [call.data["message"] for call in confirm.phone][-1] == "clear_notification"


async def test_asked_again_hands_over_to_the_new_run(
    hass: HomeAssistant, confirm: Mocks
) -> None:
    """A renewed proposal (same id) replaces the notification; one answer only."""
    _propose(hass)
    await _settle()
    _propose(hass)
    await _settle()
    assert len(confirm.phone) == 2
    assert all("actions" in call.data["data"] for call in confirm.phone)

    hass.bus.async_fire(
        "mobile_app_notification_action", {"action": f"WAKEHUB_CONFIRM_{PROPOSAL}"}
    )
    await _settle()
    assert [call.data for call in confirm.confirm] == [{"proposal_id": PROPOSAL}]


async def test_custom_button_texts(hass: HomeAssistant, tmp_path: Path) -> None:
    """The button texts are inputs (for another language, say)."""
    mocks = Mocks(hass)
    await _automation(
        hass,
        tmp_path,
        CONFIRM,
        {
            "notify_service": PHONE,
            "confirm_text": "Éteindre",
            "dismiss_text": "Laisser allumé",
        },
    )
    _propose(hass)
    await _settle()
    titles = [a["title"] for a in mocks.phone[0].data["data"]["actions"]]
    assert titles == ["Éteindre", "Laisser allumé"]


# --------------------------------------------------- notify_cascade_failed


def _failed(hass: HomeAssistant, **overrides: Any) -> None:
    """Fire the event WakeHub fires when a cascade fails."""
    data: dict[str, Any] = {
        "cascade_id": "c1",
        "action": "start",
        "target": "aa:bb:cc:dd:ee:02/202",
        "target_name": "Jellyfin",
        "origin": "request",
        "status": "failed",
        "node": "aa:bb:cc:dd:ee:01",
        "name": "NAS",
        "step": 1,
        "total": 3,
        "error_code": "timeout",
        "error_message": "NAS did not answer within 300 s",
    }
    data.update(overrides)
    hass.bus.async_fire("wakehub_cascade_failed", data)


@pytest.fixture
async def failed_calls(hass: HomeAssistant, tmp_path: Path) -> list[ServiceCall]:
    """The failure blueprint set up with a mocked notify action."""
    calls = async_mock_service(hass, "notify", "notify")
    await _automation(hass, tmp_path, FAILED, {"notify_service": "notify.notify"})
    return calls


async def test_failed_cascade_is_notified(
    hass: HomeAssistant, failed_calls: list[ServiceCall]
) -> None:
    """The message names the target, the failed step and the error."""
    _failed(hass)
    await _settle()

    assert len(failed_calls) == 1
    assert failed_calls[0].data == {
        "title": "WakeHub cascade failed",
        "message": "Starting Jellyfin failed at step 1/3 (NAS): "
        "timeout: NAS did not answer within 300 s",
    }


async def test_failed_stop_without_step(
    hass: HomeAssistant, failed_calls: list[ServiceCall]
) -> None:
    """A stop that failed before any step (a re-plan error) still notifies."""
    _failed(
        hass,
        action="stop",
        target_name="Machine1",
        node="aa:bb:cc:dd:ee:03",
        name="Machine1",
        step=None,
        error_code="host_key_mismatch",
        error_message="the SSH host key of 10.0.0.3:22 is not the pinned one",
    )
    await _settle()

    assert failed_calls[0].data["message"] == (
        "Shutting down Machine1 failed at a step (Machine1): host_key_mismatch: "
        "the SSH host key of 10.0.0.3:22 is not the pinned one"
    )


async def test_interrupted_cascade_reported_by_default(
    hass: HomeAssistant, failed_calls: list[ServiceCall]
) -> None:
    """A cascade cut short by a restart is reported."""
    _failed(
        hass,
        status="interrupted",
        node="aa:bb:cc:dd:ee:02",
        name="Machine2",
        step=2,
        error_code="interrupted",
        error_message="Home Assistant restarted during the cascade",
    )
    await _settle()
    assert failed_calls[0].data["message"] == (
        "Starting Jellyfin failed at step 2/3 (Machine2): interrupted: "
        "Home Assistant restarted during the cascade"
    )


async def test_interrupted_cascade_can_be_left_out(
    hass: HomeAssistant, tmp_path: Path
) -> None:
    """With ``include_interrupted: false`` only real failures notify."""
    calls = async_mock_service(hass, "notify", "notify")
    await _automation(
        hass,
        tmp_path,
        FAILED,
        {
            "notify_service": "notify.notify",
            "include_interrupted": False,
            "title": "Homelab",
        },
    )
    _failed(hass, status="interrupted", error_code="interrupted")
    await _settle()
    assert calls == []

    _failed(hass)
    await _settle()
    assert [call.data["title"] for call in calls] == ["Homelab"]
