"""MAVLink mission items as plain data: what the planner produces and the link uploads.

Field meanings follow MISSION_ITEM_INT (common.xml): `x`/`y` are latitude/longitude in 1e-7 degrees
for global frames, `z` is the altitude in metres in the item's frame. The item's sequence number is its
index in the list it is uploaded in.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import IntEnum


class MissionType(IntEnum):
    """MAV_MISSION_TYPE."""

    MISSION = 0
    FENCE = 1
    RALLY = 2


class MavFrame(IntEnum):
    """The MAV_FRAME values PX4 accepts in missions."""

    GLOBAL = 0
    MISSION = 2
    GLOBAL_RELATIVE_ALT = 3
    GLOBAL_INT = 5
    GLOBAL_RELATIVE_ALT_INT = 6


class MavCmd(IntEnum):
    """The MAV_CMD values DFR plans with."""

    NAV_WAYPOINT = 16
    NAV_LOITER_UNLIM = 17
    NAV_LOITER_TURNS = 18
    NAV_LOITER_TIME = 19
    NAV_RETURN_TO_LAUNCH = 20
    NAV_LAND = 21
    NAV_TAKEOFF = 22
    DO_CHANGE_SPEED = 178
    DO_SET_ROI_LOCATION = 195
    DO_SET_ROI_NONE = 197
    DO_JUMP = 177
    NAV_FENCE_RETURN_POINT = 5000
    NAV_FENCE_POLYGON_VERTEX_INCLUSION = 5001
    NAV_FENCE_POLYGON_VERTEX_EXCLUSION = 5002
    NAV_FENCE_CIRCLE_INCLUSION = 5003
    NAV_FENCE_CIRCLE_EXCLUSION = 5004
    NAV_RALLY_POINT = 5100


@dataclass(frozen=True, slots=True)
class MissionItem:
    """One MISSION_ITEM_INT, without sequence number and target."""

    command: MavCmd | int
    frame: MavFrame | int = MavFrame.GLOBAL_RELATIVE_ALT_INT
    param1: float = 0.0
    param2: float = 0.0
    param3: float = 0.0
    param4: float = math.nan
    x: int = 0
    y: int = 0
    z: float = 0.0
    autocontinue: bool = True
    mission_type: MissionType = MissionType.MISSION
    extra: dict[str, float] = field(default_factory=dict, compare=False, hash=False)

    def same_on_wire(self, other: MissionItem) -> bool:
        """True if both items encode to the same MISSION_ITEM_INT (NaN equals NaN, float32 rounding)."""

        def f32_eq(a: float, b: float) -> bool:
            if math.isnan(a) and math.isnan(b):
                return True
            return math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-6)

        return (
            int(self.command) == int(other.command)
            and int(self.frame) == int(other.frame)
            and self.x == other.x
            and self.y == other.y
            and bool(self.autocontinue) == bool(other.autocontinue)
            and int(self.mission_type) == int(other.mission_type)
            and all(
                f32_eq(a, b)
                for a, b in (
                    (self.param1, other.param1),
                    (self.param2, other.param2),
                    (self.param3, other.param3),
                    (self.param4, other.param4),
                    (self.z, other.z),
                )
            )
        )
