"""Guest power as a real Proxmox VE does it, against the simulator.

Honest stops (no timeout or forceStop unless configured, the guest's own
``startup: down=``), the live ``status/current`` behind every decision
(paused and suspended VMs, migrations, ``unknown`` and a lagging
``/cluster/resources``), the two-phase boot seen through the guest agent, and
HA-managed guests whose ``hastart``/``hastop`` tasks end at once.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import pytest

from custom_components.wakehub.channels import (
    ApiError,
    ChannelTimeoutError,
    InvalidConfigError,
    NotFoundError,
    ProxmoxHost,
    TaskFailedError,
)
from custom_components.wakehub.channels.base import ChildInfo, ChildKind
from custom_components.wakehub.core.model import PowerState
from custom_components.wakehub.known_children import child_power

from .test_sim_proxmox import token_config

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Iterator

    from custom_components.wakehub.channels.proxmox_status import GuestStatus
    from tests.homelab import Homelab, HomelabThread


@pytest.fixture
async def pve(homelab: HomelabThread) -> AsyncIterator[ProxmoxHost]:
    """Machine1 on, and a channel to ``pve1`` polling its tasks quickly."""
    homelab.set_power("Machine1", "on")
    host = ProxmoxHost(token_config(homelab), task_poll_interval=0.02)
    yield host
    await host.close()


@pytest.fixture
def lagging(homelab: HomelabThread) -> Iterator[HomelabThread]:
    """``/cluster/resources`` lags as pvestatd's 10 s cycle (0.2 s here)."""

    def _set(value: float) -> Any:
        def apply(lab: Homelab) -> None:
            lab.status_interval = value

        return apply

    homelab.call(_set(10.0))
    yield homelab
    homelab.call(_set(0.0))


def _shutdowns(homelab: HomelabThread, name: str) -> list[dict[str, Any]]:
    return [
        entry
        for entry in homelab.log()
        if entry["node"] == name and entry["action"] == "pve_shutdown"
    ]


# -- honest stops ---------------------------------------------------------------


async def test_a_stop_sends_neither_timeout_nor_force(
    pve: ProxmoxHost, homelab: HomelabThread
) -> None:
    """By default Proxmox applies the guest's own configuration."""
    homelab.set_power("VM-Ubuntu", "running")
    assert await pve.power_guest("102", False, wait=10)
    assert homelab.state("VM-Ubuntu") == "stopped"
    [entry] = _shutdowns(homelab, "VM-Ubuntu")
    assert "timeout" not in entry
    assert "forceStop" not in entry
    assert entry["forced"] is False
    assert not await pve.power_guest("102", False, wait=10)  # already stopped


async def test_a_slow_guest_is_not_killed(
    pve: ProxmoxHost, homelab: HomelabThread
) -> None:
    """Its own ``startup: down=`` applies: a slow shutdown fails, never kills.

    The old ``timeout=120&forceStop=1`` killed a guest that ignored ACPI for
    120 s; without force the task fails and the guest keeps running.
    """
    homelab.set_power("VM-Ubuntu", "running")
    homelab.fault("VM-Ubuntu", "ignore_shutdown")
    homelab.fault("VM-Ubuntu", "startup_down", 5)
    with pytest.raises(TaskFailedError, match="got timeout"):
        await pve.power_guest("102", False, wait=10)
    assert homelab.state("VM-Ubuntu") == "running"
    assert "forced" not in _shutdowns(homelab, "VM-Ubuntu")[0]


async def test_force_after_the_configured_timeout(
    pve: ProxmoxHost, homelab: HomelabThread
) -> None:
    """A configured timeout and force stop: killed, and the log says so."""
    homelab.set_power("Jellyfin", "running")
    host = ProxmoxHost(token_config(homelab, "Machine2"), task_poll_interval=0.02)
    try:
        homelab.fault("Jellyfin", "ignore_shutdown")
        assert await host.power_guest("202", False, wait=10, timeout=3, force_stop=True)
    finally:
        await host.close()
    assert homelab.state("Jellyfin") == "stopped"
    [entry] = _shutdowns(homelab, "Jellyfin")
    assert (entry["timeout"], entry["forceStop"], entry["forced"]) == (3, True, True)


