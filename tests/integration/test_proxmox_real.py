"""The config flow, reauth and cascades against a Proxmox VE that behaves like one.

Clusters (the machine's own node, never another member's), privilege-
separated tokens, a CA pin across certificate renewals with a review of a
changed CA, and a cluster without quorum. Each test fails on a flow that
takes the first name of ``GET /nodes``, accepts a token that sees no guest,
pins only the leaf certificate or reports quorum as a bare API error.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from homeassistant.config_entries import SOURCE_REAUTH, ConfigEntryState
from homeassistant.data_entry_flow import FlowResultType

from custom_components.wakehub.const import DOMAIN
from custom_components.wakehub.core.ids import guest_id
from custom_components.wakehub.migration import async_move_guest

from .conftest import async_next_poll, state_of
from .flow_helpers import choose, node_doc, proxmox_token_input, through_ssh

if TYPE_CHECKING:
    from freezegun.api import FrozenDateTimeFactory
    from homeassistant.core import HomeAssistant

    from tests.homelab import Homelab, HomelabThread


def _services(result: Any) -> dict[str, str]:
    """The ``services`` step's options: node id -> label."""
    (selector,) = result["data_schema"].schema.values()
    return {opt["value"]: opt["label"] for opt in selector.config["options"]}


async def _proxmox_form(hass: HomeAssistant, lab: Any, name: str) -> Any:
    """Through the machine and SSH steps to the Proxmox token form."""
    result = await through_ssh(hass, lab, name)
    result = await choose(hass, result, "proxmox")
    return await choose(hass, result, "proxmox_token")


async def _added(
    hass: HomeAssistant,
    lab: Any,
    name: str,
    certificate: dict[str, Any],
    nodes: list[str],
) -> Any:
    """Through the whole flow with WakeHub's token: ``certificate`` answers the
    certificate review, ``nodes`` are the guests managed. The last result."""
    result = await _proxmox_form(hass, lab, name)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], proxmox_token_input(lab, name)
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], certificate
    )
    result = await choose(hass, result, "finish")
    return await hass.config_entries.flow.async_configure(
        result["flow_id"], {"nodes": nodes}
    )


async def test_cluster_machine2_gets_only_its_own_guests(
    hass: HomeAssistant, cluster_homelab: HomelabThread
) -> None:
    """Machine2 in a cluster with Machine1: node pve2, pve2's guests, nothing of pve1."""
    lab = cluster_homelab
    lab.set_power("Machine1", "on")
    lab.set_power("Machine2", "on")
    mac = node_doc(lab, "Machine2")["mac"]
    result = await _proxmox_form(hass, lab, "Machine2")
    # A node typed by hand that is the other member is refused.
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], proxmox_token_input(lab, "Machine2", node="pve1")
    )
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    assert result["step_id"] == "proxmox_token"
    assert result["errors"] == {"base": "node_identity"}
    assert "is node pve2, not pve1" in result["description_placeholders"]["identity"]
    # Left empty, the node is the one pve2's API says it is (GET /nodes lists
    # pve1 first).
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], proxmox_token_input(lab, "Machine2", node="")
    )
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    result = await choose(hass, result, "finish")
    assert _services(result) == {
        guest_id(mac, 201): "Home-Assistant (VM 201)",
        guest_id(mac, 202): "Jellyfin (LXC 202)",
        guest_id(mac, 203): "Cloudflared (LXC 203)",
    }
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"nodes": [guest_id(mac, 202)]}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"]["proxmox"]["node"] == "pve2"
    # Its node shutdown and guest power go to pve2, never to pve1.
    entry = result["result"]
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    lab.set_power("Jellyfin", "running")
    host = entry.runtime_data.channels.proxmox
    assert host is not None
    await host.stop("202")
    await host.node_shutdown()
    await lab.async_wait_state("Machine2", "off", timeout=10)
    assert lab.state("Machine1") == "on"
    assert {(e["node"], e["action"]) for e in lab.log()} == {
        ("Jellyfin", "pve_shutdown"),
        ("Machine2", "pve_node_shutdown"),
    }
    await hass.config_entries.async_unload(entry.entry_id)


