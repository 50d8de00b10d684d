"""Readers every zone format shares for positions, rings, radii and vertical limits."""

from __future__ import annotations

import math
from typing import Any

from geofence.errors import InvalidGeometryError
from geofence.geo import FEET_TO_M, Altitude, AltitudeDatum, GeoPoint
from geofence.loaders.document import Json
from geofence.zones import ZoneCircle, ZonePolygon

_DATUM_ALIASES = {
    "AGL": "AGL",
    "AMSL": "AMSL",
    "MSL": "AMSL",
    "WGS84": "WGS84",
    "TAKEOFF": "TAKEOFF",
}


def _is_number(raw: Any) -> bool:
    # bool is an int to Python, never a coordinate or a limit to us.
    return isinstance(raw, int | float) and not isinstance(raw, bool)


def read_position(raw: Any, zone_id: str) -> GeoPoint:
    """A GeoJSON [lon, lat] position; swapped order is detected where the values allow."""
    if not isinstance(raw, list | tuple) or len(raw) < 2:
        raise InvalidGeometryError(
            f"position {raw!r} is not [lon, lat]", zone_id=zone_id, field="coordinates"
        )
    lon, lat = raw[0], raw[1]
    if not (_is_number(lon) and _is_number(lat)):
        raise InvalidGeometryError(
            f"position {raw!r} is not numeric", zone_id=zone_id, field="coordinates"
        )
    if not (math.isfinite(lon) and math.isfinite(lat)):
        raise InvalidGeometryError(
            f"position {raw!r} is not finite", zone_id=zone_id, field="coordinates"
        )
    if abs(lat) > 90.0:
        hint = " (looks like [lat, lon]; GeoJSON order is [lon, lat])" if abs(lon) <= 90.0 else ""
        raise InvalidGeometryError(
            f"latitude {lat} is outside -90..90{hint}", zone_id=zone_id, field="coordinates"
        )
    if abs(lon) > 180.0:
        raise InvalidGeometryError(
            f"longitude {lon} is outside -180..180", zone_id=zone_id, field="coordinates"
        )
    return GeoPoint(float(lat), float(lon))


def _read_ring(raw: Any, zone_id: str, what: str) -> tuple[GeoPoint, ...]:
    if not isinstance(raw, list) or len(raw) < 4:
        n = len(raw) if isinstance(raw, list) else 0
        raise InvalidGeometryError(
            f"{what} has {n} positions; a closed ring needs at least 4 (3 vertices + closing)",
            zone_id=zone_id,
            field="coordinates",
        )
    pts = [read_position(p, zone_id) for p in raw]
    if pts[0] != pts[-1]:
        raise InvalidGeometryError(
            f"{what} is not closed (first position differs from last)",
            zone_id=zone_id,
            field="coordinates",
        )
    return tuple(pts[:-1])


def read_polygon(raw: Any, zone_id: str) -> ZonePolygon:
    """GeoJSON Polygon coordinates: closed rings, the first the exterior, the others holes."""
    if not isinstance(raw, list) or not raw:
        raise InvalidGeometryError("polygon has no rings", zone_id=zone_id, field="coordinates")
    exterior = _read_ring(raw[0], zone_id, "exterior ring")
    holes = tuple(_read_ring(r, zone_id, f"hole {i}") for i, r in enumerate(raw[1:]))
    return ZonePolygon(exterior, holes)


def read_radius_m(raw: Any, zone_id: str, scale: float = 1.0) -> float:
    """A circle radius > 0, in metres after `scale` (metres per unit)."""
    if not _is_number(raw) or not math.isfinite(raw) or raw <= 0:
        raise InvalidGeometryError(
            f"circle radius {raw!r} must be a number > 0", zone_id=zone_id, field="radius"
        )
    return float(raw) * scale


def read_circle(centre: Any, radius: Any, zone_id: str, scale: float = 1.0) -> ZoneCircle:
    """A circle from a [lon, lat] centre and a radius in units of `scale` (metres per unit)."""
    return ZoneCircle(read_position(centre, zone_id), read_radius_m(radius, zone_id, scale))


def read_uom_scale(raw: Any, zone_id: str) -> float:
    """Metres per unit of a unit of measure (M, the default, or FT)."""
    unit = str(raw if raw is not None else "m").strip().upper()
    if unit in ("M", "METRE", "METER", "METERS", "METRES"):
        return 1.0
    if unit in ("FT", "FEET", "FOOT"):
        return FEET_TO_M
    raise InvalidGeometryError(
        f"unknown unit of measure {raw!r} (expected M or FT)", zone_id=zone_id, field="uom"
    )


def read_datum(raw: Any, zone_id: str) -> AltitudeDatum:
    """A vertical reference (AGL, the default, AMSL/MSL, WGS84 or TAKEOFF)."""
    ref = str(raw if raw is not None else "AGL").strip().upper()
    if ref not in _DATUM_ALIASES:
        raise InvalidGeometryError(
            f"unknown vertical reference {raw!r}", zone_id=zone_id, field="verticalReference"
        )
    return AltitudeDatum(_DATUM_ALIASES[ref])


def read_limit(
    value: Any, scale: float, datum: AltitudeDatum, zone_id: str, what: str
) -> Altitude | None:
    """A floor or ceiling in units of `scale` above `datum`; None (no limit) when absent."""
    if value is None:
        return None
    if not _is_number(value) or not math.isfinite(value):
        raise InvalidGeometryError(f"{what} {value!r} is not a number", zone_id=zone_id, field=what)
    return Altitude(float(value) * scale, datum)


def read_vertical(
    raw: Json, value_key: str, reference_key: str, scale: float, zone_id: str
) -> Altitude | None:
    """The limit at `value_key` above the reference at `reference_key`; None when absent."""
    datum = read_datum(raw.get(reference_key), zone_id)
    return read_limit(raw.get(value_key), scale, datum, zone_id, value_key)