async def test_the_shutdown_window(pve: ProxmoxHost, homelab: HomelabThread) -> None:
    """The timeout sent, else ``startup: down=``, else Proxmox's default."""
    assert await pve.shutdown_window("102") == 60
    homelab.fault("VM-Ubuntu", "startup_down", 300)
    assert await pve.shutdown_window("102") == 300
    assert await pve.shutdown_window("102", timeout=30) == 30
    assert await pve.shutdown_window("102", timeout=30, force_stop=True) == 40
    homelab.set_power("Machine2", "on")
    host = ProxmoxHost(token_config(homelab, "Machine2"))
    try:
        assert await host.shutdown_window("202") == 65  # lxc-stop, plus 5 s
    finally:
        await host.close()


# -- fresh status and the real vocabulary ----------------------------------------


@pytest.mark.parametrize("qmpstatus", ["paused", "suspended"])
async def test_a_paused_vm_is_resumed(
    pve: ProxmoxHost, homelab: HomelabThread, qmpstatus: str
) -> None:
    """A start of a paused VM would fail "already running": it is resumed."""
    homelab.set_power("VM-Ubuntu", "running")
    homelab.fault("VM-Ubuntu", "qmpstatus", qmpstatus)
    assert (await pve.current("102")).status == qmpstatus
    states = await pve.read_states()
    assert (states["102"].status, states["102"].running) == (qmpstatus, False)
    assert child_power(states["102"]) is PowerState.UNKNOWN
    assert await pve.power_guest("102", True, wait=10)
    assert (await pve.current("102")).running
    actions = [e["action"] for e in homelab.log() if e["node"] == "VM-Ubuntu"]
    assert actions == ["pve_resume"]


async def test_a_paused_vm_cannot_be_shut_down_cleanly(
    pve: ProxmoxHost, homelab: HomelabThread
) -> None:
    """ACPI cannot reach a paused VM: Proxmox's own error, not a hang."""
    homelab.set_power("VM-Ubuntu", "running")
    homelab.fault("VM-Ubuntu", "qmpstatus", "paused")
    with pytest.raises(ApiError, match="paused - cannot shutdown"):
        await pve.power_guest("102", False, wait=10)


async def test_a_state_wakehub_cannot_start_from(
    pve: ProxmoxHost, homelab: HomelabThread
) -> None:
    """``io-error`` and the like are a clear error, not a start."""
    homelab.set_power("VM-Ubuntu", "running")
    homelab.fault("VM-Ubuntu", "qmpstatus", "io-error")
    with pytest.raises(ApiError) as err:
        await pve.power_guest("102", True, wait=10)
    assert err.value.code == "guest_state"
    assert "VM 102 is io-error" in err.value.message


async def test_a_migrating_guest_is_waited_for(
    pve: ProxmoxHost, homelab: HomelabThread
) -> None:
    """Locked by a migration: wait for the lock to go, or say why not."""
    homelab.fault("VM-Ubuntu", "lock", "migrate")
    with pytest.raises(ChannelTimeoutError) as err:
        await pve.power_guest("102", True, wait=0.2)
    assert err.value.code == "guest_migrating"
    assert "locked (migrate)" in err.value.message
    task = asyncio.ensure_future(pve.power_guest("102", True, wait=10))
    await asyncio.sleep(0.2)
    assert not task.done()
    homelab.fault("VM-Ubuntu", "lock", None)
    assert await task
    assert homelab.state("VM-Ubuntu") == "running"


async def test_unknown_after_a_boot_and_a_lagging_listing(
    pve: ProxmoxHost, lagging: HomelabThread
) -> None:
    """pvestatd: ``unknown`` just after the boot, then its last cycle."""
    homelab = lagging
    homelab.set_power("Machine1", "off")
    homelab.set_power("VM-Ubuntu", "running")  # boots Machine1 with it
    states = await pve.read_states()
    assert states["102"].status == "unknown"
    assert child_power(states["102"]) is PowerState.UNKNOWN  # not off
    await asyncio.sleep(0.25)
    assert (await pve.read_states())["102"].status == "running"
    homelab.set_power("VM-Ubuntu", "stopped")  # stopped by hand
    assert (await pve.read_states())["102"].status == "running"  # lags
    # The decision reads the live state: the guest is started again.
    assert await pve.power_guest("102", True, wait=10)
    assert homelab.state("VM-Ubuntu") == "running"


