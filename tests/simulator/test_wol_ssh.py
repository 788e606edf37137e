"""WoL magic packets and the SSH servers, driven by wakeonlan and asyncssh."""

from __future__ import annotations

import asyncio
import socket
import time
from typing import TYPE_CHECKING, Any

import aiodocker
import asyncssh
import pytest
from wakeonlan import send_magic_packet

from tests.homelab.wol import parse_magic_packet

from .helpers import pve_client, tcp_answer

if TYPE_CHECKING:
    from tests.homelab import HomelabThread


def _wol(homelab: HomelabThread, mac: str, payload: bytes | None = None) -> None:
    wol = homelab.ready["wol"]
    if payload is None:
        send_magic_packet(mac, ip_address=wol["host"], port=wol["port"])
        return
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.sendto(payload, (wol["host"], wol["port"]))


async def _ssh(
    homelab: HomelabThread,
    node: str,
    *,
    key: bool = True,
    username: str | None = None,
    **kwargs: Any,
) -> asyncssh.SSHClientConnection:
    info = homelab.ready["nodes"][node]["ssh"]
    known = asyncssh.import_known_hosts(
        f"[127.0.0.1]:{info['port']} {info['host_key']}\n"
    )
    auth: dict[str, Any] = (
        {"client_keys": [asyncssh.import_private_key(info["private_key"])]}
        if key
        else {"password": info["password"], "client_keys": None}
    )
    return await asyncssh.connect(
        "127.0.0.1",
        info["port"],
        username=username or info["username"],
        known_hosts=known,
        agent_path=None,
        **auth,
        **kwargs,
    )


def test_magic_packet_boots_machine2_and_proxmox_comes_up(
    homelab: HomelabThread,
) -> None:
    """A real magic packet boots Machine2; its Proxmox API then answers."""
    node = homelab.ready["nodes"]["Machine2"]
    _wol(homelab, node["mac"])
    homelab.wait_state("Machine2", "booting", timeout=5)
    homelab.wait_state("Machine2", "on", timeout=10)
    pve = pve_client(homelab, "Machine2")
    assert pve.nodes.get()[0]["node"] == "pve2"
    assert [(e["node"], e["action"], e["channel"]) for e in homelab.log()] == [
        ("Machine2", "wol", "wol")
    ]
    assert homelab.state("NAS") == "off"


def test_magic_packet_variants(homelab: HomelabThread) -> None:
    """SecureOn suffixes are accepted; malformed packets are ignored."""
    mac = bytes.fromhex(homelab.ready["nodes"]["NAS"]["mac"].replace(":", ""))
    good = b"\xff" * 6 + mac * 16
    assert (
        parse_magic_packet(good + b"\x01\x02\x03\x04").password == b"\x01\x02\x03\x04"
    )
    for bad in (
        good[:-1],
        b"\x00" + good[1:],
        b"\xff" * 6 + mac * 15 + b"\x00" * 6,
        good + b"\x01",
    ):
        with pytest.raises(ValueError):
            parse_magic_packet(bad)
        _wol(homelab, "", bad)
    time.sleep(0.2)
    assert homelab.state("NAS") == "off"
    _wol(homelab, "", good + b"\xaa" * 6)
    homelab.wait_state("NAS", "on", timeout=10)


def test_wol_faults(homelab: HomelabThread) -> None:
    """ignore_wol: the packet is logged but nothing boots; boot_fails: back to off."""
    mac = homelab.ready["nodes"]["NAS"]["mac"]
    homelab.fault("NAS", "ignore_wol")
    _wol(homelab, mac)
    time.sleep(0.3)
    assert homelab.state("NAS") == "off"
    assert homelab.log()[-1]["result"] == "ignored: ignore_wol fault"
    homelab.fault("NAS", "ignore_wol", False)
    homelab.fault("NAS", "boot_fails")
    _wol(homelab, mac)
    homelab.wait_state("NAS", "booting", timeout=5)
    homelab.wait_state("NAS", "off", timeout=10)
    homelab.fault("NAS", "secureon", "01:02:03:04:05:06")
    homelab.fault("NAS", "boot_fails", None)
    _wol(homelab, mac)
    time.sleep(0.2)
    assert homelab.state("NAS") == "off"
    _wol(
        homelab,
        "",
        b"\xff" * 6 + bytes.fromhex(mac.replace(":", "")) * 16 + bytes(range(1, 7)),
    )
    homelab.wait_state("NAS", "on", timeout=10)


@pytest.mark.parametrize(
    "command", ["systemctl poweroff", "sudo -n shutdown -h now", "sudo -n poweroff"]
)
async def test_ssh_shutdown(homelab: HomelabThread, command: str) -> None:
    """A shutdown command exits 0, the connection drops, the machine goes off."""
    homelab.set_power("NAS", "on")
    async with await _ssh(homelab, "NAS") as conn:
        result = await conn.run(command)
        assert result.exit_status == 0
        await asyncio.wait_for(conn.wait_closed(), 5)
    await homelab.async_wait_state("NAS", "off", timeout=10)
    assert [(e["node"], e["action"], e["channel"]) for e in homelab.log()] == [
        ("NAS", "ssh_shutdown", "ssh")
    ]
    # Off: the SSH port answers nothing (a client would wait out its timeout).
    assert tcp_answer(homelab.ready["nodes"]["NAS"]["ssh"]["port"]) == "silent"


