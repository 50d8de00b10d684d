"""Flight plans, the MAVLink vehicle link for a fleet, commands and flight state."""

from flight.mission_items import MavCmd, MavFrame, MissionItem, MissionType
from flight.plan import DronePerformance, EnergyEstimate, FlightPlan, PlanRejectedError
from flight.planner import fence_items, plan_response, zones_from_fence_items

__all__ = [
    "DronePerformance",
    "EnergyEstimate",
    "FlightPlan",
    "PlanRejectedError",
    "fence_items",
    "plan_response",
    "zones_from_fence_items",
    "MavCmd",
    "MavFrame",
    "MissionItem",
    "MissionType",
]
