"""One PX4-compatible simulated drone: links, streams, commander, mission protocol, failsafes and faults."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from pymavlink.dialects.v20 import common as mavlink2

from . import physics
from .clock import SimClock
from .fence import FenceShape, build_fence, inside_fence
from .link import CAMERA_COMPONENT_ID, Link, LinkCut, open_link
from .mission import MissionType, Plans, check_mission_feasible, new_plans, plan_crc32
from .mission_protocol import MissionProtocol
from .modes import FlightMode, base_mode, custom_mode, decode_custom_mode
from .navigator import Navigator, Orbit, RtlPhase
from .params import ParamStore, decode_value, encode_value
from .snapshot import DroneSnapshot

log = logging.getLogger(__name__)

M = mavlink2
SEVERITY_CRITICAL, SEVERITY_WARNING, SEVERITY_INFO = 2, 4, 6
# MAV_RESULT
ACCEPTED, TEMPORARILY_REJECTED, DENIED, UNSUPPORTED, FAILED = 0, 1, 2, 3, 4
FORCE_ARM_MAGIC = 21196
MISSION_VALIDATION_S = 0.5  # navigator checks a fresh upload before MISSION_START is allowed
GPS_LOSS_FAILSAFE_S = 1.0
DOCK_RADIUS_M = 10.0  # landed this close to its boot position, a drone is on its dock's charger
# SYS_STATUS sensor bits PX4 reports and MAVSDK's health reads.
_SENSORS = 0x1 | 0x2 | 0x4 | 0x8 | 0x20 | 0x8000 | 0x10000 | 0x200000 | 0x10000000
_GPS_BIT, _PREARM_BIT = 0x20, 0x10000000
# AUTOPILOT_VERSION capabilities: MISSION_FLOAT|PARAM_FLOAT|MISSION_INT|COMMAND_INT|PARAM_ENCODE_BYTEWISE|
# FTP|SET_ATTITUDE_TARGET|SET_POSITION_TARGET_LOCAL_NED|SET_POSITION_TARGET_GLOBAL_INT|TERRAIN|MAVLINK2|MISSION_FENCE|MISSION_RALLY
_CAPABILITIES = 1 | 2 | 4 | 8 | 16 | 32 | 128 | 256 | 512 | 1024 | 8192 | 16384 | 32768

_MANUAL_MODES = {
    FlightMode.MANUAL,
    FlightMode.ALTCTL,
    FlightMode.POSCTL,
    FlightMode.STABILIZED,
    FlightMode.ACRO,
    FlightMode.OFFBOARD,
}


@dataclass(frozen=True, slots=True)
class DroneConfig:
    """Identity, home and ports of drone `index` (PX4 SITL instance i)."""

    index: int
    home_lat_deg: float
    home_lon_deg: float
    home_alt_amsl_m: float
    api_port: int
    client_port: int
    gcs_port: int | None = None
    gcs_remote_port: int = 14550
    video_port: int = 5600
    #: What VIDEO_STREAM_INFORMATION announces; the fleet sets it to what its camera really sends.
    video_fps: float = 30.0
    video_width_px: int = 640
    video_height_px: int = 360
    video_bitrate_kbps: int = 2048
    seed: int = 0
    params: dict[str, float] = field(default_factory=dict)
    max_stream_hz: float | None = None
    host: str = "127.0.0.1"
    #: Simulated seconds to charge an empty battery on the dock after a flight; 0 = full at
    #: disarm, as PX4 SITL's battery simulator resets to full whenever it is disarmed.
    dock_charge_s: float = 0.0

    @property
    def system_id(self) -> int:
        """MAV_SYS_ID = instance + 1."""
        return self.index + 1


@dataclass(slots=True)
class Stream:
    """A periodic message on one link."""

    msg_id: int
    default_hz: float
    interval_s: float
    next_due_s: float = 0.0


# (message id, onboard-link Hz, normal/GCS-link Hz) from PX4's configure_streams_to_default.
STREAM_TABLE: tuple[tuple[int, float, float], ...] = (
    (M.MAVLINK_MSG_ID_HEARTBEAT, 1.0, 1.0),
    (M.MAVLINK_MSG_ID_GLOBAL_POSITION_INT, 50.0, 5.0),
    (M.MAVLINK_MSG_ID_ATTITUDE, 100.0, 15.0),
    (M.MAVLINK_MSG_ID_SYS_STATUS, 5.0, 1.0),
    (M.MAVLINK_MSG_ID_BATTERY_STATUS, 0.5, 0.5),
    (M.MAVLINK_MSG_ID_EXTENDED_SYS_STATE, 5.0, 1.0),
    (M.MAVLINK_MSG_ID_HOME_POSITION, 0.5, 0.5),
    (M.MAVLINK_MSG_ID_GPS_RAW_INT, 10.0, 5.0),
    (M.MAVLINK_MSG_ID_VFR_HUD, 10.0, 4.0),
    (M.MAVLINK_MSG_ID_ALTITUDE, 10.0, 1.0),
    (M.MAVLINK_MSG_ID_MISSION_CURRENT, 1.0, 1.0),
    (M.MAVLINK_MSG_ID_ORBIT_EXECUTION_STATUS, 2.0, 2.0),
)


class SimDrone:
    """A PX4 SITL look-alike on the wire; all timing comes from the shared SimClock."""

    def __init__(self, cfg: DroneConfig, clock: SimClock) -> None:
        self.cfg = cfg
        self.clock = clock
        self.index = cfg.index
        self.sysid = cfg.system_id
        self.origin_lat_deg = cfg.home_lat_deg
        self.origin_lon_deg = cfg.home_lon_deg
        self.origin_alt_amsl_m = cfg.home_alt_amsl_m
        self.params = ParamStore({"MAV_SYS_ID": self.sysid, **cfg.params})
        self.airframe = physics.Airframe()
        self.wind = physics.Wind()
        self.seed = cfg.seed * 1_000_003 + cfg.index
        self.phys = physics.initial_state(self.airframe)
        self.mode = FlightMode.LOITER
        self.armed = False
        self.terminated = False
        self.home: tuple[float, float, float] | None = (
            0.0,
            0.0,
            0.0,
        )  # local n, e, up; PX4 sets it at boot with GPS
        self.plans: Plans = new_plans()
        self.mission_valid = False
        self.mission_valid_from_s = 0.0
        self.mission_rejection: str | None = None
        self.fence_shapes: list[FenceShape] = []
        self.nav = Navigator(self)
        self.mission = MissionProtocol(self)
        self.links: list[Link] = []
        self.streams: dict[str, dict[int, Stream]] = {}
        self._last_reached: int | None = None
        self._reached_repeats = 0
        self._armed_at_s = 0.0
        self._took_off = False
        self._on_ground_since_s: float | None = 0.0
        self._gcs_seen_s: float | None = None
        self._dll_lost = False
        self._fence_breached = False
        self._failsafe_pending: tuple[str, float] | None = None
        self._battery_level = 0  # 0 ok, 1 low, 2 critical, 3 emergency
        self._charging = False
        self._gps_lost_until_s = -1.0
        self._gps_lost_since_s: float | None = None
        self._refuse_next: int | None = None
        self._last_physics_s = 0.0
        self.events: list[tuple[float, str]] = []

    # --- lifecycle ------------------------------------------------------------------------------
    async def start(self) -> None:
        """Open the API link (and the GCS link if configured)."""
        c = self.cfg
        api = await open_link(
            "api",
            True,
            self.sysid,
            c.api_port,
            c.client_port,
            self.handle,
            self.clock.now_s,
            c.host,
        )
        self.links.append(api)
        if c.gcs_port is not None:
            gcs = await open_link(
                "gcs",
                False,
                self.sysid,
                c.gcs_port,
                c.gcs_remote_port,
                self.handle,
                self.clock.now_s,
                c.host,
            )
            self.links.append(gcs)
        now = self.clock.now_s()
        for link in self.links:
            table: dict[int, Stream] = {}
            for msg_id, onboard_hz, normal_hz in STREAM_TABLE:
                hz = onboard_hz if link.onboard else normal_hz
                table[msg_id] = Stream(msg_id, hz, self._interval(hz), now)
            self.streams[link.name] = table
        self._last_physics_s = now
        self.phys = replace(self.phys, t_s=now)

    def _interval(self, hz: float) -> float:
        cap = self.cfg.max_stream_hz
        if cap is not None:
            hz = min(hz, cap)
        return 1.0 / hz if hz > 0 else math.inf

    def close(self) -> None:
        """Close the sockets."""
        for link in self.links:
            link.close()

    # --- geometry -------------------------------------------------------------------------------
    def home_local(self) -> tuple[float, float, float]:
        """Home in the local frame (the origin if unset)."""
        return self.home if self.home is not None else (0.0, 0.0, 0.0)

    def home_global(self) -> tuple[float, float, float]:
        """Home latitude, longitude, AMSL altitude."""
        n, e, up = self.home_local()
        lat, lon = physics.offset_to_latlon(self.origin_lat_deg, self.origin_lon_deg, n, e)
        return lat, lon, self.origin_alt_amsl_m + up

    def position_global(self) -> tuple[float, float, float]:
        """True latitude, longitude, AMSL altitude."""
        s = self.phys
        lat, lon = physics.offset_to_latlon(
            self.origin_lat_deg, self.origin_lon_deg, s.north_m, s.east_m
        )
        return lat, lon, self.origin_alt_amsl_m + s.up_m

    def gps_ok(self) -> bool:
        """Whether GPS has a 3D fix (no GPS-loss fault)."""
        return self.clock.now_s() >= self._gps_lost_until_s

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
        )

    # --- outgoing ---------------------------------------------------------------------------------
    def send_all(self, msg: Any, camera: bool = False) -> None:
        """Send on every link."""
        for link in self.links:
            link.send(msg, camera)

    def announce(self, severity: int, text: str) -> None:
        """STATUSTEXT on every link; PX4 ends event texts with a tab."""
        self.events.append((self.clock.now_s(), text))
        del self.events[:-200]
        log.info("drone %d: %s", self.index, text)
        data = (text + "\t").encode()[:50]
        self.send_all(M.MAVLink_statustext_message(severity, data, 0, 0))

    # --- modes and arming -------------------------------------------------------------------------
    def set_mode(self, mode: FlightMode, now_s: float) -> None:
        """Switch navigation state (no checks; callers check)."""
        if mode is not self.mode or mode in (FlightMode.RTL, FlightMode.LOITER):
            previous = self.mode
            self.mode = mode
            self.nav.enter(mode, now_s)
            if mode is not previous:
                self._send_mission_current_all()

    def _mode_refusal(self, mode: FlightMode, now_s: float) -> str | None:
        if mode in _MANUAL_MODES:
            return f"Switching to {mode.name.title()} is currently not possible: no manual control input"
        if not self.gps_ok() and mode is not FlightMode.LAND:
            return f"Switching to {mode.name.title()} is currently not possible: no valid global position"
        if mode is FlightMode.RTL and self.home is None:
            return "Switching to Return is currently not possible: no home position"
        if mode is FlightMode.MISSION and not self.mission_ready(now_s):
            return "Switching to Mission is currently not possible: no valid mission"
        return None

    def mission_ready(self, now_s: float) -> bool:
        """A non-empty mission that passed the navigator's feasibility check."""
        return (
            bool(self.plans.mission) and self.mission_valid and now_s >= self.mission_valid_from_s
        )

    def _arming_refusal(self, now_s: float) -> str | None:
        if not self.gps_ok():
            return "Preflight Fail: GPS fix too low"
        if self.home is None:
            return "Preflight Fail: no home position"
        frac = physics.battery_fraction(self.phys, self.airframe)
        if frac <= self.params["BAT_CRIT_THR"]:
            return "Preflight Fail: low battery"
        if self.params["NAV_DLL_ACT"] > 0 and not self._gcs_connected(now_s):
            return "Preflight Fail: No connection to the GCS"
        if self.params["GF_ACTION"] > 0 and self._fence_violation() is not None:
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
        refusal = None if force else self._arming_refusal(now_s)
        if refusal is not None:
            self.announce(SEVERITY_CRITICAL, refusal)
            return refusal
        self.armed = True
        self._armed_at_s = now_s
        self._took_off = False
        self._charging = False
        # PX4 re-sets home where it arms.
        s = self.phys
        self.home = (s.north_m, s.east_m, s.up_m)
        self.announce(SEVERITY_INFO, f"Armed by {reason}")
        self._send_home_all()
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
            self.mission_valid_from_s = now_s + MISSION_VALIDATION_S
            self.nav.reset_mission(0)
            self._last_reached = None
            if self.mission_rejection:
                self.announce(SEVERITY_CRITICAL, self.mission_rejection)
            if self.mode is FlightMode.MISSION:
                self.set_mode(FlightMode.LOITER, now_s)
        if mission_type in (MissionType.FENCE, MissionType.ALL):
            shapes = build_fence(self.plans.fence, self.origin_lat_deg, self.origin_lon_deg)
            if shapes is None:
                self.announce(SEVERITY_CRITICAL, "Geofence invalid, doesn't match vertex count")
                shapes = []
            self.fence_shapes = shapes
        self._send_mission_current_all()

    def mission_item_reached(self, seq: int) -> None:
        """Navigator reached item `seq`: MISSION_ITEM_REACHED now, then repeated at the slow rate."""
        self._last_reached = seq
        self._reached_repeats = 10
        self.send_all(M.MAVLink_mission_item_reached_message(seq))

    def mission_current_changed(self, seq: int) -> None:
        """Navigator moved to item `seq`."""
        self.plans.current_seq = seq
        self._send_mission_current_all()

    def mission_finished(self, now_s: float) -> None:
        """Last item done: PX4 loiters unless it was landing or returning."""
        self.announce(
            SEVERITY_INFO,
            "Mission finished, loitering" if not self.phys.on_ground else "Mission finished",
        )
        self._send_mission_current_all()
        if self.mode is FlightMode.MISSION and not self.phys.on_ground:
            self.set_mode(FlightMode.LOITER, now_s)

    def mission_state(self) -> tuple[int, int, int, int]:
        """MISSION_CURRENT (seq, total, mission_state, mission_mode)."""
        items = self.plans.mission
        total = len(items)
        mode = 1 if self.mode is FlightMode.MISSION else 2
        if not items or not self.mission_valid:
            return (65535 if not items else 0, total if items else 0, 1, mode)
        seq = min(self.nav.mission_index, total - 1)
        if self.nav.mission_finished:
            return (total - 1, total, 5, mode)
        if not self.nav.mission_started:
            return (seq, total, 2, mode)
        return (seq, total, 3 if self.mode is FlightMode.MISSION else 4, mode)

    def _send_mission_current_all(self) -> None:
        seq, total, state, mode = self.mission_state()
        self.send_all(M.MAVLink_mission_current_message(seq, total, state, mode))

    def _send_home_all(self) -> None:
        for link in self.links:
            link.send(self._build(M.MAVLINK_MSG_ID_HOME_POSITION))

    # --- tick -------------------------------------------------------------------------------------
    def tick(self, now_s: float) -> None:
        """Advance physics to `now_s` in fixed steps, run commander checks, send due streams."""
        dt = physics.PHYSICS_DT_S
        steps = 0
        while self._last_physics_s + dt <= now_s and steps < 500:
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
            )
            self._last_physics_s = t
            if self._charging:
                self._charge(dt)
            self._commander(t)
            steps += 1
        if steps >= 500:
            self._last_physics_s = now_s
        self.mission.poll(now_s)
        self._send_streams(now_s)

    def _gcs_connected(self, now_s: float) -> bool:
        return (
            self._gcs_seen_s is not None
            and now_s - self._gcs_seen_s <= self.params["COM_DL_LOSS_T"]
        )

    def _commander(self, now_s: float) -> None:
        s = self.phys
        if s.on_ground:
            if self._on_ground_since_s is None:
                self._on_ground_since_s = now_s
                if self.armed and self._took_off:
                    self.announce(SEVERITY_INFO, "Landing detected")
        else:
            self._on_ground_since_s = None
            if s.up_m - self.home_local()[2] > 1.0 or s.up_m > 1.0:
                self._took_off = True
        if self.armed and s.on_ground and self._on_ground_since_s is not None:
            grounded = now_s - self._on_ground_since_s
            if self._took_off and grounded >= self.params["COM_DISARM_LAND"]:
                self.disarm(now_s, "landing")
                if self.mode is FlightMode.MISSION and self.nav.mission_finished:
                    self.set_mode(FlightMode.LOITER, now_s)
            elif (
                not self._took_off
                and now_s - max(self._armed_at_s, self._on_ground_since_s)
                >= self.params["COM_DISARM_PRFLT"]
            ):
                self.disarm(now_s, "auto preflight disarming")
        self._check_gps(now_s)
        self._check_datalink(now_s)
        self._check_fence(now_s)
        self._check_battery(now_s)
        if self._failsafe_pending is not None and now_s >= self._failsafe_pending[1]:
            action = self._failsafe_pending[0]
            self._failsafe_pending = None
            self._apply_action(action, now_s)

    def _in_air(self) -> bool:
        return self.armed and not self.phys.on_ground

    def _apply_action(self, action: str, now_s: float) -> None:
        if not self.armed:
            return
        if action == "hold":
            self.set_mode(FlightMode.LOITER, now_s)
        elif action == "rtl":
            if self.home is not None and self.gps_ok():
                self.set_mode(FlightMode.RTL, now_s)
            else:
                self.set_mode(FlightMode.LAND, now_s)
        elif action == "land":
            self.set_mode(FlightMode.LAND, now_s)
        elif action == "terminate":
            self.terminated = True
            self.announce(SEVERITY_CRITICAL, "Flight termination active")
        elif action == "disarm":
            self.armed = False
            self.announce(SEVERITY_CRITICAL, "Disarmed by failsafe")

    def _schedule_failsafe(self, action: str, now_s: float, text: str) -> None:
        """PX4 holds for COM_FAIL_ACT_T before the failsafe action (user may take over)."""
        delay = self.params["COM_FAIL_ACT_T"]
        self.announce(SEVERITY_CRITICAL, text)
        if action in ("hold", "terminate", "disarm") or delay <= 0 or not self._in_air():
            self._apply_action(action, now_s)
            return
        self.set_mode(FlightMode.LOITER, now_s)
        self._failsafe_pending = (action, now_s + delay)

    def _check_gps(self, now_s: float) -> None:
        if self.gps_ok():
            self._gps_lost_since_s = None
            return
        if self._gps_lost_since_s is None:
            self._gps_lost_since_s = now_s
            self.announce(SEVERITY_CRITICAL, "GPS signal lost")
        elif (
            now_s - self._gps_lost_since_s >= GPS_LOSS_FAILSAFE_S
            and self._in_air()
            and self.mode is not FlightMode.LAND
        ):
            self.announce(SEVERITY_CRITICAL, "Failsafe activated: no global position, descending")
            self.set_mode(FlightMode.LAND, now_s)

    def _check_datalink(self, now_s: float) -> None:
        if self._gcs_seen_s is None:
            return
        lost = not self._gcs_connected(now_s)
        if lost and not self._dll_lost:
            self._dll_lost = True
            self.announce(SEVERITY_CRITICAL, "Connection to ground station lost")
            action = {1: "hold", 2: "rtl", 3: "land", 5: "terminate", 6: "disarm"}.get(
                int(self.params["NAV_DLL_ACT"])
            )
            if action is not None and self._in_air():
                self._schedule_failsafe(
                    action, now_s, f"Failsafe activated: data link lost, {action.upper()}"
                )
        elif not lost and self._dll_lost:
            self._dll_lost = False
            self.announce(SEVERITY_INFO, "Data link regained")

    def _fence_violation(self) -> str | None:
        s = self.phys
        hn, he, hup = self.home_local()
        max_h, max_v = self.params["GF_MAX_HOR_DIST"], self.params["GF_MAX_VER_DIST"]
        if max_h > 0 and math.hypot(s.north_m - hn, s.east_m - he) > max_h:
            return "Geofence: exceeding maximum distance to Home"
        if max_v > 0 and s.up_m - hup > max_v:
            return "Geofence: exceeding maximum altitude above Home"
        if self.fence_shapes and not inside_fence(self.fence_shapes, s.north_m, s.east_m):
            return "Geofence: approaching or outside geofence"
        return None

    def _check_fence(self, now_s: float) -> None:
        violation = self._fence_violation() if self._in_air() else None
        if violation is None:
            self._fence_breached = False
            return
        if self._fence_breached:
            return
        self._fence_breached = True
        action = {1: None, 2: "hold", 3: "rtl", 4: "terminate", 5: "land"}.get(
            int(self.params["GF_ACTION"])
        )
        if int(self.params["GF_ACTION"]) == 0:
            return
        if action is None:
            self.announce(SEVERITY_WARNING, violation)
        else:
            self._schedule_failsafe(action, now_s, violation)

    def _check_battery(self, now_s: float) -> None:
        frac = physics.battery_fraction(self.phys, self.airframe)
        p = self.params
        level = (
            3
            if frac <= p["BAT_EMERGEN_THR"]
            else 2
            if frac <= p["BAT_CRIT_THR"]
            else 1
            if frac <= p["BAT_LOW_THR"]
            else 0
        )
        if level <= self._battery_level:
            if level < self._battery_level and level == 0:
                self._battery_level = 0
            return
        self._battery_level = level
        act = int(p["COM_LOW_BAT_ACT"])
        if level == 1:
            self.announce(SEVERITY_WARNING, "Low battery level! Return advised")
            return
        action: str | None = None
        if level == 2:
            action = {2: "land", 3: "rtl"}.get(act)
            text = "Critical battery level!"
        else:
            action = "land" if act in (2, 3) else None
            text = (
                "Emergency battery level! Landing immediately"
                if action
                else "Emergency battery level!"
            )
        if action is None or not self._in_air():
            self.announce(SEVERITY_CRITICAL, text)
            return
        if action == "land":
            self.announce(SEVERITY_CRITICAL, text + " Landing")
            self.set_mode(FlightMode.LAND, now_s)
        else:
            self._schedule_failsafe(action, now_s, text + " Returning")

    # --- streams ----------------------------------------------------------------------------------
    def _send_streams(self, now_s: float) -> None:
        for link in self.links:
            for st in self.streams[link.name].values():
                if now_s < st.next_due_s:
                    continue
                st.next_due_s = max(st.next_due_s + st.interval_s, now_s - st.interval_s)
                msg = self._build(st.msg_id)
                if msg is not None:
                    link.send(msg)
        if self._reached_repeats > 0 and self._last_reached is not None:
            mc = self.streams[self.links[0].name][M.MAVLINK_MSG_ID_MISSION_CURRENT]
            if mc.next_due_s > now_s and mc.next_due_s - now_s > mc.interval_s - 0.05:
                self._reached_repeats -= 1
                self.send_all(M.MAVLink_mission_item_reached_message(self._last_reached))
        self.send_camera_heartbeat(now_s)

    _camera_next_s = 0.0

    def send_camera_heartbeat(self, now_s: float) -> None:
        """The camera component heartbeats at 1 Hz like a MAVLink camera (compid 100)."""
        if now_s < self._camera_next_s:
            return
        self._camera_next_s = now_s + 1.0
        self.send_all(M.MAVLink_heartbeat_message(30, 8, 0, 0, 4, 3), camera=True)

    def _build(self, msg_id: int) -> Any:
        s = self.phys
        t_ms = int(s.t_s * 1000) & 0xFFFFFFFF
        t_us = int(s.t_s * 1e6)
        if msg_id == M.MAVLINK_MSG_ID_HEARTBEAT:
            if self.armed:
                status = (
                    5 if (self._failsafe_pending or self._dll_lost or self._fence_breached) else 4
                )
            else:
                status = 3
            if self.terminated:
                status = 8
            return M.MAVLink_heartbeat_message(
                2, 12, base_mode(self.mode, self.armed), custom_mode(self.mode), status, 3
            )
        if msg_id == M.MAVLINK_MSG_ID_GLOBAL_POSITION_INT:
            if not self.gps_ok():
                return None
            lat, lon, alt = self.position_global()
            hdg = int(math.degrees(s.yaw_rad) % 360 * 100)
            return M.MAVLink_global_position_int_message(
                t_ms,
                int(lat * 1e7),
                int(lon * 1e7),
                int(alt * 1000),
                int((s.up_m - self.home_local()[2]) * 1000),
                int(s.vn_mps * 100),
                int(s.ve_mps * 100),
                int(-s.vu_mps * 100),
                hdg,
            )
        if msg_id == M.MAVLINK_MSG_ID_ATTITUDE:
            return M.MAVLink_attitude_message(
                t_ms, s.roll_rad, s.pitch_rad, s.yaw_rad, 0.0, 0.0, 0.0
            )
        if msg_id == M.MAVLINK_MSG_ID_SYS_STATUS:
            health = _SENSORS
            if not self.gps_ok():
                health &= ~_GPS_BIT
            if self._arming_refusal(s.t_s) is not None and not self.armed:
                health &= ~_PREARM_BIT
            v = physics.battery_voltage_v(s, self.airframe)
            return M.MAVLink_sys_status_message(
                _SENSORS,
                _SENSORS,
                health,
                150,
                int(v * 1000),
                int(physics.battery_current_a(s, self.airframe) * 100),
                int(round(physics.battery_fraction(s, self.airframe) * 100)),
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
            )
        if msg_id == M.MAVLINK_MSG_ID_BATTERY_STATUS:
            v = physics.battery_voltage_v(s, self.airframe)
            cell_mv = int(v * 1000 / self.airframe.battery_cells)
            frac = physics.battery_fraction(s, self.airframe)
            used_wh = self.airframe.battery_capacity_wh - s.energy_wh
            charge_state = {0: 1, 1: 2, 2: 3, 3: 4}[self._battery_level]
            remaining_s = int(s.energy_wh * 3600 / s.power_w) if s.power_w > 1 else 0
            return M.MAVLink_battery_status_message(
                0,
                0,
                3,
                32767,
                [cell_mv] * self.airframe.battery_cells
                + [65535] * (10 - self.airframe.battery_cells),
                int(physics.battery_current_a(s, self.airframe) * 100),
                int(used_wh / 14.8 * 1000),
                int(used_wh * 36),
                int(round(frac * 100)),
                remaining_s,
                charge_state,
                [0, 0, 0, 0],
                0,
                0,
            )
        if msg_id == M.MAVLINK_MSG_ID_EXTENDED_SYS_STATE:
            if s.on_ground:
                landed = 1
            elif self.nav.landing():
                landed = 4
            elif self.mode is FlightMode.TAKEOFF or (self.armed and not self._took_off):
                landed = 3
            else:
                landed = 2
            return M.MAVLink_extended_sys_state_message(0, landed)
        if msg_id == M.MAVLINK_MSG_ID_HOME_POSITION:
            if self.home is None:
                return None
            lat, lon, alt = self.home_global()
            hn, he, hup = self.home_local()
            return M.MAVLink_home_position_message(
                int(lat * 1e7),
                int(lon * 1e7),
                int(alt * 1000),
                hn,
                he,
                -hup,
                [1.0, 0.0, 0.0, 0.0],
                0.0,
                0.0,
                0.0,
                t_us,
            )
        if msg_id == M.MAVLINK_MSG_ID_GPS_RAW_INT:
            if not self.gps_ok():
                return M.MAVLink_gps_raw_int_message(
                    t_us, 1, 0, 0, 0, 9999, 9999, 0, 65535, 0, 0, 0, 0, 0, 0, 0
                )
            nn, ne, nu = physics.gps_noise_m(s.t_s, self.seed)
            lat, lon = physics.offset_to_latlon(
                self.origin_lat_deg, self.origin_lon_deg, s.north_m + nn, s.east_m + ne
            )
            alt = self.origin_alt_amsl_m + s.up_m + nu
            cog = int(math.degrees(math.atan2(s.ve_mps, s.vn_mps)) % 360 * 100)
            return M.MAVLink_gps_raw_int_message(
                t_us,
                3,
                int(lat * 1e7),
                int(lon * 1e7),
                int(alt * 1000),
                70,
                100,
                int(s.ground_speed_mps * 100),
                cog,
                14,
                int(alt * 1000),
                500,
                800,
                200,
                0,
                0,
            )
        if msg_id == M.MAVLINK_MSG_ID_VFR_HUD:
            wn, we = physics.wind_vector(self.wind, s.t_s, self.seed)
            air = math.hypot(s.vn_mps - wn, s.ve_mps - we)
            throttle = (
                int(min(100, s.power_w / self.airframe.hover_power_w * 50)) if self.armed else 0
            )
            return M.MAVLink_vfr_hud_message(
                air,
                s.ground_speed_mps,
                int(math.degrees(s.yaw_rad) % 360),
                throttle,
                self.origin_alt_amsl_m + s.up_m,
                s.vu_mps,
            )
        if msg_id == M.MAVLINK_MSG_ID_ALTITUDE:
            amsl = self.origin_alt_amsl_m + s.up_m
            rel = s.up_m - self.home_local()[2]
            return M.MAVLink_altitude_message(t_us, amsl, amsl, -s.up_m, rel, s.up_m, s.up_m)
        if msg_id == M.MAVLINK_MSG_ID_MISSION_CURRENT:
            return M.MAVLink_mission_current_message(*self.mission_state())
        if msg_id == M.MAVLINK_MSG_ID_ORBIT_EXECUTION_STATUS:
            o = self.nav.orbit
            if self.mode is not FlightMode.ORBIT or o is None:
                return None
            lat, lon = physics.offset_to_latlon(
                self.origin_lat_deg, self.origin_lon_deg, o.north_m, o.east_m
            )
            return M.MAVLink_orbit_execution_status_message(
                t_us, o.radius_m, 5, int(lat * 1e7), int(lon * 1e7), self.origin_alt_amsl_m + o.up_m
            )
        if msg_id == M.MAVLINK_MSG_ID_AUTOPILOT_VERSION:
            uid = 0x5349_4D00_0000_0000 | self.sysid
            return M.MAVLink_autopilot_version_message(
                _CAPABILITIES,
                (1 << 24) | (14 << 16) | (0 << 8) | 255,
                0,
                0,
                0,
                [0] * 8,
                [0] * 8,
                [0] * 8,
                0,
                0,
                uid,
                [0] * 18,
            )
        return None

    # --- incoming ---------------------------------------------------------------------------------
    def handle(self, link: Link, msg: Any) -> None:
        """Dispatch one decoded message from `link`."""
        now = self.clock.now_s()
        mtype = msg.get_type()
        if mtype == "HEARTBEAT":
            if msg.type == 6:  # MAV_TYPE_GCS
                self._gcs_seen_s = now
            return
        if mtype in ("COMMAND_LONG", "COMMAND_INT"):
            self._handle_command(link, msg, now)
            return
        if mtype.startswith("MISSION_"):
            self.mission.handle(link, msg, now)
            return
        if mtype.startswith("PARAM_"):
            self._handle_param(link, msg)
            return
        if mtype == "SET_MODE":
            if msg.target_system == self.sysid:
                self._do_set_mode(
                    msg.base_mode,
                    (msg.custom_mode >> 16) & 0xFF,
                    (msg.custom_mode >> 24) & 0xFF,
                    now,
                )
            return
        if mtype == "PING":
            if msg.target_system == 0:
                link.send(
                    M.MAVLink_ping_message(
                        msg.time_usec, msg.seq, msg.get_srcSystem(), msg.get_srcComponent()
                    )
                )
            return
        if mtype == "TIMESYNC":
            if msg.tc1 == 0:
                reply = M.MAVLink_timesync_message(int(now * 1e9), msg.ts1)
                if "target_system" in reply.fieldnames:
                    # The reply's target fields are a later MAVLink extension; PX4 fills them.
                    reply.target_system = msg.get_srcSystem()
                    reply.target_component = msg.get_srcComponent()
                link.send(reply)
            return

    # PARAM protocol
    def _param_value(self, name: str) -> Any:
        spec = self.params.spec(name)
        assert spec is not None
        return M.MAVLink_param_value_message(
            name.encode(),
            encode_value(spec, self.params[name]),
            int(spec.type),
            len(self.params),
            self.params.index_of(name),
        )

    def _handle_param(self, link: Link, msg: Any) -> None:
        mtype = msg.get_type()
        if getattr(msg, "target_system", self.sysid) not in (self.sysid, 0):
            return
        if mtype == "PARAM_REQUEST_LIST":
            for i in range(len(self.params)):
                spec = self.params.by_index(i)
                if spec is not None:
                    link.send(self._param_value(spec.name))
        elif mtype == "PARAM_REQUEST_READ":
            if msg.param_index >= 0:
                spec = self.params.by_index(msg.param_index)
            else:
                spec = self.params.spec(_param_name(msg.param_id))
            if spec is not None:
                link.send(self._param_value(spec.name))
        elif mtype == "PARAM_SET":
            name = _param_name(msg.param_id)
            spec = self.params.spec(name)
            if spec is None or not math.isfinite(msg.param_value) and spec.type != 6:
                self.announce(
                    SEVERITY_CRITICAL,
                    f"[pm] unknown param: {name}"
                    if spec is None
                    else f"[pm] invalid value: {name}",
                )
                return
            self.params.set(name, decode_value(spec, msg.param_value))
            self.send_all(self._param_value(name))

    # COMMAND protocol
    def _handle_command(self, link: Link, msg: Any, now: float) -> None:
        if msg.target_system not in (self.sysid, 0):
            return
        cmd = msg.command
        if msg.get_type() == "COMMAND_INT":
            x = math.nan if msg.x == 0x7FFFFFFF else msg.x / 1e7
            y = math.nan if msg.y == 0x7FFFFFFF else msg.y / 1e7
            z = msg.z
            if msg.frame in (3, 6) and math.isfinite(z):  # relative frames: convert to AMSL
                z = z + self.home_global()[2]
            params = [msg.param1, msg.param2, msg.param3, msg.param4, x, y, z]
        else:
            params = [
                msg.param1,
                msg.param2,
                msg.param3,
                msg.param4,
                msg.param5,
                msg.param6,
                msg.param7,
            ]
        src = (msg.get_srcSystem(), msg.get_srcComponent())
        if msg.target_component == CAMERA_COMPONENT_ID:
            self._camera_command(link, cmd, params, src)
            return
        if msg.target_component not in (1, 0):
            return

        def ack(result: int) -> None:
            link.send(M.MAVLink_command_ack_message(cmd, result, 0, 0, src[0], src[1]))

        if self._refuse_next is not None:
            refused, self._refuse_next = self._refuse_next, None
            ack(refused)
            return
        result, after = self._command(cmd, params, now, link)
        if result is None:
            return
        ack(result)
        if after is not None:
            after()

    def _command(
        self, cmd: int, p: list[float], now: float, link: Link
    ) -> tuple[int | None, Callable[[], None] | None]:
        if cmd == 400:  # COMPONENT_ARM_DISARM
            if p[0] not in (0.0, 1.0):
                self.announce(SEVERITY_CRITICAL, f"Unsupported ARM_DISARM param: {p[0]:.3f}")
                return DENIED, None
            force = math.isfinite(p[1]) and int(p[1]) == FORCE_ARM_MAGIC
            if p[0] == 1.0:
                return (
                    ACCEPTED
                    if self.arm(now, force, "external command") is None
                    else TEMPORARILY_REJECTED
                ), None
            if not self.phys.on_ground and not force and self.armed:
                self.announce(SEVERITY_CRITICAL, "Disarming denied: not landed")
                return TEMPORARILY_REJECTED, None
            self.disarm(now, "external command")
            return ACCEPTED, None
        if cmd == 176:  # DO_SET_MODE
            return self._do_set_mode(p[0], p[1], p[2], now), None
        if cmd == 22:  # NAV_TAKEOFF
            refusal = self._mode_refusal(FlightMode.TAKEOFF, now)
            if refusal:
                self.announce(SEVERITY_CRITICAL, refusal)
                return TEMPORARILY_REJECTED, None
            if math.isfinite(p[6]):
                up = p[6] - self.origin_alt_amsl_m
            else:
                up = self.home_local()[2] + self.params["MIS_TAKEOFF_ALT"]
            self.set_mode(FlightMode.TAKEOFF, now)
            self.nav.takeoff_up_m = max(up, self.phys.up_m if not self.phys.on_ground else 1.0)
            return ACCEPTED, None
        if cmd == 21:  # NAV_LAND
            self.set_mode(FlightMode.LAND, now)
            self.announce(SEVERITY_INFO, "Landing at current position")
            return ACCEPTED, None
        if cmd == 20:  # NAV_RETURN_TO_LAUNCH
            return self._switch(FlightMode.RTL, now, "Returning to launch"), None
        if cmd == 300:  # MISSION_START
            first = p[0]
            n = len(self.plans.mission)
            if not self.mission_ready(now) or not (
                math.isfinite(first) and -1 <= first < max(n, 0)
            ):
                self.announce(SEVERITY_CRITICAL, "Mission start denied! No valid mission")
                return DENIED, None
            if first >= 0:
                self.plans.current_seq = int(first)
                self.nav.set_current(int(first))
            if not self.armed and self.arm(now, False, "mission start") is not None:
                return DENIED, None
            self.set_mode(FlightMode.MISSION, now)
            return ACCEPTED, None
        if cmd == 192:  # DO_REPOSITION
            return self._reposition(p, now), None
        if cmd == 34:  # DO_ORBIT
            return self._orbit(p, now), None
        if cmd == 178:  # DO_CHANGE_SPEED
            if not math.isfinite(p[1]) or p[1] < -2:
                return DENIED, None
            if p[1] > 0:
                self.nav.cruise_override_mps = p[1]
            elif p[1] == -1:
                self.nav.cruise_override_mps = None
            return ACCEPTED, None
        if cmd == 179:  # DO_SET_HOME
            if self.params["COM_HOME_EN"] == 0:
                return DENIED, None
            if p[0] >= 0.5:
                s = self.phys
                self.home = (s.north_m, s.east_m, s.up_m)
            else:
                if not (math.isfinite(p[4]) and math.isfinite(p[5]) and math.isfinite(p[6])):
                    return DENIED, None
                hn, he = physics.latlon_to_offset(
                    self.origin_lat_deg, self.origin_lon_deg, p[4], p[5]
                )
                self.home = (hn, he, p[6] - self.origin_alt_amsl_m)
            return ACCEPTED, self._send_home_all
        if cmd == 185:  # DO_FLIGHTTERMINATION
            if p[0] > 0.5 and self.armed:
                self._apply_action("terminate", now)
            return ACCEPTED, None
        if cmd == 511:  # SET_MESSAGE_INTERVAL
            return self._set_interval(
                link, int(p[0]) if math.isfinite(p[0]) else -1, p[1], now
            ), None
        if cmd == 512:  # REQUEST_MESSAGE
            msg_id = int(p[0]) if math.isfinite(p[0]) else -1
            msg = self._build(msg_id) if msg_id >= 0 else None
            if msg is None:
                return FAILED, None
            return ACCEPTED, lambda: link.send(msg)
        if cmd == 410:  # GET_HOME_POSITION
            msg = self._build(M.MAVLINK_MSG_ID_HOME_POSITION)
            return (ACCEPTED, lambda: link.send(msg)) if msg is not None else (FAILED, None)
        if cmd == 520:  # REQUEST_AUTOPILOT_CAPABILITIES
            msg = self._build(M.MAVLINK_MSG_ID_AUTOPILOT_VERSION)
            return ACCEPTED, lambda: link.send(msg)
        if cmd == 519:  # REQUEST_PROTOCOL_VERSION
            return ACCEPTED, lambda: link.send(
                M.MAVLink_protocol_version_message(200, 100, 200, [0] * 8, [0] * 8)
            )
        return (
            UNSUPPORTED,
            None,
        )  # includes DO_PAUSE_CONTINUE (193), which PX4's commander does not implement

    def _switch(self, mode: FlightMode, now: float, text: str | None = None) -> int:
        refusal = self._mode_refusal(mode, now)
        if refusal:
            self.announce(SEVERITY_CRITICAL, refusal)
            return TEMPORARILY_REJECTED
        self.set_mode(mode, now)
        if text:
            self.announce(SEVERITY_INFO, text)
        return ACCEPTED

    def _do_set_mode(self, base: float, main: float, sub: float, now: float) -> int:
        if not (math.isfinite(base) and math.isfinite(main) and math.isfinite(sub)):
            return DENIED
        if int(base) & 1:
            mode = decode_custom_mode(int(main), int(sub))
            if mode is None:
                if int(main) == 4:
                    self.announce(SEVERITY_CRITICAL, "Unsupported auto mode")
                return DENIED
        elif int(base) & 4:
            mode = FlightMode.MISSION
        elif int(base) & 8:
            mode = FlightMode.POSCTL
        else:
            mode = FlightMode.MANUAL
        if mode is self.mode and mode is not FlightMode.RTL:
            return ACCEPTED
        return self._switch(mode, now)

    def _reposition(self, p: list[float], now: float) -> int:
        flags = int(p[1]) if math.isfinite(p[1]) else 0
        if flags & ~1:
            return UNSUPPORTED
        if not self.gps_ok():
            return TEMPORARILY_REJECTED
        s = self.phys
        if flags & 1 and self.mode is not FlightMode.LOITER:
            self.set_mode(FlightMode.LOITER, now)
        elif self.mode is not FlightMode.LOITER:
            return TEMPORARILY_REJECTED
        n, e, up = s.north_m, s.east_m, s.up_m
        if math.isfinite(p[4]) and math.isfinite(p[5]):
            n, e = physics.latlon_to_offset(self.origin_lat_deg, self.origin_lon_deg, p[4], p[5])
        if math.isfinite(p[6]):
            up = p[6] - self.origin_alt_amsl_m
        self.nav.hold = (n, e, up)
        self.nav.hold_speed_mps = p[0] if math.isfinite(p[0]) and p[0] > 0 else None
        self.nav.hold_yaw_rad = p[3] if math.isfinite(p[3]) else None
        return ACCEPTED

    def _orbit(self, p: list[float], now: float) -> int:
        if not self._in_air() or not self.gps_ok():
            self.announce(SEVERITY_CRITICAL, "Orbit command rejected")
            return TEMPORARILY_REJECTED
        s = self.phys
        radius = p[0] if math.isfinite(p[0]) else 1.0
        if not 1.0 <= abs(radius) <= 1000.0:
            self.announce(SEVERITY_CRITICAL, "Orbit command rejected")
            return TEMPORARILY_REJECTED
        speed = p[1] if math.isfinite(p[1]) else 1.0
        n, e = s.north_m, s.east_m
        if math.isfinite(p[4]) and math.isfinite(p[5]):
            n, e = physics.latlon_to_offset(self.origin_lat_deg, self.origin_lon_deg, p[4], p[5])
        up = p[6] - self.origin_alt_amsl_m if math.isfinite(p[6]) else s.up_m
        self.nav.orbit = Orbit(n, e, radius if speed >= 0 else -radius, abs(speed), up)
        self.set_mode(FlightMode.ORBIT, now)
        return ACCEPTED

    def _set_interval(self, link: Link, msg_id: int, interval_us: float, now: float) -> int:
        st = self.streams[link.name].get(msg_id)
        if st is None or msg_id == M.MAVLINK_MSG_ID_HEARTBEAT or not math.isfinite(interval_us):
            return FAILED
        if interval_us < 0:
            st.interval_s = math.inf
        elif interval_us == 0:
            st.interval_s = self._interval(st.default_hz)
        else:
            hz = 1e6 / interval_us
            st.interval_s = self._interval(hz)
        st.next_due_s = now
        return ACCEPTED

    def _camera_command(self, link: Link, cmd: int, p: list[float], src: tuple[int, int]) -> None:
        msg: Any = None
        requested = int(p[0]) if math.isfinite(p[0]) else -1
        if (cmd == 512 and requested == M.MAVLINK_MSG_ID_CAMERA_INFORMATION) or cmd == 521:
            msg = self.camera_information()
        elif (cmd == 512 and requested == M.MAVLINK_MSG_ID_VIDEO_STREAM_INFORMATION) or cmd == 2504:
            msg = self.video_stream_information()
        result = ACCEPTED if msg is not None else UNSUPPORTED
        link.send(M.MAVLink_command_ack_message(cmd, result, 0, 0, src[0], src[1]), camera=True)
        if msg is not None:
            link.send(msg, camera=True)

    def camera_information(self) -> Any:
        """CAMERA_INFORMATION of the simulated camera (video stream capable)."""
        vendor = list(b"DFR-SIM".ljust(32, b"\0"))
        model = list(b"SimCam 640".ljust(32, b"\0"))
        return M.MAVLink_camera_information_message(
            int(self.phys.t_s * 1000),
            vendor,
            model,
            1,
            4.5,
            6.17,
            4.55,
            self.cfg.video_width_px,
            self.cfg.video_height_px,
            0,
            256,
            0,
            b"",
            0,
            0,
        )

    def video_stream_information(self) -> Any:
        """VIDEO_STREAM_INFORMATION: RTP/UDP H.264 on the drone's video port (uri = port, as PX4 SITL's camera)."""
        return M.MAVLink_video_stream_information_message(
            1,
            1,
            1,
            1,
            self.cfg.video_fps,
            self.cfg.video_width_px,
            self.cfg.video_height_px,
            self.cfg.video_bitrate_kbps,
            0,
            90,
            b"Visual Spectrum",
            str(self.cfg.video_port).encode(),
            0,
            0,
        )

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
        self._gps_lost_until_s = self.clock.now_s() + duration_s

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
        self._refuse_next = result

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


def _param_name(raw: Any) -> str:
    if isinstance(raw, bytes):
        raw = raw.decode(errors="replace")
    return str(raw).split("\0", 1)[0]


def plan_crc(plans: Plans, mission_type: MissionType) -> int:
    """Opaque id of a stored plan."""
    return plan_crc32(plans.get(mission_type))
