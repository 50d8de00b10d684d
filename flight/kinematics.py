"""Time and energy of a PX4 multicopter flight, from the vehicle's own speed and altitude parameters.

A kinematic profile as PX4's position control and navigator fly it: arming and spool-up, the
take-off ramp at MPC_TKO_SPEED, the climb at MPC_Z_V_AUTO_UP, jerk-limited acceleration to the
cruise speed (MPC_ACC_HOR, MPC_JERK_AUTO), corner speeds at waypoints (MPC_XY_TRAJ_P, acceptance
radius), the return at MPC_XY_CRUISE (RTL does not keep the mission's DO_CHANGE_SPEED), the descent
at MPC_Z_V_AUTO_DN, the landing slowed below MPC_LAND_ALT1/ALT2, and the land detector's delay.
Pure functions; the planner, the dispatcher and the bench share them.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, fields

GRAVITY_M_S2 = 9.80665
#: Service launch to MISSION_START accepted and armed (upload, arm, mode): ~1 s on PX4 SITL.
LAUNCH_S = 1.0
#: Hover after the take-off altitude is reached, before the mission moves on: PX4's altitude
#: controller closes the last metre slowly (reference flights: 3-3.5 s at NAV_MC_ALT_RAD 0.8 m).
TAKEOFF_SETTLE_S = 3.0
#: Up to this height PX4 climbs at MPC_TKO_SPEED (reference flights: 1.4-1.5 m/s to ~12 m).
TAKEOFF_SLOW_ALT_M = 12.0
#: Between TAKEOFF_SLOW_ALT_M and this height the climb rate rises towards MPC_Z_V_AUTO_UP
#: (reference flights: about 0.8 of it on average).
TAKEOFF_RAMP_ALT_M = 45.0
TAKEOFF_RAMP_FACTOR = 0.8
#: Landing descent above MPC_LAND_ALT1 as a share of MPC_Z_V_AUTO_DN: PX4 SITL sank at a median
#: 1.28-1.31 m/s with 1.5 set (reference flights); the slower figure also budgets more energy.
LAND_DESCENT_FACTOR = 0.87
#: Hover before RTL leaves for home (reference flights: ~3 s).
RTL_HOVER_S = 3.0
#: Touchdown to ON_GROUND: PX4's land detector takes 4-6 s (reference flights), then disarms.
LAND_DETECT_S = 5.0


@dataclass(frozen=True, slots=True)
class VehicleLimits:
    """The PX4 parameters that govern a multicopter's speeds and altitudes; PX4's defaults."""

    xy_cruise_mps: float = 5.0  # MPC_XY_CRUISE: mission default speed, and RTL's speed
    xy_vel_max_mps: float = 12.0  # MPC_XY_VEL_MAX
    z_v_auto_up_mps: float = 3.0  # MPC_Z_V_AUTO_UP
    z_v_auto_dn_mps: float = 1.5  # MPC_Z_V_AUTO_DN
    acc_hor_mps2: float = 3.0  # MPC_ACC_HOR
    jerk_auto_mps3: float = 4.0  # MPC_JERK_AUTO
    acc_up_mps2: float = 4.0  # MPC_ACC_UP_MAX
    acc_down_mps2: float = 3.0  # MPC_ACC_DOWN_MAX
    tko_speed_mps: float = 1.5  # MPC_TKO_SPEED
    tko_ramp_s: float = 3.0  # MPC_TKO_RAMP_T
    spoolup_s: float = 1.0  # COM_SPOOLUP_TIME
    land_speed_mps: float = 0.7  # MPC_LAND_SPEED
    land_alt1_m: float = 10.0  # MPC_LAND_ALT1
    land_alt2_m: float = 5.0  # MPC_LAND_ALT2
    rtl_return_alt_m: float = 30.0  # RTL_RETURN_ALT
    rtl_descend_alt_m: float = 10.0  # RTL_DESCEND_ALT
    rtl_land_delay_s: float = 0.0  # RTL_LAND_DELAY
    nav_acc_rad_m: float = 2.0  # NAV_ACC_RAD
    xy_traj_p: float = 0.5  # MPC_XY_TRAJ_P
    tiltmax_air_deg: float = 45.0  # MPC_TILTMAX_AIR
    disarm_land_s: float = 2.0  # COM_DISARM_LAND
    yawrate_auto_deg_s: float = 60.0  # MPC_YAWRAUTO_MAX
    #: SIH_MASS and SIH_KDV: with linear drag the tilt limit caps the level speed (SIH's quadrotor);
    #: None on a vehicle that does not report them (a real airframe).
    sih_mass_kg: float | None = 1.0
    sih_kdv_n_s_m: float | None = 1.0

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None:
                continue
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"{f.name} must be a finite number >= 0, got {value}")
        for name in ("xy_cruise_mps", "xy_vel_max_mps", "z_v_auto_up_mps", "z_v_auto_dn_mps"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be > 0")
        for name in ("acc_hor_mps2", "jerk_auto_mps3", "land_speed_mps"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be > 0")

    @classmethod
    def from_params(cls, values: Mapping[str, float]) -> VehicleLimits:
        """From PX4 parameter values by name; a parameter the vehicle did not report keeps PX4's default.

        A vehicle that reported parameters but not SIH_MASS/SIH_KDV is not SIH: no drag cap.
        """
        kwargs: dict[str, float | None] = {}
        for field_name, param in PARAM_OF_FIELD.items():
            if param in values:
                kwargs[field_name] = float(values[param])
        if values and ("SIH_MASS" not in values or "SIH_KDV" not in values):
            kwargs["sih_mass_kg"] = kwargs["sih_kdv_n_s_m"] = None
        return cls(**kwargs)  # type: ignore[arg-type]

    @property
    def drag_speed_cap_mps(self) -> float:
        """Top level speed the tilt limit holds against drag; infinite without a drag figure."""
        if not self.sih_mass_kg or not self.sih_kdv_n_s_m:
            return math.inf
        tilt = math.radians(min(self.tiltmax_air_deg, 89.0))
        return self.sih_mass_kg * GRAVITY_M_S2 * math.tan(tilt) / self.sih_kdv_n_s_m

    def level_speed_mps(self, requested_mps: float) -> float:
        """The speed a mission leg is flown at when `requested_mps` is asked (DO_CHANGE_SPEED)."""
        return max(0.1, min(requested_mps, self.xy_vel_max_mps, self.drag_speed_cap_mps))

    @property
    def rtl_speed_mps(self) -> float:
        """The speed PX4's RTL flies home at: MPC_XY_CRUISE within the vehicle's limits."""
        return self.level_speed_mps(self.xy_cruise_mps)


def return_speed_mps(cruise_speed_mps: float, limits: VehicleLimits) -> float:
    """The MPC_XY_CRUISE to set so RTL flies home at the plan's speed: PX4 caps it at MPC_XY_VEL_MAX."""
    return round(min(cruise_speed_mps, limits.xy_vel_max_mps), 2)


