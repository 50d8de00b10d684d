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
    """Power and battery figures of the simulated quadrotor (its flight limits are in `Tuning`)."""

    mass_kg: float = 1.6
    hover_power_w: float = 190.0
    drag_power_w_per_m2_s2: float = 0.45
    climb_efficiency: float = 0.6
    battery_capacity_wh: float = 90.0
    battery_cells: int = 4
    battery_internal_ohm: float = 0.05


@dataclass(frozen=True, slots=True)
class Tuning:
    """PX4's position-control limits and gains plus SIH's airframe, read from the vehicle's parameters."""

    jerk_m_s3: float = 4.0  # MPC_JERK_AUTO
    acc_hor_m_s2: float = 3.0  # MPC_ACC_HOR
    acc_up_m_s2: float = 4.0  # MPC_ACC_UP_MAX
    acc_down_m_s2: float = 3.0  # MPC_ACC_DOWN_MAX
    vel_max_mps: float = 12.0  # MPC_XY_VEL_MAX
    err_max_m: float = 2.0  # MPC_XY_ERR_MAX
    pos_p: float = 0.95  # MPC_XY_P
    pos_z_p: float = 1.0  # MPC_Z_P
    vel_p: float = 1.8  # MPC_XY_VEL_P_ACC
    vel_i: float = 0.4  # MPC_XY_VEL_I_ACC
    vel_z_p: float = 4.0  # MPC_Z_VEL_P_ACC
    vel_z_i: float = 2.0  # MPC_Z_VEL_I_ACC
    tilt_max_rad: float = math.radians(45.0)  # MPC_TILTMAX_AIR
    sih_mass_kg: float = 1.0  # SIH_MASS
    sih_drag_n_s_m: float = 1.0  # SIH_KDV
    yaw_rate_rad_s: float = math.radians(60.0)  # MPC_YAWRAUTO_MAX

    @property
    def max_acc_m_s2(self) -> float:
        """Horizontal acceleration the tilt limit allows."""
        return GRAVITY_M_S2 * math.tan(self.tilt_max_rad)

    @property
    def drag_per_s(self) -> float:
        """SIH's linear drag as a deceleration per m/s of airspeed."""
        return self.sih_drag_n_s_m / max(self.sih_mass_kg, 1e-3)

    @property
    def top_speed_mps(self) -> float:
        """Level airspeed where drag uses the whole tilt limit (SIH quadx: ~9.8 m/s)."""
        return self.max_acc_m_s2 / max(self.drag_per_s, 1e-6)


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
    #: Vertical speed to fly instead of a height target (PX4's land and takeoff-ramp setpoints).
    vz_mps: float | None = None
    #: Start of the leg (north, east) whose line PX4 follows to the target; None: straight at it.
    line_from: tuple[float, float] | None = None
    #: mc_pos_control's takeoff ramp: the upward speed limit it puts on the trajectory, or None.
    ramp_vz_mps: float | None = None


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
    # The jerk-limited trajectory PX4's flight task feeds the controller, and the velocity integrator.
    traj_vn_mps: float = 0.0
    traj_ve_mps: float = 0.0
    traj_an_m_s2: float = 0.0
    traj_ae_m_s2: float = 0.0
    traj_au_m_s2: float = 0.0
    traj_vu_mps: float = 0.0
    int_n_m_s2: float = 0.0
    int_e_m_s2: float = 0.0
    int_u_m_s2: float = 0.0

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


def max_speed_from_distance(
    jerk: float, acc: float, dist_m: float, final_mps: float = 0.0
) -> float:
    """Fastest speed that can still brake to `final_mps` within `dist_m` (PX4's trajectory math)."""
    b = 4.0 * acc * acc / jerk
    c = -2.0 * acc * max(0.0, dist_m) - final_mps * final_mps
    return 0.5 * (-b + math.sqrt(b * b - 4.0 * c))


def _jerk_limited(
    v: float, a: float, want: float, acc_up: float, acc_down: float, jerk: float, dt_s: float
) -> tuple[float, float]:
    # Acceleration that still lets the acceleration ramp back to 0 exactly as `want` is met.
    dv = want - v
    a_max = acc_up if dv > 0 else acc_down
    a_star = math.copysign(min(a_max, math.sqrt(2.0 * jerk * abs(dv))), dv)
    a = _approach(a, a_star, jerk * dt_s)
    v_next = v + a * dt_s
    if (want - v_next) * dv < 0:  # crossed the wanted speed within the step: land on it
        return want, 0.0
    return v_next, a


def _along_line(state: State, sp: Setpoint, speed: float, pos_p: float) -> tuple[float, float]:
    # FlightTaskAuto flies the line prev -> target: along it at `speed`, pulled back onto it by MPC_XY_P.
    assert sp.line_from is not None
    fn, fe = sp.line_from
    ln, le = sp.north_m - fn, sp.east_m - fe
    length = math.hypot(ln, le)
    if length < 1.0:
        dn, de = sp.north_m - state.north_m, sp.east_m - state.east_m
        dist = max(math.hypot(dn, de), 1e-9)
        return dn / dist * speed, de / dist * speed
    un, ue = ln / length, le / length
    along = (state.north_m - fn) * un + (state.east_m - fe) * ue
    cross_n = fn + un * along - state.north_m
    cross_e = fe + ue * along - state.east_m
    vn, ve = un * speed + pos_p * cross_n, ue * speed + pos_p * cross_e
    norm = math.hypot(vn, ve)
    if norm > speed > 0:
        vn, ve = vn / norm * speed, ve / norm * speed
    return vn, ve


