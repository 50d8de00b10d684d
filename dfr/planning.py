"""The one plan builder of the service: a stored drone's response plan, from its dock or the air."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from dataclasses import replace
from datetime import datetime
from functools import partial
from typing import Protocol

from dfr.models import Dock, Drone
from flight import (
    DronePerformance,
    FlightPlan,
    LinkConfig,
    VehicleState,
    plan_response,
    plan_response_from_air,
)
from flight.kinematics import VehicleLimits, read_vehicle_limits, return_speed_mps
from geofence import Airspace, GeoPoint

log = logging.getLogger(__name__)
#: Wall seconds a newly opened link has to hear its vehicle before its limits are left at PX4's.
LIMITS_CONNECT_TIMEOUT_S = 300.0


class ParamSource(Protocol):
    """What reading a vehicle's limits needs of its link."""

    def wait_connected(self, timeout_s: float) -> Awaitable[object]:
        """Until the vehicle is heard."""

    def get_param(self, name: str) -> Awaitable[float | int]:
        """One parameter's value."""


class VehicleLimitsBook:
    """The speed and altitude limits each linked vehicle reported at connect, by drone id.

    A drone whose vehicle has not reported them (not linked here yet, or not answering) is planned
    with PX4's defaults.
    """

    def __init__(self) -> None:
        self._limits: dict[str, VehicleLimits] = {}
        self._reading: dict[str, asyncio.Task[None]] = {}

    def of(self, drone_id: str) -> VehicleLimits:
        """The limits `drone_id`'s vehicle reported, else PX4's defaults."""
        return self._limits.get(drone_id) or VehicleLimits()

    def read(self, drone_id: str, link: ParamSource) -> None:
        """Read the vehicle's limits once its link hears it (in the background)."""
        self.forget(drone_id)
        task = asyncio.get_running_loop().create_task(
            self._read(drone_id, link), name=f"vehicle-limits-{drone_id}"
        )
        self._reading[drone_id] = task
        task.add_done_callback(
            lambda t: (
                self._reading.pop(drone_id, None) if self._reading.get(drone_id) is t else None
            )
        )

    def forget(self, drone_id: str) -> None:
        """Stop reading `drone_id`'s limits (its link is closed); what was read stays."""
        task = self._reading.pop(drone_id, None)
        if task is not None:
            task.cancel()

    async def _read(self, drone_id: str, link: ParamSource) -> None:
        try:
            await link.wait_connected(LIMITS_CONNECT_TIMEOUT_S)
            limits = await read_vehicle_limits(link.get_param)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - a link that goes away leaves PX4's defaults
            log.info("limits of %s not read: %s", drone_id, exc)
            return
        self._limits[drone_id] = limits


#: The limits reported by the vehicles this process links to.
REPORTED_LIMITS = VehicleLimitsBook()


def performance_of(drone: Drone, limits: VehicleLimits | None = None) -> DronePerformance:
    """The planner's view of a drone: its airframe from the fleet, its limits from the vehicle.

    `limits`: by default the parameters the vehicle reported; PX4's defaults until it has.
    """
    limits = limits or REPORTED_LIMITS.of(drone.id)
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
    # The vehicle's own MPC_XY_VEL_MAX once it has reported it (PX4 would cap a faster value and
    # the read-back would refuse it); PX4's default before.
    speed = return_speed_mps(drone.cruise_speed_mps, REPORTED_LIMITS.of(drone.id))
    return replace(config, safety=replace(config.safety, xy_cruise_mps=speed))
