// Analysts' video wall: every drone with a video stream in one grid, each tile a WHEP player (the
// console's whepPlayer), with the drone's link and flight from the stream and a "Mark moment"
// button that snapshots the picture for the drone's current flight (POST /flights/{id}/snapshots).
// Integrated business cameras get a tile while GET /integrated-cameras/live lists them (a call
// within the owner's rules is open nearby); the listing is re-read every few seconds and on call
// events, and a tile whose camera leaves it is closed (its WHEP session deleted) and removed.
// Sign-in is the console's: the token lives in sessionStorage.
import { api, rows, token } from "./api.js";
import { bindLogin, openStream, showLogin, signIn } from "./session.js";
import { whepPlayer } from "./video.js";

const ENDED = new Set(["completed", "aborted"]);
const RETRY_MS = 5000;
const CAMERA_POLL_MS = 2000;
const $ = (id) => document.getElementById(id);
const tiles = new Map(); // droneId -> tile
const cameraTiles = new Map(); // integrated camera id -> tile
let cameraRefresh = null; // the listing read in flight
let cameraRefreshAgain = false;
let me = null;

function el(tag, props = {}, ...children) {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children);
  return node;
}

function fatal(message) {
  $("fatal").hidden = false;
  $("fatal").textContent = message;
}

function renderState(tile) {
  const link = tile.link || "no link";
  const flight = tile.flightId != null ? `flight ${tile.flightId}${tile.flightState ? ` · ${tile.flightState}` : ""}` : "no flight";
  tile.state.textContent = `${link} · ${flight}`;
  tile.root.dataset.link = tile.link || "none";
  tile.root.dataset.flightId = tile.flightId != null ? String(tile.flightId) : "";
  tile.mark.disabled = tile.flightId == null;
  tile.mark.title = tile.flightId == null ? "the drone is not flying a flight" : `snapshot for flight ${tile.flightId}`;
}

function makeTile(drone) {
  const slot = el("div", { className: "video-slot" }, "waiting for the drone's link…");
  slot.dataset.frames = "0";
  slot.dataset.state = "idle";
  const mark = el("button", { type: "button", className: "mark primary", textContent: "Mark moment" });
  const state = el("span", { className: "state" });
  const result = el("div", { className: "result" });
  const root = el("article", { className: "tile" },
    el("header", {}, el("strong", { textContent: drone.id }), el("span", { textContent: drone.name || "" }), state, mark),
    slot, result);
  root.dataset.droneId = drone.id;
  root.dataset.snapshots = "0";
  const tile = {
    id: drone.id, root, slot, mark, state, result, player: null, opening: false, retry: null,
    link: drone.live ? drone.live.link : null, flightId: drone.flight_id ?? null, flightState: null,
  };
  mark.addEventListener("click", () => markMoment(tile));
  tiles.set(drone.id, tile);
  renderState(tile);
  return tile;
}

async function play(tile) {
  if (tile.player || tile.opening) return;
  tile.opening = true;
  tile.slot.dataset.state = "connecting";
  tile.slot.textContent = "connecting…";
  try {
    tile.player = await whepPlayer(tile.id, tile.slot, { token: token() });
  } catch (error) {
    tile.slot.dataset.state = "failed";
    tile.slot.textContent = `video unavailable: ${error.message}`;
    scheduleRetry(tile);
  } finally {
    tile.opening = false;
  }
}

function scheduleRetry(tile) {
  if (tile.retry) return;
  tile.retry = setTimeout(() => { tile.retry = null; play(tile); }, RETRY_MS);
}

// A peer connection that failed is replaced (the stream may have stalled and come back).
function watchdog() {
  for (const tile of tiles.values()) {
    if (tile.player && tile.slot.dataset.state === "failed") {
      tile.player.close();
      tile.player = null;
      scheduleRetry(tile);
    }
  }
  // A camera's session the server ended (unplug) is closed here; the listing says whether to reopen.
  let ended = false;
  for (const tile of cameraTiles.values()) {
    if (tile.player && tile.slot.dataset.state === "failed") {
      tile.player.close();
      tile.player = null;
      tile.retryAt = Date.now() + RETRY_MS;
      ended = true;
    }
  }
  if (ended) refreshCameras();
}

async function markMoment(tile) {
  const flightId = tile.flightId;
  if (flightId == null) return;
  const note = window.prompt(`What does ${tile.id} show now? (note for flight ${flightId})`);
  if (note == null || !note.trim()) return;
  tile.mark.disabled = true;
  tile.result.className = "result";
  tile.result.textContent = "taking snapshot…";
  try {
    const snap = await api("POST", `/flights/${flightId}/snapshots`, { note: note.trim() });
    tile.root.dataset.snapshots = String(Number(tile.root.dataset.snapshots) + 1);
    tile.root.dataset.lastSnapshot = snap.id;
    const at = new Date(snap.at).toLocaleTimeString();
    tile.result.textContent = `snapshot ${at} · sha256 ${snap.sha256.slice(0, 16)}…${snap.call_id != null ? ` · noted on call ${snap.call_id}` : ""}`;
    tile.result.title = snap.sha256;
  } catch (error) {
    tile.result.className = "result error";
    tile.result.textContent = `snapshot refused: ${error.message}`;
  } finally {
    renderState(tile);
  }
}

