"""Geo types, zones, airspace ceilings, legality checks, legal routes and MAVLink fence items."""

from geofence.airspace import Airspace
from geofence.demo import colorado_springs_airspace, load_colorado_springs_zones
from geofence.errors import (
    GeofenceError,
    ImportFormatError,
    InvalidGeometryError,
    InvalidTimeError,
    UnknownZoneError,
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
from geofence.legal_route import LegalRoute, RoutePoint, Standoff
from geofence.loaders import (
    FORMATS,
    DerivedId,
    DocumentSize,
    derived_ids,
    detect_format,
    document_size,
    load_zones,
)
from geofence.policy import PART107_MAX_AGL_M, AirspacePolicy
from geofence.projection import LocalProjection
from geofence.schedule import Applicability, DailyPeriod
from geofence.violations import RouteRefusal, Violation, ViolationKind
from geofence.zones import CeilingCell, Zone, ZoneCircle, ZoneKind, ZonePolygon, ZoneSet

__all__ = [
    "DEGE7_TOLERANCE_M",
    "FEET_TO_M",
    "FORMATS",
    "PART107_MAX_AGL_M",
    "POSITION_TOLERANCE_M",
    "Airspace",
    "AirspacePolicy",
    "Altitude",
    "AltitudeDatum",
    "Applicability",
    "CeilingCell",
    "DailyPeriod",
    "DerivedId",
    "DocumentSize",
    "GeoPoint",
    "GeofenceError",
    "ImportFormatError",
    "InvalidGeometryError",
    "InvalidTimeError",
    "LegalRoute",
    "LocalProjection",
    "RoutePoint",
    "RouteRefusal",
    "Standoff",
    "UnknownZoneError",
    "UnsupportedDatumError",
    "Violation",
    "ViolationKind",
    "Zone",
    "ZoneCircle",
    "ZoneKind",
    "ZonePolygon",
    "ZoneSet",
    "bearing_deg",
    "colorado_springs_airspace",
    "derived_ids",
    "destination",
    "detect_format",
    "document_size",
    "distance_m",
    "load_colorado_springs_zones",
    "load_zones",
]
