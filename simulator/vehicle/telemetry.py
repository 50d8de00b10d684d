"""What a simulated drone says unasked: PX4's streamed messages, built from its true state, and the camera's.

Every value is computed exactly as PX4 SITL fills the field (units, scaling, sentinels), so a
client decoding our telemetry decodes a real vehicle's the same way.
"""

from __future__ import annotations

import math
from typing import Any, Protocol

from pymavlink.dialects.v20 import common as M  # noqa: N812

from . import physics
from .config import DroneConfig
from .failsafes import FailsafeHost, Failsafes
from .gimbal import Gimbal
from .link import Link
from .modes import FlightMode, base_mode, custom_mode
from .navigator import Navigator
from .streams import Streams

# SYS_STATUS sensor bits PX4 reports and MAVSDK's health reads.
_SENSORS = 0x1 | 0x2 | 0x4 | 0x8 | 0x20 | 0x8000 | 0x10000 | 0x200000 | 0x10000000
_GPS_BIT, _PREARM_BIT = 0x20, 0x10000000
# AUTOPILOT_VERSION capabilities: MISSION_FLOAT|PARAM_FLOAT|MISSION_INT|COMMAND_INT|PARAM_ENCODE_BYTEWISE|
# FTP|SET_ATTITUDE_TARGET|SET_POSITION_TARGET_LOCAL_NED|SET_POSITION_TARGET_GLOBAL_INT|TERRAIN|MAVLINK2|MISSION_FENCE|MISSION_RALLY
_CAPABILITIES = 1 | 2 | 4 | 8 | 16 | 32 | 128 | 256 | 512 | 1024 | 8192 | 16384 | 32768
REACHED_REPEATS = 10  # PX4 repeats MISSION_ITEM_REACHED at the slow rate so a lost one is not fatal


class TelemetrySource(FailsafeHost, Protocol):
    """The drone as its telemetry reads it."""

    cfg: DroneConfig
    sysid: int
    seed: int
    wind: physics.Wind
    took_off: bool
    land_detected: bool
    mission_valid: bool
    nav: Navigator
    failsafes: Failsafes
    links: list[Link]
    gimbal: Gimbal

    def position_global(self) -> tuple[float, float, float]:
        """True latitude, longitude, AMSL altitude."""
        ...

    def home_global(self) -> tuple[float, float, float]:
        """Home latitude, longitude, AMSL altitude."""
        ...

    def arming_refusal(self, now_s: float) -> str | None:
        """Why arming would be refused now, if it would."""
        ...


