"""Configure the WakeHub demo the way a user would, over HA's REST API.

Run by ``scripts/develop`` once Home Assistant answers. Standard library only
(it runs with the venv's Python, but needs nothing from it). Every step goes
through the same HTTP endpoints the frontend uses:

1. onboarding: the first user (``/api/onboarding/users``), a token
   (``/auth/token``), then the remaining steps (``core_config``,
   ``analytics``, ``integration``);
2. one config flow per machine of the reference homelab
   (``/api/config/config_entries/flow``), taking the flow's "wake it now and
   continue" path since every machine is off: it really boots them in the
   simulator;
3. VM-Docker started with ``wakehub.start`` (or, without that action, the
   simulator's control API), then options flows: its Docker API, its
   containers (sandbox, plex);
4. the dependency edges through the ``wakehub.add_dependency`` action, when
   the integration has it, and "pinned" (options, node settings) for
   Jellyfin, sandbox, plex, the NAS, Machine1 and Machine2 (the hosts show
   their own shutdown proposals);
5. every node back to off (the simulator's control API: the demo starts from
   a cold homelab), and a refresh so that the states say so.

Progress goes to stderr; on success one JSON line (the token and what was
configured) goes to stdout. Any failure exits non-zero with the step that
failed and HA's answer.
"""

from __future__ import annotations

import argparse
from concurrent.futures import ThreadPoolExecutor
import json
from pathlib import Path
import sys
import time
from typing import Any
import urllib.error
import urllib.parse
import urllib.request

# The reference homelab (docs/design.md, "The reference homelab").
MACHINES = ("NAS", "Machine1", "Machine2", "RaspberryPi")
PROXMOX_MACHINES = ("Machine1", "Machine2")
DOCKER_MACHINES = ("RaspberryPi",)
DOCKER_GUESTS = {"VM-Docker": "Machine1"}
# dependent -> dependency
EDGES = (("sandbox", "Jellyfin"), ("plex", "NAS"), ("Jellyfin", "NAS"))
PINNED = ("Jellyfin", "sandbox", "plex", "NAS", "Machine1", "Machine2")

HTTP_TIMEOUT = 60.0


class StepError(RuntimeError):
    """A configuration step failed; the message says which and why."""


def log(message: str) -> None:
    """One progress line on stderr."""
    sys.stderr.write(f"develop: {message}\n")  # one write: threads log too
    sys.stderr.flush()


class Http:
    """A tiny JSON client for one base URL, with an optional bearer token."""

    def __init__(self, base: str) -> None:
        self.base = base.rstrip("/")
        self.token: str | None = None

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        form: dict[str, str] | None = None,
        ok: tuple[int, ...] = (200, 201),
        raw: bool = False,
    ) -> tuple[int, Any]:
        """Send one request; return the status and the decoded JSON body."""
        url = path if path.startswith("http") else f"{self.base}{path}"
        headers = {}
        data: bytes | None = None
        if form is not None:
            data = urllib.parse.urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        elif body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        req = urllib.request.Request(
            url, data=data, headers=headers, method=method
        )  # loopback URLs we build
        try:
            with urllib.request.urlopen(req, timeout=HTTP_TIMEOUT) as resp:
                status, raw_body = resp.status, resp.read()
        except urllib.error.HTTPError as err:
            status, body_bytes = err.code, err.read()
        else:
            body_bytes = raw_body
        text = body_bytes.decode(errors="replace")
        try:
            decoded = text if raw else (json.loads(text) if text else None)
        except ValueError:
            decoded = text
        if status not in ok:
            raise StepError(f"{method} {path} answered {status}: {decoded}")
        return status, decoded


# --------------------------------------------------------------------------
# Onboarding
# --------------------------------------------------------------------------


