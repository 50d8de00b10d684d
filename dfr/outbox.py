"""The outbox on the service's database: rows written with the change that causes them, the store the
delivery worker reads, notes and cancellation, and the service component running delivery."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import Table, bindparam, func
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, col, select

from cad_bridge import (
    EVENT_CANCELLED,
    CadAdapter,
    CallTypeMapper,
    Delivered,
    EidoCadAdapter,
    EidoSubscriber,
    EventKind,
    OutboundEvent,
    OutboxDelivery,
    OutboxRecord,
    PlainJsonCadAdapter,
    UnitReport,
    parse_eido,
)
from dfr.audit import record_audit
from dfr.cad_ingest import call_writer
from dfr.errors import ConflictError, NotFoundError
from dfr.models import Call, CallLifecycle, CallPublic, Note, OutboxItem, as_utc, utcnow
from dfr.settings import Settings

log = logging.getLogger(__name__)

PENDING, DELIVERED, DEAD = "pending", "delivered", "dead"
NO_CAD_REASON = "no CAD is configured for this agency"
SHUTDOWN_GRACE_S = 2.0


# --- writing rows (same transaction as the change) ----------------------------------------------


def get_call(session: Session, call_id: int) -> Call:
    """The call or NotFoundError."""
    call = session.get(Call, call_id)
    if call is None or call.id is None:
        raise NotFoundError("call", call_id)
    return call


def enqueue_event(
    session: Session,
    call: Call,
    kind: EventKind,
    *,
    author: str,
    text: str | None = None,
    unit: UnitReport | None = None,
    at: datetime | None = None,
) -> OutboxItem:
    """Add one outbound event for `call` to the session (committed with the caller's change)."""
    assert call.id is not None
    event = OutboundEvent(
        event_id=uuid.uuid4().hex,
        agency=call.agency_id,
        cad_incident_id=call.cad_incident_id,
        kind=kind,
        at=at or utcnow(),
        author=author[:200],
        text=text,
        unit=unit,
        disposition=EVENT_CANCELLED if kind is EventKind.CANCEL else None,
        call_type=call.call_type,
    )
    item = OutboxItem(
        event_id=event.event_id,
        call_id=call.id,
        agency_id=call.agency_id,
        kind=kind.value,
        payload=event.model_dump(mode="json"),
    )
    session.add(item)
    return item


def add_note(session: Session, call_id: int, *, author: str, text: str) -> tuple[Note, OutboxItem]:
    """A DFR note on the call, and its outbound event."""
    call = get_call(session, call_id)
    note = Note(call_id=call_id, author=author[:200], source="dfr", text=text)
    session.add(note)
    item = enqueue_event(session, call, EventKind.NOTE, author=author, text=text, at=note.at)
    session.flush()
    return note, item


def cancel_call(session: Session, call_id: int, *, author: str, reason: str) -> OutboxItem:
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
    item = enqueue_event(session, call, EventKind.CANCEL, author=author, text=reason)
    session.flush()
    return item


# --- the store the delivery worker uses ---------------------------------------------------------

_OUTBOX: Table = OutboxItem.__table__  # type: ignore[attr-defined]


def _due_query() -> Any:
    """Per incident its pending rows in id order, when the incident's oldest pending row is due."""
    o = _OUTBOX.c
    head = (
        select(o.call_id, func.min(o.id).label("head_id"))
        .where(o.state == PENDING)
        .group_by(o.call_id)
        .subquery()
    )
    first = _OUTBOX.alias("head_row")
    return (
        select(o.id, o.call_id, o.attempts, o.payload)
        .join(head, head.c.call_id == o.call_id)
        .join(first, first.c.id == head.c.head_id)
        .where(o.state == PENDING, first.c.next_attempt_at <= bindparam("now"))
        .order_by(o.call_id, o.id)
        .limit(bindparam("limit"))
    )


_DUE = _due_query()


class SqlOutboxStore:
    """OutboxStore on the service database (each method runs in a worker thread)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def _due(self, now: datetime, limit: int, delivered: Sequence[Delivered]) -> list[OutboxRecord]:
        with self._engine.begin() as conn:
            if delivered:
                conn.execute(
                    _OUTBOX.update()
                    .where(_OUTBOX.c.id == bindparam("record_id"))
                    .values(state=DELIVERED, delivered_at=bindparam("at"), last_error=""),
                    [{"record_id": d.record_id, "at": d.at} for d in delivered],
                )
            if limit <= 0:
                return []
            rows = conn.execute(_DUE, {"now": now, "limit": limit}).all()
        return [
            OutboxRecord(
                id=r.id,
                call_id=r.call_id,
                attempts=r.attempts,
                event=OutboundEvent.model_validate(r.payload),
            )
            for r in rows
        ]

    async def due(
        self, now: datetime, limit: int, delivered: Sequence[Delivered] = ()
    ) -> Sequence[OutboxRecord]:
        """See cad_bridge.OutboxStore.due."""
        return await asyncio.to_thread(self._due, now, limit, delivered)

    def _update(self, record_id: int, **changes: Any) -> None:
        with Session(self._engine) as session:
            row = session.get(OutboxItem, record_id)
            if row is None:
                return
            for key, value in changes.items():
                setattr(row, key, value)
            session.add(row)
            session.commit()

    async def mark_retry(
        self, record_id: int, *, attempts: int, next_attempt_at: datetime, error: str
    ) -> None:
        """See cad_bridge.OutboxStore."""
        await asyncio.to_thread(
            self._update,
            record_id,
            attempts=attempts,
            next_attempt_at=next_attempt_at,
            last_error=error[:2000],
        )

    async def mark_dead(self, record_id: int, *, attempts: int, error: str, at: datetime) -> None:
        """See cad_bridge.OutboxStore."""
        await asyncio.to_thread(
            self._update, record_id, state=DEAD, attempts=attempts, last_error=error[:2000]
        )

    def _waiting(self, record_id: int, reason: str) -> None:
        with Session(self._engine) as session:
            row = session.get(OutboxItem, record_id)
            if row is not None and row.last_error != reason:
                row.last_error = reason
                session.add(row)
                session.commit()

    async def mark_waiting(self, record_id: int, reason: str) -> None:
        """See cad_bridge.OutboxStore."""
        await asyncio.to_thread(self._waiting, record_id, reason)


# --- what GET /calls/{id} shows -----------------------------------------------------------------


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


# --- the running parts ----------------------------------------------------------------------------


def notify_delivery(app: FastAPI) -> None:
    """Wake the delivery worker after new outbox rows were committed."""
    delivery: OutboxDelivery | None = getattr(app.state, "outbox_delivery", None)
    if delivery is not None:
        delivery.notify()


def build_adapter(settings: Settings, client: httpx.AsyncClient) -> CadAdapter | None:
    """The default agency's CAD adapter from settings (None when no CAD is configured)."""
    cad = settings.cad
    if not cad.base_url:
        return None
    token = cad.token.get_secret_value() if cad.token is not None else None
    if cad.format == "eido":
        return EidoCadAdapter(client, cad.base_url, token=token, timeout_s=cad.timeout_s)
    return PlainJsonCadAdapter(client, cad.base_url, token=token, timeout_s=cad.timeout_s)


@asynccontextmanager
async def cad_component(app: FastAPI) -> AsyncIterator[None]:
    """Outbox delivery (and the EIDO conveyance subscriber when configured) for the app's life."""
    settings: Settings = app.state.settings
    engine: Engine = app.state.engine
    default_agency: str = app.state.default_agency_id
    mapper: CallTypeMapper = getattr(app.state, "call_type_mapper", None) or CallTypeMapper()
    async with httpx.AsyncClient() as client:
        adapter = build_adapter(settings, client)

        def adapter_for(agency: str) -> CadAdapter | None:
            return adapter if agency == default_agency else None

        async def dead_letter(record: OutboxRecord, reason: str) -> None:
            await asyncio.to_thread(
                record_audit,
                engine,
                actor="dfr",
                role="system",
                method="POST",
                path=f"/cad/outbox/{record.event.event_id}",
                status_code=502,
                action="cad.dead_letter",
                detail=f"call {record.call_id}: {reason}",
            )

        delivery = OutboxDelivery(SqlOutboxStore(engine), adapter_for, on_dead=dead_letter)
        app.state.outbox_delivery = delivery
        tasks = [asyncio.create_task(delivery.run(), name="outbox-delivery")]
        subscriber: EidoSubscriber | None = None
        if settings.cad.eido_subscribe_url:

            async def store(document: dict[str, Any]) -> None:
                call = parse_eido(document, agency=default_agency, mapper=mapper)
                result = await call_writer(app).store(call)
                dispatcher = getattr(app.state, "dispatcher", None)
                if dispatcher is not None and (result.created or result.changed):
                    dispatcher.submit(result.call_id, ended=result.ended)

            token = settings.cad.token.get_secret_value() if settings.cad.token else None
            subscriber = EidoSubscriber(settings.cad.eido_subscribe_url, store, token=token)
            app.state.eido_subscriber = subscriber
            tasks.append(asyncio.create_task(subscriber.run(), name="eido-subscriber"))
        try:
            yield
        finally:
            delivery.stop()
            if subscriber is not None:
                await subscriber.stop()
            # A moment to record the last deliveries (a hung CAD must not hold the shutdown).
            await asyncio.wait(tasks[:1], timeout=SHUTDOWN_GRACE_S)
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            app.state.outbox_delivery = None
