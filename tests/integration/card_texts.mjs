// Render the WakeHub card's texts under node, for tests/integration/test_card_texts.py.
//
// Usage: node card_texts.mjs <card module path> <cases.json>
// Prints a JSON list: one result per case, in order. The card is a browser
// module; the few globals it touches when it loads are stubbed here, and the
// functions it exports render what the backend sends (error codes, step
// details, cancel codes, refused service calls) in a language.

import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";

class Stub {}
const registry = { get: () => undefined, define: () => undefined, whenDefined: () => new Promise(() => {}) };
globalThis.HTMLElement = Stub;
globalThis.window = { customElements: registry, customCards: [] };
globalThis.customElements = registry;
console.info = () => undefined;

const [cardPath, casesPath] = process.argv.slice(2);
const card = await import(`${pathToFileURL(cardPath).href}?l=en,fr`);
const cases = JSON.parse(readFileSync(casesPath, "utf-8"));

// Jellyfin, an LXC on Machine2; the NAS, a machine: as Home Assistant's
// registries give them to the card.
const hass = {
  states: {},
  entities: {
    "sensor.jellyfin_status": { device_id: "jellyfin" },
    "sensor.nas_status": { device_id: "nas" },
  },
  devices: {
    jellyfin: { name: "Jellyfin", via_device_id: "machine2" },
    machine2: { name: "Machine2" },
    nas: { name: "NAS" },
  },
};
const all = new Map([
  ["jellyfin", { id: "jellyfin", entity: "sensor.jellyfin_status", attrs: { kind: "lxc" } }],
  ["nas", { id: "nas", entity: "sensor.nas_status", attrs: { kind: "machine" } }],
  ["docker", { id: "docker", entity: null, name: "sandbox", attrs: { kind: "container" } }],
]);

const results = [];
for (const c of cases) {
  const texts = await card.textsFor(c.language);
  if (c.type === "error") {
    results.push(card.describeError(texts, hass, all, c.error, c.node, c.action));
  } else if (c.type === "detail") {
    results.push(card.stepDetail(texts, c.step));
  } else if (c.type === "text") {
    results.push(texts.has(c.key) ? texts.t(c.key, c.params || {}) : null);
  } else if (c.type === "set_config") {
    // The card element itself (its constructor needs a DOM: only setConfig's
    // check runs, on a bare object with the card's prototype).
    const element = Object.create(card.WakeHubCard.prototype);
    try {
      element.setConfig(c.config);
      results.push(null);
    } catch (err) {
      results.push(err.message);
    }
  } else if (c.type === "service_error") {
    // Home Assistant's frontend: loadBackendTranslation loads a category of
    // an integration's translations in the user's language and returns
    // localize; here it reads the translations the test gives.
    const translated = c.translations;
    const user = {
      ...hass,
      loadBackendTranslation: async (category, domain) => (key, params) => {
        const prefix = `component.${domain}.${category}.`;
        const text = key.startsWith(prefix) ? translated[key.slice(prefix.length)] : undefined;
        return text ? text.replace(/\{(\w+)\}/g, (m, n) => (params[n] !== undefined ? String(params[n]) : m)) : "";
      },
    };
    results.push(await card.serviceErrorText(c.with_loader ? user : hass, c.err));
  } else {
    results.push(null);
  }
}
process.stdout.write(JSON.stringify(results));
