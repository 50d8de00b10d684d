"""Legal routes: waypoints, the legal altitude of each leg, and a stand-off when the target is off limits."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from geofence.geo import Altitude, AltitudeDatum, GeoPoint


@dataclass(frozen=True, slots=True)
class RoutePoint:
    """A route vertex with its altitude."""

    point: GeoPoint
    alt: Altitude


@dataclass(frozen=True, slots=True)
class Standoff:
    """Where the drone stops short of a target that is inside a keep-out, and why."""

    point: GeoPoint
    distance_to_target_m: float
    zone_ids: tuple[str, ...]
    reason: str


@dataclass(frozen=True, slots=True)
class LegalRoute:
    """A legal horizontal route with the highest legal cruise altitude of each leg."""

    waypoints: tuple[
        GeoPoint, ...
    ]  # first is the origin, last the destination (target or stand-off)
    leg_alt_agl_m: tuple[float, ...]
    leg_length_m: tuple[float, ...]
    target: GeoPoint
    standoff: Standoff | None = None
    advisories: tuple[str, ...] = ()

    @property
    def length_m(self) -> float:
        """Total horizontal length."""
        return float(sum(self.leg_length_m))

    @property
    def destination(self) -> GeoPoint:
        """Where the route ends: the target, or the stand-off point."""
        return self.waypoints[-1]

    def route_points(self, alt_cap_agl_m: float | None = None) -> tuple[RoutePoint, ...]:
        """Vertices with altitudes; each vertex takes the lower of its two legs so no leg exceeds its own."""
        alts = [a if alt_cap_agl_m is None else min(a, alt_cap_agl_m) for a in self.leg_alt_agl_m]
        out = []
        for i, p in enumerate(self.waypoints):
            around = alts[max(i - 1, 0) : i + 1]
            out.append(RoutePoint(p, Altitude(min(around), AltitudeDatum.AGL)))
        return tuple(out)

    def to_geojson(self) -> dict[str, Any]:
        """Legs as LineString features with their altitude, plus the totals."""
        features: list[dict[str, Any]] = []
        for i, (a, b) in enumerate(zip(self.waypoints, self.waypoints[1:], strict=False)):
            features.append(
                {
                    "type": "Feature",
                    "geometry": {
                        "type": "LineString",
                        "coordinates": [[a.lon_deg, a.lat_deg], [b.lon_deg, b.lat_deg]],
                    },
                    "properties": {
                        "leg": i,
                        "alt_agl_m": self.leg_alt_agl_m[i],
                        "length_m": self.leg_length_m[i],
                    },
                }
            )
        props: dict[str, Any] = {
            "length_m": self.length_m,
            "standoff": None
            if self.standoff is None
            else {
                "point": {"lat": self.standoff.point.lat_deg, "lon": self.standoff.point.lon_deg},
                "distance_to_target_m": self.standoff.distance_to_target_m,
                "zone_ids": list(self.standoff.zone_ids),
                "reason": self.standoff.reason,
            },
            "advisories": list(self.advisories),
        }
        return {"type": "FeatureCollection", "features": features, "properties": props}