def onboard(ha: Http, name: str, username: str, password: str) -> str:
    """Create the owner, log in, finish onboarding; return an access token."""
    client_id = f"{ha.base}/"
    _, steps = ha.request("GET", "/api/onboarding")
    done = {step["step"] for step in steps if step["done"]}
    if "user" in done:
        raise StepError(
            "onboarding is already done in this config directory: "
            "scripts/develop expects the fresh config/ it generates"
        )
    _, answer = ha.request(
        "POST",
        "/api/onboarding/users",
        {
            "client_id": client_id,
            "name": name,
            "username": username,
            "password": password,
            "language": "en",
        },
    )
    _, tokens = ha.request(
        "POST",
        "/auth/token",
        form={
            "grant_type": "authorization_code",
            "code": answer["auth_code"],
            "client_id": client_id,
        },
    )
    ha.token = tokens["access_token"]
    log(f"onboarding: user '{username}' created")
    # core_config is marked done in the template (see config-template/README);
    # post it anyway when it is not, as the frontend would.
    if "core_config" not in done:
        ha.request("POST", "/api/onboarding/core_config", {})
    if "analytics" not in done:
        ha.request("POST", "/api/onboarding/analytics", {})
    if "integration" not in done:
        ha.request(
            "POST",
            "/api/onboarding/integration",
            {"client_id": client_id, "redirect_uri": f"{ha.base}/?auth_callback=1"},
        )
    _, steps = ha.request("GET", "/api/onboarding")
    missing = [step["step"] for step in steps if not step["done"]]
    if missing:
        raise StepError(f"onboarding steps left undone: {missing}")
    log("onboarding: done")
    return str(tokens["access_token"])


# --------------------------------------------------------------------------
# Flows
# --------------------------------------------------------------------------


class Flow:
    """One config or options flow, driven step by step like the frontend."""

    def __init__(self, ha: Http, kind: str, handler: str, label: str) -> None:
        self.ha = ha
        # kind: "" for a config flow, "options" for an options flow
        self.base = f"/api/config/config_entries{'/' + kind if kind else ''}"
        self.label = label
        _, self.result = ha.request(
            "POST",
            f"{self.base}/flow",
            {"handler": handler, "show_advanced_options": False},
        )
        self.flow_id = self.result.get("flow_id")

    @property
    def step(self) -> str:
        """The current step id (or the result type when the flow ended)."""
        return str(self.result.get("step_id") or self.result["type"])

    def expect(self, *steps: str) -> None:
        """Fail unless the flow shows one of ``steps`` with no error."""
        if self.result.get("errors"):
            raise StepError(
                f"{self.label}: step '{self.step}' reported {self.result['errors']}"
                f" ({self.result.get('description_placeholders')})"
            )
        if self.step not in steps and self.result["type"] not in steps:
            raise StepError(
                f"{self.label}: expected {' or '.join(steps)}, got {self.result}"
            )

    def submit(self, data: dict[str, Any]) -> dict[str, Any]:
        """Answer the current form or menu."""
        _, self.result = self.ha.request(
            "POST", f"{self.base}/flow/{self.flow_id}", data
        )
        return self.result

    def menu(self, choice: str) -> dict[str, Any]:
        """Pick a menu entry."""
        self.expect("menu")
        if choice not in self.result.get("menu_options", []):
            raise StepError(
                f"{self.label}: menu '{self.step}' has no '{choice}'"
                f" (it offers {self.result.get('menu_options')})"
            )
        return self.submit({"next_step_id": choice})

    def wait_progress(self, timeout: float) -> None:
        """Follow a progress step (e.g. waking a machine) until it moves on."""
        deadline = time.monotonic() + timeout
        while self.result["type"] == "progress":
            if time.monotonic() > deadline:
                raise StepError(f"{self.label}: still '{self.step}' after {timeout}s")
            time.sleep(0.5)
            _, self.result = self.ha.request("GET", f"{self.base}/flow/{self.flow_id}")

    def abort(self) -> None:
        """Cancel the flow (the frontend's close button)."""
        if self.flow_id and self.result["type"] in ("form", "menu", "progress"):
            self.ha.request("DELETE", f"{self.base}/flow/{self.flow_id}")

    def select_options(self, field: str) -> list[dict[str, str]]:
        """The options of a select field of the current form."""
        for item in self.result.get("data_schema") or []:
            if item.get("name") == field:
                select = (item.get("selector") or {}).get("select") or {}
                return [
                    opt if isinstance(opt, dict) else {"value": opt, "label": opt}
                    for opt in select.get("options", [])
                ]
        raise StepError(f"{self.label}: form '{self.step}' has no field '{field}'")

    def field_names(self) -> set[str]:
        """The fields of the current form."""
        return {str(item.get("name")) for item in self.result.get("data_schema") or []}


