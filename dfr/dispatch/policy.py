"""The dispatch decision: every rule for the call and for each drone, the recommendation and auto-launch.

`evaluate` is pure: it reads the facts it is given (time included) and returns a decision that keeps
every verdict with its reason, so the decision can be stored, shown and replayed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any

from dfr.dispatch import wording
from dfr.dispatch.agency_policy import AgencyPolicy
from dfr.dispatch.daylight import daylight_at
from dfr.dispatch.errors import InvalidFactsError
from dfr.dispatch.facts import CallFacts, DroneFacts, RouteFacts, WeatherFacts
from dfr.dispatch.guards import awaiting_approval, check_guards
from dfr.dispatch.rules import (
    Trip,
    check_airspace,
    check_altitude,
    check_availability,
    check_call_type,
    check_daylight,
    check_distance,
    check_energy,
    check_launch_battery,
    check_tfr,
    check_weather,
    estimate_trip,
    scene_distance_m,
)
from dfr.dispatch.verdict import Rule, RuleVerdict, not_checked

logger = logging.getLogger(__name__)

#: Route facts per drone: precomputed by drone id, or computed on demand (only for drones in range).
RouteSource = Mapping[str, RouteFacts] | Callable[[DroneFacts], RouteFacts | None]

_SUMMARY_MAX = 1000


@dataclass(frozen=True, slots=True)
class DroneEvaluation:
    """Every rule for one drone, and its time to scene when it is eligible."""

    drone_id: str
    drone_name: str
    dock_id: str
    dock_name: str
    eligible: bool
    rules: tuple[RuleVerdict, ...]
    distance_m: float  # dock to scene, straight
    eta_s: float | None  # launch to on scene; None when not estimated
    battery_pct: float | None
    preempts_call_id: str | None = None

    @property
    def failed(self) -> tuple[RuleVerdict, ...]:
        """The rules that did not pass (including those not checked)."""
        return tuple(v for v in self.rules if not v.passed)

    def to_public(self) -> dict[str, Any]:
        """As JSON."""
        return {
            "drone_id": self.drone_id,
            "drone_name": self.drone_name,
            "dock_id": self.dock_id,
            "dock_name": self.dock_name,
            "eligible": self.eligible,
            "distance_m": round(self.distance_m, 1),
            "eta_s": None if self.eta_s is None else round(self.eta_s, 1),
            "battery_pct": self.battery_pct,
            "preempts_call_id": self.preempts_call_id,
            "rules": [v.to_public() for v in self.rules],
        }


@dataclass(frozen=True, slots=True)
class DispatchDecision:
    """Whether a drone can respond to a call, which one, how soon, and why (or why not)."""

    call_id: str
    evaluated_at: datetime
    eligible: bool
    call_rules: tuple[RuleVerdict, ...]
    drones: tuple[DroneEvaluation, ...]
    recommended: DroneEvaluation | None
    runner_up: DroneEvaluation | None
    auto_launch: bool
    auto_launch_reason: str
    summary: str
    weather: WeatherFacts | None = None

    @property
    def eta_s(self) -> float | None:
        """Time to scene of the recommended drone."""
        return None if self.recommended is None else self.recommended.eta_s

    def evaluation_of(self, drone_id: str) -> DroneEvaluation | None:
        """The evaluation of one drone, or None if it was not evaluated."""
        return next((d for d in self.drones if d.drone_id == drone_id), None)

    def to_public(self) -> dict[str, Any]:
        """The JSON form the API and the console show: every rule with its verdict and reason."""

        def brief(d: DroneEvaluation | None) -> dict[str, Any] | None:
            if d is None:
                return None
            return {
                "drone_id": d.drone_id,
                "drone_name": d.drone_name,
                "dock_id": d.dock_id,
                "eta_s": None if d.eta_s is None else round(d.eta_s, 1),
                "distance_m": round(d.distance_m, 1),
                "preempts_call_id": d.preempts_call_id,
            }

        return {
            "call_id": self.call_id,
            "evaluated_at": self.evaluated_at.isoformat(),
            "eligible": self.eligible,
            "summary": self.summary,
            "recommended": brief(self.recommended),
            "runner_up": brief(self.runner_up),
            "auto_launch": self.auto_launch,
            "auto_launch_reason": self.auto_launch_reason,
            "call_rules": [v.to_public() for v in self.call_rules],
            "drones": [d.to_public() for d in self.drones],
            "weather": None if self.weather is None else self.weather.to_public(),
        }

    def to_record(self) -> dict[str, Any]:
        """The fields of the `decisions` table row (dfr.models.Decision) other than ids and time."""
        rows: list[dict[str, Any]] = [{"drone_id": None, **v.to_public()} for v in self.call_rules]
        for d in self.drones:
            rows.extend({"drone_id": d.drone_id, **v.to_public()} for v in d.rules)
        return {
            "eligible": self.eligible,
            "recommended_drone_id": None if self.recommended is None else self.recommended.drone_id,
            "runner_up_drone_id": None if self.runner_up is None else self.runner_up.drone_id,
            "eta_s": self.eta_s,
            "summary": self.summary,
            "rules": rows,
        }


_NO_ROUTE = "No route was computed for this drone."


def _route_for(
    routes: RouteSource, drone: DroneFacts, worth_checking: bool
) -> RouteFacts | RuleVerdict:
    """The drone's route facts, or the airspace verdict when there are none."""
    if isinstance(routes, Mapping):
        route = routes.get(drone.drone_id)
        return route if route is not None else RuleVerdict(Rule.AIRSPACE, False, _NO_ROUTE)
    if not worth_checking:
        # Routing is the costly check: skip it for a drone that cannot take the call anyway.
        return not_checked(Rule.AIRSPACE, "Not checked: the drone cannot take this call anyway.")
    try:
        computed = routes(drone)
    except Exception as exc:  # a failing airspace check must ground the drone, never the decision
        logger.exception("airspace check failed for drone %s", drone.drone_id)
        return RuleVerdict(
            Rule.AIRSPACE, False, f"The airspace check failed ({exc}); treated as no legal route."
        )
    return computed if computed is not None else RuleVerdict(Rule.AIRSPACE, False, _NO_ROUTE)


