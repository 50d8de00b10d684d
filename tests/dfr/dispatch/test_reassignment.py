"""The call ledger's side of a reassignment in the air: what the call that loses its drone is told."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from cad_bridge import CadCall
from dfr.cad_ingest import store_call
from dfr.call_ledger import CallLedger, HubPublisher
from dfr.db import session_scope
from dfr.fleet import DEMO_FLEET_FILE, apply_fleet_file, read_fleet_file
from dfr.models import Call, CallLifecycle, Flight, Note, OutboxItem
from flight import FlightPhase, FlightStateMachine, SystemClock, VehicleId
from geofence import GeoPoint
from telemetry import Hub

pytestmark = pytest.mark.databases

P = FlightPhase


@pytest.fixture
def engine(engine: Engine) -> Engine:
    """The database with the demo fleet."""
    with session_scope(engine) as session:
        apply_fleet_file(session, read_fleet_file(DEMO_FLEET_FILE))
    return engine


def _ledger() -> CallLedger:
    # A loop that never runs: what the ledger hands to it (stream messages) is dropped.
    loop = asyncio.new_event_loop()
    loop.close()
    return CallLedger(
        publisher=HubPublisher(Hub(), loop),
        wake_outbox=lambda: None,
        loop=loop,
        clock=SystemClock(),
    )


def _call_with_flight(engine: Engine, lifecycle: CallLifecycle, phase: FlightPhase) -> int:
    call_id = store_call(
        engine,
        CadCall(
            agency="cspd",
            cad_incident_id="CS-LOW",
            call_type="SUSP",
            priority=3,
            location=GeoPoint(38.8474, -104.7470),
            received_at=datetime(2026, 3, 1, tzinfo=UTC),
        ),
    ).call_id
    with Session(engine) as session:
        call = session.get(Call, call_id)
        assert call is not None
        call.lifecycle = lifecycle
        session.add(call)
        session.add(Flight(drone_id="D1", call_id=call_id, state=str(phase)))
        session.commit()
    return call_id


def _end(engine: Engine, call_id: int, phase: FlightPhase, reason: str) -> None:
    ledger = _ledger()
    machine = FlightStateMachine("1", VehicleId("D1"), SystemClock(), phase=phase)
    t = machine.transition(P.COMPLETED, reason=reason)
    with Session(engine) as session:
        flight = session.exec(select(Flight).where(Flight.call_id == call_id)).one()
        ledger.on_transition(session, flight, t)
        session.commit()


def _outbox(engine: Engine, call_id: int) -> list[dict[str, object]]:
    with Session(engine) as session:
        rows = session.exec(
            select(OutboxItem).where(OutboxItem.call_id == call_id).order_by(col(OutboxItem.id))
        ).all()
        return [r.payload for r in rows]


@pytest.mark.parametrize(
    ("lifecycle", "phase"),
    [(CallLifecycle.DISPATCHED, P.EN_ROUTE), (CallLifecycle.ON_SCENE, P.ON_SCENE)],
)
def test_the_call_that_loses_its_drone_is_told_why_and_goes_back_to_the_queue(
    engine: Engine, lifecycle: CallLifecycle, phase: FlightPhase
) -> None:
    call_id = _call_with_flight(engine, lifecycle, phase)
    _end(engine, call_id, phase, "reassigned to higher-priority call 9 (priority 1)")

    text = "Drone D1 reassigned to higher-priority call 9 (priority 1)."
    with Session(engine) as session:
        call = session.get(Call, call_id)
        assert call is not None and call.lifecycle == CallLifecycle.RECOMMENDED
        notes = session.exec(select(Note.text).where(Note.call_id == call_id)).all()
    assert text in notes
    sent = _outbox(engine, call_id)
    assert [(e["kind"], e.get("text")) for e in sent if e["kind"] == "note"][-1] == ("note", text)
    units = [e["unit"] for e in sent if e["kind"] == "unit_status"]
    assert units == [
        {"id": "D1", "status": "AssignmentCancelled", "eta_s": None, "lat": None, "lon": None}
    ]


def test_a_drone_back_on_its_dock_still_clears_its_call(engine: Engine) -> None:
    call_id = _call_with_flight(engine, CallLifecycle.ON_SCENE, P.LANDED)
    _end(engine, call_id, P.LANDED, "vehicle disarmed after landing")
    with Session(engine) as session:
        call = session.get(Call, call_id)
        assert call is not None and call.lifecycle == CallLifecycle.CLEARED
    texts = [e.get("text") for e in _outbox(engine, call_id) if e["kind"] == "note"]
    assert texts[-1] == "Drone D1 back in service."
