"""COMMAND_LONG / COMMAND_INT as PX4's commander answers them, plus the camera component's commands.

Each command is checked as PX4 checks it and acknowledged with PX4's MAV_RESULT; whatever the
command sends besides its COMMAND_ACK (a requested message, a new home) goes out after the ack.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Protocol

from pymavlink.dialects.v20 import common as M  # noqa: N812

from .gimbal import GIMBAL_COMMANDS, Gimbal
from .link import CAMERA_COMPONENT_ID, Link
from .modes import FlightMode, decode_custom_mode
from .navigator import Orbit
from .telemetry import Telemetry, TelemetrySource
from .view import SEVERITY_CRITICAL, SEVERITY_INFO

# MAV_RESULT
ACCEPTED, TEMPORARILY_REJECTED, DENIED, UNSUPPORTED, FAILED = 0, 1, 2, 3, 4
FORCE_ARM_MAGIC = 21196
_MANUAL_MODES = {
    FlightMode.MANUAL,
    FlightMode.ALTCTL,
    FlightMode.POSCTL,
    FlightMode.STABILIZED,
    FlightMode.ACRO,
    FlightMode.OFFBOARD,
}

_After = Callable[[], None] | None


class CommandHost(TelemetrySource, Protocol):
    """The drone as its command handler drives it: what its telemetry reads, plus arming."""

    telemetry: Telemetry
    gimbal: Gimbal

    def arm(self, now_s: float, force: bool, reason: str) -> str | None:
        """Arm unless a pre-arm check fails (returns the refusal text)."""
        ...

    def disarm(self, now_s: float, reason: str) -> None:
        """Disarm (motors stop)."""
        ...

    def mission_ready(self, now_s: float) -> bool:
        """A mission that may be started."""
        ...


class Commands:
    """Command handling of one drone; `refuse_next` is the refuse-next-command fault."""

    def __init__(self, drone: CommandHost) -> None:
        self._d = drone
        self.refuse_next: int | None = None

    def handle(self, link: Link, msg: Any, now: float) -> None:
        """One COMMAND_LONG or COMMAND_INT: ack it on `link`, then do what follows it."""
        d = self._d
        if msg.target_system not in (d.sysid, 0):
            return
        cmd = msg.command
        if msg.get_type() == "COMMAND_INT":
            x = math.nan if msg.x == 0x7FFFFFFF else msg.x / 1e7
            y = math.nan if msg.y == 0x7FFFFFFF else msg.y / 1e7
            z = msg.z
            if msg.frame in (3, 6) and math.isfinite(z):  # relative frames: convert to AMSL
                z = z + d.home_global()[2]
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

        if self.refuse_next is not None:
            refused, self.refuse_next = self.refuse_next, None
            ack(refused)
            return
        if cmd in GIMBAL_COMMANDS:
            ack(d.gimbal.command(cmd, params, src))
            return
        result, after = self._command(cmd, params, now, link)
        if result is None:
            return
        ack(result)
        if after is not None:
            after()

    def _command(
        self, cmd: int, p: list[float], now: float, link: Link
    ) -> tuple[int | None, _After]:
        d = self._d
        if cmd == 400:  # COMPONENT_ARM_DISARM
            return self._arm_disarm(p, now), None
        if cmd == 176:  # DO_SET_MODE
            return self.set_mode(p[0], p[1], p[2], now), None
        if cmd == 22:  # NAV_TAKEOFF
            return self._takeoff(p, now), None
        if cmd == 21:  # NAV_LAND
            d.set_mode(FlightMode.LAND, now)
            d.announce(SEVERITY_INFO, "Landing at current position")
            return ACCEPTED, None
        if cmd == 20:  # NAV_RETURN_TO_LAUNCH
            return self._switch(FlightMode.RTL, now, "Returning to launch"), None
        if cmd == 300:  # MISSION_START
            return self._mission_start(p, now), None
        if cmd == 192:  # DO_REPOSITION
            return self._reposition(p, now), None
        if cmd == 34:  # DO_ORBIT
            return self._orbit(p, now), None
        if cmd == 178:  # DO_CHANGE_SPEED
            if not math.isfinite(p[1]) or p[1] < -2:
                return DENIED, None
            if p[1] > 0:
                d.nav.cruise_override_mps = p[1]
            elif p[1] == -1:
                d.nav.cruise_override_mps = None
            return ACCEPTED, None
        if cmd == 179:  # DO_SET_HOME
            result = self._set_home(p)
            return result, d.telemetry.send_home if result == ACCEPTED else None
        if cmd == 185:  # DO_FLIGHTTERMINATION
            if p[0] > 0.5 and d.armed:
                d.failsafes.apply_action("terminate", now)
            return ACCEPTED, None
        if cmd == 511:  # SET_MESSAGE_INTERVAL
            msg_id = int(p[0]) if math.isfinite(p[0]) else -1
            done = d.telemetry.streams.set_interval(link.name, msg_id, p[1], now)
            return ACCEPTED if done else FAILED, None
        if cmd == 512:  # REQUEST_MESSAGE
            msg_id = int(p[0]) if math.isfinite(p[0]) else -1
            return _reply(link, d.telemetry.build(msg_id) if msg_id >= 0 else None)
        if cmd == 410:  # GET_HOME_POSITION
            return _reply(link, d.telemetry.build(M.MAVLINK_MSG_ID_HOME_POSITION))
        if cmd == 520:  # REQUEST_AUTOPILOT_CAPABILITIES
            return _reply(link, d.telemetry.build(M.MAVLINK_MSG_ID_AUTOPILOT_VERSION))
        if cmd == 519:  # REQUEST_PROTOCOL_VERSION
            return ACCEPTED, lambda: link.send(
                M.MAVLink_protocol_version_message(200, 100, 200, [0] * 8, [0] * 8)
            )
        # Includes DO_PAUSE_CONTINUE (193), which PX4's commander does not implement.
        return UNSUPPORTED, None

    def _arm_disarm(self, p: list[float], now: float) -> int:
        d = self._d
        if p[0] not in (0.0, 1.0):
            d.announce(SEVERITY_CRITICAL, f"Unsupported ARM_DISARM param: {p[0]:.3f}")
            return DENIED
        force = math.isfinite(p[1]) and int(p[1]) == FORCE_ARM_MAGIC
        if p[0] == 1.0:
            return (
                ACCEPTED if d.arm(now, force, "external command") is None else TEMPORARILY_REJECTED
            )
        if not d.phys.on_ground and not force and d.armed:
            d.announce(SEVERITY_CRITICAL, "Disarming denied: not landed")
            return TEMPORARILY_REJECTED
        d.disarm(now, "external command")
        return ACCEPTED

    def _takeoff(self, p: list[float], now: float) -> int:
        d = self._d
        refusal = self.mode_refusal(FlightMode.TAKEOFF, now)
        if refusal:
            d.announce(SEVERITY_CRITICAL, refusal)
            return TEMPORARILY_REJECTED
        if math.isfinite(p[6]):
            up = d.frame.up_m(p[6])
        else:
            up = d.home_local()[2] + d.params["MIS_TAKEOFF_ALT"]
        d.set_mode(FlightMode.TAKEOFF, now)
        d.nav.takeoff_up_m = max(up, d.phys.up_m if not d.phys.on_ground else 1.0)
        return ACCEPTED

    def _mission_start(self, p: list[float], now: float) -> int:
        d = self._d
        first = p[0]
        n = len(d.plans.mission)
        if not d.mission_ready(now) or not (math.isfinite(first) and -1 <= first < max(n, 0)):
            d.announce(SEVERITY_CRITICAL, "Mission start denied! No valid mission")
            return DENIED
        if first >= 0:
            d.plans.current_seq = int(first)
            d.nav.set_current(int(first))
        if not d.armed and d.arm(now, False, "mission start") is not None:
            return DENIED
        d.set_mode(FlightMode.MISSION, now)
        return ACCEPTED

    def _set_home(self, p: list[float]) -> int:
        d = self._d
        if d.params["COM_HOME_EN"] == 0:
            return DENIED
        if p[0] >= 0.5:
            s = d.phys
            d.home = (s.north_m, s.east_m, s.up_m)
            return ACCEPTED
        if not (math.isfinite(p[4]) and math.isfinite(p[5]) and math.isfinite(p[6])):
            return DENIED
        hn, he = d.frame.to_offset(p[4], p[5])
        d.home = (hn, he, d.frame.up_m(p[6]))
        return ACCEPTED

    def mode_refusal(self, mode: FlightMode, now_s: float) -> str | None:
        """Why PX4 would refuse to switch to `mode` now, if it would."""
        d = self._d
        if mode in _MANUAL_MODES:
            return f"Switching to {mode.name.title()} is currently not possible: no manual control input"
        if not d.failsafes.gps_ok() and mode is not FlightMode.LAND:
            return f"Switching to {mode.name.title()} is currently not possible: no valid global position"
        if mode is FlightMode.RTL and d.home is None:
            return "Switching to Return is currently not possible: no home position"
        if mode is FlightMode.MISSION and not d.mission_ready(now_s):
            return "Switching to Mission is currently not possible: no valid mission"
        return None

    def _switch(self, mode: FlightMode, now: float, text: str | None = None) -> int:
        d = self._d
        refusal = self.mode_refusal(mode, now)
        if refusal:
            d.announce(SEVERITY_CRITICAL, refusal)
            return TEMPORARILY_REJECTED
        d.set_mode(mode, now)
        if text:
            d.announce(SEVERITY_INFO, text)
        return ACCEPTED

    def set_mode(self, base: float, main: float, sub: float, now: float) -> int:
        """DO_SET_MODE or SET_MODE: base mode flags with PX4's main and sub mode."""
        if not (math.isfinite(base) and math.isfinite(main) and math.isfinite(sub)):
            return DENIED
        if int(base) & 1:
            mode = decode_custom_mode(int(main), int(sub))
            if mode is None:
                if int(main) == 4:
                    self._d.announce(SEVERITY_CRITICAL, "Unsupported auto mode")
                return DENIED
        elif int(base) & 4:
            mode = FlightMode.MISSION
        elif int(base) & 8:
            mode = FlightMode.POSCTL
        else:
            mode = FlightMode.MANUAL
        if mode is self._d.mode and mode is not FlightMode.RTL:
            return ACCEPTED
        return self._switch(mode, now)

    def _target(self, p: list[float]) -> tuple[float, float] | None:
        # A command's latitude/longitude (params 5 and 6) in the local frame, if both are given.
        if math.isfinite(p[4]) and math.isfinite(p[5]):
            return self._d.frame.to_offset(p[4], p[5])
        return None

    def _reposition(self, p: list[float], now: float) -> int:
        d = self._d
        flags = int(p[1]) if math.isfinite(p[1]) else 0
        if flags & ~1:
            return UNSUPPORTED
        if not d.failsafes.gps_ok():
            return TEMPORARILY_REJECTED
        s = d.phys
        if flags & 1 and d.mode is not FlightMode.LOITER:
            d.set_mode(FlightMode.LOITER, now)
        elif d.mode is not FlightMode.LOITER:
            return TEMPORARILY_REJECTED
        n, e = self._target(p) or (s.north_m, s.east_m)
        up = d.frame.up_m(p[6]) if math.isfinite(p[6]) else s.up_m
        d.nav.hold = (n, e, up)
        d.nav.hold_speed_mps = p[0] if math.isfinite(p[0]) and p[0] > 0 else None
        d.nav.hold_yaw_rad = p[3] if math.isfinite(p[3]) else None
        return ACCEPTED

    def _orbit(self, p: list[float], now: float) -> int:
        d = self._d
        if not d.failsafes.in_air() or not d.failsafes.gps_ok():
            d.announce(SEVERITY_CRITICAL, "Orbit command rejected")
            return TEMPORARILY_REJECTED
        s = d.phys
        radius = p[0] if math.isfinite(p[0]) else 1.0
        if not 1.0 <= abs(radius) <= 1000.0:
            d.announce(SEVERITY_CRITICAL, "Orbit command rejected")
            return TEMPORARILY_REJECTED
        speed = p[1] if math.isfinite(p[1]) else 1.0
        n, e = self._target(p) or (s.north_m, s.east_m)
        up = d.frame.up_m(p[6]) if math.isfinite(p[6]) else s.up_m
        d.nav.orbit = Orbit(n, e, radius if speed >= 0 else -radius, abs(speed), up)
        d.set_mode(FlightMode.ORBIT, now)
        return ACCEPTED

    def _camera_command(self, link: Link, cmd: int, p: list[float], src: tuple[int, int]) -> None:
        telemetry = self._d.telemetry
        msg: Any = None
        requested = int(p[0]) if math.isfinite(p[0]) else -1
        if (cmd == 512 and requested == M.MAVLINK_MSG_ID_CAMERA_INFORMATION) or cmd == 521:
            msg = telemetry.camera_information()
        elif (cmd == 512 and requested == M.MAVLINK_MSG_ID_VIDEO_STREAM_INFORMATION) or cmd == 2504:
            msg = telemetry.video_stream_information()
        result = ACCEPTED if msg is not None else UNSUPPORTED
        link.send(M.MAVLink_command_ack_message(cmd, result, 0, 0, src[0], src[1]), camera=True)
        if msg is not None:
            link.send(msg, camera=True)


def _reply(link: Link, msg: Any) -> tuple[int, _After]:
    """ACCEPTED and `msg` sent after the ack, or FAILED if there is nothing to send."""
    if msg is None:
        return FAILED, None
    return ACCEPTED, lambda: link.send(msg)
