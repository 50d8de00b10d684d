"""One function per dispatch rule; each returns a verdict with a sentence a dispatcher understands.

Rules are pure: everything they judge is passed in, including the time. The verdict types live in
`verdict.py` and stay importable from here.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

from dfr.dispatch import wording
from dfr.dispatch.agency_policy import AgencyPolicy, PreemptionPolicy, WeatherLimits
from dfr.dispatch.daylight import Daylight, LightPhase
from dfr.dispatch.facts import CallFacts, DockFacts, DroneFacts, RouteFacts, WeatherFacts
from dfr.dispatch.verdict import Detail as Detail
from dfr.dispatch.verdict import Rule as Rule
from dfr.dispatch.verdict import RuleVerdict as RuleVerdict
from geofence import distance_m

#: Cruise altitude assumed for estimates when no flight plan is given.
ESTIMATE_CRUISE_ALT_AGL_M = 60.0
#: Float noise allowance when comparing an altitude with a ceiling.
ALTITUDE_TOLERANCE_M = 0.01

# --- call-level rules -----------------------------------------------------------------------------


def check_call_type(call: CallFacts, agency: AgencyPolicy) -> RuleVerdict:
    """The call's APCO type (or its category) is on the agency's list at this priority."""
    details: dict[str, Detail] = {
        "call_type": call.call_type,
        "category": call.category,
        "priority": call.priority,
    }
    label = f"{call.call_type.strip().upper()} priority {call.priority}"
    if agency.is_never(call.call_type, call.category):
        return RuleVerdict(
            Rule.CALL_TYPE,
            False,
            f"{label}: the agency never sends a drone to this call type.",
            details,
        )
    match = agency.rule_for(call.call_type, call.category)
    if match is None:
        if call.category.strip().lower() in ("", "unmapped"):
            reason = (
                f"Call type {call.call_type.strip().upper()!r} is not mapped to a drone response "
                "category; not eligible."
            )
        else:
            reason = (
                f"Call type {call.call_type.strip().upper()!r} (category {call.category}) is not on "
                "the agency's drone response list."
            )
        return RuleVerdict(Rule.CALL_TYPE, False, reason, details)
    matched, rule = match
    details.update(
        matched=matched,
        max_priority=rule.max_priority,
        auto_launch_max_priority=rule.auto_launch_max_priority,
    )
    if call.priority > rule.max_priority:
        return RuleVerdict(
            Rule.CALL_TYPE,
            False,
            f"{label}: the agency flies {matched} only at priority {rule.max_priority} or higher.",
            details,
        )
    if rule.requires_in_progress and not call.in_progress:
        return RuleVerdict(
            Rule.CALL_TYPE,
            False,
            f"{label}: the agency flies {matched} only while in progress, and this call is not.",
            details,
        )
    return RuleVerdict(
        Rule.CALL_TYPE,
        True,
        f"{label} is a drone response call (allowed up to priority {rule.max_priority}).",
        details,
    )


def check_weather(
    weather: WeatherFacts | None, limits: WeatherLimits, now: datetime, tz: tzinfo
) -> RuleVerdict:
    """Wind, gusts, visibility, present weather and ceiling are within the agency's limits."""
    if weather is None:
        return RuleVerdict(
            Rule.WEATHER,
            False,
            "No weather observation is available; a pilot must enter the current weather.",
        )
    details: dict[str, Detail] = {
        "source": weather.source,
        "observed_at": weather.observed_at.isoformat(),
        "wind_speed_mps": weather.wind_speed_mps,
        "wind_gust_mps": weather.wind_gust_mps,
        "visibility_m": weather.visibility_m,
        "present_weather": weather.present_weather,
        "ceiling_ft": weather.ceiling_ft,
        "max_wind_mps": limits.max_wind_mps,
        "max_gust_mps": limits.max_gust_mps,
        "min_visibility_m": limits.min_visibility_m,
        "min_ceiling_ft": limits.min_ceiling_ft,
    }
    where = f"{weather.source} at {wording.clock(weather.observed_at, tz)}"
    age_s = (now - weather.observed_at).total_seconds()
    if age_s > limits.max_observation_age_min * 60.0:
        return RuleVerdict(
            Rule.WEATHER,
            False,
            f"The latest weather ({where}) is {wording.duration(age_s)} old, older than the "
            f"{limits.max_observation_age_min:g} min the agency accepts.",
            details,
        )
    problems: list[str] = []
    facts: list[str] = []
    for problem, fact in (
        _measured("wind", weather.wind_speed_mps, limits.max_wind_mps, wording.speed),
        _measured(
            "gusts",
            weather.wind_gust_mps,
            limits.max_gust_mps,
            wording.speed,
            verb="are",
            required=False,
        ),
        _measured(
            "visibility",
            weather.visibility_m,
            limits.min_visibility_m,
            wording.visibility,
            at_least=True,
        ),
    ):
        if problem is not None:
            problems.append(problem)
        if fact is not None:
            facts.append(fact)
    grounding = [c for c in weather.present_weather if _forbidden(c, limits.forbidden_weather)]
    if grounding:
        problems.append(f"present weather {' '.join(grounding)} grounds the fleet")
    elif weather.present_weather:
        facts.append(f"present weather {' '.join(weather.present_weather)}")
    else:
        facts.append("no precipitation")
    if weather.ceiling_ft is not None and weather.ceiling_ft < limits.min_ceiling_ft:
        problems.append(
            f"cloud ceiling {weather.ceiling_ft:.0f} ft is under the {limits.min_ceiling_ft:.0f} ft minimum"
        )
    else:
        facts.append(
            "no cloud ceiling"
            if weather.ceiling_ft is None
            else f"ceiling {weather.ceiling_ft:.0f} ft"
        )
    if problems:
        text = "; ".join(problems)
        return RuleVerdict(Rule.WEATHER, False, f"{text[0].upper()}{text[1:]} ({where}).", details)
    text = ", ".join(facts)
    return RuleVerdict(
        Rule.WEATHER, True, f"{text[0].upper()}{text[1:]}: within limits ({where}).", details
    )


