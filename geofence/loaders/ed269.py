"""EUROCAE ED-269 UAS geographical zones: `{features: [UASZoneVersion]}`."""

from __future__ import annotations

from typing import Any

from geofence.errors import ImportFormatError, InvalidGeometryError
from geofence.loaders import eurocae
from geofence.loaders.document import Json, zone_set
from geofence.loaders.geometry import read_circle, read_polygon, read_uom_scale, read_vertical
from geofence.zones import Zone, ZoneCircle, ZonePolygon, ZoneSet


def _read_volume(vol: Any, zone_id: str) -> eurocae.Volume:
    scale = read_uom_scale(vol.get("uomDimensions"), zone_id)
    proj = vol.get("horizontalProjection") or {}
    ptype = proj.get("type")
    shape: ZonePolygon | ZoneCircle
    if ptype == "Polygon":
        shape = read_polygon(proj.get("coordinates"), zone_id)
    elif ptype == "Circle":
        shape = read_circle(proj.get("center"), proj.get("radius"), zone_id, scale)
    else:
        raise InvalidGeometryError(
            f"horizontalProjection type {ptype!r} (expected Polygon or Circle)",
            zone_id=zone_id,
            field="type",
        )
    floor = read_vertical(vol, "lowerLimit", "lowerVerticalReference", scale, zone_id)
    ceiling = read_vertical(vol, "upperLimit", "upperVerticalReference", scale, zone_id)
    return eurocae.Volume(shape, floor, ceiling)


def load_ed269(data: Json) -> ZoneSet:
    """EUROCAE ED-269 `{features: [UASZoneVersion]}`; positions read as GeoJSON [lon, lat]."""
    features = data.get("features")
    if not isinstance(features, list):
        raise ImportFormatError("ED-269 document needs 'features'")
    zones: list[Zone] = []
    for i, f in enumerate(features):
        if not isinstance(f, dict):
            raise ImportFormatError(f"feature {i} is not an object")
        base_id = eurocae.read_identifier(f.get("identifier"), i)
        kind = eurocae.read_restriction(f.get("restriction"), base_id, "restriction", "restriction")
        volumes = f.get("geometry")
        if not isinstance(volumes, list) or not volumes:
            raise InvalidGeometryError(
                "geometry must list at least one volume", zone_id=base_id, field="geometry"
            )
        header = eurocae.ZoneHeader(
            identifier=base_id,
            kind=kind,
            name=str(f.get("name") or ""),
            reason=eurocae.join_reasons(f.get("reason"), f.get("otherReasonInfo")),
            source=f"ED-269 {f.get('country', '')}".strip(),
            message=str(f.get("message") or ""),
            applicability=eurocae.read_ed_applicability(f.get("applicability"), base_id),
        )
        zones.extend(header.zones(volumes, _read_volume))
    return zone_set(zones, ())
