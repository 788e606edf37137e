"""Junk in every field of every flow form, sent as a REST client would.

Each field has one validator (``flows/validators.py``) shared by the config,
options, reauth and reconfigure steps: junk gets a translated form error on
that field, never an exception (an HTTP 500 through the REST API). ``inf``
in a number field is refused by Home Assistant's own number selector before
the step runs (``InvalidData``, an HTTP 400); ``nan`` passes the selector,
so the validators refuse it.

A stored option the validators refuse is left out when the entry loads: the
entry loads, a repair issue names the option, and saving the node's settings
in the options flow clears the issue and brings the option back.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
import math
from typing import TYPE_CHECKING, Any

from homeassistant.config_entries import (
    SOURCE_REAUTH,
    SOURCE_RECONFIGURE,
    SOURCE_USER,
    ConfigEntryState,
)
from homeassistant.data_entry_flow import FlowResultType, InvalidData
from homeassistant.helpers import issue_registry as ir
from homeassistant.setup import async_setup_component
import pytest

from custom_components.wakehub.compat import async_get_node_device
from custom_components.wakehub.const import DOMAIN
from custom_components.wakehub.core.ids import guest_id, machine_id
from custom_components.wakehub.flows import validators
from custom_components.wakehub.flows.errors import FieldError

from .conftest import entry_data_for, machine_entry
from .flow_helpers import (
    choose,
    machine_input,
    node_doc,
    proxmox_token_input,
    ssh_input,
    start_machine_flow,
    through_ssh,
)

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant
    from pytest_homeassistant_custom_component.common import MockConfigEntry
    from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

NAN = float("nan")
LONG = "x" * 10_000
NOT_A_KEY = (
    "-----BEGIN OPENSSH PRIVATE KEY-----\nnot a key\n-----END OPENSSH PRIVATE KEY-----"
)

Opener = Callable[["HomeAssistant", Any], Awaitable[tuple[Any, dict[str, Any]]]]


# ------------------------------------------------------------- the forms


async def _user(hass: HomeAssistant, homelab: Any) -> tuple[Any, dict[str, Any]]:
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_USER}
    )
    return result, machine_input(homelab, "RaspberryPi")


async def _ssh(hass: HomeAssistant, homelab: Any) -> tuple[Any, dict[str, Any]]:
    homelab.set_power("RaspberryPi", "on")
    result = await start_machine_flow(hass, homelab, "RaspberryPi")
    assert result["step_id"] == "ssh"
    return result, ssh_input(homelab, "RaspberryPi")


async def _ssh_untested(
    hass: HomeAssistant, homelab: Any
) -> tuple[Any, dict[str, Any]]:
    """The machine is off: "save without testing" asks the SSH fields."""
    homelab.set_power("RaspberryPi", "off")
    result = await start_machine_flow(hass, homelab, "RaspberryPi")
    result = await choose(hass, result, "save_untested")
    assert result["step_id"] == "ssh"
    return result, ssh_input(homelab, "RaspberryPi")


async def _proxmox(hass: HomeAssistant, homelab: Any) -> tuple[Any, dict[str, Any]]:
    homelab.set_power("Machine2", "on")
    result = await through_ssh(hass, homelab, "Machine2")
    result = await choose(hass, result, "proxmox")
    result = await choose(hass, result, "proxmox_token")
    return result, proxmox_token_input(homelab, "Machine2")


async def _docker(hass: HomeAssistant, homelab: Any) -> tuple[Any, dict[str, Any]]:
    homelab.set_power("RaspberryPi", "on")
    doc = node_doc(homelab, "RaspberryPi")
    result = await through_ssh(hass, homelab, "RaspberryPi")
    result = await choose(hass, result, "docker")
    result = await choose(hass, result, "docker_tcp")
    return result, {"host": doc["host"], "port": doc["docker"]["port"]}


async def _entry(hass: HomeAssistant, homelab: Any) -> MockConfigEntry:
    """Machine1's entry, loaded (Machine1 off: nothing is asked of it)."""
    data, options = entry_data_for(homelab, "Machine1", None)
    entry = machine_entry("Machine1", data, options)
    entry.add_to_hass(hass)
    await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    return entry


