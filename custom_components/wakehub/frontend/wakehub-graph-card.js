/*
 * WakeHub graph card: `custom:wakehub-graph-card`, the homelab as a picture.
 *
 * Plain JavaScript and SVG, no build step. The integration serves this file
 * and adds it to the frontend's extra modules, as it does the list card.
 *
 *   type: custom:wakehub-graph-card
 *   title: Homelab            # optional
 *   machines: [sensor.nas_status, Machine2]   # optional: only their trees
 *
 * It draws what runs on what (the hosting tree: each machine with its VMs,
 * LXCs and containers below it) and what needs what (the dependency edges,
 * dashed arrows from a node to the node it needs), each node coloured by its
 * live state. Everything comes from the cascade sensor's `nodes` attribute
 * (node_id, name, kind, status_entity, parent, dependencies) and the status
 * sensors' states, so the picture follows every poll and every edit.
 *
 * Tapping a node opens its more-info dialog and selects it: below the
 * picture, the node's row of the list card (`wakehub-card`, the same element,
 * so Start, Stop and the stop plan's confirmation are the list card's own),
 * what it needs, with Remove, and "Add a dependency": tap the node it needs.
 * Its host and what runs on it are not offered; a node that would close a
 * cycle is marked, and tapping it shows WakeHub's own refusal
 * (wakehub.add_dependency / wakehub.remove_dependency).
 *
 * `machines` limits the picture to those machines' trees (each item a
 * status sensor, a node id or a name); the arrows to a node left out are not
 * drawn. The visual editor (`getConfigElement`) is the list card's, with
 * these two fields: Home Assistant's ha-form and its selectors.
 *
 * It fits a phone: the machines' trees are laid out in as many columns as
 * the card's width holds, one on a phone.
 *
 * Its text is in the list card's translations/<language>.js (section `graph`,
 * and their `state` and `kind`), one file per language, picked from
 * hass.locale.language (a missing key falls back to English).
 */

const DOMAIN = "wakehub";
const VERSION = "0.1.0";

// --------------------------------------------------------------- languages

const MODULE_URL = new URL(import.meta.url);
// The text files' version: the list card's (&t=), so both share one copy.
const FILE_VERSION = MODULE_URL.searchParams.get("t") || MODULE_URL.searchParams.get("v");
const LANGUAGES = (MODULE_URL.searchParams.get("l") || "en,fr").split(",").filter(Boolean);
const loaded = new Map(); // language -> Promise<strings>

function loadLanguage(language) {
  if (!loaded.has(language)) {
    const url = new URL(`translations/${language}.js`, MODULE_URL);
    if (FILE_VERSION) url.searchParams.set("v", FILE_VERSION);
    loaded.set(
      language,
      import(url.href).then(
        (module) => module.default || {},
        (err) => {
          console.warn(`WakeHub graph card: no ${language} text (${err})`);
          return {};
        },
      ),
    );
  }
  return loaded.get(language);
}

function pickLanguage(hass) {
  const wanted = String((hass && ((hass.locale && hass.locale.language) || hass.language)) || "en");
  if (LANGUAGES.includes(wanted)) return wanted;
  const base = wanted.split("-")[0];
  return LANGUAGES.find((l) => l.split("-")[0] === base) || "en";
}

const lookup = (table, key) =>
  key.split(".").reduce((v, k) => (v && typeof v === "object" ? v[k] : undefined), table);

/** `key`'s text in `strings`, else English, else the key; {params} filled. */
function translate(strings, english, key, params = {}) {
  let text = lookup(strings, key);
  if (typeof text !== "string") text = lookup(english, key);
  if (typeof text !== "string") return key;
  return text.replace(/\{(\w+)\}/g, (m, name) => (params[name] !== undefined ? String(params[name]) : m));
}

const escapeHtml = (value) =>
  String(value ?? "").replace(/[&<>"']/g, (c) =>
    ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c],
  );

// -------------------------------------------------------------------- data

