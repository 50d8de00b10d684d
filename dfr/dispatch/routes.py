"""Route facts from the flight planner: a legal plan (ETA, energy, stand-off, ceilings) or its refusal.

The service calls `plan_route_facts` for each drone the policy asks about; time-limited exclusions
active now (TFRs) that shaped the plan are named in the facts.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from dfr.dispatch.facts import ActiveTfr, DroneFacts, RouteFacts
from dfr.planning import REPORTED_LIMITS
from flight import DronePerformance, FlightPlan, PlanRejectedError, plan_response
from flight.kinematics import VehicleLimits, return_speed_mps
from geofence import Airspace, GeoPoint, Zone, ZoneKind


def performance_of(drone: DroneFacts, limits: VehicleLimits | None = None) -> DronePerformance:
    """The planner's figures: the airframe from the fleet table, the limits from the vehicle.

    Climb power as `dfr.planning` has it, so the decision and the launched plan agree; the return
    speed is the MPC_XY_CRUISE the service sets on the vehicle (PX4's RTL speed).
    """
    limits = limits or REPORTED_LIMITS.of(drone.drone_id)
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


def _active_tfrs(
    airspace: Airspace | None, zone_ids: Iterable[str | None], now: datetime | None, *, blocks: bool
) -> tuple[ActiveTfr, ...]:
    """The time-limited exclusions among `zone_ids` that are active at `now`."""
    if airspace is None or now is None:
        return ()
    out: list[ActiveTfr] = []
    for zone_id in dict.fromkeys(z for z in zone_ids if z):
        if zone_id not in airspace.zones:
            continue
        zone = airspace.zones.get(zone_id)
        if not isinstance(zone, Zone) or zone.kind is not ZoneKind.EXCLUSION:
            continue
        if zone.is_permanent or not zone.is_active(now):
            continue
        ends = [a.end for a in zone.applicability if a.end is not None and a.is_active(now)]
        out.append(ActiveTfr(zone.id, zone.name, blocks=blocks, until=min(ends) if ends else None))
    return tuple(out)


def route_facts_from_plan(
    plan: FlightPlan,
    *,
    on_scene_min: float,
    airspace: Airspace | None = None,
    now: datetime | None = None,
) -> RouteFacts:
    """Facts of a legal plan; energy is the plan's for `on_scene_min` minutes over the scene."""
    flown = plan.leg_alt_agl_m
    legal = plan.route_out.leg_alt_agl_m
    # The leg with the least headroom under its ceiling is the one the altitude rule must judge.
    tight = min(range(len(flown)), key=lambda i: legal[i] - flown[i]) if flown else None
    standoff = plan.standoff
    return RouteFacts(
        legal=True,
        length_m=plan.length_m,
        return_length_m=plan.return_length_m,
        standoff_m=None if standoff is None else standoff.distance_to_target_m,
        standoff_reason="" if standoff is None else standoff.reason,
        cruise_alt_agl_m=None if tight is None else flown[tight],
        ceiling_agl_m=None if tight is None else legal[tight],
        ceiling_source="" if tight is None else f"highest legal altitude on leg {tight + 1}",
        active_tfrs=_active_tfrs(
            airspace, () if standoff is None else standoff.zone_ids, now, blocks=False
        ),
        plan_eta_s=plan.eta_s,
        plan_energy_wh=plan.energy_wh.total_wh(on_scene_min),
        plan_on_scene_s=on_scene_min * 60.0,
        advisories=plan.notes,
    )


def route_facts_from_rejection(
    error: PlanRejectedError, *, airspace: Airspace | None = None, now: datetime | None = None
) -> RouteFacts:
    """Facts of a refused plan: the planner's reasons, and any active TFR among them."""
    return RouteFacts(
        legal=False,
        reasons=error.reasons,
        active_tfrs=_active_tfrs(airspace, (v.zone_id for v in error.violations), now, blocks=True),
    )


def plan_route_facts(
    origin: GeoPoint,
    target: GeoPoint,
    airspace: Airspace,
    drone: DroneFacts,
    now: datetime,
    *,
    on_scene_min: float,
) -> tuple[RouteFacts, FlightPlan | None]:
    """Plan origin -> scene -> dock for `drone`; the facts, and the plan when one is legal."""
    try:
        plan = plan_response(origin, target, airspace, performance_of(drone), now)
    except PlanRejectedError as exc:
        return route_facts_from_rejection(exc, airspace=airspace, now=now), None
    return route_facts_from_plan(plan, on_scene_min=on_scene_min, airspace=airspace, now=now), plan
