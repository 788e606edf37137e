"""The ``demo`` marker (deselect the end-to-end demo with ``-m "not demo"``)
and the ``demo`` fixture its tests share."""

from __future__ import annotations

import pytest

from tests.demo_runner import Demo, Started, ready_fields, reset_to_cold


def pytest_configure(config: pytest.Config) -> None:
    """Register the marker (pyproject.toml is not ours to edit)."""
    config.addinivalue_line(
        "markers",
        "demo: runs scripts/develop --headless end to end (a real Home Assistant"
        " and the simulator; about 20-60 s)",
    )


@pytest.fixture
def demo(shared_demo: Started) -> Demo:
    """The session's demo (``tests/demo_runner.py``), put back cold (as
    ``scripts/develop`` leaves it)."""
    reset_to_cold(shared_demo.ready_line)
    url, username, password, sim_url = ready_fields(shared_demo.ready_line)
    return Demo(
        **vars(shared_demo),
        url=url,
        username=username,
        password=password,
        sim_url=sim_url,
    )