def add_machine(ha: Http, lab: dict[str, Any], name: str) -> dict[str, Any]:
    """Add one machine through the config flow; return the created entry."""
    node = lab["nodes"][name]
    ssh = node["ssh"]
    flow = Flow(ha, "", "wakehub", name)
    flow.expect("user")
    flow.submit(
        {
            "name": name,
            "host": node["host"],
            "mac": node["mac"],
            "broadcast_address": lab["wol"]["host"],
            "broadcast_port": lab["wol"]["port"],
            "probe_port": ssh["port"],
        }
    )
    if flow.step == "powered_off":
        started = time.monotonic()
        flow.menu("wake")
        flow.wait_progress(timeout=120)
        if flow.step == "wake_failed":
            raise StepError(f"{name}: the flow woke it but it never answered")
        log(f"{name}: off, woken by the flow in {time.monotonic() - started:.1f}s")
    flow.expect("ssh")
    flow.submit(
        {
            "username": ssh["username"],
            "port": ssh["port"],
            "private_key": ssh["private_key"],
            "shutdown_command": "systemctl poweroff",
            "use_sudo": False,
            "forced_command": False,
        }
    )
    flow.expect("ssh_host_key")
    shown = flow.result.get("description_placeholders", {}).get("fingerprint")
    if shown != ssh["host_key_fingerprint"]:
        raise StepError(
            f"{name}: the flow shows host key {shown}, the machine has"
            f" {ssh['host_key_fingerprint']}"
        )
    flow.submit({})
    if node.get("proxmox") and name in PROXMOX_MACHINES:
        pve = node["proxmox"]
        flow.menu("proxmox")
        flow.menu("proxmox_token")
        flow.expect("proxmox_token")
        flow.submit(
            {
                "host": node["host"],
                "port": pve["port"],
                "node": pve["node"],
                "token_user": pve["token_user"],
                "token_name": pve["token_name"],
                "token_value": pve["token_value"],
                "verify_tls": False,
            }
        )
        flow.expect("proxmox_trust")
        shown = flow.result.get("description_placeholders", {}).get("fingerprint")
        if str(shown).upper() != str(pve["fingerprint"]).upper():
            raise StepError(
                f"{name}: the flow shows certificate {shown}, the machine has"
                f" {pve['fingerprint']}"
            )
        flow.submit({})  # "trust this certificate"
    if node.get("docker") and name in DOCKER_MACHINES:
        flow.menu("docker")
        flow.menu("docker_tcp")
        flow.expect("docker_tcp")
        flow.submit({"host": node["host"], "port": node["docker"]["port"]})
    flow.menu("finish")
    if flow.step == "services":
        options = flow.select_options("nodes")
        flow.submit({"nodes": [opt["value"] for opt in options]})
        picked = ", ".join(opt["label"] for opt in options)
        log(f"{name}: picked every discovered service: {picked}")
    flow.expect("create_entry")
    entry = flow.result["result"]
    log(f"{name}: entry created ({entry.get('state')})")
    return dict(entry)


def options_flow(ha: Http, entry_id: str, label: str) -> Flow:
    """Open an entry's options flow (the entry's "Configure" button)."""
    flow = Flow(ha, "options", entry_id, label)
    flow.expect("init")
    return flow


def node_value(flow: Flow, field: str, name: str) -> str:
    """The select value whose label names ``name``."""
    for opt in flow.select_options(field):
        label = str(opt["label"])
        if label == name or label.startswith(f"{name} ("):
            return str(opt["value"])
    raise StepError(
        f"{flow.label}: '{name}' is not offered by '{flow.step}'"
        f" ({[opt['label'] for opt in flow.select_options(field)]})"
    )


def submit_node_form(flow: Flow, **changes: Any) -> None:
    """Submit the node settings form with its defaults, plus ``changes``."""
    flow.expect("node")
    data: dict[str, Any] = {}
    for item in flow.result.get("data_schema") or []:
        if "default" in item:
            data[item["name"]] = item["default"]
        elif (item.get("description") or {}).get("suggested_value") is not None:
            data[item["name"]] = item["description"]["suggested_value"]
    data.update(changes)
    flow.submit(data)


def configure_guest_docker(
    ha: Http, lab: dict[str, Any], entry_id: str, guest: str
) -> None:
    """Give a VM its Docker API through the options flow (node settings)."""
    docker = lab["nodes"][guest]["docker"]
    flow = options_flow(ha, entry_id, f"{guest} options")
    flow.menu("node_settings")
    flow.submit({"node": node_value(flow, "node", guest)})
    submit_node_form(flow, docker="tcp", **readiness_of(lab, guest))
    flow.expect("node_docker")
    flow.submit({"host": lab["nodes"][guest]["host"], "port": docker["port"]})
    flow.expect("create_entry")
    log(f"{guest}: Docker API tcp://127.0.0.1:{docker['port']} added (options)")


