"""The ``browser`` marker: deselect the browser tests with ``-m "not browser"``."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pytest


def pytest_configure(config: pytest.Config) -> None:
    """Register the marker (pyproject.toml is not ours to edit)."""
    config.addinivalue_line(
        "markers",
        "browser: drives the demo's dashboard in headless Chromium"
        " (scripts/develop --headless + Selenium; about 1-2 minutes)",
    )
