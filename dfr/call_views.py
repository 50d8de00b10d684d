"""What `GET /calls/{id}` shows: the call, its notes, and where each outbound item's delivery stands."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, SQLModel, col, select

from dfr.models import Call, CallPublic, Note, OutboxItem, as_utc
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


class CallDetailPublic(CallPublic):
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
        notes=[NotePublic.model_validate(n, from_attributes=True) for n in notes],
        outbound=outbound,
        dead_letters=sum(1 for o in outbound if o.state == DEAD),
    )