async def test_api_of_another_member_is_refused(
    hass: HomeAssistant, cluster_homelab: HomelabThread
) -> None:
    """Machine2's entry pointed at pve1's API: pve2 has the machine's address."""
    lab = cluster_homelab
    lab.set_power("Machine1", "on")
    lab.set_power("Machine2", "on")

    def _addresses(homelab: Homelab) -> None:
        homelab.cluster_ips["Machine1"] = "192.0.2.11"

    lab.call(_addresses)
    try:
        result = await _proxmox_form(hass, lab, "Machine2")
        pve1_port = node_doc(lab, "Machine1")["proxmox"]["port"]
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"],
            proxmox_token_input(lab, "Machine2", node="", port=pve1_port),
        )
        result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
        assert result["errors"] == {"base": "node_identity"}
        assert result["description_placeholders"]["identity"].endswith(
            "is node pve1, but the machine's address 127.0.0.1 is node pve2's"
        )
    finally:

        def _restore(homelab: Homelab) -> None:
            homelab.cluster_ips["Machine1"] = "127.0.0.1"

        lab.call(_restore)


async def test_privilege_separated_token_gets_the_acl_to_add(
    hass: HomeAssistant, homelab: HomelabThread
) -> None:
    """A privsep token sees no guest: the flow names the ACL, then accepts it."""
    homelab.set_power("Machine2", "on")
    token = node_doc(homelab, "Machine2")["proxmox"]["tokens"]["privsep"]["value"]
    form = proxmox_token_input(
        homelab, "Machine2", token_name="privsep", token_value=token
    )
    result = await _proxmox_form(hass, homelab, "Machine2")
    result = await hass.config_entries.flow.async_configure(result["flow_id"], form)
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    assert result["step_id"] == "proxmox_token"
    assert result["errors"] == {"base": "acl_missing"}
    placeholders = result["description_placeholders"]
    assert placeholders["privilege"] == "VM.Audit VM.PowerMgmt Sys.Audit"
    assert placeholders["acl"] == (
        "pveum acl modify / --tokens 'wakehub@pve!privsep' --roles WakeHub"
    )
    homelab.grant_token("privsep", ["VM.Audit", "VM.PowerMgmt", "Sys.Audit"])
    result = await hass.config_entries.flow.async_configure(result["flow_id"], form)
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    result = await choose(hass, result, "finish")
    assert len(_services(result)) == 3


async def test_leaf_pin_on_request(hass: HomeAssistant, homelab: HomelabThread) -> None:
    """ "Pin only this certificate": the fingerprint is pinned, no CA."""
    homelab.set_power("Machine1", "on")
    doc = node_doc(homelab, "Machine1")
    result = await _added(hass, homelab, "Machine1", {"pin_certificate_only": True}, [])
    assert result["data"]["proxmox"]["fingerprint"] == doc["proxmox"]["fingerprint"]
    assert result["data"]["proxmox"]["ca"] is None


async def _ca_pinned_entry(hass: HomeAssistant, lab: HomelabThread) -> Any:
    """Machine1 added through the flow, its CA pinned, VM-Ubuntu managed."""
    lab.set_power("Machine1", "on")
    mac = node_doc(lab, "Machine1")["mac"]
    result = await _added(hass, lab, "Machine1", {}, [guest_id(mac, 102)])
    assert result["data"]["proxmox"]["ca"]
    await hass.async_block_till_done()
    return result["result"]


async def test_renewed_certificate_breaks_nothing(
    hass: HomeAssistant,
    homelab: HomelabThread,
    freezer: FrozenDateTimeFactory,
) -> None:
    """pveupdate renews the node certificate: the CA pin keeps every call working."""
    entry = await _ca_pinned_entry(hass, homelab)
    homelab.set_power("VM-Ubuntu", "running")
    await async_next_poll(hass, freezer)
    assert state_of(hass, "VM-Ubuntu") == "on"
    homelab.fault("Machine1", "cert_renew")
    homelab.set_power("VM-Ubuntu", "stopped")
    await async_next_poll(hass, freezer)
    assert state_of(hass, "VM-Ubuntu") == "off"
    assert not hass.config_entries.flow.async_progress()
    # A reauth started anyway finds nothing to review: the CA signed the new one.
    result = await hass.config_entries.flow.async_init(
        DOMAIN,
        context={"source": SOURCE_REAUTH, "entry_id": entry.entry_id},
        data=dict(entry.data),
    )
    assert result["step_id"] == "reauth_confirm"
    hass.config_entries.flow.async_abort(result["flow_id"])
    await hass.config_entries.async_unload(entry.entry_id)
    homelab.reset()