def _measured(
    label: str,
    value: float | None,
    limit: float,
    show: Callable[[float], str],
    *,
    verb: str = "is",
    at_least: bool = False,
    required: bool = True,
) -> tuple[str | None, str | None]:
    """(problem, fact) for one reported quantity against the agency's maximum (or minimum)."""
    if value is None:
        return (f"{label} is not reported" if required else None), None
    if at_least and value < limit:
        return f"{label} {show(value)} {verb} under the {show(limit)} minimum", None
    if not at_least and value > limit:
        return f"{label} {show(value)} {verb} over the {show(limit)} limit", None
    return None, f"{label} {show(value)}"


def _split_weather_code(code: str) -> tuple[str, list[str]]:
    body = code.strip().upper()
    intensity = ""
    if body[:1] in "+-":
        intensity, body = body[0], body[1:]
    if body.startswith("VC"):  # in the vicinity: as dangerous for a drone crossing it
        body = body[2:]
    return intensity, [body[i : i + 2] for i in range(0, len(body), 2)]


def _forbidden(code: str, forbidden: tuple[str, ...]) -> bool:
    intensity, groups = _split_weather_code(code)
    for token in forbidden:
        want_intensity, want = _split_weather_code(token)
        if want_intensity and want_intensity != intensity:
            continue
        if all(g in groups for g in want):
            return True
    return False


# --- per-drone rules ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Trip:
    """Distances, time and energy of one drone's flight to the scene, on scene and back."""

    origin_is_dock: bool
    out_m: float
    back_m: float
    cruise_alt_agl_m: float
    eta_s: float
    energy_wh: float
    on_scene_s: float
    from_plan: bool


def estimate_trip(
    drone: DroneFacts, call: CallFacts, route: RouteFacts | None, agency: AgencyPolicy
) -> Trip:
    """The trip figures: from the flight plan where given, else from distance, speed and power."""
    airborne_origin = not drone.docked and drone.position is not None
    origin = (
        drone.position if airborne_origin and drone.position is not None else drone.dock.location
    )
    straight_out_m = distance_m(origin, call.location)
    out_m = route.length_m if route is not None and route.length_m is not None else straight_out_m
    if route is not None and route.return_length_m is not None:
        back_m = route.return_length_m
    elif not airborne_origin:
        back_m = out_m
    else:
        back_m = distance_m(call.location, drone.dock.location)
    alt_m = (
        route.cruise_alt_agl_m
        if route is not None and route.cruise_alt_agl_m is not None
        else ESTIMATE_CRUISE_ALT_AGL_M
    )
    climb_s = 0.0 if airborne_origin else alt_m / drone.climb_rate_mps
    descent_s = alt_m / drone.climb_rate_mps
    on_scene_s = agency.on_scene_min * 60.0
    if route is not None and route.plan_eta_s is not None:
        eta_s = route.plan_eta_s
    else:
        eta_s = climb_s + out_m / drone.cruise_speed_mps
    if route is not None and route.plan_energy_wh is not None:
        # A plan that includes less on-scene time than the policy asks is topped up with hover time.
        missing_s = max(0.0, on_scene_s - (route.plan_on_scene_s or 0.0))
        energy_wh = route.plan_energy_wh + drone.hover_power_w * missing_s / 3600.0
        from_plan = True
    else:
        transit_s = (out_m + back_m) / drone.cruise_speed_mps
        hover_s = climb_s + descent_s + on_scene_s
        energy_wh = (drone.cruise_power_w * transit_s + drone.hover_power_w * hover_s) / 3600.0
        from_plan = False
    return Trip(
        origin_is_dock=not airborne_origin,
        out_m=out_m,
        back_m=back_m,
        cruise_alt_agl_m=alt_m,
        eta_s=eta_s,
        energy_wh=energy_wh,
        on_scene_s=on_scene_s,
        from_plan=from_plan,
    )


