"""A call names its flights, and its timeline tells its whole story in time order."""

from __future__ import annotations

from datetime import datetime

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from dfr.models import Role
from tests.dfr.call_story import store_call_story
from tests.dfr.conftest import TokenFactory

pytestmark = pytest.mark.databases


def test_a_call_names_its_flight_and_its_timeline_tells_every_step_with_its_time(
    app: FastAPI, client: TestClient, auth: TokenFactory
) -> None:
    service = app.state.service
    story = store_call_story(service.engine, service.default_agency_id)
    detail = client.get(f"/api/v1/calls/{story.call_id}", headers=auth(Role.DISPATCHER)).json()
    [flight] = detail["flights"]
    assert flight["id"] == story.flight_id
    assert (flight["drone_id"], flight["state"], flight["eta_s"]) == ("D1", "returning", 100.0)
    eta_at = datetime.fromisoformat(flight["eta_at"])
    started_at = datetime.fromisoformat(flight["started_at"])
    assert (eta_at - started_at).total_seconds() == 100.0
    named = client.get(f"/api/v1/flights/{story.flight_id}", headers=auth(Role.DISPATCHER))
    assert named.json()["call_id"] == story.call_id

    response = client.get(f"/api/v1/calls/{story.call_id}/timeline", headers=auth(Role.ANALYST))
    assert response.status_code == 200
    body = response.json()
    assert body["lifecycle"] == "cancelled"
    steps = [e["step"] for e in body["data"]]
    assert steps == [
        "received",
        "decided",
        "launched",
        "uploading",
        "armed",
        "en_route",
        "on_scene",
        "cad",
        "note",
        "returning",
        "cad",
        "cancelled",
    ]
    entries = body["data"]
    times = [datetime.fromisoformat(e["at"]) for e in entries]
    assert times == sorted(times)
    assert (times[-1] - times[0]).total_seconds() == 400
    by_step = {e["step"]: e for e in entries}
    assert by_step["decided"]["title"] == "decided: D1, ETA 1:40"
    assert "nearest with battery" in by_step["decided"]["detail"]
    assert by_step["launched"]["detail"] == "by dispatcher Kim"
    assert by_step["note"]["detail"] == "Two people seen leaving by the back door"
    assert by_step["cancelled"]["detail"] == "no one there"
    deliveries = [e for e in entries if e["step"] == "cad"]
    assert [d["delivery"] for d in deliveries] == ["delivered", "pending"]
    delivered_at = datetime.fromisoformat(deliveries[0]["delivered_at"])
    assert (delivered_at - times[0]).total_seconds() == 131
    assert "Drone D1 on scene." in deliveries[0]["detail"]
    # DFR's own note is told once, by its step and its CAD delivery, not a third time as a note.
    assert sum("Drone D1 on scene." in e["detail"] for e in entries) == 1
    assert steps.count("on_scene") == 1

    missing = client.get("/api/v1/calls/999999/timeline", headers=auth(Role.DISPATCHER))
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")
    assert (
        client.get(f"/api/v1/calls/{story.call_id}/timeline", headers=auth(Role.CAD)).status_code
        == 403
    )
