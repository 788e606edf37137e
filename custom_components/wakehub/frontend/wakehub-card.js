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
 *   tap_action:               # optional, as a tile card's (default:
 *     action: more-info       # the node's more-info dialog)
 *
 * Everything it shows comes from entities: each node's status sensor
 * (state on/off/starting/stopping/error; attributes node_id, kind, pinned,
 * url, error_code, error_message, proposal_id, proposal_expires_at) and the
 * domain's cascade sensor (attributes target, action, status, steps, error,
 * and nodes: every node with its status sensor and its error, so that a node
 * whose sensor is unavailable, without attributes, still has its row, shown
 * unavailable). Actions: wakehub.start, wakehub.plan + wakehub.stop (after
 * the user confirms the plan), wakehub.confirm_shutdown,
 * wakehub.dismiss_shutdown, wakehub.clear_error.
 *
 * Its text is in translations/<language>.js, one file per language, picked
 * from hass.locale.language (see translations/en.js).
 */

const DOMAIN = "wakehub";
const VERSION = "0.2.0";

// --------------------------------------------------------------- languages

// The module's own URL says which languages exist (?l=en,fr: the files the
// integration found in translations/) and the version of the files (?v=),
// which the translations' URLs carry too, so a new version is never read
// from a stale cache.
const MODULE_URL = new URL(import.meta.url);
const FILE_VERSION = MODULE_URL.searchParams.get("v");
const LANGUAGES = (MODULE_URL.searchParams.get("l") || "en,fr").split(",").filter(Boolean);
const loadedLanguages = new Map(); // language -> Promise<strings>

function loadLanguage(language) {
  if (!loadedLanguages.has(language)) {
    const url = new URL(`translations/${language}.js`, MODULE_URL);
    if (FILE_VERSION) url.searchParams.set("v", FILE_VERSION);
    loadedLanguages.set(
      language,
      import(url.href).then(
        (module) => module.default || {},
        (err) => {
          console.warn(`WakeHub card: no ${language} text (${err})`);
          return {};
        },
      ),
    );
  }
  return loadedLanguages.get(language);
}

/** The user's language among ours: "pt-BR", then "pt", then English. */
function pickLanguage(hass) {
  const wanted = String((hass && ((hass.locale && hass.locale.language) || hass.language)) || "en");
  if (LANGUAGES.includes(wanted)) return wanted;
  const base = wanted.split("-")[0];
  return LANGUAGES.find((l) => l.split("-")[0] === base) || "en";
}

/** A translator over a language's strings, English for what it lacks. */
class Texts {
  constructor(language, strings, english) {
    this.language = language;
    this._strings = strings || {};
    this._english = english || {};
  }

  static lookup(table, key) {
    return key.split(".").reduce((v, k) => (v && typeof v === "object" ? v[k] : undefined), table);
  }

  has(key) {
    return typeof Texts.lookup(this._strings, key) === "string" || typeof Texts.lookup(this._english, key) === "string";
  }

  /** The text of `key`, its {placeholders} filled in (not escaped). */
  t(key, params = {}) {
    let text = Texts.lookup(this._strings, key);
    if (typeof text !== "string") text = Texts.lookup(this._english, key);
    if (typeof text !== "string") return key;
    return text.replace(/\{(\w+)\}/g, (m, name) => (params[name] !== undefined ? String(params[name]) : m));
  }

  /** "A", "A and B", "A, B and C". */
  join(names) {
    if (names.length < 2) return names.join("");
    return `${names.slice(0, -1).join(", ")}${this.t("and")}${names[names.length - 1]}`;
  }
}

/** The texts loaded last: what setConfig says a wrong configuration with. */
let lastTexts = null;

/** Load the user's language (and English under it); resolves to Texts. */
async function textsFor(language) {
  const [strings, english] = await Promise.all([loadLanguage(language), loadLanguage("en")]);
  lastTexts = new Texts(language, strings, english);
  return lastTexts;
}

/** A time in the user's language, format and time zone (HA's profile). */
function formatTime(hass, iso) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return "";
  const locale = hass.locale || {};
  const options = { hour: "numeric", minute: "2-digit" };
  // The profile's "server" time zone is Home Assistant's; else the browser's.
  if (locale.time_zone === "server" && hass.config && hass.config.time_zone) {
    options.timeZone = hass.config.time_zone;
  }
  if (locale.time_format === "12") options.hour12 = true;
  if (locale.time_format === "24") options.hour12 = false;
  try {
    return new Intl.DateTimeFormat(locale.language || hass.language || undefined, options).format(date);
  } catch (_err) {
    return date.toLocaleTimeString();
  }
}

// ------------------------------------------------------------------- looks

