"""Multicopter flight model: kinematics, wind, battery energy and GPS noise; pure and deterministic from a seed.

Positions are metres in a local north/east/up frame whose origin is the drone's home on flat ground.
"""

from __future__ import annotations

import functools
import math
import random
from dataclasses import dataclass, replace

GRAVITY_M_S2 = 9.80665
EARTH_RADIUS_M = 6_371_000.0
PHYSICS_DT_S = 0.02


@dataclass(frozen=True, slots=True)
class Airframe:
    """Limits and power figures of the simulated quadrotor."""

    max_acc_m_s2: float = 3.0
    max_airspeed_mps: float = 18.0
    yaw_rate_rad_s: float = math.radians(60.0)
    mass_kg: float = 1.6
    hover_power_w: float = 190.0
    drag_power_w_per_m2_s2: float = 0.45
    climb_efficiency: float = 0.6
    battery_capacity_wh: float = 90.0
    battery_cells: int = 4
    battery_internal_ohm: float = 0.05


@dataclass(frozen=True, slots=True)
class Wind:
    """Steady wind blowing FROM `from_deg` (meteorological) plus a gust amplitude."""

    speed_mps: float = 0.0
    from_deg: float = 0.0
    gust_mps: float = 0.0


@dataclass(frozen=True, slots=True)
class Setpoint:
    """What the position controller tracks: a target position, speed limits and an optional yaw."""

    north_m: float
    east_m: float
    up_m: float
    speed_h_mps: float
    climb_mps: float
    descent_mps: float
    yaw_rad: float | None = None
    motors_on: bool = True


@dataclass(frozen=True, slots=True)
class State:
    """Kinematic and energy state of one drone at time `t_s` (simulated seconds)."""

    t_s: float = 0.0
    north_m: float = 0.0
    east_m: float = 0.0
    up_m: float = 0.0
    vn_mps: float = 0.0
    ve_mps: float = 0.0
    vu_mps: float = 0.0
    yaw_rad: float = 0.0
    roll_rad: float = 0.0
    pitch_rad: float = 0.0
    energy_wh: float = 90.0
    power_w: float = 0.0
    on_ground: bool = True

    @property
    def ground_speed_mps(self) -> float:
        """Horizontal speed over ground."""
        return math.hypot(self.vn_mps, self.ve_mps)


def initial_state(airframe: Airframe, yaw_rad: float = 0.0) -> State:
    """A drone on the ground at its origin with a full battery."""
    return State(energy_wh=airframe.battery_capacity_wh, yaw_rad=yaw_rad)


@functools.lru_cache(maxsize=4096)
def _gust_phases(seed: int) -> tuple[float, float, float]:
    # Called every physics step of every drone: seeding a Random each time was a fifth of a tick.
    rng = random.Random(seed)
    return (rng.uniform(0, math.tau), rng.uniform(0, math.tau), rng.uniform(0, math.tau))


def wind_vector(wind: Wind, t_s: float, seed: int) -> tuple[float, float]:
    """Wind velocity (north, east) m/s at `t_s`: steady part plus deterministic gusts."""
    p1, p2, _ = _gust_phases(seed)
    gust = wind.gust_mps * (
        0.6 * math.sin(math.tau * t_s / 7.3 + p1) + 0.4 * math.sin(math.tau * t_s / 2.9 + p2)
    )
    speed = wind.speed_mps + gust
    toward = math.radians(wind.from_deg) + math.pi
    return speed * math.cos(toward), speed * math.sin(toward)


def gps_noise_m(t_s: float, seed: int) -> tuple[float, float, float]:
    """Smooth deterministic GPS position error (north, east, up) in metres."""
    p1, p2, p3 = _gust_phases(seed ^ 0x5A5A)
    return (
        0.35 * math.sin(t_s / 4.1 + p1) + 0.1 * math.sin(t_s / 0.9 + p2),
        0.35 * math.sin(t_s / 3.7 + p2) + 0.1 * math.sin(t_s / 1.1 + p3),
        0.6 * math.sin(t_s / 5.3 + p3),
    )


def _approach(current: float, target: float, max_delta: float) -> float:
    delta = target - current
    if delta > max_delta:
        return current + max_delta
    if delta < -max_delta:
        return current - max_delta
    return target


def _wrap_pi(angle: float) -> float:
    return (angle + math.pi) % math.tau - math.pi


