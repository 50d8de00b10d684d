// Responders on the map: CAD units (AVL feed or EIDO) drawn with their id and status, faded once
// their position is more than two minutes old (checked every few seconds here, in the browser).
// Live from the stream's `unit` messages; read from GET /cad/units at start, and every 5 s when the
// role may not read the stream. Everything from CAD is set as text, never as markup.
import { api } from "./api.js";

const STALE_AFTER_MS = 120_000;
const CHECK_MS = 3000;
const POLL_MS = 5000;
// Units not heard of for this long are not loaded at all.
const MAX_AGE_S = 12 * 3600;
const STATUS_TEXT = { available: "available", enroute: "en route", on_scene: "on scene", busy: "busy", out_of_service: "out of service" };
const units = new Map(); // unit_id -> {unit, marker, stale}
const hooks = {
  ready: false,
  units,
  isStale: (id) => (units.has(id) ? units.get(id).stale : null),
  latLng: (id) => (units.has(id) ? units.get(id).marker.getLatLng() : null),
};
window.dfrUnits = hooks;
let layer = null;

function isStale(unit, nowMs) {
  const at = Date.parse(unit.reported_at);
  return !Number.isFinite(at) || nowMs - at > STALE_AFTER_MS;
}

function describe(unit) {
  const parts = [`Unit ${unit.unit_id}: ${STATUS_TEXT[unit.status] || unit.status}`];
  if (unit.call_id) parts.push(`on ${unit.call_id}`);
  if (unit.speed_mps != null) parts.push(`${Math.round(Number(unit.speed_mps) * 3.6)} km/h`);
  if (unit.heading_deg != null) parts.push(`heading ${Math.round(Number(unit.heading_deg))}°`);
  const at = new Date(unit.reported_at);
  if (!Number.isNaN(at.getTime())) parts.push(`reported ${at.toLocaleTimeString()}`);
  const span = document.createElement("span");
  span.textContent = parts.join(", ");
  return span;
}

// Built from elements: the id and status come from CAD, and the CSP refuses inline markup styles.
function icon(unit, stale) {
  const dot = document.createElement("span");
  dot.className = "unit-dot";
  const tag = document.createElement("span");
  tag.className = "unit-tag";
  tag.textContent = `${unit.unit_id} ${STATUS_TEXT[unit.status] || unit.status}`;
  const glyph = document.createElement("div");
  glyph.className = "unit-glyph";
  glyph.dataset.unitId = String(unit.unit_id);
  glyph.dataset.status = String(unit.status);
  glyph.append(dot, tag);
  const className = stale ? "unit-icon unit-stale" : "unit-icon";
  return L.divIcon({ className, html: glyph, iconSize: [12, 12], iconAnchor: [6, 6] });
}

// Show `unit` unless a newer report of the same unit is shown already (feeds arrive out of order).
function place(unit) {
  if (!layer || unit.lat == null || unit.lon == null) return;
  const known = units.get(unit.unit_id);
  if (known && Date.parse(known.unit.reported_at) > Date.parse(unit.reported_at)) return;
  const stale = isStale(unit, Date.now());
  if (!known) {
    const marker = L.marker([unit.lat, unit.lon], { icon: icon(unit, stale), zIndexOffset: 500, keyboard: false })
      .bindTooltip(describe(unit))
      .addTo(layer);
    units.set(unit.unit_id, { unit, marker, stale });
    return;
  }
  known.unit = unit;
  known.stale = stale;
  known.marker.setLatLng([unit.lat, unit.lon]);
  known.marker.setIcon(icon(unit, stale));
  known.marker.setTooltipContent(describe(unit));
}

// Fade the units whose position has grown old since they were drawn (and brighten none: a fresh
// position only comes with a new report, which redraws the unit).
function refade() {
  const now = Date.now();
  for (const entry of units.values()) {
    const stale = isStale(entry.unit, now);
    if (stale !== entry.stale) {
      entry.stale = stale;
      entry.marker.setIcon(icon(entry.unit, stale));
    }
  }
}

async function load() {
  const listed = await api("GET", `/cad/units?max_age_s=${MAX_AGE_S}`);
  for (const unit of listed.data) place(unit);
}

async function start() {
  while (!(window.dfrConsole && window.dfrConsole.ready)) await new Promise((r) => setTimeout(r, 100));
  const map = window.dfrConsole.leafletMap();
  if (!map) return;
  layer = L.layerGroup().addTo(map);
  const control = window.dfrConsole.layerControl ? window.dfrConsole.layerControl() : null;
  if (control) control.addOverlay(layer, "Units");
  if (window.dfrConsole.onStream) {
    window.dfrConsole.onStream((message) => { if (message.type === "unit") place(message.data); });
  }
  await load();
  if (!window.dfrConsole.state.me.may.stream) {
    setInterval(() => load().catch((error) => console.error("units:", error)), POLL_MS);
  }
  setInterval(refade, CHECK_MS);
  hooks.ready = true;
}

if (typeof L !== "undefined") start().catch((error) => console.error("units:", error));
