"""Alerts over HTTP: listed as the consoles show them, acknowledged by a person, audited."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from dfr.models import AuditEntry, Role
from telemetry import AlertBoard
from tests.dfr.conftest import TokenFactory

pytestmark = pytest.mark.databases


def test_a_dispatcher_acknowledges_a_low_battery_alert_and_the_ack_is_audited(
    app: FastAPI, client: TestClient, auth: TokenFactory
) -> None:
    board = AlertBoard(app.state.service.hub)
    board.raise_alert(
        "D2:battery:41",
        severity="warning",
        kind="low_battery",
        text="D2 battery at 24 %",
        drone_id="D2",
        flight_id=41,
        at=datetime.now(UTC),
    )
    listed = client.get("/api/v1/alerts", headers=auth(Role.ANALYST))
    assert listed.status_code == 200, listed.text
    (alert,) = [a for a in listed.json()["data"] if a["id"] == "D2:battery:41"]
    assert alert["needs_ack"] and alert["state"] == "active" and alert["acknowledged_by"] is None

    refused = client.post("/api/v1/alerts/D2:battery:41/ack", headers=auth(Role.ANALYST))
    assert refused.status_code == 403
    acked = client.post("/api/v1/alerts/D2:battery:41/ack", headers=auth(Role.DISPATCHER))
    assert acked.status_code == 200, acked.text
    assert acked.json()["acknowledged_by"] == "test-dispatcher"
    assert acked.json()["acknowledged_at"]
    stored = board.get("D2:battery:41")
    assert stored is not None and stored["acknowledged_by"] == "test-dispatcher"

    with Session(app.state.service.engine) as session:
        rows = session.exec(
            select(AuditEntry).where(col(AuditEntry.path) == "/api/v1/alerts/D2:battery:41/ack")
        ).all()
    assert [(r.actor, r.status_code) for r in rows if r.status_code == 200] == [
        ("test-dispatcher", 200)
    ]


def test_acknowledging_an_unknown_alert_is_a_404_problem(
    client: TestClient, auth: TokenFactory
) -> None:
    response = client.post("/api/v1/alerts/D9:nothing/ack", headers=auth(Role.PILOT))
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")


def test_me_says_who_may_acknowledge_alerts(client: TestClient, auth: TokenFactory) -> None:
    may = {
        role: client.get("/api/v1/me", headers=auth(role)).json()["may"]["ack_alert"]
        for role in (Role.DISPATCHER, Role.PILOT, Role.ANALYST)
    }
    assert may == {Role.DISPATCHER: True, Role.PILOT: True, Role.ANALYST: False}
