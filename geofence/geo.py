"""Geographic value types shared by every package: points, altitudes with their datum, distances.

Positions are WGS84 degrees in (lat, lon) order. Distances and bearings are on the WGS84 ellipsoid.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from pyproj import Geod

from geofence.errors import InvalidGeometryError, UnsupportedDatumError

WGS84: Final = Geod(ellps="WGS84")

#: Two positions closer than this are the same place for every check here.
POSITION_TOLERANCE_M: Final = 0.05
#: Rounding error of a 1e-7 degree integer (MAVLink degE7) is at most ~1.1 cm; use this bound in comparisons.
DEGE7_TOLERANCE_M: Final = 0.02
FEET_TO_M: Final = 0.3048


class AltitudeDatum(StrEnum):
    """What an altitude is measured from."""

    AGL = "AGL"  # above ground level at the point
    AMSL = "AMSL"  # above mean sea level
    WGS84 = "WGS84"  # above the WGS84 ellipsoid
    TAKEOFF = "TAKEOFF"  # above the takeoff / home point


@dataclass(frozen=True, slots=True)
class GeoPoint:
    """A WGS84 position in degrees."""

    lat_deg: float
    lon_deg: float

    def __post_init__(self) -> None:
        if not (isinstance(self.lat_deg, int | float) and isinstance(self.lon_deg, int | float)):
            raise InvalidGeometryError("lat/lon must be numbers", field="lat_deg")
        if not math.isfinite(self.lat_deg) or not -90.0 <= self.lat_deg <= 90.0:
            raise InvalidGeometryError(
                f"latitude {self.lat_deg} is outside -90..90 degrees", field="lat_deg"
            )
        if not math.isfinite(self.lon_deg) or not -180.0 <= self.lon_deg <= 180.0:
            raise InvalidGeometryError(
                f"longitude {self.lon_deg} is outside -180..180 degrees", field="lon_deg"
            )

    def distance_m(self, other: GeoPoint) -> float:
        """Geodesic distance to `other` in metres."""
        return distance_m(self, other)

    def to_dege7(self) -> tuple[int, int]:
        """(lat, lon) as MAVLink 1e-7 degree integers."""
        return round(self.lat_deg * 1e7), round(self.lon_deg * 1e7)

    @classmethod
    def from_dege7(cls, lat_dege7: int, lon_dege7: int) -> GeoPoint:
        """From MAVLink 1e-7 degree integers."""
        return cls(lat_dege7 / 1e7, lon_dege7 / 1e7)


@dataclass(frozen=True, slots=True)
class Altitude:
    """An altitude in metres together with the datum it is measured from."""

    value_m: float
    datum: AltitudeDatum

    def __post_init__(self) -> None:
        if not math.isfinite(self.value_m):
            raise InvalidGeometryError("altitude must be a finite number", field="value_m")

    @classmethod
    def from_feet(cls, value_ft: float, datum: AltitudeDatum) -> Altitude:
        """From a value in feet."""
        return cls(value_ft * FEET_TO_M, datum)

    def to_agl_m(self, ground_amsl_m: float) -> float:
        """This altitude above ground, given the ground elevation AMSL at the point."""
        if self.datum is AltitudeDatum.AGL:
            return self.value_m
        if self.datum is AltitudeDatum.AMSL:
            return self.value_m - ground_amsl_m
        raise UnsupportedDatumError(f"cannot convert {self.datum} to AGL without more information")


def distance_m(a: GeoPoint, b: GeoPoint) -> float:
    """Geodesic distance between two points in metres."""
    _, _, dist = WGS84.inv(a.lon_deg, a.lat_deg, b.lon_deg, b.lat_deg)
    return float(dist)


def bearing_deg(a: GeoPoint, b: GeoPoint) -> float:
    """Initial bearing from `a` to `b` in degrees clockwise from true north, 0..360."""
    az, _, _ = WGS84.inv(a.lon_deg, a.lat_deg, b.lon_deg, b.lat_deg)
    return float(az) % 360.0


def destination(origin: GeoPoint, bearing: float, distance: float) -> GeoPoint:
    """The point `distance` metres from `origin` along `bearing` degrees."""
    lon, lat, _ = WGS84.fwd(origin.lon_deg, origin.lat_deg, bearing, distance)
    return GeoPoint(float(lat), float(lon))
