"""Every state-changing request leaves an append-only audit row: who, what, when, from where, outcome."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError
from sqlmodel import Session, select

from dfr.audit import record_audit
from dfr.models import AuditEntry, Role
from tests.dfr.conftest import TokenFactory

pytestmark = pytest.mark.databases
CAD_FIXTURES = Path(__file__).resolve().parents[1] / "cad_bridge" / "fixtures"


def _rows(app: FastAPI) -> list[AuditEntry]:
    with Session(app.state.service.engine) as session:
        return list(session.exec(select(AuditEntry).order_by(AuditEntry.id)).all())  # type: ignore[arg-type]


def test_writes_are_audited_with_actor_address_and_outcome_and_paged_with_filters(
    client: TestClient, app: FastAPI, auth: TokenFactory
) -> None:
    admin = auth(Role.ADMIN)
    before = len(_rows(app))
    client.post(
        "/api/v1/docks",
        json={"id": "n1", "name": "N1", "lat": 38.9, "lon": -104.8},
        headers=admin,
    )
    client.patch("/api/v1/docks/n1", json={"name": "N1b"}, headers=admin)
    client.post("/api/v1/docks", json={"id": "n2"}, headers=admin)  # refused: 422
    client.delete("/api/v1/docks/n1", headers=auth(Role.PILOT))  # refused: 403
    client.delete("/api/v1/docks/n1")  # refused: 401, summarised per address (test_auth_throttle)
    client.get("/api/v1/docks", headers=admin)  # a read: not audited
    events = [r for r in _rows(app)[before:] if r.method == "EVENT"]
    rows = [r for r in _rows(app)[before:] if r.method != "EVENT"]
    # Each token's first use of a session is an event of its own, with where it came from.
    assert [(e.action, e.actor, e.client_address) for e in events] == [
        ("auth.session.start", "test-admin", "testclient"),
        ("auth.session.start", "test-pilot", "testclient"),
    ]
    assert [(r.method, r.status_code, r.outcome) for r in rows] == [
        ("POST", 201, "ok"),
        ("PATCH", 200, "ok"),
        ("POST", 422, "error"),
        ("DELETE", 403, "denied"),
    ]
    assert [r.actor for r in rows] == ["test-admin", "test-admin", "test-admin", "test-pilot"]
    assert rows[0].path == "/api/v1/docks" and rows[0].action == "create_dock"
    assert all(r.at is not None and r.client_address == "testclient" for r in rows)
    # A CAD post writes its row in the call's own transaction: the address is there too.
    call = json.loads((CAD_FIXTURES / "plain" / "suspicious_person.json").read_text())
    assert (
        client.post("/api/v1/cad/incidents", json=call, headers=auth(Role.CAD)).status_code == 202
    )
    (posted,) = [r for r in _rows(app)[before:] if r.action == "post_incident"]
    assert (posted.actor, posted.client_address) == ("test-cad", "testclient")

    # Paged back with before_id, and filtered.
    engine = app.state.service.engine
    for i in range(7):
        record_audit(
            engine,
            actor="ana" if i % 2 else "bob",
            role="analyst",
            method="POST",
            path=f"/api/v1/calls/{i}/notes" if i < 5 else "/api/v1/zones/import",
            status_code=201 if i != 3 else 403,
            action="add_note",
            client_address="10.0.0.7" if i == 6 else "10.0.0.8",
        )
    pages: list[list[int]] = []
    before_id: int | None = None
    while True:
        params: dict[str, str | int] = {"limit": 3, "action": "add_note"}
        if before_id is not None:
            params["before_id"] = before_id
        body = client.get("/api/v1/audit", params=params, headers=admin).json()
        pages.append([e["id"] for e in body["data"]])
        before_id = body["next_before_id"]
        if before_id is None:
            break
    ids = [i for page in pages for i in page]
    assert len(ids) == 7 and ids == sorted(ids, reverse=True) and all(len(p) <= 3 for p in pages)

    def query(**params: str) -> list[dict[str, object]]:
        answer = client.get("/api/v1/audit", params=params, headers=admin)
        assert answer.status_code == 200, answer.text
        return list(answer.json()["data"])

    assert len(query(actor="ana")) == 3
    assert len(query(outcome="denied", actor="ana")) == 1
    assert len(query(path_prefix="/api/v1/calls/")) == 5
    assert len(query(path_prefix="/api/v1/calls/_")) == 0  # a wildcard character is literal
    assert [e["client_address"] for e in query(client_address="10.0.0.7")] == ["10.0.0.7"]
    assert len(query(since="2000-01-01T00:00:00Z", until="2000-01-02T00:00:00Z")) == 0
    refused = client.get("/api/v1/audit", params={"limit": 1001}, headers=admin)
    assert refused.status_code == 422
    assert refused.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize("statement", ["UPDATE audit_log SET actor = 'x'", "DELETE FROM audit_log"])
def test_audit_log_refuses_changes_at_the_database(
    client: TestClient, app: FastAPI, auth: TokenFactory, statement: str
) -> None:
    client.post(
        "/api/v1/docks",
        json={"id": "n3", "name": "N3", "lat": 38.9, "lon": -104.8},
        headers=auth(Role.ADMIN),
    )
    with (
        pytest.raises(DatabaseError, match="append-only"),
        app.state.service.engine.begin() as conn,
    ):
        conn.execute(text(statement))
