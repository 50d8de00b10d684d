"""The call ledger: the one writer of DFR's call state and of the CAD outbox.

Every change DFR makes to a call (a decision, a launch, a flight transition, a note, a
cancellation) is written here, inside the caller's transaction, together with the outbound rows
CAD must hear about; the outbox delivery is woken once that transaction has committed. CAD's own
fields of a call (and its Cancelled/Closed status) are stored by the call intake.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

from sqlalchemy import event, func, update
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session, col, select

from cad_bridge import EventKind, UnitReport, UnitStatus
from dfr.dispatch.policy import DispatchDecision
from dfr.errors import ConflictError, LaunchRefusedError
from dfr.loop_calls import call_on_loop
from dfr.models import Call, CallLifecycle, Decision, Flight, Note, OutboxItem, utcnow
from dfr.outbox import enqueue_event, get_call
from dfr.stream_payloads import call_data, decision_data
from flight import Clock, FlightPhase, FlightTransition
from telemetry import Hub, StreamMessage, call_message, decision_message

AUTHOR = "DFR"


class HubPublisher:
    """Publishes on the hub from any thread: the hub is only touched on its event loop."""

    def __init__(self, hub: Hub, loop: asyncio.AbstractEventLoop) -> None:
        self._hub = hub
        self._loop = loop

    def publish(self, message: StreamMessage) -> None:
        """Publish now on the loop's thread, or hand it to the loop from a worker thread."""
        call_on_loop(self._loop, self._hub.publish, message)