def readiness_of(lab: dict[str, Any], guest: str) -> dict[str, Any]:
    """The readiness check a user picks: the guest agent when the guest has
    one, else its service's port (its service URL)."""
    node = lab["nodes"][guest]
    if node.get("agent"):
        return {"readiness": "agent"}
    return {"readiness": "tcp", "url": node["service"]["url"]}


def configure_readiness(
    ha: Http, lab: dict[str, Any], entry_id: str, guest: str
) -> None:
    """Set a guest's readiness check through the options flow (node settings)."""
    flow = options_flow(ha, entry_id, f"{guest} readiness")
    flow.menu("node_settings")
    flow.submit({"node": node_value(flow, "node", guest)})
    check = readiness_of(lab, guest)
    submit_node_form(flow, **check)
    flow.expect("create_entry")
    log(f"{guest}: ready when {check['readiness']} answers (options)")
    wait_entry_loaded(ha, entry_id, guest)


def unmanaged_count(ha: Http, entry_id: str, label: str) -> int:
    """The number of discovered services the options menu offers to add."""
    flow = options_flow(ha, entry_id, label)
    count = int(flow.result.get("description_placeholders", {}).get("count", 0))
    flow.abort()
    return count


def add_services(
    ha: Http, entry_id: str, label: str, names: tuple[str, ...], timeout: float
) -> None:
    """Add discovered services one by one (options, "services to configure")."""
    deadline = time.monotonic() + timeout
    while unmanaged_count(ha, entry_id, label) < len(names):
        if time.monotonic() > deadline:
            raise StepError(f"{label}: {names} were not discovered in {timeout}s")
        time.sleep(1)
    for name in names:
        flow = options_flow(ha, entry_id, f"{label}: add {name}")
        flow.menu("services")
        flow.expect("services")
        flow.submit({"node": node_value(flow, "node", name)})
        submit_node_form(flow)
        flow.expect("create_entry")
        log(f"{name}: added as a managed service (options)")
        wait_entry_loaded(ha, entry_id, label)


def pin(ha: Http, entry_id: str, name: str, *, machine: bool) -> None:
    """Pin one node through the options flow's node settings."""
    flow = options_flow(ha, entry_id, f"pin {name}")
    flow.menu("node_settings")
    flow.submit({"node": "machine" if machine else node_value(flow, "node", name)})
    flow.expect("node")
    if "pinned" not in flow.field_names():
        flow.abort()
        raise StepError(f"{name}: the node settings form has no 'pinned' field")
    submit_node_form(flow, pinned=True)
    flow.expect("create_entry")
    log(f"{name}: pinned")
    wait_entry_loaded(ha, entry_id, name)


def entries(ha: Http) -> list[dict[str, Any]]:
    """WakeHub's config entries."""
    _, found = ha.request("GET", "/api/config/config_entries/entry?domain=wakehub")
    return list(found)


def wait_entry_loaded(ha: Http, entry_id: str, label: str, timeout: float = 60) -> None:
    """Wait until an entry (reloaded after an options change) is loaded."""
    deadline = time.monotonic() + timeout
    state = "?"
    while time.monotonic() < deadline:
        for entry in entries(ha):
            if entry["entry_id"] == entry_id:
                state = entry["state"]
        if state == "loaded":
            return
        time.sleep(0.3)
    raise StepError(f"{label}: entry not loaded after {timeout}s (state {state})")


def render(ha: Http, template: str) -> str:
    """Render a template through ``/api/template``."""
    _, text = ha.request("POST", "/api/template", {"template": template}, raw=True)
    return str(text)


def node_ids(ha: Http) -> dict[str, str]:
    """WakeHub's node ids by device name, read from the device registry."""
    text = render(
        ha,
        "{% set ns = namespace(d={}) %}"
        "{% for e in integration_entities('wakehub') %}"
        "{% set dev = device_id(e) %}"
        "{% if dev %}{% set ns.d = dict(ns.d, **{device_attr(dev, 'name'): "
        "(device_attr(dev, 'identifiers') | list | first)[1]}) %}{% endif %}"
        "{% endfor %}{{ ns.d | tojson }}",
    )
    return dict(json.loads(text))


