"""Mapping of stored drone records to what the flight planner needs."""

from __future__ import annotations

from dfr.models import Drone
from flight import DronePerformance


def performance_of(drone: Drone) -> DronePerformance:
    """The planner's view of a drone's airframe."""
    return DronePerformance(
        cruise_speed_mps=drone.cruise_speed_mps,
        climb_rate_mps=drone.climb_rate_mps,
        descent_rate_mps=max(1.0, drone.climb_rate_mps * 0.75),
        cruise_power_w=drone.cruise_power_w,
        hover_power_w=drone.hover_power_w,
        climb_power_w=drone.hover_power_w * 1.3,
    )