const STATE_COLORS = {
  on: "var(--success-color, #43a047)",
  off: "var(--secondary-text-color, #727272)",
  starting: "var(--info-color, #039be5)",
  stopping: "var(--warning-color, #ffa600)",
  error: "var(--error-color, #db4437)",
  unavailable: "var(--disabled-text-color, #bdbdbd)",
};

/** The domain's cascade sensor, whose `nodes` list every node. */
function cascadeSensor(hass) {
  return Object.values(hass.states).find(
    (s) =>
      s.entity_id.startsWith("sensor.") &&
      Array.isArray(s.attributes.nodes) &&
      Array.isArray(s.attributes.steps) &&
      (!hass.entities || !hass.entities[s.entity_id] || hass.entities[s.entity_id].platform === DOMAIN),
  );
}

/** Every node: {id, name, kind, entity, parent, dependencies, state}. */
function graphNodes(hass) {
  const cascade = cascadeSensor(hass);
  const nodes = new Map();
  for (const info of (cascade && cascade.attributes.nodes) || []) {
    if (!info || typeof info.node_id !== "string") continue;
    const state = info.status_entity ? hass.states[info.status_entity] : undefined;
    const raw = state && state.state;
    nodes.set(info.node_id, {
      id: info.node_id,
      name: info.name || info.node_id,
      kind: info.kind,
      entity: info.status_entity || null,
      parent: info.parent || null,
      dependencies: Array.isArray(info.dependencies) ? info.dependencies : [],
      state: STATE_COLORS[raw] ? raw : "unavailable",
    });
  }
  for (const node of nodes.values()) {
    if (node.parent && !nodes.has(node.parent)) node.parent = null;
    node.dependencies = node.dependencies.filter((d) => nodes.has(d));
  }
  return nodes;
}

/**
 * The nodes drawn: with `machines` (entity ids, node ids or names), those
 * machines' trees only; every node otherwise. The panel still lists a
 * selected node's dependencies that are not drawn.
 */
function shownNodes(nodes, machines) {
  if (!Array.isArray(machines) || !machines.length) return nodes;
  const wanted = new Set(machines.map((m) => String(m).toLowerCase()));
  const rootOf = (n) => {
    const seen = new Set();
    while (n.parent && !seen.has(n.id)) {
      seen.add(n.id);
      n = nodes.get(n.parent);
    }
    return n;
  };
  return new Map(
    [...nodes].filter(([, n]) => {
      const root = rootOf(n);
      return [root.id, root.entity, root.name].some((v) => v && wanted.has(v.toLowerCase()));
    }),
  );
}

const byName = (a, b) => a.name.localeCompare(b.name);

function children(nodes, id) {
  return [...nodes.values()].filter((n) => n.parent === id).sort(byName);
}

function ancestors(nodes, id) {
  const found = new Set();
  for (let n = nodes.get(id); n && n.parent && !found.has(n.parent); n = nodes.get(n.parent)) found.add(n.parent);
  return found;
}

function subtree(nodes, id) {
  const found = new Set();
  const todo = [id];
  while (todo.length) {
    for (const child of children(nodes, todo.pop())) {
      if (!found.has(child.id)) {
        found.add(child.id);
        todo.push(child.id);
      }
    }
  }
  return found;
}

/**
 * The nodes that need `id`, directly or not (a dependency or a host is
 * needed): "`id` needs one of them" would close a cycle.
 */
function needing(nodes, id) {
  const found = new Set();
  const todo = [id];
  while (todo.length) {
    const current = todo.pop();
    for (const n of nodes.values()) {
      if (found.has(n.id)) continue;
      if (n.parent === current || n.dependencies.includes(current)) {
        found.add(n.id);
        todo.push(n.id);
      }
    }
  }
  return found;
}

// ------------------------------------------------------------------ layout

