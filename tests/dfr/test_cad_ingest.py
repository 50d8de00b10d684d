"""Storing CAD calls: one upsert per call, batches in one transaction, checked and audited inside it."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from cad_bridge import CadCall, CadNote, CallTypeMapper, parse_call
from dfr.cad_ingest import CallWriter, IngestResult, store_calls
from dfr.errors import InvalidInputError
from dfr.models import AuditEntry, Call, CallLifecycle, Note, Role
from geofence import GeoPoint
from tests.dfr.conftest import TokenFactory, one_agency_fleet

pytestmark = pytest.mark.databases

URL = "/api/v1/cad/incidents"


@pytest.fixture
def fleet_file(tmp_path: Path) -> Path:
    """Agency cspd alone: no drones, so no call is flown."""
    return one_agency_fleet(tmp_path)


def _call(incident: str = "CS-1", **changes: Any) -> CadCall:
    base: dict[str, Any] = {
        "agency": "cspd",
        "cad_incident_id": incident,
        "call_type": "BURGLARY",
        "category": "burglary",
        "priority": 2,
        "location": GeoPoint(38.84, -104.82),
        "received_at": datetime(2025, 6, 1, 12, 0, tzinfo=UTC),
        "notes": (CadNote(text="RP hears glass breaking"),),
    }
    base.update(changes)
    return CadCall(**base)


def _ok(result: IngestResult | Exception) -> IngestResult:
    assert isinstance(result, IngestResult), result
    return result


def test_repeats_of_one_incident_in_a_batch_make_one_call_with_every_note(engine: Engine) -> None:
    update = _call(
        priority=1, notes=(CadNote(text="RP hears glass breaking"), CadNote(text="2nd RP"))
    )
    results = [_ok(r) for r in store_calls(engine, [_call(), update, update])]
    assert [(r.created, r.changed) for r in results] == [
        (True, True),
        (False, True),
        (False, False),
    ]
    assert len({r.call_id for r in results}) == 1
    with Session(engine) as session:
        calls = session.exec(select(Call)).all()
        notes = session.exec(select(Note).order_by(col(Note.id))).all()
    assert [(c.priority, c.cad_incident_id) for c in calls] == [(1, "CS-1")]
    assert [n.text for n in notes] == ["RP hears glass breaking", "2nd RP"]


def test_an_identical_repost_changes_nothing_stored(engine: Engine) -> None:
    first = _ok(store_calls(engine, [_call()])[0])
    with Session(engine) as session:
        before = session.exec(select(Call)).one().model_dump()
    again = _ok(store_calls(engine, [_call()])[0])
    with Session(engine) as session:
        after = session.exec(select(Call)).one().model_dump()
        notes = session.exec(select(Note)).all()
    assert again == IngestResult(first.call_id, created=False, changed=False, ended=False)
    assert before == after and len(notes) == 1


def test_a_call_of_an_unknown_agency_fails_alone_in_its_batch(engine: Engine) -> None:
    results = store_calls(engine, [_call("CS-1"), _call("CS-2", agency="nope"), _call("CS-3")])
    assert isinstance(results[1], InvalidInputError) and results[1].field == "agency"
    assert _ok(results[0]).created and _ok(results[2]).created
    with Session(engine) as session:
        assert sorted(c.cad_incident_id for c in session.exec(select(Call))) == ["CS-1", "CS-3"]


def test_cad_ending_a_call_ends_it_once_and_never_reopens_it(engine: Engine) -> None:
    created = _ok(store_calls(engine, [_call()])[0])
    assert not created.ended
    cancelled = _ok(store_calls(engine, [_call(status="Cancelled")])[0])
    assert cancelled.changed and cancelled.ended
    closed = _ok(store_calls(engine, [_call(status="Closed")])[0])
    assert closed.changed and not closed.ended  # already ended by CAD
    active_again = _ok(store_calls(engine, [_call(status="Active", priority=5)])[0])
    assert active_again.changed
    with Session(engine) as session:
        call = session.exec(select(Call)).one()
    assert call.lifecycle is CallLifecycle.CANCELLED and call.cad_status == "Active"


def test_a_call_dfr_cancelled_stays_cancelled_when_cad_closes_it(engine: Engine) -> None:
    call_id = _ok(store_calls(engine, [_call()])[0]).call_id
    with Session(engine) as session:
        row = session.get(Call, call_id)
        assert row is not None
        row.lifecycle = CallLifecycle.CANCELLED
        session.add(row)
        session.commit()
    assert _ok(store_calls(engine, [_call(status="Closed")])[0]).ended
    with Session(engine) as session:
        row = session.get(Call, call_id)
    assert row is not None and row.lifecycle is CallLifecycle.CANCELLED


async def test_concurrent_posts_are_committed_together(engine: Engine) -> None:
    writer = CallWriter(engine)
    results = await asyncio.gather(*(writer.store(_call(f"CS-{i}")) for i in range(40)))
    assert len({r.call_id for r in results}) == 40 and all(r.created for r in results)
    assert writer.stored == 40 and writer.batches < 40
    with Session(engine) as session:
        assert len(session.exec(select(Call)).all()) == 40


async def test_a_failing_call_does_not_fail_the_others_waiting_with_it(engine: Engine) -> None:
    writer = CallWriter(engine)
    outcomes = await asyncio.gather(
        writer.store(_call("CS-1")),
        writer.store(_call("CS-2", agency="nope")),
        writer.store(_call("CS-3")),
        return_exceptions=True,
    )
    assert isinstance(outcomes[1], InvalidInputError)
    assert isinstance(outcomes[0], IngestResult) and isinstance(outcomes[2], IngestResult)


def test_a_post_is_audited_once_with_what_it_did(
    app: FastAPI, client: TestClient, auth: TokenFactory
) -> None:
    doc = json.loads(
        (Path(__file__).parents[1] / "cad_bridge/fixtures/plain/suspicious_person.json").read_text()
    )
    first = client.post(URL, json=doc, headers=auth(Role.CAD)).json()
    client.post(URL, json=doc, headers=auth(Role.CAD))
    with Session(app.state.service.engine) as session:
        rows = session.exec(
            select(AuditEntry).where(AuditEntry.path == URL).order_by(col(AuditEntry.id))
        ).all()
    assert [(r.actor, r.role, r.status_code, r.outcome) for r in rows] == [
        ("test-cad", "cad", 202, "ok")
    ] * 2
    assert [r.detail for r in rows] == [
        f"call {first['id']} {doc['cad_incident_id']} created",
        f"call {first['id']} {doc['cad_incident_id']} unchanged",
    ]


def test_a_revoked_token_stores_nothing_even_just_after_it_was_seen_valid(
    client: TestClient, auth: TokenFactory
) -> None:
    mapper = CallTypeMapper()
    body = json.dumps(
        {
            "cad_incident_id": "CS-REVOKE",
            "agency": "cspd",
            "call_type": "BURGLARY",
            "priority": 2,
            "location": {"lat": 38.84, "lon": -104.82},
            "received_at": "2025-06-01T12:00:00Z",
        }
    ).encode()
    parse_call(body, default_agency="cspd", mapper=mapper)  # the document itself is valid
    admin = auth(Role.ADMIN)
    made = client.post("/api/v1/tokens", json={"name": "cad-2", "role": "cad"}, headers=admin)
    assert made.status_code == 201, made.text
    token = made.json()
    cad = {"Authorization": f"Bearer {token['token']}", "Content-Type": "application/json"}
    assert client.post(URL, content=body, headers=cad).status_code == 202
    assert client.delete(f"/api/v1/tokens/{token['id']}", headers=admin).status_code == 200
    changed = body.replace(b'"priority": 2', b'"priority": 1')
    refused = client.post(URL, content=changed, headers=cad)
    assert refused.status_code == 401
    call = client.get("/api/v1/calls", headers=auth(Role.DISPATCHER)).json()["data"]
    assert [(c["cad_incident_id"], c["priority"]) for c in call] == [("CS-REVOKE", 2)]
