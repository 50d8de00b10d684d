"""What `GET /calls/{id}` shows (the call, its flights, its notes, its outbound items' delivery) and its timeline."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, SQLModel, col, select

from dfr.models import (
    Call,
    CallLifecycle,
    CallPublic,
    Decision,
    Flight,
    FlightEvent,
    Note,
    OutboxItem,
    as_utc,
)
from dfr.outbox import DEAD, NO_CAD_REASON, PENDING


class NotePublic(SQLModel):
    id: int
    at: datetime
    author: str
    source: str
    text: str


class OutboundPublic(SQLModel):
    """One outbound item and where its delivery stands."""

    event_id: str
    kind: str
    state: str  # pending | waiting | delivered | dead
    attempts: int
    next_attempt_at: datetime | None
    last_error: str
    created_at: datetime
    delivered_at: datetime | None


class CallFlightPublic(SQLModel):
    """One flight of the call: which drone, where it stands, and when it is planned to arrive."""

    id: int
    drone_id: str
    state: str
    state_reason: str
    #: The plan's time to the scene from launch, and the moment that makes (None before launch).
    eta_s: float | None
    eta_at: datetime | None
    created_at: datetime
    started_at: datetime | None
    ended_at: datetime | None


class CallDetailPublic(CallPublic):
    flights: list[CallFlightPublic]
    notes: list[NotePublic]
    outbound: list[OutboundPublic]
    dead_letters: int


def call_detail(session: Session, call: Call) -> CallDetailPublic:
    """The call with its notes and each outbound item's delivery state."""
    notes = session.exec(select(Note).where(Note.call_id == call.id).order_by(col(Note.id))).all()
    items = session.exec(
        select(OutboxItem).where(OutboxItem.call_id == call.id).order_by(col(OutboxItem.id))
    ).all()
    outbound = [
        OutboundPublic(
            event_id=i.event_id,
            kind=i.kind,
            state="waiting" if i.state == PENDING and i.last_error == NO_CAD_REASON else i.state,
            attempts=i.attempts,
            next_attempt_at=as_utc(i.next_attempt_at) if i.state == PENDING else None,
            last_error=i.last_error,
            created_at=as_utc(i.created_at),
            delivered_at=as_utc(i.delivered_at) if i.delivered_at else None,
        )
        for i in items
    ]
    base = CallPublic.model_validate(call).model_dump()
    return CallDetailPublic(
        **base,
        flights=[call_flight(f) for f in flights_of(session, call)],
        notes=[NotePublic.model_validate(n, from_attributes=True) for n in notes],
        outbound=outbound,
        dead_letters=sum(1 for o in outbound if o.state == DEAD),
    )


def flights_of(session: Session, call: Call) -> list[Flight]:
    """The call's flights, oldest first."""
    return list(
        session.exec(select(Flight).where(Flight.call_id == call.id).order_by(col(Flight.id))).all()
    )


def call_flight(flight: Flight) -> CallFlightPublic:
    """A flight as its call names it."""
    assert flight.id is not None
    eta_s = (flight.plan or {}).get("summary", {}).get("eta_s")
    started_at = as_utc(flight.started_at) if flight.started_at else None
    eta_at = None
    if eta_s is not None and started_at is not None:
        eta_at = started_at + timedelta(seconds=float(eta_s))
    return CallFlightPublic(
        id=flight.id,
        drone_id=flight.drone_id,
        state=flight.state,
        state_reason=flight.state_reason,
        eta_s=None if eta_s is None else float(eta_s),
        eta_at=eta_at,
        created_at=as_utc(flight.created_at),
        started_at=started_at,
        ended_at=as_utc(flight.ended_at) if flight.ended_at else None,
    )


# --- the call's story ----------------------------------------------------------------------------

#: The author of DFR's own notes (call_ledger.AUTHOR): they reach the timeline as CAD deliveries.
SYSTEM_AUTHOR = "DFR"
#: The story's steps a flight event names (its phase), and the title each one gets.
FLIGHT_STEPS = {
    "uploading": "mission upload",
    "armed": "armed",
    "en_route": "en route",
    "on_scene": "on scene",
    "returning": "returning",
    "landed": "landed",
    "completed": "back in service",
    "aborted": "launch aborted",
    "failsafe": "failsafe",
    "link_lost": "link lost",
}


class TimelineEntryPublic(SQLModel):
    """One step of a call's story."""

    at: datetime
    #: received | decided | launched | <flight phase> | note | cad | cleared | cancelled
    step: str
    title: str
    detail: str = ""
    flight_id: int | None = None
    drone_id: str | None = None
    #: For a CAD delivery: pending | waiting | delivered | dead, and when it was delivered.
    delivery: str | None = None
    delivered_at: datetime | None = None


class CallTimelinePublic(SQLModel):
    call_id: int
    lifecycle: str
    flights: list[CallFlightPublic]
    data: list[TimelineEntryPublic]
    count: int