const BOX_W = 136;
const BOX_H = 46;
const INDENT = 18;
const ROW = BOX_H + 14;
const COL_GAP = 56;
const PAD = 12;
// Right of a column: the arrows between two nodes of that column bend there
// (into the gap between columns, or past the last one).
const bendRoom = (cols) => (cols > 1 ? 40 : 80);
// The picture may be drawn this much wider than the card, then scaled down.
const SQUEEZE = 1.12;

/**
 * Each machine's tree as a block of rows (a child below its host, indented),
 * the blocks spread over as many columns as `width` holds: one on a phone.
 */
function layout(nodes, width) {
  const roots = [...nodes.values()].filter((n) => !n.parent).sort(byName);
  const blocks = roots.map((root) => {
    const rows = [];
    const walk = (node, depth) => {
      rows.push({ node, depth });
      for (const child of children(nodes, node.id)) walk(child, depth + 1);
    };
    walk(root, 0);
    return rows;
  });
  const maxDepth = Math.max(0, ...blocks.flat().map((r) => r.depth));
  const colW = BOX_W + maxDepth * INDENT;
  const need = (cols) => cols * colW + (cols - 1) * COL_GAP + 2 * PAD + bendRoom(cols);
  let cols = Math.max(1, blocks.length);
  while (cols > 1 && need(cols) > width * SQUEEZE) cols -= 1;
  const heights = new Array(cols).fill(0);
  const place = new Map();
  for (const rows of blocks) {
    const col = heights.indexOf(Math.min(...heights));
    const x0 = PAD + col * (colW + COL_GAP);
    rows.forEach((r, i) => {
      place.set(r.node.id, { x: x0 + r.depth * INDENT, y: PAD + (heights[col] + i) * ROW, col });
    });
    heights[col] += rows.length + 0.5;
  }
  const height = Math.max(1, ...heights.map((h) => h - 0.5)) * ROW + 2 * PAD;
  return { place, width: need(cols), height, cols, colW };
}

// -------------------------------------------------------------------- card

class WakeHubGraphCard extends HTMLElement {
  constructor() {
    super();
    this.attachShadow({ mode: "open" });
    this._config = {};
    this._width = 0;
    this._selected = null;
    this._picking = null; // the dependent whose new dependency is being picked
    this._message = null; // {kind: "info" | "error", text}
    this._busy = false;
    this._strings = {};
    this._english = {};
    this._language = null;
    this._renderKey = "";
    this.shadowRoot.innerHTML = `<style>${STYLE}</style>
      <ha-card>
        <div class="header"></div>
        <div class="graph"></div>
        <div class="panel" hidden>
          <div class="panel-head"></div>
          <div class="row-card"></div>
          <div class="deps"></div>
        </div>
      </ha-card>`;
    this.shadowRoot.addEventListener("click", (ev) => this._onClick(ev));
    this.shadowRoot.addEventListener("keydown", (ev) => {
      if ((ev.key === "Enter" || ev.key === " ") && ev.target.closest && ev.target.closest("g.node")) {
        ev.preventDefault();
        this._onClick(ev);
      }
    });
    this._resize = new ResizeObserver((entries) => {
      const width = Math.round(entries[0].contentRect.width);
      if (width && width !== this._width) {
        this._width = width;
        this._render();
      }
    });
  }

  connectedCallback() {
    this._resize.observe(this);
  }

  disconnectedCallback() {
    this._resize.disconnect();
  }

  /** The card picker's configuration: the whole homelab, the default title. */
  static getStubConfig() {
    return {};
  }

  /** The visual editor: the list card's, with the graph card's fields. */
  static async getConfigElement() {
    await customElements.whenDefined("wakehub-card-editor");
    defineEditor();
    return document.createElement("wakehub-graph-card-editor");
  }

  setConfig(config) {
    if (!config || typeof config !== "object") throw new Error("Invalid configuration");
    if (config.machines !== undefined && !Array.isArray(config.machines)) {
      throw new Error("'machines' must be a list of entity ids, node ids or names");
    }
    this._config = { ...config };
    this._renderKey = "";
    this._render();
  }

