// Registered cameras on the console: a map layer, and for a call the cameras near it, one-action
// footage requests, each owner link's state (revocable) and the clips received (downloads re-hashed).
import { api, token } from "./api.js";

const $ = (id) => document.getElementById(id);
const CAMERA_COLOUR = "#6a1b9a";
const INTEGRATED_COLOUR = "#00838f";
const REQUESTERS = new Set(["analyst", "admin"]);
const READERS = new Set(["analyst", "admin", "dispatcher"]);
const hooks = { ready: false, markers: new Map(), integrated: new Map(), near: [], footage: null, verified: new Map() };
window.dfrCameras = hooks;
let layer = null;

function el(tag, props = {}, ...children) {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children);
  return node;
}

function tooltip(camera) {
  const facing = camera.facing_deg == null ? "facing not told" : `facing ${camera.facing_deg}° (${camera.fov_deg ?? "?"}° view)`;
  const records = camera.records.length ? camera.records.join(", ") : "not told";
  // A DOM node: Leaflet would read a string as HTML, and owners wrote the description.
  return el("span", { textContent: `Camera ${camera.id}: ${facing}; records ${records}. ${camera.description}` });
}

export async function loadCameras() {
  const map = window.dfrConsole.leafletMap();
  if (!map) return;
  if (!layer) layer = L.layerGroup().addTo(map);
  const data = await api("GET", "/cameras");
  layer.clearLayers();
  hooks.markers.clear();
  for (const camera of data.data) {
    const marker = L.circleMarker([camera.lat, camera.lon], { radius: 5, color: CAMERA_COLOUR, fillColor: CAMERA_COLOUR, fillOpacity: 0.8 })
      .bindTooltip(tooltip(camera))
      .addTo(layer);
    hooks.markers.set(camera.id, marker);
    if (camera.facing_deg != null) {
      const rad = (camera.facing_deg * Math.PI) / 180;
      const dLat = (40 / 111320) * Math.cos(rad);
      const dLon = (40 / (111320 * Math.cos((camera.lat * Math.PI) / 180))) * Math.sin(rad);
      L.polyline([[camera.lat, camera.lon], [camera.lat + dLat, camera.lon + dLon]], { color: CAMERA_COLOUR, weight: 2 }).addTo(layer);
    }
  }
  const integrated = await api("GET", "/integrated-cameras");
  hooks.integrated.clear();
  for (const camera of integrated.data) {
    const colour = camera.unplugged_at ? "#8a8a8a" : INTEGRATED_COLOUR;
    const state = camera.unplugged_at ? "unplugged by its owner" : camera.live_allowed ? `live only for calls P${camera.max_priority} or more urgent within ${camera.radius_m} m` : "no live view";
    const label = el("span", { textContent: `Integrated camera ${camera.id} ${camera.name} (${camera.feed}): ${state}` });
    const marker = L.circleMarker([camera.lat, camera.lon], { radius: 7, color: colour, fillColor: "#fff", fillOpacity: 1, weight: 3 })
      .bindTooltip(label)
      .addTo(layer);
    hooks.integrated.set(camera.id, marker);
  }
  $("cameras-count").textContent = `(${data.count} registered, ${integrated.count} integrated)`;
}

function calls() {
  const all = [...window.dfrConsole.state.calls.values()];
  return all.filter((c) => c.lifecycle !== "cancelled" && c.lifecycle !== "cleared").sort((a, b) => b.id - a.id);
}

function fillCalls() {
  const select = $("cameras-call");
  const chosen = select.value;
  select.replaceChildren(el("option", { value: "", textContent: "Choose a call" }));
  for (const call of calls()) {
    select.append(el("option", { value: String(call.id), textContent: `#${call.id} ${call.call_type_text || call.call_type} (P${call.priority})` }));
  }
  select.value = chosen;
}

function localInput(date) {
  const shifted = new Date(date.getTime() - date.getTimezoneOffset() * 60000);
  return shifted.toISOString().slice(0, 16);
}

function say(text, isError) {
  $("cameras-status").textContent = isError ? "" : text;
  $("cameras-error").textContent = isError ? text : "";
}

async function findCameras() {
  const callId = $("cameras-call").value;
  if (!callId) return;
  try {
    const near = await api("GET", `/calls/${callId}/cameras?radius_m=${Number($("cameras-radius").value) || 300}`);
    hooks.near = near.data;
    const list = $("cameras-near");
    list.replaceChildren();
    for (const camera of near.data) {
      const view = camera.facing_known ? "its view covers the scene" : "facing not told";
      list.append(el("li", { textContent: `Camera ${camera.id}: ${camera.distance_m} m, ${view}` }));
    }
    say(`${near.count} cameras of ${near.owners} owners within ${near.radius_m} m cover the scene.`);
    $("cameras-request").disabled = near.count === 0;
    await showFootage();
  } catch (error) {
    say(error.message, true);
  }
}

async function requestFootage() {
  const callId = $("cameras-call").value;
  try {
    const created = await api("POST", `/calls/${callId}/footage-requests`, {
      window_start: new Date($("cameras-from").value).toISOString(),
      window_end: new Date($("cameras-to").value).toISOString(),
      message: $("cameras-message").value,
      radius_m: Number($("cameras-radius").value) || 300,
    });
    say(`Footage request ${created.id} emailed to ${created.links.length} owners.`);
    await showFootage();
  } catch (error) {
    say(error.message, true);
  }
}

