"""The step rules every driver shares (``orchestrator.power``).

The scenarios run these rules against the simulator through real channels
(``test_scenarios.py``) and the integration runs them in Home Assistant; here,
small in-memory implementations of the channel interfaces reach the branches
the simulator never takes: a node configured without the channel a step
needs, an unhealthy container, an error that must fail the step.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import asyncssh
import pytest

from custom_components.wakehub.channels.base import ChildInfo, ChildKind
from custom_components.wakehub.channels.errors import (
    AuthenticationError,
    ChannelError,
    ChannelTimeoutError,
    InvalidConfigError,
    LibraryError,
    UnreachableError,
)
from custom_components.wakehub.channels.proxmox import GuestStatus
from custom_components.wakehub.core import (
    Action,
    Capability,
    Channel,
    NodeKind,
    Reason,
    ReasonKind,
    Step,
)
from custom_components.wakehub.orchestrator.power import (
    GuestSettings,
    NodeChannels,
    Readiness,
    Sent,
    command_wait,
    free_look,
    is_up,
    reached,
    send_step,
    step_timeout,
)
from tests.real_servers import free_port

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

TARGET = Reason(ReasonKind.TARGET)


@dataclass
class Host:
    """A Proxmox node or a Docker engine that records what it is asked."""

    children: dict[str, ChildInfo] = field(default_factory=dict)
    calls: list[tuple[str, str | None]] = field(default_factory=list)
    error: ChannelError | None = None
    reads: int = 0
    tcp_address: tuple[str, int] | None = None

    async def check(self) -> None:
        self.calls.append(("check", None))
        if self.error is not None:
            raise self.error

    async def read_states(self) -> dict[str, ChildInfo]:
        self.reads += 1
        if self.error is not None:
            raise self.error
        return self.children

    async def start(self, key: str) -> None:
        self.calls.append(("start", key))

    async def stop(self, key: str) -> None:
        self.calls.append(("stop", key))

    async def close(self) -> None:
        """Nothing to release."""

    async def node_shutdown(self) -> None:
        self.calls.append(("node_shutdown", None))


@dataclass
class Box:
    """A machine that records what it is asked."""

    up: bool = False
    calls: list[str] = field(default_factory=list)
    error: Exception | None = None
    wake_error: Exception | None = None

    async def probe(self, *, quick: bool = False) -> bool:
        if self.error is not None:
            raise self.error
        return self.up

    async def is_on(self, *, quick: bool = False) -> bool:
        return await self.probe()

    async def wake(self) -> None:
        self.calls.append("wake")
        if self.wake_error is not None:
            raise self.wake_error

    async def shutdown(self) -> None:
        self.calls.append("shutdown")


@dataclass
class Guests(Host):
    """A Proxmox node as the host of guests (the ``GuestApi`` side)."""

    status: str = "stopped"
    uptime: int = 0
    agent: bool = False
    window: float = 60.0
    window_error: Exception | None = None

    async def current(self, key: str) -> GuestStatus:
        if self.error is not None:
            raise self.error
        return GuestStatus(key, "qemu", self.status, uptime=self.uptime)

    async def power_guest(
        self,
        key: str,
        start: bool,
        *,
        wait: float,
        timeout: int | None = None,
        force_stop: bool | None = None,
    ) -> bool:
        self.calls.append((f"power {start} {timeout} {force_stop}", key))
        return True

    async def agent_ping(self, key: str) -> bool:
        self.calls.append(("ping", key))
        return self.agent

    async def shutdown_window(
        self,
        key: str,
        *,
        timeout: int | None = None,
        force_stop: bool = False,
    ) -> float:
        if self.window_error is not None:
            raise self.window_error
        return float(timeout) if timeout is not None else self.window


@contextlib.asynccontextmanager
async def _listening() -> AsyncIterator[int]:
    """A loopback port that accepts connections while the block runs."""
    server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


def _child(key: str, *, running: bool = True, **details: Any) -> ChildInfo:
    return ChildInfo(
        key=key,
        kind=ChildKind.CONTAINER,
        name=key,
        running=running,
        status="running" if running else "exited",
        details=details,
    )


def _step(action: Action, channel: Channel) -> Step:
    return Step("node", action, channel, TARGET)


async def _send(step: Step, node: NodeChannels) -> bool:
    """Whether a command went out."""
    return await send_step(step, node, wait=1.0) is not Sent.NOTHING


async def test_a_machine_wakes_and_shuts_down_through_its_channels() -> None:
    """WoL to start; SSH, or its own Proxmox API when the plan says so, to stop."""
    box, pve = Box(), Host()
    node = NodeChannels(name="NAS", kind=NodeKind.MACHINE, machine=box, proxmox=pve)
    assert await _send(_step(Action.START, Channel.WOL), node)
    assert not await _send(_step(Action.STOP, Channel.SSH), node)  # it is off
    box.up = True
    assert not await _send(_step(Action.START, Channel.WOL), node)  # it is on
    assert await _send(_step(Action.STOP, Channel.SSH), node)
    assert await _send(_step(Action.STOP, Channel.PROXMOX), node)
    assert box.calls == ["wake", "shutdown"]
    assert pve.calls == [("node_shutdown", None)]


async def test_a_proxmox_stop_without_the_api_falls_back_to_the_machine() -> None:
    """A plan made before the API was removed still shuts the machine down."""
    box = Box(up=True)
    node = NodeChannels(name="NAS", kind=NodeKind.MACHINE, machine=box)
    await _send(_step(Action.STOP, Channel.PROXMOX), node)
    assert box.calls == ["shutdown"]


async def test_containers_go_through_their_host_by_name() -> None:
    """Start and stop by container name; nothing is sent when already there."""
    host = Host()
    node = NodeChannels(name="plex", kind=NodeKind.CONTAINER, host=host, key="plex")
    assert await _send(_step(Action.START, Channel.DOCKER), node)
    assert not await _send(_step(Action.STOP, Channel.DOCKER), node)
    host.children["plex"] = _child("plex")
    assert not await _send(_step(Action.START, Channel.DOCKER), node)
    # Docker answers a stop once the container is down: no readiness check.
    stop = await send_step(_step(Action.STOP, Channel.DOCKER), node, wait=1.0)
    assert stop is Sent.AT_GOAL
    assert host.calls == [("start", "plex"), ("stop", "plex")]


async def test_guests_go_through_their_host_with_their_stop_settings() -> None:
    """A guest's command carries its shutdown timeout and force setting."""
    host = Guests()
    settings = GuestSettings(shutdown_timeout=300, force_stop=True)
    node = NodeChannels(
        name="db", kind=NodeKind.VM, host=host, key="101", guest=settings
    )
    assert await _send(_step(Action.START, Channel.PROXMOX), node)
    assert await _send(_step(Action.STOP, Channel.PROXMOX), node)
    assert host.calls == [
        ("power True 300 True", "101"),
        ("power False 300 True", "101"),
    ]
    assert command_wait(100.0) < 100.0


