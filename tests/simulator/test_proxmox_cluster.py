"""The simulated Proxmox VE API as a real one behaves: clusters, quorum, tokens, TLS.

Each test names the upstream behaviour the simulator reproduces (see the
docstrings in ``tests/homelab/proxmox.py``).
"""

from __future__ import annotations

import hashlib
import json
import ssl
import time
from typing import TYPE_CHECKING, Any

from proxmoxer import ResourceException
import pytest
import requests

from .helpers import pve_with_token, wait_task

if TYPE_CHECKING:
    from tests.homelab import HomelabThread


def _served_fingerprint(port: int) -> str:
    pem = ssl.get_server_certificate(("127.0.0.1", port))
    digest = hashlib.sha256(ssl.PEM_cert_to_DER_cert(pem)).hexdigest().upper()
    return ":".join(digest[i : i + 2] for i in range(0, 64, 2))


def test_standalone_node_knows_only_itself(homelab: HomelabThread) -> None:
    """Reference scenario: each host is standalone; /cluster/status lists it, nodeid 0."""
    homelab.set_power("Machine2", "on")
    pve = pve_with_token(homelab, "Machine2")
    assert [n["node"] for n in pve.nodes.get()] == ["pve2"]
    assert pve.cluster.status.get() == [
        {
            "type": "node",
            "id": "node/pve2",
            "name": "pve2",
            "ip": "127.0.0.1",
            "level": "",
            "local": 1,
            "nodeid": 0,
            "online": 1,
        }
    ]
    assert homelab.ready["cluster"] is None


def test_cluster_lists_every_member_and_guest(cluster_homelab: HomelabThread) -> None:
    """Both APIs list both nodes and every guest; /cluster/status marks the local one."""
    lab = cluster_homelab
    lab.set_power("Machine1", "on")
    lab.set_power("Machine2", "on")
    lab.set_power("Jellyfin", "running")
    assert lab.ready["cluster"] == {
        "name": "homelab",
        "members": ["Machine1", "Machine2"],
        "qdevice": False,
    }
    for machine, local in (("Machine1", "pve1"), ("Machine2", "pve2")):
        pve = pve_with_token(lab, machine)
        assert [n["node"] for n in pve.nodes.get()] == ["pve1", "pve2"]
        status = pve.cluster.status.get()
        assert status[0]["type"] == "cluster"
        assert status[0]["quorate"] == 1
        assert status[0]["nodes"] == 2
        nodes = {e["name"]: e for e in status if e["type"] == "node"}
        assert {name: e["local"] for name, e in nodes.items()} == {
            "pve1": int(local == "pve1"),
            "pve2": int(local == "pve2"),
        }
        assert {e["nodeid"] for e in nodes.values()} == {1, 2}
        resources = pve.cluster.resources.get(type="vm")
        assert {(r["node"], r["vmid"]) for r in resources} == {
            ("pve1", 101),
            ("pve1", 102),
            ("pve2", 201),
            ("pve2", 202),
            ("pve2", 203),
        }
        jellyfin = next(r for r in resources if r["vmid"] == 202)
        assert jellyfin["status"] == "running"
    # The two members share one CA; each has its own certificate.
    one = lab.ready["nodes"]["Machine1"]["proxmox"]
    two = lab.ready["nodes"]["Machine2"]["proxmox"]
    assert one["ca_fingerprint"] == two["ca_fingerprint"]
    assert one["fingerprint"] != two["fingerprint"]


def test_calls_for_the_other_node_are_proxied(cluster_homelab: HomelabThread) -> None:
    """pve1's API starts pve2's guest on pve2, and shuts down pve2 itself."""
    lab = cluster_homelab
    lab.set_power("Machine1", "on")
    lab.set_power("Machine2", "on")
    pve1 = pve_with_token(lab, "Machine1")
    upid = pve1.nodes("pve2").lxc(202).status.start.post()
    assert upid.split(":")[1] == "pve2"
    assert wait_task(pve1, "pve2", upid)["exitstatus"] == "OK"
    assert lab.state("Jellyfin") == "running"
    # The task lives on pve2: pve2's own API knows it too.
    assert (
        pve_with_token(lab, "Machine2").nodes("pve2").tasks(upid).status.get()["upid"]
        == upid
    )
    assert pve1.nodes("pve2").status.post(command="shutdown") is None
    lab.wait_state("Machine2", "off", timeout=10)
    assert lab.state("Machine1") == "on"
    assert [(e["node"], e["action"]) for e in lab.log()] == [
        ("Jellyfin", "pve_start"),
        ("Machine2", "pve_node_shutdown"),
    ]
    # An offline member: listed offline, its guests "unknown", calls fail 595.
    nodes = {n["node"]: n for n in pve1.nodes.get()}
    assert nodes["pve2"]["status"] == "offline"
    assert "uptime" not in nodes["pve2"]
    resources = pve1.cluster.resources.get(type="vm")
    assert {r["status"] for r in resources if r["node"] == "pve2"} == {"unknown"}
    with pytest.raises(ResourceException) as err:
        pve1.nodes("pve2").lxc(202).status.current.get()
    assert err.value.status_code == 595