def check_availability(
    drone: DroneFacts, call: CallFacts, preemption: PreemptionPolicy
) -> RuleVerdict:
    """Docked, healthy, link up, not in maintenance, not assigned to another call (or preemptible)."""
    name = drone.display_name
    details: dict[str, Detail] = {
        "docked": drone.docked,
        "link_up": drone.link_up,
        "in_maintenance": drone.in_maintenance,
        "health_problems": drone.health_problems,
        "assigned_call_id": None if drone.assignment is None else drone.assignment.call_id,
    }
    if drone.in_maintenance:
        return RuleVerdict(Rule.AVAILABILITY, False, f"{name} is in maintenance.", details)
    if not drone.link_up:
        return RuleVerdict(Rule.AVAILABILITY, False, f"{name} has no telemetry link.", details)
    if drone.health_problems:
        return RuleVerdict(
            Rule.AVAILABILITY,
            False,
            f"{name} is not healthy: {'; '.join(drone.health_problems)}.",
            details,
        )
    assignment = drone.assignment
    if assignment is not None:
        if assignment.call_id == call.call_id:
            return RuleVerdict(
                Rule.AVAILABILITY, True, f"{name} is already flying this call.", details
            )
        on_call = f"{name} is on call {assignment.call_id} (priority {assignment.priority})"
        gap = assignment.priority - call.priority
        if preemption.allowed and gap >= preemption.min_priority_gap:
            details["preempts_call_id"] = assignment.call_id
            return RuleVerdict(
                Rule.AVAILABILITY,
                True,
                f"{on_call}; this priority {call.priority} call may take it under the agency's "
                "preemption rule.",
                details,
            )
        why = (
            "the agency does not allow preemption"
            if not preemption.allowed
            else f"preemption needs a priority at least {preemption.min_priority_gap} higher"
        )
        return RuleVerdict(Rule.AVAILABILITY, False, f"{on_call}; {why}.", details)
    if not drone.docked:
        return RuleVerdict(
            Rule.AVAILABILITY, False, f"{name} is not on its dock (airborne or away).", details
        )
    return RuleVerdict(Rule.AVAILABILITY, True, f"{name} is docked, healthy and linked.", details)


def check_launch_battery(drone: DroneFacts, min_launch_pct: float) -> RuleVerdict:
    """The state of charge is at or above the agency's launch minimum."""
    details: dict[str, Detail] = {
        "battery_pct": drone.battery_pct,
        "min_launch_pct": min_launch_pct,
    }
    if drone.battery_pct is None:
        return RuleVerdict(
            Rule.LAUNCH_BATTERY,
            False,
            f"{drone.display_name} has not reported its battery.",
            details,
        )
    if drone.battery_pct < min_launch_pct:
        return RuleVerdict(
            Rule.LAUNCH_BATTERY,
            False,
            f"Battery {drone.battery_pct:.0f}% is under the {min_launch_pct:.0f}% launch minimum.",
            details,
        )
    return RuleVerdict(
        Rule.LAUNCH_BATTERY,
        True,
        f"Battery {drone.battery_pct:.0f}% is at or above the {min_launch_pct:.0f}% launch minimum.",
        details,
    )


