"""The simulated Proxmox VE API, driven by proxmoxer itself (synchronous)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from proxmoxer import AuthenticationError, ProxmoxAPI, ResourceException
import pytest
import requests

from .helpers import pve_with_password, pve_with_token, tcp_answer, wait_task

if TYPE_CHECKING:
    from tests.homelab import HomelabThread


def test_token_listing_and_shapes(homelab: HomelabThread) -> None:
    """Token auth: version, nodes with fingerprint, resources, qemu and lxc lists."""
    homelab.set_power("Machine1", "on")
    homelab.set_power("VM-Docker", "running")
    pve = pve_with_token(homelab)
    assert pve.version.get() == {
        "version": "9.2.11",
        "release": "9.2",
        "repoid": "c743d6c1",
    }
    nodes = pve.nodes.get()
    assert [n["node"] for n in nodes] == ["pve1"]
    assert (
        nodes[0]["ssl_fingerprint"]
        == homelab.ready["nodes"]["Machine1"]["proxmox"]["fingerprint"]
    )
    assert nodes[0]["status"] == "online"
    resources = pve.cluster.resources.get(type="vm")
    assert {r["id"]: r["status"] for r in resources} == {
        "qemu/101": "running",
        "qemu/102": "stopped",
    }
    first = next(r for r in resources if r["vmid"] == 101)
    for key in (
        "type", "vmid", "node", "name", "status", "template", "uptime", "maxcpu",
        "cpu", "maxmem", "mem", "maxdisk", "disk", "netin", "netout",
        "diskread", "diskwrite",
    ):  # fmt: skip
        assert key in first, key
    assert first["name"] == "VM-Docker"
    assert first["node"] == "pve1"
    qemu = pve.nodes("pve1").qemu.get()
    assert {q["vmid"] for q in qemu} == {101, 102}
    assert all("type" not in q for q in qemu)
    running = next(q for q in qemu if q["vmid"] == 101)
    assert "pid" in running
    assert pve.nodes("pve1").lxc.get() == []
    current = pve.nodes("pve1").qemu(101).status.current.get()
    assert current["qmpstatus"] == "running"
    assert current["ha"] == {"managed": 0}
    assert current["agent"] == 1


def test_lxc_listing_on_machine2(homelab: HomelabThread) -> None:
    """LXC items carry type "lxc", maxswap and swap."""
    homelab.set_power("Machine2", "on")
    pve = pve_with_token(homelab, "Machine2")
    lxc = pve.nodes("pve2").lxc.get()
    assert {c["vmid"]: c["name"] for c in lxc} == {202: "Jellyfin", 203: "Cloudflared"}
    assert all(c["type"] == "lxc" and "maxswap" in c and "swap" in c for c in lxc)
    assert [q["vmid"] for q in pve.nodes("pve2").qemu.get()] == [201]


def test_start_and_task_polling(homelab: HomelabThread) -> None:
    """A start returns a real-format UPID; the task finishes when the guest runs."""
    homelab.set_power("Machine2", "on")
    pve = pve_with_token(homelab, "Machine2")
    upid = pve.nodes("pve2").lxc(202).status.start.post()
    parts = upid.split(":")
    assert len(parts) == 9
    assert parts[0] == "UPID"
    assert parts[1] == "pve2"
    assert parts[5:8] == ["vzstart", "202", "wakehub@pve!wakehub"]
    assert parts[8] == ""
    assert all(len(p) == 8 and p == p.upper() for p in parts[2:5])
    first = pve.nodes("pve2").tasks(upid).status.get()
    assert first["status"] == "running"
    assert "exitstatus" not in first
    status = wait_task(pve, "pve2", upid)
    assert status["exitstatus"] == "OK"
    assert status["type"] == "vzstart"
    # The UPID keeps user@realm!token; the status splits it (PVE/API2/Tasks.pm).
    assert status["user"] == "wakehub@pve"
    assert status["tokenid"] == "wakehub"
    assert homelab.state("Jellyfin") == "running"
    assert [e["action"] for e in homelab.log()] == ["pve_start"]
    # LXC start of a running CT: immediate 500.
    with pytest.raises(ResourceException) as err:
        pve.nodes("pve2").lxc(202).status.start.post()
    assert err.value.status_code == 500
    assert err.value.content == "CT 202 already running"
    upid = pve.nodes("pve2").lxc(202).status.shutdown.post(timeout=30)
    assert wait_task(pve, "pve2", upid)["exitstatus"] == "OK"
    assert homelab.state("Jellyfin") == "stopped"
    with pytest.raises(ResourceException) as err:
        pve.nodes("pve2").lxc(202).status.stop.post()
    assert err.value.content == "CT 202 not running"


def test_qemu_start_of_running_vm_fails_in_task(homelab: HomelabThread) -> None:
    """QEMU: start of a running VM fails in the task; stop of a stopped VM is OK."""
    homelab.set_power("VM-Ubuntu", "running")
    pve = pve_with_token(homelab)
    upid = pve.nodes("pve1").qemu(102).status.start.post()
    assert wait_task(pve, "pve1", upid)["exitstatus"] == "VM 102 already running"
    upid = pve.nodes("pve1").qemu(102).status.stop.post()
    assert wait_task(pve, "pve1", upid)["exitstatus"] == "OK"
    assert homelab.state("VM-Ubuntu") == "stopped"
    upid = pve.nodes("pve1").qemu(102).status.shutdown.post()
    assert wait_task(pve, "pve1", upid)["exitstatus"] == "OK"


def test_ticket_auth_and_csrf(homelab: HomelabThread) -> None:
    """Ticket auth works for reads and writes; a write without CSRF is a 401."""
    homelab.set_power("Machine1", "on")
    pve = pve_with_password(homelab)
    assert pve.nodes("pve1").qemu.get()
    upid = pve.nodes("pve1").qemu(101).status.start.post()
    status = wait_task(pve, "pve1", upid)
    assert status["exitstatus"] == "OK"
    assert status["user"] == "root@pam"
    info = homelab.ready["nodes"]["Machine1"]["proxmox"]
    base = f"https://127.0.0.1:{info['port']}/api2/json"
    login = requests.post(
        f"{base}/access/ticket",
        data={"username": "root", "realm": "pam", "password": info["password"]},
        verify=False,
        timeout=10,
    ).json()["data"]
    assert login["username"] == "root@pam"
    assert login["ticket"].startswith("PVE:root@pam:")
    cookies = {"PVEAuthCookie": login["ticket"]}
    no_csrf = requests.post(
        f"{base}/nodes/pve1/qemu/102/status/start",
        cookies=cookies,
        verify=False,
        timeout=10,
    )
    assert no_csrf.status_code == 401
    assert no_csrf.reason == "Permission denied - invalid csrf token"
    bad = requests.post(
        f"{base}/nodes/pve1/qemu/102/status/start",
        cookies=cookies,
        headers={"CSRFPreventionToken": "00000000:nope"},
        verify=False,
        timeout=10,
    )
    assert bad.status_code == 401
    assert homelab.state("VM-Ubuntu") == "stopped"


def test_authentication_errors(homelab: HomelabThread) -> None:
    """Bad password: AuthenticationError (JSON 401); bad token: 401."""
    homelab.set_power("Machine1", "on")
    info = homelab.ready["nodes"]["Machine1"]["proxmox"]
    with pytest.raises(AuthenticationError):
        ProxmoxAPI(
            "127.0.0.1",
            port=info["port"],
            user="root@pam",
            password="wrong",
            verify_ssl=False,
        )
    bad_token = ProxmoxAPI(
        "127.0.0.1",
        port=info["port"],
        user="wakehub@pve",
        token_name="wakehub",
        token_value="00000000-0000-0000-0000-000000000000",
        verify_ssl=False,
    )
    with pytest.raises(ResourceException) as err:
        bad_token.nodes.get()
    assert err.value.status_code == 401


def test_permission_and_not_found_errors(homelab: HomelabThread) -> None:
    """403 with PVE's message, 500 for an unknown vmid, 501 for an unknown path, 400."""
    homelab.set_power("Machine1", "on")
    readonly = pve_with_token(homelab, token="readonly")
    with pytest.raises(ResourceException) as err:
        readonly.nodes("pve1").qemu(101).status.start.post()
    assert err.value.status_code == 403
    assert err.value.content == "Permission check failed (/vms/101, VM.PowerMgmt)"
    vmuser = pve_with_token(homelab, token="vmuser")
    with pytest.raises(ResourceException) as err:
        vmuser.nodes("pve1").status.post(command="shutdown")
    assert err.value.status_code == 403
    assert err.value.content == "Permission check failed (/nodes/pve1, Sys.PowerMgmt)"
    pve = pve_with_token(homelab)
    with pytest.raises(ResourceException) as err:
        pve.nodes("pve1").qemu(999).status.current.get()
    assert err.value.status_code == 500
    assert (
        err.value.content
        == "Configuration file 'nodes/pve1/qemu-server/999.conf' does not exist"
    )
    with pytest.raises(ResourceException) as err:
        pve.nodes("pve1").lxc(101).status.start.post()
    assert (
        err.value.content
        == "Configuration file 'nodes/pve1/lxc/101.conf' does not exist"
    )
    with pytest.raises(ResourceException) as err:
        pve.foo.get()
    assert err.value.status_code == 501
    assert err.value.content == "Method 'GET /foo' not implemented"
    with pytest.raises(ResourceException) as err:
        pve.nodes("pve1").qemu(101).status.shutdown.post(forceStop="True")
    assert err.value.status_code == 400
    assert err.value.errors == {
        "forceStop": "type check ('boolean') failed - got 'True'"
    }
    with pytest.raises(ResourceException) as err:
        pve.nodes("pve1").qemu(99).status.current.get()
    assert err.value.status_code == 400
    assert err.value.errors == {"vmid": "value must have a minimum value of 100"}
    raw = requests.get(
        f"https://127.0.0.1:{homelab.ready['nodes']['Machine1']['proxmox']['port']}/api2/json/nodes/pve1/qemu/999/status/current",
        headers={
            "Authorization": "PVEAPIToken=wakehub@pve!wakehub="
            + homelab.ready["nodes"]["Machine1"]["proxmox"]["token_value"]
        },
        verify=False,
        timeout=10,
    )
    assert raw.json() == {
        "data": None,
        "message": "Configuration file 'nodes/pve1/qemu-server/999.conf' does not exist\n",
    }
    assert raw.headers["Server"] == "pve-api-daemon/3.0"


