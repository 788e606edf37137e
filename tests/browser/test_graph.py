"""The graph card in a real browser, against the running demo.

The demo's dashboard has a second view, ``/lovelace/graph``, with
``custom:wakehub-graph-card``. Through headless Chromium (see
``test_card.py`` for the demo and the browser fixtures):

1. the picture shows every node of the reference homelab, each with its
   state, the hosting tree and the three reference dependency edges;
2. tapping Jellyfin opens its more-info dialog, and its panel: its row of
   the list card, and what it needs (the NAS);
3. Remove: the edge leaves the picture; Add a dependency, then tapping
   Machine2 (its host) is refused by the card, tapping the NAS adds the edge
   back;
4. on the NAS, tapping sandbox (which needs Jellyfin, which needs the NAS) is
   marked as a cycle, and WakeHub's own refusal is shown; nothing is stored;
5. Start from the panel's row: the picture follows the cascade to "on";
   Stop asks with the list card's plan; Keep it on;
6. at phone size the picture is one column, within the screen;
7. in French: the states, the legend and the panel;
8. the visual editor, as the dashboard's card editor creates it
   (``getConfigElement``): Home Assistant's ha-form with a title and the
   machines (an entity selector among the machines' status sensors), its
   labels in English and in French; picking Machine2 and the NAS and a
   title changes the configuration, and a card given it (as the editor's
   preview is) draws only those machines' trees under that title; with
   Machine2 alone, Jellyfin's panel still lists the NAS it needs.

The screenshot of step 2 goes to ``artifacts/screenshots/graph.png``
(copied by hand to ``docs/images/``).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import pytest

from tests.browser import test_card
from tests.browser.test_card import (
    _JS_DEEP,
    CASCADE_TIMEOUT,
    SCREENSHOTS,
    UI_TIMEOUT,
    Demo,
    _console,
    _get_json,
    _login,
    _wait,
)

if TYPE_CHECKING:
    from collections.abc import Callable

pytestmark = pytest.mark.browser

# The list card's browser test's fixtures: the demo, Chromium, its driver.
chromium = test_card.chromium
demo = test_card.demo
browser = test_card.browser

_JS_GRAPH = _JS_DEEP.replace("'wakehub-card'", "'wakehub-graph-card'")
_JS_STATE = (
    _JS_GRAPH
    + """
if (!card || !card.shadowRoot || !card.shadowRoot.querySelector('svg')) return null;
const root = card.shadowRoot;
const svg = root.querySelector('svg');
const panel = root.querySelector('.panel');
const row = root.querySelector('wakehub-card');
const rowRoot = row && row.shadowRoot;
return {
  nodes: Object.fromEntries([...root.querySelectorAll('g.node')].map((g) => [
    g.querySelector('title').textContent.split(':')[0],
    {id: g.dataset.node, state: g.dataset.state, classes: g.getAttribute('class'),
     x: g.transform.baseVal.consolidate().matrix.e,
     sub: g.querySelector('text.sub').textContent}])),
  legend: root.querySelector('.legend')?.textContent.replace(/\\s+/g, ' ').trim() ?? null,
  add: root.querySelector('[data-action="add"]')?.textContent.trim() ?? null,
  edges: [...root.querySelectorAll('path.dep-edge')].map(
    (p) => [p.dataset.dependent, p.dataset.dependency]),
  hosting: root.querySelectorAll('path.host-edge').length,
  svg_width: svg.getBoundingClientRect().width,
  card_width: card.getBoundingClientRect().width,
  page_overflow: document.documentElement.scrollWidth > window.innerWidth,
  panel: panel.hidden ? null : panel.querySelector('.panel-head h2').textContent,
  needs: [...root.querySelectorAll('.needs li')].map((li) => li.dataset.dependency),
  message: root.querySelector('.message')?.textContent.trim() ?? null,
  row: rowRoot ? {
    state: rowRoot.querySelector('section.node')?.dataset.state,
    confirm: rowRoot.querySelector('.confirm')?.innerText ?? null,
  } : null,
  more_info: (() => {
    const d = deep(document, 'ha-more-info-dialog');
    return (d && d._entityId) || null;  // the dialog's entity while it is open
  })(),
};
"""
)
_JS_CLICK_NODE = (
    _JS_GRAPH
    + """
const g = [...card.shadowRoot.querySelectorAll('g.node')].find(
  (n) => n.querySelector('title').textContent.split(':')[0] === arguments[0]);
g.dispatchEvent(new MouseEvent('click', {bubbles: true, composed: true}));
return true;
"""
)
_JS_BUTTON = (
    _JS_GRAPH
    + """
