"""What flight scenarios share: reading calls, decisions and flights as a user sees them, and watching drones.

These helpers only measure; the checks (and their names, which the narratives declare) stay in each
scenario's own module. Everything read here is user-visible: the service's HTTP API, what the
simulated CAD received, and the drones' positions (simulator truth or their MAVLink); the live
stream is watched by `stream_watcher`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import httpx

from geofence import GeoPoint, destination, distance_m
from simulator.cad import SimIncident
from simulator.scenarios.framework import Scenario
from simulator.scenarios.resources import DfrService, SimCad, SimFleet, ZoneSet
from simulator.scenarios.stimuli import event_kind, event_text, make_incident

__all__ = ["SimIncident", "event_kind", "event_text"]

log = logging.getLogger(__name__)

#: The regulatory and default policy ceiling (400 ft AGL), plus the simulator's altitude noise.
CEILING_AGL_M = 121.92
CEILING_TOLERANCE_M = 3.0
#: A drone counts as airborne above this height over its home.
AIRBORNE_ALT_M = 2.0
#: "At the dock" means landed within this distance of the dock.
AT_DOCK_RADIUS_M = 100.0
#: Flight states after which the flight is no longer flying.
FINISHED_FLIGHT_STATES = frozenset({"landed", "completed", "aborted"})


def wall_s(service: DfrService, simulated_s: float, floor_s: float = 5.0) -> float:
    """Wall-clock seconds to allow for `simulated_s` of simulated time (generous: a busy machine)."""
    return max(floor_s, 3.0 * simulated_s / max(1.0, service.context.speedup))


async def get_json(client: httpx.AsyncClient, path: str) -> Any | None:
    """The JSON body of a GET, or None when it is not 200."""
    try:
        response = await client.get(path)
    except httpx.HTTPError as exc:
        log.debug("GET %s failed: %s", path, exc)
        return None
    return response.json() if response.status_code == 200 else None


async def latest_decision(service: DfrService, call_id: int) -> dict[str, Any] | None:
    """`GET /calls/{id}/decision` (None until the dispatcher has decided)."""
    body = await get_json(service.client("dispatcher"), f"/calls/{call_id}/decision")
    return body if isinstance(body, dict) else None


async def call_detail(service: DfrService, call_id: int) -> dict[str, Any] | None:
    """`GET /calls/{id}`."""
    body = await get_json(service.client("dispatcher"), f"/calls/{call_id}")
    return body if isinstance(body, dict) else None


async def flights_of_call(service: DfrService, call_id: int) -> list[dict[str, Any]]:
    """The call's flights, oldest first (`GET /flights`)."""
    body = await get_json(service.client("dispatcher"), "/flights?limit=500")
    if not isinstance(body, dict):
        return []
    rows = [f for f in body.get("data", []) if f.get("call_id") == call_id]
    return sorted(rows, key=lambda f: int(f["id"]))


async def all_flights(service: DfrService) -> list[dict[str, Any]]:
    """Every flight, oldest first."""
    body = await get_json(service.client("dispatcher"), "/flights?limit=500")
    rows = body.get("data", []) if isinstance(body, dict) else []
    return sorted(rows, key=lambda f: int(f["id"]))


async def flight_detail(service: DfrService, flight_id: int) -> dict[str, Any] | None:
    """`GET /flights/{id}` with events, route and track."""
    body = await get_json(service.client("dispatcher"), f"/flights/{flight_id}")
    return body if isinstance(body, dict) else None


def flight_states(detail: dict[str, Any]) -> list[str]:
    """The states a flight went through, in order (from its events)."""
    states: list[str] = []
    for event in detail.get("events", []):
        to_state = str(event.get("to_state", ""))
        if to_state and (not states or states[-1] != to_state):
            states.append(to_state)
    return states


def failed_rule_reasons(decision: dict[str, Any]) -> list[str]:
    """Every failed rule's reason in a decision (call rules and per-drone rules)."""
    reasons = [
        str(r.get("reason", ""))
        for r in decision.get("call_rules", [])
        if r.get("checked", True) and not r.get("passed", True)
    ]
    for drone in decision.get("drones", []):
        reasons += [
            str(r.get("reason", ""))
            for r in drone.get("rules", [])
            if r.get("checked", True) and not r.get("passed", True)
        ]
    return [r for r in reasons if r]


def airborne(fleet: SimFleet, vehicle_id: str) -> bool:
    """Armed and above the ground, as the drone itself reports."""
    seen = fleet.observed(vehicle_id)
    return seen is not None and seen.armed and (seen.alt_rel_m or 0.0) > AIRBORNE_ALT_M


