// dreamwright image page, Draw tab: draw a grid of pictures with a GAN or VAE (POST /v1/images/generations),
// and walk the latent space between two seeds with a slider (POST /v1/images/interpolations). Plain JS.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const WALK_STEPS = 16;
  const tabs = [$("tab-paint"), $("tab-draw")];
  const models = new Map();  // id -> card from /v1/images/models
  let frames = [];

  function select(tab) {
    for (const t of tabs) {
      const on = t === tab;
      t.setAttribute("aria-selected", String(on));
      t.tabIndex = on ? 0 : -1;
      $(t.getAttribute("aria-controls")).hidden = !on;
    }
    if (tab.id === "tab-draw" && !models.size) loadModels();
  }

  function setStatus(text, error) {
    $("draw-status").className = error ? "error" : "";
    $("draw-status").textContent = text;
  }

  async function post(path, body) {
    const r = await fetch(path, {
      method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body),
    });
    const data = await r.json();
    if (!r.ok) throw new Error((data.error && data.error.message) || ("HTTP " + r.status));
    return data;
  }

  function fillClasses() {
    const card = models.get($("draw-model").value);
    const options = [];
    if (card && card.conditional) {
      const mix = new Option("Every class in turn", "");
      options.push(mix, ...card.classes.map((name) => new Option(name, name)));
    } else {
      options.push(new Option("(this model draws without classes)", ""));
    }
    $("draw-class").replaceChildren(...options);
    $("draw-class").disabled = !(card && card.conditional);
  }

  async function loadModels() {
    setStatus("Loading the image models…");
    try {
      const r = await fetch("/v1/images/models");
      const list = await r.json();
      if (!r.ok) throw new Error((list.error && list.error.message) || ("HTTP " + r.status));
      for (const card of list.data) models.set(card.id, card);
      $("draw-model").replaceChildren(...list.data.map((c) => new Option(`${c.id} (${c.family})`, c.id)));
      if (list.default) $("draw-model").value = list.default;
      fillClasses();
      setStatus(list.data.length ? "" : "This server has no image model.", !list.data.length);
    } catch (e) {
      setStatus("error: " + e.message, true);
    }
  }

  function picture(item, alt) {
    const img = document.createElement("img");
    img.src = "data:image/png;base64," + item.b64_json;
    img.alt = alt;
    if (item.revised_prompt) img.dataset.class = item.revised_prompt;
    if (item.seed !== null && item.seed !== undefined) img.dataset.seed = String(item.seed);
    return img;
  }

  async function draw(event) {
    event.preventDefault();
    const button = $("draw");
    const body = { model: $("draw-model").value, prompt: $("draw-class").value,
                   n: parseInt($("draw-n").value, 10), response_format: "b64_json" };
    if ($("draw-seed").value) body.seed = parseInt($("draw-seed").value, 10);
    $("draw-grid").replaceChildren();
    button.disabled = true;
    setStatus("Drawing…");
    try {
      const r = await post("/v1/images/generations", body);
      $("draw-grid").replaceChildren(...r.data.map((item) => picture(
        item, (item.revised_prompt || "picture") + ", seed " + item.seed)));
      setStatus(`Drew ${r.data.length} with ${r.model}, seed ${r.seed} (picture i: seed + i).`);
    } catch (e) {
      setStatus("error: " + e.message, true);
    } finally {
      button.disabled = false;
    }
  }

  function showFrame() {
    const i = parseInt($("walk-slider").value, 10);
    const img = $("walk-image");
    img.src = frames[i].src;
    img.alt = `step ${i} of the walk`;
    img.dataset.step = String(i);
    $("walk-value").textContent = `step ${i} / ${frames.length - 1}`;
  }

  async function walk(event) {
    event.preventDefault();
    const button = $("walk");
    const body = { model: $("draw-model").value, prompt: $("draw-class").value, steps: WALK_STEPS,
                   seed: parseInt($("walk-from").value, 10), to_seed: parseInt($("walk-to").value, 10) };
    button.disabled = true;
    setStatus("Walking…");
    try {
      const r = await post("/v1/images/interpolations", body);
      frames = r.data.map((item) => picture(item, ""));
      const slider = $("walk-slider");
      slider.max = String(frames.length - 1);
      slider.value = "0";
      $("walk-view").hidden = false;
      showFrame();
      const what = r.data[0].revised_prompt ? ` (${r.data[0].revised_prompt})` : "";
      setStatus(`A walk of ${frames.length} pictures from seed ${body.seed} to seed ${body.to_seed}${what}: ` +
                "move the slider.");
    } catch (e) {
      setStatus("error: " + e.message, true);
    } finally {
      button.disabled = false;
    }
  }

  for (const tab of tabs) {
    tab.addEventListener("click", () => select(tab));
    tab.addEventListener("keydown", (e) => {
      if (e.key !== "ArrowLeft" && e.key !== "ArrowRight") return;
      const other = tabs[(tabs.indexOf(tab) + 1) % tabs.length];
      select(other);
      other.focus();
    });
  }
  $("draw-model").addEventListener("change", fillClasses);
  $("draw-form").addEventListener("submit", draw);
  $("walk-form").addEventListener("submit", walk);
  $("walk-slider").addEventListener("input", showFrame);
  if (location.hash === "#draw") select($("tab-draw"));
})();