def test_only_stopped_is_off() -> None:
    """A guest is off only when Proxmox says stopped; a container when not running."""

    def child(kind: ChildKind, status: str) -> ChildInfo:
        return ChildInfo(
            key="k", kind=kind, name="k", running=status == "running", status=status
        )

    assert child_power(child(ChildKind.VM, "running")) is PowerState.ON
    assert child_power(child(ChildKind.LXC, "stopped")) is PowerState.OFF
    assert child_power(child(ChildKind.VM, "unknown")) is PowerState.UNKNOWN
    assert child_power(child(ChildKind.CONTAINER, "exited")) is PowerState.OFF


# -- real readiness ----------------------------------------------------------------


async def test_the_agent_answers_only_once_the_os_booted(
    pve: ProxmoxHost, homelab: HomelabThread
) -> None:
    """Running at once for Proxmox; the agent comes up with the OS."""
    assert await pve.power_guest("101", True, wait=10)
    assert (await pve.current("101")).running
    assert not await pve.agent_ping("101")
    async with asyncio.timeout(5):
        while not await pve.agent_ping("101"):
            await asyncio.sleep(0.01)
    with pytest.raises(InvalidConfigError, match="no QEMU guest agent"):
        await pve.agent_ping("102")
    homelab.fault("Machine1", "api_status", 500)
    with pytest.raises(ApiError, match="internal error"):
        await pve.agent_ping("101")  # any other error fails the step


# -- HA-managed guests ---------------------------------------------------------------


async def test_an_ha_managed_guest_is_waited_for(
    pve: ProxmoxHost, homelab: HomelabThread
) -> None:
    """``hastart`` ends at once; the guest runs only later: waited for."""
    homelab.fault("VM-Ubuntu", "ha", "managed")
    assert await pve.power_guest("102", True, wait=10)
    current = await pve.current("102")
    assert current.running
    assert (current.ha_managed, current.ha_state) == (True, "started")
    assert await pve.power_guest("102", False, wait=10)
    assert homelab.state("VM-Ubuntu") == "stopped"


async def test_an_ha_manager_that_does_not_act_is_named(
    pve: ProxmoxHost, homelab: HomelabThread
) -> None:
    """On timeout, the error says that HA did not start it, and its state."""
    homelab.fault("VM-Ubuntu", "ha", "error")
    with pytest.raises(ChannelTimeoutError) as err:
        await pve.power_guest("102", True, wait=0.3)
    assert err.value.code == "ha_timeout"
    assert err.value.message.startswith(
        "Proxmox HA did not start VM 102; its HA state is error"
    )
    assert homelab.state("VM-Ubuntu") == "stopped"


def test_the_status_interval_is_a_simulator_option() -> None:
    """``python -m tests.homelab --status-interval 10`` lags as a real node."""
    from tests.homelab.__main__ import parse_args

    assert parse_args(["--status-interval", "10"]).status_interval == 10.0
    assert parse_args([]).status_interval == 0.0


async def test_a_guest_that_migrated_away_is_named(
    pve: ProxmoxHost, homelab: HomelabThread, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Waited for while migrating, then gone from this node: said so.

    (The guest's configuration moves to the other node's directory,
    qemu-server ``PVE/QemuMigrate.pm``; this node then answers "does not
    exist" for it.)
    """

    def move(target: str) -> Callable[[Homelab], None]:
        def apply(lab: Homelab) -> None:
            lab._reparent("VM-Ubuntu", target)

        return apply

    # The guest moves once the channel has seen it migrating (a fixed sleep
    # was too short on a loaded machine: the move came first, a plain
    # not_found).
    seen_migrating = asyncio.Event()
    current = pve.current

    async def watched(key: str) -> GuestStatus:
        status = await current(key)
        if status.migrating:
            seen_migrating.set()
        return status

    monkeypatch.setattr(pve, "current", watched)
    homelab.set_power("Machine2", "on")
    homelab.fault("VM-Ubuntu", "lock", "migrate")
    task = asyncio.ensure_future(pve.power_guest("102", True, wait=10))
    await asyncio.wait_for(seen_migrating.wait(), 10)
    homelab.call(move("Machine2"))
    try:
        homelab.fault("VM-Ubuntu", "lock", None)
        with pytest.raises(NotFoundError) as err:
            await task
    finally:
        homelab.call(move("Machine1"))
    assert err.value.code == "guest_migrated"
    assert err.value.message == "guest 102 migrated away from node pve1"
