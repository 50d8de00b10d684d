"""What PX4's navigator flies in each mode: mission items, takeoff, hold, reposition, orbit, RTL and land."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from enum import Enum
from typing import Protocol

from .mission import NAV_POSITION_CMDS, RELATIVE_FRAMES, Cmd, Item
from .modes import FlightMode
from .physics import GRAVITY_M_S2, Setpoint
from .view import SEVERITY_INFO, DroneView

NAV_MC_ALT_RAD_M = 0.8
# PX4 SIH sinks ~0.2 m/s slower than its land speed command at every height (reference flights, in
# vehicle time: 1.28-1.30 m/s under 1.5, ~0.5 under MPC_LAND_SPEED 0.7), a steady velocity-loop error
# this kinematic model has no thrust for, so the landing flies the measured shortfall.
LAND_SINK_SHORTFALL_MPS = 0.2


class TakeoffState(Enum):
    """PX4's mc_pos_control takeoff handling: spool-up, then a ramped climb limit, then flight."""

    GROUND = "ground"
    RAMP = "ramp"
    FLIGHT = "flight"


class RtlPhase(Enum):
    """Stages of PX4's RTL."""

    CLIMB = "climb"
    RETURN = "return"
    DESCEND = "descend"
    LOITER = "loiter"
    LAND = "land"
    LANDED = "landed"


@dataclass(slots=True)
class Orbit:
    """An active DO_ORBIT: centre, signed radius (positive clockwise), tangential speed and height."""

    north_m: float
    east_m: float
    radius_m: float
    speed_mps: float
    up_m: float


class NavigatorHost(DroneView, Protocol):
    """The drone as its navigator sees it: state, mode switching and mission progress reports."""

    def mission_item_reached(self, seq: int) -> None:
        """Item `seq` reached (MISSION_ITEM_REACHED)."""
        ...

    def mission_current_changed(self, seq: int) -> None:
        """The navigator moved on to item `seq`."""
        ...

    def mission_finished(self, now_s: float) -> None:
        """The last item is done."""
        ...


