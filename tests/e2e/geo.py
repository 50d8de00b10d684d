"""Metric geometry for checking flown tracks against zones and planned routes (pyproj + shapely)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from pyproj import Geod, Transformer
from shapely.geometry import LineString, Point, Polygon, shape
from shapely.geometry.base import BaseGeometry

_GEOD = Geod(ellps="WGS84")


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Geodesic distance on WGS84."""
    return float(_GEOD.inv(lon1, lat1, lon2, lat2)[2])


def destination(lat: float, lon: float, bearing_deg: float, dist_m: float) -> tuple[float, float]:
    """The point `dist_m` from (lat, lon) on `bearing_deg`, as (lat, lon)."""
    lon2, lat2, _ = _GEOD.fwd(lon, lat, bearing_deg, dist_m)
    return float(lat2), float(lon2)


@dataclass(frozen=True)
class Zone:
    """An exclusion zone in metres around the local origin."""

    zone_id: str
    name: str
    area: BaseGeometry


class LocalFrame:
    """Azimuthal equidistant metres around an origin: distances and circles are true there."""

    def __init__(self, lat: float, lon: float) -> None:
        self._fwd = Transformer.from_crs(
            "EPSG:4326",
            f"+proj=aeqd +lat_0={lat} +lon_0={lon} +datum=WGS84 +units=m",
            always_xy=True,
        )

    def geometry(self, lonlat: BaseGeometry) -> BaseGeometry:
        """A lon/lat geometry in local metres."""

        def project(lonlats: np.ndarray) -> np.ndarray:
            x, y = self._fwd.transform(lonlats[:, 0], lonlats[:, 1])
            return np.column_stack([x, y])

        return shapely.transform(lonlat, project)

    def point(self, lat: float, lon: float) -> Point:
        """A point in local metres."""
        x, y = self._fwd.transform(lon, lat)
        return Point(x, y)

    def line(self, latlons: Sequence[tuple[float, float]]) -> LineString:
        """A polyline of (lat, lon) in local metres."""
        return LineString([self._fwd.transform(lon, lat) for lat, lon in latlons])

    def exclusion_zones(self, collection: dict[str, Any]) -> list[Zone]:
        """Every exclusion zone of a GeoJSON FeatureCollection (polygons, or circles as Point + radius_m)."""
        zones: list[Zone] = []
        for feature in collection["features"]:
            props = feature.get("properties") or {}
            if props.get("kind") != "exclusion":
                continue
            geometry = feature["geometry"]
            if geometry["type"] == "Point":
                lon, lat = geometry["coordinates"][:2]
                area: BaseGeometry = self.point(lat, lon).buffer(float(props["radius_m"]), 64)
            else:
                area = self.geometry(shape(geometry))
            assert isinstance(area, Polygon) or area.geom_type == "MultiPolygon", geometry
            zones.append(
                Zone(str(props.get("id", feature.get("id"))), str(props.get("name")), area)
            )
        return zones


def zones_entered(
    frame: LocalFrame, zones: Iterable[Zone], latlons: Sequence[tuple[float, float]]
) -> list[str]:
    """Names of the zones a path (straight between samples) enters or touches."""
    path = frame.line(latlons) if len(latlons) > 1 else frame.point(*latlons[0])
    return [f"{z.zone_id} ({z.name})" for z in zones if path.intersects(z.area)]