async def test_ssh_password_unknown_command_and_sudo_fault(
    homelab: HomelabThread,
) -> None:
    """Password auth; unknown commands exit 127; sudo_password_required fails sudo -n."""
    homelab.set_power("Machine1", "on")
    homelab.fault("Machine1", "sudo_password_required")
    unprivileged = homelab.ready["nodes"]["Machine1"]["ssh"]["unprivileged_username"]
    async with await _ssh(
        homelab, "Machine1", key=False, username=unprivileged
    ) as conn:
        result = await conn.run("uptime")
        assert result.exit_status == 127
        result = await conn.run("sudo -n systemctl poweroff")
        assert result.exit_status == 1
        assert result.stderr == "sudo: a password is required\n"
    assert homelab.state("Machine1") == "on"
    assert [c["command"] for c in homelab.commands()] == [
        "uptime",
        "sudo -n systemctl poweroff",
    ]
    info = homelab.ready["nodes"]["Machine1"]["ssh"]
    with pytest.raises(asyncssh.PermissionDenied):
        await asyncssh.connect(
            "127.0.0.1",
            info["port"],
            username="wakehub",
            password="wrong",
            known_hosts=None,
            client_keys=None,
            agent_path=None,
        )


async def test_only_root_or_sudo_may_shut_down(homelab: HomelabThread) -> None:
    """As on a real host: a non-root user's shutdown without sudo is refused by
    logind; ``id`` and ``sudo -n -l`` tell who may do what; root may."""
    homelab.set_power("NAS", "on")
    unprivileged = homelab.ready["nodes"]["NAS"]["ssh"]["unprivileged_username"]
    async with await _ssh(homelab, "NAS", username=unprivileged) as conn:
        result = await conn.run("id")
        assert (
            result.stdout
            == "uid=1000(wakehub) gid=1000(wakehub) groups=1000(wakehub)\n"
        )
        assert (await conn.run("id -u")).stdout == "1000\n"
        result = await conn.run("systemctl poweroff")
        assert result.exit_status == 1
        assert "Interactive authentication required" in str(result.stderr)
        result = await conn.run("sudo -n -l systemctl poweroff")
        assert (result.exit_status, result.stdout) == (
            0,
            "/usr/bin/systemctl poweroff\n",
        )
        assert (await conn.run("sudo -n -l rm -rf /")).exit_status == 1
    assert homelab.state("NAS") == "on"
    assert homelab.log() == []
    async with await _ssh(homelab, "NAS") as conn:
        assert (await conn.run("id -u")).stdout == "0\n"
        assert (await conn.run("sudo -n -l poweroff")).stdout == "/usr/sbin/poweroff\n"
        assert (await conn.run("systemctl poweroff")).exit_status == 0
    homelab.wait_state("NAS", "off")


async def test_docker_socket_is_root_only(homelab: HomelabThread) -> None:
    """The unprivileged user is not in the docker group: "open failed"."""
    homelab.set_power("RaspberryPi", "on")
    info = homelab.ready["nodes"]["RaspberryPi"]["ssh"]
    async with await _ssh(
        homelab, "RaspberryPi", username=info["unprivileged_username"]
    ) as conn:
        with pytest.raises(asyncssh.ChannelOpenError, match=r"^open failed$"):
            await conn.open_unix_connection("/var/run/docker.sock")
    async with await _ssh(homelab, "RaspberryPi") as conn:
        _reader, writer = await conn.open_unix_connection("/var/run/docker.sock")
        writer.close()


async def test_ssh_faults(homelab: HomelabThread) -> None:
    """ssh_refuse closes the port; hostkey_change makes the pinned key fail."""
    homelab.set_power("RaspberryPi", "on")
    homelab.fault("RaspberryPi", "ssh_refuse")
    with pytest.raises(OSError):
        await _ssh(homelab, "RaspberryPi")
    homelab.fault("RaspberryPi", "ssh_refuse", False)
    conn = await _ssh(homelab, "RaspberryPi")
    conn.close()
    await conn.wait_closed()
    homelab.fault("RaspberryPi", "hostkey_change")
    with pytest.raises(asyncssh.HostKeyNotVerifiable):
        await _ssh(homelab, "RaspberryPi")
    new_key = homelab.call(lambda lab: lab.ready_document())["nodes"]["RaspberryPi"][
        "ssh"
    ]["host_key"]
    assert new_key != homelab.ready["nodes"]["RaspberryPi"]["ssh"]["host_key"]


async def test_docker_socket_tunnel(homelab: HomelabThread) -> None:
    """A direct-streamlocal channel to /var/run/docker.sock reaches the Docker API."""
    homelab.set_power("VM-Docker", "running")
    async with await _ssh(homelab, "VM-Docker") as conn:
        local = await conn.forward_local_port_to_path(
            "127.0.0.1", 0, "/var/run/docker.sock"
        )
        try:
            docker = aiodocker.Docker(url=f"tcp://127.0.0.1:{local.get_port()}")
            try:
                names = sorted(
                    c._container["Names"][0]
                    for c in await docker.containers.list(all=True)
                )
                assert names == ["/plex", "/sandbox"]
            finally:
                await docker.close()
        finally:
            local.close()
    counts = homelab.requests()["hosts"]["VM-Docker"]["endpoints"]
    assert counts["ssh direct-streamlocal"] >= 1
    assert counts["docker GET /containers/json"] == 1


async def test_crash_takes_everything_down(homelab: HomelabThread) -> None:
    """crash: the machine and its guests go down without a command, nothing logged."""
    homelab.set_power("plex", "running")
    conn = await _ssh(homelab, "Machine1")
    homelab.fault("Machine1", "crash")
    await asyncio.wait_for(conn.wait_closed(), 5)
    assert {
        n["name"]: n["state"]
        for n in homelab.nodes()
        if n["name"] in ("Machine1", "VM-Docker", "plex")
    } == {
        "Machine1": "off",
        "VM-Docker": "stopped",
        "plex": "stopped",
    }
    assert homelab.log() == []
