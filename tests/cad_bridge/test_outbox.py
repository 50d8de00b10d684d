"""The delivery worker: order per incident, backoff, dead letters, waiting without a CAD."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cad_bridge import (
    Backoff,
    CadAdapter,
    CadRejectedError,
    CadUnavailableError,
    Delivered,
    OutboundEvent,
    OutboxDelivery,
    OutboxRecord,
)
from tests.cad_bridge.factories import outbound_event


@dataclass
class Row:
    record: OutboxRecord
    state: str = "pending"
    next_at: datetime = datetime(2025, 1, 1, tzinfo=UTC)
    error: str = ""


@dataclass
class MemoryStore:
    """A complete in-memory OutboxStore with the ordering rule of the protocol."""

    rows: list[Row] = field(default_factory=list)

    async def due(
        self, now: datetime, limit: int, delivered: Sequence[Delivered] = ()
    ) -> Sequence[OutboxRecord]:
        for d in delivered:
            self._row(d.record_id).state = "delivered"
        out: list[OutboxRecord] = []
        heads: set[int] = set()
        blocked: set[int] = set()
        for row in self.rows:
            call = row.record.call_id
            if row.state != "pending" or call in blocked:
                continue
            if call not in heads:
                heads.add(call)
                if row.next_at > now:
                    blocked.add(call)
                    continue
            out.append(row.record)
        return out[:limit]

    def _row(self, record_id: int) -> Row:
        return next(r for r in self.rows if r.record.id == record_id)

    async def mark_retry(
        self, record_id: int, *, attempts: int, next_attempt_at: datetime, error: str
    ) -> None:
        row = self._row(record_id)
        row.record = OutboxRecord(row.record.id, row.record.call_id, attempts, row.record.event)
        row.next_at, row.error = next_attempt_at, error

    async def mark_dead(self, record_id: int, *, attempts: int, error: str, at: datetime) -> None:
        row = self._row(record_id)
        row.state, row.error = "dead", error

    async def mark_waiting(self, record_id: int, reason: str) -> None:
        self._row(record_id).error = reason


@dataclass
class ScriptedCad:
    """A CadAdapter whose answers per event id are scripted; records deliveries in order."""

    fail: dict[str, list[Exception]] = field(default_factory=dict)
    delivered: list[str] = field(default_factory=list)
    name: str = "scripted"
    capabilities: frozenset[str] = frozenset({"notes-out"})

    async def deliver(self, event: OutboundEvent) -> None:
        queue = self.fail.get(event.event_id)
        if queue:
            raise queue.pop(0)
        self.delivered.append(event.event_id)


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2025, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def _store(events: list[tuple[int, str]]) -> MemoryStore:
    rows = [
        Row(
            OutboxRecord(
                i + 1,
                call,
                0,
                outbound_event(
                    "note",
                    event_id=eid,
                    cad_incident_id=f"CS-{call}",
                    at=datetime(2025, 1, 1, tzinfo=UTC),
                    author="a",
                    text=eid,
                ),
            )
        )
        for i, (call, eid) in enumerate(events)
    ]
    return MemoryStore(rows)


async def test_a_retry_holds_back_later_events_of_the_same_incident_only() -> None:
    store = _store([(1, "a1"), (1, "a2"), (2, "b1")])
    cad = ScriptedCad(fail={"a1": [CadUnavailableError("503")]})
    clock = Clock()
    worker = OutboxDelivery(store, lambda _a: cad, clock=clock, rng=random.Random(1))
    assert await worker.run_once() == 1
    assert cad.delivered == ["b1"]
    assert await worker.run_once() == 0  # a1 waits for its backoff; a2 waits behind it
    clock.now += timedelta(seconds=61)
    assert await worker.run_once() == 2
    assert cad.delivered == ["b1", "a1", "a2"]


async def test_a_rejected_event_is_dead_and_the_next_one_still_goes() -> None:
    store = _store([(1, "a1"), (1, "a2")])
    cad = ScriptedCad(fail={"a1": [CadRejectedError("400 bad", status_code=400)]})
    dead: list[str] = []
    worker = OutboxDelivery(store, lambda _a: cad, on_dead=lambda r, why: dead.append(why))
    await worker.run_once()
    await worker.flush()
    assert [r.state for r in store.rows] == ["dead", "delivered"]
    assert dead == ["400 bad"] and cad.delivered == ["a2"]


async def test_without_a_cad_rows_wait_with_a_visible_reason() -> None:
    store = _store([(1, "a1")])
    worker = OutboxDelivery(store, lambda _a: None)
    assert await worker.run_once() == 0
    assert store.rows[0].state == "pending"
    assert "no CAD" in store.rows[0].error


async def test_retry_attempts_grow_the_delay() -> None:
    store = _store([(1, "a1")])
    cad = ScriptedCad(fail={"a1": [CadUnavailableError("x")] * 3})
    clock = Clock()
    worker = OutboxDelivery(
        store, lambda _a: cad, clock=clock, backoff=Backoff(base_s=1, cap_s=100, jitter=0)
    )
    delays = []
    for _ in range(3):
        await worker.run_once()
        delays.append((store.rows[0].next_at - clock.now).total_seconds())
        clock.now = store.rows[0].next_at
    assert delays == [1.0, 2.0, 4.0]
    await worker.run_once()
    assert cad.delivered == ["a1"]


@given(st.integers(min_value=1, max_value=40), st.integers(min_value=0, max_value=2**32))
def test_backoff_stays_within_jitter_band_and_cap(attempt: int, seed: int) -> None:
    backoff = Backoff(base_s=0.5, cap_s=60, jitter=0.5)
    raw = min(60.0, 0.5 * 2 ** (attempt - 1))
    delay = backoff.delay_s(attempt, random.Random(seed))
    assert raw * 0.5 <= delay <= raw


def test_scripted_cad_is_a_cad_adapter() -> None:
    assert isinstance(ScriptedCad(), CadAdapter)


@pytest.mark.parametrize("n_incidents", [1, 5])
async def test_many_events_arrive_in_order_per_incident(n_incidents: int) -> None:
    events = [(i % n_incidents, f"{i % n_incidents}-{i}") for i in range(60)]
    store = _store(events)
    failures = {eid: [CadUnavailableError("flaky")] for _, eid in events[::7]}
    cad = ScriptedCad(fail=failures)
    clock = Clock()
    worker = OutboxDelivery(store, lambda _a: cad, clock=clock)
    for _ in range(200):
        await worker.run_once()
        clock.now += timedelta(seconds=120)
        if len(cad.delivered) == len(events):
            break
    for call in range(n_incidents):
        expected = [eid for c, eid in events if c == call]
        assert [e for e in cad.delivered if e.startswith(f"{call}-")] == expected


async def test_deliveries_are_recorded_by_the_next_look_at_the_store() -> None:
    store = _store([(1, "a1"), (2, "b1")])
    cad = ScriptedCad()
    worker = OutboxDelivery(store, lambda _a: cad)
    assert await worker.run_once() == 2
    assert [r.state for r in store.rows] == ["pending", "pending"]  # not written yet
    assert await worker.run_once() == 0  # this look records them and finds nothing new
    assert [r.state for r in store.rows] == ["delivered", "delivered"]
    assert cad.delivered == ["a1", "b1"]


@dataclass
class NotifyingStore(MemoryStore):
    """Rows are written (and notify() called) while the worker is looking at the store."""

    worker: OutboxDelivery | None = None
    looks: int = 0

    async def due(
        self, now: datetime, limit: int, delivered: Sequence[Delivered] = ()
    ) -> Sequence[OutboxRecord]:
        self.looks += 1
        if self.looks == 1 and self.worker is not None:
            self.worker.notify()  # too late for this look's answer
        elif self.looks == 2 and self.worker is not None:
            self.worker.stop()
        return await super().due(now, limit, delivered)


async def test_a_notify_during_a_look_is_not_lost() -> None:
    store = NotifyingStore()
    worker = OutboxDelivery(store, lambda _a: None, poll_interval_s=3600)
    store.worker = worker
    async with asyncio.timeout(60):  # without the wake-up the worker would sleep an hour
        await worker.run()
    assert store.looks >= 2
