"""The card renders every code the backend sends, in English and in French.

The backend sends codes and placeholders (error codes, step details, cancel
codes, translated exceptions), never sentences; the card's translations
(``frontend/translations/<language>.js``) turn them into text. The codes are
read from the Python code itself (the channel errors, the ``code=`` a channel
passes, the orchestrator's own), so a new code without texts fails here. The
card's own functions render them, under node (``card_texts.mjs``).
"""

from __future__ import annotations

import ast
import json
from pathlib import Path
import re
import shutil
import subprocess
from typing import Any

import pytest

from custom_components.wakehub.channels import errors as channel_errors
from custom_components.wakehub.core.errors import UnknownNodeError
from custom_components.wakehub.orchestrator import (
    CANCEL_CODES,
    ERROR_INTERRUPTED,
    ERROR_TIMEOUT,
    ERROR_UNEXPECTED,
    STEP_DETAIL_KEYS,
)

ROOT = Path(__file__).resolve().parents[2] / "custom_components" / "wakehub"
CARD = ROOT / "frontend" / "wakehub-card.js"
HARNESS = Path(__file__).with_name("card_texts.mjs")
LANGUAGES = ("en", "fr")
ERROR_PARAMS = frozenset(
    {"node", "host", "api", "verb", "verb_done", "verb_cap", "detail", "look"}
    | {"status", "reason", "seconds", "goal"}
)
"""What the card's describeError fills in an error's sentence."""

pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="needs node")


def _subclasses(cls: type) -> set[type]:
    found = set()
    for sub in cls.__subclasses__():
        found |= {sub, *_subclasses(sub)}
    return found


def _code_keywords() -> set[str]:
    """Every ``code="..."`` a call passes in the channels and the orchestrator.

    (The core's own codes are refusals of a configuration, which the flows
    and the services translate; a cascade ends with these.)
    """
    codes = set()
    paths = [*(ROOT / "channels").rglob("*.py"), *(ROOT / "orchestrator").rglob("*.py")]
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.Call):
                codes |= {
                    kw.value.value
                    for kw in node.keywords
                    if kw.arg == "code"
                    and isinstance(kw.value, ast.Constant)
                    and isinstance(kw.value.value, str)
                }
    return codes


def error_codes() -> list[str]:
    """Every error code a cascade can end with, from the Python constants."""
    codes = {cls.code for cls in _subclasses(channel_errors.ChannelError)}
    codes |= {channel_errors.ChannelError.code, UnknownNodeError.code}
    codes |= {ERROR_TIMEOUT, ERROR_INTERRUPTED, ERROR_UNEXPECTED}
    codes |= _code_keywords()
    return sorted(codes)


