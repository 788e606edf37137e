/*
 * WakeHub dashboard card: `custom:wakehub-card`.
 *
 * Plain JavaScript, no build step. The integration serves this file and adds
 * it to the frontend's extra modules, so the card needs no resource.
 *
 *   type: custom:wakehub-card
 *   title: Homelab            # optional
 *   nodes:                    # optional: default = every pinned node
 *     - switch.jellyfin       # any WakeHub entity of the node,
 *     - aa:bb:cc:dd:ee:ff     # or its node id,
 *     - plex                  # or its name
 *
 * Everything it shows comes from entities: each node's status sensor
 * (state on/off/starting/stopping/error; attributes node_id, kind, pinned,
 * url, step, error_code, error_message, proposal_id) and the domain's
 * cascade sensor (attributes target, action, status, steps, error, and
 * nodes: every node with its status sensor, so that a node whose sensor is
 * unavailable, without attributes, still has its row, shown unavailable).
 * Actions: wakehub.start, wakehub.plan + wakehub.stop (after the user
 * confirms the plan), wakehub.confirm_shutdown, wakehub.dismiss_shutdown.
 */

const DOMAIN = "wakehub";
const VERSION = "0.1.0";

const STATES = {
  on: { label: "On", icon: "mdi:power", color: "var(--success-color, #43a047)" },
  off: { label: "Off", icon: "mdi:power-off", color: "var(--secondary-text-color, #727272)" },
  starting: { label: "Starting", icon: "mdi:arrow-up-bold-circle-outline", color: "var(--info-color, #039be5)" },
  stopping: { label: "Stopping", icon: "mdi:arrow-down-bold-circle-outline", color: "var(--warning-color, #ffa600)" },
  error: { label: "Error", icon: "mdi:alert-circle", color: "var(--error-color, #db4437)" },
  unavailable: { label: "Unavailable", icon: "mdi:help-circle-outline", color: "var(--disabled-text-color, #bdbdbd)" },
};

const KINDS = {
  machine: { label: "Machine", icon: "mdi:server" },
  vm: { label: "VM", icon: "mdi:monitor" },
  lxc: { label: "LXC", icon: "mdi:cube-outline" },
  container: { label: "Container", icon: "mdi:docker" },
};

const STEP_MARKS = {
  pending: { mark: "○", label: "pending" },
  running: { mark: "◐", label: "running" },
  done: { mark: "✓", label: "done" },
  skipped: { mark: "–", label: "skipped (already there)" },
  failed: { mark: "✗", label: "failed" },
  cancelled: { mark: "⊘", label: "cancelled" },
};

/** "A", "A and B", "A, B and C" (names already escaped). */
const joinNames = (names) =>
  names.length < 2 ? names.join("") : `${names.slice(0, -1).join(", ")} and ${names[names.length - 1]}`;

const escapeHtml = (value) =>
  String(value ?? "").replace(/[&<>"']/g, (c) =>
    ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c],
  );

/** Is this state a WakeHub node's status sensor? */
const isStatusSensor = (hass, state) =>
  state.entity_id.startsWith("sensor.") &&
  typeof state.attributes.node_id === "string" &&
  typeof state.attributes.kind === "string" &&
  (!hass.entities || !hass.entities[state.entity_id] ||
    hass.entities[state.entity_id].platform === DOMAIN);

/**
 * Every WakeHub node, by node id: {id, entity, state, name, attrs}.
 *
 * The list comes from the cascade sensor's `nodes`: that sensor stays
 * available when a node's own entities do not, and Home Assistant drops the
 * attributes of an unavailable sensor, so a node whose API fails is still
 * found (and shown unavailable). Status sensors found by their attributes
 * complete it. `entity` is the node's status sensor, `state` its state object
 * (undefined when it has none), `attrs` its attributes over the list's fields
 * (node_id, kind, pinned, url).
 */
function wakehubNodes(hass) {
  const byNode = new Map();
  const cascade = cascadeSensor(hass);
  const listed = cascade && Array.isArray(cascade.attributes.nodes) ? cascade.attributes.nodes : [];
  for (const info of listed) {
    if (!info || typeof info.node_id !== "string") continue;
    const state = info.status_entity ? hass.states[info.status_entity] : undefined;
    byNode.set(info.node_id, {
      id: info.node_id,
      entity: info.status_entity || null,
      state,
      name: info.name,
      attrs: { ...info, ...(state ? state.attributes : {}) },
    });
  }
  for (const state of Object.values(hass.states)) {
    if (!isStatusSensor(hass, state)) continue;
    const id = state.attributes.node_id;
    const known = byNode.get(id);
    byNode.set(id, {
      id,
      entity: state.entity_id,
      state,
      name: known && known.name,
      attrs: { ...(known ? known.attrs : {}), ...state.attributes },
    });
  }
  return byNode;
}

