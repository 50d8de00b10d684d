"""The public transparency portal: only reviewed flights, without a token, in coarse form only."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from dfr.db import session_scope
from dfr.models import Call, CallLifecycle, Flight, FlightEvent, Role, TrackPoint
from tests.dfr.conftest import TokenFactory

pytestmark = pytest.mark.databases

RECEIVED = datetime(2026, 11, 21, 18, 0, tzinfo=UTC)
SCENE = (38.8450, -104.7600)  # about 1.6 km from the Sand Creek dock
DOCK = (38.8339, -104.7470)
#: Keys that would identify a person, an address or an exact position.
FORBIDDEN_KEYS = {
    "address",
    "lat",
    "lon",
    "target_lat",
    "target_lon",
    "cad_incident_id",
    "call_id",
    "created_by",
    "reviewed_by",
    "actor",
    "name",
    "notes",
    "call_type_text",
    "drone_id",
}


def _flight(app: FastAPI, incident: str, *, state: str = "completed") -> int:
    with session_scope(app.state.service.engine) as session:
        call = Call(
            agency_id="cspd",
            cad_incident_id=incident,
            call_type="SUSP",
            call_type_text="Suspicious person at 3150 N Powers Blvd",
            category="suspicious",
            priority=2,
            lat=SCENE[0],
            lon=SCENE[1],
            address="3150 N Powers Blvd",
            received_at=RECEIVED,
            lifecycle=CallLifecycle.CLEARED,
            flags={"officer_on_scene_at": "2026-11-21T18:09:00Z", "officer_dispatched": True},
        )
        session.add(call)
        session.flush()
        flight = Flight(
            drone_id="D1",
            call_id=call.id,
            state=state,
            target_lat=SCENE[0],
            target_lon=SCENE[1],
            created_by="dispatcher-jones",
            started_at=RECEIVED + timedelta(seconds=30),
            ended_at=None if state != "completed" else RECEIVED + timedelta(minutes=20),
        )
        session.add(flight)
        session.flush()
        assert flight.id is not None
        session.add(
            FlightEvent(
                flight_id=flight.id,
                at=RECEIVED + timedelta(minutes=3, seconds=10),
                from_state="en_route",
                to_state="on_scene",
            )
        )
        for i in range(11):  # dock to scene in a straight line
            f = i / 10
            session.add(
                TrackPoint(
                    flight_id=flight.id,
                    at=RECEIVED + timedelta(seconds=40 + 10 * i),
                    lat=DOCK[0] + f * (SCENE[0] - DOCK[0]),
                    lon=DOCK[1] + f * (SCENE[1] - DOCK[1]),
                    alt_amsl_m=1900.0,
                )
            )
        return flight.id


def _keys(value: Any) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in _keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in _keys(v)}
    return set()


def test_the_portal_lists_a_reviewed_flight_and_not_an_unreviewed_one_without_a_token(
    app: FastAPI, client: TestClient, auth: TokenFactory
) -> None:
    reviewed = _flight(app, "CSPD-R")
    unreviewed = _flight(app, "CSPD-U")
    flying = _flight(app, "CSPD-F", state="en_route")
    url = f"/api/v1/flights/{reviewed}/review"
    assert client.post(url, json={}, headers=auth(Role.DISPATCHER)).status_code == 403
    too_soon = client.post(f"/api/v1/flights/{flying}/review", headers=auth(Role.SUPERVISOR))
    assert too_soon.status_code == 409
    pending = client.get("/api/v1/reviews/pending", headers=auth(Role.SUPERVISOR)).json()
    assert [f["flight_id"] for f in pending["data"]] == [unreviewed, reviewed]  # ended ones only
    answer = client.post(
        url, json={"purpose": "Suspicious person call"}, headers=auth(Role.SUPERVISOR)
    )
    assert answer.status_code == 200, answer.text
    pending = client.get("/api/v1/reviews/pending", headers=auth(Role.SUPERVISOR)).json()
    assert [f["flight_id"] for f in pending["data"]] == [unreviewed]

    body = client.get("/transparency/flights.json").json()
    assert [f["id"] for f in body["flights"]] == [reviewed]
    row = body["flights"][0]
    assert row["call_category"] == "suspicious" and row["purpose"] == "Suspicious person call"
    assert row["duration_s"] == 19 * 60 + 30 and row["response_time_s"] == 190
    assert row["video_recorded"] is False and row["outcome"] == "Call cleared"
    assert row["date"] == "2026-11-21" and row["time"] == "11:00"  # the agency's time zone
    assert not _keys(body) & FORBIDDEN_KEYS, _keys(body) & FORBIDDEN_KEYS
    text = str(body)
    assert "Powers" not in text and "jones" not in text and str(SCENE[0]) not in text
    path = row["path"]["coordinates"]
    assert path, "the part away from the dock is shown"
    for _lon, lat in path:
        # Trimmed near the dock, and snapped to the grid (no point is a raw track point).
        assert abs(lat - DOCK[0]) * 111_320 > 200
        assert round(lat / (100 / 111_320)) * (100 / 111_320) == pytest.approx(lat, abs=1e-5)
    figures = body["figures"]
    assert figures["flights"] == 1 and figures["drone_first_on_scene"] == {
        "known": 1,
        "drone_first": 1,
    }
    assert figures["cleared_without_officer"]["cleared_without_officer"] == 0

    table = list(csv.DictReader(io.StringIO(client.get("/transparency/flights.csv").text)))
    assert [r["id"] for r in table] == [str(reviewed)] and table[0]["video_recorded"] == "no"
    page = client.get("/transparency")
    assert page.status_code == 200 and f'data-flight="{reviewed}"' in page.text
    assert f'data-flight="{unreviewed}"' not in page.text
    assert "<script" not in page.text and "style=" not in page.text and "<svg" in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