async def _reconfigure(hass: HomeAssistant, homelab: Any) -> tuple[Any, dict[str, Any]]:
    entry = await _entry(hass, homelab)
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_RECONFIGURE, "entry_id": entry.entry_id}
    )
    data = entry.data
    return result, {
        "host": data["host"],
        "broadcast_address": data["broadcast_address"],
        "broadcast_port": data["broadcast_port"],
        "probe_port": data["probe_port"],
        "port": data["ssh"]["port"],
    }


async def _reauth(hass: HomeAssistant, homelab: Any) -> tuple[Any, dict[str, Any]]:
    entry = await _entry(hass, homelab)
    result = await hass.config_entries.flow.async_init(
        DOMAIN,
        context={"source": SOURCE_REAUTH, "entry_id": entry.entry_id},
        data=dict(entry.data),
    )
    assert result["step_id"] == "reauth_confirm"
    secret = node_doc(homelab, "Machine1")["proxmox"]["token_value"]
    return result, {"password": "secret", "token_value": secret}


async def _open_options(hass: HomeAssistant, entry: MockConfigEntry, menu: str) -> Any:
    """The options flow of ``entry``, at the menu item ``menu``."""
    result = await hass.config_entries.options.async_init(entry.entry_id)
    return await hass.config_entries.options.async_configure(
        result["flow_id"], {"next_step_id": menu}
    )


async def _open_node_settings(
    hass: HomeAssistant, entry: MockConfigEntry, node: str
) -> Any:
    """The options flow of ``entry``, at the settings form of ``node``."""
    result = await _open_options(hass, entry, "node_settings")
    return await hass.config_entries.options.async_configure(
        result["flow_id"], {"node": node}
    )


async def _options_node(
    hass: HomeAssistant, homelab: Any, node: str
) -> tuple[Any, dict[str, Any]]:
    entry = await _entry(hass, homelab)
    return await _open_node_settings(hass, entry, node), {
        "confirm_shutdown": False,
        "pinned": False,
        "start_timeout": 5,
    }


async def _guest(hass: HomeAssistant, homelab: Any) -> tuple[Any, dict[str, Any]]:
    mac = node_doc(homelab, "Machine1")["mac"]
    result, base = await _options_node(hass, homelab, guest_id(mac, 101))
    assert result["step_id"] == "node"
    return result, {
        **base,
        "name": "VM-Docker",
        "stop_timeout": 180,
        "url": "http://vm-docker.lan:8096",
        "docker": "none",
        "readiness": "running",
        "settle_time": 30,
        "shutdown_timeout": 60,
        "force_stop": False,
    }


async def _machine(hass: HomeAssistant, homelab: Any) -> tuple[Any, dict[str, Any]]:
    result, base = await _options_node(hass, homelab, "machine")
    assert result["step_id"] == "node"
    return result, {**base, "stop_timeout": 5, "probe_ports": "8006"}


async def _polling(hass: HomeAssistant, homelab: Any) -> tuple[Any, dict[str, Any]]:
    entry = await _entry(hass, homelab)
    result = await _open_options(hass, entry, "polling")
    return result, {"scan_interval": 30, "proposal_expiry": 60}


async def _guest_docker(
    hass: HomeAssistant, homelab: Any
) -> tuple[Any, dict[str, Any]]:
    """VM-Docker's Docker API through its own SSH."""
    result, values = await _guest(hass, homelab)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {**values, "docker": "ssh"}
    )
    assert result["step_id"] == "node_docker"
    return result, {
        "host": "127.0.0.1",
        "port": 22,
        "username": "root",
        "password": "secret",
        "socket_path": "/var/run/docker.sock",
    }