#: VehicleLimits field -> PX4 parameter name.
PARAM_OF_FIELD: dict[str, str] = {
    "xy_cruise_mps": "MPC_XY_CRUISE",
    "xy_vel_max_mps": "MPC_XY_VEL_MAX",
    "z_v_auto_up_mps": "MPC_Z_V_AUTO_UP",
    "z_v_auto_dn_mps": "MPC_Z_V_AUTO_DN",
    "acc_hor_mps2": "MPC_ACC_HOR",
    "jerk_auto_mps3": "MPC_JERK_AUTO",
    "acc_up_mps2": "MPC_ACC_UP_MAX",
    "acc_down_mps2": "MPC_ACC_DOWN_MAX",
    "tko_speed_mps": "MPC_TKO_SPEED",
    "tko_ramp_s": "MPC_TKO_RAMP_T",
    "spoolup_s": "COM_SPOOLUP_TIME",
    "land_speed_mps": "MPC_LAND_SPEED",
    "land_alt1_m": "MPC_LAND_ALT1",
    "land_alt2_m": "MPC_LAND_ALT2",
    "rtl_return_alt_m": "RTL_RETURN_ALT",
    "rtl_descend_alt_m": "RTL_DESCEND_ALT",
    "rtl_land_delay_s": "RTL_LAND_DELAY",
    "nav_acc_rad_m": "NAV_ACC_RAD",
    "xy_traj_p": "MPC_XY_TRAJ_P",
    "tiltmax_air_deg": "MPC_TILTMAX_AIR",
    "disarm_land_s": "COM_DISARM_LAND",
    "yawrate_auto_deg_s": "MPC_YAWRAUTO_MAX",
    "sih_mass_kg": "SIH_MASS",
    "sih_kdv_n_s_m": "SIH_KDV",
}
#: The parameters read from a vehicle at connect.
PARAM_NAMES: tuple[str, ...] = tuple(PARAM_OF_FIELD.values())


async def read_vehicle_limits(
    get_param: Callable[[str], Awaitable[float | int]],
) -> VehicleLimits:
    """The vehicle's limits, read one parameter at a time; one it does not answer keeps PX4's default."""
    values: dict[str, float] = {}
    for name in PARAM_NAMES:
        try:
            values[name] = float(await get_param(name))
        except Exception:  # noqa: BLE001 - an unknown parameter times out: keep the default
            continue
    return VehicleLimits.from_params(values)


