"""The outbox on the service's database: outbound rows (written by the call ledger in the change that
causes them), the store the delivery worker reads, what a call's detail shows, and delivery itself."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import httpx
from sqlalchemy import Table, bindparam, func
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from cad_bridge import (
    EVENT_CANCELLED,
    CadAdapter,
    Delivered,
    EidoCadAdapter,
    EventKind,
    OutboundEvent,
    OutboxDelivery,
    OutboxRecord,
    PlainJsonCadAdapter,
    UnitReport,
)
from dfr.audit import record_audit
from dfr.errors import NotFoundError
from dfr.metrics import Metrics
from dfr.models import Call, OutboxItem, utcnow
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
    """OutboxStore on the service database (each method runs in a worker thread).

    With several instances, only the one for which `may_deliver()` is true (the holder of the
    `outbox` lease) is given rows to send, so no event is sent by two instances at once.
    """

    def __init__(self, engine: Engine, may_deliver: Callable[[], bool] = lambda: True) -> None:
        self._engine = engine
        self._may_deliver = may_deliver

    def _due(self, now: datetime, limit: int, delivered: Sequence[Delivered]) -> list[OutboxRecord]:
        with self._engine.begin() as conn:
            if delivered:
                conn.execute(
                    _OUTBOX.update()
                    .where(_OUTBOX.c.id == bindparam("record_id"))
                    .values(state=DELIVERED, delivered_at=bindparam("at"), last_error=""),
                    [{"record_id": d.record_id, "at": d.at} for d in delivered],
                )
            if limit <= 0 or not self._may_deliver():
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


def pending_count(engine: Engine) -> int:
    """How many outbound events wait for delivery (blocking)."""
    with engine.connect() as conn:
        query = select(func.count()).select_from(_OUTBOX).where(_OUTBOX.c.state == PENDING)
        return int(conn.execute(query).scalar_one())


# --- the running parts ----------------------------------------------------------------------------


def build_adapter(settings: Settings, client: httpx.AsyncClient) -> CadAdapter | None:
    """The default agency's CAD adapter from settings (None when no CAD is configured)."""
    cad = settings.cad
    if not cad.base_url:
        return None
    token = cad.token.get_secret_value() if cad.token is not None else None
    if cad.format == "eido":
        return EidoCadAdapter(client, cad.base_url, token=token, timeout_s=cad.timeout_s)
    return PlainJsonCadAdapter(client, cad.base_url, token=token, timeout_s=cad.timeout_s)


class TimedAdapter:
    """A CadAdapter that records the round trip of each event CAD accepts."""

    def __init__(self, adapter: CadAdapter, metrics: Metrics) -> None:
        self._adapter = adapter
        self._seconds = metrics.outbox_delivery_seconds
        self.name = adapter.name
        self.capabilities = adapter.capabilities

    async def deliver(self, event: OutboundEvent) -> None:
        """See cad_bridge.CadAdapter.deliver."""
        started = time.perf_counter()
        await self._adapter.deliver(event)
        self._seconds.observe(time.perf_counter() - started)


def build_delivery(
    settings: Settings,
    engine: Engine,
    client: httpx.AsyncClient,
    default_agency_id: str,
    metrics: Metrics,
    may_deliver: Callable[[], bool] = lambda: True,
) -> OutboxDelivery:
    """Delivery of the outbox to the default agency's CAD; a dead letter is written to the audit."""
    plain = build_adapter(settings, client)
    adapter = None if plain is None else TimedAdapter(plain, metrics)

    def adapter_for(agency: str) -> CadAdapter | None:
        return adapter if agency == default_agency_id else None

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

    return OutboxDelivery(SqlOutboxStore(engine, may_deliver), adapter_for, on_dead=dead_letter)


@asynccontextmanager
async def delivering(delivery: OutboxDelivery) -> AsyncIterator[None]:
    """Run `delivery` for the block; at its end, a moment to record the last deliveries."""
    task = asyncio.create_task(delivery.run(), name="outbox-delivery")
    try:
        yield
    finally:
        delivery.stop()
        # A hung CAD must not hold the shutdown.
        await asyncio.wait([task], timeout=SHUTDOWN_GRACE_S)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
