// The web page: pick a photo, click a style, get the painting. Talks to the API of the same server.
"use strict";

const $ = (id) => document.getElementById(id);
// photoShown: "file" (the browser shows it), "unshown" (it cannot: ask the server) or "asked"
const state = { photo: null, photoUrl: null, photoShown: "file", style: null, painting: null,
                token: sessionStorage.getItem("token") };

function headers() {
  return state.token ? { Authorization: "Bearer " + state.token } : {};
}

function say(text, isError = false) {
  $("status").textContent = text;
  $("status").classList.toggle("error", isError);
}

async function errorOf(response) {
  try { return (await response.json()).error || response.statusText; } catch { return response.statusText; }
}

// 1. Styles: a button per style, its swatch loaded with the key when the server wants one.
async function loadStyles() {
  const response = await fetch("/styles", { headers: headers() });
  if (response.status === 401) { $("token-row").hidden = false; say("This server wants a key.", true); return; }
  if (!response.ok) { say("Could not list the styles: " + await errorOf(response), true); return; }
  $("token-row").hidden = true;
  const box = $("styles");
  box.replaceChildren();
  for (const style of await response.json()) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "style";
    button.dataset.name = style.name;
    button.setAttribute("role", "radio");
    button.setAttribute("aria-checked", "false");
    button.title = [style.title, style.artist, style.year].filter(Boolean).join(", ")
      + (style.has_lite ? "" : " (no lite network: fast paints with the full one)");
    const img = document.createElement("img");
    img.alt = "";
    const title = document.createElement("span");
    title.className = "title";
    title.textContent = style.title;
    const artist = document.createElement("span");
    artist.className = "artist";
    artist.textContent = style.artist || (style.source === "user" ? "your style" : "");
    button.append(img, title, artist);
    button.addEventListener("click", () => choose(style.name));
    box.append(button);
    loadSwatch(img, style.swatch);
  }
}

async function loadSwatch(img, url) {
  const response = await fetch(url, { headers: headers() });
  if (response.ok) img.src = URL.createObjectURL(await response.blob());
}

// 2. The photo: from the file picker or dropped on the box.
function usePhoto(file) {
  if (!file) return;
  if (!file.type.startsWith("image/") && file.type !== "") { say(file.name + " is not an image.", true); return; }
  state.photo = file;
  state.photoShown = "file";
  showPhoto(URL.createObjectURL(file));
  $("drop").classList.add("has-photo");
  $("drop-text").textContent = file.name;
  if (state.style) paint(); else say("Now choose a style.");
}

function showPhoto(url) {
  if (state.photoUrl) URL.revokeObjectURL(state.photoUrl);
  state.photoUrl = url;
  $("drop").style.backgroundImage = `url("${url}")`;
  $("before").src = url;
}

// A photo this browser cannot show (HEIC outside Safari) is shown as the server reads it: the
// photo at strength 0, which the server sends back without painting it.
async function showPhotoFromServer() {
  const photo = state.photo;
  const style = state.style || document.querySelector(".style")?.dataset.name;
  if (!photo || !style) return;  // tried again once a style is chosen (paint)
  state.photoShown = "asked";
  const query = new URLSearchParams({ style, strength: 0, max_size: $("size").value, format: "jpeg" });
  const form = new FormData();
  form.append("image", photo, photo.name);
  try {
    const response = await fetch("/stylize?" + query, { method: "POST", body: form, headers: headers() });
    if (response.ok && photo === state.photo) showPhoto(URL.createObjectURL(await response.blob()));
  } catch { /* the painting's own request says what went wrong */ }
}

function choose(name) {
  state.style = name;
  for (const b of document.querySelectorAll(".style")) b.setAttribute("aria-checked", String(b.dataset.name === name));
  if (state.photo) paint(); else say("Now choose a photo.");
}

// 3. Painting: one request at a time; a newer choice wins over an older answer.
let generation = 0;
async function paint() {
  const mine = ++generation;
  const query = new URLSearchParams({
    style: state.style, strength: $("strength").value, preserve_colors: $("preserve").checked,
    fast: $("fast").checked, max_size: $("size").value, format: "jpeg",
  });
  const form = new FormData();
  form.append("image", state.photo, state.photo.name);
  say("Painting...");
  const started = performance.now();
  let response;
  try {
    response = await fetch("/stylize?" + query, { method: "POST", body: form, headers: headers() });
  } catch (e) {
    if (mine === generation) say("The server did not answer: " + e.message, true);
    return;
  }
  if (mine !== generation) return;
  if (!response.ok) {
    const retry = response.headers.get("Retry-After");
    say(await errorOf(response) + (retry ? ` (try again in ${retry} s)` : ""), true);
    return;
  }
  const blob = await response.blob();
  if (state.painting) URL.revokeObjectURL(state.painting);
  state.painting = URL.createObjectURL(blob);
  $("after").src = state.painting;
  $("compare").hidden = false;
  const stem = state.photo.name.replace(/\.[^.]*$/, "") || "photo";
  $("download").href = state.painting;
  $("download").download = `${stem}.${state.style}.jpg`;
  $("download").hidden = false;
  say(`Painted in ${((performance.now() - started) / 1000).toFixed(1)} s. Drag the slider to compare.`);
  if (state.photoShown === "unshown") showPhotoFromServer();
}

// 4. Wiring.
$("file").addEventListener("change", (e) => usePhoto(e.target.files[0]));
const drop = $("drop");
drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (e) => { e.preventDefault(); drop.classList.remove("over"); usePhoto(e.dataTransfer.files[0]); });
drop.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") $("file").click(); });
$("strength").addEventListener("input", () => { $("strength-value").textContent = Math.round($("strength").value * 100) + " %"; });
for (const id of ["strength", "preserve", "fast", "size"]) {
  $(id).addEventListener("change", () => { if (state.photo && state.style) paint(); });
}
$("before").addEventListener("error", () => {
  if (!state.photo || state.photoShown !== "file") return;
  state.photoShown = "unshown";
  showPhotoFromServer();
});
$("split").addEventListener("input", () => { $("before-clip").style.width = $("split").value + "%"; });
$("token-save").addEventListener("click", () => {
  state.token = $("token").value.trim();
  sessionStorage.setItem("token", state.token);
  loadStyles();
});

loadStyles();