/** The domain's cascade sensor (running or last cascade), if any. */
function cascadeSensor(hass) {
  return Object.values(hass.states).find(
    (s) =>
      s.entity_id.startsWith("sensor.") &&
      Array.isArray(s.attributes.steps) &&
      Array.isArray(s.attributes.queued) &&
      (!hass.entities || !hass.entities[s.entity_id] ||
        hass.entities[s.entity_id].platform === DOMAIN),
  );
}

/** A node's name: its device's (as the user renamed it), else WakeHub's. */
function nodeName(hass, node) {
  const entry = node.entity && hass.entities && hass.entities[node.entity];
  const device = entry && entry.device_id && hass.devices && hass.devices[entry.device_id];
  if (device) return device.name_by_user || device.name;
  if (node.name) return node.name;
  return String(node.attrs.friendly_name || node.id).replace(/ Status$/i, "");
}

/** Resolve one `nodes:` item (entity id, node id or name) to a node. */
function resolveNode(hass, nodes, ref) {
  if (nodes.has(ref)) return nodes.get(ref);
  const device = hass.entities && hass.entities[ref] && hass.entities[ref].device_id;
  for (const node of nodes.values()) {
    if (node.entity === ref) return node;
  }
  for (const node of nodes.values()) {
    const entry = node.entity && hass.entities && hass.entities[node.entity];
    if (device && entry && entry.device_id === device) return node;
    if (nodeName(hass, node).toLowerCase() === String(ref).toLowerCase()) return node;
  }
  return undefined;
}

class WakeHubCard extends HTMLElement {
  constructor() {
    super();
    this.attachShadow({ mode: "open" });
    this._config = {};
    this._confirm = {}; // node id -> {plan?, busy?, error?}
    this._busy = {}; // node id -> action text while a call is sent
    this._errors = {}; // node id -> last call error
    this._renderKey = "";
    this.shadowRoot.addEventListener("click", (ev) => this._onClick(ev));
  }

  static getStubConfig() {
    return {}; // every pinned node
  }

  static getConfigElement() {
    return document.createElement("wakehub-card-editor");
  }

  setConfig(config) {
    if (!config || typeof config !== "object") throw new Error("Invalid configuration");
    if (config.nodes !== undefined && !Array.isArray(config.nodes)) {
      throw new Error("'nodes' must be a list of entity ids, node ids or names");
    }
    this._config = { ...config };
    this._renderKey = "";
    this._render();
  }

  set hass(hass) {
    this._hass = hass;
    this._render();
  }

  get hass() {
    return this._hass;
  }

  getCardSize() {
    return 1 + 2 * this._nodes().length;
  }

  getGridOptions() {
    return { columns: 12, min_columns: 6 };
  }

  // ------------------------------------------------------------------ data

  _nodes() {
    const hass = this._hass;
    if (!hass) return [];
    const all = wakehubNodes(hass);
    let nodes;
    if (Array.isArray(this._config.nodes) && this._config.nodes.length) {
      nodes = this._config.nodes.map((ref) => resolveNode(hass, all, ref)).filter(Boolean);
    } else {
      nodes = [...all.values()]
        .filter((n) => n.attrs.pinned)
        .sort((a, b) => nodeName(hass, a).localeCompare(nodeName(hass, b)));
    }
    const cascade = cascadeSensor(hass);
    return nodes.map((node) => this._node(node, cascade));
  }