def _evaluate_drone(
    drone: DroneFacts,
    call: CallFacts,
    call_ok: bool,
    routes: RouteSource,
    agency: AgencyPolicy,
    now: datetime,
    tz: tzinfo,
    light_cache: dict[tuple[float, float, str], RuleVerdict],
) -> DroneEvaluation:
    dock = drone.dock
    availability = check_availability(drone, call, agency.preemption)
    launch = check_launch_battery(drone, agency.min_launch_battery_pct)
    distance = scene_distance_m(dock, call)
    radius = agency.radius_for(dock.dock_id, dock.response_radius_m)
    in_range = check_distance(dock, distance, radius)

    # Drones sharing a dock share its light: one sun computation and one verdict per dock.
    key = (dock.location.lat_deg, dock.location.lon_deg, dock.name)
    daylight = light_cache.get(key)
    if daylight is None:
        light = daylight_at(dock.location, now, tz)
        daylight = light_cache[key] = check_daylight(light, agency.night_waiver, dock.name, tz)

    worth = call_ok and availability.passed and in_range.passed
    found = _route_for(routes, drone, worth)
    route = found if isinstance(found, RouteFacts) else None
    trip: Trip = estimate_trip(drone, call, route, agency)
    energy = check_energy(drone, trip, agency.battery_reserve_pct)
    if isinstance(found, RuleVerdict):
        airspace = found
        altitude = not_checked(Rule.ALTITUDE, "Not checked: no route.")
        tfr = not_checked(Rule.TFR, "Not checked: no route.")
    else:
        airspace = check_airspace(found, agency.max_standoff_m)
        altitude = check_altitude(found, trip)
        tfr = check_tfr(found, tz)
    verdicts = (availability, launch, in_range, energy, daylight, airspace, altitude, tfr)
    eligible = call_ok and all(v.passed for v in verdicts)
    preempts = availability.details.get("preempts_call_id")
    return DroneEvaluation(
        drone_id=drone.drone_id,
        drone_name=drone.name or drone.drone_id,
        dock_id=dock.dock_id,
        dock_name=dock.name,
        eligible=eligible,
        rules=verdicts,
        distance_m=distance,
        eta_s=trip.eta_s,
        battery_pct=drone.battery_pct,
        preempts_call_id=preempts if isinstance(preempts, str) else None,
    )


def _rank_key(d: DroneEvaluation) -> tuple[bool, float, float, str]:
    # A free drone always beats taking one from another call; then time to scene, charge, id.
    return (
        d.preempts_call_id is not None,
        d.eta_s if d.eta_s is not None else float("inf"),
        -(d.battery_pct or 0.0),
        d.drone_id,
    )