const STATES = {
  on: { icon: "mdi:power", color: "var(--success-color, #43a047)" },
  off: { icon: "mdi:power-off", color: "var(--secondary-text-color, #727272)" },
  starting: { icon: "mdi:arrow-up-bold-circle-outline", color: "var(--info-color, #039be5)" },
  stopping: { icon: "mdi:arrow-down-bold-circle-outline", color: "var(--warning-color, #ffa600)" },
  error: { icon: "mdi:alert-circle", color: "var(--error-color, #db4437)" },
  unavailable: { icon: "mdi:help-circle-outline", color: "var(--disabled-text-color, #bdbdbd)" },
};

const KIND_ICONS = {
  machine: "mdi:server",
  vm: "mdi:monitor",
  lxc: "mdi:cube-outline",
  container: "mdi:docker",
};

const STEP_MARKS = {
  pending: "○",
  running: "◐",
  done: "✓",
  skipped: "–",
  failed: "✗",
  cancelled: "⊘",
};

const LIVE = new Set(["running", "queued"]);

const escapeHtml = (value) =>
  String(value ?? "").replace(/[&<>"']/g, (c) =>
    ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c],
  );

// -------------------------------------------------------------------- data

/** Is this state a WakeHub node's status sensor? */
const isStatusSensor = (hass, state) =>
  state.entity_id.startsWith("sensor.") &&
  typeof state.attributes.node_id === "string" &&
  typeof state.attributes.kind === "string" &&
  (!hass.entities || !hass.entities[state.entity_id] ||
    hass.entities[state.entity_id].platform === DOMAIN);

/**
 * Minutes left before an idle node's automatic shutdown (or proposal), from
 * its idle-time sensor (the catalog's `idle_entity`); null unless the node is
 * counting idle time right now.
 */
function idleLeft(hass, entityId) {
  const state = entityId ? hass.states[entityId] : undefined;
  if (!state || state.attributes.state !== "idle") return null;
  const left = Number(state.attributes.remaining);
  return Number.isFinite(left) ? Math.max(0, Math.ceil(left)) : null;
}

/**
 * Every WakeHub node, by node id: {id, entity, state, name, attrs}.
 *
 * The list comes from the cascade sensor's `nodes`: that sensor stays
 * available when a node's own entities do not, and Home Assistant drops the
 * attributes of an unavailable sensor, so a node whose API fails is still
 * found (and shown unavailable). Status sensors found by their attributes
 * complete it. `entity` is the node's status sensor, `state` its state object
 * (undefined when it has none), `attrs` its attributes over the list's fields
 * (node_id, kind, pinned, url, error_code, error_message).
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

/** A node's device, if Home Assistant knows it. */
function nodeDevice(hass, node) {
  const entry = node && node.entity && hass.entities && hass.entities[node.entity];
  return (entry && entry.device_id && hass.devices && hass.devices[entry.device_id]) || null;
}

/** A node's name: its device's (as the user renamed it), else WakeHub's. */
function nodeName(hass, node) {
  const device = nodeDevice(hass, node);
  if (device) return device.name_by_user || device.name;
  if (node.name) return node.name;
  return String(node.attrs.friendly_name || node.id).replace(/ Status$/i, "");
}

