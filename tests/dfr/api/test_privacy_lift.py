"""Lifting privacy in transit for one flight: stored on the flight, audited, noted to CAD, once."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from dfr.models import AuditEntry, Flight, Note, OutboxItem, Role
from dfr.privacy import scene_pitch_deg
from tests.dfr.call_story import store_call_story
from tests.dfr.conftest import TokenFactory

pytestmark = pytest.mark.databases


def test_a_pilot_lifts_privacy_with_a_reason_and_the_flight_audit_and_cad_show_it(
    app: FastAPI, client: TestClient, auth: TokenFactory
) -> None:
    service = app.state.service
    story = store_call_story(service.engine, service.default_agency_id, cancelled=False)
    response = client.post(
        f"/api/v1/flights/{story.flight_id}/privacy",
        json={"reason": "search:  suspect fled on foot"},
        headers=auth(Role.PILOT),
    )
    assert response.status_code == 200, response.text
    lifted = response.json()
    assert lifted["privacy_lift_reason"] == "search: suspect fled on foot"
    assert lifted["privacy_lifted_by"] == "test-pilot" and lifted["privacy_lifted_at"]
    shown = client.get(f"/api/v1/flights/{story.flight_id}", headers=auth(Role.DISPATCHER))
    assert shown.json()["privacy_lift_reason"] == "search: suspect fled on foot"

    with Session(service.engine) as session:
        notes = session.exec(select(Note).where(Note.call_id == story.call_id)).all()
        lift_notes = [n for n in notes if "privacy in transit lifted" in n.text]
        assert len(lift_notes) == 1 and "suspect fled on foot" in lift_notes[0].text
        outbound = session.exec(select(OutboxItem).where(OutboxItem.call_id == story.call_id)).all()
        assert any("privacy in transit lifted" in str(item.payload) for item in outbound)
        audit = session.exec(
            select(AuditEntry).where(col(AuditEntry.path).endswith("/privacy"))
        ).all()
        assert [(a.actor, a.status_code) for a in audit] == [("test-pilot", 200)]
        assert "suspect fled on foot" in audit[0].detail

    again = client.post(
        f"/api/v1/flights/{story.flight_id}/privacy",
        json={"reason": "location unclear"},
        headers=auth(Role.DISPATCHER),
    )
    assert again.status_code == 409
    assert again.headers["content-type"].startswith("application/problem+json")
    assert "already lifted" in again.json()["detail"]


def test_a_lift_is_refused_for_an_ended_flight_a_short_reason_and_the_wrong_role(
    app: FastAPI, client: TestClient, auth: TokenFactory
) -> None:
    service = app.state.service
    story = store_call_story(service.engine, service.default_agency_id, cancelled=False)
    url = f"/api/v1/flights/{story.flight_id}/privacy"
    assert client.post(url, json={"reason": "x"}, headers=auth(Role.PILOT)).status_code == 422
    assert (
        client.post(url, json={"reason": "search"}, headers=auth(Role.ANALYST)).status_code == 403
    )
    with Session(service.engine) as session:
        flight = session.get(Flight, story.flight_id)
        assert flight is not None
        flight.state = "completed"
        session.add(flight)
        session.commit()
    ended = client.post(url, json={"reason": "search"}, headers=auth(Role.PILOT))
    assert ended.status_code == 409
    missing = client.post(
        "/api/v1/flights/999999/privacy", json={"reason": "search"}, headers=auth(Role.PILOT)
    )
    assert missing.status_code == 404
    with Session(service.engine) as session:
        flight = session.get(Flight, story.flight_id)
        assert flight is not None and flight.privacy_lifted_at is None


def test_the_camera_looks_at_the_scene_from_the_orbit() -> None:
    assert scene_pitch_deg(121.92, 50.0) == pytest.approx(-67.7, abs=0.1)
    assert scene_pitch_deg(None, 50.0) == -90.0
    assert scene_pitch_deg(60.0, 0.0) == -90.0
