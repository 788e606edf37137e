"""Usage reads for the inactivity rules: Docker stats, SSH, Proxmox details."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from custom_components.wakehub.channels import (
    CommandFailedError,
    ContainerUsage,
    DockerHost,
    InvalidConfigError,
    NotFoundError,
    ProxmoxHost,
    ReadOnlyCommand,
    SshChannel,
)
from custom_components.wakehub.inactivity.parsers import (
    PROC_COMMAND,
    SS_COMMAND,
    count_connections,
    parse_proc,
)

from .test_sim_docker import tcp_config
from .test_sim_ssh_wol import nas_ssh

if TYPE_CHECKING:
    from tests.homelab import HomelabThread


def _set(lab: HomelabThread, node: str, **values: object) -> None:
    from tests.homelab import metrics

    lab.call(lambda homelab: metrics.set_metrics(homelab.node(node), values))


async def test_docker_usage_is_one_stats_request(homelab: HomelabThread) -> None:
    """One GET stats per call: CPU share of the host, RAM, rx + tx bytes."""
    homelab.set_power("pihole", "running")
    _set(homelab, "pihole", cpu=0.3, mem=512 * 1024**2, netin=7000, netout=3000)
    host = DockerHost(tcp_config(homelab))
    try:
        await host.check()
        homelab.reset_requests()
        usage = await host.usage("pihole")
        stopped = await host.usage("uptime-kuma")
        with pytest.raises(NotFoundError):
            await host.usage("nothing-here")
    finally:
        await host.close()
    assert usage.cpu_percent is not None
    assert round(usage.cpu_percent, 1) == 30.0
    assert usage.ram_percent is not None
    assert usage.net_bytes == 10_000
    assert stopped == ContainerUsage(cpu_percent=None, ram_percent=None, net_bytes=None)
    counts = homelab.requests()["hosts"]["RaspberryPi"]["endpoints"]
    assert counts == {"docker GET /containers/{id}/stats": 3}


@pytest.mark.parametrize(
    ("stats", "usage"),
    [
        ({}, ContainerUsage(None, None, None)),
        (
            {
                "cpu_stats": {
                    "cpu_usage": {"total_usage": 300},
                    "system_cpu_usage": 2000,
                },
                "precpu_stats": {
                    "cpu_usage": {"total_usage": 100},
                    "system_cpu_usage": 1000,
                },
                "memory_stats": {
                    "usage": 600,
                    "limit": 1000,
                    "stats": {"inactive_file": 100},
                },
                "networks": {
                    "eth0": {"rx_bytes": 5, "tx_bytes": 6},
                    "eth1": {"rx_bytes": 1, "tx_bytes": 2},
                },
            },
            ContainerUsage(20.0, 50.0, 14),
        ),
        (
            # The engine's first document after a start has an empty precpu.
            {
                "cpu_stats": {
                    "cpu_usage": {"total_usage": 300},
                    "system_cpu_usage": 2000,
                },
                "precpu_stats": {"cpu_usage": {"total_usage": 0}},
                "memory_stats": {"usage": 10, "limit": 0},
            },
            ContainerUsage(None, None, None),
        ),
    ],
)
def test_container_usage_from_stats(
    stats: dict[str, object], usage: ContainerUsage
) -> None:
    """The stats document's fields, and what a partial document gives."""
    assert ContainerUsage.from_stats(stats) == usage


async def test_ssh_read_only_commands(homelab: HomelabThread) -> None:
    """Both fixed commands over one connection; nothing else is sent."""
    homelab.set_power("NAS", "on")
    _set(homelab, "NAS", cpu=0.2, connections=[445, 445, 2049])
    ssh = SshChannel(nas_ssh(homelab))
    outputs = await ssh.read(list(ReadOnlyCommand))
    assert tuple(outputs) == (SS_COMMAND, PROC_COMMAND)
    port = homelab.ready["nodes"]["NAS"]["ssh"]["port"]
    assert count_connections(outputs[SS_COMMAND], (445,), exclude=(port,)) == 2
    _, ram = parse_proc(outputs[PROC_COMMAND])
    assert ram is not None
    assert [c["command"] for c in homelab.commands()] == [SS_COMMAND, PROC_COMMAND]


async def test_ssh_read_refused_with_a_forced_command(homelab: HomelabThread) -> None:
    """A key restricted to the shutdown runs nothing else, so nothing is sent."""
    homelab.set_power("NAS", "on")
    ssh = SshChannel(nas_ssh(homelab, forced_command=True))
    with pytest.raises(InvalidConfigError):
        await ssh.read([ReadOnlyCommand.CONNECTIONS])
    assert homelab.commands() == []


async def test_ssh_read_failing_command(homelab: HomelabThread) -> None:
    """A command that is not there (exit 127) is a CommandFailedError."""
    homelab.set_power("NAS", "on")
    homelab.fault("NAS", "ss_missing")
    ssh = SshChannel(nas_ssh(homelab))
    with pytest.raises(CommandFailedError, match="ss -Htn"):
        await ssh.read([ReadOnlyCommand.CONNECTIONS])


async def test_proxmox_figures_come_with_the_poll(homelab: HomelabThread) -> None:
    """cpu, mem, maxmem and the net counters are in the poll's one request."""
    from .test_sim_proxmox import token_config

    homelab.set_power("VM-Ubuntu", "running")
    _set(homelab, "VM-Ubuntu", cpu=0.75, mem=1024**3, netin=123, netout=456)
    host = ProxmoxHost(token_config(homelab), task_poll_interval=0.05)
    try:
        await host.read_states()
        homelab.reset_requests()
        details = (await host.read_states())["102"].details
    finally:
        await host.close()
    assert homelab.requests()["total"] == 1
    assert (details["cpu"], details["mem"], details["netin"], details["netout"]) == (
        0.75,
        1024**3,
        123,
        456,
    )
    assert details["maxmem"] == 4 * 1024**3