def _auto_launch(
    call: CallFacts,
    call_type_verdict: RuleVerdict,
    best: DroneEvaluation | None,
    agency: AgencyPolicy,
) -> tuple[bool, str]:
    if best is None:
        return False, "No eligible drone."
    if not agency.auto_launch:
        return False, "Auto-launch is turned off for the agency; a dispatcher launches."
    auto_max = call_type_verdict.details.get("auto_launch_max_priority")
    matched = call_type_verdict.details.get("matched", call.call_type)
    if not isinstance(auto_max, int) or auto_max < call.priority:
        limit = "never" if not auto_max else f"only at priority {auto_max} or higher"
        return False, f"Policy auto-launches {matched} {limit}; a dispatcher launches."
    if best.preempts_call_id is not None and not agency.preemption.auto_launch:
        return False, (
            f"The recommended drone would leave call {best.preempts_call_id}; a dispatcher decides."
        )
    return True, f"Policy auto-launches {matched} at priority {call.priority}."


def _summary(
    call_rules: Sequence[RuleVerdict],
    drones: Sequence[DroneEvaluation],
    best: DroneEvaluation | None,
    second: DroneEvaluation | None,
    auto_reason: str,
    auto: bool,
) -> str:
    if best is not None:
        eta = "" if best.eta_s is None else f", on scene in about {wording.duration(best.eta_s)}"
        text = f"Recommend {best.drone_name} ({best.drone_id}) from {best.dock_name}{eta}"
        if best.preempts_call_id is not None:
            text += f", taking it from call {best.preempts_call_id}"
        text += "."
        if second is not None:
            eta2 = "" if second.eta_s is None else f" in {wording.duration(second.eta_s)}"
            text += f" Runner-up {second.drone_name} ({second.drone_id}){eta2}."
        text += f" {'Auto-launch: ' if auto else ''}{auto_reason}"
        return text[:_SUMMARY_MAX]
    failed_call = [v.reason for v in call_rules if not v.passed]
    if failed_call:
        return f"No drone: {' '.join(failed_call)}"[:_SUMMARY_MAX]
    if not drones:
        return "No drone: the agency has no drones."
    reasons: list[str] = []
    for d in drones:
        first = next((v for v in d.rules if not v.passed and v.checked), None)
        if first is not None:
            reasons.append(f"{d.drone_id}: {first.reason}")
    return f"No eligible drone. {' '.join(reasons)}"[:_SUMMARY_MAX]


def evaluate(
    call: CallFacts,
    drones: Sequence[DroneFacts],
    *,
    routes: RouteSource,
    weather: WeatherFacts | None,
    agency: AgencyPolicy,
    now: datetime,
    tz: tzinfo = UTC,
) -> DispatchDecision:
    """Judge every rule for `call` and each drone at `now`; recommend the fastest eligible drone."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise InvalidFactsError("must carry a time zone", field="now")
    ids = [d.drone_id for d in drones]
    if len(set(ids)) != len(ids):
        raise InvalidFactsError("drone ids must be unique", field="drones")
    call_type = check_call_type(call, agency)
    weather_verdict = check_weather(weather, agency.weather, now, tz)
    guards = check_guards(call, agency.guards)
    call_rules = (call_type, weather_verdict, *guards)
    call_ok = all(v.passed for v in call_rules)
    light_cache: dict[tuple[float, float, str], RuleVerdict] = {}
    evaluations = tuple(
        _evaluate_drone(d, call, call_ok, routes, agency, now, tz, light_cache) for d in drones
    )
    ranked = sorted((d for d in evaluations if d.eligible), key=_rank_key)
    best = ranked[0] if ranked else None
    second = ranked[1] if len(ranked) > 1 else None
    auto, auto_reason = _auto_launch(call, call_type, best, agency)
    summary = _summary(call_rules, evaluations, best, second, auto_reason, auto)
    held = awaiting_approval(guards)
    if held is not None:
        # The queue reads "awaiting supervisor approval", not "no drone": the call is held, not refused.
        summary = held.reason[:_SUMMARY_MAX]
    return DispatchDecision(
        call_id=call.call_id,
        evaluated_at=now,
        eligible=best is not None,
        call_rules=call_rules,
        drones=evaluations,
        recommended=best,
        runner_up=second,
        auto_launch=auto,
        auto_launch_reason=auto_reason,
        summary=summary,
        weather=weather,
    )
