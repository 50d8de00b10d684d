"""Mission, fence and rally storage and item validation as PX4's mavlink_mission.cpp does it."""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import IntEnum


class MissionType(IntEnum):
    """MAV_MISSION_TYPE."""

    MISSION = 0
    FENCE = 1
    RALLY = 2
    ALL = 255


class MissionResult(IntEnum):
    """MAV_MISSION_RESULT."""

    ACCEPTED = 0
    ERROR = 1
    UNSUPPORTED_FRAME = 2
    UNSUPPORTED = 3
    NO_SPACE = 4
    INVALID = 5
    INVALID_PARAM1 = 6
    INVALID_PARAM2 = 7
    INVALID_PARAM3 = 8
    INVALID_PARAM4 = 9
    INVALID_PARAM5_X = 10
    INVALID_PARAM6_Y = 11
    INVALID_PARAM7 = 12
    INVALID_SEQUENCE = 13
    DENIED = 14
    OPERATION_CANCELLED = 15


class Cmd(IntEnum):
    """MAV_CMD values this vehicle interprets in missions."""

    NAV_WAYPOINT = 16
    NAV_LOITER_UNLIM = 17
    NAV_LOITER_TURNS = 18
    NAV_LOITER_TIME = 19
    NAV_RETURN_TO_LAUNCH = 20
    NAV_LAND = 21
    NAV_TAKEOFF = 22
    NAV_LOITER_TO_ALT = 31
    NAV_ROI = 80
    NAV_DELAY = 93
    CONDITION_DELAY = 112
    DO_JUMP = 177
    DO_CHANGE_SPEED = 178
    DO_SET_HOME = 179
    DO_LAND_START = 189
    DO_SET_ROI_LOCATION = 195
    DO_SET_ROI_NONE = 197
    DO_SET_ROI = 201
    FENCE_RETURN_POINT = 5000
    FENCE_POLYGON_VERTEX_INCLUSION = 5001
    FENCE_POLYGON_VERTEX_EXCLUSION = 5002
    FENCE_CIRCLE_INCLUSION = 5003
    FENCE_CIRCLE_EXCLUSION = 5004
    RALLY_POINT = 5100


FRAME_GLOBAL = 0
FRAME_MISSION = 2
FRAME_GLOBAL_RELATIVE_ALT = 3
FRAME_GLOBAL_INT = 5
FRAME_GLOBAL_RELATIVE_ALT_INT = 6

GLOBAL_FRAMES = frozenset(
    {FRAME_GLOBAL, FRAME_GLOBAL_RELATIVE_ALT, FRAME_GLOBAL_INT, FRAME_GLOBAL_RELATIVE_ALT_INT}
)
RELATIVE_FRAMES = frozenset({FRAME_GLOBAL_RELATIVE_ALT, FRAME_GLOBAL_RELATIVE_ALT_INT})

# PX4 dataman capacity per plan (DM_KEY_WAYPOINTS_OFFBOARD_*_MAX, DM_KEY_FENCE_POINTS_MAX, DM_KEY_SAFE_POINTS_MAX).
MAX_ITEMS = {MissionType.MISSION: 500, MissionType.FENCE: 64, MissionType.RALLY: 8}

# Items the navigator flies to (everything else in a mission is an action or a condition).
NAV_POSITION_CMDS = frozenset(
    {
        Cmd.NAV_WAYPOINT,
        Cmd.NAV_LOITER_UNLIM,
        Cmd.NAV_LOITER_TURNS,
        Cmd.NAV_LOITER_TIME,
        Cmd.NAV_LAND,
        Cmd.NAV_TAKEOFF,
        Cmd.NAV_LOITER_TO_ALT,
    }
)
_POSITION_CMDS = NAV_POSITION_CMDS | frozenset(
    {
        Cmd.NAV_ROI,
        Cmd.DO_SET_ROI,
        Cmd.DO_SET_ROI_LOCATION,
        Cmd.RALLY_POINT,
        Cmd.FENCE_RETURN_POINT,
        Cmd.FENCE_POLYGON_VERTEX_INCLUSION,
        Cmd.FENCE_POLYGON_VERTEX_EXCLUSION,
        Cmd.FENCE_CIRCLE_INCLUSION,
        Cmd.FENCE_CIRCLE_EXCLUSION,
    }
)
_FENCE_CMDS = frozenset(
    {
        Cmd.FENCE_RETURN_POINT,
        Cmd.FENCE_POLYGON_VERTEX_INCLUSION,
        Cmd.FENCE_POLYGON_VERTEX_EXCLUSION,
        Cmd.FENCE_CIRCLE_INCLUSION,
        Cmd.FENCE_CIRCLE_EXCLUSION,
    }
)
# MISSION-frame commands PX4 stores (navigator executes the ones it knows, skips the rest).
_MISSION_FRAME_CMDS = frozenset(
    {
        int(Cmd.DO_JUMP),
        int(Cmd.DO_CHANGE_SPEED),
        int(Cmd.DO_SET_HOME),
        int(Cmd.DO_LAND_START),
        int(Cmd.DO_SET_ROI_NONE),
        int(Cmd.DO_SET_ROI),
        int(Cmd.NAV_RETURN_TO_LAUNCH),
        int(Cmd.NAV_DELAY),
        int(Cmd.CONDITION_DELAY),
        114,  # CONDITION_DISTANCE
        183,  # DO_SET_SERVO
        187,  # DO_SET_ACTUATOR
        200,  # DO_CONTROL_VIDEO
        203,  # DO_DIGICAM_CONTROL
        205,  # DO_MOUNT_CONTROL
        206,  # DO_SET_CAM_TRIGG_DIST
        211,  # DO_GRIPPER
        214,  # DO_SET_CAM_TRIGG_INTERVAL
        400,  # COMPONENT_ARM_DISARM
        530,  # SET_CAMERA_MODE
        531,  # SET_CAMERA_ZOOM
        532,  # SET_CAMERA_FOCUS
        1000,  # DO_GIMBAL_MANAGER_PITCHYAW
        2000,  # IMAGE_START_CAPTURE
        2001,  # IMAGE_STOP_CAPTURE
        2500,  # VIDEO_START_CAPTURE
        2501,  # VIDEO_STOP_CAPTURE
        3000,  # DO_VTOL_TRANSITION
        42600,  # DO_WINCH
    }
)