FORMS: dict[str, Opener] = {
    "user": _user,
    "ssh": _ssh,
    "ssh_untested": _ssh_untested,
    "proxmox_token": _proxmox,
    "docker_tcp": _docker,
    "reconfigure": _reconfigure,
    "reauth_confirm": _reauth,
    "node (guest)": _guest,
    "node (machine)": _machine,
    "polling": _polling,
    "node_docker (ssh)": _guest_docker,
}
OPTIONS_FORMS = {"node (guest)", "node (machine)", "polling", "node_docker (ssh)"}


def _manager(hass: HomeAssistant, form: str) -> Any:
    """The flow manager that runs ``form``: the options' or the config flows'."""
    if form in OPTIONS_FORMS:
        return hass.config_entries.options
    return hass.config_entries.flow


# form, field, junk, the form error on that field.
JUNK: list[tuple[str, str, Any, str]] = [
    ("user", "name", "", "invalid_name"),
    ("user", "name", "   ", "invalid_name"),
    ("user", "name", LONG, "invalid_name"),
    ("user", "name", "NAS\nbackup", "invalid_name"),
    ("user", "host", "192.168.1.10\n", "invalid_host"),
    ("user", "host", " nas.lan", "invalid_host"),
    ("user", "host", "nas lan", "invalid_host"),
    ("user", "mac", "aa:bb:cc", "invalid_mac"),
    ("user", "broadcast_address", "255.255.255.255\n", "invalid_host"),
    ("user", "broadcast_port", NAN, "invalid_port"),
    ("user", "broadcast_port", "nan", "invalid_port"),
    ("user", "broadcast_port", 9.5, "invalid_port"),
    ("user", "probe_port", NAN, "invalid_port"),
    ("ssh", "username", "", "invalid_username"),
    ("ssh", "username", "ro ot", "invalid_username"),
    ("ssh", "port", NAN, "invalid_port"),
    ("ssh", "private_key", "no key at all", "invalid_private_key"),
    ("ssh", "private_key", NOT_A_KEY, "invalid_private_key"),
    ("ssh_untested", "username", "   ", "invalid_username"),
    ("ssh_untested", "private_key", "no key at all", "invalid_private_key"),
    ("ssh_untested", "port", "nan", "invalid_port"),
    ("proxmox_token", "host", "pve.lan\n", "invalid_host"),
    ("proxmox_token", "port", NAN, "invalid_port"),
    ("docker_tcp", "host", "docker.lan\n", "invalid_host"),
    ("docker_tcp", "port", NAN, "invalid_port"),
    ("reconfigure", "host", "192.168.1.10\n", "invalid_host"),
    ("reconfigure", "broadcast_address", "", "invalid_host"),
    ("reconfigure", "broadcast_port", NAN, "invalid_port"),
    ("reconfigure", "probe_port", NAN, "invalid_port"),
    ("reconfigure", "port", NAN, "invalid_port"),
    ("reauth_confirm", "private_key", "no key at all", "invalid_private_key"),
    ("node (guest)", "name", "", "invalid_name"),
    ("node (guest)", "name", LONG, "invalid_name"),
    ("node (guest)", "url", "jellyfin.local:8096", "invalid_url"),
    ("node (guest)", "url", "javascript:alert(1)", "invalid_url"),
    ("node (guest)", "url", "http://", "invalid_url"),
    ("node (guest)", "url", "http://jellyfin.lan:8096\n", "invalid_url"),
    ("node (guest)", "start_timeout", NAN, "invalid_number"),
    ("node (guest)", "stop_timeout", "nan", "invalid_number"),
    ("node (guest)", "settle_time", NAN, "invalid_number"),
    ("node (guest)", "shutdown_timeout", NAN, "invalid_number"),
    ("node (guest)", "readiness_ports", "80, http", "invalid_ports"),
    ("node (machine)", "url", "javascript:alert(1)", "invalid_url"),
    ("node (machine)", "start_timeout", NAN, "invalid_number"),
    ("node (machine)", "probe_ports", "99999", "invalid_probe_ports"),
    ("node (machine)", "wol_interface", "192.0.2.1\n", "invalid_interface"),
    ("polling", "scan_interval", NAN, "invalid_number"),
    ("polling", "proposal_expiry", NAN, "invalid_number"),
    ("node_docker (ssh)", "host", "vm.lan\n", "invalid_host"),
    ("node_docker (ssh)", "port", NAN, "invalid_port"),
    ("node_docker (ssh)", "username", "a b", "invalid_username"),
    ("node_docker (ssh)", "private_key", "no key at all", "invalid_private_key"),
]


