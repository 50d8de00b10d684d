"""Geo types, zones, airspace ceilings, legality checks, legal routes and MAVLink fence items."""

from geofence.errors import (
    GeofenceError,
    ImportFormatError,
    InvalidGeometryError,
    UnsupportedDatumError,
)
from geofence.geo import (
    DEGE7_TOLERANCE_M,
    FEET_TO_M,
    POSITION_TOLERANCE_M,
    Altitude,
    AltitudeDatum,
    GeoPoint,
    bearing_deg,
    destination,
    distance_m,
)

__all__ = [
    "DEGE7_TOLERANCE_M",
    "FEET_TO_M",
    "POSITION_TOLERANCE_M",
    "Altitude",
    "AltitudeDatum",
    "GeoPoint",
    "GeofenceError",
    "ImportFormatError",
    "InvalidGeometryError",
    "UnsupportedDatumError",
    "bearing_deg",
    "destination",
    "distance_m",
]
