// dreamwright main page, Chat tab: talk with a model through POST /v1/chat/completions (stream: true).
// The tab list is shared: this script switches every tab. The whole conversation is sent with each message; a seq2seq model reads its turns, a language model
// continues the transcript its chat template renders. Plain JS; uses headers() and apiError() of app.js.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const tabs = [...document.querySelectorAll('.tabs [role="tab"]')];
  const cards = new Map();   // model id -> card from /v1/models
  let messages = [];         // {role, content} of the conversation so far
  let controller = null;     // the reply being written

  function select(tab) {
    for (const t of tabs) {
      const on = t === tab;
      t.setAttribute("aria-selected", String(on));
      t.tabIndex = on ? 0 : -1;
      $(t.getAttribute("aria-controls")).hidden = !on;
    }
    // other tabs' scripts (speak.js) hear when their panel is shown
    $(tab.getAttribute("aria-controls")).dispatchEvent(new Event("tabshown"));
    if (tab.id === "tab-chat") {
      if (!cards.size) loadModels();
      $("chat-input").focus();
    }
  }

  function setStatus(text, error) {
    $("chat-status").className = error ? "error" : "";
    $("chat-status").textContent = text;
  }

  function describe() {
    const card = cards.get($("chat-model").value);
    $("chat-kind").textContent = !card ? "" : card.family === "seq2seq"
      ? "A seq2seq chatbot: it reads the conversation and writes a reply."
      : "A language model: it continues a transcript (user: … / assistant: …) rather than reading your "
        + "question.";
  }

  async function loadModels() {
    setStatus("Loading the models…");
    try {
      const r = await fetch("/v1/models", { headers: headers() });
      if (!r.ok) throw await apiError(r);
      const list = await r.json();
      for (const card of list.data) cards.set(card.id, card);
      // seq2seq chatbots first: they are the ones made for this tab
      const ids = list.data.map((c) => c.id)
        .sort((a, b) => (cards.get(b).family === "seq2seq") - (cards.get(a).family === "seq2seq"));
      $("chat-model").replaceChildren(...ids.map((id) => new Option(`${id} (${cards.get(id).family})`, id)));
      describe();
      setStatus("");
    } catch (e) {
      setStatus(e.message, true);
    }
  }

  function bubble(role, text) {
    const li = document.createElement("li");
    li.className = `msg ${role}`;
    const who = document.createElement("span");
    who.className = "who";
    who.textContent = role === "user" ? "you" : $("chat-model").value || "bot";
    const body = document.createElement("span");
    body.className = "text";
    body.textContent = text;
    li.append(who, body);
    $("chat-log").append(li);
    $("chat-log").scrollTop = $("chat-log").scrollHeight;
    return body;
  }

  // Read Server-Sent Events of chat.completion.chunk objects; onText(piece) per delta. The finish reason.
  async function streamReply(body, onText, signal) {
    const r = await fetch("/v1/chat/completions", {
      method: "POST", headers: headers(), body: JSON.stringify({ ...body, stream: true }), signal,
    });
    if (!r.ok) throw await apiError(r);
    const reader = r.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    let finish = null;
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return finish;
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
            if (choice.delta && choice.delta.content) onText(choice.delta.content);
            if (choice.finish_reason) finish = choice.finish_reason;
          }
        }
      }
    }
  }

  function setBusy(on) {
    $("chat-send").disabled = on;
    $("chat-stop").disabled = !on;
  }

  async function send() {
    const text = $("chat-input").value;
    if (!text.trim() || controller) return;
    $("chat-input").value = "";
    const asked = bubble("user", text);
    const reply = bubble("assistant", "");
    const turn = [...messages, { role: "user", content: text }];
    controller = new AbortController();
    setBusy(true);
    setStatus("Writing…");
    try {
      const finish = await streamReply({
        model: $("chat-model").value || undefined,
        messages: turn,
        temperature: Number($("chat-temperature").value),
        max_tokens: Number($("chat-max-tokens").value) || 300,
      }, (piece) => {
        reply.textContent += piece;
        $("chat-log").scrollTop = $("chat-log").scrollHeight;
      }, controller.signal);
      messages = [...turn, { role: "assistant", content: reply.textContent }];
      reply.parentElement.dataset.finish = finish || "";
      setStatus(finish === "length" ? "Done (the reply reached the length limit)." : "Done.");
    } catch (e) {
      // an interrupted exchange does not join the conversation
      asked.parentElement.classList.add("dropped");
      reply.parentElement.classList.add("dropped");
      if (e.name === "AbortError") setStatus("Stopped; that exchange is left out of the conversation.");
      else { reply.textContent += `[${e.message}]`; setStatus(e.message, true); }
    } finally {
      controller = null;
      setBusy(false);
      $("chat-input").focus();
    }
  }

  function reset() {
    if (controller) controller.abort();
    messages = [];
    $("chat-log").replaceChildren();
    setStatus("The conversation is forgotten.");
    $("chat-input").focus();
  }

  for (const t of tabs) t.addEventListener("click", () => select(t));
  tabs.forEach((t, i) => t.addEventListener("keydown", (e) => {
    const step = { ArrowRight: 1, ArrowLeft: -1 }[e.key];
    if (!step || !tabs[i + step]) return;
    select(tabs[i + step]);
    tabs[i + step].focus();
  }));
  $("chat-form").addEventListener("submit", (e) => { e.preventDefault(); send(); });
  $("chat-input").addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); send(); }
  });
  $("chat-reset").addEventListener("click", reset);
  $("chat-stop").addEventListener("click", () => { if (controller) controller.abort(); });
  $("chat-model").addEventListener("change", describe);
  $("chat-temperature").addEventListener("input", () => {
    $("chat-temperature-value").textContent = Number($("chat-temperature").value).toFixed(2);
  });
})();