  _node(node, cascade) {
    const a = node.attrs;
    const hass = this._hass;
    const c = cascade && cascade.attributes;
    const cascadeHere = c && c.target === node.id ? c : null;
    // Another node's running start that goes through this one (the NAS woken
    // for Jellyfin): Cancel on this row cancels that start.
    const via = c && !cascadeHere && c.action === "start" &&
      (c.status === "running" || c.status === "queued") &&
      (c.steps || []).some((s) => s.node === node.id)
      ? c.target_name || c.target
      : null;
    // No state, "unavailable" or "unknown" (the node's API fails): unavailable.
    const raw = node.state && node.state.state;
    let status = STATES[raw] ? raw : "unavailable";
    // A cascade about this node that has not reached it yet: show where it goes.
    if (cascadeHere && (cascadeHere.status === "running" || cascadeHere.status === "queued")) {
      if (cascadeHere.action === "start" && status === "off") status = "starting";
      if (cascadeHere.action === "stop" && status === "on") status = "stopping";
    }
    return {
      id: node.id,
      entity: node.entity,
      name: nodeName(hass, node),
      kind: a.kind,
      status,
      step: a.step || null,
      errorCode: a.error_code || null,
      errorMessage: a.error_message || null,
      url: a.url || null,
      proposal: a.proposal_id || null,
      via,
      cascade: cascadeHere
        ? {
            action: cascadeHere.action,
            status: cascadeHere.status,
            steps: cascadeHere.steps || [],
            error: cascadeHere.error || null,
          }
        : null,
    };
  }

  // --------------------------------------------------------------- actions

  async _call(service, node, data = {}) {
    return this._hass.callService(DOMAIN, service, data, { entity_id: node.entity });
  }

  _onClick(ev) {
    const button = ev.composedPath().find((el) => el.dataset && el.dataset.action);
    if (!button || button.disabled) return;
    const node = this._nodes().find((n) => n.id === button.dataset.node);
    if (!node) return;
    const handlers = {
      start: () => this._run(node, "Starting…", () => this._call("start", node)),
      stop: () => this._askStop(node),
      "confirm-stop": () => {
        delete this._confirm[node.id];
        return this._run(node, "Stopping…", () => this._call("stop", node));
      },
      "cancel-stop": () => {
        delete this._confirm[node.id];
        this._render(true);
      },
      "confirm-proposal": () =>
        this._run(node, "Shutting down…", () => this._call("confirm_shutdown", node)),
      "dismiss-proposal": () =>
        this._run(node, "Keeping it on…", () => this._call("dismiss_shutdown", node)),
    };
    handlers[button.dataset.action]?.();
  }

  async _run(node, text, fn) {
    this._busy[node.id] = text;
    delete this._errors[node.id];
    this._render(true);
    try {
      await fn();
    } catch (err) {
      this._errors[node.id] = err && err.message ? err.message : String(err);
    } finally {
      delete this._busy[node.id];
      this._render(true);
    }
  }

  async _askStop(node) {
    this._confirm[node.id] = { busy: true };
    delete this._errors[node.id];
    this._render(true);
    try {
      const result = await this._hass.callWS({
        type: "call_service",
        domain: DOMAIN,
        service: "plan",
        service_data: { action: "stop" },
        target: { entity_id: node.entity },
        return_response: true,
      });
      this._confirm[node.id] = { plan: result.response };
    } catch (err) {
      delete this._confirm[node.id];
      this._errors[node.id] = err && err.message ? err.message : String(err);
    }
    this._render(true);
    this.shadowRoot.querySelector(`[data-action="confirm-stop"][data-node="${CSS.escape(node.id)}"]`)?.focus();
  }

  // ---------------------------------------------------------------- render

  _render(force = false) {
    if (!this._hass) return;
    const nodes = this._nodes();
    const key = JSON.stringify([this._config, nodes, this._confirm, this._busy, this._errors]);
    if (!force && key === this._renderKey) return;
    this._renderKey = key;
    const title = this._config.title;
    const body = nodes.length
      ? nodes.map((n) => this._renderNode(n)).join("")
      : `<p class="empty">No pinned WakeHub node yet. Pin one in WakeHub's options, or list
         <code>nodes:</code> in this card's configuration.</p>`;
    this.shadowRoot.innerHTML = `
      <style>${STYLE}</style>
      <ha-card ${title ? `header="${escapeHtml(title)}"` : ""}>
        <div class="nodes">${body}</div>
      </ha-card>`;
  }