  set hass(hass) {
    this._hass = hass;
    const language = pickLanguage(hass);
    if (language !== this._language) {
      this._language = language;
      Promise.all([loadLanguage(language), loadLanguage("en")]).then(([strings, english]) => {
        if (this._language !== language) return;
        this._strings = strings;
        this._english = english;
        this._renderKey = "";
        this._render();
      });
    }
    if (this._rowCard) this._rowCard.hass = hass;
    this._render();
  }

  get hass() {
    return this._hass;
  }

  getCardSize() {
    return 6;
  }

  getGridOptions() {
    return { columns: 12, min_columns: 6 };
  }

  _t(key, params) {
    return translate(this._strings, this._english, key, params);
  }

  // --------------------------------------------------------------- actions

  _onClick(ev) {
    const path = ev.composedPath();
    if (this._rowCard && path.includes(this._rowCard)) return; // the list card's own
    const button = path.find((el) => el.dataset && el.dataset.action);
    if (button) {
      if (!button.disabled) this._action(button.dataset.action, button.dataset);
      return;
    }
    const box = path.find((el) => el.classList && el.classList.contains("node") && el.dataset.node);
    if (box) this._tapNode(box.dataset.node);
  }

  _tapNode(id) {
    const nodes = graphNodes(this._hass);
    const node = nodes.get(id);
    if (!node) return;
    if (this._picking) {
      this._pick(nodes, id);
      return;
    }
    this._selected = id;
    this._message = null;
    this._render(true);
    if (node.entity) {
      this.dispatchEvent(
        new CustomEvent("hass-more-info", { detail: { entityId: node.entity }, bubbles: true, composed: true }),
      );
    }
  }

  _action(action, data) {
    const nodes = graphNodes(this._hass);
    if (action === "add") {
      this._picking = this._selected;
      this._message = null;
    } else if (action === "cancel-pick") {
      this._picking = null;
      this._message = null;
    } else if (action === "remove") {
      this._edit("remove_dependency", nodes, this._selected, data.dependency);
      return;
    } else if (action === "close") {
      this._selected = null;
      this._picking = null;
      this._message = null;
    }
    this._render(true);
  }

  _pick(nodes, target) {
    const source = this._picking;
    if (target === source) return;
    const from = nodes.get(source);
    const to = nodes.get(target);
    if (!from || !to) return;
    // Its hosts and what runs on it are no dependencies: the hosting tree
    // already orders them. A cycle is left to WakeHub, which says why.
    if (ancestors(nodes, source).has(target)) {
      this._message = { kind: "error", text: this._t("graph.refused_host", { name: from.name, host: to.name }) };
    } else if (subtree(nodes, source).has(target)) {
      this._message = { kind: "error", text: this._t("graph.refused_hosted", { name: from.name, hosted: to.name }) };
    } else if (from.dependencies.includes(target)) {
      this._message = { kind: "info", text: this._t("graph.already", { name: from.name, dependency: to.name }) };
    } else {
      this._edit("add_dependency", nodes, source, target);
      return;
    }
    this._render(true);
  }

  async _edit(service, nodes, dependent, dependency) {
    const from = nodes.get(dependent);
    const to = nodes.get(dependency);
    if (!from || !to || !from.entity || !to.entity) return;
    this._busy = true;
    this._message = null;
    this._render(true);
    try {
      await this._hass.callService(DOMAIN, service, { dependent: from.entity, dependency: to.entity });
      this._picking = null;
      const key = service === "add_dependency" ? "graph.added" : "graph.removed";
      this._message = { kind: "info", text: this._t(key, { name: from.name, dependency: to.name }) };
    } catch (err) {
      // The list card's renderer: Home Assistant's translation of WakeHub's
      // refusal in the user's language, else the message.
      const card = customElements.get("wakehub-card");
      const text =
        card && card.serviceErrorText
          ? await card.serviceErrorText(this._hass, err)
          : err && err.message
            ? err.message
            : String(err);
      this._message = { kind: "error", text };
    } finally {
      this._busy = false;
      this._render(true);
    }
  }