def airborne_vehicles(fleet: SimFleet) -> list[str]:
    """Every drone in the air now."""
    return [v for v in fleet.vehicle_ids() if airborne(fleet, v)]


def armed_vehicles(fleet: SimFleet) -> list[str]:
    """Every drone armed now."""
    return [
        v for v in fleet.vehicle_ids() if (seen := fleet.observed(v)) is not None and seen.armed
    ]


def dock_of(fleet: SimFleet, vehicle_id: str) -> GeoPoint:
    """The dock a drone belongs to."""
    vehicle = next(v for v in fleet.spec.vehicles if v.id == vehicle_id)
    dock = next(d for d in fleet.spec.docks if d.id == vehicle.dock)
    return dock.location


def distance_to_m(fleet: SimFleet, vehicle_id: str, lat: float, lon: float) -> float | None:
    """Horizontal distance of a drone from a point (None before any position)."""
    seen = fleet.observed(vehicle_id)
    if seen is None or seen.lat is None or seen.lon is None:
        return None
    return distance_m(GeoPoint(seen.lat, seen.lon), GeoPoint(lat, lon))


def landed_at_dock(fleet: SimFleet, vehicle_id: str) -> bool:
    """Disarmed on the ground within AT_DOCK_RADIUS_M of its dock."""
    seen = fleet.observed(vehicle_id)
    if seen is None or seen.armed or (seen.alt_rel_m or 0.0) > AIRBORNE_ALT_M:
        return False
    dock = dock_of(fleet, vehicle_id)
    away = distance_to_m(fleet, vehicle_id, dock.lat_deg, dock.lon_deg)
    return away is not None and away <= AT_DOCK_RADIUS_M


def where_is(fleet: SimFleet, vehicle_id: str) -> str:
    """A one-line description of a drone's state, for a failure reason."""
    seen = fleet.observed(vehicle_id)
    if seen is None or seen.lat is None or seen.lon is None:
        return f"{vehicle_id}: never seen"
    dock = dock_of(fleet, vehicle_id)
    away = distance_to_m(fleet, vehicle_id, dock.lat_deg, dock.lon_deg) or 0.0
    return (
        f"{vehicle_id}: mode {seen.mode or '?'}, {'armed' if seen.armed else 'disarmed'}, "
        f"{seen.alt_rel_m or 0.0:.0f} m above home, {away:.0f} m from its dock"
    )


async def flight_and_drone(
    service: DfrService, fleet: SimFleet, flight_id: int, vehicle_id: str
) -> str:
    """The flight's states and the drone's own state, for a failure's details."""
    detail = await flight_detail(service, flight_id)
    states = None if detail is None else flight_states(detail)
    return f"flight {flight_id}: {states}; {where_is(fleet, vehicle_id)}"


async def holding_over(
    service: DfrService,
    fleet: SimFleet,
    flight_id: int,
    vehicle_id: str,
    scene: GeoPoint,
    radius_m: float,
) -> bool:
    """The flight is on scene and the drone (by its own position) within `radius_m` of the scene."""
    detail = await flight_detail(service, flight_id)
    away = distance_to_m(fleet, vehicle_id, scene.lat_deg, scene.lon_deg)
    return (
        detail is not None
        and detail.get("state") == "on_scene"
        and away is not None
        and away <= radius_m
    )


def keep_out_violations(
    fleet: SimFleet, zones: ZoneSet, vehicle_ids: Iterable[str] | None = None
) -> list[str]:
    """Each observed position inside a keep-out zone, as `D1 at t=12.3 s inside <zone>`."""
    found: list[str] = []
    for vehicle_id in vehicle_ids or fleet.vehicle_ids():
        seen = fleet.observed(vehicle_id)
        for point in [] if seen is None else seen.track:
            if point.alt_m <= AIRBORNE_ALT_M:
                continue  # on the ground (a dock is never in a keep-out, but be exact)
            found.extend(
                f"{vehicle_id} at t={point.t_s:.1f} s ({point.lat:.5f}, {point.lon:.5f}) "
                f"inside {zone.name}"
                for zone in zones.containing(point.lat, point.lon)
            )
    return found