  _renderNode(n) {
    const st = STATES[n.status];
    const kind = KINDS[n.kind] || { label: n.kind, icon: "mdi:help" };
    const busy = this._busy[n.id];
    const confirm = this._confirm[n.id];
    const running = n.status === "starting" || n.status === "stopping" ||
      (n.cascade && (n.cascade.status === "running" || n.cascade.status === "queued"));
    const id = escapeHtml(n.id);
    const name = escapeHtml(n.name);
    const isOn = n.status === "on" || n.status === "starting" || (n.status === "error" && n.cascade?.action === "start");
    // A start can be stopped while it runs (the cascade stops at its next
    // step, then the node is shut down); a running stop cannot be undone.
    const stopping = n.status === "stopping" || (running && n.cascade?.action === "stop");
    const powerButton = !isOn
      ? `<button class="start" data-action="start" data-node="${id}" ${busy || running ? "disabled" : ""}
           aria-label="Start ${name}">Start</button>`
      : n.status === "starting"
        ? `<button class="stop" data-action="stop" data-node="${id}" ${busy || confirm ? "disabled" : ""}
           aria-label="Cancel the start of ${n.via ? escapeHtml(n.via) : name}">Cancel</button>`
        : `<button class="stop" data-action="stop" data-node="${id}" ${busy || confirm || stopping ? "disabled" : ""}
           aria-label="Stop ${name}">Stop</button>`;
    const open = n.url
      ? `<a class="open" href="${escapeHtml(n.url)}" target="_blank" rel="noopener noreferrer"
           aria-label="Open ${name}">Open</a>`
      : "";
    return `
      <section class="node" data-node="${id}" data-state="${n.status}" aria-label="${name}">
        <div class="row">
          <ha-icon class="kind-icon" icon="${kind.icon}" aria-hidden="true"></ha-icon>
          <div class="title">
            <div class="name">${name}</div>
            <div class="kind">${escapeHtml(kind.label)}</div>
          </div>
          <span class="state" style="--state-color:${st.color}" data-state="${n.status}">
            <ha-icon icon="${st.icon}" aria-hidden="true"></ha-icon>
            <span class="state-label">${st.label}</span>
          </span>
          <div class="actions">${open}${powerButton}</div>
        </div>
        <div class="live" aria-live="polite">
          ${busy ? `<p class="busy">${escapeHtml(busy)}</p>` : ""}
          ${this._renderProgress(n)}
          ${this._renderError(n)}
        </div>
        ${confirm ? this._renderConfirm(n, confirm) : ""}
        ${n.proposal ? this._renderProposal(n) : ""}
      </section>`;
  }

  _renderProgress(n) {
    const c = n.cascade;
    const live = c && (c.status === "running" || c.status === "queued");
    if (!live && !n.step) return "";
    const total = c ? c.steps.length : 0;
    const done = c ? c.steps.filter((s) => s.status === "done" || s.status === "skipped").length : 0;
    const verb = c && c.action === "stop" ? "Stopping" : "Starting";
    const steps = c
      ? `<ol class="steps">${c.steps
          .map((s) => {
            const m = STEP_MARKS[s.status] || { mark: "?", label: s.status };
            return `<li class="step" data-status="${escapeHtml(s.status)}">
                <span class="mark" aria-hidden="true">${m.mark}</span>
                <span>${escapeHtml(s.action === "stop" ? "Stop" : "Start")} ${escapeHtml(s.name)}</span>
                <span class="step-status">${escapeHtml(m.label)}</span>
              </li>`;
          })
          .join("")}</ol>`
      : "";
    return `<div class="progress" role="status">
        ${live ? `<p class="summary">${verb} ${escapeHtml(n.name)}: step ${Math.min(done + 1, total)} of ${total}</p>` : ""}
        ${n.step ? `<p class="detail">${escapeHtml(n.step)}</p>` : ""}
        ${steps}
      </div>`;
  }

  _renderError(n) {
    const messages = [];
    if (this._errors[n.id]) messages.push(this._errors[n.id]);
    if (n.status === "error" && (n.errorCode || n.errorMessage)) {
      messages.push(`${n.errorCode ? `${n.errorCode}: ` : ""}${n.errorMessage || ""}`);
    } else if (n.cascade && n.cascade.status === "failed" && n.cascade.error) {
      const e = n.cascade.error;
      const step = e.step !== null && e.step !== undefined ? n.cascade.steps[e.step] : null;
      messages.push(`${step ? `Step ${e.step + 1} (${step.name}) failed: ` : ""}${e.code ? `${e.code}: ` : ""}${e.message || ""}`);
    }
    if (!messages.length) return "";
    return `<div class="error" role="alert">
        <ha-icon icon="mdi:alert-circle" aria-hidden="true"></ha-icon>
        <div>${messages.map((m) => `<p>${escapeHtml(m)}</p>`).join("")}</div>
      </div>`;
  }

