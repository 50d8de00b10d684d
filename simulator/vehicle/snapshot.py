"""Read-only view of a drone's true state, for cameras, tests and the control API."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class DroneSnapshot:
    """True (noise-free) state of one simulated drone at simulated time `time_s`."""

    index: int
    system_id: int
    time_s: float
    lat_deg: float
    lon_deg: float
    alt_amsl_m: float
    alt_rel_home_m: float
    roll_rad: float
    pitch_rad: float
    yaw_rad: float
    vn_mps: float
    ve_mps: float
    vu_mps: float
    ground_speed_mps: float
    armed: bool
    mode: str
    landed: bool
    battery_fraction: float
    battery_voltage_v: float
    gps_ok: bool
    mission_seq: int
    mission_total: int
    gimbal_pitch_deg: float = -90.0  # 0 at the horizon, -90 straight down

    def as_dict(self) -> dict[str, object]:
        """JSON-ready mapping."""
        return {name: getattr(self, name) for name in self.__dataclass_fields__}