async def test_new_ca_opens_the_review(
    hass: HomeAssistant,
    homelab: HomelabThread,
    freezer: FrozenDateTimeFactory,
) -> None:
    """A new cluster CA: reauth shows the pinned CA and the new certificate."""
    entry = await _ca_pinned_entry(hass, homelab)
    before = node_doc(homelab, "Machine1")["proxmox"]
    homelab.fault("Machine1", "ca_change")
    now = homelab.call(lambda lab: lab.ready_document())["nodes"]["Machine1"]["proxmox"]
    await async_next_poll(hass, freezer)
    assert state_of(hass, "VM-Ubuntu") == "unavailable"
    (flow,) = hass.config_entries.flow.async_progress()
    assert flow["context"]["source"] == SOURCE_REAUTH
    assert flow["step_id"] == "certificate_changed"
    form = await hass.config_entries.flow.async_configure(flow["flow_id"])
    placeholders = form["description_placeholders"]
    assert placeholders["pinned"] == before["ca_fingerprint"]
    assert placeholders["presented"] == now["fingerprint"]
    result = await hass.config_entries.flow.async_configure(
        flow["flow_id"], {"accept_certificate": False}
    )
    assert result["errors"] == {"accept_certificate": "certificate_not_accepted"}
    result = await hass.config_entries.flow.async_configure(
        flow["flow_id"], {"accept_certificate": True}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reauth_successful"
    assert entry.data["proxmox"]["ca"] == now["ca_certificate"]
    assert entry.data["proxmox"]["fingerprint"] is None
    await hass.async_block_till_done()
    await async_next_poll(hass, freezer)
    assert state_of(hass, "VM-Ubuntu") == "off"
    await hass.config_entries.async_unload(entry.entry_id)
    homelab.reset()


async def test_leaf_pin_review_and_wrong_secret(
    hass: HomeAssistant, homelab: HomelabThread
) -> None:
    """A renewed certificate under a leaf pin: reviewed, then the secret is asked."""
    homelab.set_power("Machine1", "on")
    result = await _added(hass, homelab, "Machine1", {"pin_certificate_only": True}, [])
    entry = result["result"]
    await hass.async_block_till_done()
    old = entry.data["proxmox"]["fingerprint"]
    homelab.fault("Machine1", "cert_renew")
    new = homelab.call(lambda lab: lab.ready_document())["nodes"]["Machine1"][
        "proxmox"
    ]["fingerprint"]

    def _revoke(lab: Homelab) -> None:
        lab.pve_tokens["wakehub@pve!wakehub"].value = "revoked"

    saved = homelab.call(lambda lab: lab.pve_tokens["wakehub@pve!wakehub"].value)
    homelab.call(_revoke)
    try:
        result = await hass.config_entries.flow.async_init(
            DOMAIN,
            context={"source": SOURCE_REAUTH, "entry_id": entry.entry_id},
            data=dict(entry.data),
        )
        assert result["step_id"] == "certificate_changed"
        assert result["description_placeholders"]["pinned"] == old
        assert result["description_placeholders"]["presented"] == new
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {"accept_certificate": True}
        )
        # The new certificate works, the token does not: its secret is asked.
        assert result["step_id"] == "reauth_confirm"
    finally:

        def _restore(lab: Homelab) -> None:
            lab.pve_tokens["wakehub@pve!wakehub"].value = saved

        homelab.call(_restore)
    await hass.config_entries.async_unload(entry.entry_id)
    homelab.reset()