# -- horizontal ------------------------------------------------------------------------------------


def speed_change(v0_mps: float, v1_mps: float, limits: VehicleLimits) -> tuple[float, float]:
    """(seconds, metres) of a jerk-limited speed change from `v0_mps` to `v1_mps` (S-curve)."""
    dv = abs(v1_mps - v0_mps)
    if dv <= 0:
        return 0.0, 0.0
    a, j = limits.acc_hor_mps2, limits.jerk_auto_mps3
    t = dv / a + a / j if dv >= a * a / j else 2.0 * math.sqrt(dv / j)
    return t, (v0_mps + v1_mps) / 2.0 * t


def corner_speed_mps(
    turn_deg: float, speed_mps: float, limits: VehicleLimits, acc_rad_m: float
) -> float:
    """Speed through a waypoint that turns the track by `turn_deg` (PX4's computeMaxSpeedInWaypoint)."""
    alpha = math.radians(180.0 - min(abs(turn_deg), 179.9))  # angle between the legs; pi straight
    if alpha >= math.pi - 1e-6:
        return speed_mps
    accel = limits.xy_traj_p * limits.acc_hor_mps2
    return min(
        speed_mps, math.sqrt(accel * max(acc_rad_m, limits.nav_acc_rad_m) * math.tan(alpha / 2))
    )


def level_leg_s(
    length_m: float, v_in_mps: float, cruise_mps: float, v_out_mps: float, limits: VehicleLimits
) -> float:
    """Seconds to fly a straight leg entered at `v_in_mps`, left at `v_out_mps`, cruising between."""
    if length_m <= 0:
        return 0.0
    t_up, d_up = speed_change(v_in_mps, cruise_mps, limits)
    t_dn, d_dn = speed_change(cruise_mps, v_out_mps, limits)
    if d_up + d_dn <= length_m:
        return t_up + t_dn + (length_m - d_up - d_dn) / cruise_mps
    # Too short to reach cruise: the highest speed whose ramps fit, by bisection.
    lo, hi = max(v_in_mps, v_out_mps), cruise_mps
    for _ in range(40):
        mid = (lo + hi) / 2
        if (
            speed_change(v_in_mps, mid, limits)[1] + speed_change(mid, v_out_mps, limits)[1]
            > length_m
        ):
            hi = mid
        else:
            lo = mid
    t_up, d_up = speed_change(v_in_mps, lo, limits)
    t_dn, d_dn = speed_change(lo, v_out_mps, limits)
    rest = max(0.0, length_m - d_up - d_dn)
    return t_up + t_dn + (rest / lo if lo > 0 else 0.0)


def rtl_start_s(from_speed_mps: float, limits: VehicleLimits) -> float:
    """RTL's start: brake where it was commanded, then turn to face home before leaving.

    PX4 SITL hovered ~3 s before leaving (reference flights); a half turn at MPC_YAWRAUTO_MAX.
    """
    brake_s, _ = speed_change(from_speed_mps, 0.0, limits)
    turn_s = 180.0 / limits.yawrate_auto_deg_s if limits.yawrate_auto_deg_s > 0 else 0.0
    return brake_s + max(RTL_HOVER_S, turn_s)


# -- vertical --------------------------------------------------------------------------------------


def _vertical_ramp_s(v_mps: float, acc_mps2: float) -> float:
    """Seconds lost starting and stopping a vertical move at `v_mps` (half the ramp each end)."""
    return v_mps / max(acc_mps2, 0.1)


def takeoff_s(alt_m: float, limits: VehicleLimits) -> float:
    """Launch to `alt_m` above the dock: arming, spool-up, take-off ramp, climb, settle at the top."""
    t = LAUNCH_S + limits.spoolup_s + limits.tko_ramp_s
    up = limits.z_v_auto_up_mps
    tko = min(limits.tko_speed_mps, up) if limits.tko_speed_mps > 0 else up
    slow = min(alt_m, TAKEOFF_SLOW_ALT_M)
    t += slow / tko
    ramp = max(0.0, min(alt_m, TAKEOFF_RAMP_ALT_M) - TAKEOFF_SLOW_ALT_M)
    t += ramp / (max(tko, TAKEOFF_RAMP_FACTOR * up))
    t += max(0.0, alt_m - TAKEOFF_RAMP_ALT_M) / up
    return t + TAKEOFF_SETTLE_S


def climb_s(dz_m: float, limits: VehicleLimits) -> float:
    """Seconds for a climb of `dz_m` in the air at MPC_Z_V_AUTO_UP, from and to a stop."""
    if dz_m <= 0:
        return 0.0
    up = limits.z_v_auto_up_mps
    return dz_m / up + _vertical_ramp_s(up, limits.acc_up_mps2)


