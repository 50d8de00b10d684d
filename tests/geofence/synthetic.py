"""Small synthetic airspaces built in local metres around a fixed centre."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from geofence import Airspace, AirspacePolicy, GeoPoint, LocalProjection, load_zones

CENTRE = GeoPoint(38.80, -104.80)
PROJECTION = LocalProjection(CENTRE)


def lonlat(x_m: float, y_m: float) -> list[float]:
    p = PROJECTION.to_geo(x_m, y_m)
    return [p.lon_deg, p.lat_deg]


def point(x_m: float, y_m: float) -> GeoPoint:
    return PROJECTION.to_geo(x_m, y_m)


def polygon_feature(
    zone_id: str, ring_xy: Sequence[tuple[float, float]], **props: Any
) -> dict[str, Any]:
    ring = [lonlat(x, y) for x, y in ring_xy]
    return {
        "type": "Feature",
        "geometry": {"type": "Polygon", "coordinates": [ring + ring[:1]]},
        "properties": {"id": zone_id, **props},
    }


def circle_feature(
    zone_id: str, x_m: float, y_m: float, radius_m: float, **props: Any
) -> dict[str, Any]:
    return {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": lonlat(x_m, y_m)},
        "properties": {"id": zone_id, "radius_m": radius_m, **props},
    }


def box(x0: float, y0: float, x1: float, y1: float) -> list[tuple[float, float]]:
    return [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]


def collection(*features: dict[str, Any]) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": list(features)}


def walled_airspace(*others: dict[str, Any]) -> Airspace:
    """Four keep-outs `wall-n/s/e/w` enclosing the centre, in a 4 km operating area, no margin."""
    walls = [
        polygon_feature("wall-n", box(-300, 200, 300, 300)),
        polygon_feature("wall-s", box(-300, -300, 300, -200)),
        polygon_feature("wall-e", box(200, -300, 300, 300)),
        polygon_feature("wall-w", box(-300, -300, -200, 300)),
    ]
    area = polygon_feature("area", box(-2000, -2000, 2000, 2000), kind="inclusion")
    zones = load_zones(collection(area, *walls, *others))
    return Airspace(zones, AirspacePolicy(margin_m=0), centre=CENTRE)
