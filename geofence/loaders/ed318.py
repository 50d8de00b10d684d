"""EUROCAE ED-318 geozones: GeoJSON features with layered volumes and multilingual text."""

from __future__ import annotations

from typing import Any

from geofence.errors import InvalidGeometryError
from geofence.loaders import eurocae
from geofence.loaders.document import Json, read_features, zone_set
from geofence.loaders.geometry import read_circle, read_polygon, read_uom_scale, read_vertical
from geofence.zones import Zone, ZoneCircle, ZonePolygon, ZoneSet


def _text(raw: Any) -> str:
    """ED-318 multilingual text `[{text, lang}]`: English first, else the first."""
    if isinstance(raw, str):
        return raw
    if isinstance(raw, list) and raw:
        for item in raw:
            if isinstance(item, dict) and str(item.get("lang", "")).lower().startswith("en"):
                return str(item.get("text", ""))
        first = raw[0]
        return str(first.get("text", "")) if isinstance(first, dict) else str(first)
    return ""


def _read_volume(geometry: Any, zone_id: str) -> eurocae.Volume:
    gtype = geometry.get("type")
    layer = geometry.get("layer") or {}
    scale = read_uom_scale(layer.get("uom", "m"), zone_id)
    floor = read_vertical(layer, "lower", "lowerReference", scale, zone_id)
    ceiling = read_vertical(layer, "upper", "upperReference", scale, zone_id)
    shape: ZonePolygon | ZoneCircle
    if gtype == "Polygon":
        shape = read_polygon(geometry.get("coordinates"), zone_id)
    elif gtype == "Point":
        extent = geometry.get("extent") or {}
        if str(extent.get("subType", "")).lower() != "circle":
            raise InvalidGeometryError(
                "a Point geozone needs extent {subType: Circle}", zone_id=zone_id, field="extent"
            )
        shape = read_circle(geometry.get("coordinates"), extent.get("radius"), zone_id, scale)
    else:
        raise InvalidGeometryError(
            f"geometry type {gtype!r} is not supported", zone_id=zone_id, field="geometry"
        )
    return eurocae.Volume(shape, floor, ceiling)


def load_ed318(data: Json) -> ZoneSet:
    """EUROCAE ED-318 GeoJSON geozones (Polygon, Point+extent Circle, GeometryCollection of layers)."""
    zones: list[Zone] = []
    for i, f in enumerate(read_features(data)):
        props = f.get("properties") or {}
        base_id = eurocae.read_identifier(props.get("identifier") or f.get("id"), i)
        kind = eurocae.read_restriction(props.get("type"), base_id, "type", "geozone type")
        geometry = f.get("geometry")
        if not isinstance(geometry, dict):
            raise InvalidGeometryError("feature has no geometry", zone_id=base_id, field="geometry")
        parts = (
            geometry.get("geometries")
            if geometry.get("type") == "GeometryCollection"
            else [geometry]
        )
        if not isinstance(parts, list) or not parts:
            raise InvalidGeometryError(
                "empty GeometryCollection", zone_id=base_id, field="geometry"
            )
        header = eurocae.ZoneHeader(
            identifier=base_id,
            kind=kind,
            name=_text(props.get("name")),
            reason=eurocae.join_reasons(props.get("reason"), _text(props.get("otherReasonInfo"))),
            source=f"ED-318 {props.get('country', '')}".strip(),
            message=_text(props.get("message")),
            applicability=eurocae.read_ed_applicability(props.get("limitedApplicability"), base_id),
        )
        zones.extend(header.zones(parts, _read_volume))
    return zone_set(zones, ())
