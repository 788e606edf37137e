"""The Proxmox VE channel against the homelab simulator's Proxmox API."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import pytest

from custom_components.wakehub.channels import (
    ApiError,
    AuthenticationError,
    ChannelTimeoutError,
    ChildKind,
    InvalidConfigError,
    Machine,
    NotFoundError,
    PermissionDeniedError,
    ProxmoxConfig,
    ProxmoxHost,
    TaskFailedError,
    TlsVerificationError,
    UnreachableError,
    build_host_api,
    check_connection,
    fetch_certificate_fingerprint,
    normalize_fingerprint,
    power_off,
    power_on,
)
from custom_components.wakehub.channels.budget import MAX_REQUESTS_PER_SECOND
from tests.real_servers import free_port

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from homeassistant.core import HomeAssistant

    from tests.homelab import HomelabThread


def _pve(lab: HomelabThread, machine: str) -> dict[str, Any]:
    return dict(lab.ready["nodes"][machine]["proxmox"])


def token_config(
    lab: HomelabThread, machine: str = "Machine1", token: str = "wakehub", **extra: Any
) -> ProxmoxConfig:
    """A token-auth config pinned to the simulator's certificate."""
    pve = _pve(lab, machine)
    values: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": pve["port"],
        "node": pve["node"],
        "user": pve["token_user"],
        "token_name": token,
        "token_value": pve["token_value"]
        if token == "wakehub"
        else pve["tokens"][token]["value"],
        "verify_tls": False,
        "fingerprint": pve["fingerprint"],
        "timeout": 5.0,
    }
    values.update(extra)
    return ProxmoxConfig(**values)


def ticket_config(lab: HomelabThread, machine: str = "Machine2") -> ProxmoxConfig:
    """A password (ticket) config, user ``root`` in realm ``pam``."""
    pve = _pve(lab, machine)
    user, realm = pve["user"].split("@")
    return ProxmoxConfig(
        host="127.0.0.1",
        port=pve["port"],
        node=pve["node"],
        user=user,
        realm=realm,
        password=pve["password"],
        verify_tls=False,
        fingerprint=pve["fingerprint"],
    )


@pytest.fixture
async def pve1(homelab: HomelabThread) -> AsyncIterator[ProxmoxHost]:
    """Machine1 on, and a token-auth channel to its node ``pve1``."""
    homelab.set_power("Machine1", "on")
    host = ProxmoxHost(token_config(homelab), task_poll_interval=0.05)
    yield host
    await host.close()


async def test_read_states_is_one_request(
    pve1: ProxmoxHost, homelab: HomelabThread
) -> None:
    """Every guest of the node, with its figures, in exactly ONE request."""
    homelab.set_power("VM-Docker", "running")
    await pve1.read_states()  # connection set up; now count
    homelab.reset_requests()
    states = await pve1.read_states()
    counts = homelab.requests()
    assert counts["hosts"]["Machine1"]["total"] == 1
    assert counts["hosts"]["Machine1"]["endpoints"] == {
        "proxmox GET /cluster/resources": 1
    }
    assert set(states) == {"101", "102"}  # pve2's guests are filtered out
    vm = states["101"]
    assert (vm.kind, vm.name, vm.running, vm.status) == (
        ChildKind.VM,
        "VM-Docker",
        True,
        "running",
    )
    assert {"cpu", "mem", "maxmem", "netin", "netout", "uptime"} <= set(vm.details)
    assert not states["102"].running


async def test_start_shutdown_stop_with_tasks(
    pve1: ProxmoxHost, homelab: HomelabThread
) -> None:
    """Power actions wait for their task; repeats are harmless."""
    await pve1.start("102")
    assert homelab.state("VM-Ubuntu") == "running"
    await pve1.start("102")  # QEMU: a task failing "already running" is success
    await pve1.stop("102")
    assert homelab.state("VM-Ubuntu") == "stopped"
    await pve1.start("102")
    await pve1.hard_stop("102")
    assert homelab.state("VM-Ubuntu") == "stopped"
    actions = [e["action"] for e in homelab.log() if e.get("node") == "VM-Ubuntu"]
    assert actions[:2] == ["pve_start", "pve_start"]
    assert "pve_shutdown" in actions
    assert actions[-1] == "pve_stop"