def descent_s(dz_m: float, limits: VehicleLimits) -> float:
    """Seconds for a descent of `dz_m` in the air at MPC_Z_V_AUTO_DN, from and to a stop."""
    if dz_m <= 0:
        return 0.0
    dn = limits.z_v_auto_dn_mps
    return dz_m / dn + _vertical_ramp_s(dn, limits.acc_down_mps2)


def land_s(alt_m: float, limits: VehicleLimits) -> float:
    """From `alt_m` over the landing point to ON_GROUND: descent slowed below MPC_LAND_ALT1/ALT2."""
    dn = limits.z_v_auto_dn_mps * LAND_DESCENT_FACTOR
    land = min(limits.land_speed_mps, dn)
    alt1 = max(limits.land_alt1_m, limits.land_alt2_m)
    alt2 = min(limits.land_alt1_m, limits.land_alt2_m)
    t = max(0.0, alt_m - alt1) / dn
    band = max(0.0, min(alt_m, alt1) - alt2)
    # Linear interpolation of the speed between ALT1 (dn) and ALT2 (land speed): time = band/mean.
    if band > 0:
        t += band * math.log(dn / land) / (dn - land) if dn > land else band / land
    t += min(alt_m, alt2) / land
    return t + LAND_DETECT_S


# -- 3D legs and whole flights ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Waypoint3D:
    """A point of a flown path: metres north/east of the start and altitude AGL."""

    north_m: float
    east_m: float
    alt_m: float


def _turn_deg(a: Waypoint3D, b: Waypoint3D, c: Waypoint3D) -> float:
    h1 = math.atan2(b.east_m - a.east_m, b.north_m - a.north_m)
    h2 = math.atan2(c.east_m - b.east_m, c.north_m - b.north_m)
    d = math.degrees(h2 - h1)
    return abs((d + 180.0) % 360.0 - 180.0)


def path_s(
    points: Sequence[Waypoint3D],
    speed_mps: float,
    limits: VehicleLimits,
    *,
    acc_rad_m: float = 5.0,
    stop_at_end: bool = True,
    v_start_mps: float = 0.0,
) -> tuple[float, tuple[float, ...]]:
    """(seconds, seconds per leg) to fly `points` in order as PX4's mission does (straight 3D legs).

    A leg that changes altitude is flown along the line at the speed both limits allow: no faster
    horizontally than the cruise speed, no faster vertically than MPC_Z_V_AUTO_UP/DN.
    """
    per_leg: list[float] = []
    v_in = v_start_mps
    n = len(points)
    for i in range(n - 1):
        a, b = points[i], points[i + 1]
        horiz = math.hypot(b.north_m - a.north_m, b.east_m - a.east_m)
        dz = b.alt_m - a.alt_m
        last = i == n - 2
        if last:
            v_out = 0.0 if stop_at_end else speed_mps
        else:
            v_out = corner_speed_mps(_turn_deg(a, b, points[i + 2]), speed_mps, limits, acc_rad_m)
        if horiz < 1.0:
            t = climb_s(dz, limits) if dz > 0 else descent_s(-dz, limits)
            v_out = 0.0
        else:
            vz_max = limits.z_v_auto_up_mps if dz > 0 else limits.z_v_auto_dn_mps
            # The along-track speed at which the vertical rate is at its limit caps the cruise.
            v_leg = speed_mps if dz == 0 else min(speed_mps, vz_max * horiz / abs(dz))
            v_out = min(v_out, v_leg)
            t = level_leg_s(horiz, min(v_in, v_leg), v_leg, v_out, limits)
        per_leg.append(t)
        v_in = v_out
    return sum(per_leg), tuple(per_leg)


@dataclass(frozen=True, slots=True)
class PowerModel:
    """Electrical power of the airframe: hover, level flight at a reference speed, climbing."""

    hover_w: float
    cruise_w: float
    cruise_speed_mps: float
    climb_w: float

    def level_w(self, speed_mps: float) -> float:
        """Power in level flight at `speed_mps`: hover plus a drag term growing with speed squared."""
        ratio = speed_mps / self.cruise_speed_mps if self.cruise_speed_mps > 0 else 0.0
        return max(0.0, self.hover_w + (self.cruise_w - self.hover_w) * ratio * ratio)


@dataclass(frozen=True, slots=True)
class Phase:
    """One phase of a predicted flight: its name, duration and energy."""

    name: str
    seconds: float
    energy_wh: float

    def to_json(self) -> dict[str, float | str]:
        """As JSON."""
        return {"phase": self.name, "seconds": self.seconds, "energy_wh": self.energy_wh}


#: Phase names of a response flight, in order.
PHASES = ("takeoff", "transit", "on_scene", "return", "landing")