  // ---------------------------------------------------------------- render

  _render(force = false) {
    const hass = this._hass;
    if (!hass) return;
    const all = graphNodes(hass);
    const nodes = shownNodes(all, this._config.machines);
    if (this._selected && !nodes.has(this._selected)) this._selected = null;
    if (this._picking && !nodes.has(this._picking)) this._picking = null;
    const key = JSON.stringify([
      this._config, [...all.values()], this._width, this._selected, this._picking,
      this._message, this._busy, this._language, Object.keys(this._english).length,
    ]);
    if (!force && key === this._renderKey) return;
    this._renderKey = key;
    const root = this.shadowRoot;
    const title = this._config.title === undefined ? this._t("graph.title") : this._config.title;
    root.querySelector(".header").innerHTML = title
      ? `<h1 class="card-header">${escapeHtml(title)}</h1>`
      : "";
    root.querySelector(".graph").innerHTML = nodes.size
      ? this._renderGraph(all, nodes)
      : `<p class="empty">${escapeHtml(this._t("graph.empty"))}</p>`;
    this._renderPanel(all);
  }

  /** The picture of `nodes`, the ones drawn among `all`. */
  _renderGraph(all, nodes) {
    const width = this._width || this.clientWidth || 360;
    const { place, width: w, height: h, cols } = layout(nodes, width);
    const bendMax = bendRoom(cols) - 8;
    const selected = this._selected;
    const picking = this._picking;
    const blocked = picking ? new Set([...ancestors(all, picking), ...subtree(all, picking)]) : new Set();
    const cycles = picking ? needing(all, picking) : new Set();
    // What runs on what: a line from the host down to each child.
    const hosting = [...nodes.values()]
      .filter((n) => n.parent && place.has(n.parent))
      .map((n) => {
        const p = place.get(n.parent);
        const c = place.get(n.id);
        const x = p.x + 10;
        return `<path class="host-edge" d="M${x},${p.y + BOX_H} V${c.y + BOX_H / 2} H${c.x}"/>`;
      })
      .join("");
    // What needs what: a dashed arrow from the dependent to its dependency.
    const deps = [];
    for (const n of nodes.values()) {
      for (const d of n.dependencies) {
        const a = place.get(n.id);
        const b = place.get(d);
        if (!a || !b) continue;
        const lit = selected && (selected === n.id || selected === d);
        let path;
        if (a.col === b.col) {
          // Same column: out of the right side and back in, around the boxes.
          const x1 = a.x + BOX_W;
          const x2 = b.x + BOX_W;
          const bend = Math.max(x1, x2) + Math.min(bendMax, 16 + Math.abs(a.y - b.y) / 8);
          path = `M${x1},${a.y + BOX_H / 2} C${bend},${a.y + BOX_H / 2} ${bend},${b.y + BOX_H / 2} ${x2 + 4},${b.y + BOX_H / 2}`;
        } else {
          const right = b.x > a.x;
          const x1 = right ? a.x + BOX_W : a.x;
          const x2 = right ? b.x - 4 : b.x + BOX_W + 4;
          const mid = (x1 + x2) / 2;
          path = `M${x1},${a.y + BOX_H / 2} C${mid},${a.y + BOX_H / 2} ${mid},${b.y + BOX_H / 2} ${x2},${b.y + BOX_H / 2}`;
        }
        deps.push(
          `<path class="dep-edge${lit ? " lit" : ""}" data-dependent="${escapeHtml(n.id)}"
             data-dependency="${escapeHtml(d)}" d="${path}" marker-end="url(#arrow${lit ? "-lit" : ""})"/>`,
        );
      }
    }
    const boxes = [...nodes.values()]
      .map((n) => {
        const p = place.get(n.id);
        if (!p) return "";
        const state = this._t(`state.${n.state}`);
        const kind = this._t(`kind.${n.kind}`);
        const classes = ["node"];
        if (n.id === selected) classes.push("selected");
        if (picking && n.id === picking) classes.push("source");
        else if (picking && blocked.has(n.id)) classes.push("blocked");
        else if (picking && cycles.has(n.id)) classes.push("cycle");
        else if (picking) classes.push("candidate");
        const label = picking && cycles.has(n.id)
          ? this._t("graph.aria_cycle", { name: n.name, state })
          : this._t("graph.aria_node", { name: n.name, kind, state });
        return `<g class="${classes.join(" ")}" data-node="${escapeHtml(n.id)}" data-state="${n.state}"
            style="--state-color:${STATE_COLORS[n.state]}" transform="translate(${p.x},${p.y})"
            tabindex="0" role="button" aria-label="${escapeHtml(label)}">
            <rect class="box" width="${BOX_W}" height="${BOX_H}" rx="8"/>
            <circle class="dot" cx="14" cy="${BOX_H / 2}" r="6"/>
            <text class="name" x="28" y="19">${escapeHtml(clip(n.name, 14))}</text>
            <text class="sub" x="28" y="36">${escapeHtml(clip(state, 16))}</text>
            <title>${escapeHtml(`${n.name}: ${kind}, ${state}`)}</title>
          </g>`;
      })
      .join("");
    return `<svg class="picture${picking ? " picking" : ""}" viewBox="0 0 ${w} ${h}" width="${w}" height="${h}"
        role="group" aria-label="${escapeHtml(this._t("graph.aria_picture"))}">
        <defs>
          <marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
            <path d="M0,0 L10,5 L0,10 z" class="arrow"/>
          </marker>
          <marker id="arrow-lit" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
            <path d="M0,0 L10,5 L0,10 z" class="arrow lit"/>
          </marker>
        </defs>
        ${hosting}${deps.join("")}${boxes}
      </svg>
      <p class="legend"><span class="key host"></span>${escapeHtml(this._t("graph.legend_hosts"))}
        <span class="key dep"></span>${escapeHtml(this._t("graph.legend_needs"))}</p>`;
  }

