"""The one plan builder of the service: a stored drone's response plan, from its dock or the air."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from functools import partial

from dfr.models import Dock, Drone
from flight import (
    DronePerformance,
    FlightPlan,
    LinkConfig,
    VehicleState,
    plan_response,
    plan_response_from_air,
)
from flight.kinematics import VehicleLimits, return_speed_mps
from geofence import Airspace, GeoPoint


def performance_of(drone: Drone, limits: VehicleLimits | None = None) -> DronePerformance:
    """The planner's view of a drone: its airframe from the fleet, its limits from the vehicle.

    `limits` are the parameters the vehicle reported; PX4's defaults until it has.
    """
    limits = limits or VehicleLimits()
    return DronePerformance(
        cruise_speed_mps=drone.cruise_speed_mps,
        climb_rate_mps=drone.climb_rate_mps,
        descent_rate_mps=max(1.0, drone.climb_rate_mps * 0.75),
        cruise_power_w=drone.cruise_power_w,
        hover_power_w=drone.hover_power_w,
        climb_power_w=drone.hover_power_w * 1.3,
        limits=limits,
        return_speed_mps=return_speed_mps(drone.cruise_speed_mps, limits),
    )


def plan_for_drone(
    airspace: Airspace,
    drone: Drone,
    dock: Dock,
    target: GeoPoint,
    now: datetime,
    *,
    airborne: VehicleState | None = None,
    orbit_radius_m: float = 50.0,
    alt_agl_m: float | None = None,
) -> FlightPlan:
    """`drone`'s plan to `target` and back to `dock`: from where it flies when `airborne` (with a
    position), else from the dock. PlanRejectedError names every reason a plan is illegal."""
    home = GeoPoint(dock.lat, dock.lon)
    performance = performance_of(drone)
    plan = plan_response
    if airborne is not None and airborne.position is not None:
        plan = partial(
            plan_response_from_air, airborne.position, max(0.0, airborne.alt_agl_m or 0.0)
        )
    return plan(
        home,
        target,
        airspace,
        performance,
        now,
        orbit_radius_m=orbit_radius_m,
        alt_agl_m=alt_agl_m,
    )


def with_return_speed(config: LinkConfig, drone: Drone) -> LinkConfig:
    """`config` that also sets the drone's MPC_XY_CRUISE, so PX4's RTL flies home at the planned speed."""
    speed = return_speed_mps(drone.cruise_speed_mps, VehicleLimits())
    return replace(config, safety=replace(config.safety, xy_cruise_mps=speed))