async def test_a_guest_stop_lasts_at_least_proxmox_window() -> None:
    """Proxmox's window plus a margin, when longer than the step's own."""
    host = Guests(window=200.0)
    node = NodeChannels(name="db", kind=NodeKind.VM, host=host, key="101")
    assert await step_timeout(node, Action.STOP, 180.0) == 230.0
    assert await step_timeout(node, Action.STOP, 600.0) == 600.0
    assert await step_timeout(node, Action.START, 180.0) == 180.0
    short = NodeChannels(
        name="db",
        kind=NodeKind.VM,
        host=host,
        key="101",
        guest=GuestSettings(shutdown_timeout=10),
    )
    assert await step_timeout(short, Action.STOP, 180.0) == 180.0


@pytest.mark.parametrize(
    ("node", "message"),
    [
        (NodeChannels(name="NAS", kind=NodeKind.MACHINE), "NAS has no machine"),
        (
            NodeChannels(name="plex", kind=NodeKind.CONTAINER, key="plex"),
            "The host of plex has no Docker API",
        ),
        (
            NodeChannels(name="Jellyfin", kind=NodeKind.LXC, host=Host()),
            "The host of Jellyfin has no Proxmox API",
        ),
    ],
)
async def test_a_missing_channel_is_a_configuration_error(
    node: NodeChannels, message: str
) -> None:
    """Sending or checking through a channel the node lacks says which."""
    with pytest.raises(InvalidConfigError, match=message):
        await _send(_step(Action.START, Channel.WOL), node)
    with pytest.raises(InvalidConfigError, match=message):
        await is_up(node)