async def test_certificate_review_edge_cases(
    hass: HomeAssistant, homelab: HomelabThread
) -> None:
    """Off, unreadable or unchanged: no review. An API error keeps the review open."""
    homelab.set_power("Machine1", "on")
    result = await _added(hass, homelab, "Machine1", {"pin_certificate_only": True}, [])
    entry = result["result"]
    await hass.async_block_till_done()

    async def _reauth(data: dict[str, Any]) -> Any:
        return await hass.config_entries.flow.async_init(
            DOMAIN,
            context={"source": SOURCE_REAUTH, "entry_id": entry.entry_id},
            data=data,
        )

    # Unchanged certificate: straight to the secrets.
    result = await _reauth(dict(entry.data))
    assert result["step_id"] == "reauth_confirm"
    hass.config_entries.flow.async_abort(result["flow_id"])
    # A certificate that cannot be read (nothing listens there).
    unreadable = {**entry.data["proxmox"], "port": 1}
    hass.config_entries.async_update_entry(
        entry, data={**entry.data, "proxmox": unreadable}
    )
    result = await _reauth(dict(entry.data))
    assert result["step_id"] == "reauth_confirm"
    hass.config_entries.flow.async_abort(result["flow_id"])
    hass.config_entries.async_update_entry(
        entry,
        data={
            **entry.data,
            "proxmox": {
                **unreadable,
                "port": node_doc(homelab, "Machine1")["proxmox"]["port"],
            },
        },
    )
    homelab.fault("Machine1", "cert_renew")
    # The machine off: nothing to review yet.
    homelab.set_power("Machine1", "off")
    result = await _reauth(dict(entry.data))
    assert result["step_id"] == "reauth_confirm"
    hass.config_entries.flow.async_abort(result["flow_id"])
    homelab.set_power("Machine1", "on")
    result = await _reauth(dict(entry.data))
    assert result["step_id"] == "certificate_changed"
    homelab.fault("Machine1", "api_status", 500)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"accept_certificate": True}
    )
    assert result["step_id"] == "certificate_changed"
    assert result["errors"] == {"base": "cannot_connect"}
    homelab.fault("Machine1", "api_status", None)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"accept_certificate": True}
    )
    assert result["reason"] == "reauth_successful"
    renewed = homelab.call(lambda lab: lab.ready_document())["nodes"]["Machine1"][
        "proxmox"
    ]
    assert entry.data["proxmox"]["fingerprint"] == renewed["fingerprint"]
    assert entry.data["proxmox"]["ca"] is None
    await hass.async_block_till_done()
    await hass.config_entries.async_unload(entry.entry_id)
    homelab.reset()


def test_acl_command_for_a_user() -> None:
    """Password credentials: the ACL goes to the user, realm added when missing."""
    from custom_components.wakehub.flows.checks import acl_command as _acl_command

    assert _acl_command({"username": "wakehub", "realm": "pve"}) == (
        "pveum acl modify / --users 'wakehub@pve' --roles WakeHub"
    )
    assert _acl_command({"username": "ops@pam"}) == (
        "pveum acl modify / --users 'ops@pam' --roles WakeHub"
    )


async def test_no_quorum_cascade_names_the_offline_member(
    hass: HomeAssistant, cluster_homelab: HomelabThread
) -> None:
    """Machine2 off in a two-node cluster: VM-Ubuntu's start fails on quorum.

    The notification is WakeHub's own (not a bare HTTP 500) and names pve2.
    """
    from homeassistant.components import persistent_notification
    from homeassistant.const import SERVICE_TURN_ON
    from homeassistant.core import callback

    from .hub_helpers import async_setup_homelab, async_turn, async_wait_idle

    lab = cluster_homelab
    lab.set_power("Machine1", "on")
    await async_setup_homelab(hass, lab)
    notifications: dict[str, Any] = {}
    persistent_notification.async_register_callback(
        hass, callback(lambda _type, updated: notifications.update(updated))
    )
    await async_turn(hass, SERVICE_TURN_ON, "VM-Ubuntu")
    await async_wait_idle(hass)
    status = hass.states.get("sensor.vm_ubuntu_status")
    assert status is not None
    assert status.attributes["error_code"] == "no_quorum"
    assert "pve2 is offline" in status.attributes["error_message"]
    assert lab.state("VM-Ubuntu") == "stopped"
    (notification,) = [
        n for key, n in notifications.items() if key.startswith("wakehub_cascade_")
    ]
    assert "the Proxmox cluster has no quorum" in notification["title"]
    assert "cluster homelab has no quorum, pve2 is offline" in notification["message"]
    assert "QDevice" in notification["message"]


