"""The inactivity module stays pure: no Home Assistant, no channel import."""

from __future__ import annotations

import ast
from pathlib import Path

import custom_components.wakehub.inactivity as inactivity

INACTIVITY_DIR = Path(inactivity.__file__).parent


def test_no_home_assistant_or_channel_import() -> None:
    """Only the standard library and the module's own files are imported."""
    imported: set[str] = set()
    for path in INACTIVITY_DIR.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                imported.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and not node.level:
                imported.add((node.module or "").split(".")[0])
    assert len(list(INACTIVITY_DIR.glob("*.py"))) >= 4
    assert imported <= {"__future__", "collections", "dataclasses", "enum", "typing"}