def ceiling_violations(fleet: SimFleet, ceiling_agl_m: float = CEILING_AGL_M) -> list[str]:
    """Each observed altitude above the ceiling (height over home stands in for AGL)."""
    found: list[str] = []
    for vehicle_id in fleet.vehicle_ids():
        seen = fleet.observed(vehicle_id)
        found.extend(
            f"{vehicle_id} at t={point.t_s:.1f} s: {point.alt_m:.1f} m "
            f"(ceiling {ceiling_agl_m:.1f} m)"
            for point in ([] if seen is None else seen.track)
            if point.alt_m > ceiling_agl_m + CEILING_TOLERANCE_M
        )
    return found


def observed_points(fleet: SimFleet, vehicle_ids: Iterable[str] | None = None) -> int:
    """How many positions were observed in the air (evidence that a watch check watched)."""
    total = 0
    for vehicle_id in vehicle_ids or fleet.vehicle_ids():
        seen = fleet.observed(vehicle_id)
        if seen is not None:
            total += sum(1 for p in seen.track if p.alt_m > AIRBORNE_ALT_M)
    return total


async def cad_events(cad: SimCad, incident_id: str) -> list[tuple[str, str, dict[str, Any]]]:
    """What CAD received for an incident, in order: (kind, note text, body)."""
    return [
        (event_kind(e), event_text(e), dict(e.get("body") or {}))
        for e in await cad.received(incident_id)
    ]


def unit_statuses(events: Iterable[tuple[str, str, dict[str, Any]]]) -> list[str]:
    """The unit statuses CAD received, in order."""
    found: list[str] = []
    for kind, _, body in events:
        if kind == "unit_status":
            unit = body.get("unit") or {}
            found.append(str(unit.get("status") or body.get("status") or ""))
    return found


async def recall_everything(service: DfrService, fleet: SimFleet, timeout_s: float) -> bool:
    """Send every unfinished flight home (`rtl`, as a dispatcher may) and wait until all drones land."""
    client = service.client("dispatcher")

    async def recall() -> None:
        for row in await all_flights(service):
            if row.get("state") not in FINISHED_FLIGHT_STATES:
                with contextlib.suppress(httpx.HTTPError):
                    await client.post(f"/flights/{row['id']}/commands", json={"command": "rtl"})

    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    next_recall = 0.0
    while loop.time() < deadline:
        if not armed_vehicles(fleet):
            return True
        if loop.time() >= next_recall:
            await recall()
            next_recall = loop.time() + 5.0
        await asyncio.sleep(0.3)
    return not armed_vehicles(fleet)


@dataclass(slots=True)
class Launch:
    """How a call-and-launch went: what was created, and the first problem met (if any)."""

    call_id: int = 0
    flight_id: int | None = None
    drone_id: str | None = None
    problem: str = ""
    detail: str = ""

    def in_the_air(self) -> tuple[str, int]:
        """(drone id, flight id) of a launch whose drone took off (its check passed)."""
        assert self.drone_id is not None and self.flight_id is not None, self.problem
        return self.drone_id, self.flight_id


def call_from(
    scenario: Scenario,
    origin: GeoPoint,
    bearing_deg: float,
    distance_m: float,
    **incident: Any,
) -> tuple[GeoPoint, SimIncident]:
    """A call `distance_m` from `origin` on `bearing_deg`, marked on the report's map."""
    scene = destination(origin, bearing_deg, distance_m)
    call = make_incident(scene.lat_deg, scene.lon_deg, **incident)
    scenario.record_point(f"call {call.incident_id}", "call", scene.lat_deg, scene.lon_deg)
    return scene, call


@dataclass
class Posted:
    """What posting a call gave: its id, or the service's refusal."""

    call_id: int | None = None
    problem: str = ""
    detail: str = ""


async def post_call(
    scenario: Scenario,
    service: DfrService,
    cad: SimCad,
    incident: SimIncident,
    *,
    event: str = "call_posted",
    label: str = "CAD posted the call",
) -> Posted:
    """CAD posts `incident` (the timeline's `event`); the call id, or the answer that refused it."""
    scenario.record_event(event, label, incident.incident_id)
    response = await cad.post_call(service, incident)
    if response.status_code != 202:
        return Posted(
            problem=f"POST /api/v1/cad/incidents answered {response.status_code}",
            detail=response.text[:500],
        )
    return Posted(call_id=int(response.json()["id"]))


