"""Policy guards through the API: a denied call type is refused with its reason; a gathering waits
for a supervisor, whose answer is stored, audited and (approved) sent to the dispatcher's launch."""

from __future__ import annotations

import time
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from dfr.main import create_app
from dfr.models import Role
from dfr.service import Run
from dfr.settings import Settings
from tests.dfr.conftest import TokenFactory

pytestmark = pytest.mark.databases


@pytest.fixture
def app(settings: Settings) -> FastAPI:
    # Dispatch runs (decisions, approvals); no drone links, so an approved launch finds no drone.
    return create_app(settings, run=Run.DISPATCH)


def _post_call(client: TestClient, auth: TokenFactory, incident: str, call_type: str) -> int:
    response = client.post(
        "/api/v1/cad/incidents",
        headers=auth(Role.CAD),
        json={
            "cad_incident_id": incident,
            "agency": "cspd",
            "call_type": call_type,
            "priority": 2,
            "location": {"lat": 38.8450, "lon": -104.7600},
            "received_at": "2026-11-21T18:00:00Z",
            "status": "Active",
        },
    )
    assert response.status_code == 202, response.text
    return int(response.json()["id"])


def _decision(client: TestClient, auth: TokenFactory, call_id: int) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        response = client.get(f"/api/v1/calls/{call_id}/decision", headers=auth(Role.DISPATCHER))
        if response.status_code == 200:
            decision: dict[str, Any] = response.json()
            return decision
        time.sleep(0.05)
    raise AssertionError(f"no decision for call {call_id}")


def test_a_denied_call_type_and_a_refused_gathering_are_not_flown_with_the_reasons_shown(
    client: TestClient, auth: TokenFactory
) -> None:
    call_id = _post_call(client, auth, "CSPD-1", "DOMESTIC")
    decision = _decision(client, auth, call_id)
    assert not decision["eligible"]
    guard = next(r for r in decision["call_rules"] if r["rule"] == "policy_guard")
    assert not guard["passed"] and "Domestic disturbances are not flown" in guard["reason"]
    launch = client.post(f"/api/v1/calls/{call_id}/launch", headers=auth(Role.DISPATCHER))
    assert launch.status_code == 409 and "Domestic disturbances" in launch.json()["detail"]

    # A refused gathering stays unflown, the refusal in its decision.
    call_id = _post_call(client, auth, "CSPD-3", "GATHERING")
    _decision(client, auth, call_id)
    answer = client.post(
        f"/api/v1/calls/{call_id}/approval",
        json={"approve": False, "reason": "no imminent threat"},
        headers=auth(Role.SUPERVISOR),
    )
    assert answer.status_code == 200 and answer.json()["state"] == "refused"
    decision = _decision(client, auth, call_id)
    assert not decision["eligible"] and "refused" in decision["summary"]
    missing = client.post(
        "/api/v1/calls/999999/approval",
        json={"approve": True, "reason": "x"},
        headers=auth(Role.SUPERVISOR),
    )
    assert missing.status_code == 404


def test_a_gathering_waits_for_a_supervisor_whose_answer_is_stored_once_and_audited(
    client: TestClient, auth: TokenFactory
) -> None:
    call_id = _post_call(client, auth, "CSPD-2", "PROTEST")
    decision = _decision(client, auth, call_id)
    assert decision["summary"].startswith("Awaiting supervisor approval")
    pending = client.get("/api/v1/approvals", headers=auth(Role.SUPERVISOR)).json()
    assert [a["call_id"] for a in pending["data"]] == [call_id]
    assert pending["data"][0]["state"] == "pending"

    launch = client.post(f"/api/v1/calls/{call_id}/launch", headers=auth(Role.DISPATCHER))
    assert launch.status_code == 409 and "supervisor" in launch.json()["detail"]
    url = f"/api/v1/calls/{call_id}/approval"
    body = {"approve": True, "reason": "peaceful march, traffic overwatch only"}
    assert client.post(url, json=body, headers=auth(Role.DISPATCHER)).status_code == 403
    bad = client.post(url, json={"approve": True}, headers=auth(Role.SUPERVISOR))
    assert bad.status_code == 422
    assert client.get("/api/v1/approvals", headers=auth(Role.SUPERVISOR)).json()["count"] == 1

    answer = client.post(url, json=body, headers=auth(Role.SUPERVISOR))
    assert answer.status_code == 200, answer.text
    approved = answer.json()
    assert approved["state"] == "approved" and approved["decided_by"] == "test-supervisor"
    # Approved, then launched on the dispatcher's path: with no drone linked it is refused there.
    assert approved["flight_id"] is None and approved["launch_refused"].startswith("No drone")
    again = client.post(url, json=body, headers=auth(Role.SUPERVISOR))
    assert again.status_code == 409
    assert client.get("/api/v1/approvals", headers=auth(Role.SUPERVISOR)).json()["count"] == 0
    rule = next(
        r
        for r in _decision(client, auth, call_id)["call_rules"]
        if r["rule"] == "supervisor_approval"
    )
    assert rule["passed"]
    audit = client.get("/api/v1/audit", headers=auth(Role.ADMIN)).json()["data"]
    rows = [a for a in audit if a["action"] == "launch_approval.approved"]
    assert len(rows) == 1 and rows[0]["actor"] == "test-supervisor"
    assert "peaceful march" in rows[0]["detail"]