def test_two_node_cluster_loses_quorum(cluster_homelab: HomelabThread) -> None:
    """One node of two, no QDevice: starts fail 500 "cluster not ready - no quorum?"."""
    lab = cluster_homelab
    lab.set_power("Machine1", "on")
    pve1 = pve_with_token(lab, "Machine1")
    assert pve1.cluster.status.get()[0]["quorate"] == 0
    for vmid in (102, 101):
        with pytest.raises(ResourceException) as err:
            pve1.nodes("pve1").qemu(vmid).status.start.post()
        assert err.value.status_code == 500
        assert err.value.content == "cluster not ready - no quorum?"
    assert lab.state("VM-Ubuntu") == "stopped"
    # With a QDevice one node alone keeps quorum.
    lab.set_qdevice(True)
    assert pve1.cluster.status.get()[0]["quorate"] == 1
    upid = pve1.nodes("pve1").qemu(102).status.start.post()
    assert wait_task(pve1, "pve1", upid)["exitstatus"] == "OK"
    # Both nodes on: quorate without a QDevice too.
    lab.set_qdevice(False)
    lab.set_power("Machine2", "on")
    assert pve1.cluster.status.get()[0]["quorate"] == 1


def test_migration_moves_the_guest(cluster_homelab: HomelabThread) -> None:
    """A migrated guest keeps its vmid, name and state; only its node changes."""
    lab = cluster_homelab
    lab.set_power("Machine1", "on")
    lab.set_power("VM-Ubuntu", "running")
    lab.set_power("Machine2", "on")
    lab.migrate("VM-Ubuntu", "Machine2")
    assert lab.node("VM-Ubuntu")["parent"] == "Machine2"
    resources = pve_with_token(lab, "Machine2").cluster.resources.get(type="vm")
    moved = next(r for r in resources if r["vmid"] == 102)
    assert (moved["node"], moved["name"], moved["status"]) == (
        "pve2",
        "VM-Ubuntu",
        "running",
    )
    assert 102 in {
        q["vmid"] for q in pve_with_token(lab, "Machine2").nodes("pve2").qemu.get()
    }
    assert 102 not in {
        q["vmid"] for q in pve_with_token(lab, "Machine1").nodes("pve1").qemu.get()
    }
    assert lab.log()[-1]["action"] == "pve_migrate"
    lab.reset()
    assert lab.node("VM-Ubuntu")["parent"] == "Machine1"


def test_privilege_separated_token(homelab: HomelabThread) -> None:
    """privsep token without ACLs: empty guest list, no 403; /access/permissions empty."""
    homelab.set_power("Machine2", "on")
    token = homelab.ready["nodes"]["Machine2"]["proxmox"]["tokens"]["privsep"]
    assert token["privsep"] is True
    assert token["privileges"] == []
    pve = pve_with_token(homelab, "Machine2", token="privsep")
    assert pve.cluster.resources.get(type="vm") == []
    assert pve.access.permissions.get() == {}
    assert [n["node"] for n in pve.nodes.get()] == ["pve2"]
    homelab.grant_token("privsep", ["VM.Audit", "VM.PowerMgmt", "Sys.Audit"])
    assert len(pve.cluster.resources.get(type="vm")) == 3
    permissions = pve.access.permissions.get()
    assert permissions["/"] == {"Sys.Audit": 1, "VM.Audit": 1, "VM.PowerMgmt": 1}
    assert permissions["/vms"] == {"VM.Audit": 1, "VM.PowerMgmt": 1}
    full = pve_with_token(homelab, "Machine2").access.permissions.get()
    assert full["/"]["Sys.PowerMgmt"] == 1


def test_error_fidelity(homelab: HomelabThread) -> None:
    """Unknown UPID: 400 no such task; bodies carry message; every 401 is delayed."""
    homelab.set_power("Machine1", "on")
    pve = pve_with_token(homelab, "Machine1")
    unknown = "UPID:pve1:00001234:00005678:6700AB12:qmstart:101:wakehub@pve!wakehub:"
    with pytest.raises(ResourceException) as err:
        pve.nodes("pve1").tasks(unknown).status.get()
    assert err.value.status_code == 400
    assert err.value.errors == {"upid": "no such task"}
    info = homelab.ready["nodes"]["Machine1"]["proxmox"]
    base = f"https://127.0.0.1:{info['port']}/api2/json"
    denied = requests.post(
        f"{base}/nodes/pve1/qemu/101/status/start",
        headers={
            "Authorization": "PVEAPIToken=wakehub@pve!readonly="
            + info["tokens"]["readonly"]["value"]
        },
        verify=False,
        timeout=10,
    )
    assert denied.status_code == 403
    assert json.loads(denied.text) == {
        "data": None,
        "message": "Permission check failed (/vms/101, VM.PowerMgmt)\n",
    }
    # 3 s scaled by the time scale, from the start of the request.
    delay = 3.0 * homelab.ready["time_scale"]
    started = time.monotonic()
    bad = requests.get(
        f"{base}/nodes",
        headers={"Authorization": "PVEAPIToken=wakehub@pve!wakehub=nope"},
        verify=False,
        timeout=10,
    )
    assert bad.status_code == 401
    assert time.monotonic() - started >= delay * 0.9


