"""A flight's events are written one at a time, so each records the phase the one before it left."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import datetime

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import col, select

from dfr.db import session_scope
from dfr.flights.book import ActiveFlight, FlightBook
from dfr.models import Flight, FlightEvent
from flight import SystemClock
from flight.models import VehicleId
from flight.state import FlightStateMachine
from flight.tracker import FlightTracker
from telemetry import Hub


class PausingClock(SystemClock):
    """The first time a worker thread asks the time, it pauses there (a slow database write)."""

    def __init__(self, pause_s: float) -> None:
        super().__init__()
        self.pause_s = pause_s
        self.paused = threading.Event()

    def now(self) -> datetime:
        if threading.current_thread() is not threading.main_thread() and not self.paused.is_set():
            self.paused.set()
            time.sleep(self.pause_s)
        return super().now()


def test_a_note_written_as_the_phase_changes_never_follows_the_change_with_the_old_phase(
    app: FastAPI, client: TestClient
) -> None:
    engine = app.state.service.engine
    with session_scope(engine) as session:
        row = Flight(drone_id="D1", state="planned")
        session.add(row)
        session.flush()
        assert row.id is not None
        flight_id = row.id
    clock = PausingClock(pause_s=0.5)
    book = FlightBook(engine=engine, hub=Hub(), clock=clock, sinks=[])
    tracker = FlightTracker(FlightStateMachine(str(flight_id), VehicleId("D1"), clock), clock)
    active = ActiveFlight(
        flight_id=flight_id, drone_id=VehicleId("D1"), call_id=None, tracker=tracker, mission=[]
    )

    async def note_racing_a_transition() -> None:
        # The note has read the flight (planned) and pauses before its insert; the transition to
        # uploading is stored meanwhile.
        note = asyncio.create_task(book.store_note(active, "a note as the upload begins"))
        assert await asyncio.to_thread(clock.paused.wait, 10.0)
        await book.store(active, [tracker.begin_upload()])
        await note

    asyncio.run(note_racing_a_transition())
    with session_scope(engine) as session:
        events = session.exec(
            select(FlightEvent)
            .where(FlightEvent.flight_id == flight_id)
            .order_by(col(FlightEvent.id))
        ).all()
    steps = [(e.from_state, e.to_state) for e in events]
    assert steps == [("planned", "planned"), ("planned", "uploading")], steps