async def test_migrated_guest_moves_with_its_settings(
    hass: HomeAssistant,
    cluster_homelab: HomelabThread,
    freezer: FrozenDateTimeFactory,
) -> None:
    """VM-Docker migrates from pve1 to pve2: its containers, edges and entities follow.

    It is not "gone" on Machine1 and "new" on Machine2: Machine2's entry now
    manages it (and sandbox and plex inside it) under its new ids, the edges
    name the new ids, and the entities keep their entity ids.
    """
    from homeassistant.helpers import entity_registry as er, issue_registry as ir

    from .conftest import node_id_of
    from .hub_helpers import async_setup_homelab, hub_of

    lab = cluster_homelab
    lab.set_power("Machine1", "on")
    lab.set_power("Machine2", "on")
    lab.set_power("VM-Docker", "running")
    ready = lab.ready
    entries = await async_setup_homelab(
        hass,
        lab,
        edges=(("sandbox", "Jellyfin"), ("plex", "NAS"), ("pihole", "plex")),
    )
    await async_next_poll(hass, freezer)
    registry = er.async_get(hass)
    entity_id = registry.async_get_entity_id(
        "sensor", DOMAIN, f"{node_id_of(ready, 'VM-Docker')}-status"
    )
    assert entity_id == "sensor.vm_docker_status"
    old_vm = node_id_of(ready, "VM-Docker")
    machine2 = ready["nodes"]["Machine2"]["mac"]
    new_vm = guest_id(machine2, 101)

    lab.migrate("VM-Docker", "Machine2")
    await async_next_poll(hass, freezer)
    await hass.async_block_till_done()

    one, two = entries["Machine1"], entries["Machine2"]
    assert old_vm not in one.options["nodes"]
    assert not [n for n in one.options["nodes"] if n.startswith(f"{old_vm}/")]
    moved = two.options["nodes"]
    assert moved[new_vm]["parent"] == machine2
    assert moved[new_vm]["docker"] is not None
    assert moved[f"{new_vm}/docker/sandbox"]["parent"] == new_vm
    assert moved[f"{new_vm}/docker/plex"]["parent"] == new_vm
    jellyfin = node_id_of(ready, "Jellyfin")
    nas = node_id_of(ready, "NAS")
    assert one.options["dependencies"] == []
    assert sorted(map(tuple, two.options["dependencies"])) == sorted(
        [(f"{new_vm}/docker/sandbox", jellyfin), (f"{new_vm}/docker/plex", nas)]
    )
    # An edge of a third entry naming a moved node is renamed where it is.
    assert entries["RaspberryPi"].options["dependencies"] == [
        [node_id_of(ready, "pihole"), f"{new_vm}/docker/plex"]
    ]
    entity = registry.async_get("sensor.vm_docker_status")
    assert entity is not None
    assert entity.unique_id == f"{new_vm}-status"
    assert entity.config_entry_id == two.entry_id
    assert not ir.async_get(hass).async_get_issue(DOMAIN, f"node_missing_{old_vm}")
    await async_next_poll(hass, freezer)
    assert state_of(hass, "VM-Docker") == "on"
    assert new_vm in hub_of(hass).topology.nodes
    assert old_vm not in hub_of(hass).topology.nodes
    # Nothing more to move: not managed there, or already managed here.
    assert async_move_guest(hass, one, two, old_vm) is None
    assert async_move_guest(hass, two, two, new_vm) is None


async def test_migration_to_an_unmanaged_node_stays_missing(
    hass: HomeAssistant,
    cluster_homelab: HomelabThread,
    freezer: FrozenDateTimeFactory,
) -> None:
    """A guest that went to a node no entry manages stays where it was, missing."""
    from homeassistant.helpers import issue_registry as ir
    from homeassistant.setup import async_setup_component

    from .conftest import entry_data_for, machine_entry, node_id_of

    lab = cluster_homelab
    lab.set_power("Machine1", "on")
    lab.set_power("Machine2", "on")
    entry = machine_entry("Machine1", *entry_data_for(lab, "Machine1"))
    entry.add_to_hass(hass)
    assert await async_setup_component(hass, DOMAIN, {})
    await hass.async_block_till_done()
    lab.migrate("VM-Ubuntu", "Machine2")
    await async_next_poll(hass, freezer)
    vm = node_id_of(lab.ready, "VM-Ubuntu")
    assert vm in entry.options["nodes"]
    assert ir.async_get(hass).async_get_issue(DOMAIN, f"node_missing_{vm}")
    assert entry.runtime_data.coordinator.data.migrated == {vm: "pve2"}
