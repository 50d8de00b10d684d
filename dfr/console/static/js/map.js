// The Leaflet map: base tiles (or a plain grid), docks, drones, calls, routes, tracks and zones.
/* global L */
import { addBasemap, showBasemapHint } from "./basemap.js";
const LINK_COLOURS = { connected: "#1f6feb", degraded: "#ef6c00", lost: "#c62828", none: "#8a96a3" };
const ZONE_STYLES = {
  exclusion: { color: "#c62828", fillOpacity: 0.15 },
  advisory: { color: "#f9a825", fillOpacity: 0.1 },
  inclusion: { color: "#2e7d32", fillOpacity: 0.04 },
};

// Leaflet renders a string tooltip as HTML; names come from CAD and zone files, so they go in as text.
function asText(value) {
  const span = document.createElement("span");
  span.textContent = String(value);
  return span;
}

// UAS Facility Map cells: a faint grid whose fill deepens as the ceiling drops (0 ft = no flight).
function ceilingStyle(feature) {
  const ft = Number(feature.properties && feature.properties.ceiling_ft);
  const tight = Number.isFinite(ft) ? Math.max(0, Math.min(1, 1 - ft / 400)) : 0;
  return { color: "#6a1b9a", weight: 0.5, opacity: 0.35, fillOpacity: 0.03 + 0.22 * tight };
}

function gridLayer() {
  // Drawn locally so the map is usable with no tile server at all.
  const Grid = L.GridLayer.extend({
    createTile(coords) {
      const tile = document.createElement("canvas");
      const size = this.getTileSize();
      tile.width = size.x;
      tile.height = size.y;
      const ctx = tile.getContext("2d");
      ctx.fillStyle = "#f4f1ea";
      ctx.fillRect(0, 0, size.x, size.y);
      ctx.strokeStyle = "#d5d0c4";
      ctx.beginPath();
      for (let i = 0; i <= 4; i++) {
        const p = (i * size.x) / 4;
        ctx.moveTo(p, 0); ctx.lineTo(p, size.y);
        ctx.moveTo(0, p); ctx.lineTo(size.x, p);
      }
      ctx.stroke();
      ctx.fillStyle = "#b9b3a6";
      ctx.font = "10px sans-serif";
      ctx.fillText(`${coords.z}/${coords.x}/${coords.y}`, 4, 12);
      return tile;
    },
  });
  return new Grid({ maxZoom: 22 });
}

const SVG_NS = "http://www.w3.org/2000/svg";

function svgNode(tag, attrs) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  return node;
}

// Built from elements, not an HTML string: the id comes from the fleet, and a CSP without
// 'unsafe-inline' refuses style attributes in markup (a style set from script is allowed).
function droneIcon(frame, id) {
  const colour = LINK_COLOURS[frame ? frame.link : "none"] || LINK_COLOURS.none;
  const heading = frame && frame.heading_deg != null ? Number(frame.heading_deg) : 0;
  const battery = frame && frame.battery_pct != null ? ` ${Math.round(frame.battery_pct)}%` : "";
  const link = frame && frame.link !== "connected" ? ` ${frame.link}` : "";
  const svg = svgNode("svg", { width: 24, height: 24, viewBox: "-12 -12 24 24" });
  svg.style.transform = `rotate(${Number.isFinite(heading) ? heading : 0}deg)`;
  svg.append(svgNode("path", { d: "M0,-11 L7,9 L0,5 L-7,9 Z", fill: colour, stroke: "#fff", "stroke-width": 1.5 }));
  const tag = document.createElement("span");
  tag.className = "tag";
  tag.textContent = `${id}${battery}${frame ? link : " no telemetry"}`;
  const html = document.createElement("div");
  html.className = "drone-glyph";
  html.append(svg, tag);
  return L.divIcon({ className: "drone-icon", html, iconSize: [24, 24], iconAnchor: [12, 12] });
}

export class ConsoleMap {
  constructor(element, config, { onDroneClick, onMapClick }) {
    this.map = L.map(element, { zoomControl: true, preferCanvas: false }).setView([38.85, -104.75], 12);
    if (addBasemap(this.map, config.basemap)) {
      // The configured basemap (js/basemap.js) is drawn.
    } else if (config.tile_url) {
      L.tileLayer(config.tile_url, {
        maxZoom: config.tile_max_zoom,
        attribution: config.tile_attribution,
      }).addTo(this.map);
    } else {
      gridLayer().addTo(this.map);
      showBasemapHint(this.map, config.basemap);
    }
    this.layers = {
      zones: L.layerGroup().addTo(this.map),
      docks: L.layerGroup().addTo(this.map),
      calls: L.layerGroup().addTo(this.map),
      routes: L.layerGroup().addTo(this.map),
      drones: L.layerGroup().addTo(this.map),
    };
    // Kept so other layers (js/units.js) can add their own toggle.
    this.layerControl = L.control.layers(null, {
      Zones: this.layers.zones, Docks: this.layers.docks, Calls: this.layers.calls,
      Routes: this.layers.routes, Drones: this.layers.drones,
    }).addTo(this.map);
    this.drones = new Map(); // id -> marker
    this.calls = new Map();
    this.flights = new Map(); // id -> {route, track}
    this.zones = new Map();
    this.onDroneClick = onDroneClick;
    this.map.on("click", (event) => onMapClick(event.latlng));
  }

