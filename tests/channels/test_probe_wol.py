"""The TCP probe and Wake-on-LAN, against real loopback sockets."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import socket
import time
from typing import TYPE_CHECKING

import pytest

from custom_components.wakehub.channels import (
    InvalidConfigError,
    Machine,
    SshChannel,
    SshConfig,
    power_off,
    power_on,
)
from custom_components.wakehub.channels.errors import UnreachableError
from custom_components.wakehub.channels.probe import ProbeResult, probe, probe_port
from custom_components.wakehub.channels.wol import WakeOnLan
from custom_components.wakehub.core.errors import InvalidMacError
from tests.real_servers import free_port

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator

    from freezegun.api import FrozenDateTimeFactory
    from homeassistant.core import HomeAssistant

    from tests.real_servers import RealSshd

MAGIC_HEADER = b"\xff" * 6


class _Collector(asyncio.DatagramProtocol):
    """Collects the UDP datagrams it receives, with their arrival time."""

    def __init__(self) -> None:
        self.packets: list[tuple[float, bytes]] = []
        self.senders: list[object] = []

    def datagram_received(self, data: bytes, addr: object) -> None:
        self.packets.append((asyncio.get_running_loop().time(), data))
        self.senders.append(addr)


@contextlib.contextmanager
def _silent_port() -> Iterator[int]:
    """A loopback port that answers nothing, like a powered-off host: a full
    accept queue makes Linux drop every SYN (see tests/homelab/service.py)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port)):
            yield port


@pytest.fixture
async def udp_sink() -> AsyncIterator[tuple[int, _Collector]]:
    """A UDP listener on 127.0.0.1:<free port>."""
    loop = asyncio.get_running_loop()
    transport, collector = await loop.create_datagram_endpoint(
        _Collector, local_addr=("127.0.0.1", 0)
    )
    port = transport.get_extra_info("sockname")[1]
    yield port, collector
    transport.close()


async def _wait_packets(collector: _Collector, count: int) -> None:
    async with asyncio.timeout(5):
        while len(collector.packets) < count:
            await asyncio.sleep(0.01)


@pytest.mark.parametrize(
    "mac", ["aa-bb-cc-dd-ee-ff", "AABB.CCDD.EEFF", "aabbccddeeff", "AA:BB:CC:DD:EE:FF"]
)
async def test_magic_packets_are_sent_spaced(
    mac: str, udp_sink: tuple[int, _Collector]
) -> None:
    """Three magic packets for the normalised MAC reach the configured port."""
    port, collector = udp_sink
    wol = WakeOnLan(mac=mac, broadcast="127.0.0.1", port=port, interval=0.2)
    assert wol.mac == "aa:bb:cc:dd:ee:ff"
    await wol.send()
    await _wait_packets(collector, 3)
    expected = MAGIC_HEADER + bytes.fromhex("aabbccddeeff") * 16
    assert [data for _, data in collector.packets] == [expected] * 3
    times = [when for when, _ in collector.packets]
    assert all(b - a >= 0.15 for a, b in itertools.pairwise(times))


@pytest.mark.parametrize(
    "mac", ["", "aa:bb:cc:dd:ee", "gg:bb:cc:dd:ee:ff", "aa:bb-cc:dd:ee:ff", "1234"]
)
def test_invalid_mac_is_rejected(mac: str) -> None:
    """Anything but a MAC raises InvalidMacError (a ValueError)."""
    with pytest.raises(InvalidMacError):
        WakeOnLan(mac=mac)


def test_wol_defaults_and_validation() -> None:
    """Broadcast 255.255.255.255:9 by default; nonsense settings refused."""
    wol = WakeOnLan(mac="aabbccddeeff")
    assert (wol.broadcast, wol.port, wol.interface) == ("255.255.255.255", 9, None)
    with pytest.raises(ValueError, match="port"):
        WakeOnLan(mac="aabbccddeeff", port=0)
    with pytest.raises(ValueError, match="packet"):
        WakeOnLan(mac="aabbccddeeff", packets=0)


async def test_wol_from_a_chosen_source_address(
    udp_sink: tuple[int, _Collector],
) -> None:
    """With several networks, the packets leave from the address chosen."""
    port, collector = udp_sink
    wol = WakeOnLan(
        mac="aabbccddeeff",
        broadcast="127.0.0.1",
        port=port,
        interface="127.0.0.1",
        packets=1,
    )
    await wol.send()
    await _wait_packets(collector, 1)
    assert collector.senders[0][0] == "127.0.0.1"  # type: ignore[index]


async def test_wol_send_failure_is_unreachable() -> None:
    """A source address this host does not have cannot bind: UnreachableError.

    192.0.2.1 (TEST-NET-1) is never local, so bind() fails before any send.
    """
    wol = WakeOnLan(
        mac="aabbccddeeff", broadcast="127.0.0.1", port=9, interface="192.0.2.1"
    )
    with pytest.raises(UnreachableError):
        await wol.send()


