"""Background decisions in batches: a burst shares transactions, urgent calls overtake the backlog."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi import FastAPI
from sqlalchemy import update
from sqlmodel import Session, col, func, select

from cad_bridge import CadCall
from dfr.cad_ingest import store_calls
from dfr.fleet import DEMO_FLEET_FILE
from dfr.main import create_app
from dfr.models import Call, CallLifecycle, Decision, Note, OutboxItem
from dfr.service import Run, Service
from dfr.settings import DatabaseSettings, Settings
from geofence import GeoPoint
from tests.dfr.test_metrics import samples, value

pytestmark = [pytest.mark.databases, pytest.mark.timeout(120)]


@pytest.fixture
async def service(tmp_path: Path, db_backend: str, database_url: str) -> AsyncIterator[Service]:
    """The demo fleet's service, deciding but without drone links (every drone is off-link)."""
    database = DatabaseSettings(url=database_url if db_backend == "postgresql" else None)
    settings = Settings(
        mode="test", data_dir=tmp_path / "data", fleet_file=DEMO_FLEET_FILE, database=database
    )
    app: FastAPI = create_app(settings, run=Run.DISPATCH)
    async with app.router.lifespan_context(app):
        yield app.state.service


def _stored(service: Service, priorities: list[int]) -> list[int]:
    calls = [
        CadCall(
            agency="cspd",
            cad_incident_id=f"BURST-{i:03d}",
            call_type="SUSP",
            priority=priority,
            location=GeoPoint(38.85 + i * 1e-4, -104.75),
            received_at=datetime.now(UTC),
        )
        for i, priority in enumerate(priorities)
    ]
    ids = []
    for result in store_calls(service.engine, calls):
        assert not isinstance(result, Exception)
        ids.append(result.call_id)
    return ids


async def _decided(service: Service, count: int) -> list[Decision]:
    def read() -> list[Decision]:
        with Session(service.engine) as session:
            return list(session.exec(select(Decision).order_by(col(Decision.id))).all())

    for _ in range(600):
        decisions = await asyncio.to_thread(read)
        if len(decisions) >= count:
            return decisions
        await asyncio.sleep(0.05)
    raise AssertionError(f"{len(decisions)} of {count} calls decided")


async def test_a_burst_of_calls_shares_transactions_and_each_call_gets_one_decision_and_note(
    service: Service,
) -> None:
    ids = _stored(service, [4] * 40)
    for call_id in ids:
        service.dispatcher.submit(call_id, priority=4)
    decisions = await _decided(service, len(ids))
    for _ in range(200):  # each call's task ends after its decision: no per-call lock is kept
        if service.dispatcher.calls_in_hand == 0:
            break
        await asyncio.sleep(0.01)
    assert service.dispatcher.calls_in_hand == 0
    scraped = samples((await service.metrics.scrape()).decode())
    with Session(service.engine) as session:
        assert session.exec(select(func.count()).select_from(Decision)).one() == len(ids)
        notes = session.exec(
            select(Note.call_id).where(col(Note.text).startswith("DFR recommendation"))
        ).all()
        events = session.exec(select(OutboxItem.call_id).where(OutboxItem.kind == "note")).all()
        lifecycles = set(session.exec(select(Call.lifecycle)).all())
    assert sorted(d.call_id for d in decisions) == sorted(ids)
    assert sorted(notes) == sorted(ids) and sorted(events) == sorted(ids)
    assert {str(x) for x in lifecycles} == {"new"}  # no drone has a link: none recommended
    assert value(scraped, "dfr_decision_seconds_count") == len(ids)
    assert 1 <= value(scraped, "dfr_decision_batches_total") < len(ids)
    assert value(scraped, "dfr_decisions_waiting") == 0


async def test_an_urgent_call_behind_a_backlog_is_decided_first(service: Service) -> None:
    *backlog, urgent = _stored(service, [5] * 60 + [1])
    for call_id in backlog:
        service.dispatcher.submit(call_id, priority=5)
    service.dispatcher.submit(urgent, priority=1)
    decisions = await _decided(service, len(backlog) + 1)
    assert decisions[0].call_id == urgent


async def test_a_call_that_cannot_be_decided_leaves_the_others_of_its_batch_decided(
    service: Service,
) -> None:
    ids = _stored(service, [3] * 5)
    service.dispatcher.submit(ids[0], priority=3)
    service.dispatcher.submit(987_654, priority=3)  # no such call
    for call_id in ids[1:]:
        service.dispatcher.submit(call_id, priority=3)
    decisions = await _decided(service, len(ids))
    assert sorted(d.call_id for d in decisions) == sorted(ids)


async def test_while_cad_calls_are_being_stored_decisions_pause_three_times_each_batch(
    service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(service.dispatcher, "_intake_idle_s", lambda: 0.0)  # the intake is busy
    ids = _stored(service, [4] * 64)
    for call_id in ids:
        service.dispatcher.submit(call_id, priority=4)
    decisions = await _decided(service, len(ids))
    # Two batches of 32 (all were queued before the first began); the pause after the first is
    # three times what it took, so at least three times the spread of its decisions' times.
    first, second = decisions[:32], decisions[32:]
    took_s = (first[-1].created_at - first[0].created_at).total_seconds()
    gap_s = (second[0].created_at - first[-1].created_at).total_seconds()
    assert gap_s >= 3 * took_s > 0


async def test_a_decision_read_before_a_launch_committed_leaves_the_call_dispatched(
    service: Service,
) -> None:
    first, second = _stored(service, [3, 3])
    decision = await service.dispatcher.evaluate(first, allow_auto_launch=False)
    eligible = dataclasses.replace(decision, eligible=True)

    def decided_across_a_launch() -> CallLifecycle:
        with Session(service.engine, expire_on_commit=False) as session:
            call = session.get(Call, second)  # what a batch in the backlog read
            assert call is not None and call.lifecycle == CallLifecycle.NEW
            with service.engine.begin() as conn:  # a person's launch commits meanwhile
                conn.execute(
                    update(Call)
                    .where(col(Call.id) == second)
                    .values(lifecycle=CallLifecycle.DISPATCHED)
                )
            service.ledger.record_decision(session, call, eligible, previous_summary=None)
            session.commit()
            return call.lifecycle

    published = await asyncio.to_thread(decided_across_a_launch)

    def stored() -> CallLifecycle:
        with Session(service.engine) as session:
            call = session.get(Call, second)
            assert call is not None
            return call.lifecycle

    assert await asyncio.to_thread(stored) == CallLifecycle.DISPATCHED
    assert published == CallLifecycle.DISPATCHED
