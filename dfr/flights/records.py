"""How flights are stored: plan records, mission items as JSON, the new flight row."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from sqlmodel import Session

from dfr.models import Flight, FlightEvent
from flight import Clock, FlightPhase, FlightPlan, MavCmd, MissionItem, MissionType
from geofence import GeoPoint

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
