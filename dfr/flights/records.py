"""How flights are stored: plan records, mission items as JSON, the new flight row."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from dfr.models import Flight, FlightEvent, TrackPoint
from flight import (
    Clock,
    FlightPhase,
    FlightPlan,
    FlightTransition,
    MavCmd,
    MissionItem,
    MissionType,
)
from geofence import GeoPoint, distance_m

TERMINAL = frozenset({FlightPhase.COMPLETED, FlightPhase.ABORTED})
LOITER_COMMANDS = frozenset(
    {int(MavCmd.NAV_LOITER_UNLIM), int(MavCmd.NAV_LOITER_TURNS), int(MavCmd.NAV_LOITER_TIME)}
)


def items_to_json(items: Sequence[MissionItem]) -> list[dict[str, Any]]:
    """Mission items as JSON (NaN as null)."""

    def num(v: float) -> float | None:
        return None if math.isnan(v) else v

    return [
        {
            "command": int(i.command),
            "frame": int(i.frame),
            "param1": num(i.param1),
            "param2": num(i.param2),
            "param3": num(i.param3),
            "param4": num(i.param4),
            "x": i.x,
            "y": i.y,
            "z": num(i.z),
            "autocontinue": i.autocontinue,
            "mission_type": int(i.mission_type),
        }
        for i in items
    ]


def items_from_json(rows: Sequence[dict[str, Any]]) -> list[MissionItem]:
    """Mission items from `items_to_json` output."""

    def num(v: Any) -> float:
        return math.nan if v is None else float(v)

    return [
        MissionItem(
            command=int(r["command"]),
            frame=int(r["frame"]),
            param1=num(r["param1"]),
            param2=num(r["param2"]),
            param3=num(r["param3"]),
            param4=num(r["param4"]),
            x=int(r["x"]),
            y=int(r["y"]),
            z=num(r["z"]),
            autocontinue=bool(r["autocontinue"]),
            mission_type=MissionType(int(r["mission_type"])),
        )
        for r in rows
    ]


def new_flight_row(
    session: Session,
    drone_id: str,
    call_id: int | None,
    target: GeoPoint,
    plan: FlightPlan,
    created_by: str,
    reason: str,
    clock: Clock,
) -> Flight:
    """A new planned flight row (with an id) and its first event, in `session`'s transaction."""
    row = Flight(
        drone_id=drone_id,
        call_id=call_id,
        state=str(FlightPhase.PLANNED),
        state_reason="planned",
        target_lat=target.lat_deg,
        target_lon=target.lon_deg,
        orbit_radius_m=plan.orbit_radius_m,
        created_by=created_by,
        plan=plan_record(plan),
    )
    session.add(row)
    session.flush()
    assert row.id is not None
    session.add(
        FlightEvent(
            flight_id=row.id, at=clock.now(), to_state=str(FlightPhase.PLANNED), reason=reason
        )
    )
    return row


def plan_record(plan: FlightPlan) -> dict[str, Any]:
    """A flight plan as stored with its flight (what adoption and the API read back)."""
    return {
        "summary": plan.summary(),
        "legs": plan.legs_geojson(),
        "mission_items": items_to_json(plan.mission_items),
        "fence_items": items_to_json(plan.fence_items),
        "rally_items": items_to_json(plan.rally_items),
        "on_scene_seq": on_scene_seq(plan.mission_items),
    }


def scene_of(row: Flight) -> GeoPoint:
    """Where a stored flight loiters: its stand-off point, or its target."""
    standoff = (row.plan or {}).get("summary", {}).get("standoff")
    if standoff:
        return GeoPoint(standoff["point"]["lat"], standoff["point"]["lon"])
    return GeoPoint(row.target_lat, row.target_lon)


def on_scene_seq(items: Sequence[MissionItem]) -> int | None:
    """The sequence number of the mission's loiter over the scene."""
    for seq, item in enumerate(items):
        if int(item.command) in LOITER_COMMANDS:
            return seq
    return None


