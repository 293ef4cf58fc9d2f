// dreamwright web page: stream completions and show the temperature lens. Plain JS, no build step.
"use strict";

const FOUR_TEMPERATURES = [0.2, 0.5, 1.0, 1.2];
const LENS_TOP_N = 10;
const SVG_NS = "http://www.w3.org/2000/svg";

const $ = (id) => document.getElementById(id);
const els = {
  form: $("gen-form"), model: $("model"), prompt: $("prompt"), temperature: $("temperature"),
  temperatureValue: $("temperature-value"), topK: $("top-k"), topP: $("top-p"), maxTokens: $("max-tokens"),
  apiKey: $("api-key"), keyBox: $("key-box"), generate: $("generate"), stop: $("stop"), four: $("four"),
  output: $("output"), status: $("status"), useOutput: $("use-output"), lensChart: $("lens-chart"),
  lensT: $("lens-t"), legendT: $("legend-t"), fourGrid: $("four-grid"),
};
const echoSpan = els.output.querySelector(".prompt-echo");
const genSpan = els.output.querySelector(".generated");

let running = [];          // AbortControllers of streams in progress
let lensController = null; // the lens request in flight
let lensTimer = null;

// ------------------------------------------------------------------ HTTP
function headers() {
  const h = { "content-type": "application/json" };
  const key = els.apiKey.value.trim() || sessionStorage.getItem("dreamwright-key") || "";
  if (key) h.authorization = "Bearer " + key;
  return h;
}

async function apiError(response) {
  let message = `HTTP ${response.status}`;
  try {
    const body = await response.json();
    if (body && body.error && body.error.message) message = body.error.message;
  } catch (e) { /* not JSON */ }
  if (response.status === 401) els.keyBox.open = true;
  const err = new Error(message);
  err.status = response.status;
  return err;
}

async function getJSON(path) {
  const response = await fetch(path, { headers: headers() });
  if (!response.ok) throw await apiError(response);
  return response.json();
}

async function postJSON(path, body, signal) {
  const response = await fetch(path, { method: "POST", headers: headers(), body: JSON.stringify(body), signal });
  if (!response.ok) throw await apiError(response);
  return response.json();
}

// Stream an OpenAI-style completion (Server-Sent Events); call onText(choiceIndex, text) per piece.
async function streamCompletion(body, onText, signal) {
  const response = await fetch("/v1/completions", {
    method: "POST", headers: headers(), body: JSON.stringify({ ...body, stream: true }), signal,
  });
  if (!response.ok) throw await apiError(response);
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  let finish = null;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const event = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      for (const line of event.split("\n")) {
        if (!line.startsWith("data: ")) continue;
        const data = line.slice(6);
        if (data === "[DONE]") return finish;
        const chunk = JSON.parse(data);
        if (chunk.error) throw new Error(chunk.error.message);
        for (const choice of chunk.choices) {
          if (choice.text) onText(choice.index, choice.text);
          if (choice.finish_reason) finish = choice.finish_reason;
        }
      }
    }
  }
  return finish;
}

// ------------------------------------------------------------------ settings
function numberOrNull(input) {
  const v = input.value.trim();
  return v === "" ? null : Number(v);
}

function settings() {
  const body = {
    model: els.model.value || undefined,
    prompt: els.prompt.value,
    temperature: Number(els.temperature.value),
    max_tokens: numberOrNull(els.maxTokens) ?? 200,
  };
  const k = numberOrNull(els.topK);
  const p = numberOrNull(els.topP);
  if (k !== null) body.top_k = k;
  if (p !== null) body.top_p = p;
  return body;
}

function setStatus(text, isError = false) {
  els.status.textContent = text;
  els.status.classList.toggle("error", isError);
}

function setRunning(on) {
  els.stop.disabled = !on;
  els.generate.disabled = on;
  els.four.disabled = on;
}

function stopAll() {
  for (const c of running) c.abort();
  running = [];
  setRunning(false);
}