async def wait_decision(
    scenario: Scenario,
    service: DfrService,
    call_id: int,
    timeout_s: float = 20.0,
    *,
    what: str = "the dispatch decision",
    event: str = "decision",
    since: str = "call_posted",
) -> dict[str, Any] | None:
    """The call's newest decision once it has one (put on the timeline), or None after `timeout_s`."""
    decision: dict[str, Any] | None = None

    async def decided() -> bool:
        nonlocal decision
        decision = await latest_decision(service, call_id)
        return decision is not None

    if not await scenario.wait_until(decided, timeout_s, what) or decision is None:
        return None
    scenario.record_event(event, "Decision", str(decision.get("summary", "")), latency_from=since)
    return decision


async def post_and_launch(
    scenario: Scenario,
    service: DfrService,
    cad: SimCad,
    fleet: SimFleet,
    incident: SimIncident,
    *,
    auto: bool = False,
    drone_id: str | None = None,
    airborne_timeout_s: float = 30.0,
) -> Launch:
    """Post a call, launch (the dispatcher's `POST /calls/{id}/launch`, or wait for the
    auto-launch), and wait until the flight's drone is in the air."""
    out = Launch()
    posted = await post_call(scenario, service, cad, incident)
    if posted.call_id is None:
        out.problem, out.detail = posted.problem, posted.detail
        return out
    out.call_id = posted.call_id
    decision = await wait_decision(scenario, service, out.call_id)
    if decision is None:
        out.problem = f"no dispatch decision for call {out.call_id} within 20 s"
        return out
    if auto:

        async def flight_created() -> bool:
            flights = await flights_of_call(service, out.call_id)
            if flights:
                out.flight_id = int(flights[-1]["id"])
            return out.flight_id is not None

        if not await scenario.wait_until(flight_created, 20.0, "the auto-launch"):
            out.problem = f"the call was not auto-launched: {decision.get('summary')}"
            return out
    else:
        body = {"drone_id": drone_id} if drone_id else {}
        launched = await service.client("dispatcher").post(
            f"/calls/{out.call_id}/launch", json=body
        )
        scenario.record_event("launch", "Dispatcher launched", latency_from="call_posted")
        if launched.status_code != 202:
            out.problem = f"POST /calls/{out.call_id}/launch answered {launched.status_code}"
            out.detail = launched.text[:500]
            return out
        out.flight_id = int(launched.json()["flight_id"])
    flight_id = out.flight_id
    assert flight_id is not None
    detail = await flight_detail(service, flight_id)
    out.drone_id = None if detail is None else str(detail["drone_id"])
    if out.drone_id is None:
        out.problem = f"flight {out.flight_id} is not shown by GET /flights/{out.flight_id}"
        return out
    flown = out.drone_id

    async def up() -> bool:
        return airborne(fleet, flown)

    if not await scenario.wait_until(up, airborne_timeout_s, f"{flown} in the air"):
        out.problem = f"{flown} did not take off within {airborne_timeout_s:.0f} s of the launch"
        out.detail = await flight_and_drone(service, fleet, flight_id, flown)
        return out
    scenario.record_event("airborne", f"{flown} airborne", latency_from="call_posted")
    return out


async def wait_flight_state(
    scenario: Scenario,
    service: DfrService,
    flight_id: int,
    states: Iterable[str],
    timeout_s: float,
    reason: str,
) -> dict[str, Any] | None:
    """Wait until the flight is in one of `states`; its detail then (or None on timeout)."""
    wanted = set(states)
    found: dict[str, Any] | None = None

    async def reached() -> bool:
        nonlocal found
        found = await flight_detail(service, flight_id)
        return found is not None and found.get("state") in wanted

    return found if await scenario.wait_until(reached, timeout_s, reason) else None


async def wait_landed_at_dock(
    scenario: Scenario, fleet: SimFleet, vehicle_id: str, timeout_s: float
) -> bool:
    """Wait until the drone is disarmed on the ground at its dock."""

    async def home() -> bool:
        return landed_at_dock(fleet, vehicle_id)

    return await scenario.wait_until(home, timeout_s, f"{vehicle_id} landed at its dock")


async def wait_cad(
    scenario: Scenario,
    cad: SimCad,
    incident_id: str,
    predicate: Callable[[list[tuple[str, str, dict[str, Any]]]], bool],
    timeout_s: float,
    reason: str,
) -> list[tuple[str, str, dict[str, Any]]]:
    """Wait until what CAD received satisfies `predicate`; returns what CAD has then."""
    events: list[tuple[str, str, dict[str, Any]]] = []

    async def satisfied() -> bool:
        nonlocal events
        events = await cad_events(cad, incident_id)
        return predicate(events)

    await scenario.wait_until(satisfied, timeout_s, reason)
    return events