def step(
    state: State,
    sp: Setpoint,
    airframe: Airframe,
    wind: Wind,
    seed: int,
    dt_s: float = PHYSICS_DT_S,
) -> State:
    """Advance `state` by `dt_s` towards `sp` (pure: same inputs, same result)."""
    if not sp.motors_on:
        idle = state.on_ground or state.up_m <= 0.0
        return replace(
            state,
            t_s=state.t_s + dt_s,
            vn_mps=0.0 if idle else state.vn_mps,
            ve_mps=0.0 if idle else state.ve_mps,
            vu_mps=0.0 if idle else state.vu_mps - GRAVITY_M_S2 * dt_s,
            up_m=max(0.0, state.up_m + state.vu_mps * dt_s),
            roll_rad=0.0,
            pitch_rad=0.0,
            power_w=0.0,
            on_ground=idle,
        )
    acc = airframe.max_acc_m_s2
    # Horizontal: speed limited by cruise and by the distance needed to stop at the target.
    dn, de = sp.north_m - state.north_m, sp.east_m - state.east_m
    dist = math.hypot(dn, de)
    want_n = want_e = 0.0
    if dist > 0.05:
        speed = min(sp.speed_h_mps, math.sqrt(2.0 * acc * 0.8 * dist), dist / dt_s)
        want_n, want_e = dn / dist * speed, de / dist * speed
    dvn, dve = want_n - state.vn_mps, want_e - state.ve_mps
    dv = math.hypot(dvn, dve)
    max_dv = acc * dt_s
    if dv > max_dv:
        dvn, dve = dvn / dv * max_dv, dve / dv * max_dv
    vn, ve = state.vn_mps + dvn, state.ve_mps + dve
    # Wind: the controller holds the ground track unless the airspeed limit is reached; gusts push a little.
    wn, we = wind_vector(wind, state.t_s, seed)
    an, ae = vn - wn, ve - we
    air = math.hypot(an, ae)
    if air > airframe.max_airspeed_mps:
        scale = airframe.max_airspeed_mps / air
        an, ae = an * scale, ae * scale
        vn, ve = an + wn, ae + we
        air = airframe.max_airspeed_mps
    steady_n, steady_e = wind_vector(Wind(wind.speed_mps, wind.from_deg, 0.0), state.t_s, seed)
    push_n, push_e = 0.15 * (wn - steady_n), 0.15 * (we - steady_e)
    # Vertical.
    dz = sp.up_m - state.up_m
    vz_lim = math.sqrt(2.0 * acc * 0.8 * abs(dz))
    want_u = max(-sp.descent_mps, min(sp.climb_mps, math.copysign(min(vz_lim, abs(dz) / dt_s), dz)))
    vu = _approach(state.vu_mps, want_u, acc * dt_s)
    up = state.up_m + vu * dt_s
    on_ground = False
    if up <= 0.0:
        up, vu = 0.0, max(0.0, vu)
        on_ground = want_u <= 0.0
    if on_ground:
        vn = ve = 0.0
        push_n = push_e = 0.0
    north = state.north_m + (vn + push_n) * dt_s
    east = state.east_m + (ve + push_e) * dt_s
    # Yaw: towards the commanded heading, else along the track when moving (MPC_YAW_MODE 0).
    yaw = state.yaw_rad
    target_yaw = sp.yaw_rad
    if target_yaw is None and dist > 2.0 and math.hypot(want_n, want_e) > 1.0:
        target_yaw = math.atan2(want_e, want_n)
    if target_yaw is not None and not on_ground:
        yaw = _wrap_pi(
            yaw + _approach(0.0, _wrap_pi(target_yaw - yaw), airframe.yaw_rate_rad_s * dt_s)
        )
    # Attitude: tilt from acceleration plus drag against the air.
    an_acc, ae_acc = dvn / dt_s + 0.05 * an, dve / dt_s + 0.05 * ae
    fwd = an_acc * math.cos(yaw) + ae_acc * math.sin(yaw)
    right = -an_acc * math.sin(yaw) + ae_acc * math.cos(yaw)
    pitch = -math.atan2(fwd, GRAVITY_M_S2) if not on_ground else 0.0
    roll = math.atan2(right, GRAVITY_M_S2) if not on_ground else 0.0
    # Energy: hover + parasitic (airspeed^2) + climb work; idle on the ground with motors spinning.
    power = airframe.hover_power_w * (0.25 if on_ground else 1.0)
    power += airframe.drag_power_w_per_m2_s2 * air * air
    power += max(0.0, vu) * airframe.mass_kg * GRAVITY_M_S2 / airframe.climb_efficiency
    energy = max(0.0, state.energy_wh - power * dt_s / 3600.0)
    return State(
        t_s=state.t_s + dt_s,
        north_m=north,
        east_m=east,
        up_m=up,
        vn_mps=vn,
        ve_mps=ve,
        vu_mps=vu,
        yaw_rad=yaw,
        roll_rad=roll,
        pitch_rad=pitch,
        energy_wh=energy,
        power_w=power,
        on_ground=on_ground,
    )


def battery_fraction(state: State, airframe: Airframe) -> float:
    """Remaining charge 0..1."""
    return max(0.0, min(1.0, state.energy_wh / airframe.battery_capacity_wh))


def battery_voltage_v(state: State, airframe: Airframe) -> float:
    """Pack voltage under load: LiPo open-circuit curve minus internal-resistance sag."""
    soc = battery_fraction(state, airframe)
    cell = 3.3 + 0.75 * soc + 0.15 * (1.0 - math.exp(-soc * 12.0)) - 0.15 * (1.0 - soc) ** 8
    ocv = cell * airframe.battery_cells
    current = state.power_w / max(ocv, 1.0)
    return max(0.0, ocv - current * airframe.battery_internal_ohm)


def battery_current_a(state: State, airframe: Airframe) -> float:
    """Current drawn from the pack."""
    return state.power_w / max(battery_voltage_v(state, airframe), 1.0)


def offset_to_latlon(
    lat0_deg: float, lon0_deg: float, north_m: float, east_m: float
) -> tuple[float, float]:
    """Latitude/longitude of a local offset (flat-earth, fine within tens of km)."""
    lat = lat0_deg + math.degrees(north_m / EARTH_RADIUS_M)
    lon = lon0_deg + math.degrees(east_m / (EARTH_RADIUS_M * math.cos(math.radians(lat0_deg))))
    return lat, lon


def latlon_to_offset(
    lat0_deg: float, lon0_deg: float, lat_deg: float, lon_deg: float
) -> tuple[float, float]:
    """Local (north, east) metres of a latitude/longitude."""
    north = math.radians(lat_deg - lat0_deg) * EARTH_RADIUS_M
    east = math.radians(lon_deg - lon0_deg) * EARTH_RADIUS_M * math.cos(math.radians(lat0_deg))
    return north, east