const inRow = arguments[1];
const root = inRow
  ? card.shadowRoot.querySelector('wakehub-card').shadowRoot
  : card.shadowRoot;
return root.querySelector(`[data-action="${arguments[0]}"]`);
"""
)
_JS_CLOSE_MORE_INFO = (
    _JS_DEEP.replace("'wakehub-card'", "'ha-more-info-dialog'")
    + "if (card) { card.closeDialog(); } return true;"
)


# The graph card's visual editor, as the card editor dialog creates it, then
# a card given what it dispatches (as the dialog's preview is).
_JS_EDITOR = """
const done = arguments[arguments.length - 1];
const ha = document.querySelector('home-assistant');
(async () => {
  const cardClass = await customElements.whenDefined('wakehub-graph-card');
  const stub = cardClass.getStubConfig(ha.hass);
  const editor = await cardClass.getConfigElement();
  document.body.appendChild(editor);
  editor.hass = ha.hass;
  editor.setConfig({type: 'custom:wakehub-graph-card', ...stub});
  await customElements.whenDefined('ha-form');
  for (let i = 0; i < 100 && !(editor.querySelector('ha-form') || {}).shadowRoot; i++) {
    await new Promise((r) => setTimeout(r, 100));
  }
  const form = editor.querySelector('ha-form');
  const machines = form.schema.find((s) => s.name === 'machines');
  const result = {
    tag: editor.localName,
    stub,
    labels: form.schema.map((s) => form.computeLabel(s)),
    helper: form.computeHelper(machines),
    offered: machines.selector.entity.include_entities,
  };
  if (arguments[0]) {
    const changed = new Promise((resolve) =>
      editor.addEventListener('config-changed', (ev) => resolve(ev.detail.config), {once: true}));
    form.dispatchEvent(new CustomEvent('value-changed', {detail: {value: arguments[0]}}));
    result.config = await changed;
    // The preview: a card with the new configuration.
    const card = document.createElement('wakehub-graph-card');
    card.style.width = '600px';
    document.body.appendChild(card);
    card.setConfig(result.config);
    card.hass = ha.hass;
    for (let i = 0; i < 100 && !card.shadowRoot.querySelector('g.node'); i++) {
      await new Promise((r) => setTimeout(r, 100));
    }
    const root = card.shadowRoot;
    result.preview = {
      title: root.querySelector('.card-header')?.textContent ?? null,
      nodes: [...root.querySelectorAll('g.node title')].map((t) => t.textContent.split(':')[0]),
      edges: [...root.querySelectorAll('path.dep-edge')].length,
    };
    // Machine2 alone: Jellyfin's panel still lists the NAS it needs.
    card.setConfig({...result.config, machines: ['Machine2']});
    const names = () => [...root.querySelectorAll('g.node title')].map(
      (t) => t.textContent.split(':')[0]);
    for (let i = 0; i < 100 && names().includes('NAS'); i++) {
      await new Promise((r) => setTimeout(r, 100));
    }
    [...root.querySelectorAll('g.node')]
      .find((g) => g.querySelector('title').textContent.startsWith('Jellyfin:'))
      .dispatchEvent(new MouseEvent('click', {bubbles: true, composed: true}));
    for (let i = 0; i < 100 && root.querySelector('.panel').hidden; i++) {
      await new Promise((r) => setTimeout(r, 100));
    }
    result.machine2 = {
      nodes: names(),
      needs: [...root.querySelectorAll('.needs li span')].map((s) => s.textContent),
    };
    card.remove();
  }
  editor.remove();
  return result;
})().then(done, (err) => done({error: String(err)}));
"""


class Graph:
    """The graph card in the browser."""

    def __init__(self, driver: Any, demo: Demo) -> None:
        self.driver = driver
        self.demo = demo

    def state(self) -> dict[str, Any] | None:
        return self.driver.execute_script(_JS_STATE)

    def context(self) -> str:
        try:
            state = self.state()
        except Exception as err:
            state = {"error": str(err)}
        return (
            f"url: {self.driver.current_url}\ngraph: {state}\n"
            f"console:\n{_console(self.driver)}\n{self.demo.log_tail()}"
        )

    def wait(
        self,
        what: str,
        probe: Callable[[dict[str, Any]], Any],
        timeout: float = UI_TIMEOUT,
    ) -> Any:
        def check() -> Any:
            state = self.state()
            return probe(state) if state else None

        return _wait(what, check, timeout, self.context)

    def tap(self, name: str) -> None:
        self.driver.execute_script(_JS_CLICK_NODE, name)

    def close_more_info(self) -> None:
        self.driver.execute_script(_JS_CLOSE_MORE_INFO)
        self.wait("the more-info dialog to close", lambda s: not s["more_info"])

    def click(self, action: str, *, row: bool = False) -> None:
        def clicked() -> bool:
            button = self.driver.execute_script(_JS_BUTTON, action, row)
            if not button or not button.is_enabled():
                return False
            # In the middle of the window: scrolled into view by the click
            # itself it would sit at the bottom edge, where Home Assistant's
            # toast (a refused edit's) can take the click.
            self.driver.execute_script(
                "arguments[0].scrollIntoView({block: 'center'})", button
            )
            button.click()
            return True

        _wait(f"an enabled {action!r} button", clicked, UI_TIMEOUT, self.context)

    def edge(self, dependent: str, dependency: str) -> Callable[[dict[str, Any]], bool]:
        def present(state: dict[str, Any]) -> bool:
            ids = {name: node["id"] for name, node in state["nodes"].items()}
            return [ids[dependent], ids[dependency]] in state["edges"]

        return present


def test_graph_card(demo: Demo, browser: Any) -> None:
    """The picture, more-info, editing edges (and a cycle), a start, a phone."""
    graph = Graph(browser, demo)
    _login(browser, demo)
    browser.get(f"{demo.url}/lovelace/graph")

    # 1. Every node, its state, the hosting tree and the reference edges.
    sim = {n["name"] for n in _get_json(f"{demo.sim_url}/nodes")}
    state = graph.wait("the 13 nodes", lambda s: len(s["nodes"]) == len(sim) and s)
    assert set(state["nodes"]) == sim
    assert {n["state"] for n in state["nodes"].values()} == {"off"}
    assert state["hosting"] == len(sim) - 4  # every node but the 4 machines
    assert len(state["edges"]) == 3
    for dependent, dependency in (("sandbox", "Jellyfin"), ("plex", "NAS")):
        assert graph.edge(dependent, dependency)(state)
    assert graph.edge("Jellyfin", "NAS")(state)
    assert not state["page_overflow"]

    # 2. Tap Jellyfin: its more-info dialog, then its panel.
    graph.tap("Jellyfin")
    graph.wait(
        "Jellyfin's more-info dialog",
        lambda s: s["more_info"] == "sensor.jellyfin_status",
    )
    graph.close_more_info()
    ids = {name: node["id"] for name, node in state["nodes"].items()}
    state = graph.wait(
        "Jellyfin's panel",
        lambda s: s["panel"] == "Jellyfin" and s["row"] and s["row"]["state"] and s,
    )
    assert state["needs"] == [ids["NAS"]]
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    browser.execute_script(_JS_GRAPH + "return card;").screenshot(
        str(SCREENSHOTS / "graph.png")
    )

    # 3. Remove the NAS, then add it back; its host is refused by the card.
    graph.click("remove")
    graph.wait(
        "the Jellyfin -> NAS edge to go",
        lambda s: not graph.edge("Jellyfin", "NAS")(s) and s["needs"] == [],
    )
    graph.click("add")
    graph.wait(
        "the picking mode", lambda s: "candidate" in s["nodes"]["NAS"]["classes"]
    )
    assert "blocked" in graph.state()["nodes"]["Machine2"]["classes"]
    graph.tap("Machine2")
    graph.wait(
        "the host refused",
        lambda s: s["message"] and "Machine2" in s["message"],
    )
    graph.tap("NAS")
    graph.wait(
        "the Jellyfin -> NAS edge back",
        lambda s: graph.edge("Jellyfin", "NAS")(s) and s["needs"] == [ids["NAS"]],
    )

    # 4. The NAS needing sandbox would close sandbox -> Jellyfin -> NAS.
    graph.tap("NAS")
    graph.wait("the NAS's more-info", lambda s: s["more_info"] == "sensor.nas_status")
    graph.close_more_info()
    graph.wait("the NAS's panel", lambda s: s["panel"] == "NAS")
    graph.click("add")
    graph.wait(
        "sandbox marked as a cycle",
        lambda s: "cycle" in s["nodes"]["sandbox"]["classes"],
    )
    graph.tap("sandbox")
    state = graph.wait(
        "WakeHub's refusal",
        lambda s: s["message"] and "cycle" in s["message"] and s,
    )
    assert "sandbox" in state["message"]
    assert not graph.edge("NAS", "sandbox")(state)
    graph.click("cancel-pick")
    graph.wait(
        "the picking mode to end",
        lambda s: "source" not in s["nodes"]["NAS"]["classes"] and s["add"],
    )

    # 5. Start Jellyfin from its panel: the picture follows; Stop asks first.
    graph.tap("Jellyfin")
    graph.close_more_info()
    graph.wait("Jellyfin's panel", lambda s: s["panel"] == "Jellyfin")
    graph.click("start", row=True)
    graph.wait(
        "Jellyfin on in the picture",
        lambda s: (
            s["nodes"]["Jellyfin"]["state"] == "on"
            and s["nodes"]["NAS"]["state"] == "on"
        ),
        CASCADE_TIMEOUT,
    )
    graph.click("stop", row=True)
    state = graph.wait(
        "the stop's plan",
        lambda s: s["row"]["confirm"] and "Jellyfin" in s["row"]["confirm"] and s,
    )
    graph.click("cancel-stop", row=True)
    graph.wait("the plan closed", lambda s: not s["row"]["confirm"])
    assert graph.state()["nodes"]["Jellyfin"]["state"] == "on"

    # 6. A phone: one column, within the screen.
    browser.set_window_size(390, 844)
    browser.get(f"{demo.url}/lovelace/graph")
    state = graph.wait(
        "the picture on a phone", lambda s: len(s["nodes"]) == len(sim) and s
    )
    time.sleep(1)  # the card lays out again once it knows its width
    state = graph.state()
    assert state is not None
    machines = {"NAS", "Machine1", "Machine2", "RaspberryPi"}
    assert len({round(state["nodes"][m]["x"]) for m in machines}) == 1
    assert state["svg_width"] <= state["card_width"] + 1
    assert not state["page_overflow"]
    browser.execute_script(_JS_GRAPH + "return card;").screenshot(
        str(SCREENSHOTS / "graph-phone.png")
    )

    # 7. In French (the user's language, as the profile sets it).
    browser.execute_script(
        "document.querySelector('home-assistant').dispatchEvent("
        "new CustomEvent('hass-language-select', {detail: 'fr'}))"
    )
    try:
        state = graph.wait(
            "the picture in French",
            lambda s: s["nodes"]["Jellyfin"]["sub"] == "Allumé" and s,
        )
        assert state["nodes"]["plex"]["sub"] == "Éteint"
        assert state["legend"] == "tourne sur a besoin de"
        graph.tap("Jellyfin")
        graph.close_more_info()
        graph.wait(
            "the French panel",
            lambda s: s["panel"] == "Jellyfin" and s["add"] == "Ajouter une dépendance",
        )
        french = browser.execute_async_script(_JS_EDITOR, None)
        assert french.get("labels") == ["Titre", "Machines"], french
        assert french["helper"].startswith("Seulement ces machines"), french
    finally:
        browser.execute_script(
            "document.querySelector('home-assistant').dispatchEvent("
            "new CustomEvent('hass-language-select', {detail: 'en'}))"
        )

    # 8. The visual editor: ha-form, the machines to draw; the card follows.
    graph.wait("the picture in English", lambda s: s["legend"] == "runs on needs")
    nodes = _get_json(f"{demo.sim_url}/nodes")
    machines = sorted(n["name"] for n in nodes if n["kind"] == "machine")
    editor = browser.execute_async_script(
        _JS_EDITOR,
        {"title": "Lab", "machines": ["sensor.machine2_status", "sensor.nas_status"]},
    )
    assert editor.get("tag") == "wakehub-graph-card-editor", editor
    assert editor["stub"] == {}, editor  # the whole homelab, the default title
    assert editor["labels"] == ["Title", "Machines"], editor
    assert editor["helper"] == (
        "Only these machines and what runs on them. None chosen: every machine"
        f" ({', '.join(machines[:-1])} and {machines[-1]})."
    ), editor
    assert sorted(editor["offered"]) == sorted(
        f"sensor.{m.lower()}_status" for m in machines
    ), editor
    assert editor["config"] == {
        "type": "custom:wakehub-graph-card",
        "title": "Lab",
        "machines": ["sensor.machine2_status", "sensor.nas_status"],
    }, editor
    parent = {n["name"]: n["parent"] for n in nodes}

    def machine_of(name: str) -> str:
        while parent[name]:
            name = parent[name]
        return name

    assert editor["preview"]["title"] == "Lab", editor
    assert sorted(editor["preview"]["nodes"]) == sorted(
        n for n in parent if machine_of(n) in ("Machine2", "NAS")
    ), editor
    assert editor["preview"]["edges"] == 1, editor  # Jellyfin -> NAS; not plex's
    #    The NAS not drawn, Jellyfin's panel still says it needs it.
    assert sorted(editor["machine2"]["nodes"]) == sorted(
        n for n in parent if machine_of(n) == "Machine2"
    ), editor
    assert editor["machine2"]["needs"] == ["NAS"], editor