@pytest.mark.parametrize(
    ("child", "up"),
    [
        (None, False),
        (_child("app", running=False), False),
        (_child("app"), True),
        (_child("app", health="healthy"), True),
        (_child("app", health="starting"), False),
        (_child("app", health="unhealthy"), False),
    ],
)
async def test_a_container_is_up_when_running_and_healthy(
    child: ChildInfo | None, up: bool
) -> None:
    """No health check: running is enough; with one, it must say healthy."""
    host = Host(children={} if child is None else {"app": child})
    node = NodeChannels(name="app", kind=NodeKind.CONTAINER, host=host, key="app")
    assert await is_up(node) is up
    assert await reached(node, Action.START, frozenset()) is up
    # Stopped means not running, healthy or not.
    down = child is None or not child.running
    assert await reached(node, Action.STOP, frozenset()) is down


async def test_running_is_ready_only_after_the_settle_time() -> None:
    """Nothing else known: Proxmox's ``running`` for the settle time."""
    host = Guests(status="running", uptime=5)
    node = NodeChannels(
        name="VM",
        kind=NodeKind.VM,
        host=host,
        key="101",
        guest=GuestSettings(readiness=Readiness.RUNNING, settle=20),
    )
    assert not await is_up(node)
    host.uptime = 20
    assert await is_up(node)
    assert not await reached(node, Action.STOP, frozenset())
    host.status = "stopped"
    assert await reached(node, Action.STOP, frozenset())


async def test_the_agent_check_pings_the_agent() -> None:
    """The agent answers: ready; not yet: not ready."""
    host = Guests(status="running")
    node = NodeChannels(
        name="VM",
        kind=NodeKind.VM,
        host=host,
        key="101",
        guest=GuestSettings(readiness=Readiness.AGENT),
    )
    assert not await is_up(node)
    host.agent = True
    assert await is_up(node)
    assert host.calls == [("ping", "101"), ("ping", "101")]


def _nfs(*ports: int) -> NodeChannels:
    """A running LXC whose readiness check is its service's TCP ports."""
    return NodeChannels(
        name="nfs",
        kind=NodeKind.LXC,
        host=Guests(status="running"),
        key="202",
        guest=GuestSettings(readiness=Readiness.TCP, address="127.0.0.1", ports=ports),
    )


async def test_the_tcp_check_needs_every_port() -> None:
    """Every port must accept a connection; none configured is an error."""
    async with _listening() as port:
        assert await is_up(_nfs(port))
        assert not await is_up(_nfs(port, free_port()))
    unset = NodeChannels(
        name="nfs",
        kind=NodeKind.LXC,
        host=Guests(),
        key="202",
        guest=GuestSettings(readiness=Readiness.TCP),
    )
    with pytest.raises(InvalidConfigError, match="needs a service URL"):
        await is_up(unset)


@pytest.mark.parametrize(
    "error", [UnreachableError("down"), ChannelTimeoutError("slow")]
)
async def test_not_answering_means_not_up_yet(error: ChannelError) -> None:
    """Not ready for a start, done for a stop: the step keeps polling or ends."""
    node = NodeChannels(name="NAS", kind=NodeKind.MACHINE, machine=Box(error=error))
    assert await reached(node, Action.START, frozenset()) is False
    assert await reached(node, Action.STOP, frozenset()) is True


async def test_any_other_channel_error_fails_the_step() -> None:
    """Wrong credentials are not "not up yet": the error reaches the engine."""
    host = Guests(error=AuthenticationError("401"))
    node = NodeChannels(name="VM", kind=NodeKind.VM, host=host, key="101")
    with pytest.raises(AuthenticationError):
        await reached(node, Action.START, frozenset())