/** The name of what a node runs on (its device's parent), or null. */
function hostName(hass, node) {
  const device = nodeDevice(hass, node);
  const host = device && device.via_device_id && hass.devices && hass.devices[device.via_device_id];
  return host ? host.name_by_user || host.name : null;
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

/**
 * What went wrong, for people: what answered, where, what to check.
 *
 * `error` is {code, message}; `node` the node that failed; `action` start
 * or stop. The API is the one WakeHub used for that node (Proxmox for a
 * guest, Docker for a container, Wake-on-LAN or SSH for a machine), the
 * host the machine (or Docker host) it runs on.
 */
function describeError(texts, hass, all, error, nodeId, action) {
  const node = all.get(nodeId);
  const name = node ? nodeName(hass, node) : nodeId || "";
  const kind = node && node.attrs.kind;
  const verb = action === "stop" ? "stop" : "start";
  // What answered: the backend says it for a cascade's error (a machine's
  // start fails on the API it waits for, not on its magic packet); else
  // the node's kind says it.
  const api = ["proxmox", "docker", "ssh", "wol"].includes(error.api)
    ? error.api
    : kind === "vm" || kind === "lxc" ? "proxmox" : kind === "container" ? "docker" : verb === "start" ? "wol" : "ssh";
  const host = kind === "machine" || !node ? name : hostName(hass, node) || name;
  let detail = String(error.message || error.code || "").trim();
  // The backend's own placeholders (a readiness timeout's seconds) come
  // first; the card's own (names in the user's words) win over them.
  const params = {
    ...(error.placeholders && typeof error.placeholders === "object" ? error.placeholders : {}),
    node: name,
    host,
    api: texts.t(`api.${api}`),
    verb: texts.t(`verb.${verb}`),
    verb_done: texts.t(`verb_done.${verb}`),
    verb_cap: texts.t(`verb_cap.${verb}`),
    detail,
  };
  params.look = texts.t(`look.${api}`, params);
  const code = String(error.code || "");
  // "HTTP 500: ..." (Proxmox, Docker): the status and what it means.
  const http = /^HTTP (\d{3})\b:?\s*(.*)$/.exec(detail);
  if (code === "api_error" && http) {
    const reason = texts.has(`http.${http[1]}`) ? texts.t(`http.${http[1]}`) : http[2] || "";
    return texts.t("error.api_error_http", { ...params, status: http[1], reason });
  }
  // WakeHub's own readiness timeout says how long it waited (a channel's
  // timeout, an API that did not answer, has no seconds).
  if (code === "timeout" && params.seconds !== undefined) return texts.t(`error.not_ready_${verb}`, params);
  if (code && code !== "default" && texts.has(`error.${code}`)) return texts.t(`error.${code}`, params);
  return texts.t("error.default", params);
}

/**
 * What a running step does, in the user's language, from the code and
 * placeholders the cascade sensor gives (detail: command, command_via,
 * waiting_stop, waiting_apis, waiting_up). Empty for an unknown code.
 */
function stepDetail(texts, step) {
  const p = step.placeholders && typeof step.placeholders === "object" ? step.placeholders : {};
  const params = {
    ...p,
    channel: texts.has(`channel.${p.channel}`) ? texts.t(`channel.${p.channel}`) : p.channel || "",
    apis: texts.join(String(p.apis || "").split(",").filter(Boolean).map((a) => (texts.has(`channel.${a}`) ? texts.t(`channel.${a}`) : a))),
  };
  const action = step.action === "stop" || p.action === "stop" ? "stop" : "start";
  if (texts.has(`detail.${step.detail}.${action}`)) return texts.t(`detail.${step.detail}.${action}`, params);
  if (texts.has(`detail.${step.detail}`)) return texts.t(`detail.${step.detail}`, params);
  return "";
}

/**
 * A refused service call in the user's language.
 *
 * WakeHub raises translated exceptions: the error carries translation_domain,
 * translation_key and translation_placeholders (Home Assistant's websocket
 * API passes them on), and Home Assistant's own translations of WakeHub's
 * exceptions (strings.json, in every language WakeHub ships) render them,
 * as the frontend does for its own notifications. The message is the
 * fallback: another integration's error, or a frontend without the loader.
 */
async function serviceErrorText(hass, err) {
  const e = err && err.error && typeof err.error === "object" ? err.error : err;
  if (e && e.translation_key && e.translation_domain && hass && typeof hass.loadBackendTranslation === "function") {
    try {
      const localize = await hass.loadBackendTranslation("exceptions", e.translation_domain);
      const text = (localize || hass.localize)(
        `component.${e.translation_domain}.exceptions.${e.translation_key}.message`,
        e.translation_placeholders || {},
      );
      if (text) return text;
    } catch (_err) {
      // the message below
    }
  }
  return e && e.message ? String(e.message) : String(err);
}

class WakeHubCard extends HTMLElement {
  constructor() {
    super();
    this.attachShadow({ mode: "open" });
    this._config = {};
    this._confirm = {}; // node id -> {plan?, busy?}
    this._busy = {}; // node id -> busy.* key while a call is sent
    this._errors = {}; // node id -> last call error
    this._renderKey = "";
    this._texts = null;
    this.shadowRoot.addEventListener("click", (ev) => this._onClick(ev));
    this.shadowRoot.addEventListener("keydown", (ev) => {
      if ((ev.key === "Enter" || ev.key === " ") && ev.target.dataset && ev.target.dataset.action === "more-info") {
        ev.preventDefault();
        this._onClick(ev);
      }
    });
  }

  static getStubConfig() {
    return {}; // every pinned node
  }

  static getConfigElement() {
    return document.createElement("wakehub-card-editor");
  }

  setConfig(config) {
    // In the user's language once a language is loaded (Home Assistant may
    // set the configuration before it gives the card hass).
    const texts = this._texts || lastTexts || new Texts("en", {}, {});
    const say = (key, english) => (texts.has(key) ? texts.t(key) : english);
    if (!config || typeof config !== "object") throw new Error(say("config.invalid", "Invalid configuration"));
    if (config.nodes !== undefined && !Array.isArray(config.nodes)) {
      throw new Error(say("config.nodes_list", "'nodes' must be a list of entity ids, node ids or names"));
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

  /** The texts of the user's language; null while its file loads. */
  _currentTexts() {
    const language = pickLanguage(this._hass);
    if (this._texts && this._texts.language === language) return this._texts;
    if (this._loading !== language) {
      this._loading = language;
      textsFor(language).then((texts) => {
        if (this._loading !== language) return;
        this._texts = texts;
        this._render(true);
      });
    }
    return this._texts; // the previous language until the new one is there
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
    return nodes.map((node) => this._node(node, cascade, all));
  }

  _node(node, cascade, all) {
    const a = node.attrs;
    const hass = this._hass;
    const c = cascade && cascade.attributes;
    const cascadeHere = c && c.target === node.id ? c : null;
    // Another node's running start that goes through this one (the NAS woken
    // for Jellyfin): Cancel on this row cancels that start.
    const via = c && !cascadeHere && c.action === "start" && LIVE.has(c.status) &&
      (c.steps || []).some((s) => s.node === node.id)
      ? c.target_name || c.target
      : null;
    // No state, "unavailable" or "unknown" (the node's API fails): unavailable.
    const raw = node.state && node.state.state;
    let status = STATES[raw] ? raw : "unavailable";
    // A cascade about this node that has not reached it yet: show where it goes.
    if (cascadeHere && LIVE.has(cascadeHere.status)) {
      if (cascadeHere.action === "start" && status === "off") status = "starting";
      if (cascadeHere.action === "stop" && status === "on") status = "stopping";
    }
    // The error to show on this row: the node's own (it failed), or the
    // failure of its own cascade while the node that failed still is in
    // error (cleared when it reaches its target, or when dismissed).
    let failure = null;
    const inError = (id) => {
      const other = all.get(id);
      return !!(other && (other.attrs.error_code || (other.state && other.state.state === "error")));
    };
    const e = cascadeHere && cascadeHere.status === "failed" ? cascadeHere.error : null;
    if (e && (inError(e.node || node.id) || inError(node.id))) {
      failure = {
        code: e.code,
        message: e.message,
        api: e.api,
        placeholders: e.placeholders,
        node: e.node || node.id,
        action: cascadeHere.action,
        step: e.step,
      };
    } else if (a.error_code) {
      const here = c && c.status === "failed" && c.error && c.error.node === node.id;
      failure = {
        code: a.error_code,
        message: a.error_message,
        placeholders: a.error_placeholders,
        node: node.id,
        action: here ? c.action : "start",
      };
    }
    return {
      id: node.id,
      entity: node.entity,
      name: nodeName(hass, node),
      kind: a.kind,
      host: hostName(hass, node),
      status,
      url: a.url || null,
      proposal: a.proposal_id || null,
      proposalExpires: a.proposal_expires_at || null,
      idleLeft: idleLeft(hass, a.idle_entity),
      via,
      failure,
      cascade: cascadeHere
        ? {
            action: cascadeHere.action,
            status: cascadeHere.status,
            steps: cascadeHere.steps || [],
            error: cascadeHere.error || null,
            cancel: cascadeHere.cancel_code || null,
            cancelPlaceholders: cascadeHere.cancel_placeholders || {},
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
      // As a tile card: tapping the name, icon or state runs `tap_action`,
      // by default the node's more-info dialog.
      "more-info": () => {
        if (!node.entity) return;
        const tap = this._config.tap_action;
        if (tap && tap.action !== "more-info") {
          this.dispatchEvent(
            new CustomEvent("hass-action", {
              detail: { config: { entity: node.entity, tap_action: tap }, action: "tap" },
              bubbles: true,
              composed: true,
            }),
          );
          return;
        }
        this.dispatchEvent(
          new CustomEvent("hass-more-info", { detail: { entityId: node.entity }, bubbles: true, composed: true }),
        );
      },
      start: () => this._run(node, "start", () => this._call("start", node)),
      stop: () => this._askStop(node),
      retry: () => {
        const action = node.failure && node.failure.action === "stop" ? "stop" : "start";
        return this._run(node, action, () => this._call(action, node));
      },
      "dismiss-error": () => this._run(node, "dismiss", () => this._call("clear_error", node)),
      "confirm-stop": () => {
        delete this._confirm[node.id];
        return this._run(node, "stop", () => this._call("stop", node));
      },
      "cancel-stop": () => {
        delete this._confirm[node.id];
        this._render(true);
      },
      "confirm-proposal": () => this._run(node, "shut_down", () => this._call("confirm_shutdown", node)),
      "dismiss-proposal": () => this._run(node, "keep_on", () => this._call("dismiss_shutdown", node)),
    };
    handlers[button.dataset.action]?.();
  }

  async _run(node, busy, fn) {
    this._busy[node.id] = busy;
    delete this._errors[node.id];
    this._render(true);
    try {
      await fn();
    } catch (err) {
      this._errors[node.id] = await serviceErrorText(this._hass, err);
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
      this._errors[node.id] = await serviceErrorText(this._hass, err);
    }
    this._render(true);
    this.shadowRoot.querySelector(`[data-action="confirm-stop"][data-node="${CSS.escape(node.id)}"]`)?.focus();
  }

  // ---------------------------------------------------------------- render

  _render(force = false) {
    if (!this._hass) return;
    const texts = this._currentTexts();
    if (!texts) return; // its file is on its way: rendered when it comes
    const nodes = this._nodes();
    const key = JSON.stringify([texts.language, this._config, nodes, this._confirm, this._busy, this._errors]);
    if (!force && key === this._renderKey) return;
    this._renderKey = key;
    this._all = wakehubNodes(this._hass);
    const title = this._config.title;
    const body = nodes.length
      ? nodes.map((n) => this._renderNode(texts, n)).join("")
      : `<p class="empty">${escapeHtml(texts.t("empty"))}</p>`;
    this.shadowRoot.innerHTML = `
      <style>${STYLE}</style>
      <ha-card lang="${escapeHtml(texts.language)}" ${title ? `header="${escapeHtml(title)}"` : ""}>
        <div class="nodes">${body}</div>
      </ha-card>`;
  }

  _renderNode(texts, n) {
    const T = (key, params) => escapeHtml(texts.t(key, params));
    const st = STATES[n.status];
    const busy = this._busy[n.id];
    const confirm = this._confirm[n.id];
    const running = n.status === "starting" || n.status === "stopping" ||
      (n.cascade && LIVE.has(n.cascade.status));
    const id = escapeHtml(n.id);
    const name = n.name;
    const isOn = n.status === "on" || n.status === "starting" || (n.status === "error" && n.cascade?.action === "start");
    // A start can be stopped while it runs (the cascade stops at its next
    // step, then the node is shut down); a running stop cannot be undone.
    const stopping = n.status === "stopping" || (running && n.cascade?.action === "stop");
    // A failed row offers Retry and Dismiss (below) instead of Start/Stop.
    const failed = n.failure && (n.status === "error" || n.status === "unavailable");
    const powerButton = failed
      ? ""
      : !isOn
      ? `<button class="start" data-action="start" data-node="${id}" ${busy || running ? "disabled" : ""}
           aria-label="${T("aria.start", { name })}">${T("button.start")}</button>`
      : n.status === "starting"
        ? `<button class="stop" data-action="stop" data-node="${id}" ${busy || confirm ? "disabled" : ""}
           aria-label="${T("aria.cancel_start", { name: n.via || name })}">${T("button.cancel")}</button>`
        : `<button class="stop" data-action="stop" data-node="${id}" ${busy || confirm || stopping ? "disabled" : ""}
           aria-label="${T("aria.stop", { name })}">${T("button.stop")}</button>`;
    const open = n.url
      ? `<a class="open" href="${escapeHtml(n.url)}" target="_blank" rel="noopener noreferrer"
           aria-label="${T("aria.open", { name })}">${T("button.open")}</a>`
      : "";
    const kind = texts.has(`kind.${n.kind}`) ? texts.t(`kind.${n.kind}`) : "";
    const kindLine = n.host && n.kind !== "machine" ? texts.t("kind_on", { kind, host: n.host }) : kind;
    const info = n.entity ? `data-action="more-info" data-node="${id}" role="button" tabindex="0"` : "";
    return `
      <section class="node" data-node="${id}" data-state="${n.status}" aria-label="${escapeHtml(name)}">
        <div class="row">
          <div class="info" ${info} aria-label="${T("aria.details", { name })}">
            <ha-icon class="kind-icon" icon="${KIND_ICONS[n.kind] || "mdi:help"}" aria-hidden="true"></ha-icon>
            <div class="title">
              <div class="name">${escapeHtml(name)}</div>
              <div class="kind">${escapeHtml(kindLine)}</div>
            </div>
            <span class="state" style="--state-color:${st.color}" data-state="${n.status}">
              <ha-icon icon="${st.icon}" aria-hidden="true"></ha-icon>
              <span class="state-label">${T(`state.${n.status}`)}</span>
            </span>
          </div>
          <div class="actions">${open}${powerButton}</div>
        </div>
        <div class="live" aria-live="polite">
          ${busy ? `<p class="busy">${T(`busy.${busy}`)}</p>` : ""}
          ${this._renderProgress(texts, n)}
          ${this._renderError(texts, n)}
        </div>
        ${confirm ? this._renderConfirm(texts, n, confirm) : ""}
        ${n.proposal ? this._renderProposal(texts, n) : ""}
        ${n.idleLeft !== null && !n.proposal ? `<p class="idle">${T("idle.left", { minutes: n.idleLeft })}</p>` : ""}
      </section>`;
  }

  _renderProgress(texts, n) {
    const c = n.cascade;
    const T = (key, params) => escapeHtml(texts.t(key, params));
    if (c && c.status === "cancelled" && c.cancel && texts.has(`cancelled.${c.cancel}`)) {
      return `<p class="cancelled">${T(`cancelled.${c.cancel}`, c.cancelPlaceholders)}</p>`;
    }
    if (!c || !LIVE.has(c.status)) return "";
    const total = c.steps.length;
    const done = c.steps.filter((s) => s.status === "done" || s.status === "skipped").length;
    const action = c.action === "stop" ? "stop" : "start";
    const summary = c.status === "queued" && !done
      ? T("progress.queued")
      : T(`progress.${action}`, { name: n.name, step: Math.min(done + 1, total), total });
    const running = c.steps.find((s) => s.status === "running" && s.detail);
    const detail = running ? stepDetail(texts, running) : "";
    const steps = `<ol class="steps">${c.steps
      .map((s) => {
        const label = texts.has(`step.${s.status}`) ? texts.t(`step.${s.status}`) : s.status;
        return `<li class="step" data-status="${escapeHtml(s.status)}">
            <span class="mark" aria-hidden="true">${STEP_MARKS[s.status] || "?"}</span>
            <span>${T(s.action === "stop" ? "progress.step_stop" : "progress.step_start", { name: s.name })}</span>
            <span class="step-status">${escapeHtml(label)}</span>
          </li>`;
      })
      .join("")}</ol>`;
    return `<div class="progress" role="status">
        <p class="summary">${summary}</p>
        ${detail ? `<p class="detail">${escapeHtml(detail)}</p>` : ""}
        ${steps}
      </div>`;
  }

  _renderError(texts, n) {
    const id = escapeHtml(n.id);
    const messages = [];
    if (this._errors[n.id]) messages.push(this._errors[n.id]);
    const f = n.failure;
    if (f) messages.push(describeError(texts, this._hass, this._all, f, f.node, f.action));
    if (!messages.length) return "";
    const retryable = f && !this._busy[n.id] && !(n.cascade && LIVE.has(n.cascade.status));
    const actions = f
      ? `<div class="actions">
          <button data-action="dismiss-error" data-node="${id}" ${this._busy[n.id] ? "disabled" : ""}
            aria-label="${escapeHtml(texts.t("aria.dismiss_error", { name: n.name }))}">${escapeHtml(texts.t("button.dismiss"))}</button>
          <button class="start" data-action="retry" data-node="${id}" ${retryable ? "" : "disabled"}
            aria-label="${escapeHtml(texts.t(f.action === "stop" ? "aria.retry_stop" : "aria.retry_start", { name: n.name }))}">${escapeHtml(texts.t("button.retry"))}</button>
        </div>`
      : "";
    return `<div class="error" role="alert">
        <ha-icon icon="mdi:alert-circle" aria-hidden="true"></ha-icon>
        <div class="error-body">${messages.map((m) => `<p>${escapeHtml(m)}</p>`).join("")}${actions}</div>
      </div>`;
  }

  _renderConfirm(texts, n, confirm) {
    const T = (key, params) => escapeHtml(texts.t(key, params));
    const id = escapeHtml(n.id);
    if (confirm.busy) return `<div class="confirm"><p>${T("confirm.planning", { name: n.name })}</p></div>`;
    const plan = confirm.plan || {};
    const names = new Map((plan.steps || []).map((s) => [s.node, s.name]));
    // What stops first, in order: what runs on the node (hosted) and what
    // needs it (dependents), each said as such.
    const first = (plan.dependents || []).map((d) => {
      const step = (plan.steps || []).find((s) => s.node === d.node) || {};
      const of = names.get(step.reason_of) || n.name;
      return texts.t(d.reason === "hosted" ? "confirm.runs_on" : "confirm.needs", { name: d.name, of });
    });
    // The starts this stop cancels (the plan names them): this node's own,
    // and any other start that needs it (Jellyfin's, for the NAS).
    const cancels = plan.cancels || [];
    const others = cancels.filter((c) => c.target !== n.id).map((c) => c.name);
    const starting = n.status === "starting" || cancels.length > 0;
    let question;
    if (!starting) question = texts.t("confirm.question", { name: n.name });
    else if (!others.length) question = texts.t("confirm.cancel_own", { name: n.name });
    else question = texts.t("confirm.cancel_other", { name: n.name, others: texts.join(others) });
    return `<div class="confirm" role="alertdialog" aria-label="${escapeHtml(question)}">
        <p class="question">${escapeHtml(question)}</p>
        ${first.length ? `<p class="first">${T("confirm.first")}</p>
          <ol class="dependents">${first.map((d) => `<li>${escapeHtml(d)}</li>`).join("")}</ol>` : ""}
        <div class="actions">
          <button data-action="cancel-stop" data-node="${id}">${T(starting ? "button.keep_starting" : "button.cancel")}</button>
          <button class="stop" data-action="confirm-stop" data-node="${id}">${T(starting ? "button.cancel_start" : "button.shut_down")}</button>
        </div>
      </div>`;
  }

  _renderProposal(texts, n) {
    const T = (key, params) => escapeHtml(texts.t(key, params));
    const id = escapeHtml(n.id);
    const name = n.name;
    const time = n.proposalExpires ? formatTime(this._hass, n.proposalExpires) : "";
    return `<div class="proposal" role="group" aria-label="${T("aria.proposal", { name })}">
        <p>${T("proposal.question", { name })}</p>
        ${time ? `<p class="expires">${T("proposal.expires", { time })}</p>` : ""}
        <div class="actions">
          <button data-action="dismiss-proposal" data-node="${id}" aria-label="${T("aria.keep_on", { name })}">${T("button.keep_on")}</button>
          <button class="stop" data-action="confirm-proposal" data-node="${id}" aria-label="${T("aria.shut_down", { name })}">${T("button.shut_down")}</button>
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
  .row { display: flex; align-items: center; gap: 12px; flex-wrap: wrap; }
  .info {
    flex: 1 1 200px; min-width: min(200px, 100%); display: flex; align-items: center; gap: 12px;
    cursor: pointer; border-radius: 4px;
  }
  .info:focus-visible { outline: 2px solid var(--primary-color, #03a9f4); outline-offset: 2px; }
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
  .error-body { flex: 1; }
  .error .actions { margin-top: 8px; }
  .expires, .idle { font-size: 0.85em; color: var(--secondary-text-color); }
  .idle { margin: 0 0 4px; }
  .first { font-size: 0.9em; }
  @media (max-width: 450px) {
    .node { padding: 10px 12px; }
    .row { gap: 8px; }
    .info { gap: 8px; }
    .row .actions { margin-left: auto; }
  }
  .confirm, .proposal {
    margin-top: 8px; padding: 10px 12px; border-radius: 4px;
    border: 1px solid var(--warning-color, #ffa600); background: rgba(255, 166, 0, 0.08);
  }
  .confirm p, .proposal p { margin: 0 0 4px; }
  .question { font-weight: 500; }
  .dependents { margin: 4px 0; padding-left: 20px; }
  .empty { padding: 16px; color: var(--secondary-text-color); }
`;

/**
 * The visual editor: Home Assistant's own form (ha-form), a title and an
 * entity selector limited to WakeHub's nodes (their status sensors). None
 * chosen means every pinned node, which the helper text names.
 *
 * The graph card's editor (wakehub-graph-card.js) extends this class: it
 * overrides `_section` (where its labels are) and `_fields` (its form).
 */
class WakeHubCardEditor extends HTMLElement {
  connectedCallback() {
    // ha-form is Home Assistant's, loaded with the frontend's own card
    // editors: load one (the entities card's) when it is not there yet.
    if (!customElements.get("ha-form") && window.loadCardHelpers) {
      window
        .loadCardHelpers()
        .then((helpers) => helpers.createCardElement({ type: "entities", entities: [] }))
        .then((card) => card.constructor.getConfigElement())
        .catch(() => undefined);
    }
  }

  setConfig(config) {
    this._config = { ...config };
    this._render();
  }

  set hass(hass) {
    this._hass = hass;
    this._render();
  }

  /** The texts' section of the labels (`<section>.<field>`) and helpers (`<field>_help`). */
  get _section() {
    return "editor";
  }

  /**
   * The form: ha-form's schema, its data, and the placeholders of each
   * field's helper text (no entry, no helper). `nodes` are WakeHub's nodes
   * ({id, entity, label, kind, pinned}), `resolve(ref)` the one an entity
   * id, node id or name designates.
   */
  _fields(nodes, resolve) {
    const listed = nodes.filter((n) => n.entity);
    // The configured items as the status sensors the selector lists.
    const chosen = (this._config.nodes || [])
      .map(resolve)
      .filter((n) => n && n.entity)
      .map((n) => n.entity);
    const pinned = listed
      .filter((n) => n.pinned)
      .map((n) => n.label)
      .sort((a, b) => a.localeCompare(b));
    return {
      schema: [
        { name: "title", selector: { text: {} } },
        {
          name: "nodes",
          selector: { entity: { multiple: true, include_entities: listed.map((n) => n.entity) } },
        },
      ],
      data: { title: this._config.title || "", nodes: chosen },
      help: {
        nodes: { pinned: pinned.length ? this._texts.join(pinned) : this._texts.t("editor.none_pinned") },
      },
    };
  }

  /** A field left empty is left out of the configuration. */
  _changed(value) {
    const config = { ...this._config };
    for (const { name } of this._form.schema) {
      const v = value[name];
      if (Array.isArray(v) ? v.length : v) config[name] = v;
      else delete config[name];
    }
    this._config = config;
    this.dispatchEvent(new CustomEvent("config-changed", { detail: { config }, bubbles: true, composed: true }));
  }

  _render() {
    if (!this._hass || !this._config) return;
    const texts = this._texts && this._texts.language === pickLanguage(this._hass) ? this._texts : null;
    if (!texts) {
      textsFor(pickLanguage(this._hass)).then((t) => {
        this._texts = t;
        this._render();
      });
      return;
    }
    const hass = this._hass;
    const all = wakehubNodes(hass);
    const nodes = [...all.values()].map((n) => ({
      id: n.id,
      entity: n.entity,
      label: nodeName(hass, n),
      kind: n.attrs.kind,
      pinned: !!n.attrs.pinned,
    }));
    const byId = new Map(nodes.map((n) => [n.id, n]));
    const resolve = (ref) => {
      const node = resolveNode(hass, all, ref);
      return node && byId.get(node.id);
    };
    const { schema, data, help } = this._fields(nodes, resolve);
    if (!this._form) {
      this._form = document.createElement("ha-form");
      this._form.computeLabel = (field) => this._texts.t(`${this._section}.${field.name}`);
      this._form.computeHelper = (field) =>
        this._help[field.name] ? this._texts.t(`${this._section}.${field.name}_help`, this._help[field.name]) : undefined;
      this._form.addEventListener("value-changed", (ev) => {
        ev.stopPropagation();
        this._changed(ev.detail.value || {});
      });
      this.appendChild(this._form);
    }
    this._help = help || {};
    this._form.hass = hass;
    this._form.schema = schema;
    this._form.data = data;
  }
}

/**
 * Define the elements in the registry the frontend uses.
 *
 * Home Assistant's frontend imports this module alongside its own app, and
 * its app installs a scoped custom-element registry polyfill that replaces
 * window.customElements. When this module runs first, a definition made in
 * the native registry is invisible to the new one: the dashboard shows
 * "Custom element doesn't exist" until the next reload (1 load in 7 in the
 * demo). So define at once, and again in the current registry once the
 * frontend's own <home-assistant> is defined (the polyfill is in place by
 * then); each registry gets each element once.
 */
const ELEMENTS = { "wakehub-card": WakeHubCard, "wakehub-card-editor": WakeHubCardEditor };
// The graph card finds the list card through the element registry (not an
// import, which a second URL would load twice): it renders a refused call's
// text with this same function, in the user's language.
WakeHubCard.serviceErrorText = serviceErrorText;

function defineElements() {
  const registry = window.customElements;
  for (const [tag, element] of Object.entries(ELEMENTS)) {
    if (!registry.get(tag)) registry.define(tag, element);
  }
}

defineElements();
window.customElements.whenDefined("home-assistant").then(defineElements);

window.customCards = window.customCards || [];
if (!window.customCards.some((c) => c.type === "wakehub-card")) {
  const entry = {
    type: "wakehub-card",
    name: "WakeHub",
    description: "Start and stop pinned homelab nodes in dependency order, with live progress.",
    preview: false,
    documentationURL: "https://github.com/wakehub/wakehub",
  };
  window.customCards.push(entry);
  // The card picker's description in the page's language (the frontend sets
  // <html lang> to the user's): English until that file is loaded.
  const lang = typeof document !== "undefined" && document.documentElement && document.documentElement.lang;
  if (lang) {
    textsFor(pickLanguage({ language: lang })).then((texts) => {
      entry.description = texts.t("picker.description");
    });
  }
}
console.info(`%c WAKEHUB-CARD %c ${VERSION} `, "background:#03a9f4;color:#fff", "");

// For the tests (tests/integration/test_card_texts.py run these under node):
// the texts the card shows for what the backend sends.
export { Texts, WakeHubCard, describeError, serviceErrorText, stepDetail, textsFor };
