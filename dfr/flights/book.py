"""The flights being tracked, and how each change to them is stored and published."""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from sqlalchemy.engine import Engine
from sqlmodel import Session

from dfr.db import session_scope
from dfr.errors import ConflictError, NotFoundError
from dfr.flights.records import TERMINAL
from dfr.models import Flight, FlightEvent
from dfr.stream_payloads import flight_data
from flight import (
    Clock,
    FleetLink,
    FlightPhase,
    FlightPlan,
    FlightStateMachine,
    FlightTracker,
    FlightTransition,
    MissionItem,
    VehicleId,
)
from geofence import GeoPoint
from telemetry import Hub, flight_message

log = logging.getLogger(__name__)

T = TypeVar("T")


class TransitionSink(Protocol):
    """Told of every stored flight transition, inside the transaction that stores it."""

    def on_transition(self, session: Session, flight: Flight, t: FlightTransition) -> None:
        """Write what the transition causes (runs on a worker thread, before the commit)."""


@dataclass
class ActiveFlight:
    """A flight the service is tracking."""

    flight_id: int
    drone_id: VehicleId
    call_id: int | None
    tracker: FlightTracker
    mission: list[MissionItem]
    scene: GeoPoint | None = None
    orbit_radius_m: float = 0.0
    orbit_alt_agl_m: float = 0.0
    orbiting: bool = False
    #: Sent home (released or RTL): an orbit ordered on arrival must no longer be flown.
    recalled: bool = False
    adopted: bool = True
    last_track_s: float = -math.inf
    low_battery_alerted: bool = False
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    #: Held while the flight's events are written: each write reads the state the previous one
    #: committed, so a note never records a phase older than an event stored before it.
    events_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    #: Upload, arm and mission start, until they end; a recall before take-off cancels them.
    launching: asyncio.Task[None] | None = None
    #: The launch has sent ARM.
    arm_sent: bool = False

    @property
    def log_fields(self) -> dict[str, Any]:
        """The flight's ids as `extra=` fields of a log record."""
        return {
            "flight_id": self.flight_id,
            "drone_id": str(self.drone_id),
            "call_id": self.call_id,
        }

    @classmethod
    def for_plan(
        cls,
        flight_id: int,
        call_id: int | None,
        machine: FlightStateMachine,
        clock: Clock,
        plan: FlightPlan,
    ) -> ActiveFlight:
        """A flight about to fly `plan`, followed from the start."""
        return cls(
            flight_id=flight_id,
            drone_id=machine.vehicle_id,
            call_id=call_id,
            tracker=FlightTracker.for_plan(machine, clock, plan),
            mission=list(plan.mission_items),
            scene=plan.scene,
            orbit_radius_m=plan.orbit_radius_m,
            orbit_alt_agl_m=plan.orbit_alt_agl_m,
        )


class FlightBook:
    """Registry of tracked flights; stores their transitions (telling the sinks) and publishes them."""

    def __init__(
        self, *, engine: Engine, hub: Hub, clock: Clock, sinks: Sequence[TransitionSink]
    ) -> None:
        self.engine = engine
        self.clock = clock
        self._hub = hub
        self._sinks = tuple(sinks)
        self.active: dict[int, ActiveFlight] = {}
        self.by_drone: dict[VehicleId, int] = {}
        #: Drones between a launch's (or reassignment's) checks and its registration.
        self._reserved: set[VehicleId] = set()

    def register(self, active: ActiveFlight) -> None:
        """Track `active` as its drone's flight."""
        self.active[active.flight_id] = active
        self.by_drone[active.drone_id] = active.flight_id

    def forget(self, active: ActiveFlight) -> None:
        """Stop tracking `active`."""
        self.active.pop(active.flight_id, None)
        if self.by_drone.get(active.drone_id) == active.flight_id:
            del self.by_drone[active.drone_id]

    def is_reserved(self, vehicle: VehicleId) -> bool:
        """True while a launch or reassignment of `vehicle` is being set up."""
        return vehicle in self._reserved

    @contextmanager
    def reserving(self, vehicle: VehicleId, refusal: str) -> Iterator[None]:
        """Hold `vehicle` for one launch or reassignment; ConflictError(refusal) if held already."""
        if vehicle in self._reserved:
            raise ConflictError(refusal)
        self._reserved.add(vehicle)
        try:
            yield
        finally:
            self._reserved.discard(vehicle)

    # ------------------------------------------------------------------ persistence

    def flight_row(self, flight_id: int) -> Flight:
        """The stored flight or NotFoundError (blocking)."""
        with Session(self.engine) as session:
            row = session.get(Flight, flight_id)
            if row is None:
                raise NotFoundError("flight", flight_id)
            return row

    async def store(self, active: ActiveFlight, transitions: Sequence[FlightTransition]) -> None:
        """Store transitions (and what they cause) in one transaction, then publish the flight."""
        machine = active.tracker.machine
        record = machine.to_record()

        def write() -> None:
            with session_scope(self.engine) as session:
                row = session.get(Flight, active.flight_id)
                if row is None:
                    return
                self.apply_transitions(session, row, transitions, record)

        try:
            await self.write_events(active, write)
        except Exception:
            log.exception(
                "could not store transitions of flight %s",
                active.flight_id,
                extra=active.log_fields,
            )
            raise
        if machine.finished:
            self.forget(active)
        self.publish(active.flight_id)

    def apply_transitions(
        self,
        session: Session,
        row: Flight,
        transitions: Sequence[FlightTransition],
        record: dict[str, Any],
    ) -> None:
        """Store transitions as flight events on `row` and tell the sinks, in the caller's transaction."""
        assert row.id is not None
        for t in transitions:
            session.add(
                FlightEvent(
                    flight_id=row.id,
                    at=t.time,
                    from_state=str(t.from_phase),
                    to_state=str(t.to_phase),
                    reason=(t.reason + (f" (cause: {t.cause})" if t.cause else ""))[:1000],
                    snapshot=t.as_record().get("snapshot") or {},
                )
            )
            row.state = str(t.to_phase)
            row.state_reason = t.reason[:1000]
            row.updated_at = t.time
            if t.to_phase == FlightPhase.EN_ROUTE and row.started_at is None:
                row.started_at = t.time
            if t.to_phase in TERMINAL:
                row.ended_at = t.time
            row.machine = record
            session.add(row)
            session.flush()
            for sink in self._sinks:
                sink.on_transition(session, row, t)

    async def store_note(self, active: ActiveFlight, text: str) -> None:
        """A flight event that records what happened without a phase change."""

        def write() -> None:
            with session_scope(self.engine) as session:
                row = session.get(Flight, active.flight_id)
                if row is None:
                    return
                session.add(
                    FlightEvent(
                        flight_id=active.flight_id,
                        at=self.clock.now(),
                        from_state=row.state,
                        to_state=row.state,
                        reason=text[:1000],
                    )
                )

        await self.write_events(active, write)

    async def write_events(self, active: ActiveFlight, write: Callable[[], T]) -> T:
        """Run `write`, a transaction writing `active`'s events, on a worker thread; one per flight
        at a time, so each reads the phase the one before it committed."""
        async with active.events_lock:
            return await asyncio.to_thread(write)

    def publish(self, flight_id: int) -> None:
        """Send the flight's stored state to the stream."""
        try:
            row = self.flight_row(flight_id)
        except NotFoundError:
            return
        self._hub.publish(flight_message(flight_id, flight_data(row), self.clock.now()))


@dataclass(kw_only=True)
class FlightPart:
    """What every part of the flight service works on: the tracked flights and the drones' links."""

    book: FlightBook
    fleet: FleetLink
