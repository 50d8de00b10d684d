"""A call with its whole story stored as the service stores it: decision, flight and its events,
notes, CAD deliveries, and its end (shared by the timeline's API and browser tests)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.engine import Engine

from dfr.db import session_scope
from dfr.models import (
    Call,
    CallLifecycle,
    Decision,
    Flight,
    FlightEvent,
    Note,
    OutboxItem,
)

#: (seconds after the call was received, from phase, to phase, reason)
FLIGHT_EVENTS = [
    (20.0, "planned", "uploading", "mission upload"),
    (24.0, "uploading", "armed", "armed"),
    (27.0, "armed", "en_route", "airborne"),
    (130.0, "en_route", "on_scene", "orbiting the scene"),
    (400.0, "on_scene", "returning", "call cancelled"),
]


@dataclass(frozen=True)
class StoredStory:
    call_id: int
    flight_id: int
    received_at: datetime


def store_call_story(
    engine: Engine, agency_id: str, *, cancelled: bool = True, received_at: datetime | None = None
) -> StoredStory:
    """A P1 burglary flown by D1 (decided, launched, en route, on scene) with a note, then cancelled."""
    t0 = (received_at or datetime.now(UTC) - timedelta(minutes=10)).replace(microsecond=0)
    with session_scope(engine) as session:
        call = Call(
            agency_id=agency_id,
            cad_incident_id="CSPD-26-009001",
            call_type="BURG",
            call_type_text="Burglary in progress",
            category="burglary",
            priority=1,
            lat=38.8420,
            lon=-104.7600,
            address="1200 N Academy Blvd",
            received_at=t0,
            lifecycle=CallLifecycle.CANCELLED if cancelled else CallLifecycle.ON_SCENE,
            updated_at=t0 + timedelta(seconds=400),
        )
        session.add(call)
        session.flush()
        assert call.id is not None
        session.add(
            Decision(
                call_id=call.id,
                created_at=t0 + timedelta(seconds=1),
                eligible=True,
                recommended_drone_id="D1",
                runner_up_drone_id="D2",
                eta_s=100.0,
                summary="D1 can be on scene in 1 min 40 s (1.4 km, the nearest with battery)",
                detail={
                    "eligible": True,
                    "summary": "D1 can be on scene in 1 min 40 s",
                    "recommended": {"drone_id": "D1", "eta_s": 100.0},
                    "runner_up": {"drone_id": "D2", "eta_s": 160.0},
                    "call_rules": [],
                    "drones": [
                        {
                            "drone_id": "D1",
                            "rules": [
                                {
                                    "rule": "distance",
                                    "passed": True,
                                    "checked": True,
                                    "reason": "1.4 km",
                                }
                            ],
                        }
                    ],
                },
            )
        )
        flight = Flight(
            drone_id="D1",
            call_id=call.id,
            state="returning" if cancelled else "on_scene",
            plan={"summary": {"eta_s": 100.0}},
            target_lat=call.lat,
            target_lon=call.lon,
            created_by="dispatcher Kim",
            created_at=t0 + timedelta(seconds=15),
            started_at=t0 + timedelta(seconds=27),
        )
        session.add(flight)
        session.flush()
        assert flight.id is not None
        for after_s, from_state, to_state, reason in FLIGHT_EVENTS:
            if not cancelled and to_state == "returning":
                continue
            session.add(
                FlightEvent(
                    flight_id=flight.id,
                    at=t0 + timedelta(seconds=after_s),
                    from_state=from_state,
                    to_state=to_state,
                    reason=reason,
                )
            )
        session.add(
            Note(
                call_id=call.id,
                at=t0 + timedelta(seconds=200),
                author="dispatcher Kim",
                text="Two people seen leaving by the back door",
            )
        )
        session.add(
            Note(
                call_id=call.id,
                at=t0 + timedelta(seconds=130),
                author="DFR",
                text="Drone D1 on scene.",
            )
        )
        session.add(
            OutboxItem(
                event_id="e-onscene-1",
                call_id=call.id,
                agency_id=agency_id,
                kind="note",
                payload={"text": "Drone D1 on scene."},
                state="delivered",
                attempts=1,
                created_at=t0 + timedelta(seconds=130),
                delivered_at=t0 + timedelta(seconds=131),
            )
        )
        if cancelled:
            session.add(
                Note(
                    call_id=call.id,
                    at=t0 + timedelta(seconds=400),
                    author="dispatcher Kim",
                    text="Cancelled: no one there",
                )
            )
            session.add(
                OutboxItem(
                    event_id="e-cancel-1",
                    call_id=call.id,
                    agency_id=agency_id,
                    kind="cancel",
                    payload={"text": "no one there"},
                    state="pending",
                    created_at=t0 + timedelta(seconds=400),
                )
            )
        return StoredStory(call.id, flight.id, t0)
