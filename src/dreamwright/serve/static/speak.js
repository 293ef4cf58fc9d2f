// dreamwright main page, Speak tab: an audio model says a digit in a speaker's voice.
// POST /v1/audio/speech answers the WAV file, which the <audio> element plays; the same bytes go to
// POST /v1/audio/spectrogram for its picture, so the clip is generated once. The digits and voices are the
// model's conditions from /v1/models. Plain JS; uses headers() and apiError() of app.js.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const cards = new Map();  // audio model id -> card from /v1/models
  const urls = [];          // blob: URLs of the clip and picture shown, released when replaced
  let busy = false;

  function setStatus(text, error) {
    $("speak-status").className = error ? "error" : "";
    $("speak-status").textContent = text;
  }

  function options(select, values) {
    const before = select.value;
    select.replaceChildren(...values.map((v) => new Option(v, v)));
    if (values.includes(before)) select.value = before;
  }

  function showConditions() {
    const card = cards.get($("speak-model").value);
    const conditions = (card && card.conditions) || {};
    options($("speak-digit"), conditions.label || []);
    options($("speak-voice"), conditions.speaker || []);
    $("speak-digit").disabled = !conditions.label;
    $("speak-voice").disabled = !conditions.speaker;
  }

  async function loadModels() {
    setStatus("Loading the models…");
    try {
      const r = await fetch("/v1/models", { headers: headers() });
      if (!r.ok) throw await apiError(r);
      const audio = (await r.json()).data.filter((card) => card.conditions);
      cards.clear();
      for (const card of audio) cards.set(card.id, card);
      $("speak-model").replaceChildren(...audio.map((c) => new Option(`${c.id} (${c.sample_rate} Hz)`, c.id)));
      showConditions();
      $("speak").disabled = !audio.length;
      setStatus(audio.length ? "" : "No audio model is loaded: start the server with an audio run "
        + "(dreamwright train fsdd --model wavenet).", !audio.length);
    } catch (e) {
      setStatus(e.message, true);
    }
  }

  function show(element, blob) {
    const url = URL.createObjectURL(blob);
    urls.push(url);
    element.src = url;
  }

  async function speak() {
    if (busy || !cards.size) return;
    busy = true;
    $("speak").disabled = true;
    while (urls.length) URL.revokeObjectURL(urls.pop());
    $("speak-audio").removeAttribute("src");
    $("speak-spectrogram").hidden = true;
    const model = $("speak-model").value;
    const input = $("speak-digit").disabled ? "" : $("speak-digit").value;
    const voice = $("speak-voice").disabled ? undefined : $("speak-voice").value;
    setStatus("Speaking…");
    const started = performance.now();
    try {
      const r = await fetch("/v1/audio/speech", {
        method: "POST", headers: headers(), body: JSON.stringify({
          model, input, voice, response_format: "wav",
          seconds: Number($("speak-seconds").value) || 1,
          temperature: Number($("speak-temperature").value),
        }),
      });
      if (!r.ok) throw await apiError(r);
      const wav = await r.blob();
      show($("speak-audio"), wav);
      const said = r.headers.get("x-conditions") || "";
      const seconds = (performance.now() - started) / 1000;
      setStatus(`Spoke ${said} (seed ${r.headers.get("x-seed")}) in ${seconds.toFixed(1)} s; drawing its spectrogram…`);
      const query = new URLSearchParams({ model, input });
      if (voice) query.set("voice", voice);
      const p = await fetch(`/v1/audio/spectrogram?${query}`, {
        method: "POST", headers: { ...headers(), "content-type": "audio/wav" }, body: wav,
      });
      if (!p.ok) throw await apiError(p);
      const picture = $("speak-spectrogram");
      picture.alt = `Spectrogram of the clip (${said})`;
      show(picture, await p.blob());
      picture.hidden = false;
      setStatus(`Spoke ${said} (seed ${r.headers.get("x-seed")}) in ${seconds.toFixed(1)} s.`);
    } catch (e) {
      setStatus(e.message, true);
    } finally {
      busy = false;
      $("speak").disabled = !cards.size;
    }
  }

  $("speak-page").addEventListener("tabshown", () => { if (!cards.size) loadModels(); });
  $("speak-model").addEventListener("change", showConditions);
  $("speak-form").addEventListener("submit", (e) => { e.preventDefault(); speak(); });
})();
