// The search page: pick or drop a photo, optionally drag a crop box, show ranked thumbnails.
// Plain DOM code, no build step. Untrusted strings only ever go into textContent.
"use strict";

const $ = (id) => document.getElementById(id);
const state = { file: null, box: null, apiKey: sessionStorage.getItem("dfcnn-api-key") || "" };

function headers() {
  return state.apiKey ? { "X-API-Key": state.apiKey } : {};
}

function setStatus(text, isError = false) {
  $("status").textContent = text;
  $("status").classList.toggle("error", isError);
}

async function call(url, options = {}) {
  let response = await fetch(url, { ...options, headers: headers() });
  if (response.status === 401) {
    const key = window.prompt("This server needs an API key:");
    if (key) {
      state.apiKey = key;
      sessionStorage.setItem("dfcnn-api-key", key);
      response = await fetch(url, { ...options, headers: headers() });
    }
  }
  return response;
}

// <img> cannot send the API key header, so with a key images come through fetch as blobs.
async function showImage(img, url) {
  if (!state.apiKey) { img.src = url; return; }
  const response = await call(url);
  if (response.ok) img.src = URL.createObjectURL(await response.blob());
}

async function loadStats() {
  try {
    const response = await call("/stats");
    if (!response.ok) return;
    const stats = await response.json();
    $("stats").textContent = `${stats.ntotal} images · method ${stats.method}`;
    $("topk").max = String(stats.limits.max_top_k);
    $("topk").value = String(Math.min(stats.limits.default_top_k, stats.ntotal));
  } catch (err) { /* the page still works without stats */ }
}

function chooseFile(file) {
  if (!file) return;
  state.file = file;
  state.box = null;
  $("box").hidden = true;
  clearObjectBoxes();
  const preview = $("preview");
  if (preview.src.startsWith("blob:")) URL.revokeObjectURL(preview.src);
  preview.src = URL.createObjectURL(file);
  $("stage").hidden = false;
  $("go").disabled = false;
  search();
}

// ---- crop box, kept in the photo's own pixels --------------------------------------------
function scale() {
  const img = $("preview");
  return { x: img.naturalWidth / img.clientWidth, y: img.naturalHeight / img.clientHeight };
}

function placeBox(el, box) {
  const s = scale();
  el.style.left = `${box[0] / s.x}px`;
  el.style.top = `${box[1] / s.y}px`;
  el.style.width = `${(box[2] - box[0]) / s.x}px`;
  el.style.height = `${(box[3] - box[1]) / s.y}px`;
}

function setupBoxDrawing() {
  const frame = $("frame");
  let start = null;
  const point = (event) => {
    const rect = $("preview").getBoundingClientRect();
    const s = scale();
    const x = Math.min(Math.max(event.clientX - rect.left, 0), rect.width);
    const y = Math.min(Math.max(event.clientY - rect.top, 0), rect.height);
    return [x * s.x, y * s.y];
  };
  const current = (end) => [Math.min(start[0], end[0]), Math.min(start[1], end[1]),
                            Math.max(start[0], end[0]), Math.max(start[1], end[1])];
  frame.addEventListener("pointerdown", (event) => {
    start = point(event);
    frame.setPointerCapture(event.pointerId);
  });
  frame.addEventListener("pointermove", (event) => {
    if (!start) return;
    $("box").hidden = false;
    placeBox($("box"), current(point(event)));
  });
  frame.addEventListener("pointerup", (event) => {
    if (!start) return;
    const box = current(point(event)).map(Math.round);
    start = null;
    if (box[2] - box[0] < 4 || box[3] - box[1] < 4) { $("box").hidden = true; return; }
    state.box = box;
    placeBox($("box"), box);
    search();
  });
  $("whole").addEventListener("click", () => {
    state.box = null;
    $("box").hidden = true;
    search();
  });
}

function clearObjectBoxes() {
  document.querySelectorAll(".box.object").forEach((el) => el.remove());
}