@pytest.mark.parametrize(
    ("form", "field", "junk", "error"),
    JUNK,
    ids=[f"{form}-{field}-{junk!r:.20}" for form, field, junk, _ in JUNK],
)
async def test_junk_gets_a_form_error(
    hass: HomeAssistant, homelab: Any, form: str, field: str, junk: Any, error: str
) -> None:
    """Junk in one field: the same form again, that field refused, nothing saved."""
    result, values = await FORMS[form](hass, homelab)
    step_id = result["step_id"]
    result = await _manager(hass, form).async_configure(
        result["flow_id"], {**values, field: junk}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == step_id
    assert result["errors"][field] == error
    assert not hass.config_entries.async_entries(DOMAIN) or all(
        entry.title == "Machine1" for entry in hass.config_entries.async_entries(DOMAIN)
    )


@pytest.mark.parametrize(
    ("form", "field"),
    [("user", "broadcast_port"), ("node (guest)", "start_timeout")],
)
async def test_inf_is_refused_by_the_selector(
    hass: HomeAssistant, homelab: Any, form: str, field: str
) -> None:
    """``inf`` never reaches the step: the number selector refuses it."""
    result, values = await FORMS[form](hass, homelab)
    with pytest.raises(InvalidData):
        await _manager(hass, form).async_configure(
            result["flow_id"], {**values, field: math.inf}
        )


@pytest.mark.parametrize("junk", [NAN, "nan", math.inf, "1e400", True, None, [1]])
def test_a_number_validator_refuses_non_numbers(junk: Any) -> None:
    """Whatever a stored option or a client holds, a validator raises its error."""
    for validator in (validators.port, validators.timeout, validators.scan_interval):
        with pytest.raises(FieldError):
            validator(junk)


async def test_rest_api_junk_is_a_form_error(
    hass: HomeAssistant, homelab: Any, hass_client: ClientSessionGenerator
) -> None:
    """Through ``/api/config/config_entries/flow``: ``nan`` is a form error, not a 500."""
    assert await async_setup_component(hass, "config", {})
    client = await hass_client()
    response = await client.post(
        "/api/config/config_entries/flow", json={"handler": DOMAIN}
    )
    assert response.status == 200
    flow_id = (await response.json())["flow_id"]
    # Home Assistant's JSON parser refuses a bare NaN: a client sends "nan",
    # which the number selector reads as a float.
    good = machine_input(homelab, "RaspberryPi")
    response = await client.post(
        f"/api/config/config_entries/flow/{flow_id}",
        json={**good, "broadcast_port": "nan"},
    )
    answer = await response.json()
    assert response.status == 200, answer
    assert answer["step_id"] == "user"
    assert answer["errors"] == {"broadcast_port": "invalid_port"}
    response = await client.post(
        f"/api/config/config_entries/flow/{flow_id}",
        json={**good, "host": "pi.lan\n", "name": "x" * 10_000},
    )
    assert response.status == 200
    assert (await response.json())["errors"] == {
        "host": "invalid_host",
        "name": "invalid_name",
    }
    response = await client.post(
        f"/api/config/config_entries/flow/{flow_id}",
        json={**good, "probe_port": "inf"},
    )
    assert response.status == 400


# ------------------------------------------------------------ at load


def _invalid_option_issues(hass: HomeAssistant) -> list[ir.IssueEntry]:
    """WakeHub's repair issues about a stored option the validators refuse."""
    return [
        issue
        for (domain, _), issue in ir.async_get(hass).issues.items()
        if domain == DOMAIN and issue.translation_key == "invalid_option"
    ]


async def test_a_refused_stored_option_is_left_out_and_repaired(
    hass: HomeAssistant, homelab: Any
) -> None:
    """A bad URL and a ``nan`` interval: the entry loads, an issue names each,
    and saving the node's settings clears its issue and brings the URL back."""
    mac = node_doc(homelab, "Machine1")["mac"]
    vm = guest_id(mac, 101)
    data, options = entry_data_for(homelab, "Machine1", None)
    options["nodes"][vm] = {**options["nodes"][vm], "url": "jellyfin.local:8096"}
    options["machine"] = {**options["machine"], "url": "javascript:" + "x" * 200}
    options["scan_interval"] = NAN
    entry = machine_entry("Machine1", data, options)
    entry.add_to_hass(hass)
    await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED

    issues = _invalid_option_issues(hass)
    assert {(i.translation_placeholders or {}).get("option") for i in issues} == {
        "Service URL",
        "Polling interval",
    }
    vm_issue = next(i for i in issues if "jellyfin" in str(i.translation_placeholders))
    assert vm_issue.translation_placeholders == {
        "name": "Machine1",
        "node": "VM-Docker",
        "option": "Service URL",
        "value": "jellyfin.local:8096",
    }
    assert entry.options["nodes"][vm]["url"] is None
    shown = {(i.translation_placeholders or {}).get("value") for i in issues}
    assert "javascript:" + "x" * 68 + "…" in shown  # one short line
    assert "scan_interval" not in entry.options
    machine_device = async_get_node_device(hass, entry.entry_id, machine_id(mac))
    assert machine_device is not None
    assert not str(machine_device.configuration_url or "").startswith("javascript")

    # The user sets the URL again in the node's settings.
    result = await _open_node_settings(hass, entry, vm)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {
            "name": "VM-Docker",
            "confirm_shutdown": False,
            "pinned": False,
            "url": "http://jellyfin.local:8096",
            "start_timeout": 180,
            "stop_timeout": 180,
            "docker": "none",
            "readiness": "running",
            "settle_time": 30,
            "force_stop": False,
        },
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    assert entry.options["nodes"][vm]["url"] == "http://jellyfin.local:8096"
    left = {
        (
            issue.translation_placeholders["node"],
            issue.translation_placeholders["option"],
        )
        for issue in _invalid_option_issues(hass)
        if issue.translation_placeholders
    }
    assert left == {("Machine1", "Service URL"), ("Machine1", "Polling interval")}
    vm_device = async_get_node_device(hass, entry.entry_id, vm)
    assert vm_device is not None
    assert vm_device.configuration_url == "http://jellyfin.local:8096"

    # The machine's settings and the polling settings saved: no issue is left.
    result = await _open_node_settings(hass, entry, "machine")
    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {
            "confirm_shutdown": True,
            "pinned": False,
            "start_timeout": 5,
            "stop_timeout": 5,
        },
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    result = await _open_options(hass, entry, "polling")
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"scan_interval": 30, "proposal_expiry": 60}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert not _invalid_option_issues(hass)