  _renderPanel(nodes) {
    const panel = this.shadowRoot.querySelector(".panel");
    const node = this._selected && nodes.get(this._selected);
    panel.hidden = !node;
    if (!node) return;
    const name = escapeHtml(node.name);
    const message = this._message
      ? `<p class="message ${this._message.kind}" role="${this._message.kind === "error" ? "alert" : "status"}">${escapeHtml(this._message.text)}</p>`
      : "";
    panel.querySelector(".panel-head").innerHTML = `
      <h2>${name}</h2>
      <button class="close" data-action="close" aria-label="${escapeHtml(this._t("graph.close"))}">×</button>`;
    this._mountRowCard(node.id);
    const needs = node.dependencies.map((d) => nodes.get(d)).filter(Boolean).sort(byName);
    const neededBy = [...nodes.values()].filter((n) => n.dependencies.includes(node.id)).sort(byName);
    const list = needs.length
      ? `<ul class="needs">${needs
          .map(
            (d) => `<li data-dependency="${escapeHtml(d.id)}"><span>${escapeHtml(d.name)}</span>
              <button data-action="remove" data-dependency="${escapeHtml(d.id)}" ${this._busy ? "disabled" : ""}
                aria-label="${escapeHtml(this._t("graph.aria_remove", { name: node.name, dependency: d.name }))}">
                ${escapeHtml(this._t("graph.remove"))}</button></li>`,
          )
          .join("")}</ul>`
      : `<p class="none">${escapeHtml(this._t("graph.needs_nothing", { name: node.name }))}</p>`;
    const by = neededBy.length
      ? `<p class="needed-by">${escapeHtml(this._t("graph.needed_by", { names: neededBy.map((n) => n.name).join(", ") }))}</p>`
      : "";
    const picking = this._picking === node.id;
    const add = picking
      ? `<p class="pick" role="status">${escapeHtml(this._t("graph.pick", { name: node.name }))}</p>
         <button data-action="cancel-pick">${escapeHtml(this._t("graph.cancel"))}</button>`
      : `<button class="add" data-action="add" ${this._busy || !node.entity ? "disabled" : ""}>
           ${escapeHtml(this._t("graph.add"))}</button>`;
    panel.querySelector(".deps").innerHTML = `
      <h3>${escapeHtml(this._t("graph.needs", { name: node.name }))}</h3>
      ${list}${by}
      <div class="add-row">${add}</div>
      ${message}`;
  }