async def test_a_started_node_is_ready_once_the_apis_later_steps_need_answer() -> None:
    """Machine up, but its Proxmox API not yet: not ready; then ready."""
    pve = Host(error=UnreachableError("pveproxy starting"))
    docker = Host()
    node = NodeChannels(
        name="Machine1",
        kind=NodeKind.MACHINE,
        machine=Box(up=True),
        proxmox=pve,
        docker=docker,
    )
    both = frozenset({Capability.PROXMOX, Capability.DOCKER})
    assert await reached(node, Action.START, both) is False
    pve.error = None
    assert await reached(node, Action.START, both) is True
    # Proxmox: one read of the guests (it also learns their kinds for the
    # next step's command); Docker: its check.
    assert (pve.reads, pve.calls) == (2, [])
    assert docker.calls == [("check", None)]


@pytest.mark.parametrize(
    ("capability", "message"),
    [
        (Capability.PROXMOX, "Machine1 has no Proxmox API"),
        (Capability.DOCKER, "Machine1 has no Docker API"),
    ],
)
async def test_a_needed_api_the_node_lacks_is_a_configuration_error(
    capability: Capability, message: str
) -> None:
    """A plan that goes through an API the node was configured without."""
    node = NodeChannels(name="Machine1", kind=NodeKind.MACHINE, machine=Box(up=True))
    with pytest.raises(InvalidConfigError, match=message):
        await reached(node, Action.START, frozenset({capability}))


def _library_exception() -> Exception:
    """An exception raised inside a real third-party library (asyncssh)."""
    try:
        asyncssh.import_private_key("not a key")
    except Exception as err:
        return err
    raise AssertionError("asyncssh accepted a broken key")


async def test_a_library_error_carries_its_type_message_and_library() -> None:
    """Not a bare "unexpected": the type, the library's words and where."""
    box = Box(wake_error=_library_exception())
    node = NodeChannels(name="NAS", kind=NodeKind.MACHINE, machine=box)
    with pytest.raises(LibraryError) as caught:
        await _send(_step(Action.START, Channel.WOL), node)
    err = caught.value
    assert err.code == "library_error"
    assert err.library == "asyncssh"
    assert err.error_type == "asyncssh.public_key.KeyImportError"
    assert err.message == (
        "NAS: asyncssh.public_key.KeyImportError: Invalid private key"
        " (raised in asyncssh)"
    )


async def test_a_builtin_error_in_a_channel_keeps_its_words() -> None:
    """A call the installed library lacks, while probing for readiness."""
    box = Box(error=AttributeError("module 'wakeonlan' has no attribute 'wake'"))
    node = NodeChannels(name="NAS", kind=NodeKind.MACHINE, machine=box)
    with pytest.raises(LibraryError) as caught:
        await reached(node, Action.START, frozenset())
    assert caught.value.error_type == "AttributeError"
    # The innermost frame outside the standard library and WakeHub: here the
    # stand-in machine of this test module.
    assert caught.value.library == "tests"
    assert caught.value.message == (
        "NAS: AttributeError: module 'wakeonlan' has no attribute 'wake'"
        " (raised in tests)"
    )
    box.error = KeyError()
    with pytest.raises(LibraryError, match=r"^NAS: KeyError \(raised in tests\)$"):
        await reached(node, Action.STOP, frozenset())


async def test_timeouts_are_not_library_errors() -> None:
    """A TimeoutError stays one: the engine reports it as the step's timeout."""
    box = Box(wake_error=TimeoutError())
    node = NodeChannels(name="NAS", kind=NodeKind.MACHINE, machine=box)
    with pytest.raises(TimeoutError):
        await _send(_step(Action.START, Channel.WOL), node)
    box.error = TimeoutError()
    with pytest.raises(TimeoutError):
        await reached(node, Action.START, frozenset())


