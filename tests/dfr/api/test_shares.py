"""View-only call links: created by staff, opened by a phone (PIN, viewer limit), revoked, audited."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from dfr.db import session_scope
from dfr.models import AuditEntry, Call, CallShareLink, Role, utcnow
from dfr.share_links import MAX_PIN_FAILURES, ShareSessions
from tests.dfr.call_story import store_call_story
from tests.dfr.conftest import TokenFactory

pytestmark = pytest.mark.databases


def _bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def _call(app: FastAPI) -> int:
    service = app.state.service
    return store_call_story(service.engine, service.default_agency_id, cancelled=False).call_id


def _share(
    client: TestClient, auth: TokenFactory, call_id: int, **body: object
) -> dict[str, object]:
    response = client.post(
        f"/api/v1/calls/{call_id}/share", json=body, headers=auth(Role.DISPATCHER)
    )
    assert response.status_code == 201, response.text
    created: dict[str, object] = response.json()
    return created


def _audit(engine: Engine, action: str) -> list[AuditEntry]:
    with Session(engine) as session:
        return list(session.exec(select(AuditEntry).where(AuditEntry.action == action)).all())


def test_an_officer_opens_a_link_with_its_pin_sees_only_that_call_and_a_full_link_refuses_more(
    app: FastAPI, client: TestClient, auth: TokenFactory
) -> None:
    call_id = _call(app)
    created = _share(client, auth, call_id, pin="4821", max_viewers=2, label="Unit 12")
    token = str(created["token"])
    assert token.startswith("dfr_share_") and created["path"] == f"/share/{token}"
    assert created["pin_required"] is True and created["state"] == "active"
    with Session(app.state.service.engine) as session:
        row = session.exec(select(CallShareLink)).one()
        # Only hashes are kept: neither the token nor the PIN appears in the row.
        stored = row.model_dump()
        assert token not in str(stored) and row.pin_hash.startswith("scrypt$")
        # In no field but the hashes, whose hex digits may spell "4821" by chance.
        assert "4821" not in str({k: v for k, v in stored.items() if not k.endswith("_hash")})

    assert client.get("/api/v1/share/link", headers=_bearer(token)).json()["pin_required"] is True
    missing = client.post("/api/v1/share/open", json={}, headers=_bearer(token))
    assert missing.status_code == 401 and missing.json()["detail"] == "a PIN is required"
    wrong = client.post("/api/v1/share/open", json={"pin": "0000"}, headers=_bearer(token))
    assert wrong.status_code == 401 and wrong.json()["detail"] == "wrong PIN"
    opened = client.post("/api/v1/share/open", json={"pin": "4821"}, headers=_bearer(token))
    assert opened.status_code == 200, opened.text
    key = opened.json()["viewer_key"]
    assert key.startswith("dfr_view_") and opened.json()["call_id"] == call_id

    view = client.get("/api/v1/share/view", headers=_bearer(key)).json()
    assert view["scene"] == {
        "call_id": call_id,
        "title": "Burglary in progress",
        "priority": 1,
        "address": "1200 N Academy Blvd",
        "lat": 38.842,
        "lon": -104.76,
        "lifecycle": "on_scene",
        "received_at": view["scene"]["received_at"],
    }
    assert view["drone"]["drone_id"] == "D1" and view["drone"]["flight_state"] == "on_scene"
    # Nothing else: the viewer key opens no other route, the link token no view.
    assert client.get("/api/v1/calls", headers=_bearer(key)).status_code == 401
    assert client.get(f"/api/v1/calls/{call_id}", headers=_bearer(key)).status_code == 401
    assert client.get("/api/v1/share/view", headers=_bearer(token)).status_code == 401
    # A service token does not open the viewer routes.
    assert client.get("/api/v1/share/view", headers=auth(Role.DISPATCHER)).status_code == 403

    listed = client.get(f"/api/v1/calls/{call_id}/shares", headers=auth(Role.ANALYST)).json()
    assert listed["count"] == 1
    assert (listed["data"][0]["opens"], listed["data"][0]["viewers_now"]) == (1, 1)
    # Two phones at once at most: a second opens, a third is refused.
    assert (
        client.post("/api/v1/share/open", json={"pin": "4821"}, headers=_bearer(token)).status_code
        == 200
    )
    full = client.post("/api/v1/share/open", json={"pin": "4821"}, headers=_bearer(token))
    assert full.status_code == 409 and "admits 2 viewers" in full.json()["detail"]
    engine = app.state.service.engine
    assert len(_audit(engine, "share.open")) == 2
    assert len(_audit(engine, "share.open.wrong_pin")) == 2
    assert _audit(engine, "create_share")[0].actor == "test-dispatcher"


def test_a_revoked_or_expired_link_refuses_its_viewers_at_once(
    app: FastAPI, client: TestClient, auth: TokenFactory
) -> None:
    call_id = _call(app)
    created = _share(client, auth, call_id)
    token = str(created["token"])
    key = client.post("/api/v1/share/open", json={}, headers=_bearer(token)).json()["viewer_key"]
    assert client.get("/api/v1/share/view", headers=_bearer(key)).status_code == 200

    revoked = client.delete(
        f"/api/v1/calls/{call_id}/shares/{created['id']}", headers=auth(Role.ANALYST)
    )
    assert revoked.status_code == 200
    assert revoked.json()["state"] == "revoked" and revoked.json()["revoked_by"] == "test-analyst"
    for method, path, bearer in (
        ("GET", "/api/v1/share/view", key),
        ("GET", "/api/v1/share/link", token),
        ("POST", "/api/v1/share/open", token),
    ):
        response = client.request(method, path, headers=_bearer(bearer), json={})
        assert response.status_code == 410, (path, response.text)
        assert response.json()["detail"] == "this link was revoked"
    listed = client.get(f"/api/v1/calls/{call_id}/shares", headers=auth(Role.DISPATCHER)).json()
    assert listed["data"][0]["viewers_now"] == 0

    # An expired link refuses its viewers and new phones alike.
    expiring = _share(client, auth, call_id, expires_in_s=60)
    token = str(expiring["token"])
    key = client.post("/api/v1/share/open", json={}, headers=_bearer(token)).json()["viewer_key"]
    with session_scope(app.state.service.engine) as session:
        link = session.get(CallShareLink, expiring["id"])
        assert link is not None
        link.expires_at = utcnow() - timedelta(seconds=1)
        session.add(link)
    for path, bearer in (("/api/v1/share/view", key), ("/api/v1/share/link", token)):
        response = client.get(path, headers=_bearer(bearer))
        assert response.status_code == 410 and response.json()["detail"] == "this link expired"
    listed = client.get(f"/api/v1/calls/{call_id}/shares", headers=auth(Role.DISPATCHER)).json()
    assert [link["state"] for link in listed["data"]] == ["expired", "revoked"]


def test_wrong_pins_lock_the_link_and_bad_requests_change_nothing(
    app: FastAPI, client: TestClient, auth: TokenFactory
) -> None:
    call_id = _call(app)
    token = str(_share(client, auth, call_id, pin="123456")["token"])
    for _ in range(MAX_PIN_FAILURES):
        response = client.post("/api/v1/share/open", json={"pin": "999999"}, headers=_bearer(token))
        assert response.status_code == 401
    locked = client.post("/api/v1/share/open", json={"pin": "123456"}, headers=_bearer(token))
    assert locked.status_code == 401
    assert locked.json()["detail"].startswith("too many wrong PINs; this link is locked for")

    # Bad requests are refused and change nothing.
    staff = auth(Role.DISPATCHER)
    for body in ({"pin": "12ab"}, {"expires_in_s": 10}, {"max_viewers": 0}, {"color": "red"}):
        response = client.post(f"/api/v1/calls/{call_id}/share", json=body, headers=staff)
        assert response.status_code == 422, body
        assert response.headers["content-type"].startswith("application/problem+json")
    assert client.post("/api/v1/calls/999999/share", json={}, headers=staff).status_code == 404
    assert (
        client.post(f"/api/v1/calls/{call_id}/share", json={}, headers=auth(Role.PILOT)).status_code
        == 403
    )
    assert client.delete(f"/api/v1/calls/{call_id}/shares/12345", headers=staff).status_code == 404
    listed = client.get(f"/api/v1/calls/{call_id}/shares", headers=auth(Role.DISPATCHER)).json()
    assert listed["count"] == 1  # the locked link alone


async def test_open_sessions_end_when_their_link_is_revoked_or_expires(engine: Engine) -> None:
    now = utcnow()
    with session_scope(engine) as session:
        call = Call(
            agency_id="cspd",
            cad_incident_id="CSPD-26-1",
            call_type="BURG",
            priority=1,
            lat=38.84,
            lon=-104.76,
            received_at=now,
        )
        session.add(call)
        session.flush()
        assert call.id is not None
        links = [
            CallShareLink(
                call_id=call.id, token_hash=f"{i:064d}", expires_at=now + timedelta(hours=1)
            )
            for i in range(3)
        ]
        session.add_all(links)
        session.flush()
        ids = [link.id for link in links]
    ended: list[tuple[int, str]] = []

    def ender(link_id: int):  # type: ignore[no-untyped-def]
        async def end(reason: str) -> None:
            ended.append((link_id, reason))

        return end

    async with ShareSessions(engine, check_interval_s=3600) as sessions:
        for link_id in ids:
            assert link_id is not None
            sessions.open(link_id, "whep", ender(link_id))
        # Revoked on this instance: ended at once.
        sessions.end_link(ids[0], "the link was revoked by Kim")  # type: ignore[arg-type]
        await asyncio.sleep(0.05)
        assert ended == [(ids[0], "the link was revoked by Kim")]
        # Revoked elsewhere and expired: found by the next check.
        with session_scope(engine) as session:
            session.exec(
                select(CallShareLink).where(col(CallShareLink.id) == ids[1])
            ).one().revoked_at = now
            session.exec(
                select(CallShareLink).where(col(CallShareLink.id) == ids[2])
            ).one().expires_at = now
        assert await sessions.check_once() == 2
        await asyncio.sleep(0.05)
        assert sorted(e[0] for e in ended) == sorted(ids)  # type: ignore[type-var]
        assert sessions.count() == 0
        # A session its viewer ended is forgotten: the link's end has nothing left to cut.
        sessions.open(ids[0], "whep", ender(ids[0]), key="s-1")  # type: ignore[arg-type]
        sessions.close_key("s-1")
        assert sessions.count() == 0