class Navigator:
    """Produces the position-controller setpoint for the drone's current mode."""

    def __init__(self, drone: NavigatorHost) -> None:
        self._d = drone
        self.hold: tuple[float, float, float] = (0.0, 0.0, 0.0)
        self.hold_speed_mps: float | None = None
        self.hold_yaw_rad: float | None = None
        self.takeoff_up_m = 0.0
        self.cruise_override_mps: float | None = None
        self.roi: tuple[float, float] | None = None
        self.orbit: Orbit | None = None
        self.rtl_phase = RtlPhase.CLIMB
        self.rtl_dest: tuple[float, float, float] = (0.0, 0.0, 0.0)
        self.rtl_return_up_m = 0.0
        self._phase_started_s = 0.0
        self.takeoff_state = TakeoffState.GROUND
        #: Where the current mission leg starts (the previous waypoint), for PX4's line following.
        self.leg_from: tuple[float, float] | None = None
        self._armed_at_s = 0.0
        self._ramp_started_s = 0.0
        # mission execution
        self.mission_index = 0
        self.mission_started = False
        self.mission_finished = False
        self._item_arrived_s: float | None = None
        self._climb_first = False
        self._jumps: dict[int, int] = {}
        self._turns_start_angle: float | None = None
        self._turns_progress_rad = 0.0

    # --- mode transitions -------------------------------------------------------------------
    def enter(self, mode: FlightMode, now_s: float) -> None:
        """Set the mode's targets from the current state (PX4 holds where it is, RTL plans its legs)."""
        s = self._d.phys
        self._phase_started_s = now_s
        if mode is FlightMode.LOITER:
            self.hold = (s.north_m, s.east_m, s.up_m)
            self.hold_speed_mps = None
            self.hold_yaw_rad = None
        elif mode is FlightMode.TAKEOFF:
            self.hold = (s.north_m, s.east_m, s.up_m)
        elif mode is FlightMode.RTL:
            self._plan_rtl()
        elif mode is FlightMode.MISSION:
            if self.mission_finished:
                self.reset_mission(self._d.plans.current_seq)
            self.mission_started = True
            self._item_arrived_s = None
            self.leg_from = None
            self._climb_first = s.on_ground or s.up_m < 1.0
        elif mode is FlightMode.LAND:
            self.hold = (s.north_m, s.east_m, s.up_m)

    def armed(self, now_s: float) -> None:
        """Motors armed at `now_s`: the spool-up time starts."""
        self._armed_at_s = now_s
        self.takeoff_state = TakeoffState.GROUND

    def reset_mission(self, seq: int = 0) -> None:
        """Restart mission execution at `seq` (new upload or MISSION_SET_CURRENT)."""
        self.mission_index = seq
        self.leg_from = None
        self.mission_started = False
        self.mission_finished = False
        self._item_arrived_s = None
        self._jumps = {}
        self._turns_start_angle = None

    def set_current(self, seq: int) -> None:
        """MISSION_SET_CURRENT: continue from `seq`."""
        self.mission_index = seq
        self.leg_from = None
        self.mission_finished = False
        self._item_arrived_s = None
        self._turns_start_angle = None

    def _plan_rtl(self) -> None:
        d, s = self._d, self._d.phys
        home_n, home_e, home_up = d.home_local()
        dest = (home_n, home_e, home_up)
        best = math.hypot(s.north_m - home_n, s.east_m - home_e)
        for it in d.plans.rally:
            n, e, up = self.item_local(it)
            dist = math.hypot(s.north_m - n, s.east_m - e)
            if dist < best:
                best, dest = dist, (n, e, up)
        self.rtl_dest = dest
        self.rtl_return_up_m = max(dest[2] + d.params["RTL_RETURN_ALT"], s.up_m)
        self.hold = (s.north_m, s.east_m, s.up_m)
        if s.on_ground:
            self.rtl_phase = RtlPhase.LANDED
        elif best < 5.0 and s.up_m - dest[2] <= d.params["RTL_DESCEND_ALT"]:
            self.rtl_phase = RtlPhase.LAND
        elif s.up_m < dest[2] + d.params["RTL_RETURN_ALT"]:
            self.rtl_phase = RtlPhase.CLIMB
        else:
            # PX4's RtlDirect climbs only from below RTL_RETURN_ALT; above it the return leg is the
            # first item, flown from wherever the vehicle is (it brakes and reverses on the way).
            self.rtl_phase = RtlPhase.RETURN

    # --- helpers -------------------------------------------------------------------------------
    def item_local(self, it: Item) -> tuple[float, float, float]:
        """Local (north, east, up) of a global-frame item; relative altitudes are above home."""
        d = self._d
        n, e = d.frame.to_offset(it.lat_deg, it.lon_deg)
        if it.frame in RELATIVE_FRAMES:
            up = d.home_local()[2] + it.z
        else:
            up = d.frame.up_m(it.z)
        return n, e, up

    def cruise_mps(self) -> float:
        """Horizontal speed the navigator flies at (DO_CHANGE_SPEED overrides MPC_XY_CRUISE)."""
        p = self._d.params
        speed = self.cruise_override_mps if self.cruise_override_mps else p["MPC_XY_CRUISE"]
        return max(0.5, min(speed, p["MPC_XY_VEL_MAX"]))

    def _sp(
        self,
        n: float,
        e: float,
        up: float,
        speed: float | None = None,
        yaw: float | None = None,
        descent: float | None = None,
    ) -> Setpoint:
        p = self._d.params
        if yaw is None and self.roi is not None:
            s = self._d.phys
            if math.hypot(self.roi[0] - s.north_m, self.roi[1] - s.east_m) > 1.0:
                yaw = math.atan2(self.roi[1] - s.east_m, self.roi[0] - s.north_m)
        return Setpoint(
            north_m=n,
            east_m=e,
            up_m=up,
            speed_h_mps=speed if speed is not None else self.cruise_mps(),
            climb_mps=min(p["MPC_Z_V_AUTO_UP"], p["MPC_Z_VEL_MAX_UP"]),
            descent_mps=descent
            if descent is not None
            else min(p["MPC_Z_V_AUTO_DN"], p["MPC_Z_VEL_MAX_DN"]),
            yaw_rad=yaw,
            motors_on=True,
        )

    def _land_sp(self, n: float, e: float) -> Setpoint:
        # FlightTaskAuto land: MPC_Z_V_AUTO_DN above MPC_LAND_ALT1, MPC_LAND_SPEED below ALT2, linear between.
        p, s = self._d.params, self._d.phys
        height = s.up_m - self._d.home_local()[2]
        alt1, alt2 = p["MPC_LAND_ALT1"], p["MPC_LAND_ALT2"]
        fast = min(p["MPC_Z_V_AUTO_DN"], p["MPC_Z_VEL_MAX_DN"])
        slow = min(p["MPC_LAND_SPEED"], fast)
        if height <= alt2:
            descent = slow
        elif height >= alt1 or alt1 <= alt2:
            descent = fast
        else:
            descent = slow + (fast - slow) * (height - alt2) / (alt1 - alt2)
        descent = max(0.1, descent - LAND_SINK_SHORTFALL_MPS)
        sp = self._sp(n, e, -5.0, descent=descent)
        return replace(sp, vz_mps=-descent)

    def _takeoff_sp(self, n: float, e: float, up: float) -> Setpoint:
        # FlightTaskAuto takeoff: MPC_TKO_SPEED up to MPC_LAND_ALT1 above ground, then MPC_Z_V_AUTO_UP.
        p, s = self._d.params, self._d.phys
        height = s.up_m - self._d.home_local()[2]
        fast = min(p["MPC_Z_V_AUTO_UP"], p["MPC_Z_VEL_MAX_UP"])
        climb = fast if height > p["MPC_LAND_ALT1"] else min(p["MPC_TKO_SPEED"], fast)
        return replace(self._sp(n, e, up), climb_mps=climb)

    def _takeoff_ramp(self, sp: Setpoint, now_s: float) -> Setpoint:
        # mc_pos_control: COM_SPOOLUP_TIME after arming, then the climb limit ramps over MPC_TKO_RAMP_T
        # from the speed giving zero thrust (-g / MPC_Z_VEL_P_ACC) to the takeoff speed.
        p, s = self._d.params, self._d.phys
        wants_up = (sp.vz_mps or 0.0) > 0.0 or (sp.vz_mps is None and sp.up_m > s.up_m + 0.1)
        if s.on_ground and not wants_up:
            self.takeoff_state = TakeoffState.GROUND
        if self.takeoff_state is TakeoffState.GROUND:
            if not wants_up or now_s - self._armed_at_s < p["COM_SPOOLUP_TIME"]:
                return replace(sp, climb_mps=min(sp.climb_mps, 0.0)) if s.on_ground else sp
            if not s.on_ground:
                self.takeoff_state = TakeoffState.FLIGHT
                return sp
            self.takeoff_state = TakeoffState.RAMP
            self._ramp_started_s = now_s
        if self.takeoff_state is TakeoffState.RAMP:
            ramp_s = p["MPC_TKO_RAMP_T"]
            progress = 1.0 if ramp_s <= 0 else (now_s - self._ramp_started_s) / ramp_s
            if progress >= 1.0:
                self.takeoff_state = TakeoffState.FLIGHT
                return sp
            vz_init = -GRAVITY_M_S2 / max(p["MPC_Z_VEL_P_ACC"], 0.01)
            limit = vz_init + (sp.climb_mps - vz_init) * progress
            return replace(sp, ramp_vz_mps=limit)
        return sp

    def _hold_here(self) -> Setpoint:
        s = self._d.phys
        return self._sp(s.north_m, s.east_m, s.up_m)

    def landing(self) -> bool:
        """Whether the current mode is in its final descent (EXTENDED_SYS_STATE LANDING)."""
        mode = self._d.mode
        if mode is FlightMode.LAND:
            return True
        if mode is FlightMode.RTL:
            return self.rtl_phase is RtlPhase.LAND
        if mode is FlightMode.MISSION and self.mission_index < len(self._d.plans.mission):
            it = self._d.plans.mission[self.mission_index]
            return it.command == Cmd.NAV_LAND and self._item_arrived_s is not None
        return False

    # --- per-step setpoint ----------------------------------------------------------------------
    def setpoint(self, now_s: float) -> Setpoint:
        """The setpoint for this physics step."""
        return self._takeoff_ramp(self._mode_setpoint(now_s), now_s)

    def _mode_setpoint(self, now_s: float) -> Setpoint:
        d, s = self._d, self._d.phys
        mode = d.mode
        if mode is FlightMode.LOITER:
            if s.on_ground and self.hold[2] <= s.up_m + 0.1:
                return self._sp(s.north_m, s.east_m, 0.0)
            n, e, up = self.hold
            return self._sp(n, e, up, speed=self.hold_speed_mps, yaw=self.hold_yaw_rad)
        if mode is FlightMode.TAKEOFF:
            n, e, _ = self.hold
            if abs(s.up_m - self.takeoff_up_m) < d.params["NAV_MC_ALT_RAD"]:
                d.announce(SEVERITY_INFO, "Takeoff detected")
                d.set_mode(FlightMode.LOITER, now_s)
            return self._takeoff_sp(n, e, self.takeoff_up_m)
        if mode is FlightMode.LAND:
            return self._land_sp(self.hold[0], self.hold[1])
        if mode is FlightMode.RTL:
            return self._rtl_setpoint(now_s)
        if mode is FlightMode.ORBIT and self.orbit is not None:
            return self._orbit_setpoint(self.orbit)
        if mode is FlightMode.MISSION:
            return self._mission_setpoint(now_s)
        return self._hold_here()

    def _orbit_setpoint(self, o: Orbit) -> Setpoint:
        s = self._d.phys
        r = abs(o.radius_m)
        direction = 1.0 if o.radius_m >= 0 else -1.0
        angle = math.atan2(s.east_m - o.east_m, s.north_m - o.north_m)
        ahead = angle + direction * max(2.0, abs(o.speed_mps)) / max(r, 1.0)
        n, e = o.north_m + r * math.cos(ahead), o.east_m + r * math.sin(ahead)
        yaw = math.atan2(o.east_m - s.east_m, o.north_m - s.north_m)
        return self._sp(n, e, o.up_m, speed=max(0.5, abs(o.speed_mps)), yaw=yaw)

    def _rtl_setpoint(self, now_s: float) -> Setpoint:
        d, s, p = self._d, self._d.phys, self._d.params
        dn, de, dup = self.rtl_dest
        phase = self.rtl_phase
        # PX4 returns at MPC_XY_CRUISE: a mission's DO_CHANGE_SPEED does not carry into RTL.
        speed = max(0.5, min(p["MPC_XY_CRUISE"], p["MPC_XY_VEL_MAX"]))
        if phase is RtlPhase.CLIMB:
            # The climb item is where RTL was commanded, at the return altitude; PX4 accepts it within
            # NAV_ACC_RAD and NAV_MC_ALT_RAD, then starts the return leg.
            hn, he, _ = self.hold
            if (
                s.up_m >= self.rtl_return_up_m - p["NAV_MC_ALT_RAD"]
                and math.hypot(s.north_m - hn, s.east_m - he) < p["NAV_ACC_RAD"]
            ):
                self._next_rtl(RtlPhase.RETURN, now_s)
            return self._sp(hn, he, self.rtl_return_up_m, speed=speed)
        if phase is RtlPhase.RETURN:
            if math.hypot(s.north_m - dn, s.east_m - de) < p["NAV_ACC_RAD"]:
                # RTL_LAND_DELAY 0: PX4 lands straight from the return altitude (LANDING from the top).
                self._next_rtl(
                    RtlPhase.LAND if p["RTL_LAND_DELAY"] == 0 else RtlPhase.DESCEND, now_s
                )
                if self.rtl_phase is RtlPhase.LAND:
                    d.announce(SEVERITY_INFO, "RTL: land at destination")
            # No turn on the spot first: with MPC_YAW_MODE 0 the heading follows the trajectory while
            # the vehicle already accelerates towards the destination.
            return replace(
                self._sp(dn, de, self.rtl_return_up_m, speed=speed),
                line_from=(self.hold[0], self.hold[1]),
            )
        if phase is RtlPhase.DESCEND:
            target = min(self.rtl_return_up_m, dup + p["RTL_DESCEND_ALT"])
            if s.up_m <= target + 1.0:
                self._next_rtl(RtlPhase.LOITER, now_s)
            return self._sp(dn, de, target, speed=speed)
        if phase is RtlPhase.LOITER:
            delay = p["RTL_LAND_DELAY"]
            if delay >= 0 and now_s - self._phase_started_s >= delay:
                d.announce(SEVERITY_INFO, "RTL: land at destination")
                self._next_rtl(RtlPhase.LAND, now_s)
            return self._sp(dn, de, s.up_m)
        if phase is RtlPhase.LAND:
            if s.on_ground:
                self._next_rtl(RtlPhase.LANDED, now_s)
            return self._land_sp(dn, de)
        return self._sp(s.north_m, s.east_m, 0.0 if s.on_ground else s.up_m)

    def _next_rtl(self, phase: RtlPhase, now_s: float) -> None:
        self.rtl_phase = phase
        self._phase_started_s = now_s

    def _mission_setpoint(self, now_s: float) -> Setpoint:
        d, s, p = self._d, self._d.phys, self._d.params
        items = d.plans.mission
        for _ in range(len(items) + 1):  # bounded: DO items are consumed in one pass
            if self.mission_finished or self.mission_index >= len(items):
                if not self.mission_finished:
                    self._finish(now_s)
                return self._hold_here() if not s.on_ground else self._sp(s.north_m, s.east_m, 0.0)
            it = items[self.mission_index]
            cmd = it.command
            if cmd not in NAV_POSITION_CMDS:
                if cmd == Cmd.NAV_RETURN_TO_LAUNCH:
                    self._reached(it.seq)
                    self._finish(now_s)
                    d.set_mode(FlightMode.RTL, now_s)
                    return self._hold_here()
                if cmd in (Cmd.NAV_DELAY, Cmd.CONDITION_DELAY):
                    if self._item_arrived_s is None:
                        self._item_arrived_s = now_s
                        self.hold = (s.north_m, s.east_m, s.up_m)
                    if now_s - self._item_arrived_s < max(0.0, it.param1):
                        return self._sp(*self.hold)
                    self._advance(it.seq + 1)
                    continue
                if cmd == Cmd.DO_JUMP:
                    done = self._jumps.get(it.seq, 0)
                    if done < int(it.param2):
                        self._jumps[it.seq] = done + 1
                        self._advance(int(it.param1))
                    else:
                        self._advance(it.seq + 1)
                    continue
                if cmd == Cmd.DO_CHANGE_SPEED:
                    if it.param2 > 0:
                        self.cruise_override_mps = it.param2
                    elif it.param2 == -1:
                        self.cruise_override_mps = None
                elif (
                    cmd in (Cmd.DO_SET_ROI_LOCATION, Cmd.DO_SET_ROI, Cmd.NAV_ROI) and it.frame != 2
                ):
                    n, e, _ = self.item_local(it)
                    self.roi = (n, e)
                elif cmd == Cmd.DO_SET_ROI_NONE:
                    self.roi = None
                self._advance(it.seq + 1)
                continue
            n, e, up = self.item_local(it)
            if cmd == Cmd.NAV_TAKEOFF:
                self._climb_first = False
                if s.up_m >= up - p["NAV_MC_ALT_RAD"]:
                    self._reached(it.seq)
                    self._advance(it.seq + 1)
                    continue
                return self._takeoff_sp(s.north_m, s.east_m, up)
            if self._climb_first and cmd != Cmd.NAV_LAND:
                climb_to = max(up, d.home_local()[2] + p["MIS_TAKEOFF_ALT"])
                if s.up_m < climb_to - p["NAV_MC_ALT_RAD"]:
                    return self._takeoff_sp(s.north_m, s.east_m, climb_to)
                self._climb_first = False
            if cmd == Cmd.NAV_LAND:
                if self._item_arrived_s is None:
                    if math.hypot(s.north_m - n, s.east_m - e) > p["NAV_ACC_RAD"]:
                        return self._sp(n, e, max(s.up_m, up))
                    self._item_arrived_s = now_s
                if s.on_ground:
                    self._reached(it.seq)
                    self._advance(it.seq + 1)
                    self._finish(now_s)
                return self._land_sp(n, e)
            if self._item_arrived_s is None:
                acc = it.param2 if cmd == Cmd.NAV_WAYPOINT and it.param2 > 0 else p["NAV_ACC_RAD"]
                if (
                    math.hypot(s.north_m - n, s.east_m - e) > acc
                    or abs(s.up_m - up) > p["NAV_MC_ALT_RAD"]
                ):
                    yaw = (
                        math.radians(it.param4)
                        if cmd == Cmd.NAV_WAYPOINT and math.isfinite(it.param4)
                        else None
                    )
                    return replace(self._sp(n, e, up, yaw=yaw), line_from=self.leg_from)
                self._item_arrived_s = now_s
                self._turns_start_angle = None
                self._reached(it.seq)
            if cmd == Cmd.NAV_LOITER_UNLIM:
                return self._sp(n, e, up)
            if cmd == Cmd.NAV_LOITER_TURNS and it.param1 > 0 and abs(it.param3) > 0.5:
                if self._loiter_turns(it, n, e, up):
                    self._advance(it.seq + 1)
                    continue
                return self._orbit_setpoint(Orbit(n, e, it.param3, min(self.cruise_mps(), 5.0), up))
            wait = it.param1 if cmd in (Cmd.NAV_WAYPOINT, Cmd.NAV_LOITER_TIME) else 0.0
            if now_s - self._item_arrived_s < max(0.0, wait):
                return self._sp(n, e, up)
            self._advance(it.seq + 1)
        return self._hold_here()

    def _loiter_turns(self, it: Item, n: float, e: float, up: float) -> bool:
        s = self._d.phys
        angle = math.atan2(s.east_m - e, s.north_m - n)
        if self._turns_start_angle is None:
            self._turns_start_angle = angle
            self._turns_progress_rad = 0.0
            self._last_angle = angle
        delta = (angle - self._last_angle + math.pi) % math.tau - math.pi
        self._last_angle = angle
        self._turns_progress_rad += abs(delta)
        return self._turns_progress_rad >= it.param1 * math.tau

    def _reached(self, seq: int) -> None:
        self._d.mission_item_reached(seq)

    def _advance(self, seq: int) -> None:
        items = self._d.plans.mission
        if (
            self.mission_index < len(items)
            and items[self.mission_index].command in NAV_POSITION_CMDS
        ):
            n, e, _ = self.item_local(items[self.mission_index])
            self.leg_from = (n, e)
        self.mission_index = seq
        self._item_arrived_s = None
        self._turns_start_angle = None
        if seq < len(self._d.plans.mission):
            self._d.mission_current_changed(seq)

    def _finish(self, now_s: float) -> None:
        self.mission_finished = True
        self._d.mission_finished(now_s)
