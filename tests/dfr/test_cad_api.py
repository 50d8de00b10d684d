"""POST /cad/incidents (EIDO and plain), notes and cancel into the outbox, GET /calls/{id}."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from dfr.main import create_app
from dfr.models import Role
from dfr.service import Run
from dfr.settings import Settings
from tests.dfr.conftest import TokenFactory, one_agency_fleet

pytestmark = pytest.mark.databases

FIXTURES = Path(__file__).parents[1] / "cad_bridge" / "fixtures"
URL = "/api/v1/cad/incidents"


@pytest.fixture
def fleet_file(tmp_path: Path) -> Path:
    """Agency cspd alone: no drones, so no call is flown."""
    return one_agency_fleet(tmp_path)


def _plain() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / "plain" / "suspicious_person.json").read_text())
    return data


def _eido(name: str = "burglary_in_progress.json") -> bytes:
    return (FIXTURES / "eido" / name).read_bytes()


def _calls(client: TestClient, auth: TokenFactory) -> int:
    count: int = client.get("/api/v1/calls", headers=auth(Role.DISPATCHER)).json()["count"]
    return count


def test_plain_call_is_accepted_with_the_dfr_call_id(
    client: TestClient, auth: TokenFactory
) -> None:
    r = client.post(URL, json=_plain(), headers=auth(Role.CAD))
    assert r.status_code == 202, r.text
    body = r.json()
    assert body["created"] and body["cad_incident_id"] == "CS25-004411"
    call = client.get(f"/api/v1/calls/{body['id']}", headers=auth(Role.DISPATCHER)).json()
    assert call["agency_id"] == "cspd" and call["category"] == "suspicious"
    assert [n["text"] for n in call["notes"]] == [
        "Male in dark hoodie checking car doors",
        "RP on scene",
    ]


def test_eido_call_is_accepted_by_shape_and_by_media_type(
    client: TestClient, auth: TokenFactory
) -> None:
    r = client.post(
        URL, content=_eido(), headers={**auth(Role.CAD), "Content-Type": "application/json"}
    )
    assert r.status_code == 202, r.text
    r2 = client.post(
        URL,
        content=_eido("robbery_weapon_circle.json"),
        headers={
            **auth(Role.CAD),
            "Content-Type": 'application/emergency.eido+json; version="1.0"',
        },
    )
    assert r2.status_code == 202, r2.text
    call = client.get(f"/api/v1/calls/{r2.json()['id']}", headers=auth(Role.DISPATCHER)).json()
    assert call["raw_format"] == "eido" and call["priority"] == 1 and call["flags"]["weapons"]


def test_identical_repost_changes_nothing(client: TestClient, auth: TokenFactory) -> None:
    first = client.post(URL, json=_plain(), headers=auth(Role.CAD)).json()
    before = client.get(f"/api/v1/calls/{first['id']}", headers=auth(Role.DISPATCHER)).json()
    again = client.post(URL, json=_plain(), headers=auth(Role.CAD)).json()
    after = client.get(f"/api/v1/calls/{first['id']}", headers=auth(Role.DISPATCHER)).json()
    assert again == {**first, "created": False, "changed": False}
    assert before == after
    assert _calls(client, auth) == 1


def test_conflicting_repost_updates_in_place_and_adds_only_new_notes(
    client: TestClient, auth: TokenFactory
) -> None:
    first = client.post(URL, json=_plain(), headers=auth(Role.CAD)).json()
    changed = _plain()
    changed.update(priority=1, status="Cancelled")
    changed["location"].update(lat=38.85, lon=-104.75)
    changed["notes"].append("Subject gone on arrival")
    r = client.post(URL, json=changed, headers=auth(Role.CAD)).json()
    assert r["id"] == first["id"] and r["changed"] and not r["created"]
    call = client.get(f"/api/v1/calls/{first['id']}", headers=auth(Role.DISPATCHER)).json()
    assert (call["priority"], call["lat"], call["cad_status"]) == (1, 38.85, "Cancelled")
    assert call["lifecycle"] == "cancelled"
    assert len(call["notes"]) == 3
    assert _calls(client, auth) == 1


@pytest.mark.parametrize(
    ("body", "content_type", "status", "field"),
    [
        (b'{"cad_incident_id": ', "application/json", 422, "body"),
        (b'{"eidoVersion": "1.0"}', "application/json", 422, "body"),
        (json.dumps({**_plain(), "location": None}).encode(), "application/json", 422, "location"),
        (
            json.dumps({**_plain(), "location": {"lat": 95, "lon": 0}}).encode(),
            "application/json",
            422,
            "location.lat",
        ),
        (json.dumps({**_plain(), "agency": "nope"}).encode(), "application/json", 422, "agency"),
        (b"<xml/>", "application/xml", 415, "content-type"),
    ],
    ids=["malformed", "eido-schema", "no-location", "bad-lat", "unknown-agency", "media-type"],
)
def test_bad_input_is_a_problem_and_stores_nothing(
    client: TestClient, auth: TokenFactory, body: bytes, content_type: str, status: int, field: str
) -> None:
    r = client.post(URL, content=body, headers={**auth(Role.CAD), "Content-Type": content_type})
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    if status == 422:
        assert r.json()["errors"][0]["field"] == field
    assert _calls(client, auth) == 0


def test_oversized_payload_is_refused(tmp_path: Path, auth: TokenFactory) -> None:
    settings = Settings(mode="test", data_dir=tmp_path / "d2", cad={"max_payload_bytes": 2000})
    with TestClient(create_app(settings, run=Run.NONE)) as small:
        from dfr.auth import create_token
        from dfr.db import session_scope

        with session_scope(small.app.state.service.engine) as session:  # type: ignore[attr-defined]
            _, secret = create_token(session, "cad", Role.CAD)
        doc = {**_plain(), "notes": ["x" * 3000], "agency": "default"}
        r = small.post(URL, json=doc, headers={"Authorization": f"Bearer {secret}"})
        assert r.status_code == 413


def test_unknown_call_type_is_stored_as_unmapped(client: TestClient, auth: TokenFactory) -> None:
    r = client.post(URL, json={**_plain(), "call_type": "GOATLOOSE"}, headers=auth(Role.CAD))
    call = client.get(f"/api/v1/calls/{r.json()['id']}", headers=auth(Role.DISPATCHER)).json()
    assert call["category"] == "unmapped"


def test_wrong_token_and_wrong_role_are_refused(client: TestClient, auth: TokenFactory) -> None:
    assert (
        client.post(URL, json=_plain(), headers={"Authorization": "Bearer dfr_x"}).status_code
        == 401
    )
    assert client.post(URL, json=_plain(), headers=auth(Role.DISPATCHER)).status_code == 403
    assert _calls(client, auth) == 0


def test_notes_and_cancel_write_outbox_rows(client: TestClient, auth: TokenFactory) -> None:
    call_id = client.post(URL, json=_plain(), headers=auth(Role.CAD)).json()["id"]
    for role in (Role.DISPATCHER, Role.PILOT, Role.ANALYST):
        r = client.post(
            f"/api/v1/calls/{call_id}/notes", json={"text": f"from {role}"}, headers=auth(role)
        )
        assert r.status_code == 201, r.text
    r = client.post(
        f"/api/v1/calls/{call_id}/cancel",
        json={"reason": "no emergency found"},
        headers=auth(Role.DISPATCHER),
    )
    assert r.status_code == 202
    again = client.post(
        f"/api/v1/calls/{call_id}/cancel", json={"reason": "x"}, headers=auth(Role.DISPATCHER)
    )
    assert again.status_code == 409
    call = client.get(f"/api/v1/calls/{call_id}", headers=auth(Role.DISPATCHER)).json()
    assert [o["kind"] for o in call["outbound"]] == ["note", "note", "note", "cancel"]
    assert all(o["state"] == "pending" for o in call["outbound"])
    assert call["lifecycle"] == "cancelled"


def test_notes_on_an_unknown_call_are_404_and_write_nothing(
    client: TestClient, auth: TokenFactory
) -> None:
    r = client.post("/api/v1/calls/999/notes", json={"text": "x"}, headers=auth(Role.DISPATCHER))
    assert r.status_code == 404


def test_without_a_cad_outbound_rows_wait_visibly(settings: Settings) -> None:
    app: FastAPI = create_app(settings, run=Run.CAD)
    with TestClient(app) as client:
        from dfr.auth import create_token
        from dfr.db import session_scope

        with session_scope(app.state.service.engine) as session:
            _, cad = create_token(session, "cad", Role.CAD)
            _, desk = create_token(session, "desk", Role.DISPATCHER)
        call_id = client.post(
            URL, json=_plain(), headers={"Authorization": f"Bearer {cad}"}
        ).json()["id"]
        headers = {"Authorization": f"Bearer {desk}"}
        client.post(f"/api/v1/calls/{call_id}/notes", json={"text": "hello"}, headers=headers)
        deadline = time.monotonic() + 60
        state = ""
        while time.monotonic() < deadline:
            outbound = client.get(f"/api/v1/calls/{call_id}", headers=headers).json()["outbound"]
            state = outbound[0]["state"]
            if state == "waiting":
                break
            time.sleep(0.05)
        assert state == "waiting"