# -- predicted and actual phase times --------------------------------------------------------------

#: Within this horizontal distance of the dock the way home is over and the landing begins.
OVER_HOME_M = 10.0
#: The take-off is over within this of its altitude (PX4's NAV_MC_ALT_RAD is 0.8 m).
TAKEOFF_ALT_TOLERANCE_M = 1.0


def _first_event(events: Sequence[FlightEvent], state: FlightPhase) -> datetime | None:
    return next((e.at for e in events if e.to_state == str(state)), None)


def _seconds(a: datetime | None, b: datetime | None) -> float | None:
    return None if a is None or b is None else max(0.0, (b - a).total_seconds())


def phase_times(
    plan: dict[str, Any], events: Sequence[FlightEvent], track: Sequence[TrackPoint]
) -> dict[str, Any]:
    """Predicted (from the plan) and actual (from events and the flown track) seconds per phase.

    Actual phases: take-off from the launch until the take-off altitude; transit until on scene;
    on scene until the return; the return until over the dock; the landing until on the ground.
    """
    summary = plan.get("summary") or {}
    predicted = {p["phase"]: float(p["seconds"]) for p in summary.get("phases") or []}
    items = plan.get("mission_items") or []
    takeoff_alt = next(
        (float(i["z"]) for i in items[:1] if int(i["command"]) == int(MavCmd.NAV_TAKEOFF)), None
    )
    dock = (
        GeoPoint.from_dege7(int(items[-1]["x"]), int(items[-1]["y"]))
        if items and int(items[-1]["command"]) == int(MavCmd.NAV_LAND)
        else None
    )
    start = events[0].at if events else None
    on_scene = _first_event(events, FlightPhase.ON_SCENE)
    returning = _first_event(events, FlightPhase.RETURNING)
    landed = _first_event(events, FlightPhase.LANDED)
    climbed = None
    if takeoff_alt is not None:
        climbed = next(
            (
                p.at
                for p in track
                if p.alt_agl_m is not None and p.alt_agl_m >= takeoff_alt - TAKEOFF_ALT_TOLERANCE_M
            ),
            None,
        )
    over_home = None
    if dock is not None and returning is not None:
        over_home = next(
            (
                p.at
                for p in track
                if p.at >= returning and distance_m(GeoPoint(p.lat, p.lon), dock) <= OVER_HOME_M
            ),
            None,
        )
    actual = {
        "takeoff": _seconds(start, climbed),
        "transit": _seconds(climbed, on_scene),
        "on_scene": _seconds(on_scene, returning),
        "return": _seconds(returning, over_home),
        "landing": _seconds(over_home, landed),
    }
    eta = summary.get("eta_s")
    rows = [_phase_row("to_scene", None if eta is None else float(eta), _seconds(start, on_scene))]
    rows.extend(_phase_row(name, predicted.get(name), actual[name]) for name in actual)
    return {"phases": rows}


def _phase_row(name: str, predicted_s: float | None, actual_s: float | None) -> dict[str, Any]:
    error = (
        None
        if predicted_s is None or actual_s is None or predicted_s <= 0
        else (actual_s - predicted_s) / predicted_s * 100.0
    )
    return {"phase": name, "predicted_s": predicted_s, "actual_s": actual_s, "error_pct": error}


class PhaseTimesRecorder:
    """A transition sink that keeps each flight's predicted and actual phase times on its row."""

    def on_transition(self, session: Session, flight: Flight, t: FlightTransition) -> None:
        """Recompute the flight's phase times from its stored events and track."""
        events = session.exec(
            select(FlightEvent)
            .where(FlightEvent.flight_id == flight.id)
            .order_by(col(FlightEvent.id))
        ).all()
        track = session.exec(
            select(TrackPoint).where(TrackPoint.flight_id == flight.id).order_by(col(TrackPoint.at))
        ).all()
        flight.phase_times = phase_times(flight.plan or {}, events, track)
        session.add(flight)
