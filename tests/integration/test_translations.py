"""The translations stay in step with strings.json (same check as scripts/translations)."""

from __future__ import annotations

from importlib.machinery import SourceFileLoader
from importlib.util import module_from_spec, spec_from_loader
import json
from pathlib import Path
import shutil
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from types import ModuleType

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "translations"


@pytest.fixture(name="checker", scope="module")
def checker_fixture() -> ModuleType:
    """Load scripts/translations as a module."""
    loader = SourceFileLoader("wakehub_translations", str(SCRIPT))
    spec = spec_from_loader(loader.name, loader)
    assert spec is not None
    module = module_from_spec(spec)
    loader.exec_module(module)
    return module


def test_translations_are_complete(checker: ModuleType) -> None:
    """en.json is strings.json, and fr.json has exactly its keys and placeholders."""
    assert checker.problems() == []
    assert checker.main() == 0


def test_checker_reports_every_difference(
    checker: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A stale en.json, a missing or extra key and a lost placeholder are reported."""
    shutil.copytree(
        checker.ROOT,
        tmp_path / "wakehub",
        ignore=shutil.ignore_patterns("*.py", "*.png"),
    )
    root = tmp_path / "wakehub"
    french = json.loads((root / "translations" / "fr.json").read_text("utf-8"))
    del french["entity"]["sensor"]["cpu"]
    french["entity"]["sensor"]["bogus"] = {"name": "Bogus"}
    french["exceptions"]["not_a_node"]["message"] = "Erreur"
    (root / "translations" / "fr.json").write_text(json.dumps(french), "utf-8")
    (root / "translations" / "en.json").write_text("{}", "utf-8")

    assert checker.problems(root) == [
        "translations/en.json differs from strings.json",
        "fr.json: missing entity.sensor.cpu.name",
        "fr.json: extra entity.sensor.bogus.name",
        "fr.json: placeholders differ in exceptions.not_a_node.message",
    ]
    checker.ROOT = root
    try:
        assert checker.main() == 1
    finally:
        checker.ROOT = (
            Path(__file__).resolve().parents[2] / "custom_components" / "wakehub"
        )
    assert "fr.json: missing entity.sensor.cpu.name" in capsys.readouterr().out