  _renderConfirm(n, confirm) {
    const id = escapeHtml(n.id);
    if (confirm.busy) return `<div class="confirm"><p>Planning the shutdown of ${escapeHtml(n.name)}…</p></div>`;
    const plan = confirm.plan || {};
    const dependents = plan.dependents || [];
    const also = dependents.length
      ? ` and its ${dependents.length} dependent${dependents.length === 1 ? "" : "s"}`
      : "";
    // The starts this stop cancels (the plan names them): this node's own,
    // and any other start that needs it (Jellyfin's, for the NAS).
    const cancels = plan.cancels || [];
    const others = cancels.filter((c) => c.target !== n.id).map((c) => escapeHtml(c.name));
    const starting = n.status === "starting" || cancels.length > 0;
    const name = escapeHtml(n.name);
    let question;
    if (!starting) question = `Shut down ${name}${also}?`;
    else if (!others.length) question = `Cancel the start of ${name} and shut it down${also}?`;
    else question = `Cancel the start of ${joinNames(others)} and shut ${name} down${also}?`;
    const order = (plan.steps || []).map((s) => escapeHtml(s.name)).join(" → ");
    return `<div class="confirm" role="alertdialog" aria-label="${question}">
        <p class="question">${question}</p>
        ${dependents.length ? `<ul class="dependents">${dependents.map((d) => `<li>${escapeHtml(d.name)}</li>`).join("")}</ul>` : ""}
        ${order ? `<p class="order">Order: ${order}</p>` : ""}
        <div class="actions">
          <button data-action="cancel-stop" data-node="${id}">${starting ? "Keep starting" : "Cancel"}</button>
          <button class="stop" data-action="confirm-stop" data-node="${id}">${starting ? "Cancel the start" : "Shut down"}</button>
        </div>
      </div>`;
  }

  _renderProposal(n) {
    const id = escapeHtml(n.id);
    const name = escapeHtml(n.name);
    return `<div class="proposal" role="group" aria-label="Shutdown proposal for ${name}">
        <p>${name} has no more active dependents. Shut it down?</p>
        <div class="actions">
          <button data-action="dismiss-proposal" data-node="${id}" aria-label="Dismiss: keep ${name} on">Dismiss</button>
          <button class="stop" data-action="confirm-proposal" data-node="${id}" aria-label="Confirm: shut ${name} down">Confirm</button>
        </div>
      </div>`;
  }
}

const STYLE = `
  :host { display: block; }
  ha-card { overflow: hidden; }
  .nodes { display: flex; flex-direction: column; }
  .node { padding: 12px 16px; border-top: 1px solid var(--divider-color, #e0e0e0); }
  .node:first-child { border-top: none; }
  .row { display: flex; align-items: center; gap: 12px; }
  .kind-icon { color: var(--state-icon-color, var(--secondary-text-color)); }
  .title { flex: 1; min-width: 0; }
  .name { font-weight: 500; color: var(--primary-text-color); overflow: hidden; text-overflow: ellipsis; }
  .kind { font-size: 0.85em; color: var(--secondary-text-color); }
  .state {
    display: inline-flex; align-items: center; gap: 4px; padding: 2px 10px 2px 6px;
    border-radius: 12px; border: 1px solid var(--state-color); color: var(--state-color);
    font-weight: 500; font-size: 0.9em; --mdc-icon-size: 18px;
  }
  .actions { display: flex; justify-content: flex-end; align-items: center; gap: 8px; }
  .confirm .actions, .proposal .actions { margin-top: 8px; }
  .row .actions button, .row .actions a.open { min-width: 64px; text-align: center; }
  button, a.open {
    font: inherit; font-weight: 500; font-size: 0.9em; cursor: pointer; border-radius: 4px;
    padding: 6px 14px; border: 1px solid var(--primary-color, #03a9f4);
    background: transparent; color: var(--primary-color, #03a9f4); text-decoration: none;
  }
  button.start { background: var(--primary-color, #03a9f4); color: var(--text-primary-color, #fff); }
  button.stop { border-color: var(--error-color, #db4437); color: var(--error-color, #db4437); }
  .confirm button.stop, .proposal button.stop {
    background: var(--error-color, #db4437); color: var(--text-primary-color, #fff);
  }
  button:disabled { opacity: 0.5; cursor: default; }
  button:focus-visible, a.open:focus-visible { outline: 2px solid var(--primary-color, #03a9f4); outline-offset: 2px; }
  .live p { margin: 6px 0 0; }
  .progress { margin-top: 8px; font-size: 0.9em; color: var(--primary-text-color); }
  .summary { font-weight: 500; }
  .detail { color: var(--secondary-text-color); }
  .steps { list-style: none; margin: 6px 0 0; padding: 0; }
  .step { display: flex; gap: 8px; padding: 2px 0; }
  .step .mark { width: 1.2em; text-align: center; }
  .step .step-status { margin-left: auto; color: var(--secondary-text-color); }
  .step[data-status="running"] { font-weight: 500; color: var(--info-color, #039be5); }
  .step[data-status="done"] .mark { color: var(--success-color, #43a047); }
  .step[data-status="failed"] { color: var(--error-color, #db4437); }
  .error {
    display: flex; gap: 8px; margin-top: 8px; padding: 8px; border-radius: 4px;
    color: var(--error-color, #db4437); background: rgba(219, 68, 55, 0.08); font-size: 0.9em;
  }
  .error p { margin: 0; }
  .confirm, .proposal {
    margin-top: 8px; padding: 10px 12px; border-radius: 4px;
    border: 1px solid var(--warning-color, #ffa600); background: rgba(255, 166, 0, 0.08);
  }
  .confirm p, .proposal p { margin: 0 0 4px; }
  .question { font-weight: 500; }
  .dependents { margin: 4px 0; padding-left: 20px; }
  .order { font-size: 0.85em; color: var(--secondary-text-color); }
  .empty { padding: 16px; color: var(--secondary-text-color); }
`;