def test_certificate_renewal_and_ca_change(homelab: HomelabThread) -> None:
    """cert_renew: a new leaf from the same CA; ca_change: a new CA and leaf."""
    from cryptography import x509

    homelab.set_power("Machine1", "on")
    before = homelab.call(lambda lab: lab.ready_document())["nodes"]["Machine1"][
        "proxmox"
    ]
    port = before["port"]
    assert _served_fingerprint(port) == before["fingerprint"]
    leaf = x509.load_pem_x509_certificate(before["certificate"].encode())
    ca = x509.load_pem_x509_certificate(before["ca_certificate"].encode())
    leaf.verify_directly_issued_by(ca)
    info = pve_with_token(homelab, "Machine1").nodes("pve1").certificates.info.get()
    assert {c["filename"]: c["fingerprint"] for c in info} == {
        "pve-root-ca.pem": before["ca_fingerprint"],
        "pve-ssl.pem": before["fingerprint"],
    }
    homelab.fault("Machine1", "cert_renew")
    renewed = homelab.call(lambda lab: lab.ready_document())["nodes"]["Machine1"][
        "proxmox"
    ]
    assert renewed["fingerprint"] != before["fingerprint"]
    assert renewed["ca_fingerprint"] == before["ca_fingerprint"]
    assert _served_fingerprint(port) == renewed["fingerprint"]
    homelab.fault("Machine1", "ca_change")
    changed = homelab.call(lambda lab: lab.ready_document())["nodes"]["Machine1"][
        "proxmox"
    ]
    assert changed["ca_fingerprint"] != before["ca_fingerprint"]
    assert _served_fingerprint(port) == changed["fingerprint"]
    # Machine2 is standalone: its CA did not change.
    other = homelab.ready["nodes"]["Machine2"]["proxmox"]["ca_fingerprint"]
    assert (
        homelab.call(lambda lab: lab.ready_document())["nodes"]["Machine2"]["proxmox"][
            "ca_fingerprint"
        ]
        == other
    )
    homelab.reset()
    homelab.set_power("Machine1", "on")
    assert _served_fingerprint(port) == before["fingerprint"]


def test_cli_cluster_switches() -> None:
    """``python -m tests.homelab --scenario cluster --qdevice`` is accepted."""
    from tests.homelab.__main__ import parse_args

    args = parse_args(["--scenario", "cluster", "--qdevice"])
    assert (args.scenario, args.qdevice) == ("cluster", True)
    assert parse_args([]).qdevice is False
    with pytest.raises(SystemExit):
        parse_args(["--scenario", "nope"])


def test_control_api_cluster_routes(
    homelab: HomelabThread, cluster_homelab: HomelabThread
) -> None:
    """POST /migrate, /tokens and /cluster, and their refusals."""

    def post(lab: HomelabThread, path: str, body: dict[str, Any]) -> Any:
        return requests.post(f"{lab.ready['control_url']}{path}", json=body, timeout=10)

    assert post(homelab, "/cluster", {"qdevice": True}).status_code == 400
    assert (
        post(homelab, "/tokens", {"token": "wakehub", "privileges": []}).status_code
        == 400
    )
    answer = post(homelab, "/tokens", {"token": "privsep", "privileges": ["VM.Audit"]})
    assert answer.json() == {"ok": True}
    assert (
        post(
            homelab, "/migrate", {"node": "VM-Ubuntu", "target": "Machine2"}
        ).status_code
        == 400
    )
    lab = cluster_homelab
    assert post(lab, "/cluster", {"qdevice": True}).json() == {
        "ok": True,
        "qdevice": True,
    }
    assert (
        post(lab, "/migrate", {"node": "NAS", "target": "Machine2"}).status_code == 400
    )
    assert (
        post(lab, "/migrate", {"node": "VM-Ubuntu", "target": "Machine2"}).status_code
        == 400
    )
    lab.set_power("Machine1", "on")
    lab.set_power("Machine2", "on")
    moved = post(lab, "/migrate", {"node": "VM-Ubuntu", "target": "Machine2"})
    assert moved.json()["parent"] == "Machine2"
    lab.reset()
    assert lab.node("VM-Ubuntu")["parent"] == "Machine1"
    assert lab.call(lambda homelab: homelab.qdevice) is False