function makeCameraTile(camera) {
  const slot = el("div", { className: "video-slot" }, "connecting…");
  slot.dataset.frames = "0";
  slot.dataset.state = "idle";
  const state = el("span", { className: "state" });
  const root = el("article", { className: "tile camera-tile" },
    el("header", {}, el("strong", { textContent: camera.name }), el("span", { textContent: camera.feed || "" }), state),
    slot);
  root.dataset.cameraId = String(camera.id);
  const tile = { id: camera.id, name: camera.name, root, slot, state, player: null, opening: false, gone: false, retryAt: 0, callId: null };
  setCameraCall(tile, camera.call_id);
  return tile;
}

function setCameraCall(tile, callId) {
  tile.callId = callId;
  tile.root.dataset.callId = String(callId);
  tile.state.textContent = `integrated camera · call ${callId}`;
}

async function playCamera(tile) {
  if (tile.player || tile.opening || tile.gone || Date.now() < tile.retryAt) return;
  tile.opening = true;
  tile.slot.dataset.state = "connecting";
  tile.slot.textContent = "connecting…";
  try {
    const url = `/api/v1/integrated-cameras/${encodeURIComponent(tile.id)}/live/whep`;
    const player = await whepPlayer(`camera-${tile.id}`, tile.slot, { token: token(), url });
    if (tile.gone) player.close(); // removed while the offer was answered
    else tile.player = player;
  } catch (error) {
    tile.slot.dataset.state = "failed";
    tile.slot.textContent = `live view refused: ${error.message}`;
    tile.retryAt = Date.now() + RETRY_MS;
  } finally {
    tile.opening = false;
  }
}

function removeCameraTile(tile) {
  tile.gone = true;
  if (tile.player) tile.player.close();
  tile.player = null;
  tile.root.remove();
  cameraTiles.delete(tile.id);
}

// The server is the judge: a camera it no longer lists loses its tile, whatever the tile's state.
async function refreshCameras() {
  if (cameraRefresh) { cameraRefreshAgain = true; return cameraRefresh; }
  cameraRefresh = (async () => {
    try {
      const live = await rows("/integrated-cameras/live");
      const listed = new Map(live.map((c) => [c.id, c]));
      for (const tile of [...cameraTiles.values()]) if (!listed.has(tile.id)) removeCameraTile(tile);
      for (const camera of live) {
        let tile = cameraTiles.get(camera.id);
        if (!tile) {
          tile = makeCameraTile(camera);
          cameraTiles.set(camera.id, tile);
          $("wall").append(tile.root);
        } else if (tile.callId !== camera.call_id) {
          setCameraCall(tile, camera.call_id);
        }
        playCamera(tile);
      }
      const empty = $("wall").querySelector(".empty");
      if (empty) empty.hidden = cameraTiles.size > 0;
    } catch (error) {
      console.warn("integrated cameras not refreshed", error);
    } finally {
      cameraRefresh = null;
    }
    if (cameraRefreshAgain) { cameraRefreshAgain = false; refreshCameras(); }
  })();
  return cameraRefresh;
}

function onMessage(message) {
  const data = message.data;
  if (message.type === "drone") {
    const tile = tiles.get(data.drone_id);
    if (!tile) return;
    tile.link = data.link;
    if (data.flight_id !== tile.flightId) { tile.flightId = data.flight_id ?? null; tile.flightState = null; }
    renderState(tile);
    if (data.link !== "lost") play(tile);
  } else if (message.type === "call") {
    if (me.may.camera_live) refreshCameras();
  } else if (message.type === "flight") {
    const tile = tiles.get(data.drone_id);
    if (!tile) return;
    if (ENDED.has(data.state)) {
      if (tile.flightId === data.id) { tile.flightId = null; tile.flightState = null; }
    } else {
      tile.flightId = data.id;
      tile.flightState = data.state;
    }
    renderState(tile);
  }
}

async function start() {
  if (!me.may.video) {
    $("wall").replaceChildren(el("p", { className: "empty", textContent: `The role ${me.role} may not watch video.` }));
    return;
  }
  const drones = (await rows("/drones")).filter((d) => d.video_url);
  const wall = $("wall");
  if (!drones.length) wall.replaceChildren(el("p", { className: "empty", textContent: "No drone has a video stream." }));
  else wall.replaceChildren(...drones.map((d) => makeTile(d).root));
  for (const tile of tiles.values()) if (tile.link && tile.link !== "lost") play(tile);
  if (me.may.camera_live) {
    await refreshCameras();
    setInterval(refreshCameras, CAMERA_POLL_MS);
  }
  if (me.may.stream) openStream(onMessage);
  setInterval(watchdog, 2000);
  window.dfrWall.ready = true;
}

async function enter(candidate) {
  const who = await signIn(candidate);
  if (!who) return;
  me = who;
  try {
    await start();
  } catch (error) {
    fatal(`The wall cannot start: ${error.message}`);
  }
}

function closeAll() {
  for (const tile of tiles.values()) if (tile.player) tile.player.close();
  for (const tile of cameraTiles.values()) if (tile.player) tile.player.close();
}

// Test and integration hook: the tiles as the wall shows them.
window.dfrWall = {
  ready: false,
  tiles: () => [...tiles.values()].map((t) => ({
    droneId: t.id, link: t.link, flightId: t.flightId, state: t.slot.dataset.state,
    frames: Number(t.slot.dataset.frames || 0), snapshots: Number(t.root.dataset.snapshots),
  })),
  cameras: () => [...cameraTiles.values()].map((t) => ({
    cameraId: t.id, name: t.name, callId: t.callId, state: t.slot.dataset.state,
    frames: Number(t.slot.dataset.frames || 0),
  })),
  refreshCameras,
};

bindLogin(enter, closeAll);
window.addEventListener("pagehide", closeAll); // ends every WHEP session (DELETE) with the page

if (token()) enter(token());
else showLogin();
