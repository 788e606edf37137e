"""The core stays pure: no Home Assistant, no channel, no network import."""

from __future__ import annotations

import ast
from pathlib import Path

import custom_components.wakehub.core as core

CORE_DIR = Path(core.__file__).parent
FORBIDDEN = ("homeassistant", "custom_components.wakehub.channels")


def _imported_modules(path: Path) -> list[str]:
    """Every module an (absolute or relative) import of ``path`` names."""
    package = "custom_components.wakehub.core"
    modules: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            modules.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0]
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            modules.append(module)
            modules.extend(f"{module}.{alias.name}" for alias in node.names)
    return modules


def test_core_modules_exist() -> None:
    """The scan below really sees the core's modules."""
    names = {path.name for path in CORE_DIR.glob("*.py")}
    assert {"__init__.py", "ids.py", "model.py", "planner.py", "topology.py"} <= names


def test_no_home_assistant_or_channel_import() -> None:
    """No core module imports Home Assistant or the channels."""
    offenders = [
        f"{path.name}: {module}"
        for path in sorted(CORE_DIR.rglob("*.py"))
        for module in _imported_modules(path)
        if any(
            module == forbidden or module.startswith(f"{forbidden}.")
            for forbidden in FORBIDDEN
        )
    ]
    assert offenders == []


def test_relative_parent_import_is_resolved(tmp_path: Path) -> None:
    """The scanner resolves ``from ..channels import x`` to the channels."""
    sample = tmp_path / "sample.py"
    sample.write_text("from ..channels import base\nfrom . import ids\n")
    assert "custom_components.wakehub.channels" in _imported_modules(sample)
    assert "custom_components.wakehub.core.ids" in _imported_modules(sample)