// ------------------------------------------------------------------ generate
async function generate() {
  stopAll();
  const body = settings();
  echoSpan.textContent = body.prompt;
  genSpan.textContent = "";
  const controller = new AbortController();
  running = [controller];
  setRunning(true);
  setStatus("Writing…");
  const started = performance.now();
  let pieces = 0;
  try {
    const finish = await streamCompletion(body, (_, text) => {
      genSpan.textContent += text;
      pieces += 1;
      els.output.scrollTop = els.output.scrollHeight;
    }, controller.signal);
    const seconds = (performance.now() - started) / 1000;
    setStatus(`Done (${finish === "stop" ? "stop string" : "length limit"}), ${genSpan.textContent.length} `
      + `characters in ${seconds.toFixed(1)} s.`);
  } catch (err) {
    if (err.name === "AbortError") setStatus(`Stopped after ${pieces} pieces.`);
    else setStatus(err.message, true);
  } finally {
    running = running.filter((c) => c !== controller);
    if (!running.length) setRunning(false);
  }
}

async function generateFour() {
  stopAll();
  const base = settings();
  els.fourGrid.textContent = "";
  setRunning(true);
  setStatus("Writing four samples…");
  const jobs = FOUR_TEMPERATURES.map((t) => {
    const card = document.createElement("article");
    card.className = "sample";
    card.dataset.temperature = String(t);
    const h = document.createElement("h3");
    h.textContent = `T = ${t}`;
    const out = document.createElement("div");
    out.className = "text-out";
    out.tabIndex = 0;
    out.setAttribute("aria-label", `Sample at temperature ${t}`);
    const echo = document.createElement("span");
    echo.className = "prompt-echo";
    echo.textContent = base.prompt;
    const gen = document.createElement("span");
    gen.className = "generated";
    out.append(echo, gen);
    card.append(h, out);
    els.fourGrid.append(card);
    const controller = new AbortController();
    running.push(controller);
    return streamCompletion({ ...base, temperature: t }, (_, text) => { gen.textContent += text; },
      controller.signal).catch((err) => {
      if (err.name !== "AbortError") gen.textContent += `\n[${err.message}]`;
    });
  });
  await Promise.all(jobs);
  running = [];
  setRunning(false);
  setStatus("Four samples done: low temperatures repeat the likeliest path, high ones wander.");
}

// ------------------------------------------------------------------ temperature lens
function showToken(token) {
  return token.replace(/ /g, "␣").replace(/\n/g, "↵").replace(/\t/g, "⇥") || "∅";
}

function pct(p) {
  return p >= 0.1 ? `${(p * 100).toFixed(0)}%` : `${(p * 100).toFixed(1)}%`;
}

function svg(tag, attrs, text) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  if (text !== undefined) el.textContent = text;
  return el;
}

let lastLens = null;

function renderLens(data) {
  lastLens = data;
  const rows = data.candidates;
  // draw at the container's own pixel width, so the labels keep their size on a phone
  const width = Math.max(260, Math.min(720, Math.round(els.lensChart.clientWidth || 520)));
  const rowH = 34, labelW = 48, pctW = 72;
  const barW = width - labelW - pctW - 8;
  const height = Math.max(rows.length * rowH + 6, 40);
  const top = Math.max(...rows.map((r) => Math.max(r.probability, r.reweighted)), 1e-9);
  const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "list",
    "aria-label": `Next-token candidates at temperature ${data.temperature}` });
  chart.dataset.temperature = String(data.temperature);
  chart.dataset.context = data.context;
  rows.forEach((r, i) => {
    const y = i * rowH + 3;
    const g = svg("g", { class: "bar-row", role: "listitem", tabindex: 0,
      "aria-label": `${JSON.stringify(r.token)}: ${pct(r.probability)} from the model, ${pct(r.reweighted)} `
        + `at temperature ${data.temperature}. Press Enter to append it.` });
    g.dataset.token = r.token;
    g.dataset.before = String(r.probability);
    g.dataset.after = String(r.reweighted);
    g.append(svg("rect", { class: "hit", x: 0, y, width, height: rowH - 2, rx: 4, fill: "transparent" }));
    g.append(svg("text", { x: 6, y: y + rowH / 2 + 4 }, showToken(r.token)));
    g.append(svg("rect", { class: "before", x: labelW, y: y + 4, height: 11, rx: 2,
      width: Math.max(1, (barW * r.probability) / top) }));
    g.append(svg("rect", { class: "after", x: labelW, y: y + 17, height: 11, rx: 2,
      width: Math.max(1, (barW * r.reweighted) / top) }));
    g.append(svg("text", { class: "pct", x: width - pctW + 4, y: y + 14 }, pct(r.probability)));
    g.append(svg("text", { class: "pct", x: width - pctW + 4, y: y + 28 }, `→ ${pct(r.reweighted)}`));
    const choose = () => appendToken(r.token);
    g.addEventListener("click", choose);
    g.addEventListener("keydown", (e) => {
      if (e.key === "Enter" || e.key === " ") { e.preventDefault(); choose(); }
    });
    chart.append(g);
  });
  els.lensChart.replaceChildren(chart);
}

