"""SSH shutdown, Wake-on-LAN and the probe against the homelab simulator."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from custom_components.wakehub.channels import (
    AuthenticationError,
    ChannelTimeoutError,
    CommandFailedError,
    HostKeyMismatchError,
    Machine,
    NotControllableError,
    ProbeResult,
    ShutdownCommand,
    SshChannel,
    SshConfig,
    UnreachableError,
    WakeOnLan,
    fetch_host_key,
    power_off,
    power_on,
)

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant

    from tests.homelab import HomelabThread


def nas_ssh(lab: HomelabThread, **extra: Any) -> SshConfig:
    """Password SSH to the NAS, its host key pinned from the ready document."""
    ssh = lab.ready["nodes"]["NAS"]["ssh"]
    values: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": ssh["port"],
        "username": ssh["username"],
        "password": ssh["password"],
        "host_key": ssh["host_key"],
        "timeout": 5.0,
    }
    values.update(extra)
    return SshConfig(**values)


def nas_machine(lab: HomelabThread, **ssh_extra: Any) -> Machine:
    """The NAS as a Machine: WoL to the simulator's listener, SSH shutdown."""
    ready = lab.ready
    return Machine(
        host="127.0.0.1",
        probe_port=ready["nodes"]["NAS"]["ssh"]["port"],
        wol=WakeOnLan(
            mac=ready["nodes"]["NAS"]["mac"],
            broadcast="127.0.0.1",
            port=ready["wol"]["port"],
            interval=0.05,
        ),
        ssh=SshChannel(nas_ssh(lab, **ssh_extra)),
    )


def _commands(lab: HomelabThread, node: str = "NAS") -> list[str]:
    return [c["command"] for c in lab.commands() if c["node"] == node]


async def test_wake_probe_shutdown(homelab: HomelabThread) -> None:
    """WoL boots the NAS, the probe sees it, SSH shuts it down."""
    machine = nas_machine(homelab, shutdown_command=ShutdownCommand.POWEROFF)
    assert not await machine.probe()
    await power_on(machine)
    homelab.wait_state("NAS", "on")
    assert await machine.probe()
    await power_off(machine)
    assert _commands(homelab) == ["poweroff"]
    homelab.wait_state("NAS", "off")
    assert not await machine.probe()
    assert [e["action"] for e in homelab.log()][-1] == "ssh_shutdown"


async def test_sshd_refusing_on_a_machine_that_is_on(homelab: HomelabThread) -> None:
    """The NAS's only probe is its SSH port. Its sshd crashed (``ssh_refuse``)
    while it stays on: the port refuses, which is an answer, so the NAS is on
    (not up: the probe port does not accept) and its stop fails as not
    controllable, sending nothing. Off, the port answers nothing at all."""
    machine = nas_machine(homelab)
    assert await machine.signals() == {machine.probe_port: ProbeResult.SILENT}
    assert not await machine.is_on()
    homelab.set_power("NAS", "on")
    homelab.fault("NAS", "ssh_refuse")
    assert await machine.signals() == {machine.probe_port: ProbeResult.REFUSED}
    assert await machine.is_on()
    assert not await machine.probe()
    with pytest.raises(NotControllableError, match="refuses SSH connections") as err:
        await power_off(machine)
    assert err.value.code == "not_controllable"
    assert _commands(homelab) == []
    assert homelab.state("NAS") == "on"
    homelab.fault("NAS", "ssh_refuse", None)
    assert await machine.probe()
    await power_off(machine)
    homelab.wait_state("NAS", "off")
    assert not await machine.is_on()


async def test_ignored_wol_keeps_machine_off(homelab: HomelabThread) -> None:
    """A dead NIC: the packets arrive, nothing boots."""
    homelab.fault("NAS", "ignore_wol")
    await nas_machine(homelab).wake()
    log = [e for e in homelab.log() if e["action"] == "wol"]
    assert log
    assert all("ignored" in e.get("result", "") for e in log)
    assert homelab.state("NAS") == "off"