class Telemetry:
    """Builds and schedules one drone's messages; `streams` holds the rates of every link."""

    def __init__(self, drone: TelemetrySource) -> None:
        self._d = drone
        self.streams = Streams(drone.cfg.max_stream_hz)
        self._last_reached: int | None = None
        self._reached_repeats = 0
        self._camera_next_s = 0.0

    # --- sending ------------------------------------------------------------------------------
    def send_all(self, msg: Any, camera: bool = False) -> None:
        """Send on every link."""
        for link in self._d.links:
            link.send(msg, camera)

    def send_due(self, now_s: float) -> None:
        """Every stream due on every link, repeated MISSION_ITEM_REACHED, the camera heartbeat."""
        links = self._d.links
        for link in links:
            for msg_id in self.streams.due(link.name, now_s):
                msg = self.build(msg_id)
                if msg is not None:
                    link.send(msg)
        if self._reached_repeats > 0 and self._last_reached is not None:
            mc = self.streams.get(links[0].name, M.MAVLINK_MSG_ID_MISSION_CURRENT)
            if mc.next_due_s > now_s and mc.next_due_s - now_s > mc.interval_s - 0.05:
                self._reached_repeats -= 1
                self.send_all(M.MAVLink_mission_item_reached_message(self._last_reached))
        self._send_camera_heartbeat(now_s)

    def _send_camera_heartbeat(self, now_s: float) -> None:
        # The camera component heartbeats at 1 Hz like a MAVLink camera (compid 100).
        if now_s < self._camera_next_s:
            return
        self._camera_next_s = now_s + 1.0
        self.send_all(M.MAVLink_heartbeat_message(30, 8, 0, 0, 4, 3), camera=True)

    def item_reached(self, seq: int) -> None:
        """MISSION_ITEM_REACHED now, then repeated at the slow rate."""
        self._last_reached = seq
        self._reached_repeats = REACHED_REPEATS
        self.send_all(M.MAVLink_mission_item_reached_message(seq))

    def forget_reached(self) -> None:
        """A new mission: stop repeating the old one's last reached item."""
        self._last_reached = None

    def send_mission_current(self) -> None:
        """MISSION_CURRENT now on every link (after a change)."""
        self.send_all(M.MAVLink_mission_current_message(*self.mission_state()))

    def send_home(self) -> None:
        """HOME_POSITION now on every link (after a change)."""
        for link in self._d.links:
            link.send(self.build(M.MAVLINK_MSG_ID_HOME_POSITION))

    # --- content --------------------------------------------------------------------------------
    def mission_state(self) -> tuple[int, int, int, int]:
        """MISSION_CURRENT (seq, total, mission_state, mission_mode)."""
        d = self._d
        items = d.plans.mission
        total = len(items)
        mode = 1 if d.mode is FlightMode.MISSION else 2
        if not items or not d.mission_valid:
            return (65535 if not items else 0, total if items else 0, 1, mode)
        seq = min(d.nav.mission_index, total - 1)
        if d.nav.mission_finished:
            return (total - 1, total, 5, mode)
        if not d.nav.mission_started:
            return (seq, total, 2, mode)
        return (seq, total, 3 if d.mode is FlightMode.MISSION else 4, mode)

    def build(self, msg_id: int) -> Any:
        """Message `msg_id` as the autopilot would send it now, or None if it has none to send."""
        builder = _BUILDERS.get(msg_id)
        return None if builder is None else builder(self)

    def _heartbeat(self) -> Any:
        d = self._d
        if d.armed:
            status = 5 if d.failsafes.active else 4
        else:
            status = 3
        if d.terminated:
            status = 8
        return M.MAVLink_heartbeat_message(
            2, 12, base_mode(d.mode, d.armed), custom_mode(d.mode), status, 3
        )

    def _global_position_int(self) -> Any:
        d = self._d
        s = d.phys
        if not d.failsafes.gps_ok():
            return None
        lat, lon, alt = d.position_global()
        hdg = int(math.degrees(s.yaw_rad) % 360 * 100)
        return M.MAVLink_global_position_int_message(
            _t_ms(s),
            int(lat * 1e7),
            int(lon * 1e7),
            int(alt * 1000),
            int((s.up_m - d.home_local()[2]) * 1000),
            int(s.vn_mps * 100),
            int(s.ve_mps * 100),
            int(-s.vu_mps * 100),
            hdg,
        )

    def _attitude(self) -> Any:
        s = self._d.phys
        return M.MAVLink_attitude_message(
            _t_ms(s), s.roll_rad, s.pitch_rad, s.yaw_rad, 0.0, 0.0, 0.0
        )

    def _sys_status(self) -> Any:
        d = self._d
        s = d.phys
        health = _SENSORS
        if not d.failsafes.gps_ok():
            health &= ~_GPS_BIT
        if d.arming_refusal(s.t_s) is not None and not d.armed:
            health &= ~_PREARM_BIT
        v = physics.battery_voltage_v(s, d.airframe)
        return M.MAVLink_sys_status_message(
            _SENSORS,
            _SENSORS,
            health,
            150,
            int(v * 1000),
            int(physics.battery_current_a(s, d.airframe) * 100),
            int(round(physics.battery_fraction(s, d.airframe) * 100)),
            *[0] * 9,
        )

    def _battery_status(self) -> Any:
        d = self._d
        s, airframe = d.phys, d.airframe
        v = physics.battery_voltage_v(s, airframe)
        cell_mv = int(v * 1000 / airframe.battery_cells)
        frac = physics.battery_fraction(s, airframe)
        used_wh = airframe.battery_capacity_wh - s.energy_wh
        charge_state = {0: 1, 1: 2, 2: 3, 3: 4}[d.failsafes.battery_level]
        remaining_s = int(s.energy_wh * 3600 / s.power_w) if s.power_w > 1 else 0
        return M.MAVLink_battery_status_message(
            0,
            0,
            3,
            32767,
            [cell_mv] * airframe.battery_cells + [65535] * (10 - airframe.battery_cells),
            int(physics.battery_current_a(s, airframe) * 100),
            int(used_wh / 14.8 * 1000),
            int(used_wh * 36),
            int(round(frac * 100)),
            remaining_s,
            charge_state,
            [0, 0, 0, 0],
            0,
            0,
        )

    def _extended_sys_state(self) -> Any:
        d = self._d
        if d.phys.on_ground and d.land_detected:
            landed = 1
        elif d.nav.landing():
            landed = 4
        elif d.mode is FlightMode.TAKEOFF or (d.armed and not d.took_off):
            landed = 3
        else:
            landed = 2
        return M.MAVLink_extended_sys_state_message(0, landed)

    def _home_position(self) -> Any:
        d = self._d
        if d.home is None:
            return None
        lat, lon, alt = d.home_global()
        hn, he, hup = d.home_local()
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
            _t_us(d.phys),
        )

    def _gps_raw_int(self) -> Any:
        d = self._d
        s = d.phys
        t_us = _t_us(s)
        if not d.failsafes.gps_ok():
            return M.MAVLink_gps_raw_int_message(
                t_us, 1, 0, 0, 0, 9999, 9999, 0, 65535, 0, 0, 0, 0, 0, 0, 0
            )
        nn, ne, nu = physics.gps_noise_m(s.t_s, d.seed)
        lat, lon = d.frame.to_latlon(s.north_m + nn, s.east_m + ne)
        alt = d.frame.amsl_m(s.up_m) + nu
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

    def _vfr_hud(self) -> Any:
        d = self._d
        s = d.phys
        wn, we = physics.wind_vector(d.wind, s.t_s, d.seed)
        air = math.hypot(s.vn_mps - wn, s.ve_mps - we)
        throttle = int(min(100, s.power_w / d.airframe.hover_power_w * 50)) if d.armed else 0
        return M.MAVLink_vfr_hud_message(
            air,
            s.ground_speed_mps,
            int(math.degrees(s.yaw_rad) % 360),
            throttle,
            d.frame.amsl_m(s.up_m),
            s.vu_mps,
        )

    def _altitude(self) -> Any:
        d = self._d
        s = d.phys
        amsl = d.frame.amsl_m(s.up_m)
        rel = s.up_m - d.home_local()[2]
        return M.MAVLink_altitude_message(_t_us(s), amsl, amsl, -s.up_m, rel, s.up_m, s.up_m)

    def _mission_current(self) -> Any:
        return M.MAVLink_mission_current_message(*self.mission_state())

    def _orbit_execution_status(self) -> Any:
        d = self._d
        o = d.nav.orbit
        if d.mode is not FlightMode.ORBIT or o is None:
            return None
        lat, lon = d.frame.to_latlon(o.north_m, o.east_m)
        return M.MAVLink_orbit_execution_status_message(
            _t_us(d.phys), o.radius_m, 5, int(lat * 1e7), int(lon * 1e7), d.frame.amsl_m(o.up_m)
        )

    def _autopilot_version(self) -> Any:
        uid = 0x5349_4D00_0000_0000 | self._d.sysid
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

    # --- camera component ---------------------------------------------------------------------
    def camera_information(self) -> Any:
        """CAMERA_INFORMATION of the simulated camera (video stream capable)."""
        cfg = self._d.cfg
        vendor = list(b"DFR-SIM".ljust(32, b"\0"))
        model = list(b"SimCam 640".ljust(32, b"\0"))
        return M.MAVLink_camera_information_message(
            int(self._d.phys.t_s * 1000),
            vendor,
            model,
            1,
            4.5,
            6.17,
            4.55,
            cfg.video_width_px,
            cfg.video_height_px,
            0,
            256,
            0,
            b"",
            0,
            0,
        )

    def video_stream_information(self) -> Any:
        """VIDEO_STREAM_INFORMATION: RTP/UDP H.264 on the drone's video port (uri = port, as PX4 SITL's camera)."""
        cfg = self._d.cfg
        return M.MAVLink_video_stream_information_message(
            1,
            1,
            1,
            1,
            cfg.video_fps,
            cfg.video_width_px,
            cfg.video_height_px,
            cfg.video_bitrate_kbps,
            0,
            90,
            b"Visual Spectrum",
            str(cfg.video_port).encode(),
            0,
            0,
        )

    def _gimbal_device_attitude_status(self) -> Any:
        return self._d.gimbal.device_attitude_status(_t_ms(self._d.phys))

    def _gimbal_manager_status(self) -> Any:
        return self._d.gimbal.manager_status(_t_ms(self._d.phys))

    def _gimbal_manager_information(self) -> Any:
        return self._d.gimbal.manager_information(_t_ms(self._d.phys))


