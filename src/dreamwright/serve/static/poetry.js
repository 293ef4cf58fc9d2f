// 作诗姬 page: POST the form to /v1/poems and draw each poem with its tone marks and rhyme. Plain JS.
"use strict";

const form = document.getElementById("poem-form");
const out = document.getElementById("poems");
const status = document.getElementById("poem-status");
const temperature = document.getElementById("poem-temperature");
const temperatureValue = document.getElementById("poem-temperature-value");
const MARK_CLASS = { "平": "ping", "仄": "ze", "中": "either" };

temperature.addEventListener("input", () => { temperatureValue.textContent = Number(temperature.value).toFixed(2); });

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

function drawPoem(poem, index) {
  const card = el("article", "poem");
  card.setAttribute("aria-label", `第${index + 1}首 ${poem.text}`);
  card.tabIndex = 0;
  const title = el("h3", null, `${poem.form}${poem.pattern ? " · " + poem.pattern : ""}`);
  card.appendChild(title);
  const rows = poem.rows || poem.lines.map((line) => ({ text: line, tones: null, rhymes: false }));
  rows.forEach((row, i) => {
    const line = el("div", "poem-line");
    [...row.text].forEach((ch, j) => {
      const cell = el("span", "cell");
      const last = j === row.text.length - 1;
      cell.appendChild(el("span", "char" + (last && row.rhymes ? " rhyme-char" : ""), ch));
      const mark = row.tones ? row.tones[j] : "";
      cell.appendChild(el("span", "mark " + (MARK_CLASS[mark] || "unknown"), mark || " "));
      line.appendChild(cell);
    });
    line.appendChild(el("span", "punct", i % 2 === 0 ? "，" : "。"));
    if (row.rhymes && poem.rhyme_group) line.appendChild(el("span", "rhyme-tag", "韵·" + poem.rhyme_group));
    card.appendChild(line);
  });
  const info = [];
  if (poem.rhyme_group) info.push("韵部 " + poem.rhyme_group);
  if (poem.keywords_used && poem.keywords_used.length) info.push("关键字 " + poem.keywords_used.join("、"));
  info.push(`${poem.seconds}s`);
  card.appendChild(el("p", "poem-info", info.join(" · ")));
  return card;
}

async function write(event) {
  if (event) event.preventDefault();
  const data = new FormData(form);
  const body = {
    form: data.get("form"), rhyme: data.get("rhyme"), tones: data.get("tones"),
    temperature: parseFloat(data.get("temperature") || "0.8"),
    num_samples: parseInt(data.get("num_samples") || "1", 10),
  };
  for (const k of ["acrostic", "start", "keywords"]) if (data.get(k)) body[k] = data.get(k);
  if (data.get("seed")) body.seed = parseInt(data.get("seed"), 10);
  status.className = "";
  status.textContent = "作诗中… writing";
  form.querySelector("button[type=submit]").disabled = true;
  try {
    const r = await fetch('/v1/poems', {method: 'POST', headers: {'content-type': 'application/json'},
                                        body: JSON.stringify(body)});
    const j = await r.json();
    if (!r.ok) throw new Error((j.error && j.error.message) || ("HTTP " + r.status));
    out.replaceChildren(...j.poems.map(drawPoem));
    status.textContent = `成诗 ${j.poems.length} 首 · done`;
    if (j.warnings && j.warnings.length) status.textContent += " · warning: " + j.warnings.join("; ");
    out.focus();
  } catch (e) {
    status.className = "error";
    status.textContent = "error: " + e.message;
  } finally {
    form.querySelector("button[type=submit]").disabled = false;
  }
}

form.addEventListener("submit", write);
form.addEventListener("keydown", (e) => { if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) write(e); });

// 对对子: POST the 上联 to /v1/couplets and show the 下联 under it, each with its tone marks.
const coupletForm = document.getElementById("couplet-form");
const coupletOut = document.getElementById("couplets");
const coupletStatus = document.getElementById("couplet-status");

async function answer(event) {
  event.preventDefault();
  const upper = new FormData(coupletForm).get("upper");
  coupletStatus.className = "";
  coupletStatus.textContent = "对句中… writing";
  try {
    const r = await fetch('/v1/couplets', {method: 'POST', headers: {'content-type': 'application/json'},
                                           body: JSON.stringify({upper})});
    const j = await r.json();
    if (!r.ok) throw new Error((j.error && j.error.message) || ("HTTP " + r.status));
    coupletOut.replaceChildren(...j.couplets.map((c) => {
      const card = el("article", "poem couplet");
      card.appendChild(el("div", "poem-line", `上联 ${c.upper}  ${c.upper_tones}`));
      card.appendChild(el("div", "poem-line", `下联 ${c.lower}  ${c.lower_tones}`));
      if (c.note) card.appendChild(el("p", "poem-info", c.note));
      return card;
    }));
    coupletStatus.textContent = "done";
  } catch (e) {
    coupletStatus.className = "error";
    coupletStatus.textContent = "error: " + e.message;
  }
}

coupletForm.addEventListener("submit", answer);
