// The street basemap under the console's layers: vector tiles (the service's PMTiles archive, or a
// .mvt/.pbf URL) drawn on canvas by protomaps-leaflet, or any raster tile URL; its credit as text.
/* global L, protomapsL */

const ROAD_COLOURS = {
  motorway: "#f2b56b", trunk: "#f2c27b", primary: "#f7d89c", secondary: "#fbe7b5", tertiary: "#ffffff",
};
const MAJOR_ROADS = new Set(["motorway", "trunk", "primary", "secondary"]);
const GREEN_LAND = new Set(["park", "grass", "forest", "meadow", "wood", "scrub", "grassland",
  "pitch", "golf_course", "playground", "nature_reserve", "recreation_ground", "cemetery", "heath"]);
const BACKGROUND = "#f4f1ea";

// Street names placed on the map so far (a test and integration hook reads them).
const placedNames = new Set();

function roadWidth(zoom, feature) {
  const kind = feature.props.kind;
  const base = MAJOR_ROADS.has(kind) ? 4 : kind === "tertiary" || kind === "residential" ? 3 : 1.5;
  // Wider as the map zooms in, as streets are; capped so a close-up stays readable.
  return Math.min(20, base * Math.max(0.4, 2 ** ((zoom - 13) / 2)));
}

// Plain text controls: the attribution and the hint come from configuration, never as HTML.
const TextControl = L.Control.extend({
  onAdd() {
    const element = L.DomUtil.create("div", `leaflet-control-attribution ${this.options.className}`);
    element.textContent = this.options.text;
    return element;
  },
});

function textControl(position, className, text) {
  return new TextControl({ position, className, text });
}

function vectorStyle() {
  const P = protomapsL;
  // A label symbolizer that also records which names it placed.
  class StreetLabel extends P.LineLabelSymbolizer {
    place(layout, geom, feature) {
      const labels = super.place(layout, geom, feature);
      if (labels && feature.props.name) placedNames.add(String(feature.props.name));
      return labels;
    }
  }
  const paintRules = [
    {
      dataLayer: "landuse",
      symbolizer: new P.PolygonSymbolizer({
        fill: (z, f) => (GREEN_LAND.has(f.props.kind) ? "#d6e8c4" : "#ebe6da"),
      }),
    },
    { dataLayer: "water", symbolizer: new P.PolygonSymbolizer({ fill: "#a9cbe8" }) },
    { dataLayer: "water", symbolizer: new P.LineSymbolizer({ color: "#a9cbe8", width: 1.5 }) },
    { dataLayer: "buildings", symbolizer: new P.PolygonSymbolizer({ fill: "#dcd3c6", stroke: "#c8bdae", width: 0.5 }) },
    {
      dataLayer: "roads",
      symbolizer: new P.LineSymbolizer({ color: "#c4baa8", width: (z, f) => roadWidth(z, f) + 1.5 }),
    },
    {
      dataLayer: "roads",
      symbolizer: new P.LineSymbolizer({
        color: (z, f) => ROAD_COLOURS[f.props.kind] || "#ffffff",
        width: roadWidth,
      }),
    },
  ];
  const labelRules = [
    {
      dataLayer: "roads",
      symbolizer: new StreetLabel({
        labelProps: ["name"], fill: "#3b3b3b", stroke: "#ffffff", width: 3, font: "600 12px sans-serif",
      }),
    },
  ];
  return { paintRules, labelRules };
}

function boundsOf(basemap) {
  if (!basemap.bounds) return undefined;
  const [west, south, east, north] = basemap.bounds;
  return L.latLngBounds([south, west], [north, east]);
}

// Adds the configured basemap to `map`; false when there is none (the caller draws its grid).
export function addBasemap(map, basemap) {
  window.dfrBasemap = {
    kind: "none",
    placedNames: () => [...placedNames].sort(),
    view: (lat, lon, zoom) => map.setView([lat, lon], zoom, { animate: false }),
  };
  if (!basemap || basemap.kind === "none") return false;
  let layer;
  if (basemap.kind === "vector") {
    if (typeof protomapsL === "undefined") {
      textControl("bottomleft", "basemap-hint", "The vector basemap needs protomaps-leaflet: run scripts/setup.sh.").addTo(map);
      return false;
    }
    const style = vectorStyle();
    layer = protomapsL.leafletLayer({
      url: basemap.url,
      paintRules: style.paintRules,
      labelRules: style.labelRules,
      backgroundColor: BACKGROUND,
      // Tiles of zoom z are drawn from data of zoom z-1 (512 px tiles), deeper ones overzoomed.
      maxDataZoom: basemap.max_zoom,
      minZoom: basemap.min_zoom + 1,
      maxZoom: 22,
      bounds: boundsOf(basemap),
      attribution: "",
    });
  } else {
    layer = L.tileLayer(basemap.url, {
      minZoom: basemap.min_zoom,
      maxNativeZoom: basemap.max_zoom,
      maxZoom: 22,
      bounds: boundsOf(basemap),
    });
  }
  layer.addTo(map);
  textControl("bottomright", "basemap-credit", basemap.attribution).addTo(map);
  window.dfrBasemap.kind = basemap.kind;
  window.dfrBasemap.layer = layer;
  return true;
}

// Shown over the grid: how an agency adds a real basemap.
export function showBasemapHint(map, basemap) {
  const hint = (basemap && basemap.hint) || "No basemap: set DFR_MAP__BASEMAP to a .pmtiles file or a tile URL.";
  textControl("bottomleft", "basemap-hint", hint).addTo(map);
}
