"""The Colorado Springs demo airspace shipped as package data."""

from __future__ import annotations

from importlib import resources

from geofence.airspace import Airspace
from geofence.loaders import load_zones
from geofence.policy import AirspacePolicy
from geofence.zones import ZoneSet

#: Ground elevation around downtown Colorado Springs, to read AMSL limits.
COS_GROUND_AMSL_M = 1839.0


def load_colorado_springs_zones() -> ZoneSet:
    """Operating area, keep-outs and the KCOS ceiling grid for the demo city."""
    base = resources.files("geofence") / "data" / "colorado_springs"
    zones = load_zones((base / "zones.geojson").read_bytes(), "geojson")
    grid = load_zones((base / "uasfm_kcos.geojson").read_bytes(), "uasfm")
    return zones.merged(grid)


def colorado_springs_airspace(policy: AirspacePolicy | None = None) -> Airspace:
    """An Airspace over the demo zones with the default (400 ft AGL, 30 m margin) policy."""
    return Airspace(
        load_colorado_springs_zones(), policy or AirspacePolicy(ground_amsl_m=COS_GROUND_AMSL_M)
    )