class CallLedger:
    """Writes call lifecycle, notes, decisions and outbox rows in the caller's transaction."""

    def __init__(
        self,
        *,
        publisher: HubPublisher,
        wake_outbox: Callable[[], None],
        loop: asyncio.AbstractEventLoop,
        clock: Clock,
    ) -> None:
        self._publisher = publisher
        self._loop = loop
        self._clock = clock
        wake = wake_outbox

        # One function object, so a session gets one listener however many rows it writes.
        def committed(_: Session) -> None:
            if not self._loop.is_closed():
                self._loop.call_soon_threadsafe(wake)

        self._committed = committed

    # ------------------------------------------------------------------ outbox rows

    def _outbound(self, session: Session) -> Session:
        """`session`, whose commit will wake the outbox delivery (once, however many rows)."""
        if not event.contains(session, "after_commit", self._committed):
            event.listen(session, "after_commit", self._committed)
        return session

    def _note(self, session: Session, call: Call, text: str) -> None:
        assert call.id is not None
        # The service clock, like flight events (they differ from wall time only when sped up).
        note = Note(call_id=call.id, author=AUTHOR, source="dfr", text=text, at=self._clock.now())
        session.add(note)
        enqueue_event(
            self._outbound(session), call, EventKind.NOTE, author=AUTHOR, text=text, at=note.at
        )

    # ------------------------------------------------------------------ people

    def add_note(
        self, session: Session, call_id: int, *, author: str, text: str
    ) -> tuple[Note, OutboxItem]:
        """A person's note on the call, and its outbound event."""
        call = get_call(session, call_id)
        note = Note(call_id=call_id, author=author[:200], source="dfr", text=text)
        session.add(note)
        item = enqueue_event(
            self._outbound(session), call, EventKind.NOTE, author=author, text=text, at=note.at
        )
        session.flush()
        return note, item

    def cancel_call(
        self, session: Session, call_id: int, *, author: str, reason: str
    ) -> OutboxItem:
        """Cancel the call in DFR (no emergency found) and tell CAD with disposition 10."""
        call = get_call(session, call_id)
        if call.lifecycle in (CallLifecycle.CANCELLED, CallLifecycle.CLEARED):
            raise ConflictError(f"call {call_id} is already {call.lifecycle.value}", field="call")
        call.lifecycle = CallLifecycle.CANCELLED
        call.updated_at = utcnow()
        session.add(call)
        session.add(
            Note(call_id=call_id, author=author[:200], source="dfr", text=f"Cancelled: {reason}")
        )
        item = enqueue_event(
            self._outbound(session), call, EventKind.CANCEL, author=author, text=reason
        )
        session.flush()
        return item

    # ------------------------------------------------------------------ the dispatcher's facts

    @staticmethod
    def last_summaries(session: Session, call_ids: Sequence[int]) -> dict[int, str]:
        """The summary of each call's latest stored decision (calls without one are left out)."""
        latest = (
            select(func.max(Decision.id))
            .where(col(Decision.call_id).in_(call_ids))
            .group_by(col(Decision.call_id))
        )
        rows = session.exec(
            select(Decision.call_id, Decision.summary).where(col(Decision.id).in_(latest))
        )
        return {call_id: summary for call_id, summary in rows}

    def record_decision(
        self,
        session: Session,
        call: Call,
        decision: DispatchDecision,
        *,
        previous_summary: str | None,
    ) -> None:
        """Store a decision; a new recommendation becomes a note to CAD and the call is published.

        `previous_summary` is that of the call's latest stored decision (None: it has none).
        """
        assert call.id is not None
        session.add(
            Decision(
                call_id=call.id,
                created_at=decision.evaluated_at,
                detail=decision.to_public(),
                **decision.to_record(),
            )
        )
        if call.lifecycle == CallLifecycle.NEW and decision.eligible:
            self._move_lifecycle(session, call, [CallLifecycle.NEW], CallLifecycle.RECOMMENDED)
        if previous_summary != decision.summary:
            self._note(session, call, f"DFR recommendation: {decision.summary}")
        # The call first: the console attaches a decision to a call it already knows.
        self._publisher.publish(call_message(call.id, call_data(call), self._clock.now()))
        self._publisher.publish(
            decision_message(call.id, decision_data(decision), decision.evaluated_at)
        )

    @staticmethod
    def _move_lifecycle(
        session: Session, call: Call, moves_from: Sequence[CallLifecycle], to: CallLifecycle
    ) -> bool:
        """Compare-and-set of the call's lifecycle on its row; `call` then holds what the row does.

        Read-then-write would lose a change committed since `call` was read: a decision from the
        backlog putting a call launched meanwhile back to recommended, or two instances both
        launching for one call (PostgreSQL re-reads the row after the first commits).
        """
        now = utcnow()
        moved = session.connection().execute(
            update(Call)
            .where(col(Call.id) == call.id, col(Call.lifecycle).in_(moves_from))
            .values(lifecycle=to, updated_at=now)
        )
        if moved.rowcount != 1:
            session.refresh(call)
            return False
        set_committed_value(call, "lifecycle", to)
        set_committed_value(call, "updated_at", now)
        return True

    def record_launched(
        self,
        session: Session,
        flight: Flight,
        *,
        author: str,
        eta_s: float | None,
        from_call_id: int | None = None,
    ) -> None:
        """In the flight's creating transaction: the call is dispatched, CAD gets note and unit."""
        if flight.call_id is None:
            return
        call = session.get(Call, flight.call_id)
        if call is None:
            return
        # Of two instances launching for one call at once, the second finds the row already
        # dispatched and its whole launch, flight row included, rolls back.
        waiting = [CallLifecycle.NEW, CallLifecycle.RECOMMENDED]
        if not self._move_lifecycle(session, call, waiting, CallLifecycle.DISPATCHED):
            raise LaunchRefusedError(f"call {call.id} already has a drone on the way")
        eta_text = f"; ETA {eta_s:.0f} s" if eta_s is not None else ""
        taken = "" if from_call_id is None else f"; taken in the air from call {from_call_id}"
        self._note(session, call, f"Drone {flight.drone_id} launched by {author}{eta_text}{taken}.")
        enqueue_event(
            self._outbound(session),
            call,
            EventKind.UNIT_STATUS,
            author=AUTHOR,
            unit=UnitReport(id=flight.drone_id, status=UnitStatus.DISPATCHED, eta_s=eta_s),
        )
        assert call.id is not None
        self._publisher.publish(
            call_message(call.id, call_data(call, flight_id=flight.id), self._clock.now())
        )

    # ------------------------------------------------------------------ flight transitions

    def on_transition(self, session: Session, flight: Flight, t: FlightTransition) -> None:
        """Inside the transaction storing a flight transition: call lifecycle, unit status, notes."""
        if flight.call_id is None:
            return
        call = session.get(Call, flight.call_id)
        if call is None:
            return
        self._unit_status(session, call, flight, t)
        lifecycle = call.lifecycle
        text = self._transition_note(call, flight, t)
        if text is not None:
            self._note(session, call, text)
        if call.lifecycle != lifecycle:
            call.updated_at = utcnow()
            session.add(call)
        assert call.id is not None
        self._publisher.publish(call_message(call.id, call_data(call, flight_id=flight.id), t.time))

    def _unit_status(
        self, session: Session, call: Call, flight: Flight, t: FlightTransition
    ) -> None:
        status: UnitStatus | None = None
        if t.reassigned:
            # The drone went to another call: this call's assignment is cancelled, not cleared.
            status = UnitStatus.ASSIGNMENT_CANCELLED
        elif t.cad_status is not None and t.cad_status.value != UnitStatus.DISPATCHED.value:
            status = UnitStatus(t.cad_status.value)
        if status is None:
            return
        pos = t.snapshot.position if t.snapshot is not None else None
        enqueue_event(
            self._outbound(session),
            call,
            EventKind.UNIT_STATUS,
            author=AUTHOR,
            at=t.time,
            unit=UnitReport(
                id=flight.drone_id,
                status=status,
                lat=None if pos is None else pos.lat_deg,
                lon=None if pos is None else pos.lon_deg,
            ),
        )

    @staticmethod
    def _transition_note(call: Call, flight: Flight, t: FlightTransition) -> str | None:
        """The note a transition makes on the call; moves the call's lifecycle where it says so."""
        drone = flight.drone_id
        lifecycle = call.lifecycle
        flying = lifecycle in (CallLifecycle.DISPATCHED, CallLifecycle.ON_SCENE)
        if t.reassigned:
            if flying:
                # Back in the queue: the dispatcher decides for it again.
                call.lifecycle = CallLifecycle.RECOMMENDED
            return f"Drone {drone} {t.reason}."
        if t.to_phase == FlightPhase.EN_ROUTE and t.from_phase == FlightPhase.ARMED:
            return f"Drone {drone} airborne, en route."
        if t.to_phase == FlightPhase.ON_SCENE and t.from_phase != FlightPhase.ON_SCENE:
            if lifecycle == CallLifecycle.DISPATCHED:
                call.lifecycle = CallLifecycle.ON_SCENE
            return f"Drone {drone} on scene."
        if t.to_phase == FlightPhase.RETURNING:
            return f"Drone {drone} returning to its dock."
        if t.to_phase == FlightPhase.FAILSAFE:
            return f"Drone {drone} failsafe: {t.reason}."
        if t.to_phase == FlightPhase.LINK_LOST:
            return f"Drone {drone}: link lost; the vehicle's own failsafe applies."
        if t.to_phase == FlightPhase.LANDED:
            return f"Drone {drone} landed."
        if t.to_phase == FlightPhase.COMPLETED:
            if flying:
                call.lifecycle = CallLifecycle.CLEARED
            return f"Drone {drone} back in service."
        if t.to_phase == FlightPhase.ABORTED:
            if lifecycle == CallLifecycle.DISPATCHED:
                call.lifecycle = CallLifecycle.RECOMMENDED
            return f"Drone {drone} launch aborted: {t.reason}."
        return None