def has_service(ha: Http, domain: str, service: str) -> bool:
    """True when HA lists ``domain.service``."""
    _, services = ha.request("GET", "/api/services")
    return any(
        item["domain"] == domain and service in item["services"] for item in services
    )


def node_references(ha: Http) -> dict[str, dict[str, str]]:
    """Every way an action may name a node: node id, device id, entity id."""
    ids = node_ids(ha)
    text = render(
        ha,
        "{% set ns = namespace(d={}) %}"
        "{% for e in integration_entities('wakehub') %}"
        "{% if e.endswith('_status') and device_id(e) %}"
        "{% set ns.d = dict(ns.d, **{device_attr(device_id(e), 'name'): "
        "[device_id(e), e]}) %}{% endif %}"
        "{% endfor %}{{ ns.d | tojson }}",
    )
    devices = json.loads(text)
    return {
        name: {
            "node id": node_id,
            "device id": devices.get(name, ["", ""])[0],
            "entity id": devices.get(name, ["", ""])[1],
        }
        for name, node_id in ids.items()
    }


def add_edges(ha: Http) -> list[str]:
    """Add the reference dependency edges; return what could not be done.

    ``wakehub.add_dependency`` takes ``dependent`` and ``dependency``: any
    WakeHub entity of each node (its status sensor here), or its device id,
    which is tried when the entity is refused; the first form accepted is
    kept for the other edges.
    """
    if not has_service(ha, "wakehub", "add_dependency"):
        return [
            "dependency edges: the integration has no 'wakehub.add_dependency'"
            " action yet; edges not added: "
            + ", ".join(f"{a} -> {b}" for a, b in EDGES)
        ]
    refs = node_references(ha)
    kinds = ["entity id", "device id"]
    problems: list[str] = []
    for dependent, dependency in EDGES:
        errors = []
        for kind in kinds:
            try:
                ha.request(
                    "POST",
                    "/api/services/wakehub/add_dependency",
                    {
                        "dependent": refs[dependent][kind],
                        "dependency": refs[dependency][kind],
                    },
                )
            except StepError as err:
                errors.append(f"by {kind}: {err}")
                continue
            kinds = [kind]  # the others need not be tried again
            log(f"dependency: {dependent} -> {dependency} (by {kind})")
            break
        else:
            problems.append(
                f"dependency {dependent} -> {dependency} refused: {'; '.join(errors)}"
            )
    return problems


# --------------------------------------------------------------------------
# The simulator
# --------------------------------------------------------------------------


def sim_nodes(sim: Http) -> dict[str, dict[str, Any]]:
    """The simulator's nodes by name."""
    _, nodes = sim.request("GET", "/nodes")
    return {node["name"]: node for node in nodes}


def sim_power(sim: Http, name: str, state: str) -> None:
    """Set a node's power through the simulator's control API."""
    sim.request("POST", "/power", {"node": name, "state": state})


def wait_sim_state(sim: Http, name: str, states: set[str], timeout: float) -> None:
    """Wait until a simulated node is in one of ``states``."""
    deadline = time.monotonic() + timeout
    state = "?"
    while time.monotonic() < deadline:
        node = sim_nodes(sim)[name]
        state = node["state"]
        if state in states and not node.get("transition"):
            return
        time.sleep(0.3)
    raise StepError(f"simulator: {name} is {state}, not {states}, after {timeout}s")


def start_guest(ha: Http, sim: Http, name: str) -> None:
    """Start a managed guest with ``wakehub.start`` (through its Proxmox API).

    Without that action (an older integration) the simulator's control API
    starts it instead, as the user would in Proxmox's own UI.
    """
    if has_service(ha, "wakehub", "start"):
        entity = node_references(ha)[name]["entity id"]
        ha.request(
            "POST",
            "/api/services/wakehub/start?return_response",
            {"entity_id": entity, "wait": True},
        )
        log(f"{name}: started with wakehub.start")
    else:
        sim_power(sim, name, "running")
        log(f"{name}: started through the simulator (no wakehub.start action yet)")
    wait_sim_state(sim, name, {"running"}, timeout=60)


