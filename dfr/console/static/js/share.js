// The officer's view of one shared call: open the link (PIN when it has one), then poll the scene and
// the drone's position every second and play the drone's video (WHEP with the phone's viewer key).
// A revoked or expired link ends the view: the video is cut and the map cleared.
/* global L */
import { addBasemap } from "./basemap.js";

const $ = (id) => document.getElementById(id);
const POLL_MS = 1000;
const token = decodeURIComponent(location.pathname.replace(/^\/share\//, "").split("/")[0] || "");
const state = { phase: "opening", viewerKey: null, view: null, frames: 0, video: null, map: null, markers: {}, ended: null };
window.dfrShare = state;

class Refused extends Error {
  constructor(status, detail) {
    super(detail || `HTTP ${status}`);
    this.status = status;
  }
}

async function call(method, path, bearer, body) {
  const headers = { Authorization: `Bearer ${bearer}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(`/api/v1${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: "no-store" });
  const text = await response.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch (_error) { data = null; }
  if (!response.ok) throw new Refused(response.status, data && (data.detail || data.title));
  return data;
}

function setPhase(phase, text) {
  state.phase = phase;
  $("state").dataset.state = phase;
  $("state").textContent = text || phase;
}

function message(text) {
  $("message").hidden = !text;
  $("message").textContent = text || "";
}

function end(reason) {
  if (state.ended) return;
  state.ended = reason;
  sessionStorage.removeItem(KEY_SLOT);
  setPhase("ended", "ended");
  stopVideo();
  $("view").hidden = true;
  $("pin-form").hidden = true;
  message(`This live view has ended: ${reason}.`);
}

function refusedText(error) {
  if (error.status === 410 || error.status === 401) return error.message;
  return `the link cannot be opened (${error.message})`;
}

// This tab's viewer key for this link: a reload keeps its place instead of taking another viewer's.
const KEY_SLOT = `dfr.share.${token.slice(-12)}`;

async function resume() {
  const saved = sessionStorage.getItem(KEY_SLOT);
  if (!saved) return false;
  try {
    await call("GET", "/share/view", saved);
  } catch (error) {
    sessionStorage.removeItem(KEY_SLOT);
    if (error.status === 410) { end(error.message); return true; }
    return false;
  }
  state.viewerKey = saved;
  return true;
}

function enterView() {
  $("pin-form").hidden = true;
  $("view").hidden = false;
  setPhase("live", "live");
  poll();
}

async function start() {
  if (!token) { end("no link in the address"); return; }
  if (await resume()) { if (!state.ended) enterView(); return; }
  let info;
  try {
    info = await call("GET", "/share/link", token);
  } catch (error) {
    end(refusedText(error));
    return;
  }
  if (info.pin_required) {
    setPhase("pin", "PIN");
    $("pin-form").hidden = false;
    $("pin").focus();
    $("pin-form").addEventListener("submit", (event) => { event.preventDefault(); openWith($("pin").value.trim()); });
    return;
  }
  await openWith(null);
}

async function openWith(pin) {
  $("pin-error").textContent = "";
  try {
    const opened = await call("POST", "/share/open", token, pin ? { pin } : {});
    state.viewerKey = opened.viewer_key;
    sessionStorage.setItem(KEY_SLOT, opened.viewer_key);
  } catch (error) {
    if (error.status === 401 && pin !== null) {
      $("pin-error").textContent = error.message === "wrong PIN" ? "Wrong PIN." : error.message;
      $("pin").value = "";
      return;
    }
    end(refusedText(error));
    return;
  }
  enterView();
}

// The agency's basemap as the console draws it; a plain grid without one.
function buildMap(basemap) {
  if (typeof L === "undefined" || state.map) return;
  state.map = L.map($("map"), { zoomControl: true, attributionControl: true }).setView([0, 0], 2);
  if (addBasemap(state.map, basemap)) return;
  const Grid = L.GridLayer.extend({
    createTile() {
      const tile = document.createElement("canvas");
      const size = this.getTileSize();
      tile.width = size.x;
      tile.height = size.y;
      const ctx = tile.getContext("2d");
      ctx.fillStyle = "#f4f1ea";
      ctx.fillRect(0, 0, size.x, size.y);
      ctx.strokeStyle = "#d5d0c4";
      ctx.strokeRect(0, 0, size.x, size.y);
      return tile;
    },
  });
  new Grid({ maxZoom: 22 }).addTo(state.map);
}

function marker(key, lat, lon, className, label) {
  if (!state.map) return;
  const existing = state.markers[key];
  if (existing) { existing.setLatLng([lat, lon]); return; }
  const icon = L.divIcon({ className, iconSize: [18, 18], iconAnchor: [9, 9] });
  const tooltip = document.createElement("span");
  tooltip.textContent = label; // from CAD: text, never HTML
  state.markers[key] = L.marker([lat, lon], { icon, keyboard: false }).bindTooltip(tooltip, { permanent: true, direction: "right" }).addTo(state.map);
}

function mmss(seconds) {
  const s = Math.max(0, Math.round(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

function show(view) {
  state.view = view;
  buildMap(view.basemap);
  const scene = view.scene;
  $("scene-title").textContent = `P${scene.priority} ${scene.title}`;
  $("scene-address").textContent = scene.address || `${scene.lat.toFixed(5)}, ${scene.lon.toFixed(5)}`;
  const first = !state.markers.scene;
  marker("scene", scene.lat, scene.lon, "scene-dot", "scene");
  if (first && state.map) state.map.setView([scene.lat, scene.lon], 16);
  const drone = view.drone;
  const line = $("drone-line");
  if (!drone) {
    line.textContent = "No drone on this call right now.";
    stopVideo();
    return;
  }
  let text = `${drone.drone_id} ${drone.flight_state.replace("_", " ")}`;
  if (drone.flight_state === "en_route" && drone.eta_at) text += ` · on scene in ${mmss((Date.parse(drone.eta_at) - Date.now()) / 1000)}`;
  if (drone.link && drone.link !== "connected") text += ` · link ${drone.link}`;
  line.textContent = text;
  line.dataset.droneId = drone.drone_id;
  if (drone.lat != null && drone.lon != null) {
    const firstFix = !state.markers.drone;
    marker("drone", drone.lat, drone.lon, "drone-dot", drone.drone_id);
    // Once: scene and drone both in view; after that the officer's own zoom is kept.
    if (firstFix && state.map) state.map.fitBounds([[scene.lat, scene.lon], [drone.lat, drone.lon]], { padding: [40, 40], maxZoom: 17 });
    line.dataset.lat = String(drone.lat);
    line.dataset.lon = String(drone.lon);
  }
  if (drone.video && !state.video) startVideo(drone.drone_id);
}

async function poll() {
  if (state.ended) return;
  try {
    show(await call("GET", "/share/view", state.viewerKey));
  } catch (error) {
    if (error.status === 410 || error.status === 401 || error.status === 403) { end(error.message); return; }
    setPhase("live", "reconnecting");
  }
  setTimeout(poll, POLL_MS);
}

async function startVideo(droneId) {
  const slot = $("video");
  state.video = { droneId, closing: false, session: null };
  const mine = state.video;
  slot.dataset.state = "connecting";
  try {
    const url = new URL("/api/v1/share/video/whep", location.origin).toString();
    const session = await window.dfrWhepPlay({ url, token: state.viewerKey });
    if (state.video !== mine) { session.pc.close(); return; }
    mine.session = session;
    const video = document.createElement("video");
    Object.assign(video, { autoplay: true, muted: true, playsInline: true });
    video.srcObject = new MediaStream([session.track]);
    slot.replaceChildren(video);
    const onFrame = (_now, meta) => {
      if (state.video !== mine) return;
      slot.dataset.state = "live";
      slot.dataset.frames = String(meta.presentedFrames);
      state.frames = meta.presentedFrames;
      video.requestVideoFrameCallback(onFrame);
    };
    video.requestVideoFrameCallback(onFrame);
    session.pc.addEventListener("connectionstatechange", () => {
      const s = session.pc.connectionState;
      if (s === "failed" || s === "disconnected" || s === "closed") {
        slot.dataset.state = "cut";
        // The server cut it (the link ended) or the network did: the next poll says which.
        if (state.video === mine) state.video = null;
      }
    });
    video.play().catch(() => {});
  } catch (error) {
    slot.dataset.state = "failed";
    slot.replaceChildren(Object.assign(document.createElement("span"), { textContent: `video unavailable: ${error.message}` }));
    // Try again after a while (the drone may not be sending yet).
    setTimeout(() => { if (state.video === mine) state.video = null; }, 5000);
  }
}

function stopVideo() {
  const current = state.video;
  state.video = null;
  const slot = $("video");
  slot.dataset.state = "none";
  slot.replaceChildren(Object.assign(document.createElement("span"), { textContent: "no video" }));
  if (current && current.session) {
    const { session } = current;
    if (session.sessionUrl && !state.ended) {
      fetch(session.sessionUrl, { method: "DELETE", headers: { Authorization: `Bearer ${state.viewerKey}` }, keepalive: true })
        .catch(() => {}).finally(() => session.pc.close());
    } else {
      session.pc.close();
    }
  }
}

window.addEventListener("pagehide", stopVideo);
start();