async function sha256Hex(buffer) {
  const digest = await crypto.subtle.digest("SHA-256", buffer);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

async function download(clip) {
  const response = await fetch(`/api/v1/footage-clips/${clip.id}/file`, { headers: { Authorization: `Bearer ${token()}` } });
  if (!response.ok) { say(`download refused: HTTP ${response.status}`, true); return; }
  const bytes = await response.arrayBuffer();
  const hash = await sha256Hex(bytes);
  hooks.verified.set(clip.id, hash);
  const same = hash === clip.sha256;
  say(same ? `Clip ${clip.id} downloaded; its SHA-256 matches the record.` : `Clip ${clip.id}: SHA-256 DIFFERS from the record.`, !same);
  const link = el("a", { href: URL.createObjectURL(new Blob([bytes])), download: clip.file_name, textContent: `save ${clip.file_name}` });
  $(`clip-${clip.id}`).append(" ", link);
}

async function showFootage() {
  const callId = $("cameras-call").value;
  const box = $("cameras-footage");
  box.replaceChildren();
  if (!callId) return;
  const footage = await api("GET", `/calls/${callId}/footage`);
  hooks.footage = footage;
  const requester = REQUESTERS.has(window.dfrConsole.state.me.role);
  for (const request of footage.requests) {
    const links = el("ul", { className: "camera-list" });
    for (const link of request.links) {
      const item = el("li", { textContent: `Owner link ${link.id} (camera ${link.registration_id}): ${link.state}` });
      item.dataset.state = link.state;
      if (requester && link.state === "active") {
        const revoke = el("button", { type: "button", className: "danger", textContent: "Revoke" });
        revoke.dataset.linkId = String(link.id);
        revoke.dataset.registrationId = String(link.registration_id);
        revoke.addEventListener("click", async () => {
          try { await api("POST", `/footage-links/${link.id}/revoke`, {}); await showFootage(); } catch (error) { say(error.message, true); }
        });
        item.append(" ", revoke);
      }
      links.append(item);
    }
    box.append(el("h3", { textContent: `Request ${request.id} by ${request.requested_by}` }), el("p", { className: "hint", textContent: request.message }), links);
  }
  const clips = el("ol", { className: "clips", id: "cameras-clips" });
  for (const clip of footage.clips) {
    const item = el("li", { id: `clip-${clip.id}` },
      el("div", { textContent: `${clip.file_name}: ${clip.duration_s} s ${clip.codec}, ${clip.size_bytes} bytes, from ${clip.uploaded_by} at ${new Date(clip.uploaded_at).toLocaleString()}` }),
      el("div", { className: "hash", textContent: `SHA-256 ${clip.sha256}` }));
    item.dataset.sha256 = clip.sha256;
    if (requester) {
      const get = el("button", { type: "button", textContent: "Download and verify" });
      get.dataset.clipId = String(clip.id);
      get.addEventListener("click", () => download(clip));
      item.append(get);
    }
    clips.append(item);
  }
  box.append(el("h3", { textContent: `Clips (${footage.clips.length})` }), clips);
}

function buildPanel(me) {
  const now = new Date();
  const requester = REQUESTERS.has(me.role);
  const panel = el("section", { id: "cameras-panel", className: "cameras-panel" },
    el("h2", {}, "Cameras ", el("span", { id: "cameras-count", className: "count" })),
    el("div", { className: "form" },
      el("label", {}, "Call ", el("select", { id: "cameras-call" })),
      el("label", {}, "Radius (m) ", el("input", { id: "cameras-radius", type: "number", value: "300", min: "1", max: "5000" })),
      el("div", { className: "buttons" },
        el("button", { id: "cameras-find", type: "button", textContent: "Cameras near the call" }),
        el("button", { id: "cameras-reload", type: "button", textContent: "Reload map" }))),
    el("ul", { id: "cameras-near", className: "camera-list" }),
    el("div", { className: "form", hidden: !requester },
      el("label", {}, "From ", el("input", { id: "cameras-from", type: "datetime-local", value: localInput(new Date(now - 3600000)) })),
      el("label", {}, "To ", el("input", { id: "cameras-to", type: "datetime-local", value: localInput(now) })),
      el("label", {}, "Message to owners ", el("textarea", { id: "cameras-message", rows: 3, maxLength: 2000 })),
      el("div", { className: "buttons" }, el("button", { id: "cameras-request", type: "button", className: "primary", disabled: true, textContent: "Request footage" }))),
    el("p", { id: "cameras-status", className: "hint", role: "status" }),
    el("p", { id: "cameras-error", className: "error", role: "alert" }),
    el("div", { id: "cameras-footage" }));
  document.querySelector(".side").append(panel);
  $("cameras-call").addEventListener("focus", fillCalls);
  $("cameras-call").addEventListener("change", () => { showFootage().catch((e) => say(e.message, true)); });
  $("cameras-find").addEventListener("click", findCameras);
  $("cameras-reload").addEventListener("click", () => loadCameras().catch((e) => say(e.message, true)));
  $("cameras-request").addEventListener("click", requestFootage);
}

async function start() {
  while (!(window.dfrConsole && window.dfrConsole.ready)) await new Promise((r) => setTimeout(r, 100));
  const me = window.dfrConsole.state.me;
  if (READERS.has(me.role)) buildPanel(me);
  else document.querySelector(".side").append(el("section", { id: "cameras-panel" }, el("h2", {}, "Cameras ", el("span", { id: "cameras-count", className: "count" }))));
  fillCalls();
  await loadCameras();
  hooks.ready = true;
}

if (typeof L !== "undefined") start().catch((error) => console.error("cameras:", error));
