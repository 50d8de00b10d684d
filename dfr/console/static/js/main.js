// Console entry: sign in with a token, load the fleet, open the stream, keep map and panels current.
import { api, ApiError, rows, token } from "./api.js";
import { ConsoleMap } from "./map.js";
import { mergeAlert, renderAlerts } from "./alerts.js";
import { renderFlight } from "./panels.js";
import { CallQueue } from "./queue.js";
import { bindLogin, openStream, showLogin, signIn } from "./session.js";
import { CallStory } from "./timeline.js";
import "./video.js";

const state = {
  me: null, docks: [], drones: new Map(), frames: new Map(), calls: new Map(),
  flights: new Map(), alerts: [], selectedFlight: null, selectedDrone: null, pending: null,
};
let map = null;
let queue = null;
const streamListeners = new Set();
let story = null;
const $ = (id) => document.getElementById(id);

// Test and integration hook: read-only views of what the console shows.
window.dfrConsole = {
  state,
  ready: false,
  droneLatLng: (id) => (map ? map.droneLatLng(id) : null),
  leafletMap: () => (map ? map.map : null),
  announced: () => (queue ? [...queue.announced] : []),
  beeps: () => (queue ? queue.beeps : 0),
  openZoneTooltip: (key) => (map ? map.openZoneTooltip(key) : false),
  // Layers kept in their own modules (js/units.js) add a toggle here and hear the stream's messages.
  layerControl: () => (map ? map.layerControl : null),
  onStream: (listener) => streamListeners.add(listener),
};

async function enter(candidate) {
  const me = await signIn(candidate);
  if (!me) return;
  state.me = me;
  $("wall-link").hidden = !me.may.video;
  await start();
}

function renderCalls() {
  if (queue) queue.render();
}

function renderAll() {
  renderCalls();
  renderSelected();
  renderAlerts($("alerts"), state.alerts);
}

function renderSelected() {
  const flight = state.selectedFlight != null ? state.flights.get(state.selectedFlight) : null;
  const droneId = (flight && flight.drone_id) || state.selectedDrone;
  renderFlight($("flight-panel"), flight, droneId ? state.frames.get(droneId) : null, state.me.may, actions);
}

function failure(error) {
  state.alerts.unshift({ id: `ui-${Date.now()}`, severity: "warning", kind: "console", text: error.message, at: new Date().toISOString() });
  renderAlerts($("alerts"), state.alerts);
}

const actions = {
  async launch(call) {
    const body = call.decision && call.decision.recommended_drone_id ? { drone_id: call.decision.recommended_drone_id } : {};
    await api("POST", `/calls/${call.id}/launch`, body).catch(failure);
  },
  async note(call, text) {
    await api("POST", `/calls/${call.id}/notes`, { text }).catch(failure);
  },
  async cancel(call) {
    await api("POST", `/calls/${call.id}/cancel`, { reason: "cancelled by the dispatcher from the console" }).catch(failure);
  },
  openStory(callId) {
    if (story) story.show(callId);
  },
  selectFlight(flightId) {
    state.selectedFlight = flightId;
    renderSelected();
  },
  async command(flight, command) {
    if (command === "goto" || command === "orbit") {
      state.pending = { flight, command };
      $("flight-hint").textContent = `click the map where the drone should ${command === "goto" ? "go" : "orbit"}`;
      return;
    }
    await api("POST", `/flights/${flight.id}/commands`, { command }).catch(failure);
  },
};

function onMapClick(latlng) {
  if (!state.pending) return;
  const { flight, command } = state.pending;
  state.pending = null;
  $("flight-hint").textContent = "";
  const body = { command, lat: latlng.lat, lon: latlng.lng };
  if (command === "orbit") body.radius_m = 50;
  api("POST", `/flights/${flight.id}/commands`, body).catch(failure);
}

function onDroneClick(droneId) {
  const frame = state.frames.get(droneId);
  state.selectedDrone = droneId;
  state.selectedFlight = frame && frame.flight_id != null ? frame.flight_id : null;
  renderSelected();
}

function onMessage(message) {
  for (const listener of streamListeners) {
    try { listener(message); } catch (error) { console.error("stream listener:", error); }
  }
  const data = message.data;
  switch (message.type) {
    case "drone":
      state.frames.set(data.drone_id, data);
      map.updateDrone(data);
      if (data.drone_id === state.selectedDrone || (data.flight_id != null && data.flight_id === state.selectedFlight)) renderSelected();
      break;
    case "flight":
      state.flights.set(data.id, data);
      map.showFlight(data);
      if (data.id === state.selectedFlight) renderSelected();
      if (data.call_id != null) {
        story.changed(data.call_id);
        renderCalls();
      }
      break;
    case "call": {
      const call = { ...(state.calls.get(data.id) || {}), ...data };
      state.calls.set(call.id, call);
      map.showCall(call);
      renderCalls();
      story.changed(call.id);
      break;
    }
    case "decision": {
      const call = state.calls.get(data.call_id);
      if (call) {
        call.decision = data;
        renderCalls();
        story.changed(call.id);
      }
      break;
    }
    case "alert":
      mergeAlert(state.alerts, { at: message.at, ...data });
      renderAlerts($("alerts"), state.alerts);
      break;
    case "zone":
      map.showZone(message.key, data);
      break;
    default:
      break;
  }
}

async function loadZones() {
  try {
    const zones = await api("GET", "/zones");
    const features = zones && zones.type === "FeatureCollection" ? zones.features
      : (Array.isArray(zones) ? zones : (zones && zones.data) || []).map((z) => z.feature || z);
    features.forEach((feature, i) => map.showZone(`zone:${feature.id || (feature.properties && feature.properties.id) || i}`, feature));
  } catch (error) {
    if (!(error instanceof ApiError) || (error.status !== 404 && error.status !== 403)) failure(error);
  }
}

async function start() {
  if (!map) map = new ConsoleMap($("map"), state.me.console, { onDroneClick, onMapClick });
  if (!queue) {
    queue = new CallQueue({
      container: $("call-queue"), counter: $("calls-count"), confirmBar: $("confirm-bar"),
      muteButton: $("mute"), state, actions,
    });
    story = new CallStory({ state, onError: failure });
  }
  const [docks, drones, calls] = await Promise.all([rows("/docks"), rows("/drones"), rows("/calls?limit=200")]);
  state.docks = docks;
  map.showDocks(docks);
  const dockById = new Map(docks.map((d) => [d.id, d]));
  for (const drone of drones) {
    state.drones.set(drone.id, drone);
    const dock = dockById.get(drone.dock_id);
    if (dock && !map.drones.has(drone.id)) map.placeDrone(drone.id, dock.lat, dock.lon, null);
  }
  for (const call of calls) {
    state.calls.set(call.id, { ...(state.calls.get(call.id) || {}), ...call });
    map.showCall(call);
  }
  renderAll();
  await loadZones();
  if (state.me.may.stream) openStream(onMessage);
  window.dfrConsole.ready = true;
}

bindLogin(enter);

if (typeof L === "undefined") {
  $("fatal").hidden = false;
  $("fatal").textContent = "The map library is missing: run ./dev setup (npm ci) on the server.";
} else if (token()) {
  enter(token());
} else {
  showLogin();
}
