"""The Proxmox VE channel against a simulator that behaves like a real Proxmox VE.

Clusters (the node identified by ``/cluster/status``), quorum, CA pinning
across certificate renewals, privilege-separated tokens and PVE's own error
messages. Each test fails on a driver that trusts ``GET /nodes``, pins only
the leaf certificate or drops the server's message.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from custom_components.wakehub.channels import (
    ApiError,
    InvalidConfigError,
    NodeIdentityError,
    NoQuorumError,
    ProxmoxConfig,
    ProxmoxHost,
    TlsVerificationError,
    UnreachableError,
)
from custom_components.wakehub.channels.proxmox import (
    certificate_fingerprint,
    fetch_certificate,
    issued_by,
)

if TYPE_CHECKING:
    from tests.homelab import Homelab, HomelabThread


def _ready(lab: HomelabThread, machine: str) -> dict[str, Any]:
    """The machine's Proxmox part of the ready document, as it is now."""
    return dict(
        lab.call(lambda homelab: homelab.ready_document())["nodes"][machine]["proxmox"]
    )


def _config(
    lab: HomelabThread,
    machine: str,
    *,
    node: str | None = None,
    token: str = "wakehub",
    pin: str = "ca",
) -> ProxmoxConfig:
    pve = _ready(lab, machine)
    return ProxmoxConfig(
        host="127.0.0.1",
        port=pve["port"],
        node=pve["node"] if node is None else node,
        user=pve["token_user"],
        token_name=token,
        token_value=pve["tokens"][token]["value"],
        verify_tls=False,
        fingerprint=pve["fingerprint"] if pin == "leaf" else None,
        ca_certificate=pve["ca_certificate"] if pin == "ca" else None,
        timeout=5.0,
    )


async def test_node_is_the_local_one_not_the_first(
    cluster_homelab: HomelabThread,
) -> None:
    """In a cluster, Machine2's API is pve2 although GET /nodes lists pve1 first."""
    lab = cluster_homelab
    lab.set_power("Machine1", "on")
    lab.set_power("Machine2", "on")
    lab.set_power("VM-Docker", "running")
    host = ProxmoxHost(_config(lab, "Machine2", node=""))
    try:
        assert [n["node"] for n in await host.nodes()] == ["pve1", "pve2"]
        assert await host.identify_node("127.0.0.1") == "pve2"
        assert await host.check_identity() == "pve2"
        status = await host.cluster_status()
        assert status.name == "homelab"
        assert status.quorate
    finally:
        await host.close()
    host = ProxmoxHost(_config(lab, "Machine2"))
    try:
        # Only pve2's guests, although /cluster/resources lists pve1's too.
        assert set(await host.read_states()) == {"201", "202", "203"}
    finally:
        await host.close()
    # A node typed by hand that is another member is refused.
    wrong = ProxmoxHost(_config(lab, "Machine2", node="pve1"))
    try:
        with pytest.raises(NodeIdentityError, match="is node pve2, not pve1"):
            await wrong.check_identity()
    finally:
        await wrong.close()


async def test_address_of_another_member_is_refused(
    cluster_homelab: HomelabThread,
) -> None:
    """The API at one address answering as the node another address belongs to."""
    lab = cluster_homelab
    lab.set_power("Machine1", "on")
    lab.set_power("Machine2", "on")

    def _addresses(homelab: Homelab) -> None:
        homelab.cluster_ips["Machine1"] = "192.0.2.11"
        homelab.cluster_ips["Machine2"] = "192.0.2.12"

    lab.call(_addresses)
    host = ProxmoxHost(_config(lab, "Machine1", node=""))
    try:
        assert await host.identify_node("192.0.2.11") == "pve1"
        assert await host.identify_node("nas.example") == "pve1"  # a name: no check
        with pytest.raises(NodeIdentityError, match=r"192\.0\.2\.12 is node pve2's"):
            await host.identify_node("192.0.2.12")
    finally:
        await host.close()

        def _restore(homelab: Homelab) -> None:
            homelab.cluster_ips.update(Machine1="127.0.0.1", Machine2="127.0.0.1")

        lab.call(_restore)


async def test_no_quorum_names_the_offline_members(
    cluster_homelab: HomelabThread,
) -> None:
    """A start without quorum: NoQuorumError naming pve2, nothing started."""
    lab = cluster_homelab
    lab.set_power("Machine1", "on")
    host = ProxmoxHost(_config(lab, "Machine1"), task_poll_interval=0.02)
    try:
        with pytest.raises(NoQuorumError) as err:
            await host.start("102")
        assert err.value.offline == ("pve2",)
        assert "cluster homelab has no quorum, pve2 is offline" in err.value.message
        assert "cluster not ready - no quorum?" in err.value.message
        assert lab.state("VM-Ubuntu") == "stopped"
        lab.set_qdevice(True)
        await host.start("102")
        assert lab.state("VM-Ubuntu") == "running"
        # A call for an offline member, proxied: unreachable, with PVE's reason.
        upid = "UPID:pve2:00001234:00005678:6700AB12:vzstart:202:wakehub@pve!wakehub:"
        with pytest.raises(UnreachableError, match="No route to host"):
            await host.wait_task(upid, max_wait=5)
    finally:
        await host.close()