  /** The node's row of the list card: its Start, Stop and stop plan. */
  _mountRowCard(id) {
    const slot = this.shadowRoot.querySelector(".row-card");
    if (!customElements.get("wakehub-card")) {
      customElements.whenDefined("wakehub-card").then(() => this._render(true));
      return;
    }
    if (!this._rowCard) {
      this._rowCard = document.createElement("wakehub-card");
      slot.appendChild(this._rowCard);
    }
    if (this._rowCardNode !== id) {
      this._rowCard.setConfig({ nodes: [id] });
      this._rowCardNode = id;
    }
    this._rowCard.hass = this._hass;
  }
}

const clip = (text, max) => (text.length > max ? `${text.slice(0, max - 1)}…` : text);

const STYLE = `
  :host { display: block; }
  ha-card { overflow: hidden; }
  .card-header { margin: 0; padding: 16px 16px 0; font-size: 1.3em; font-weight: 400;
    color: var(--ha-card-header-color, var(--primary-text-color)); }
  .graph { padding: 4px 0 8px; overflow-x: auto; }
  svg.picture { display: block; margin: 0 auto; max-width: 100%; height: auto; }
  .host-edge { fill: none; stroke: var(--divider-color, #c8c8c8); stroke-width: 2; }
  .dep-edge { fill: none; stroke: var(--primary-color, #03a9f4); stroke-width: 1.6; stroke-dasharray: 5 4; opacity: 0.75; }
  .dep-edge.lit { stroke-width: 2.6; opacity: 1; }
  .arrow { fill: var(--primary-color, #03a9f4); }
  g.node { cursor: pointer; outline: none; }
  g.node .box { fill: var(--card-background-color, #fff); stroke: var(--state-color); stroke-width: 2; }
  g.node[data-state="off"] .box, g.node[data-state="unavailable"] .box { stroke-dasharray: 4 3; }
  g.node .dot { fill: var(--state-color); }
  g.node .name { font-size: 13px; font-weight: 500; fill: var(--primary-text-color, #212121); }
  g.node .sub { font-size: 11px; font-weight: 500; fill: var(--state-color); }
  g.node.selected .box, g.node:focus-visible .box { stroke-width: 3.5; filter: drop-shadow(0 0 3px var(--primary-color, #03a9f4)); }
  svg.picking g.node.candidate .box { stroke: var(--primary-color, #03a9f4); stroke-width: 3; }
  svg.picking g.node.blocked { opacity: 0.3; cursor: not-allowed; }
  svg.picking g.node.cycle { opacity: 0.55; }
  svg.picking g.node.cycle .box { stroke: var(--error-color, #db4437); stroke-dasharray: 2 3; }
  svg.picking g.node.source .box { stroke: var(--primary-color, #03a9f4); stroke-width: 4; }
  .legend { display: flex; align-items: center; gap: 6px; flex-wrap: wrap; margin: 4px 16px 0;
    font-size: 0.85em; color: var(--secondary-text-color); }
  .legend .key { display: inline-block; width: 22px; height: 0; margin-left: 8px; }
  .legend .key.host { border-top: 2px solid var(--divider-color, #c8c8c8); }
  .legend .key.dep { border-top: 2px dashed var(--primary-color, #03a9f4); }
  .empty { padding: 16px; color: var(--secondary-text-color); }
  .panel { border-top: 1px solid var(--divider-color, #e0e0e0); padding: 8px 16px 16px; }
  .panel[hidden] { display: none; }
  .panel-head { display: flex; align-items: center; justify-content: space-between; }
  .panel-head h2 { margin: 4px 0; font-size: 1.1em; font-weight: 500; color: var(--primary-text-color); }
  .row-card { --ha-card-box-shadow: none; --ha-card-border-width: 0; margin: 0 -16px; }
  .deps h3 { margin: 8px 0 4px; font-size: 0.95em; font-weight: 500; color: var(--primary-text-color); }
  .needs { list-style: none; margin: 0; padding: 0; }
  .needs li { display: flex; align-items: center; justify-content: space-between; gap: 8px; padding: 4px 0;
    color: var(--primary-text-color); }
  .none, .needed-by, .pick { margin: 4px 0; font-size: 0.9em; color: var(--secondary-text-color); }
  .add-row { display: flex; align-items: center; gap: 8px; flex-wrap: wrap; margin-top: 8px; }
  button {
    font: inherit; font-weight: 500; font-size: 0.9em; cursor: pointer; border-radius: 4px; min-height: 36px;
    padding: 6px 14px; border: 1px solid var(--primary-color, #03a9f4);
    background: transparent; color: var(--primary-color, #03a9f4);
  }
  button.close { border: none; font-size: 1.4em; padding: 0 8px; min-width: 40px; }
  button:disabled { opacity: 0.5; cursor: default; }
  button:focus-visible { outline: 2px solid var(--primary-color, #03a9f4); outline-offset: 2px; }
  .message { margin: 8px 0 0; padding: 8px; border-radius: 4px; font-size: 0.9em; }
  .message.error { color: var(--error-color, #db4437); background: rgba(219, 68, 55, 0.08); }
  .message.info { color: var(--primary-text-color); background: rgba(3, 169, 244, 0.08); }
`;