def check_distance(dock: DockFacts, scene_distance_m: float, radius_m: float) -> RuleVerdict:
    """The scene is within the dock's response radius (the radius itself included)."""
    details: dict[str, Detail] = {
        "dock_id": dock.dock_id,
        "distance_m": scene_distance_m,
        "radius_m": radius_m,
    }
    if scene_distance_m <= radius_m:
        return RuleVerdict(
            Rule.DISTANCE,
            True,
            f"Scene is {wording.miles_km(scene_distance_m)} from {dock.name}, within its "
            f"{wording.miles_km(radius_m)} response radius.",
            details,
        )
    return RuleVerdict(
        Rule.DISTANCE,
        False,
        f"Scene is {wording.miles_km(scene_distance_m)} from {dock.name}, beyond its "
        f"{wording.miles_km(radius_m)} response radius.",
        details,
    )


def check_energy(drone: DroneFacts, trip: Trip, reserve_pct: float) -> RuleVerdict:
    """Charge on board covers out + on scene + back with the reserve left over."""
    capacity = drone.battery_capacity_wh
    reserve_wh = capacity * reserve_pct / 100.0
    details: dict[str, Detail] = {
        "battery_pct": drone.battery_pct,
        "capacity_wh": capacity,
        "trip_energy_wh": trip.energy_wh,
        "reserve_wh": reserve_wh,
        "out_m": trip.out_m,
        "back_m": trip.back_m,
        "on_scene_s": trip.on_scene_s,
        "from_plan": trip.from_plan,
    }
    if drone.battery_pct is None:
        return RuleVerdict(
            Rule.ENERGY, False, "Battery charge unknown; cannot check the round trip.", details
        )
    available_wh = capacity * drone.battery_pct / 100.0
    needed_wh = trip.energy_wh + reserve_wh
    details.update(available_wh=available_wh, needed_wh=needed_wh)
    basis = "flight plan" if trip.from_plan else "estimate"
    flight = (
        f"out {wording.miles_km(trip.out_m)}, {wording.duration(trip.on_scene_s)} on scene, "
        f"back {wording.miles_km(trip.back_m)}"
    )
    numbers = (
        f"the flight ({flight}) needs {trip.energy_wh:.1f} Wh ({basis}) plus the {reserve_pct:g}% "
        f"reserve of {reserve_wh:.1f} Wh = {needed_wh:.1f} Wh"
    )
    # A hair of float noise must not flip a trip that lands exactly on the reserve.
    if available_wh + 1e-9 >= needed_wh:
        return RuleVerdict(
            Rule.ENERGY,
            True,
            f"Battery {drone.battery_pct:.0f}% holds {available_wh:.1f} Wh; {numbers}.",
            details,
        )
    return RuleVerdict(
        Rule.ENERGY,
        False,
        f"Battery {drone.battery_pct:.0f}% holds only {available_wh:.1f} Wh; {numbers}.",
        details,
    )


def check_daylight(light: Daylight, night_waiver: bool, place: str, tz: tzinfo) -> RuleVerdict:
    """Daylight or civil twilight at the dock, unless the agency holds a night waiver."""
    details: dict[str, Detail] = {
        "phase": str(light.phase),
        "sun_elevation_deg": round(light.sun_elevation_deg, 2),
        "civil_dawn": None if light.civil_dawn is None else light.civil_dawn.isoformat(),
        "civil_dusk": None if light.civil_dusk is None else light.civil_dusk.isoformat(),
        "night_waiver": night_waiver,
    }
    if light.phase is not LightPhase.NIGHT:
        what = "Daylight" if light.phase is LightPhase.DAY else "Civil twilight"
        until = (
            f"; civil dusk at {wording.clock(light.civil_dusk, tz)}"
            if light.civil_dusk is not None
            else ""
        )
        return RuleVerdict(Rule.DAYLIGHT, True, f"{what} at {place}{until}.", details)
    if light.next_civil_dawn is not None and light.next_civil_dawn == light.civil_dawn:
        ended = f"before civil dawn at {wording.clock(light.next_civil_dawn, tz)}"
    elif light.civil_dusk is not None:
        ended = f"civil twilight ended at {wording.clock(light.civil_dusk, tz)}"
        if light.next_civil_dawn is not None:
            ended += f"; civil dawn at {wording.clock(light.next_civil_dawn, tz)}"
    else:
        ended = ""
    when = f" ({ended})" if ended else " (polar night)"
    if night_waiver:
        return RuleVerdict(
            Rule.DAYLIGHT,
            True,
            f"Night at {place}{when}; flown under the agency's night waiver.",
            details,
        )
    return RuleVerdict(
        Rule.DAYLIGHT, False, f"Night at {place}{when}; the agency has no night waiver.", details
    )