def _t_ms(s: physics.State) -> int:
    return int(s.t_s * 1000) & 0xFFFFFFFF


def _t_us(s: physics.State) -> int:
    return int(s.t_s * 1e6)


_BUILDERS = {
    M.MAVLINK_MSG_ID_HEARTBEAT: Telemetry._heartbeat,
    M.MAVLINK_MSG_ID_GLOBAL_POSITION_INT: Telemetry._global_position_int,
    M.MAVLINK_MSG_ID_ATTITUDE: Telemetry._attitude,
    M.MAVLINK_MSG_ID_SYS_STATUS: Telemetry._sys_status,
    M.MAVLINK_MSG_ID_BATTERY_STATUS: Telemetry._battery_status,
    M.MAVLINK_MSG_ID_EXTENDED_SYS_STATE: Telemetry._extended_sys_state,
    M.MAVLINK_MSG_ID_HOME_POSITION: Telemetry._home_position,
    M.MAVLINK_MSG_ID_GPS_RAW_INT: Telemetry._gps_raw_int,
    M.MAVLINK_MSG_ID_VFR_HUD: Telemetry._vfr_hud,
    M.MAVLINK_MSG_ID_ALTITUDE: Telemetry._altitude,
    M.MAVLINK_MSG_ID_MISSION_CURRENT: Telemetry._mission_current,
    M.MAVLINK_MSG_ID_ORBIT_EXECUTION_STATUS: Telemetry._orbit_execution_status,
    M.MAVLINK_MSG_ID_AUTOPILOT_VERSION: Telemetry._autopilot_version,
    M.MAVLINK_MSG_ID_GIMBAL_DEVICE_ATTITUDE_STATUS: Telemetry._gimbal_device_attitude_status,
    M.MAVLINK_MSG_ID_GIMBAL_MANAGER_STATUS: Telemetry._gimbal_manager_status,
    M.MAVLINK_MSG_ID_GIMBAL_MANAGER_INFORMATION: Telemetry._gimbal_manager_information,
}