def _horizontal(
    state: State, sp: Setpoint, tune: Tuning, wn: float, we: float, dt_s: float
) -> tuple[float, float, float, float, float, float, float, float, float, float]:
    # PX4 flies a jerk-limited trajectory towards the target and a PI velocity loop tracks it;
    # tilt caps the commanded acceleration and SIH's linear drag opposes the airspeed.
    dn, de = sp.north_m - state.north_m, sp.east_m - state.east_m
    dist = math.hypot(dn, de)
    want_n = want_e = 0.0
    if dist > 0.01:
        speed = min(
            sp.speed_h_mps,
            tune.vel_max_mps,
            max_speed_from_distance(tune.jerk_m_s3, tune.acc_hor_m_s2, dist),
            tune.pos_p * dist,
        )
        want_n, want_e = dn / dist * speed, de / dist * speed
        if sp.line_from is not None:
            want_n, want_e = _along_line(state, sp, speed, tune.pos_p)
    tvn, tve, tan_, tae = (
        state.traj_vn_mps,
        state.traj_ve_mps,
        state.traj_an_m_s2,
        state.traj_ae_m_s2,
    )
    dvn, dve = want_n - tvn, want_e - tve
    dv = math.hypot(dvn, dve)
    if dv > 1e-9:
        a_mag = min(tune.acc_hor_m_s2, math.sqrt(2.0 * tune.jerk_m_s3 * dv))
        a_star_n, a_star_e = dvn / dv * a_mag, dve / dv * a_mag
    else:
        a_star_n = a_star_e = 0.0
    da_n, da_e = a_star_n - tan_, a_star_e - tae
    da = math.hypot(da_n, da_e)
    max_da = tune.jerk_m_s3 * dt_s
    if da > max_da:
        da_n, da_e = da_n / da * max_da, da_e / da * max_da
    tan_, tae = tan_ + da_n, tae + da_e
    new_n, new_e = tvn + tan_ * dt_s, tve + tae * dt_s
    if (want_n - new_n) * dvn + (want_e - new_e) * dve < 0:  # reached the wanted velocity
        new_n, new_e, tan_, tae = want_n, want_e, 0.0, 0.0
    tvn, tve = new_n, new_e
    # MPC_XY_ERR_MAX: the trajectory waits for a vehicle that cannot keep up (drag, tilt limit).
    v_now = state.ground_speed_mps
    lead = v_now + tune.err_max_m * tune.pos_p
    t_speed = math.hypot(tvn, tve)
    if t_speed > lead:
        tvn, tve = tvn / t_speed * lead, tve / t_speed * lead
        t_dot = tan_ * tvn + tae * tve
        if t_dot > 0:
            tan_ = tae = 0.0
    # Velocity controller: feed-forward + P + I, acceleration capped by the tilt limit.
    evn, eve = tvn - state.vn_mps, tve - state.ve_mps
    cmd_n = tan_ + tune.vel_p * evn + state.int_n_m_s2
    cmd_e = tae + tune.vel_p * eve + state.int_e_m_s2
    cmd = math.hypot(cmd_n, cmd_e)
    int_n, int_e = state.int_n_m_s2, state.int_e_m_s2
    if cmd > tune.max_acc_m_s2:
        cmd_n, cmd_e = cmd_n / cmd * tune.max_acc_m_s2, cmd_e / cmd * tune.max_acc_m_s2
    else:  # anti-windup: integrate only while unsaturated
        int_n += tune.vel_i * evn * dt_s
        int_e += tune.vel_i * eve * dt_s
    an, ae = state.vn_mps - wn, state.ve_mps - we
    drag = tune.drag_per_s
    vn = state.vn_mps + (cmd_n - drag * an) * dt_s
    ve = state.ve_mps + (cmd_e - drag * ae) * dt_s
    return vn, ve, tvn, tve, tan_, tae, int_n, int_e, cmd_n, cmd_e