def _decision_entries(decisions: list[Decision]) -> list[TimelineEntryPublic]:
    entries: list[TimelineEntryPublic] = []
    last: tuple[bool, str | None, str] | None = None
    for d in decisions:
        key = (d.eligible, d.recommended_drone_id, d.summary)
        if key == last:
            continue  # a re-evaluation that changed nothing is not a step
        last = key
        if d.eligible:
            eta = "" if d.eta_s is None else f", ETA {_mmss(d.eta_s)}"
            title = f"decided: {d.recommended_drone_id}{eta}"
        else:
            title = "decided: no drone"
        entries.append(
            TimelineEntryPublic(
                at=as_utc(d.created_at),
                step="decided",
                title=title,
                detail=d.summary,
                drone_id=d.recommended_drone_id,
            )
        )
    return entries


def _mmss(seconds: float) -> str:
    s = max(0, round(seconds))
    return f"{s // 60}:{s % 60:02d}"


def _delivery_text(item: OutboxItem) -> str:
    payload: dict[str, Any] = item.payload or {}
    unit = payload.get("unit") or {}
    if item.kind == "unit_status" and unit:
        return f"unit {unit.get('id', '')} {unit.get('status', '')}".strip()
    return str(payload.get("text") or item.kind)


def call_timeline(session: Session, call: Call) -> CallTimelinePublic:
    """The call's story in time order: received, decided, launched, flight phases, notes, CAD, end."""
    assert call.id is not None
    entries: list[TimelineEntryPublic] = [
        TimelineEntryPublic(
            at=as_utc(call.received_at),
            step="received",
            title=f"received: P{call.priority} {call.call_type_text or call.call_type}",
            detail=call.address or f"{call.lat:.5f}, {call.lon:.5f}",
        )
    ]
    decisions = session.exec(
        select(Decision).where(Decision.call_id == call.id).order_by(col(Decision.id))
    ).all()
    entries += _decision_entries(list(decisions))
    flights = flights_of(session, call)
    for flight in flights:
        entries.append(
            TimelineEntryPublic(
                at=as_utc(flight.created_at),
                step="launched",
                title=f"launched: {flight.drone_id} (flight {flight.id})",
                detail=f"by {flight.created_by}" if flight.created_by else "",
                flight_id=flight.id,
                drone_id=flight.drone_id,
            )
        )
        events = session.exec(
            select(FlightEvent)
            .where(FlightEvent.flight_id == flight.id)
            .order_by(col(FlightEvent.id))
        ).all()
        entries += [
            TimelineEntryPublic(
                at=as_utc(e.at),
                step=e.to_state,
                title=f"{FLIGHT_STEPS[e.to_state]}: {flight.drone_id}",
                detail=e.reason,
                flight_id=flight.id,
                drone_id=flight.drone_id,
            )
            for e in events
            if e.to_state in FLIGHT_STEPS and e.to_state != e.from_state
        ]
    notes = session.exec(select(Note).where(Note.call_id == call.id).order_by(col(Note.id))).all()
    cancelled_at: datetime | None = None
    cancel_reason = ""
    for note in notes:
        if note.author == SYSTEM_AUTHOR and note.source == "dfr":
            continue  # DFR's own notes are told by the step itself and by its CAD delivery
        if note.text.startswith("Cancelled: ") and cancelled_at is None:
            cancelled_at, cancel_reason = as_utc(note.at), note.text.removeprefix("Cancelled: ")
            continue
        entries.append(
            TimelineEntryPublic(
                at=as_utc(note.at),
                step="note",
                title=f"note by {note.author}" + (" (CAD)" if note.source != "dfr" else ""),
                detail=note.text,
            )
        )
    items = session.exec(
        select(OutboxItem).where(OutboxItem.call_id == call.id).order_by(col(OutboxItem.id))
    ).all()
    for item in items:
        state = (
            "waiting" if item.state == PENDING and item.last_error == NO_CAD_REASON else item.state
        )
        entries.append(
            TimelineEntryPublic(
                at=as_utc(item.created_at),
                step="cad",
                title=f"to CAD: {item.kind.replace('_', ' ')}",
                detail=_delivery_text(item),
                delivery=state,
                delivered_at=as_utc(item.delivered_at) if item.delivered_at else None,
            )
        )
    if call.lifecycle == CallLifecycle.CANCELLED:
        entries.append(
            TimelineEntryPublic(
                at=cancelled_at or as_utc(call.updated_at),
                step="cancelled",
                title="cancelled",
                detail=cancel_reason,
            )
        )
    elif call.lifecycle == CallLifecycle.CLEARED:
        ends = [as_utc(f.ended_at) for f in flights if f.ended_at is not None]
        entries.append(
            TimelineEntryPublic(
                at=max(ends) if ends else as_utc(call.updated_at),
                step="cleared",
                title="cleared",
                detail="the drone is back in service",
            )
        )
    # Stable: entries of one moment keep the story's order (a launch before its upload).
    entries.sort(key=lambda e: e.at)
    return CallTimelinePublic(
        call_id=call.id,
        lifecycle=call.lifecycle.value,
        flights=[call_flight(f) for f in flights],
        data=entries,
        count=len(entries),
    )
