"""The ``demo`` marker: deselect the end-to-end demo with ``-m "not demo"``."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pytest


def pytest_configure(config: pytest.Config) -> None:
    """Register the marker (pyproject.toml is not ours to edit)."""
    config.addinivalue_line(
        "markers",
        "demo: runs scripts/develop --headless end to end (a real Home Assistant"
        " and the simulator; about 20-60 s)",
    )