STORED: list[tuple[dict[str, Any], str | None, str]] = [
    ({"nodes": {"n": {"name": "   "}}}, "n", "name"),
    ({"nodes": {"n": {"readiness": "ping"}}}, "n", "readiness"),
    ({"nodes": {"n": {"readiness_ports": ["80", 0]}}}, "n", "readiness_ports"),
    ({"nodes": {"n": {"shutdown_timeout": math.inf}}}, "n", "shutdown_timeout"),
    ({"nodes": {"n": {"settle_time": -1}}}, "n", "settle_time"),
    ({"machine": {"probe_ports": [70000]}}, "machine", "probe_ports"),
    ({"machine": {"start_timeout": 120 * 60 + 1}}, "machine", "start_timeout"),
    ({"machine": {"url": "http://nas.lan:99999"}}, "machine", "url"),
    ({"proposal_expiry": "soon"}, None, "proposal_expiry"),
]


@pytest.mark.parametrize(("options", "node", "option"), STORED)
def test_clean_options_leaves_out_a_refused_value(
    options: dict[str, Any], node: str | None, option: str
) -> None:
    """Each stored option through its validator: the refused one is named, and
    falls back to its default (unset), the rest kept."""
    options = {"scan_interval": 30, **options, "dependencies": [["a", "b"]]}
    cleaned, refused = validators.clean_options(options)
    assert [(r.node, r.option) for r in refused] == [(node, option)]
    assert cleaned["scan_interval"] == 30
    assert cleaned["dependencies"] == [["a", "b"]]
    if node is None:
        assert option not in cleaned
    else:
        settings = cleaned["nodes"][node] if node != "machine" else cleaned["machine"]
        assert settings[option] in (None, [])


