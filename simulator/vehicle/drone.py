"""One PX4-compatible simulated drone: the commander's state (arming, modes, home, landing) composing its parts.

The parts each own one side of PX4: `Navigator` (what to fly), `MissionProtocol` and
`ParamProtocol` (microservices), `Commands` (COMMAND_LONG/INT), `Telemetry` (streams) and
`Failsafes`. Each sees the drone through a protocol of what it uses, so none imports this module.
"""

from __future__ import annotations

import logging
import math
from dataclasses import replace
from typing import Any

from pymavlink.dialects.v20 import common as M  # noqa: N812

from . import physics
from .clock import SimClock
from .commands import TEMPORARILY_REJECTED, Commands
from .config import DroneConfig
from .failsafes import Failsafes
from .fence import FenceShape, build_fence
from .frame import LocalFrame
from .gimbal import Gimbal
from .link import Link, LinkCut, open_link
from .mission import MissionType, Plans, check_mission_feasible, new_plans
from .mission_protocol import MissionProtocol
from .modes import FlightMode
from .navigator import Navigator, RtlPhase
from .param_protocol import ParamProtocol
from .params import ParamStore
from .snapshot import DroneSnapshot
from .telemetry import Telemetry
from .view import SEVERITY_CRITICAL, SEVERITY_INFO

log = logging.getLogger(__name__)

#: PX4's commander re-runs its health and mode checks every 0.1 s ("Run arming checks @ 10Hz" in
#: Commander::run) and inside arm(); a command is judged on the last run. The navigator checks a new
#: upload as soon as the mission topic wakes it, so AUTO.MISSION becomes available at the first
#: commander check after the upload: at once after an arm, up to 0.1 s later otherwise.
COMMANDER_CHECK_PERIOD_S = 0.1
DOCK_RADIUS_M = 10.0  # landed this close to its boot position, a drone is on its dock's charger
_MAX_STEPS_PER_TICK = 500  # a stalled loop skips ahead instead of replaying minutes of physics
# PX4 SIH reports ON_GROUND 4-6 s after touchdown (reference flights): LNDMC_TRIG_TIME's hysteresis
# plus the landing thrust winding down to the ground-contact threshold, which this model has no thrust for.
LAND_THRUST_WIND_DOWN_S = 3.5


def tuning_from_params(p: ParamStore) -> physics.Tuning:
    """The flight-control limits and gains the vehicle's PX4 parameters set."""
    return physics.Tuning(
        jerk_m_s3=max(0.5, p["MPC_JERK_AUTO"]),
        acc_hor_m_s2=max(0.1, min(p["MPC_ACC_HOR"], p["MPC_ACC_HOR_MAX"])),
        acc_up_m_s2=max(0.1, p["MPC_ACC_UP_MAX"]),
        acc_down_m_s2=max(0.1, p["MPC_ACC_DOWN_MAX"]),
        vel_max_mps=max(0.5, p["MPC_XY_VEL_MAX"]),
        err_max_m=max(0.1, p["MPC_XY_ERR_MAX"]),
        pos_p=max(0.05, p["MPC_XY_P"]),
        pos_z_p=max(0.05, p["MPC_Z_P"]),
        vel_p=max(0.05, p["MPC_XY_VEL_P_ACC"]),
        vel_i=max(0.0, p["MPC_XY_VEL_I_ACC"]),
        vel_z_p=max(0.05, p["MPC_Z_VEL_P_ACC"]),
        vel_z_i=max(0.0, p["MPC_Z_VEL_I_ACC"]),
        tilt_max_rad=math.radians(max(5.0, min(89.0, p["MPC_TILTMAX_AIR"]))),
        sih_mass_kg=max(0.05, p["SIH_MASS"]),
        sih_drag_n_s_m=max(0.0, p["SIH_KDV"]),
        yaw_rate_rad_s=math.radians(max(1.0, p["MPC_YAWRAUTO_MAX"])),
    )