def cold_homelab(ha: Http, sim: Http, lab: dict[str, Any]) -> None:
    """Every node off, the simulator's log cleared; wait until WakeHub agrees.

    The simulator's ``POST /reset`` turns everything off at once and clears
    its command log, so the demo's ``GET /log`` shows only what happens next.
    """
    sim.request("POST", "/reset", {})
    left = [
        n for n, node in sim_nodes(sim).items() if node["state"] in ("on", "running")
    ]
    if left:
        raise StepError(f"simulator: still up after the reset: {left}")
    refs = node_references(ha)
    missing = sorted(set(lab["nodes"]) - {n for n, r in refs.items() if r["entity id"]})
    if missing:
        raise StepError(f"WakeHub has no status entity for {missing}")
    status = [refs[name]["entity id"] for name in lab["nodes"]]
    # Refresh now rather than at the next poll: the entity's "update" action.
    ha.request(
        "POST", "/api/services/homeassistant/update_entity", {"entity_id": status}
    )
    pinned = {refs[name]["entity id"]: name for name in PINNED}
    deadline = time.monotonic() + 30
    while True:
        _, states = ha.request("GET", "/api/states")
        up = sorted(
            f"{state['entity_id']}={state['state']}"
            for state in states
            if state["entity_id"] in status and state["state"] != "off"
        )
        # The card lists the nodes whose status says "pinned": check it too.
        shown = {
            state["entity_id"]
            for state in states
            if state["entity_id"] in pinned and state["attributes"].get("pinned")
        }
        unpinned = sorted(
            name for entity, name in pinned.items() if entity not in shown
        )
        if not up and not unpinned:
            break
        if time.monotonic() > deadline:
            if up:
                raise StepError(f"WakeHub does not show everything off: {up}")
            raise StepError(f"the status of {unpinned} does not say 'pinned'")
        time.sleep(0.5)
    log(f"all {len(status)} nodes off: the demo starts from a cold homelab")


# --------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """Run every step; print a JSON summary on stdout."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="Home Assistant's URL")
    parser.add_argument("--ready-file", type=Path, required=True)
    parser.add_argument("--username", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--name", default="Demo Owner")
    args = parser.parse_args(argv)

    lab = json.loads(args.ready_file.read_text())
    ha = Http(args.url)
    sim = Http(lab["control_url"])
    warnings: list[str] = []
    started = time.monotonic()
    try:
        token = onboard(ha, args.name, args.username, args.password)
        # The four machines are added side by side (four browser tabs): each
        # flow wakes its machine and waits for it.
        with ThreadPoolExecutor(max_workers=len(MACHINES)) as pool:
            for future in [pool.submit(add_machine, ha, lab, n) for n in MACHINES]:
                future.result()
        by_title = {entry["title"]: entry["entry_id"] for entry in entries(ha)}
        for name in MACHINES:
            wait_entry_loaded(ha, by_title[name], name)
        for guest, info in lab["nodes"].items():
            if info["kind"] in ("vm", "lxc") and guest not in DOCKER_GUESTS:
                configure_readiness(ha, lab, by_title[info["parent"]], guest)
        # VM-Docker must run for WakeHub to reach its Docker API and list
        # its containers: the user starts it (with WakeHub's own action).
        for guest, host in DOCKER_GUESTS.items():
            start_guest(ha, sim, guest)
            configure_guest_docker(ha, lab, by_title[host], guest)
            wait_entry_loaded(ha, by_title[host], host)
            add_services(ha, by_title[host], host, ("plex", "sandbox"), timeout=60)
        try:
            warnings += add_edges(ha)
        except StepError as err:
            warnings.append(f"dependency edges: {err}")
        for name in PINNED:
            machine = name in by_title
            entry_id = by_title[name] if machine else None
            if entry_id is None:
                ids = node_ids(ha)
                owner = next(
                    (
                        entry_id
                        for title, entry_id in by_title.items()
                        if ids.get(name, "").startswith(ids.get(title, "\0"))
                    ),
                    None,
                )
                if owner is None:
                    raise StepError(f"{name}: no WakeHub device found to pin")
                entry_id = owner
            pin(ha, entry_id, name, machine=machine)
        cold_homelab(ha, sim, lab)
    except (StepError, OSError, KeyError, ValueError) as err:
        log(f"FAILED: {err}")
        return 1
    for warning in warnings:
        log(f"WARNING: {warning}")
    log(f"WakeHub configured in {time.monotonic() - started:.1f}s")
    print(json.dumps({"token": token, "entries": by_title, "warnings": warnings}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
