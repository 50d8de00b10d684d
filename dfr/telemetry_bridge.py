"""Maps the flight link's VehicleState to the map's DroneFrame."""

from __future__ import annotations

import math

from flight import LandedState, LinkState, VehicleState
from telemetry import DroneFrame

_LANDED = {
    LandedState.ON_GROUND: "on_ground",
    LandedState.TAKEOFF: "takeoff",
    LandedState.IN_AIR: "in_air",
    LandedState.LANDING: "landing",
}
_LINK = {
    LinkState.CONNECTED: "connected",
    LinkState.DEGRADED: "degraded",
}


def _finite(value: float | None, low: float, high: float) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return min(max(value, low), high)


def drone_frame(state: VehicleState, flight_id: int | None) -> DroneFrame:
    """The frame the console shows for `state`; unknown values stay None."""
    pos = state.position
    return DroneFrame(
        drone_id=str(state.vehicle_id),
        available=state.available,
        last_seen=state.last_seen,
        lat=None if pos is None else pos.lat_deg,
        lon=None if pos is None else pos.lon_deg,
        alt_amsl_m=_finite(state.alt_amsl_m, -500.0, 20_000.0),
        alt_agl_m=_finite(state.alt_agl_m, -500.0, 20_000.0),
        heading_deg=None if state.heading_deg is None else state.heading_deg % 360.0,
        ground_speed_mps=_finite(state.ground_speed_mps, 0.0, 200.0),
        battery_pct=_finite(state.battery_pct, 0.0, 100.0),
        battery_v=_finite(state.battery_voltage_v, 0.0, 100.0),
        mode=str(state.mode),
        armed=state.armed,
        landed_state=_LANDED.get(state.landed_state),
        gps_fix=None if state.gps_fix_type is None else min(max(state.gps_fix_type, 0), 8),
        satellites=state.gps_satellites,
        link=_LINK.get(state.link, "lost"),
        flight_id=flight_id,
        mission_seq=state.mission_current_seq,
    )
