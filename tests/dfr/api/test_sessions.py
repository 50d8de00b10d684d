"""Open sessions follow their token: revocation (here or on another instance) closes its stream."""

from __future__ import annotations

import time
from collections.abc import MutableMapping
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlmodel import Session, select
from starlette.testclient import WebSocketTestSession
from starlette.websockets import WebSocketDisconnect

from dfr.auth import WS_UNAUTHENTICATED
from dfr.db import session_scope
from dfr.models import ApiToken, AuditEntry, Role, utcnow
from dfr.tokens import create_token
from tests.dfr.conftest import TokenFactory

STREAM = "/api/v1/stream"


def _closed(ws: WebSocketTestSession) -> tuple[MutableMapping[str, Any], float]:
    """The close message the server sends next (frames before it are skipped), and when."""
    while True:
        message = ws.receive()
        if message["type"] == "websocket.close":
            return message, time.monotonic()


def _token(app: FastAPI, name: str) -> tuple[int, str]:
    with session_scope(app.state.service.engine) as session:
        row, secret = create_token(session, name, Role.DISPATCHER)
        assert row.id is not None
        return row.id, secret


def test_a_revoked_token_loses_its_streams_within_a_second_and_urls_carry_no_token(
    client: TestClient, app: FastAPI, auth: TokenFactory
) -> None:
    engine = app.state.service.engine
    here_id, here = _token(app, "console-here")
    elsewhere_id, elsewhere = _token(app, "console-elsewhere")

    try:
        with client.websocket_connect(f"{STREAM}?token={here}") as ws:
            ws.receive_text()
    except WebSocketDisconnect as exc:
        assert exc.code == WS_UNAUTHENTICATED and "URL" in exc.reason
    else:
        raise AssertionError("a token in the URL was accepted")

    with (
        client.websocket_connect(STREAM, subprotocols=["bearer", here]) as first,
        client.websocket_connect(STREAM, headers={"Authorization": f"Bearer {elsewhere}"}) as other,
    ):
        assert first.receive_json()[0]["type"] == "snapshot"
        assert other.receive_json()[0]["type"] == "snapshot"
        assert app.state.service.sessions.count() == 2

        # Revoked through this instance's API: the stream ends at once.
        revoked_at = time.monotonic()
        answer = client.delete(f"/api/v1/tokens/{here_id}", headers=auth(Role.ADMIN))
        assert answer.status_code == 200
        message, closed_at = _closed(first)
        assert (
            message["code"] == WS_UNAUTHENTICATED and message["reason"] == "the token was revoked"
        )
        assert closed_at - revoked_at < 1.0

        # Revoked by another instance (only the shared database knows): the periodic check ends it.
        with engine.begin() as conn:
            conn.execute(
                update(ApiToken).where(ApiToken.id == elsewhere_id).values(revoked_at=utcnow())  # type: ignore[arg-type]
            )
        revoked_at = time.monotonic()
        message, closed_at = _closed(other)
        assert (
            message["code"] == WS_UNAUTHENTICATED and message["reason"] == "the token was revoked"
        )
        # The check runs every 0.5 s; a loaded machine may add a little to the query.
        assert closed_at - revoked_at < 2.0

    with Session(engine) as session:
        rows = session.exec(select(AuditEntry).where(AuditEntry.action == "ws.connect")).all()
    assert sorted(r.actor for r in rows) == ["console-elsewhere", "console-here"]
    assert all(r.client_address == "testclient" and r.path == STREAM for r in rows)