async function updateLens() {
  if (lensController) lensController.abort();
  const controller = new AbortController();
  lensController = controller;
  const t = Number(els.temperature.value);
  const context = els.prompt.value;
  try {
    const data = await postJSON("/v1/next-token", {
      model: els.model.value || undefined, context, temperature: t, top_n: LENS_TOP_N,
    }, controller.signal);
    if (controller === lensController) renderLens({ ...data, context });
  } catch (err) {
    if (err.name === "AbortError") return;
    const p = document.createElement("p");
    p.className = "empty";
    p.textContent = err.message;
    els.lensChart.replaceChildren(p);
  }
}

function scheduleLens(delay) {
  clearTimeout(lensTimer);
  lensTimer = setTimeout(updateLens, delay);
}

function appendToken(token) {
  els.prompt.value += token;
  scheduleLens(0);
  const focused = document.activeElement;
  if (focused && focused.classList && focused.classList.contains("bar-row")) {
    // keep keyboard users in the chart: focus the first bar once it is redrawn
    setTimeout(() => { const first = els.lensChart.querySelector(".bar-row"); if (first) first.focus(); }, 150);
  }
}

// ------------------------------------------------------------------ wiring
function showTemperature() {
  const t = Number(els.temperature.value).toFixed(2);
  els.temperatureValue.textContent = t;
  els.lensT.textContent = t;
  els.legendT.textContent = t;
}

async function loadModels() {
  try {
    const list = await getJSON("/v1/models");
    els.model.replaceChildren(...list.data.map((m) => {
      const o = document.createElement("option");
      o.value = m.id;
      o.textContent = m.tokenizer ? `${m.id} (${m.tokenizer})` : m.id;
      return o;
    }));
    setStatus(`${list.data.length} model(s) loaded.`);
    updateLens();
  } catch (err) {
    setStatus(err.status === 401 ? "This server needs an API key: enter it under “API key”." : err.message, true);
  }
}

els.form.addEventListener("submit", (e) => { e.preventDefault(); generate(); });
els.stop.addEventListener("click", stopAll);
els.four.addEventListener("click", generateFour);
els.temperature.addEventListener("input", () => { showTemperature(); scheduleLens(30); });
els.prompt.addEventListener("input", () => scheduleLens(250));
els.prompt.addEventListener("keydown", (e) => {
  if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) { e.preventDefault(); generate(); }
});
els.model.addEventListener("change", () => scheduleLens(0));
els.apiKey.addEventListener("change", () => {
  sessionStorage.setItem("dreamwright-key", els.apiKey.value.trim());
  loadModels();
});
els.useOutput.addEventListener("click", () => {
  els.prompt.value = echoSpan.textContent + genSpan.textContent;
  els.prompt.focus();
  scheduleLens(0);
});

let resizeTimer = null;
window.addEventListener("resize", () => {
  clearTimeout(resizeTimer);
  resizeTimer = setTimeout(() => { if (lastLens) renderLens(lastLens); }, 100);
});

showTemperature();
loadModels();
