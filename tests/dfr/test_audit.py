"""Every state-changing request leaves an append-only audit row: who, what, when, outcome."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError
from sqlmodel import Session, select

from dfr.models import AuditEntry, Role
from tests.dfr.conftest import TokenFactory

pytestmark = pytest.mark.databases


def _rows(app: FastAPI) -> list[AuditEntry]:
    with Session(app.state.service.engine) as session:
        return list(session.exec(select(AuditEntry).order_by(AuditEntry.id)).all())  # type: ignore[arg-type]


def test_each_write_is_audited_with_actor_and_outcome(
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
    client.delete("/api/v1/docks/n1")  # refused: 401
    client.get("/api/v1/docks", headers=admin)  # a read: not audited
    rows = _rows(app)[before:]
    assert [(r.method, r.status_code, r.outcome) for r in rows] == [
        ("POST", 201, "ok"),
        ("PATCH", 200, "ok"),
        ("POST", 422, "error"),
        ("DELETE", 403, "denied"),
        ("DELETE", 401, "denied"),
    ]
    assert [r.actor for r in rows] == ["test-admin", "test-admin", "test-admin", "test-pilot", ""]
    assert rows[0].path == "/api/v1/docks" and rows[0].action == "create_dock"
    assert all(r.at is not None for r in rows)


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