  showDocks(docks) {
    const bounds = [];
    for (const dock of docks) {
      const at = [dock.lat, dock.lon];
      bounds.push(at);
      L.circle(at, { radius: dock.response_radius_m, color: "#55616f", weight: 1, dashArray: "4 6", fill: false, interactive: false })
        .addTo(this.layers.docks);
      L.circleMarker(at, { radius: 7, color: "#1d2733", fillColor: "#fff", fillOpacity: 1, weight: 2 })
        .bindTooltip(asText(dock.name), { permanent: true, direction: "bottom", className: "dock-label" })
        .addTo(this.layers.docks);
    }
    if (bounds.length) this.map.fitBounds(L.latLngBounds(bounds).pad(0.4));
  }

  placeDrone(id, lat, lon, frame) {
    let marker = this.drones.get(id);
    if (!marker) {
      marker = L.marker([lat, lon], { icon: droneIcon(frame, id), zIndexOffset: 1000 })
        .on("click", () => this.onDroneClick(id))
        .addTo(this.layers.drones);
      this.drones.set(id, marker);
    } else {
      marker.setLatLng([lat, lon]);
      marker.setIcon(droneIcon(frame, id));
    }
  }

  updateDrone(frame) {
    const marker = this.drones.get(frame.drone_id);
    if (frame.lat == null || frame.lon == null) {
      if (marker) marker.setIcon(droneIcon(frame, frame.drone_id));
      return;
    }
    this.placeDrone(frame.drone_id, frame.lat, frame.lon, frame);
    if (frame.flight_id != null) this.extendTrack(frame.flight_id, [frame.lat, frame.lon]);
  }

  droneLatLng(id) {
    const marker = this.drones.get(id);
    if (!marker) return null;
    const at = marker.getLatLng();
    return { lat: at.lat, lon: at.lng };
  }

  showCall(call) {
    const old = this.calls.get(call.id);
    if (old) this.layers.calls.removeLayer(old);
    if (call.lifecycle === "cleared" || call.lifecycle === "cancelled" || call.lat == null) {
      this.calls.delete(call.id);
      return;
    }
    const colour = call.priority <= 1 ? "#c62828" : call.priority === 2 ? "#ef6c00" : "#f9a825";
    const marker = L.circleMarker([call.lat, call.lon], { radius: 9, color: colour, fillColor: colour, fillOpacity: 0.5 })
      .bindTooltip(asText(`${call.call_type_text || call.call_type} (P${call.priority})`))
      .addTo(this.layers.calls);
    this.calls.set(call.id, marker);
  }

  showFlight(flight) {
    let layers = this.flights.get(flight.id);
    if (!layers) {
      layers = {
        route: L.polyline([], { color: "#1f6feb", weight: 2, dashArray: "6 6" }).addTo(this.layers.routes),
        track: L.polyline([], { color: "#0b3d91", weight: 3 }).addTo(this.layers.routes),
      };
      this.flights.set(flight.id, layers);
    }
    if (Array.isArray(flight.route)) layers.route.setLatLngs(flight.route);
    if (Array.isArray(flight.track) && flight.track.length >= layers.track.getLatLngs().length) {
      layers.track.setLatLngs(flight.track);
    }
  }

  extendTrack(flightId, at) {
    if (!this.flights.has(flightId)) this.showFlight({ id: flightId });
    this.flights.get(flightId).track.addLatLng(at);
  }

  showZone(key, feature) {
    const old = this.zones.get(key);
    if (old) this.layers.zones.removeLayer(old);
    const kind = String((feature.properties && (feature.properties.kind || feature.properties.type)) || "exclusion").toLowerCase();
    const style = kind === "ceiling_cell" ? ceilingStyle(feature) : ZONE_STYLES[kind] || ZONE_STYLES.exclusion;
    const layer = L.geoJSON(feature, { style, interactive: false });
    const name = feature.properties && feature.properties.name;
    if (name) layer.bindTooltip(asText(name));
    layer.addTo(this.layers.zones);
    this.zones.set(key, layer);
  }

  // Zones are not interactive (clicks reach the map), so their names show only when asked for.
  openZoneTooltip(key) {
    const layer = this.zones.get(key);
    if (!layer || !layer.getTooltip()) return false;
    layer.openTooltip();
    return true;
  }
}