def test_guest_settings_from_the_options() -> None:
    """The HA driver's reading of a guest's options (defaults included)."""
    from custom_components.wakehub.ha_driver import guest_settings, url_port

    assert url_port(None) == (None, None)
    assert url_port("http://[::1") == (None, None)  # not a URL
    assert url_port("https://nas.lan/share") == ("nas.lan", 443)
    assert url_port("http://10.0.0.5:8096") == ("10.0.0.5", 8096)
    # Configured before the readiness check existed: the URL's port, else
    # running for the settle time; Proxmox's own shutdown, never forced.
    assert guest_settings({"url": "http://jf.lan:8096"}) == GuestSettings(
        readiness=Readiness.TCP, address="jf.lan", ports=(8096,)
    )
    assert guest_settings({}) == GuestSettings()
    assert guest_settings(
        {
            "url": "http://db.lan",
            "readiness": "tcp",
            "readiness_ports": [5432, 5433],
            "settle_time": 5,
            "shutdown_timeout": 600,
            "force_stop": True,
        }
    ) == GuestSettings(
        readiness=Readiness.TCP,
        address="db.lan",
        ports=(5432, 5433),
        settle=5.0,
        shutdown_timeout=600,
        force_stop=True,
    )


async def test_a_guest_on_a_host_without_guest_power_is_a_configuration_error() -> None:
    """A VM whose host is a Docker engine (a broken config) says so."""
    node = NodeChannels(name="VM", kind=NodeKind.VM, host=Host(), key="101")
    with pytest.raises(InvalidConfigError, match="has no Proxmox API"):
        await step_timeout(node, Action.STOP, 60.0)


def test_the_form_offers_every_readiness_check() -> None:
    """The options flow's list (const) and the orchestrator's enum agree."""
    from custom_components.wakehub.const import READINESS_CHECKS

    assert tuple(r.value for r in Readiness) == READINESS_CHECKS


async def test_a_library_error_reading_the_shutdown_window() -> None:
    """A library's own exception while reading the window is a LibraryError."""
    host = Guests(window_error=KeyError("startup"))
    node = NodeChannels(name="db", kind=NodeKind.VM, host=host, key="101")
    with pytest.raises(LibraryError):
        await step_timeout(node, Action.STOP, 60.0)


async def test_the_free_look_connects_and_sends_no_request() -> None:
    """A booting node's look: TCP connects only (the machine's probe first,
    then the ports of the APIs later steps need; a guest's service ports);
    ``None`` for a node known only through its host's API."""
    async with _listening() as port:
        api = Host(tcp_address=("127.0.0.1", port))
        machine = Box(up=True)
        node = NodeChannels(
            name="pve", kind=NodeKind.MACHINE, machine=machine, proxmox=api
        )
        look = free_look(node, frozenset({Capability.PROXMOX}))
        assert look is not None
        assert await look()
        # The API's port is closed: not up yet, whatever the probe says.
        closed = Host(tcp_address=("127.0.0.1", free_port()))
        node = NodeChannels(
            name="pve", kind=NodeKind.MACHINE, machine=machine, proxmox=closed
        )
        look = free_look(node, frozenset({Capability.PROXMOX}))
        assert look is not None
        assert not await look()
        # Its API is not needed next: only the probe counts.
        look = free_look(node, frozenset())
        assert look is not None
        assert await look()
        machine.up = False
        assert not await look()
        # A guest: its service ports, and its own Docker API when needed.
        guest = NodeChannels(
            name="vm",
            kind=NodeKind.VM,
            host=Guests(status="running"),
            key="101",
            docker=Host(tcp_address=("127.0.0.1", port)),
            guest=GuestSettings(readiness=Readiness.AGENT),
        )
        assert free_look(guest, frozenset()) is None
        look = free_look(guest, frozenset({Capability.DOCKER}))
        assert look is not None
        assert await look()
        look = free_look(_nfs(port), frozenset())
        assert look is not None
        assert await look()
    # A Docker API over a unix socket has no port to look at.
    unix = NodeChannels(
        name="vm",
        kind=NodeKind.VM,
        host=Guests(),
        key="101",
        docker=Host(),
        guest=GuestSettings(readiness=Readiness.AGENT),
    )
    assert free_look(unix, frozenset({Capability.DOCKER})) is None
    container = NodeChannels(name="c", kind=NodeKind.CONTAINER, host=Host(), key="c")
    assert free_look(container, frozenset()) is None
