"""The outbox on the service database: one store call records the last deliveries and reads the next rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from cad_bridge import CadCall, Delivered, EventKind
from dfr.cad_ingest import store_call
from dfr.models import OutboxItem
from dfr.outbox import DELIVERED, PENDING, SqlOutboxStore, enqueue_event, get_call
from geofence import GeoPoint

pytestmark = pytest.mark.databases


def _incident(engine: Engine, incident: str) -> int:
    call = CadCall(
        agency="cspd",
        cad_incident_id=incident,
        call_type="BURGLARY",
        priority=2,
        location=GeoPoint(38.84, -104.82),
        received_at=datetime(2025, 6, 1, tzinfo=UTC),
    )
    return store_call(engine, call).call_id


def _notes(engine: Engine, call_id: int, texts: list[str]) -> list[str]:
    with Session(engine) as session:
        call = get_call(session, call_id)
        ids = [
            enqueue_event(session, call, EventKind.NOTE, author="a", text=t).event_id for t in texts
        ]
        session.commit()
    return ids


def _states(engine: Engine) -> list[str]:
    with Session(engine) as session:
        return [r.state for r in session.exec(select(OutboxItem).order_by(col(OutboxItem.id)))]


async def test_due_records_the_deliveries_and_returns_the_rest_in_order(engine: Engine) -> None:
    a, b = _incident(engine, "CS-A"), _incident(engine, "CS-B")
    a_ids = _notes(engine, a, ["a1", "a2", "a3"])
    b_ids = _notes(engine, b, ["b1"])
    store = SqlOutboxStore(engine)
    now = datetime.now(UTC) + timedelta(seconds=1)
    first = await store.due(now, 10)
    assert [r.event.event_id for r in first] == [*a_ids, *b_ids]
    assert [r.event.text for r in first] == ["a1", "a2", "a3", "b1"]
    rest = await store.due(now, 10, [Delivered(first[0].id, now), Delivered(first[3].id, now)])
    assert [r.event.event_id for r in rest] == a_ids[1:]
    assert _states(engine) == [DELIVERED, PENDING, PENDING, DELIVERED]
    assert await store.due(now, 0, [Delivered(r.id, now) for r in rest]) == []
    assert _states(engine) == [DELIVERED] * 4


async def test_a_row_waiting_for_retry_holds_back_its_incident_only(engine: Engine) -> None:
    a, b = _incident(engine, "CS-A"), _incident(engine, "CS-B")
    _notes(engine, a, ["a1", "a2"])
    _notes(engine, b, ["b1"])
    store = SqlOutboxStore(engine)
    now = datetime.now(UTC) + timedelta(seconds=1)
    head = (await store.due(now, 10))[0]
    later = now + timedelta(seconds=30)
    await store.mark_retry(head.id, attempts=1, next_attempt_at=later, error="503")
    assert [r.event.text for r in await store.due(now, 10)] == ["b1"]
    retried = await store.due(later, 10)
    assert [(r.event.text, r.attempts) for r in retried] == [("a1", 1), ("a2", 0), ("b1", 0)]