async def test_server_message_is_kept(homelab: HomelabThread) -> None:
    """An unknown task: the error carries PVE's "no such task", not a bare 400."""
    homelab.set_power("Machine1", "on")
    host = ProxmoxHost(_config(homelab, "Machine1"))
    unknown = "UPID:pve1:00001234:00005678:6700AB12:qmstart:101:wakehub@pve!wakehub:"
    try:
        with pytest.raises(ApiError) as err:
            await host.wait_task(unknown, max_wait=5)
        assert err.value.message == (
            "HTTP 400: Parameter verification failed: upid: no such task"
        )
    finally:
        await host.close()


async def test_ca_pin_survives_renewal_not_a_new_ca(homelab: HomelabThread) -> None:
    """A CA pin outlives pveupdate's renewal; a leaf pin does not; a new CA is refused."""
    homelab.set_power("Machine1", "on")
    ca_pinned = ProxmoxHost(_config(homelab, "Machine1"))
    leaf_pinned = ProxmoxHost(_config(homelab, "Machine1", pin="leaf"))
    other_ca = _ready(homelab, "Machine2")["ca_certificate"]
    try:
        await ca_pinned.check()
        await leaf_pinned.check()
        # The CA the node serves, read through the pinned leaf.
        assert (
            await leaf_pinned.certificate_authority()
            == (_ready(homelab, "Machine1")["ca_certificate"])
        )
        homelab.fault("Machine1", "cert_renew")
        await ca_pinned.check()
        with pytest.raises(TlsVerificationError) as refused:
            await leaf_pinned.check()
        assert refused.value.certificate_refused
        # Another CA (Machine2's, standalone) does not sign Machine1's certificate.
        wrong = ProxmoxHost(
            replace(_config(homelab, "Machine1"), ca_certificate=other_ca)
        )
        with pytest.raises(TlsVerificationError):
            await wrong.check()
        await wrong.close()
        homelab.fault("Machine1", "ca_change")
        with pytest.raises(TlsVerificationError) as refused:
            await ca_pinned.check()
        assert refused.value.certificate_refused
        served = await fetch_certificate(
            "127.0.0.1", _ready(homelab, "Machine1")["port"]
        )
        assert not issued_by(served, other_ca)
        assert issued_by(served, _ready(homelab, "Machine1")["ca_certificate"])
    finally:
        await ca_pinned.close()
        await leaf_pinned.close()
        homelab.reset()


async def test_privilege_separated_token(homelab: HomelabThread) -> None:
    """A privsep token without ACLs: no guest, no 403; its privileges are empty."""
    homelab.set_power("Machine2", "on")
    host = ProxmoxHost(_config(homelab, "Machine2", token="privsep"))
    try:
        assert await host.read_states() == {}
        assert await host.privileges() == frozenset()
        homelab.grant_token("privsep", ["VM.Audit", "VM.PowerMgmt", "Sys.Audit"])
        assert await host.privileges() == {"VM.Audit", "VM.PowerMgmt", "Sys.Audit"}
        assert set(await host.read_states()) == {"201", "202", "203"}
    finally:
        await host.close()


def test_ca_pin_validation(homelab: HomelabThread) -> None:
    """Only a CA can be pinned as one, and not together with a leaf pin."""
    pve = homelab.ready["nodes"]["Machine1"]["proxmox"]
    base: dict[str, Any] = {
        "host": "h",
        "node": "n",
        "user": "u@pve",
        "token_name": "t",
        "token_value": "v",
        "verify_tls": False,
    }
    ProxmoxConfig(**base, ca_certificate=pve["ca_certificate"])
    with pytest.raises(InvalidConfigError, match="not a CA"):
        ProxmoxConfig(**base, ca_certificate=pve["certificate"])
    with pytest.raises(InvalidConfigError, match="invalid CA"):
        ProxmoxConfig(**base, ca_certificate="not PEM")
    with pytest.raises(InvalidConfigError, match="either a CA or a certificate"):
        ProxmoxConfig(
            **base, ca_certificate=pve["ca_certificate"], fingerprint=pve["fingerprint"]
        )
    assert certificate_fingerprint(pve["ca_certificate"]) == pve["ca_fingerprint"]
    with pytest.raises(InvalidConfigError):
        certificate_fingerprint("nope")


async def test_actions_refuse_another_members_node(
    cluster_homelab: HomelabThread,
) -> None:
    """An entry naming pve1 on pve2's API (the old flow's pick): nothing is sent.

    pve2's API would forward the start to pve1 and power pve1 off.
    """
    lab = cluster_homelab
    lab.set_power("Machine1", "on")
    lab.set_power("Machine2", "on")
    wrong = ProxmoxHost(_config(lab, "Machine2", node="pve1"), task_poll_interval=0.02)
    try:
        assert "102" in await wrong.read_states()  # pve1's guests, listed by pve2
        with pytest.raises(NodeIdentityError, match="is node pve2, not pve1"):
            await wrong.start("102")
        with pytest.raises(NodeIdentityError):
            await wrong.node_shutdown()
    finally:
        await wrong.close()
    assert lab.state("VM-Ubuntu") == "stopped"
    assert lab.state("Machine1") == "on"
    assert not [e for e in lab.log() if e["channel"] == "proxmox"]
    # A right one checks once, then acts.
    lab.reset_requests()
    right = ProxmoxHost(_config(lab, "Machine2"), task_poll_interval=0.02)
    try:
        await right.start("202")
        await right.start("203")
    finally:
        await right.close()
    assert lab.requests()["endpoints"]["proxmox GET /cluster/status"] == 1


