"""Snapshots: marking a moment of a flight's live video stores a hashed still and notes it to CAD.

The refusals run in-process (no stream is open, so nothing can be grabbed); the full path runs
against real `dfr serve` and `dfr-sim fleet --camera` processes with a sped-up flight on a call.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import re
import time
from pathlib import Path
from typing import Any

import av
import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from dfr.db import session_scope
from dfr.main import create_app
from dfr.models import AuditEntry, Call, Flight, Note, OutboxItem, Role
from dfr.service import Run
from dfr.settings import Settings
from tests.dfr.conftest import TokenFactory
from tests.dfr.video_stack import SAND_CREEK, VideoStack

JPEG_SOI, JPEG_EOI = b"\xff\xd8", b"\xff\xd9"


def _plain_call(incident: str, lat: float, lon: float) -> dict[str, Any]:
    # A call type the policy flies but never auto-launches: the test launches it itself.
    return {
        "cad_incident_id": incident,
        "agency": "cspd",
        "call_type": "SUSP",
        "call_type_text": "suspicious person",
        "priority": 2,
        "location": {"lat": lat, "lon": lon, "address": "test address"},
        "received_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "status": "Active",
        "notes": [],
        "flags": {"in_progress": False, "weapons": False, "outdoor": True},
    }


def _decoded_size(jpeg: bytes) -> tuple[int, int]:
    with av.open(io.BytesIO(jpeg), mode="r", format="mjpeg") as container:
        frame = next(container.decode(video=0))
        return int(frame.width), int(frame.height)


# --- refusals, in-process -------------------------------------------------------------------------


@pytest.fixture
def app(settings: Settings) -> FastAPI:
    """The app with flight recordings running, which snapshots are stored beside."""
    return create_app(settings, run=Run.RECORDINGS)


def _flight_on_a_call(app: FastAPI, client: TestClient, auth: TokenFactory) -> tuple[int, int]:
    lat, lon = SAND_CREEK
    posted = client.post(
        "/api/v1/cad/incidents", json=_plain_call("SNAP-1", lat, lon), headers=auth(Role.CAD)
    )
    assert posted.status_code == 202, posted.text
    call_id = int(posted.json()["id"])
    with session_scope(app.state.service.engine) as session:
        flight = Flight(drone_id="D1", call_id=call_id, state="en_route", target_lat=lat)
        session.add(flight)
        session.flush()
        assert flight.id is not None
        return call_id, flight.id


def _counts(app: FastAPI) -> tuple[int, int]:
    with Session(app.state.service.engine) as session:
        return len(session.exec(select(Note)).all()), len(session.exec(select(OutboxItem)).all())


def test_snapshot_refusals_change_nothing(
    app: FastAPI, client: TestClient, auth: TokenFactory
) -> None:
    call_id, flight_id = _flight_on_a_call(app, client, auth)
    analyst = auth(Role.ANALYST)
    before = _counts(app)
    url = f"/api/v1/flights/{flight_id}/snapshots"

    unknown = client.post("/api/v1/flights/99999/snapshots", json={"note": "x"}, headers=analyst)
    assert unknown.status_code == 404, unknown.text
    for bad in ({"note": ""}, {"note": "   "}, {"note": "x" * 2001}, {}, {"note": "x", "y": 1}):
        response = client.post(url, json=bad, headers=analyst)
        assert response.status_code == 422, (bad, response.text)
    # No viewer and no recorder has opened D1's stream: there is no current picture.
    not_live = client.post(url, json={"note": "suspect at the door"}, headers=analyst)
    assert not_live.status_code == 409, not_live.text
    assert "not being received" in not_live.json()["detail"]
    denied = client.post(url, json={"note": "x"}, headers=auth(Role.CAD))
    assert denied.status_code == 403

    assert _counts(app) == before
    assert not (app.state.service.video.recording_dir(flight_id) / "snapshots").exists()
    listing = client.get(url, headers=analyst)
    assert listing.status_code == 200 and listing.json() == {"data": [], "count": 0}
    assert client.get("/api/v1/flights/99999/snapshots", headers=analyst).status_code == 404
    for snapshot_id in ("20250101T000000000000Z", "..", "x"):
        image = client.get(f"{url}/{snapshot_id}.jpg", headers=analyst)
        assert image.status_code == 404, snapshot_id
    with Session(app.state.service.engine) as session:
        call = session.get(Call, call_id)
        assert call is not None


def test_a_snapshot_of_an_ended_flight_is_refused(
    app: FastAPI, client: TestClient, auth: TokenFactory
) -> None:
    _, flight_id = _flight_on_a_call(app, client, auth)
    with session_scope(app.state.service.engine) as session:
        flight = session.get(Flight, flight_id)
        assert flight is not None
        flight.state = "completed"
        session.add(flight)
    response = client.post(
        f"/api/v1/flights/{flight_id}/snapshots", json={"note": "late"}, headers=auth(Role.PILOT)
    )
    assert response.status_code == 409
    assert "has ended" in response.json()["detail"]


# --- the whole path, real processes ---------------------------------------------------------------


async def _wait_flight(client: httpx.AsyncClient, flight_id: int, states: set[str]) -> None:
    async with asyncio.timeout(300):
        while (await client.get(f"/api/v1/flights/{flight_id}")).json()["state"] not in states:  # noqa: ASYNC110 - the state is in the service
            await asyncio.sleep(0.25)


async def _snapshot_when_live(
    client: httpx.AsyncClient, flight_id: int, note: str
) -> httpx.Response:
    """POST a snapshot, retrying while the stream the recorder opens is not live yet (409)."""
    async with asyncio.timeout(90):
        while True:
            response = await client.post(
                f"/api/v1/flights/{flight_id}/snapshots", json={"note": note}
            )
            if response.status_code != 409:
                return response
            await asyncio.sleep(0.5)


@pytest.mark.integration
@pytest.mark.sim
@pytest.mark.timeout(600)
async def test_a_snapshot_in_flight_is_stored_hashed_and_noted_on_the_call_for_cad(
    tmp_path: Path,
) -> None:
    lat, lon = SAND_CREEK
    async with VideoStack(tmp_path, speedup=5.0, camera_fps=10) as stack:
        async with (
            stack.client("cad") as cad,
            stack.client("dispatcher") as dispatcher,
            stack.client("analyst") as analyst,
        ):
            posted = await cad.post(
                "/api/v1/cad/incidents", json=_plain_call("SNAP-E2E", lat + 0.003, lon)
            )
            assert posted.status_code == 202, posted.text
            call_id = int(posted.json()["id"])
            async with asyncio.timeout(60):
                while (  # noqa: ASYNC110 - the decision is in the service
                    await dispatcher.get(f"/api/v1/calls/{call_id}/decision")
                ).status_code != 200:
                    await asyncio.sleep(0.25)
            launched = await dispatcher.post(
                f"/api/v1/calls/{call_id}/launch", json={"drone_id": "D1"}
            )
            assert launched.status_code == 202, launched.text
            flight_id = int(launched.json()["flight_id"])
            await _wait_flight(dispatcher, flight_id, {"en_route", "on_scene"})

            note = "male in red jacket at the rear door"
            created = await _snapshot_when_live(analyst, flight_id, note)
            assert created.status_code == 201, created.text
            snap = created.json()
            assert snap["flight_id"] == flight_id and snap["drone_id"] == "D1"
            assert snap["call_id"] == call_id and snap["note"] == note
            assert re.fullmatch(r"[0-9a-f]{64}", snap["sha256"])
            assert snap["url"] == f"/api/v1/flights/{flight_id}/snapshots/{snap['id']}.jpg"
            assert (snap["width"], snap["height"]) == (320, 180)

            image = await analyst.get(snap["url"])
            assert image.status_code == 200
            assert image.headers["content-type"] == "image/jpeg"
            jpeg = image.content
            assert jpeg.startswith(JPEG_SOI) and jpeg.endswith(JPEG_EOI)
            assert hashlib.sha256(jpeg).hexdigest() == snap["sha256"]
            assert _decoded_size(jpeg) == (320, 180)

            listing = (await dispatcher.get(f"/api/v1/flights/{flight_id}/snapshots")).json()
            assert listing["count"] == 1 and listing["data"][0]["id"] == snap["id"]

            detail = (await dispatcher.get(f"/api/v1/calls/{call_id}")).json()
            texts = [n["text"] for n in detail["notes"]]
            expected = re.compile(
                r"Snapshot by video-analyst at \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ: "
                + re.escape(note)
                + rf" \(sha256 {snap['sha256']}\)"
            )
            assert any(expected.fullmatch(t) for t in texts), texts
            outbound = [o for o in detail["outbound"] if o["event_id"] == snap["event_id"]]
            assert len(outbound) == 1 and outbound[0]["kind"] == "note", detail["outbound"]

    stored = (
        stack.data_dir / "recordings" / f"flight-{flight_id}" / "snapshots" / f"{snap['id']}.jpg"
    )
    assert hashlib.sha256(stored.read_bytes()).hexdigest() == snap["sha256"]
    from sqlalchemy import create_engine

    engine = create_engine(f"sqlite:///{stack.data_dir / 'dfr.sqlite3'}")
    try:
        with Session(engine) as session:
            rows = session.exec(select(AuditEntry)).all()
    finally:
        engine.dispose()
    taken = [
        r
        for r in rows
        if r.method == "POST" and r.path.endswith("/snapshots") and r.status_code == 201
    ]
    assert len(taken) == 1 and snap["sha256"] in taken[0].detail
    assert taken[0].actor == "video-analyst"
    viewed = [r for r in rows if r.action == "video.snapshot.view"]
    assert len(viewed) == 1 and snap["sha256"] in viewed[0].detail