@dataclass(frozen=True, slots=True)
class Item:
    """One stored plan item, kept in MISSION_ITEM_INT form."""

    seq: int
    frame: int
    command: int
    autocontinue: int
    param1: float
    param2: float
    param3: float
    param4: float
    x: int
    y: int
    z: float
    mission_type: int

    @property
    def lat_deg(self) -> float:
        """Latitude of a global-frame item."""
        return self.x / 1e7

    @property
    def lon_deg(self) -> float:
        """Longitude of a global-frame item."""
        return self.y / 1e7


def validate_item(item: Item, mission_type: MissionType) -> MissionResult:
    """The MISSION_ACK result PX4 gives this item in an upload of `mission_type` (ACCEPTED if stored)."""
    cmd = item.command
    if item.frame in GLOBAL_FRAMES:
        if cmd not in _POSITION_CMDS:
            return MissionResult.UNSUPPORTED
        if mission_type is MissionType.MISSION and (cmd in _FENCE_CMDS or cmd == Cmd.RALLY_POINT):
            return MissionResult.ERROR
        if mission_type is MissionType.FENCE and cmd not in _FENCE_CMDS:
            return MissionResult.UNSUPPORTED
        if mission_type is MissionType.RALLY and cmd != Cmd.RALLY_POINT:
            return MissionResult.UNSUPPORTED
        if not -90.0 <= item.lat_deg <= 90.0:
            return MissionResult.INVALID_PARAM5_X
        if not -180.0 <= item.lon_deg <= 180.0:
            return MissionResult.INVALID_PARAM6_Y
        if cmd in (Cmd.FENCE_POLYGON_VERTEX_INCLUSION, Cmd.FENCE_POLYGON_VERTEX_EXCLUSION):
            if not math.isfinite(item.param1) or item.param1 < 3:
                return MissionResult.ERROR
        elif cmd in (Cmd.FENCE_CIRCLE_INCLUSION, Cmd.FENCE_CIRCLE_EXCLUSION):
            if not math.isfinite(item.param1) or item.param1 <= 0:
                return MissionResult.INVALID_PARAM1
        elif not math.isfinite(item.z):
            return MissionResult.INVALID_PARAM7
        if cmd == Cmd.NAV_LOITER_TIME and not (math.isfinite(item.param1) and item.param1 >= 0):
            return MissionResult.INVALID_PARAM1
        if cmd == Cmd.NAV_LOITER_TURNS and not (math.isfinite(item.param1) and item.param1 >= 0):
            return MissionResult.INVALID_PARAM1
        return MissionResult.ACCEPTED
    if item.frame == FRAME_MISSION:
        if mission_type is not MissionType.MISSION or cmd not in _MISSION_FRAME_CMDS:
            return MissionResult.UNSUPPORTED
        if cmd == Cmd.DO_JUMP and not (math.isfinite(item.param1) and item.param1 >= 0):
            return MissionResult.INVALID_PARAM1
        if cmd == Cmd.DO_CHANGE_SPEED and not math.isfinite(item.param2):
            return MissionResult.INVALID_PARAM2
        return MissionResult.ACCEPTED
    return MissionResult.UNSUPPORTED_FRAME


@dataclass(slots=True)
class Plans:
    """The three stored plans and the mission's current item."""

    mission: list[Item]
    fence: list[Item]
    rally: list[Item]
    current_seq: int = 0

    def get(self, mission_type: MissionType) -> list[Item]:
        """Items of one plan."""
        if mission_type is MissionType.FENCE:
            return self.fence
        if mission_type is MissionType.RALLY:
            return self.rally
        return self.mission

    def put(self, mission_type: MissionType, items: list[Item]) -> None:
        """Replace one plan."""
        if mission_type is MissionType.FENCE:
            self.fence = items
        elif mission_type is MissionType.RALLY:
            self.rally = items
        else:
            self.mission = items
            self.current_seq = 0


def new_plans() -> Plans:
    """Empty plans."""
    return Plans([], [], [])


def check_mission_feasible(items: list[Item]) -> str | None:
    """Why the navigator would reject this mission, or None if it can be flown."""
    for it in items:
        if it.command == Cmd.DO_JUMP and not (0 <= int(it.param1) < len(items)):
            return f"Mission rejected: DO_JUMP target {int(it.param1)} out of range"
        if it.command == Cmd.DO_JUMP and int(it.param1) == it.seq:
            return "Mission rejected: DO_JUMP to itself"
    if not any(it.frame in GLOBAL_FRAMES for it in items):
        return "Mission rejected: no position items"
    return None
