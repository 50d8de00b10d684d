"""The drone's local frame: metres north/east/up of the point where it booted."""

from __future__ import annotations

from dataclasses import dataclass

from .physics import latlon_to_offset, offset_to_latlon


@dataclass(frozen=True, slots=True)
class LocalFrame:
    """Origin of the local frame (the boot position) in WGS84 degrees and metres AMSL."""

    lat_deg: float
    lon_deg: float
    alt_amsl_m: float

    def to_latlon(self, north_m: float, east_m: float) -> tuple[float, float]:
        """Latitude and longitude of a local offset."""
        return offset_to_latlon(self.lat_deg, self.lon_deg, north_m, east_m)

    def to_offset(self, lat_deg: float, lon_deg: float) -> tuple[float, float]:
        """Local (north, east) metres of a latitude and longitude."""
        return latlon_to_offset(self.lat_deg, self.lon_deg, lat_deg, lon_deg)

    def amsl_m(self, up_m: float) -> float:
        """AMSL altitude of a local height."""
        return self.alt_amsl_m + up_m

    def up_m(self, alt_amsl_m: float) -> float:
        """Local height of an AMSL altitude."""
        return alt_amsl_m - self.alt_amsl_m