def render(cases: list[dict[str, Any]], tmp_path: Path) -> list[Any]:
    """Run the card's own functions over ``cases`` (see card_texts.mjs)."""
    path = tmp_path / "cases.json"
    path.write_text(json.dumps(cases), "utf-8")
    result = subprocess.run(
        ["node", str(HARNESS), str(CARD), str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(result.stdout)


def test_the_scan_finds_the_codes() -> None:
    """The scan reads classes, keywords and constants (not a hand-made list)."""
    codes = error_codes()
    assert {"api_error", "guest_migrating", "ha_timeout", "interrupted"} <= set(codes)
    assert {"unexpected_error", "not_controllable", "unknown_node"} <= set(codes)
    assert "guest_migrated" in _code_keywords()


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_error_code_has_its_own_sentence(language: str, tmp_path: Path) -> None:
    """Each code reads as its own sentence, placeholders filled, in each language."""
    codes = error_codes()
    cases = [
        {"type": "text", "language": language, "key": f"error.{code}"} for code in codes
    ] + [
        {
            "type": "error",
            "language": language,
            "error": {"code": code, "message": "the API's words"},
            "node": "jellyfin",
            "action": "start",
        }
        for code in codes
    ]
    results = render(cases, tmp_path)
    own, rendered = results[: len(codes)], results[len(codes) :]
    missing = [code for code, text in zip(codes, own, strict=True) if text is None]
    assert not missing, f"translations/{language}.js lacks error.{missing}"
    for code, text in zip(codes, rendered, strict=True):
        assert "{" not in text, (code, text)
        assert "Jellyfin" in text or "Machine2" in text, (code, text)


def test_errors_read_in_french(tmp_path: Path) -> None:
    """What a French user reads: the node's names, French words, the API's own."""
    base = {"type": "error", "node": "jellyfin", "action": "start"}
    cases = [
        {
            **base,
            "language": language,
            "error": {
                "code": "timeout",
                "message": "Jellyfin was not up after 120 s (waiting for Jellyfin)",
                "placeholders": {"seconds": "120", "goal": "up"},
            },
        }
        for language in LANGUAGES
    ] + [
        {
            **base,
            "language": "fr",
            "error": {"code": "timeout", "message": "Proxmox did not answer in time"},
        },
        {
            **base,
            "language": "fr",
            "error": {"code": "api_error", "message": "HTTP 500: internal error"},
        },
        {
            **base,
            "language": "fr",
            "error": {"code": "task_failed", "message": "command 'lxc-start' failed"},
        },
        {
            # A machine's start that failed on the API it waited for: the
            # backend says which (the cascade sensor's error.api).
            **base,
            "node": "nas",
            "language": "fr",
            "error": {"code": "auth_failed", "message": "401", "api": "proxmox"},
        },
        {
            **base,
            "node": "nas",
            "action": "stop",
            "language": "fr",
            "error": {
                "code": "not_controllable",
                "message": "NAS refuses SSH connections: the machine answers",
            },
        },
    ]
    english, french, timeout, http, task, machine, ssh = render(cases, tmp_path)
    assert machine.startswith("Proxmox sur NAS a refusé les identifiants de WakeHub")
    assert english == (
        "Jellyfin was not up after 120 s: check that it boots, then retry."
    )
    assert french == (
        "Jellyfin n'était pas prêt après 120 s : vérifiez qu'il démarre, puis"
        " réessayez."
    )
    # A channel's timeout is no readiness timeout: no seconds, what answered.
    assert timeout.startswith("Proxmox sur Machine2 n'a pas répondu à temps")
    assert "did not" not in timeout
    assert http == (
        "Proxmox sur Machine2 a répondu HTTP 500 (erreur interne) lors du démarrage"
        " de Jellyfin : consultez le journal des tâches de Proxmox."
    )
    # Proxmox's own words stay, inside a French sentence.
    assert task.startswith("Proxmox sur Machine2 n'a pas pu terminer")
    assert "(command 'lxc-start' failed)" in task
    # WakeHub's own English description is not shown.
    assert ssh.startswith("NAS répond sur le réseau")
    assert "refuses" not in ssh


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_step_detail_and_cancel_code_reads(language: str, tmp_path: Path) -> None:
    """Each step detail (both actions) and each cancel code has its text."""
    placeholders = {
        "node": "Jellyfin",
        "host": "Machine2",
        "channel": "proxmox",
        "apis": "docker,proxmox",
    }
    steps = [
        {"detail": key, "action": action, "placeholders": placeholders}
        for key in STEP_DETAIL_KEYS
        for action in ("start", "stop")
    ]
    cases = [{"type": "detail", "language": language, "step": s} for s in steps]
    cases += [
        {
            "type": "text",
            "language": language,
            "key": f"cancelled.{code}",
            "params": {"target": "NAS"},
        }
        for code in CANCEL_CODES
    ]
    results = render(cases, tmp_path)
    for case, text in zip(cases, results, strict=True):
        assert text, case
        assert "{" not in text, (case, text)
        assert "Jellyfin" in text or "NAS" in text, (case, text)


def test_step_details_in_french(tmp_path: Path) -> None:
    """A running step, as the card's progress shows it to a French user."""
    cases = [
        {
            "type": "detail",
            "language": "fr",
            "step": {
                "detail": "command_via",
                "action": "start",
                "placeholders": {
                    "node": "Jellyfin",
                    "action": "start",
                    "channel": "proxmox",
                    "host": "Machine2",
                },
            },
        },
        {
            "type": "detail",
            "language": "fr",
            "step": {
                "detail": "waiting_apis",
                "action": "start",
                "placeholders": {"node": "VM-Docker", "apis": "docker,proxmox"},
            },
        },
        {
            "type": "detail",
            "language": "fr",
            "step": {"detail": "unknown_code", "placeholders": {}},
        },
        {
            "type": "text",
            "language": "fr",
            "key": "cancelled.stop_requested",
            "params": {"target": "NAS"},
        },
    ]
    assert render(cases, tmp_path) == [
        "Démarrage de Jellyfin via l'API Proxmox de Machine2",
        "Attente de l'API Docker et l'API Proxmox de VM-Docker",
        "",
        "Le démarrage a été annulé : NAS est en cours d'arrêt.",
    ]


def test_refused_calls_read_in_the_users_language(tmp_path: Path) -> None:
    """A refused call is rendered from Home Assistant's translations of WakeHub.

    The error of a service call carries the translation key and placeholders
    (Home Assistant's websocket API passes them on); the card renders them
    with the frontend's loader, in the user's language; without a key or a
    loader it shows the message.
    """
    french = json.loads((ROOT / "translations" / "fr.json").read_text("utf-8"))
    translations = {
        f"{key}.message": value["message"]
        for key, value in french["exceptions"].items()
    }
    refusal = {
        "code": "home_assistant_error",
        "message": "NAS is needed by the start of Jellyfin: it stays on.",
        "translation_domain": "wakehub",
        "translation_key": "node_needed",
        "translation_placeholders": {"name": "NAS", "target": "Jellyfin"},
    }
    cases = [
        {
            "type": "service_error",
            "language": "fr",
            "with_loader": True,
            "translations": translations,
            "err": refusal,
        },
        {
            # home-assistant-js-websocket may wrap the payload in ``error``.
            "type": "service_error",
            "language": "fr",
            "with_loader": True,
            "translations": translations,
            "err": {"error": refusal},
        },
        {
            "type": "service_error",
            "language": "fr",
            "with_loader": False,
            "translations": {},
            "err": refusal,
        },
        {
            "type": "service_error",
            "language": "fr",
            "with_loader": True,
            "translations": translations,
            "err": {"code": "unknown_error", "message": "Connection lost"},
        },
    ]
    needed = french["exceptions"]["node_needed"]["message"].format(
        name="NAS", target="Jellyfin"
    )
    assert "Jellyfin" in needed
    assert render(cases, tmp_path) == [
        needed,
        needed,
        refusal["message"],
        "Connection lost",
    ]


def _flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, str]:
    leaves: dict[str, str] = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            leaves.update(_flatten(value, f"{prefix}{key}."))
        else:
            leaves[f"{prefix}{key}"] = value
    return leaves


def _language_file(path: Path) -> dict[str, str]:
    """A card translation file's texts, by dotted key (node imports it)."""
    script = (
        f"import({json.dumps(path.as_uri())})"
        ".then((m) => process.stdout.write(JSON.stringify(m.default)))"
    )
    result = subprocess.run(
        ["node", "--input-type=module", "-e", script],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return _flatten(json.loads(result.stdout))


def test_every_language_has_every_text() -> None:
    """Each translations/<language>.js has en.js's keys, and no unknown placeholder.

    A language lacking a key would fall back to English on the card: the
    French user would meet English again. A placeholder is one English uses
    for the key; an error's sentence may use any the card fills for errors
    (French says "Échec du démarrage de X" with {verb}, English "Starting X
    failed" with {verb_cap}).
    """
    folder = CARD.parent / "translations"
    english = _language_file(folder / "en.js")
    assert "picker.description" in english
    placeholder = re.compile(r"\{(\w+)\}")
    for path in sorted(folder.glob("*.js")):
        texts = _language_file(path)
        assert set(texts) == set(english), (
            path.name,
            sorted(set(english) ^ set(texts)),
        )
        for key, text in english.items():
            allowed = set(placeholder.findall(text))
            if key.startswith("error."):
                allowed |= ERROR_PARAMS
            used = set(placeholder.findall(texts[key]))
            assert used <= allowed, (path.name, key, used - allowed)


def test_a_wrong_configuration_is_said_in_the_users_language(tmp_path: Path) -> None:
    """The card's own setConfig refuses a wrong YAML in the loaded language."""
    cases = [
        {"type": "set_config", "language": language, "config": config}
        for language in LANGUAGES
        for config in (None, {"nodes": "switch.jellyfin"})
    ] + [{"type": "set_config", "language": "fr", "config": {"nodes": ["NAS"]}}]
    assert render(cases, tmp_path) == [
        "Invalid configuration",
        "'nodes' must be a list of entity ids, node ids or names",
        "Configuration invalide",
        (
            "'nodes' doit être une liste d'identifiants d'entités, d'identifiants de"
            " nœuds ou de noms"
        ),
        None,
    ]