async def test_ticket_auth_and_lxc(homelab: HomelabThread) -> None:
    """Ticket (password) auth, with the CSRF token on writes; LXC power."""
    homelab.set_power("Machine2", "on")
    host = ProxmoxHost(ticket_config(homelab), task_poll_interval=0.05)
    try:
        await host.check()
        states = await host.read_states()
        assert states["202"].kind is ChildKind.LXC
        assert states["202"].name == "Jellyfin"
        await host.start("202")
        assert homelab.state("Jellyfin") == "running"
        await host.start("202")  # LXC: an immediate 500 "already running"
        await host.shutdown("202", timeout=5, force_stop=True)
        assert homelab.state("Jellyfin") == "stopped"
        await host.shutdown("202")  # 500 "not running": already there
    finally:
        await host.close()


async def test_failed_task_carries_its_exitstatus(
    pve1: ProxmoxHost, homelab: HomelabThread
) -> None:
    """A guest ignoring ACPI: the task's exitstatus becomes the error."""
    homelab.set_power("VM-Ubuntu", "running")
    homelab.fault("VM-Ubuntu", "ignore_shutdown")
    with pytest.raises(TaskFailedError, match="got timeout"):
        await pve1.shutdown("102", timeout=1, force_stop=False)
    assert homelab.state("VM-Ubuntu") == "running"
    await pve1.shutdown("102", timeout=1, force_stop=True)  # the fallback
    assert homelab.state("VM-Ubuntu") == "stopped"


async def test_401_then_recovery(pve1: ProxmoxHost, homelab: HomelabThread) -> None:
    """An expired token (401) asks for reauth; the channel recovers after."""
    homelab.fault("Machine1", "api_status", 401)
    with pytest.raises(AuthenticationError):
        await pve1.read_states()
    homelab.fault("Machine1", "api_status", None)
    assert "101" in await pve1.read_states()


async def test_wrong_token_and_wrong_password(homelab: HomelabThread) -> None:
    """Bad credentials, token or ticket, are AuthenticationError."""
    homelab.set_power("Machine2", "on")
    with pytest.raises(AuthenticationError):
        await check_connection(token_config(homelab, "Machine2", token_value="nope"))
    config = ticket_config(homelab)
    bad = ProxmoxConfig(
        host=config.host,
        port=config.port,
        node=config.node,
        user="root@pam",
        password="wrong",
        verify_tls=False,
        fingerprint=config.fingerprint,
    )
    with pytest.raises(AuthenticationError):
        await check_connection(bad)


async def test_403_names_the_privilege(homelab: HomelabThread) -> None:
    """A read-only token may list but not start: the privilege is named."""
    homelab.set_power("Machine1", "on")
    host = ProxmoxHost(token_config(homelab, token="readonly"))
    try:
        assert "102" in await host.read_states()
        with pytest.raises(PermissionDeniedError) as err:
            await host.start("102")
        assert err.value.privilege == "VM.PowerMgmt"
        assert "VM.PowerMgmt" in err.value.message
    finally:
        await host.close()


async def test_500_and_not_found(pve1: ProxmoxHost, homelab: HomelabThread) -> None:
    """500 is ApiError; an unknown vmid is NotFoundError."""
    homelab.fault("Machine1", "api_status", 500)
    with pytest.raises(ApiError):
        await pve1.read_states()
    homelab.fault("Machine1", "api_status", None)
    with pytest.raises(NotFoundError):
        await pve1.start("999")  # not listed
    pve1._kinds["998"] = ChildKind.VM  # listed once, since deleted
    with pytest.raises(NotFoundError, match="does not exist"):
        await pve1.start("998")


async def test_unknown_node(homelab: HomelabThread) -> None:
    """check() refuses a node the API does not list, and names the known ones."""
    homelab.set_power("Machine1", "on")
    with pytest.raises(NotFoundError, match="pve1"):
        await check_connection(token_config(homelab, node="pve9"))
    host = build_host_api(token_config(homelab, node=""))
    try:
        assert [n["node"] for n in await host.nodes()] == ["pve1"]
    finally:
        await host.close()


async def test_refused_timeout_and_recovery(
    pve1: ProxmoxHost, homelab: HomelabThread
) -> None:
    """Machine off: no answer, a timeout. Port refusing: unreachable. Slow
    API: timeout. All recover."""
    slow = ProxmoxHost(token_config(homelab, timeout=0.3))
    refused = ProxmoxHost(token_config(homelab, port=free_port()))
    try:
        homelab.set_power("Machine1", "off")
        with pytest.raises(ChannelTimeoutError):
            await slow.read_states()
        with pytest.raises(UnreachableError):
            await refused.read_states()
        homelab.set_power("Machine1", "on")
        assert "101" in await pve1.read_states()
        homelab.fault("Machine1", "api_status", None)
        homelab.fault("Machine1", "latency", 1.0)
        with pytest.raises(ChannelTimeoutError):
            await slow.read_states()
        homelab.fault("Machine1", "latency", None)
        assert "101" in await slow.read_states()
    finally:
        await slow.close()
        await refused.close()


