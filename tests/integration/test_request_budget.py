"""At most 5 requests per second per host, whoever sends them, end to end.

The reference cold start of sandbox and scenario 3's stop of Machine1 run
through Home Assistant against the homelab simulator, whose request log
timestamps every request each host receives (its APIs, its SSH commands,
the magic packets sent to it): no host may receive more than 5 in any
one-second window (docs/design.md, "Readiness").
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from homeassistant.const import SERVICE_TURN_OFF, SERVICE_TURN_ON
import pytest

from custom_components.wakehub.channels.budget import MAX_REQUESTS_PER_SECOND

from .conftest import state_of
from .hub_helpers import async_setup_homelab, async_turn, async_wait_idle

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant

    from tests.homelab.thread import HomelabThread


def _busiest(log: list[list[Any]]) -> tuple[int, str, list[str]]:
    """The most requests one host received in any one-second window."""
    by_host: dict[str, list[tuple[float, str]]] = {}
    for t, host, endpoint in log:
        by_host.setdefault(host, []).append((t, endpoint))
    best: tuple[int, str, list[str]] = (0, "-", [])
    for host, sent in by_host.items():
        sent.sort()
        first = 0
        for last, (at, _endpoint) in enumerate(sent):
            while at - sent[first][0] >= 1.0:
                first += 1
            if last - first + 1 > best[0]:
                best = (last - first + 1, host, [e for _t, e in sent[first : last + 1]])
    return best


@pytest.mark.parametrize(
    ("on", "service", "target", "goal"),
    [
        ((), SERVICE_TURN_ON, "sandbox", "on"),
        (
            ("sandbox", "plex", "VM-Ubuntu", "Jellyfin"),
            SERVICE_TURN_OFF,
            "Machine1",
            "off",
        ),
    ],
    ids=["cold start of sandbox", "scenario 3"],
)
async def test_no_host_gets_more_than_five_requests_a_second(
    hass: HomeAssistant,
    homelab: HomelabThread,
    on: tuple[str, ...],
    service: str,
    target: str,
    goal: str,
) -> None:
    """Polls, commands, task reads and readiness checks share each host's budget."""
    for name in on:
        homelab.set_power(name, "running")
    await async_setup_homelab(hass, homelab)
    homelab.reset_requests()
    await async_turn(hass, service, target)
    await async_wait_idle(hass)
    assert state_of(hass, target) == goal
    log = homelab.requests()["log"]
    assert len(log) > 2 * MAX_REQUESTS_PER_SECOND  # a cascade's worth of requests
    count, host, endpoints = _busiest(log)
    assert count <= MAX_REQUESTS_PER_SECOND, (host, endpoints)