/** The visual editor: a title, and which nodes to show (none = pinned ones). */
class WakeHubCardEditor extends HTMLElement {
  setConfig(config) {
    this._config = { ...config };
    this._render();
  }

  set hass(hass) {
    const first = !this._hass;
    this._hass = hass;
    if (first) this._render();
  }

  _changed(config) {
    this._config = config;
    this.dispatchEvent(new CustomEvent("config-changed", { detail: { config }, bubbles: true, composed: true }));
  }

  _render() {
    if (!this._hass || !this._config) return;
    const nodes = [...wakehubNodes(this._hass).values()];
    const chosen = new Set(this._config.nodes || []);
    this.innerHTML = `
      <div style="display:flex;flex-direction:column;gap:12px;padding:4px 0">
        <label>Title <input class="title" type="text" value="${escapeHtml(this._config.title || "")}"
          style="width:100%;box-sizing:border-box;padding:6px"></label>
        <fieldset style="border:1px solid var(--divider-color);border-radius:4px">
          <legend>Nodes (none checked: every pinned node)</legend>
          ${nodes
            .map((n) => {
              const name = nodeName(this._hass, n);
              const checked = chosen.has(n.id) || chosen.has(n.entity);
              return `<label style="display:block"><input type="checkbox" value="${escapeHtml(n.id)}"
                ${checked ? "checked" : ""}> ${escapeHtml(name)}${n.attrs.pinned ? " (pinned)" : ""}</label>`;
            })
            .join("")}
        </fieldset>
      </div>`;
    this.querySelector("input.title").addEventListener("change", (ev) => {
      const config = { ...this._config, title: ev.target.value };
      if (!ev.target.value) delete config.title;
      this._changed(config);
    });
    this.querySelectorAll("input[type=checkbox]").forEach((box) =>
      box.addEventListener("change", () => {
        const nodes = [...this.querySelectorAll("input[type=checkbox]:checked")].map((b) => b.value);
        const config = { ...this._config, nodes };
        if (!nodes.length) delete config.nodes;
        this._changed(config);
      }),
    );
  }
}

if (!customElements.get("wakehub-card")) customElements.define("wakehub-card", WakeHubCard);
if (!customElements.get("wakehub-card-editor")) customElements.define("wakehub-card-editor", WakeHubCardEditor);

window.customCards = window.customCards || [];
if (!window.customCards.some((c) => c.type === "wakehub-card")) {
  window.customCards.push({
    type: "wakehub-card",
    name: "WakeHub",
    description: "Start and stop pinned homelab nodes in dependency order, with live progress.",
    preview: false,
    documentationURL: "https://github.com/wakehub/wakehub",
  });
}
console.info(`%c WAKEHUB-CARD %c ${VERSION} `, "background:#03a9f4;color:#fff", "");
