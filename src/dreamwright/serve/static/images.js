// dreamwright image page: upload images, start a style transfer or DeepDream job, poll its progress,
// show the result with a download link. Plain JS.
"use strict";

const $ = (id) => document.getElementById(id);
const form = $("image-form");
const status = $("image-status");
const bar = $("image-progress");
const result = $("result");
const previews = $("previews");
const POLL_MS = 400;

function mode() { return form.querySelector("input[name=mode]:checked").value; }

function syncMode() {
  const dream = mode() === "dream";
  $("style-field").hidden = dream;
  $("iterations-field").hidden = dream;
  $("steps-field").hidden = !dream;
  $("style-file").required = !dream;
}

function readAsDataURL(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result);
    reader.onerror = () => reject(new Error("cannot read " + file.name));
    reader.readAsDataURL(file);
  });
}

async function showPreviews() {
  const imgs = [];
  for (const [input, label] of [[$("content-file"), "content"], [$("style-file"), "style"]]) {
    if (!input.files.length || (label === "style" && mode() === "dream")) continue;
    const img = document.createElement("img");
    img.src = await readAsDataURL(input.files[0]);
    img.alt = label + " image: " + input.files[0].name;
    imgs.push(img);
  }
  previews.replaceChildren(...imgs);
}

function setStatus(text, error) {
  status.className = error ? "error" : "";
  status.textContent = text;
}

async function poll(id) {
  for (;;) {
    const r = await fetch("/v1/images/" + id);
    const job = await r.json();
    if (!r.ok) throw new Error((job.error && job.error.message) || ("HTTP " + r.status));
    if (job.total) {
      bar.max = job.total;
      bar.value = job.done;
    } else {
      bar.removeAttribute("value");  // indeterminate until the job reports steps
    }
    if (job.status === "done") return job;
    if (job.status === "error") throw new Error(job.error);
    setStatus(job.status === "queued" ? "Waiting for the painter…"
              : (job.total ? `Painting… ${job.done} / ${job.total}` : "Painting…"));
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

async function paint(event) {
  event.preventDefault();
  const button = $("paint");
  const data = new FormData(form);
  const body = { mode: mode(), size: parseInt(data.get("size"), 10) };
  // clear the last result before the first await, so nothing on the page describes an older job
  result.replaceChildren();
  setStatus("Reading the images…");
  try {
    if (!$("content-file").files.length) throw new Error("choose a content image");
    body.content = await readAsDataURL($("content-file").files[0]);
    if (body.mode === "style") {
      if (!$("style-file").files.length) throw new Error("choose a style image");
      body.style = await readAsDataURL($("style-file").files[0]);
      body.iterations = parseInt(data.get("iterations"), 10);
    } else {
      body.steps = parseInt(data.get("steps"), 10);
    }
    if (data.get("seed")) body.seed = parseInt(data.get("seed"), 10);
    button.disabled = true;
    bar.hidden = false;
    bar.value = 0;
    setStatus("Uploading…");
    const r = await fetch("/v1/images", {
      method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body),
    });
    const job = await r.json();
    if (!r.ok) throw new Error((job.error && job.error.message) || ("HTTP " + r.status));
    const done = await poll(job.id);
    bar.max = 1;
    bar.value = 1;
    const img = document.createElement("img");
    img.id = "result-image";
    img.alt = (done.mode === "style" ? "Style transfer" : "DeepDream") + " result";
    img.src = done.result;
    const link = document.createElement("a");
    link.className = "button";
    link.id = "download";
    link.href = done.result;
    link.download = `dreamwright-${done.mode}.png`;
    link.textContent = "Download PNG";
    result.replaceChildren(img, link);
    setStatus(`Done in ${done.seconds} s.`);
  } catch (e) {
    setStatus("error: " + e.message, true);
  } finally {
    button.disabled = false;
  }
}

form.addEventListener("change", (e) => {
  if (e.target.name === "mode") syncMode();
  showPreviews();
});
form.addEventListener("submit", paint);
syncMode();
