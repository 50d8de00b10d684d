"""The camera gimbal as PX4's gimbal manager (gimbal protocol v2) drives and reports it.

PX4's `gimbal` module acts as gimbal manager for a gimbal it controls itself. A component must
first be made primary controller with MAV_CMD_DO_GIMBAL_MANAGER_CONFIGURE (param1/param2: sysid/
compid; -1 leaves a field, -2 names the autopilot itself, -3 releases it if the sender holds it);
MAV_CMD_DO_GIMBAL_MANAGER_PITCHYAW from anyone else is DENIED. Pitch and yaw arrive in degrees
(pitch negative down, yaw relative to the vehicle unless YAW_LOCK). PX4 streams
GIMBAL_DEVICE_ATTITUDE_STATUS at 1 Hz and GIMBAL_MANAGER_STATUS at 0.5 Hz on normal and onboard links.
"""

from __future__ import annotations

import math
from typing import Any

from pymavlink.dialects.v20 import common as M  # noqa: N812

CMD_GIMBAL_MANAGER_PITCHYAW = 1000
CMD_GIMBAL_MANAGER_CONFIGURE = 1001
GIMBAL_COMMANDS = frozenset({CMD_GIMBAL_MANAGER_PITCHYAW, CMD_GIMBAL_MANAGER_CONFIGURE})
GIMBAL_DEVICE_ID = 1
# GIMBAL_MANAGER_FLAGS / GIMBAL_DEVICE_FLAGS
FLAG_NEUTRAL = 2
FLAG_ROLL_LOCK, FLAG_PITCH_LOCK, FLAG_YAW_LOCK = 4, 8, 16
# GIMBAL_MANAGER_CAP_FLAGS: pitch and yaw axes, follow and lock, horizon-stabilised pitch.
_CAP_FLAGS = 4 | 16 | 32 | 64 | 128 | 256
PITCH_MIN_DEG, PITCH_MAX_DEG = -90.0, 0.0  # a downward-looking DFR camera: down .. horizon
_ACCEPTED, _DENIED = 0, 2


class Gimbal:
    """One drone's stabilised two-axis gimbal and its manager state."""

    def __init__(self, autopilot_sysid: int, pitch_deg: float = -90.0) -> None:
        self._own_sysid = autopilot_sysid
        self.neutral_pitch_deg = pitch_deg
        self.pitch_deg = pitch_deg
        self.yaw_deg = 0.0  # relative to the vehicle's heading
        self.primary: tuple[int, int] = (0, 0)  # (sysid, compid) in control; (0, 0): nobody

    def command(self, cmd: int, params: list[float], src: tuple[int, int]) -> int:
        """Handle a gimbal manager command from `src`; the MAV_RESULT to acknowledge."""
        if cmd == CMD_GIMBAL_MANAGER_CONFIGURE:
            self.primary = (
                self._control_field(params[0], self.primary[0], src[0], self._own_sysid),
                self._control_field(params[1], self.primary[1], src[1], 1),
            )
            return _ACCEPTED
        if src != self.primary:
            return _DENIED
        pitch, yaw, flags = params[0], params[1], int(params[4]) if math.isfinite(params[4]) else 0
        if flags & FLAG_NEUTRAL:
            self.pitch_deg, self.yaw_deg = self.neutral_pitch_deg, 0.0
            return _ACCEPTED
        # NaN leaves an axis where it is, as PX4's angle setpoint does.
        if math.isfinite(pitch):
            self.pitch_deg = min(PITCH_MAX_DEG, max(PITCH_MIN_DEG, pitch))
        if math.isfinite(yaw):
            self.yaw_deg = (yaw + 180.0) % 360.0 - 180.0
        return _ACCEPTED

    @staticmethod
    def _control_field(value: float, current: int, sender: int, own: int) -> int:
        code = round(value) if math.isfinite(value) else -1
        if 0 <= code <= 255:
            return code
        if code == -2:
            return own
        if code == -3:
            return 0 if current == sender else current
        return current  # -1 and anything unknown leave it unchanged

    def quaternion(self) -> list[float]:
        """Attitude as w, x, y, z (roll 0, pitch, yaw relative to the vehicle), PX4's Euler order."""
        half_pitch, half_yaw = math.radians(self.pitch_deg) / 2, math.radians(self.yaw_deg) / 2
        cp, sp, cy, sy = (
            math.cos(half_pitch),
            math.sin(half_pitch),
            math.cos(half_yaw),
            math.sin(half_yaw),
        )
        return [cp * cy, -sp * sy, sp * cy, cp * sy]

    def device_attitude_status(self, time_boot_ms: int) -> Any:
        """GIMBAL_DEVICE_ATTITUDE_STATUS as PX4 publishes it for the gimbal it drives."""
        return M.MAVLink_gimbal_device_attitude_status_message(
            0,
            0,
            time_boot_ms,
            FLAG_ROLL_LOCK | FLAG_PITCH_LOCK,
            self.quaternion(),
            math.nan,
            math.nan,
            math.nan,
            0,
            math.nan,
            math.nan,
            GIMBAL_DEVICE_ID,
        )

    def manager_status(self, time_boot_ms: int) -> Any:
        """GIMBAL_MANAGER_STATUS: who is in control."""
        return M.MAVLink_gimbal_manager_status_message(
            time_boot_ms,
            FLAG_ROLL_LOCK | FLAG_PITCH_LOCK,
            GIMBAL_DEVICE_ID,
            self.primary[0],
            self.primary[1],
            0,
            0,
        )

    def manager_information(self, time_boot_ms: int) -> Any:
        """GIMBAL_MANAGER_INFORMATION: the axes and their limits."""
        return M.MAVLink_gimbal_manager_information_message(
            time_boot_ms,
            _CAP_FLAGS,
            GIMBAL_DEVICE_ID,
            0.0,
            0.0,
            math.radians(PITCH_MIN_DEG),
            math.radians(PITCH_MAX_DEG),
            -math.pi,
            math.pi,
        )