async def test_key_auth_and_sudo(homelab: HomelabThread) -> None:
    """Key auth; with sudo the command is prefixed ``sudo -n``."""
    homelab.set_power("NAS", "on")
    ssh = homelab.ready["nodes"]["NAS"]["ssh"]
    await SshChannel(
        nas_ssh(
            homelab,
            password=None,
            private_key=ssh["private_key"],
            use_sudo=True,
            shutdown_command=ShutdownCommand.SHUTDOWN_NOW,
        )
    ).shutdown()
    assert _commands(homelab) == ["sudo -n shutdown -h now"]
    homelab.wait_state("NAS", "off")


async def test_sudo_password_required(homelab: HomelabThread) -> None:
    """sudo asking for a password is a clear CommandFailedError."""
    homelab.set_power("NAS", "on")
    homelab.fault("NAS", "sudo_password_required")
    user = homelab.ready["nodes"]["NAS"]["ssh"]["unprivileged_username"]
    with pytest.raises(CommandFailedError, match="sudo: a password is required"):
        await SshChannel(nas_ssh(homelab, use_sudo=True, username=user)).shutdown()
    assert homelab.state("NAS") == "on"
    # Recovery: once sudo is configured, the same channel works.
    homelab.fault("NAS", "sudo_password_required", None)
    await SshChannel(nas_ssh(homelab, use_sudo=True, username=user)).shutdown()
    homelab.wait_state("NAS", "off")


async def test_host_key_change_sends_nothing(
    restore_host_keys: HomelabThread,
) -> None:
    """A new host key is refused before any command; re-pinning fixes it."""
    homelab = restore_host_keys
    homelab.set_power("NAS", "on")
    config = nas_ssh(homelab)
    homelab.fault("NAS", "hostkey_change")
    with pytest.raises(HostKeyMismatchError):
        await SshChannel(config).shutdown()
    assert _commands(homelab) == []
    assert homelab.state("NAS") == "on"
    new_key = await fetch_host_key("127.0.0.1", config.port)
    assert new_key.public_key != config.host_key
    await SshChannel(nas_ssh(homelab, host_key=new_key.public_key)).shutdown()
    homelab.wait_state("NAS", "off")


async def test_auth_refused_and_unreachable(homelab: HomelabThread) -> None:
    """Wrong password: AuthenticationError. Machine off: no answer, a
    timeout. Port refusing: UnreachableError. All recover."""
    with pytest.raises(ChannelTimeoutError):
        await SshChannel(nas_ssh(homelab, timeout=0.3)).check()  # NAS is off
    homelab.set_power("NAS", "on")
    with pytest.raises(AuthenticationError):
        await SshChannel(nas_ssh(homelab, password="wrong")).check()
    homelab.fault("NAS", "ssh_refuse")
    with pytest.raises(UnreachableError):
        await SshChannel(nas_ssh(homelab)).check()
    homelab.fault("NAS", "ssh_refuse", None)
    await SshChannel(nas_ssh(homelab)).check()
    # check() runs only the harmless command that proves root may shut down.
    assert _commands(homelab) == ["id -u"]


async def test_check_with_a_forced_command_runs_nothing(
    homelab: HomelabThread,
) -> None:
    """A key restricted by command= runs the shutdown whatever is asked: the
    check then only logs in, even for a user the check would refuse."""
    homelab.set_power("NAS", "on")
    user = homelab.ready["nodes"]["NAS"]["ssh"]["unprivileged_username"]
    await SshChannel(nas_ssh(homelab, username=user, forced_command=True)).check()
    assert _commands(homelab) == []
    assert homelab.state("NAS") == "on"


async def test_in_hass(hass: HomeAssistant, homelab: HomelabThread) -> None:
    """WoL, probe, host-key fetch and SSH shutdown inside Home Assistant."""
    machine = nas_machine(homelab)
    await machine.wake()
    await homelab.async_wait_state("NAS", "on")
    assert await machine.probe()
    key = await fetch_host_key("127.0.0.1", machine.probe_port)
    assert (
        key.fingerprint == homelab.ready["nodes"]["NAS"]["ssh"]["host_key_fingerprint"]
    )
    await machine.shutdown()
    await homelab.async_wait_state("NAS", "off")