async def test_identity_and_ca_fallbacks(cluster_homelab: HomelabThread) -> None:
    """No Sys.Audit: quorum unnamed, no CA to read; a CA that signed nothing served."""
    from custom_components.wakehub.channels.proxmox import ClusterStatus

    lab = cluster_homelab
    lab.set_power("Machine1", "on")
    vmuser = ProxmoxHost(_config(lab, "Machine1", token="vmuser"))
    try:
        # The identity cannot be read (403): the action goes ahead, and fails
        # on quorum with PVE's own message only.
        with pytest.raises(NoQuorumError) as err:
            await vmuser.start("102")
        assert err.value.offline == ()
        assert err.value.message == "cluster not ready - no quorum?"
        assert await vmuser.certificate_authority() is None
    finally:
        await vmuser.close()
    host = ProxmoxHost(_config(lab, "Machine1", pin="leaf"))
    try:

        def _other_ca(homelab: Homelab) -> None:
            from tests.homelab.crypto import make_ca

            homelab.pve_ca["Machine1"] = make_ca("elsewhere")

        lab.call(_other_ca)
        # The node serves a certificate its listed CA did not sign.
        assert await host.certificate_authority() is None

        async def _nobody_local() -> ClusterStatus:
            return ClusterStatus(name="homelab", quorate=True, members=())

        host.cluster_status = _nobody_local  # type: ignore[method-assign]
        with pytest.raises(NodeIdentityError, match="0 of 0 members marked local"):
            await host.identify_node()
    finally:
        await host.close()
        lab.reset()


def test_ca_without_constraints_is_refused() -> None:
    """A certificate without BasicConstraints cannot be pinned as a CA."""
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "bare")])
    now = dt.datetime.now(dt.UTC)
    bare = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    pem = bare.public_bytes(serialization.Encoding.PEM).decode()
    with pytest.raises(InvalidConfigError, match="not a CA"):
        issued_by(b"", pem)


async def test_ticket_login_through_the_ca_pin(homelab: HomelabThread) -> None:
    """A password login (POST /access/ticket) goes through the CA pin too."""
    homelab.set_power("Machine2", "on")
    pve = _ready(homelab, "Machine2")
    user, realm = pve["user"].split("@")
    config = ProxmoxConfig(
        host="127.0.0.1",
        port=pve["port"],
        node=pve["node"],
        user=user,
        realm=realm,
        password=pve["password"],
        verify_tls=False,
        ca_certificate=pve["ca_certificate"],
    )
    host = ProxmoxHost(config)
    try:
        await host.check()
    finally:
        await host.close()
    wrong = ProxmoxHost(
        replace(config, ca_certificate=_ready(homelab, "Machine1")["ca_certificate"])
    )
    try:
        with pytest.raises(TlsVerificationError):
            await wrong.check()
    finally:
        await wrong.close()


async def test_trusted_certificate_keeps_normal_verification(
    homelab: HomelabThread, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Verification on (a publicly trusted, ACME-like certificate): no pin, renewals fine.

    The trust store is requests' usual one (certifi) plus, for this test only,
    a fresh CA of Machine1's (standing in for a public CA). requests reads its
    default bundle from ``requests.adapters.DEFAULT_CA_BUNDLE_PATH`` (2.32 also
    preloads it into ``_preloaded_ssl_context``, which 2.33 dropped), so both
    are pointed at a bundle that adds that CA.
    """
    import certifi
    import requests.adapters
    from urllib3.util.ssl_ import create_urllib3_context

    homelab.set_power("Machine1", "on")
    homelab.fault("Machine1", "ca_change")  # a CA no other test trusts
    pve = _ready(homelab, "Machine1")
    bundle = tmp_path / "bundle.pem"
    bundle.write_text(Path(certifi.where()).read_text() + "\n" + pve["ca_certificate"])
    monkeypatch.setattr(requests.adapters, "DEFAULT_CA_BUNDLE_PATH", str(bundle))
    if hasattr(requests.adapters, "_preloaded_ssl_context"):
        context = create_urllib3_context()
        context.load_verify_locations(str(bundle))
        monkeypatch.setattr(requests.adapters, "_preloaded_ssl_context", context)
    host = ProxmoxHost(
        replace(
            _config(homelab, "Machine1", pin="leaf"), fingerprint=None, verify_tls=True
        )
    )
    try:
        await host.check()
        homelab.fault("Machine1", "cert_renew")
        await host.check()
    finally:
        await host.close()
        homelab.reset()