def check_airspace(route: RouteFacts, max_standoff_m: float) -> RuleVerdict:
    """A legal route exists, and the scene itself is legal or a useful stand-off point is."""
    details: dict[str, Detail] = {
        "legal": route.legal,
        "reasons": route.reasons,
        "length_m": route.length_m,
        "standoff_m": route.standoff_m,
        "max_standoff_m": max_standoff_m,
        "advisories": route.advisories,
    }
    if not route.legal:
        why = "; ".join(route.reasons) if route.reasons else "geofence found no legal route"
        return RuleVerdict(Rule.AIRSPACE, False, f"No legal route to the scene: {why}.", details)
    length = "" if route.length_m is None else f" of {wording.miles_km(route.length_m)}"
    notes = f" Advisories: {'; '.join(route.advisories)}." if route.advisories else ""
    if route.standoff_m is not None and route.standoff_m > 0:
        why = f": {route.standoff_reason}" if route.standoff_reason else ""
        if route.standoff_m > max_standoff_m:
            return RuleVerdict(
                Rule.AIRSPACE,
                False,
                f"The scene is in restricted airspace{why}; the nearest legal stand-off is "
                f"{route.standoff_m:.0f} m away, beyond the agency's {max_standoff_m:.0f} m limit.",
                details,
            )
        return RuleVerdict(
            Rule.AIRSPACE,
            True,
            f"Legal route{length} to a stand-off {route.standoff_m:.0f} m from the scene{why}.{notes}",
            details,
        )
    return RuleVerdict(Rule.AIRSPACE, True, f"Legal route{length} to the scene.{notes}", details)


def check_altitude(route: RouteFacts, trip: Trip) -> RuleVerdict:
    """The planned cruise altitude is under the lowest ceiling along the route."""
    alt_m = trip.cruise_alt_agl_m
    details: dict[str, Detail] = {
        "cruise_alt_agl_m": alt_m,
        "ceiling_agl_m": route.ceiling_agl_m,
        "ceiling_source": route.ceiling_source,
    }
    if route.ceiling_agl_m is None:
        return RuleVerdict(
            Rule.ALTITUDE,
            True,
            f"No ceiling below the planned {wording.metres_feet(alt_m)} AGL along the route.",
            details,
        )
    source = f" ({route.ceiling_source})" if route.ceiling_source else ""
    if alt_m <= route.ceiling_agl_m + ALTITUDE_TOLERANCE_M:
        return RuleVerdict(
            Rule.ALTITUDE,
            True,
            f"Cruise {wording.metres_feet(alt_m)} AGL is under the lowest ceiling "
            f"{wording.metres_feet(max(route.ceiling_agl_m, 0.0))}{source}.",
            details,
        )
    return RuleVerdict(
        Rule.ALTITUDE,
        False,
        f"Cruise {wording.metres_feet(alt_m)} AGL is above the lowest ceiling "
        f"{wording.metres_feet(max(route.ceiling_agl_m, 0.0))}{source}; needs an authorization.",
        details,
    )


def check_tfr(route: RouteFacts, tz: tzinfo) -> RuleVerdict:
    """No temporary flight restriction active now covers the route or the scene."""
    details: dict[str, Detail] = {
        "active_tfrs": tuple(t.zone_id for t in route.active_tfrs),
        "blocking_tfrs": tuple(t.zone_id for t in route.active_tfrs if t.blocks),
    }

    def label(t: Any) -> str:
        name = t.name or t.zone_id
        until = f" until {wording.clock(t.until, tz)}" if t.until is not None else ""
        return f"{name}{until}"

    blocking = [t for t in route.active_tfrs if t.blocks]
    if blocking:
        return RuleVerdict(
            Rule.TFR,
            False,
            f"Active TFR {', '.join(label(t) for t in blocking)} covers the route or the scene.",
            details,
        )
    if route.active_tfrs:
        return RuleVerdict(
            Rule.TFR,
            True,
            f"Active TFR {', '.join(label(t) for t in route.active_tfrs)} is avoided by the route.",
            details,
        )
    return RuleVerdict(Rule.TFR, True, "No TFR active now on the route or at the scene.", details)


def scene_distance_m(dock: DockFacts, call: CallFacts) -> float:
    """Straight distance from the dock to the scene (the response radius is measured this way)."""
    d = distance_m(dock.location, call.location)
    return d if math.isfinite(d) else math.inf