/**
 * The graph card's editor: the list card's (wakehub-card.js, whose module
 * the integration loads on every page too) with a title and the machines to
 * draw, picked among the machines' status sensors. None chosen: every
 * machine, which the helper text names. Its labels are the `graph.editor`
 * texts. Defined on first use, once the list card's editor is.
 */
let GraphEditor = null;
function defineEditor() {
  if (!GraphEditor) {
    GraphEditor = class extends customElements.get("wakehub-card-editor") {
      get _section() {
        return "graph.editor";
      }

      _fields(nodes, resolve) {
        const machines = nodes
          .filter((n) => n.kind === "machine" && n.entity)
          .sort((a, b) => a.label.localeCompare(b.label));
        const chosen = (this._config.machines || [])
          .map(resolve)
          .filter((n) => n && n.entity)
          .map((n) => n.entity);
        return {
          schema: [
            { name: "title", selector: { text: {} } },
            {
              name: "machines",
              selector: { entity: { multiple: true, include_entities: machines.map((n) => n.entity) } },
            },
          ],
          data: { title: this._config.title || "", machines: chosen },
          help: { machines: { machines: this._texts.join(machines.map((n) => n.label)) } },
        };
      }
    };
  }
  if (!customElements.get("wakehub-graph-card-editor")) {
    customElements.define("wakehub-graph-card-editor", GraphEditor);
  }
}

// Home Assistant's frontend may replace window.customElements with its scoped
// registry polyfill after this module ran: define again once <home-assistant>
// is defined (as the list card does).
function defineElements() {
  if (!window.customElements.get("wakehub-graph-card")) {
    window.customElements.define("wakehub-graph-card", WakeHubGraphCard);
  }
}
defineElements();
window.customElements.whenDefined("home-assistant").then(defineElements);

window.customCards = window.customCards || [];
if (!window.customCards.some((c) => c.type === "wakehub-graph-card")) {
  window.customCards.push({
    type: "wakehub-graph-card",
    name: "WakeHub graph",
    description: "The homelab as a picture: what runs on what, what needs what, live.",
    preview: true,
    documentationURL: "https://github.com/wakehub/wakehub",
  });
}
console.info(`%c WAKEHUB-GRAPH-CARD %c ${VERSION} `, "background:#03a9f4;color:#fff", "");