def test_readonly_token_sees_no_power(homelab: HomelabThread) -> None:
    """A token without VM.Audit sees no guests; readonly sees them."""
    homelab.set_power("Machine1", "on")
    assert (
        len(pve_with_token(homelab, token="readonly").cluster.resources.get(type="vm"))
        == 2
    )


def test_node_shutdown(homelab: HomelabThread) -> None:
    """POST /nodes/{node}/status command=shutdown: null, then off ~2 s (scaled) later."""
    homelab.set_power("VM-Docker", "running")
    pve = pve_with_token(homelab)
    assert pve.nodes("pve1").status.post(command="shutdown") is None
    homelab.wait_state("Machine1", "off", timeout=10)
    assert homelab.state("VM-Docker") == "stopped"
    assert homelab.state("plex") == "stopped"
    assert [(e["node"], e["action"]) for e in homelab.log()] == [
        ("Machine1", "pve_node_shutdown")
    ]


def test_api_answers_nothing_while_machine_off(homelab: HomelabThread) -> None:
    """A powered-off machine answers nothing: the client's connect times out.

    While the machine is on with its API down, the connection is refused.
    """
    info = homelab.ready["nodes"]["Machine1"]["proxmox"]
    with pytest.raises(requests.ConnectTimeout):
        requests.get(
            f"https://127.0.0.1:{info['port']}/api2/json/version",
            verify=False,
            timeout=0.3,
        )
    homelab.set_power("Machine1", "on")
    assert tcp_answer(info["port"]) == "open"


def test_fingerprint_matches_served_certificate(homelab: HomelabThread) -> None:
    """The fingerprint in the ready document is the served certificate's SHA-256."""
    import hashlib
    import ssl

    homelab.set_power("Machine2", "on")
    info = homelab.ready["nodes"]["Machine2"]["proxmox"]
    pem = ssl.get_server_certificate(("127.0.0.1", info["port"]))
    digest = hashlib.sha256(ssl.PEM_cert_to_DER_cert(pem)).hexdigest().upper()
    assert info["fingerprint"] == ":".join(digest[i : i + 2] for i in range(0, 64, 2))