def test_clean_options_keeps_what_is_valid_or_unset() -> None:
    """Unset values and valid ones pass; a malformed node record is left alone."""
    options = {
        "scan_interval": None,
        "machine": {"url": "https://nas.lan", "start_timeout": 600, "pinned": True},
        "nodes": {"n": {"name": "Jellyfin", "readiness_ports": [8096]}, "odd": 3},
    }
    assert validators.clean_options(options) == (options, [])


@pytest.mark.parametrize(
    ("validator", "value", "expected"),
    [
        (validators.name, 12, "invalid_name"),
        (validators.mac, None, "invalid_mac"),
        (validators.url, 12, "invalid_url"),
        (validators.url, "https://" + "a" * 2048, "invalid_url"),
        (validators.probe_ports, 8006, "invalid_probe_ports"),
        (validators.wol_interface, "::1", "invalid_interface"),
        (validators.username, None, "invalid_username"),
    ],
)
def test_a_validator_refuses_a_stored_value_of_another_type(
    validator: Any, value: Any, expected: str
) -> None:
    """What a stored option (or a client) may hold besides text is refused too."""
    with pytest.raises(FieldError) as err:
        validator(value)
    assert err.value.key == expected


def test_empty_means_unset() -> None:
    """An empty optional field is no value, not junk."""
    assert validators.optional(validators.timeout)("") is None
    assert validators.url(None) is None
    assert validators.probe_ports(None) == []
    assert validators.wol_interface("  ") is None


async def test_a_passphrase_that_does_not_open_the_key(
    hass: HomeAssistant, homelab: Any
) -> None:
    """An encrypted key with the wrong passphrase: refused on the passphrase."""
    import asyncssh

    key = asyncssh.generate_private_key("ssh-ed25519")
    encrypted = key.export_private_key("openssh", "right").decode()
    result, values = await _ssh_untested(hass, homelab)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {**values, "private_key": encrypted, "passphrase": "wrong"},
    )
    assert result["errors"] == {"passphrase": "invalid_passphrase"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {**values, "private_key": encrypted, "passphrase": "right"},
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"]["ssh"]["private_key"] == encrypted


def test_valid_values_pass_clean() -> None:
    """What a user types right is kept (a name's surrounding blanks trimmed)."""
    assert validators.host("nas.lan") == "nas.lan"
    assert validators.host("fd00::1") == "fd00::1"
    assert validators.name("  NAS  ") == "NAS"
    assert validators.username("wakehub@pve") == "wakehub@pve"
    assert validators.url("https://jf.lan:8920/web") == "https://jf.lan:8920/web"
    assert validators.port("8006") == 8006
    assert validators.readiness_ports("8096, 8920;8096") == [8096, 8920]
    assert validators.wol_interface("127.0.0.1") == "127.0.0.1"
    assert validators.mac("AA-BB-CC-DD-EE-FF") == "aa:bb:cc:dd:ee:ff"