function drawObjectBoxes(objects) {
  clearObjectBoxes();
  objects.forEach((object, i) => {
    const el = document.createElement("div");
    el.className = "box object";
    const label = document.createElement("span");
    label.textContent = String(i + 1);
    el.appendChild(label);
    $("frame").appendChild(el);
    placeBox(el, object.box);
  });
}

// ---- search and results -----------------------------------------------------------------
async function search() {
  if (!state.file) return;
  const form = new FormData();
  form.append("file", state.file, state.file.name);
  form.append("top_k", $("topk").value || "10");
  if (state.box) form.append("box", state.box.join(","));
  setStatus("Searching…");
  $("go").disabled = true;
  try {
    const response = await call("/search", { method: "POST", body: form });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) {
      setStatus(`${body.detail || response.statusText} (HTTP ${response.status})`, true);
      $("results").replaceChildren();
      return;
    }
    render(body);
  } catch (err) {
    setStatus(`The server cannot be reached: ${err.message}`, true);
  } finally {
    $("go").disabled = false;
  }
}

function card(hit) {
  const link = document.createElement("a");
  link.className = "card";
  link.href = `/images/${hit.id}`;
  link.target = "_blank";
  link.rel = "noopener";
  Object.assign(link.dataset, { rank: hit.rank, id: hit.id, path: hit.path, score: hit.score });
  if (state.apiKey) {
    link.addEventListener("click", async (event) => {
      event.preventDefault();
      const response = await call(link.href);
      if (response.ok) window.open(URL.createObjectURL(await response.blob()), "_blank", "noopener");
    });
  }
  const name = hit.path.split(/[\\/]/).pop();
  const img = document.createElement("img");
  img.alt = name;
  img.loading = "lazy";
  showImage(img, `/thumbs/${hit.id}`);
  const meta = document.createElement("span");
  meta.className = "meta";
  const rank = document.createElement("span");
  rank.className = "rank";
  rank.textContent = `#${hit.rank}`;
  const score = document.createElement("span");
  score.className = "score";
  score.textContent = hit.score.toFixed(3);
  meta.append(rank, score);
  const caption = document.createElement("span");
  caption.className = "name";
  caption.textContent = name;
  caption.title = hit.path;
  link.append(img, meta, caption);
  return link;
}

function row(title, hits) {
  const section = document.createElement("div");
  section.className = "row";
  const heading = document.createElement("h2");
  heading.textContent = title;
  const grid = document.createElement("div");
  grid.className = "grid";
  grid.append(...hits.map(card));
  section.append(heading, grid);
  return section;
}

function render(body) {
  const rows = [];
  if (body.objects && body.objects.length) {
    body.objects.forEach((object, i) => rows.push(row(`Object ${i + 1}`, object.results)));
    rows.push(row("All objects, merged", body.results));
    drawObjectBoxes(body.objects);
  } else {
    clearObjectBoxes();
    rows.push(row(body.box ? "Matches for the crop" : "Matches for the whole photo", body.results));
  }
  $("results").replaceChildren(...rows);
  const t = body.timings;
  setStatus(`${body.results.length} results in ${Math.round(t.total_ms)} ms ` +
            `(describe ${Math.round(t.describe_ms)} ms, search ${t.search_ms.toFixed(1)} ms)`);
}

function setupDrop() {
  const drop = $("drop");
  ["dragenter", "dragover"].forEach((type) => drop.addEventListener(type, (event) => {
    event.preventDefault();
    drop.classList.add("over");
  }));
  ["dragleave", "drop"].forEach((type) => drop.addEventListener(type, () => drop.classList.remove("over")));
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    chooseFile(event.dataTransfer.files[0]);
  });
  $("file").addEventListener("change", (event) => chooseFile(event.target.files[0]));
  $("controls").addEventListener("submit", (event) => { event.preventDefault(); search(); });
}

setupDrop();
setupBoxDrawing();
loadStats();
