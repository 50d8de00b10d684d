"""The MAVLink numbers the vehicle link speaks (common.xml), and how PX4 echoes float32 values."""

from __future__ import annotations

import math

from pymavlink.dialects.v20 import common as mavlink

MAV_RESULT_NAMES = {
    0: "ACCEPTED",
    1: "TEMPORARILY_REJECTED",
    2: "DENIED",
    3: "UNSUPPORTED",
    4: "FAILED",
    5: "IN_PROGRESS",
    6: "CANCELLED",
    7: "COMMAND_LONG_ONLY",
    8: "COMMAND_INT_ONLY",
}
MAV_RESULT_ACCEPTED = 0
MAV_RESULT_TEMPORARILY_REJECTED = 1
MAV_RESULT_IN_PROGRESS = 5
MISSION_RESULT_NAMES = {
    0: "ACCEPTED",
    1: "ERROR",
    2: "UNSUPPORTED_FRAME",
    3: "UNSUPPORTED",
    4: "NO_SPACE",
    5: "INVALID",
    6: "INVALID_PARAM1",
    7: "INVALID_PARAM2",
    8: "INVALID_PARAM3",
    9: "INVALID_PARAM4",
    10: "INVALID_PARAM5_X",
    11: "INVALID_PARAM6_Y",
    12: "INVALID_PARAM7",
    13: "INVALID_SEQUENCE",
    14: "DENIED",
    15: "OPERATION_CANCELLED",
}
MISSION_ACK_ACCEPTED = 0
MISSION_ACK_UNSUPPORTED = 3

# Message ids the link decodes; every other frame is only counted.
HEARTBEAT = 0
SYS_STATUS = 1
PARAM_VALUE = 22
GPS_RAW_INT = 24
GLOBAL_POSITION_INT = 33
MISSION_REQUEST = 40
MISSION_CURRENT = 42
MISSION_COUNT = 44
MISSION_ITEM_REACHED = 46
MISSION_ACK = 47
MISSION_REQUEST_INT = 51
MISSION_ITEM_INT = 73
VFR_HUD = 74
COMMAND_ACK = 77
TIMESYNC = 111
BATTERY_STATUS = 147
HOME_POSITION = 242
EXTENDED_SYS_STATE = 245
STATUSTEXT = 253
GIMBAL_DEVICE_ATTITUDE_STATUS = 285
WANTED = frozenset(
    {
        HEARTBEAT,
        SYS_STATUS,
        PARAM_VALUE,
        GPS_RAW_INT,
        GLOBAL_POSITION_INT,
        MISSION_REQUEST,
        MISSION_CURRENT,
        MISSION_COUNT,
        MISSION_ITEM_REACHED,
        MISSION_ACK,
        MISSION_REQUEST_INT,
        MISSION_ITEM_INT,
        VFR_HUD,
        COMMAND_ACK,
        TIMESYNC,
        BATTERY_STATUS,
        HOME_POSITION,
        EXTENDED_SYS_STATE,
        STATUSTEXT,
        GIMBAL_DEVICE_ATTITUDE_STATUS,
    }
)
# High-rate telemetry decoded at most state_rate_hz times a second (PX4 SITL streams them at 50 Hz).
RATE_LIMITED = frozenset({GLOBAL_POSITION_INT, VFR_HUD, GPS_RAW_INT, SYS_STATUS, BATTERY_STATUS})
KNOWN_IDS = frozenset(mavlink.mavlink_map)
MISSION_MSGS = frozenset(
    {MISSION_REQUEST, MISSION_REQUEST_INT, MISSION_ACK, MISSION_COUNT, MISSION_ITEM_INT}
)

MAV_TYPE_GCS = 6
MAV_AUTOPILOT_INVALID = 8
MAV_STATE_ACTIVE = 4
MODE_FLAG_CUSTOM = 1
MODE_FLAG_ARMED = 128
PARAM_TYPE_INT32 = 6
PARAM_TYPE_REAL32 = 9
PARAM_TYPES_INTEGER = frozenset({1, 2, 3, 4, 5, 6})
CMD_ARM_DISARM = 400
CMD_DO_SET_MODE = 176
CMD_DO_REPOSITION = 192
CMD_DO_ORBIT = 34
CMD_DO_CHANGE_SPEED = 178
CMD_DO_GIMBAL_MANAGER_PITCHYAW = 1000
CMD_DO_GIMBAL_MANAGER_CONFIGURE = 1001
GIMBAL_MANAGER_FLAGS_PITCH_LOCK = 8  # pitch relative to the horizon, not the airframe
CMD_NAV_LAND = 21
CMD_REQUEST_MESSAGE = 512
MAV_FRAME_GLOBAL_INT = 5


def echo_equal(a: float, b: float) -> bool:
    """True if `b` is how the vehicle stores `a` (float32 rounding; NaN equals NaN)."""
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-4)


def frame_crc_ok(frame: bytes | memoryview, msgid: int) -> bool:
    """Whether a whole MAVLink 1 or 2 frame's checksum (with its message's CRC_EXTRA) holds."""
    entry = mavlink.mavlink_map.get(msgid)
    if entry is None:
        return False
    payload_end = len(frame) - 2 - (13 if frame[0] == 0xFD and frame[2] & 1 else 0)
    if payload_end < 1:
        return False
    crc = mavlink.x25crc(bytes(frame[1:payload_end]))
    crc.accumulate(bytes([entry.crc_extra]))
    received_crc = frame[payload_end] | (frame[payload_end + 1] << 8)
    return bool(crc.crc == received_crc)