async def test_probe_open_closed_and_silent() -> None:
    """Open port: True; refused: False; no answer within the timeout: False."""
    # A bare listening socket: the kernel completes the handshake.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        port = listener.getsockname()[1]
        assert await probe("127.0.0.1", port)
    assert not await probe("127.0.0.1", free_port())
    with _silent_port() as port:
        assert not await probe("127.0.0.1", port, timeout=0.2)


async def test_probe_deadline_is_real_time_under_frozen_time(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """A silent port's probe ends at its socket timeout, in real time.

    Home Assistant's tests freeze the event loop's clock; a deadline kept by
    the loop would never expire there, and a probe of a machine that is off
    would hang. The probe's timeout is the socket's (in the executor).
    """
    freezer.move_to("2026-01-01 00:00:00")
    loop = asyncio.get_running_loop()
    # freezegun patches time.monotonic and perf_counter, not the raw clock.
    started, loop_started = time.clock_gettime(time.CLOCK_MONOTONIC), loop.time()
    with _silent_port() as port:
        assert await probe_port("127.0.0.1", port, timeout=0.2) is ProbeResult.SILENT
    assert loop.time() == loop_started  # the loop's clock stood still
    assert 0.15 < time.clock_gettime(time.CLOCK_MONOTONIC) - started < 5


async def test_probe_tells_refused_from_silent() -> None:
    """A refusal is an answer (the machine is on); only silence means off."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        assert await probe_port("127.0.0.1", listener.getsockname()[1]) is (
            ProbeResult.OPEN
        )
    assert await probe_port("127.0.0.1", free_port()) is ProbeResult.REFUSED
    with _silent_port() as port:
        assert await probe_port("127.0.0.1", port, timeout=0.3) is ProbeResult.SILENT
        assert not await probe("127.0.0.1", port, timeout=0.3)


async def test_machine_is_off_only_when_no_signal_answers() -> None:
    """Probe ports and API ports: one port that answers (accepts or refuses)
    means on; the machine is up (ready after a wake) only when a probe port
    accepts."""
    with (
        _silent_port() as silent,
        socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener,
    ):
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        open_port = listener.getsockname()[1]
        # Off: nothing answers on any port.
        off = Machine(
            host="127.0.0.1",
            probe_port=silent,
            api_ports=(silent,),
            probe_timeout=0.3,
        )
        assert not await off.is_on()
        assert not await off.probe()
        # sshd crashed, the machine answers with a refusal: on, not up.
        refusing = Machine(host="127.0.0.1", probe_port=free_port(), probe_timeout=0.3)
        assert await refusing.is_on()
        assert not await refusing.probe()
        # sshd down, but its Proxmox API answers: on, not up.
        api_only = Machine(
            host="127.0.0.1",
            probe_port=free_port(),
            api_ports=(open_port,),
            probe_timeout=0.3,
        )
        assert await api_only.is_on()
        assert not await api_only.probe()
        # A second probe port that accepts: up.
        second = Machine(
            host="127.0.0.1",
            probe_port=silent,
            extra_probe_ports=(open_port, silent),
            probe_timeout=0.3,
        )
        assert second.probe_ports == (silent, open_port)
        assert await second.probe()
        assert await second.is_on()
        assert (await second.signals()) == {
            silent: ProbeResult.SILENT,
            open_port: ProbeResult.OPEN,
        }


async def test_quick_look_waits_at_most_the_quick_deadline() -> None:
    """A quick look at a silent machine ends at the quick look's deadline,
    not at its probe timeout; the full look waits the probe timeout."""
    with _silent_port() as silent:
        machine = Machine(host="127.0.0.1", probe_port=silent, probe_timeout=1.5)
        for look in (machine.is_on, machine.probe):
            started = time.monotonic()
            assert not await look(quick=True)
            assert time.monotonic() - started < 1.0
        started = time.monotonic()
        assert await machine.signals() == {silent: ProbeResult.SILENT}
        assert time.monotonic() - started >= 1.4


async def test_machine_facade_in_hass(
    hass: HomeAssistant, udp_sink: tuple[int, _Collector], real_sshd: RealSshd
) -> None:
    """Wake, probe and SSH shutdown of a Machine, inside Home Assistant."""
    port, collector = udp_sink
    real_sshd.clear_commands()
    machine = Machine(
        host="127.0.0.1",
        probe_port=real_sshd.port,
        wol=WakeOnLan(mac="aabbccddeeff", broadcast="127.0.0.1", port=port, packets=2),
        ssh=SshChannel(
            SshConfig(
                host=real_sshd.host,
                port=real_sshd.port,
                username=real_sshd.username,
                password=real_sshd.password,
                host_key=real_sshd.host_public_key,
            )
        ),
    )
    await power_on(machine)
    await _wait_packets(collector, 2)
    assert await machine.probe()
    await power_off(machine)
    assert real_sshd.commands() == ["systemctl poweroff"]


async def test_machine_without_channels() -> None:
    """A machine lacking WoL or a shutdown channel says so."""
    machine = Machine(host="127.0.0.1", probe_port=free_port())
    assert not await machine.probe()
    with pytest.raises(InvalidConfigError):
        await machine.wake()
    with pytest.raises(InvalidConfigError):
        await machine.shutdown()