def _vertical_loop(
    state: State, sp: Setpoint, tune: Tuning, tvu: float, au: float, dt_s: float
) -> tuple[float, float]:
    # PX4's vertical PI velocity loop (MPC_Z_VEL_P_ACC, MPC_Z_VEL_I_ACC) against SIH's drag and the
    # ground: thrust is floored at zero, and the integrator stops winding at that floor (PX4's
    # vertical anti-windup). During the takeoff ramp the acceleration feed-forward is dropped, the
    # ramp starts at the speed giving zero thrust and the integrator winds against the ground, so
    # the vehicle lifts off later than the ramp's zero crossing, as PX4 SIH does.
    ramp = sp.ramp_vz_mps
    err = (tvu if ramp is None else min(tvu, ramp)) - state.vu_mps
    ff = au if ramp is None else 0.0
    cmd = ff + tune.vel_z_p * err + state.int_u_m_s2
    thrust = max(0.0, GRAVITY_M_S2 + cmd)
    int_u = state.int_u_m_s2
    if not (thrust <= 0.0 and err < 0.0):
        int_u += tune.vel_z_i * err * dt_s
    # The integrator is limited to one g (PX4 limits the thrust integral the same way).
    int_u = max(-GRAVITY_M_S2, min(GRAVITY_M_S2, int_u))
    acc = thrust - GRAVITY_M_S2 - tune.drag_per_s * state.vu_mps
    vu = state.vu_mps + acc * dt_s
    if state.on_ground and vu < 0.0:
        vu = 0.0  # the ground holds the vehicle up until thrust exceeds its weight
    return vu, int_u


def step(
    state: State,
    sp: Setpoint,
    airframe: Airframe,
    wind: Wind,
    seed: int,
    dt_s: float = PHYSICS_DT_S,
    tune: Tuning = Tuning(),  # noqa: B008 - immutable default
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
            traj_vn_mps=0.0,
            traj_ve_mps=0.0,
            traj_an_m_s2=0.0,
            traj_ae_m_s2=0.0,
            traj_au_m_s2=0.0,
            traj_vu_mps=0.0,
            int_n_m_s2=0.0,
            int_e_m_s2=0.0,
            int_u_m_s2=0.0,
        )
    wn, we = wind_vector(wind, state.t_s, seed)
    if state.on_ground:
        vn = ve = tvn = tve = tan_ = tae = int_n = int_e = cmd_n = cmd_e = 0.0
    else:
        vn, ve, tvn, tve, tan_, tae, int_n, int_e, cmd_n, cmd_e = _horizontal(
            state, sp, tune, wn, we, dt_s
        )
    # Vertical: a jerk-limited trajectory towards the height target (or the commanded speed).
    if sp.vz_mps is not None:
        want_u = sp.vz_mps
    else:
        dz = sp.up_m - state.up_m
        acc_z = tune.acc_up_m_s2 if dz > 0 else tune.acc_down_m_s2
        want_u = math.copysign(
            min(max_speed_from_distance(tune.jerk_m_s3, acc_z, abs(dz)), tune.pos_z_p * abs(dz)), dz
        )
    want_u = max(-sp.descent_mps, min(sp.climb_mps, want_u))
    tvu, au = _jerk_limited(
        state.traj_vu_mps,
        state.traj_au_m_s2,
        want_u,
        tune.acc_up_m_s2,
        tune.acc_down_m_s2,
        tune.jerk_m_s3,
        dt_s,
    )
    vu, int_u = _vertical_loop(state, sp, tune, tvu, au, dt_s)
    up = state.up_m + vu * dt_s
    on_ground = False
    if up <= 0.0:
        up, vu, au, tvu = 0.0, max(0.0, vu), max(0.0, au), max(0.0, tvu)
        on_ground = vu <= 0.0 and (want_u <= 0.0 or sp.ramp_vz_mps is not None)
        if on_ground and sp.ramp_vz_mps is None:
            # mc_pos_control resets the integrator while not taken off or in ground contact.
            int_u = 0.0
    if on_ground:
        vn = ve = tvn = tve = tan_ = tae = int_n = int_e = cmd_n = cmd_e = 0.0
    north = state.north_m + vn * dt_s
    east = state.east_m + ve * dt_s
    # Yaw: towards the commanded heading, else along the track when moving (MPC_YAW_MODE 0).
    yaw = state.yaw_rad
    target_yaw = sp.yaw_rad
    dist = math.hypot(sp.north_m - state.north_m, sp.east_m - state.east_m)
    if target_yaw is None and dist > 2.0 and math.hypot(tvn, tve) > 1.0:
        target_yaw = math.atan2(tve, tvn)
    if target_yaw is not None and not on_ground:
        yaw = _wrap_pi(yaw + _approach(0.0, _wrap_pi(target_yaw - yaw), tune.yaw_rate_rad_s * dt_s))
    # Attitude: the tilt that produces the commanded horizontal acceleration.
    fwd = cmd_n * math.cos(yaw) + cmd_e * math.sin(yaw)
    right = -cmd_n * math.sin(yaw) + cmd_e * math.cos(yaw)
    pitch = -math.atan2(fwd, GRAVITY_M_S2) if not on_ground else 0.0
    roll = math.atan2(right, GRAVITY_M_S2) if not on_ground else 0.0
    # Energy: hover + parasitic (airspeed^2) + climb work; idle on the ground with motors spinning.
    air = math.hypot(vn - wn, ve - we) if not on_ground else 0.0
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
        traj_vn_mps=tvn,
        traj_ve_mps=tve,
        traj_an_m_s2=tan_,
        traj_ae_m_s2=tae,
        traj_au_m_s2=au,
        traj_vu_mps=tvu,
        int_n_m_s2=int_n,
        int_e_m_s2=int_e,
        int_u_m_s2=int_u,
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
