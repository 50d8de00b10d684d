"""Flight plans, the MAVLink vehicle link for a fleet, commands and flight state."""

from flight.mission_items import MavCmd, MavFrame, MissionItem, MissionType

__all__ = [
    "MavCmd",
    "MavFrame",
    "MissionItem",
    "MissionType",
]