class SimDrone:
    """A PX4 SITL look-alike on the wire; all timing comes from the shared SimClock."""

    def __init__(self, cfg: DroneConfig, clock: SimClock) -> None:
        self.cfg = cfg
        self.clock = clock
        self.index = cfg.index
        self.sysid = cfg.system_id
        self.frame = LocalFrame(cfg.home_lat_deg, cfg.home_lon_deg, cfg.home_alt_amsl_m)
        self.params = ParamStore({"MAV_SYS_ID": self.sysid, **cfg.params})
        self.airframe = physics.Airframe()
        self.tuning = tuning_from_params(self.params)
        self._tuning_version = self.params.version
        #: PX4's land detector: ON_GROUND some seconds after touchdown, not at the instant of contact.
        self.land_detected = True
        self.wind = physics.Wind()
        self.seed = cfg.seed * 1_000_003 + cfg.index
        self.phys = physics.initial_state(self.airframe)
        self.mode = FlightMode.LOITER
        self.armed = False
        self.terminated = False
        # Local north, east, up; PX4 sets it at boot with GPS.
        self.home: tuple[float, float, float] | None = (0.0, 0.0, 0.0)
        self.plans: Plans = new_plans()
        self.mission_valid = False
        self.mission_validated_at_s = 0.0
        # Each vehicle's commander loop started at its own moment of boot.
        self._check_phase_s = (self.seed % 1000) / 1000 * COMMANDER_CHECK_PERIOD_S
        self._checks_ran_at_s = -math.inf
        self.mission_rejection: str | None = None
        self.fence_shapes: list[FenceShape] = []
        self.took_off = False
        self.links: list[Link] = []
        self.events: list[tuple[float, str]] = []
        self.nav = Navigator(self)
        self.failsafes = Failsafes(self, clock.now_s)
        self.telemetry = Telemetry(self)
        self.gimbal = Gimbal(self.sysid)
        self.commands = Commands(self)
        self.mission = MissionProtocol(self)
        self.param_protocol = ParamProtocol(
            self.params, self.sysid, self.announce, self.telemetry.send_all
        )
        self._armed_at_s = 0.0
        self._on_ground_since_s: float | None = 0.0
        self._charging = False
        self._last_physics_s = 0.0

    # --- lifecycle ------------------------------------------------------------------------------
    async def start(self) -> None:
        """Open the API link (and the GCS link if configured)."""
        c = self.cfg
        self.links.append(
            await open_link(
                "api",
                True,
                self.sysid,
                c.api_port,
                c.client_port,
                self.handle,
                self.clock.now_s,
                c.host,
            )
        )
        if c.gcs_port is not None:
            self.links.append(
                await open_link(
                    "gcs",
                    False,
                    self.sysid,
                    c.gcs_port,
                    c.gcs_remote_port,
                    self.handle,
                    self.clock.now_s,
                    c.host,
                )
            )
        self.links_opened(self.clock.now_s())

    def links_opened(self, now_s: float) -> None:
        """Start every link's default streams and the physics clock at `now_s`."""
        for link in self.links:
            self.telemetry.streams.add_link(link.name, link.onboard, now_s)
        self._last_physics_s = now_s
        self.phys = replace(self.phys, t_s=now_s)

    def close(self) -> None:
        """Close the sockets."""
        for link in self.links:
            link.close()

    # --- geometry -------------------------------------------------------------------------------
    @property
    def origin_alt_amsl_m(self) -> float:
        """AMSL altitude of the boot position (local height 0)."""
        return self.frame.alt_amsl_m

    def home_local(self) -> tuple[float, float, float]:
        """Home in the local frame (the origin if unset)."""
        return self.home if self.home is not None else (0.0, 0.0, 0.0)

    def home_global(self) -> tuple[float, float, float]:
        """Home latitude, longitude, AMSL altitude."""
        n, e, up = self.home_local()
        lat, lon = self.frame.to_latlon(n, e)
        return lat, lon, self.frame.amsl_m(up)

    def position_global(self) -> tuple[float, float, float]:
        """True latitude, longitude, AMSL altitude."""
        s = self.phys
        lat, lon = self.frame.to_latlon(s.north_m, s.east_m)
        return lat, lon, self.frame.amsl_m(s.up_m)

    def gps_ok(self) -> bool:
        """Whether GPS has a 3D fix (no GPS-loss fault)."""
        return self.failsafes.gps_ok()

    def snapshot(self) -> DroneSnapshot:
        """Read-only true state now (the camera renders from this)."""
        s = self.phys
        lat, lon, alt = self.position_global()
        return DroneSnapshot(
            index=self.index,
            system_id=self.sysid,
            time_s=s.t_s,
            lat_deg=lat,
            lon_deg=lon,
            alt_amsl_m=alt,
            alt_rel_home_m=s.up_m - self.home_local()[2],
            roll_rad=s.roll_rad,
            pitch_rad=s.pitch_rad,
            yaw_rad=s.yaw_rad,
            vn_mps=s.vn_mps,
            ve_mps=s.ve_mps,
            vu_mps=s.vu_mps,
            ground_speed_mps=s.ground_speed_mps,
            armed=self.armed,
            mode=self.mode.name,
            landed=s.on_ground,
            battery_fraction=physics.battery_fraction(s, self.airframe),
            battery_voltage_v=physics.battery_voltage_v(s, self.airframe),
            gps_ok=self.gps_ok(),
            mission_seq=self.nav.mission_index,
            mission_total=len(self.plans.mission),
            gimbal_pitch_deg=self.gimbal.pitch_deg,
        )

    # --- outgoing ---------------------------------------------------------------------------------
    def send_all(self, msg: Any, camera: bool = False) -> None:
        """Send on every link."""
        self.telemetry.send_all(msg, camera)

    def announce(self, severity: int, text: str) -> None:
        """STATUSTEXT on every link; PX4 ends event texts with a tab."""
        self.events.append((self.clock.now_s(), text))
        del self.events[:-200]
        log.info("drone %d: %s", self.index, text)
        data = (text + "\t").encode()[:50]
        self.telemetry.send_all(M.MAVLink_statustext_message(severity, data, 0, 0))

    # --- modes and arming -------------------------------------------------------------------------
    def set_mode(self, mode: FlightMode, now_s: float) -> None:
        """Switch navigation state (no checks; callers check)."""
        if mode is not self.mode or mode in (FlightMode.RTL, FlightMode.LOITER):
            previous = self.mode
            self.mode = mode
            self.nav.enter(mode, now_s)
            if mode is not previous:
                self.telemetry.send_mission_current()

    def mission_ready(self, now_s: float) -> bool:
        """A non-empty mission that passed the navigator's check, as the commander's last check saw it."""
        return (
            bool(self.plans.mission)
            and self.mission_valid
            and self.last_commander_check_s(now_s) >= self.mission_validated_at_s
        )

    def last_commander_check_s(self, now_s: float) -> float:
        """When the commander last ran its health and mode checks, as of `now_s`."""
        period_s, phase_s = COMMANDER_CHECK_PERIOD_S, self._check_phase_s
        # The tolerance keeps a check that falls exactly on `now_s` from being lost to rounding.
        periodic_s = phase_s + math.floor((now_s - phase_s) / period_s + 1e-9) * period_s
        return max(periodic_s, self._checks_ran_at_s)

    def arming_refusal(self, now_s: float) -> str | None:
        """The first pre-arm check that fails now, as PX4 words it."""
        if not self.gps_ok():
            return "Preflight Fail: GPS fix too low"
        if self.home is None:
            return "Preflight Fail: no home position"
        frac = physics.battery_fraction(self.phys, self.airframe)
        if frac <= self.params["BAT_CRIT_THR"]:
            return "Preflight Fail: low battery"
        if self.params["NAV_DLL_ACT"] > 0 and not self.failsafes.gcs_connected(now_s):
            return "Preflight Fail: No connection to the GCS"
        if self.params["GF_ACTION"] > 0 and self.failsafes.fence_violation() is not None:
            return "Preflight Fail: Vehicle outside geofence"
        if self.mode is FlightMode.MISSION and not self.mission_ready(now_s):
            return "Preflight Fail: No valid mission"
        if self.terminated:
            return "Preflight Fail: flight termination active"
        return None

    def arm(self, now_s: float, force: bool, reason: str) -> str | None:
        """Arm unless a pre-arm check fails (returns the refusal text)."""
        if self.armed:
            return None
        if not force:
            self._checks_ran_at_s = now_s
        refusal = None if force else self.arming_refusal(now_s)
        if refusal is not None:
            self.announce(SEVERITY_CRITICAL, refusal)
            return refusal
        self.armed = True
        self._armed_at_s = now_s
        self.took_off = False
        self._charging = False
        self.nav.armed(now_s)
        # PX4 re-sets home where it arms.
        s = self.phys
        self.home = (s.north_m, s.east_m, s.up_m)
        self.announce(SEVERITY_INFO, f"Armed by {reason}")
        self.telemetry.send_home()
        return None

    def disarm(self, now_s: float, reason: str) -> None:
        """Disarm (motors stop)."""
        if not self.armed:
            return
        self.armed = False
        self.announce(SEVERITY_INFO, f"Disarmed by {reason}")
        if self.mode in (FlightMode.LAND, FlightMode.RTL, FlightMode.TAKEOFF):
            self.set_mode(FlightMode.LOITER, now_s)
        # Only a drone back on its dock is on a charger; one that landed at the scene is not.
        self._charging = self.on_dock()
        self._charge(0.0)

    def on_dock(self) -> bool:
        """On the ground within DOCK_RADIUS_M of where it booted (its dock)."""
        s = self.phys
        return s.on_ground and math.hypot(s.north_m, s.east_m) <= DOCK_RADIUS_M

    def _charge(self, dt_s: float) -> None:
        if not self._charging:
            return
        capacity_wh = self.airframe.battery_capacity_wh
        rate_s = self.cfg.dock_charge_s
        energy_wh = (
            capacity_wh
            if rate_s <= 0
            else min(capacity_wh, self.phys.energy_wh + capacity_wh * dt_s / rate_s)
        )
        self.phys = replace(self.phys, energy_wh=energy_wh)
        self._charging = energy_wh < capacity_wh

    # --- mission plumbing used by navigator and protocol ----------------------------------------
    def plan_uploaded(self, mission_type: MissionType, now_s: float) -> None:
        """A plan changed: PX4's navigator re-validates the mission / reloads the fence."""
        if mission_type in (MissionType.MISSION, MissionType.ALL):
            self.mission_rejection = (
                check_mission_feasible(self.plans.mission) if self.plans.mission else None
            )
            self.mission_valid = bool(self.plans.mission) and self.mission_rejection is None
            self.mission_validated_at_s = now_s
            self.nav.reset_mission(0)
            self.telemetry.forget_reached()
            if self.mission_rejection:
                self.announce(SEVERITY_CRITICAL, self.mission_rejection)
            if self.mode is FlightMode.MISSION:
                self.set_mode(FlightMode.LOITER, now_s)
        if mission_type in (MissionType.FENCE, MissionType.ALL):
            shapes = build_fence(self.plans.fence, self.frame.lat_deg, self.frame.lon_deg)
            if shapes is None:
                self.announce(SEVERITY_CRITICAL, "Geofence invalid, doesn't match vertex count")
                shapes = []
            self.fence_shapes = shapes
        self.telemetry.send_mission_current()

    def mission_item_reached(self, seq: int) -> None:
        """Navigator reached item `seq`: MISSION_ITEM_REACHED now, then repeated at the slow rate."""
        self.telemetry.item_reached(seq)

    def mission_current_changed(self, seq: int) -> None:
        """Navigator moved to item `seq`."""
        self.plans.current_seq = seq
        self.telemetry.send_mission_current()

    def mission_set_current(self, seq: int) -> None:
        """MISSION_SET_CURRENT: continue the mission from item `seq`."""
        self.plans.current_seq = seq
        self.nav.set_current(seq)
        self.mission_current_changed(seq)

    def mission_finished(self, now_s: float) -> None:
        """Last item done: PX4 loiters unless it was landing or returning."""
        self.announce(
            SEVERITY_INFO,
            "Mission finished, loitering" if not self.phys.on_ground else "Mission finished",
        )
        self.telemetry.send_mission_current()
        if self.mode is FlightMode.MISSION and not self.phys.on_ground:
            self.set_mode(FlightMode.LOITER, now_s)

    # --- tick -------------------------------------------------------------------------------------
    def tick(self, now_s: float) -> None:
        """Advance physics to `now_s` in fixed steps, run commander checks, send due streams."""
        self.advance(now_s)
        self.mission.poll(now_s)
        self.telemetry.send_due(now_s)

    def advance(self, now_s: float) -> None:
        """Advance physics, navigator and commander to `now_s` (no link traffic)."""
        dt = physics.PHYSICS_DT_S
        steps = 0
        if self.params.version != self._tuning_version:
            self.tuning = tuning_from_params(self.params)
            self._tuning_version = self.params.version
        while self._last_physics_s + dt <= now_s and steps < _MAX_STEPS_PER_TICK:
            t = self._last_physics_s + dt
            motors = self.armed and not self.terminated
            sp = self.nav.setpoint(t) if motors else physics.Setpoint(0, 0, 0, 0, 0, 0, None, False)
            if motors and sp.motors_on is False:
                sp = replace(sp, motors_on=True)
            self.phys = physics.step(
                self.phys,
                sp if motors else replace(sp, motors_on=False),
                self.airframe,
                self.wind,
                self.seed,
                dt,
                self.tuning,
            )
            self._last_physics_s = t
            if self._charging:
                self._charge(dt)
            self._commander(t)
            steps += 1
        if steps >= _MAX_STEPS_PER_TICK:
            self._last_physics_s = now_s

    def _commander(self, now_s: float) -> None:
        # Landing detection and PX4's automatic disarms, then the failsafes.
        s = self.phys
        detect_s = self.params["LNDMC_TRIG_TIME"] + LAND_THRUST_WIND_DOWN_S
        if s.on_ground:
            if self._on_ground_since_s is None:
                self._on_ground_since_s = now_s
            if not self.land_detected and (
                not (self.armed and self.took_off) or now_s - self._on_ground_since_s >= detect_s
            ):
                self.land_detected = True
                if self.armed and self.took_off:
                    self.announce(SEVERITY_INFO, "Landing detected")
        else:
            self._on_ground_since_s = None
            self.land_detected = False
            if s.up_m - self.home_local()[2] > 1.0 or s.up_m > 1.0:
                self.took_off = True
        if self.armed and s.on_ground and self._on_ground_since_s is not None:
            grounded = now_s - self._on_ground_since_s
            if self.took_off and grounded >= detect_s + self.params["COM_DISARM_LAND"]:
                self.disarm(now_s, "landing")
                if self.mode is FlightMode.MISSION and self.nav.mission_finished:
                    self.set_mode(FlightMode.LOITER, now_s)
            elif (
                not self.took_off
                and now_s - max(self._armed_at_s, self._on_ground_since_s)
                >= self.params["COM_DISARM_PRFLT"]
            ):
                self.disarm(now_s, "auto preflight disarming")
        self.failsafes.check(now_s)

    # --- incoming ---------------------------------------------------------------------------------
    def handle(self, link: Link, msg: Any) -> None:
        """Dispatch one decoded message from `link`."""
        now = self.clock.now_s()
        mtype = msg.get_type()
        if mtype == "HEARTBEAT":
            if msg.type == 6:  # MAV_TYPE_GCS
                self.failsafes.gcs_seen_s = now
        elif mtype in ("COMMAND_LONG", "COMMAND_INT"):
            self.commands.handle(link, msg, now)
        elif mtype.startswith("MISSION_"):
            self.mission.handle(link, msg, now)
        elif mtype.startswith("PARAM_"):
            self.param_protocol.handle(link, msg)
        elif mtype == "SET_MODE":
            if msg.target_system == self.sysid:
                self.commands.set_mode(
                    msg.base_mode,
                    (msg.custom_mode >> 16) & 0xFF,
                    (msg.custom_mode >> 24) & 0xFF,
                    now,
                )
        elif mtype == "PING":
            if msg.target_system == 0:
                link.send(
                    M.MAVLink_ping_message(
                        msg.time_usec, msg.seq, msg.get_srcSystem(), msg.get_srcComponent()
                    )
                )
        elif mtype == "TIMESYNC" and msg.tc1 == 0:
            reply = M.MAVLink_timesync_message(int(now * 1e9), msg.ts1)
            if "target_system" in reply.fieldnames:
                # The reply's target fields are a later MAVLink extension; PX4 fills them.
                reply.target_system = msg.get_srcSystem()
                reply.target_component = msg.get_srcComponent()
            link.send(reply)

    # --- faults -----------------------------------------------------------------------------------
    def fault_link_cut(
        self, duration_s: float, inbound: bool, outbound: bool, link_name: str | None = None
    ) -> None:
        """Drop traffic to (inbound) and/or from (outbound) the vehicle for `duration_s` simulated seconds."""
        until = self.clock.now_s() + duration_s
        for link in self.links:
            if link_name is None or link.name == link_name:
                link.cut = LinkCut(until, inbound, outbound)

    def fault_gps_loss(self, duration_s: float) -> None:
        """No GPS fix for `duration_s` simulated seconds."""
        self.failsafes.lose_gps(duration_s)

    def fault_battery_drop(self, fraction: float) -> None:
        """Set the remaining battery charge to `fraction` (0..1); it stays until a flight ends on the dock."""
        self._charging = False
        self.phys = replace(
            self.phys, energy_wh=max(0.0, min(1.0, fraction)) * self.airframe.battery_capacity_wh
        )

    def fault_wind(self, speed_mps: float, from_deg: float, gust_mps: float) -> None:
        """Change the wind."""
        self.wind = physics.Wind(speed_mps, from_deg, gust_mps)

    def fault_refuse_next_command(self, result: int = TEMPORARILY_REJECTED) -> None:
        """Answer the next autopilot command with `result` and ignore it."""
        self.commands.refuse_next = result

    @property
    def rtl_phase(self) -> RtlPhase:
        """Current RTL stage (meaningful in RTL mode)."""
        return self.nav.rtl_phase

    def stats(self) -> dict[str, int]:
        """Counters of the links."""
        return {
            "rx_messages": sum(link.rx_messages for link in self.links),
            "rx_errors": sum(link.rx_errors for link in self.links),
            "tx_messages": sum(link.tx_messages for link in self.links),
        }