async def test_tls_pinning(homelab: HomelabThread) -> None:
    """Default verification refuses the self-signed cert; the pin is checked."""
    homelab.set_power("Machine1", "on")
    pve = _pve(homelab, "Machine1")
    shown = await fetch_certificate_fingerprint("127.0.0.1", pve["port"])
    assert shown == normalize_fingerprint(pve["fingerprint"])
    with pytest.raises(TlsVerificationError):
        await check_connection(token_config(homelab, verify_tls=True, fingerprint=None))
    wrong = "00" * 32
    with pytest.raises(TlsVerificationError):
        await check_connection(token_config(homelab, fingerprint=wrong))
    # The pin also guards the ticket login.
    config = ticket_config(homelab, "Machine1")
    with pytest.raises(TlsVerificationError):
        await check_connection(
            ProxmoxConfig(
                host=config.host,
                port=config.port,
                node=config.node,
                user=config.user,
                password=config.password,
                verify_tls=False,
                fingerprint=wrong,
            )
        )
    await check_connection(token_config(homelab, fingerprint=shown.lower()))
    with pytest.raises(UnreachableError):
        await fetch_certificate_fingerprint("127.0.0.1", free_port())


def test_config_validation() -> None:
    """Credentials and TLS settings are checked up front."""
    base = {"host": "h", "node": "n", "user": "u"}
    with pytest.raises(InvalidConfigError):
        ProxmoxConfig(**base)  # no credentials
    with pytest.raises(InvalidConfigError):
        ProxmoxConfig(**base, password="p", token_name="t", token_value="v")
    with pytest.raises(InvalidConfigError):
        ProxmoxConfig(**base, token_name="t")
    with pytest.raises(InvalidConfigError):
        ProxmoxConfig(**base, password="p", verify_tls=False)  # never unverified
    with pytest.raises(InvalidConfigError):
        ProxmoxConfig(**base, password="p", fingerprint="AB:CD")
    config = ProxmoxConfig(**base, password="s3cret", realm="pve")
    assert config.user_id == "u@pve"
    assert config.base_url == "https://h:8006/api2/json"
    assert "s3cret" not in repr(config)


async def test_in_hass_node_shutdown(
    hass: HomeAssistant, homelab: HomelabThread
) -> None:
    """Guest and node power inside Home Assistant (blocking-call detector on)."""
    await hass.async_add_executor_job(homelab.set_power, "Machine1", "on")
    host = ProxmoxHost(token_config(homelab), task_poll_interval=0.05)
    machine = Machine(host="127.0.0.1", probe_port=host.config.port, proxmox=host)
    try:
        await power_on(host, "102")
        assert (await host.read_states())["102"].running
        await power_off(host, "102")
        assert await machine.probe()
        await power_off(machine)
        await homelab.async_wait_state("Machine1", "off")
    finally:
        await host.close()
    actions = await hass.async_add_executor_job(homelab.log)
    assert any(e["action"] == "pve_node_shutdown" for e in actions)


async def test_task_reads_share_the_api_budget(
    homelab: HomelabThread, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every call takes room in the API's one budget (refreshes, the
    command, its task's reads): never more than 5 begin in any window, and
    the reads that find no room wait for it (docs/design.md, "Readiness")."""
    homelab.set_power("Machine1", "on")
    homelab.set_power("VM-Ubuntu", "running")
    host = ProxmoxHost(token_config(homelab), task_poll_interval=0.2)
    sent: list[float] = []
    take = host.budget.take

    async def counted() -> list[float]:
        cell = await take()
        sent.append(time.monotonic())
        return cell

    monkeypatch.setattr(host.budget, "take", counted)
    try:
        for _ in range(2):  # two refreshes, just before the command
            await host.read_states()
        await host.shutdown("102")
    finally:
        await host.close()
    assert homelab.state("VM-Ubuntu") == "stopped"
    # The refreshes' 2 reads, the identity and config reads, the POST and the
    # task's reads: more calls than one window holds, spread over several.
    window = host.budget.window
    assert len(sent) > MAX_REQUESTS_PER_SECOND
    assert sent[-1] - sent[0] >= window
    for at in sent:
        assert sum(1 for t in sent if at - window < t <= at) <= MAX_REQUESTS_PER_SECOND
