"""Failed authentication is throttled per client address (429 + Retry-After) and audited as summaries."""

from __future__ import annotations

import logging

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import create_engine
from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from starlette.testclient import WebSocketDenialResponse

from dfr.auth_guard import AuthGuard
from dfr.log_redaction import TokenRedactingFilter, redact_tokens_in_server_logs
from dfr.models import AuditEntry, Role
from dfr.settings import Settings
from tests.dfr.conftest import TokenFactory


def _summaries(engine: Engine) -> list[AuditEntry]:
    with Session(engine) as session:
        query = select(AuditEntry).where(AuditEntry.action == "auth.failed")
        return list(session.exec(query).all())


def test_wrong_tokens_get_429_from_that_address_and_one_summary_row(
    app: FastAPI, auth: TokenFactory, client: TestClient, settings: Settings
) -> None:
    engine = app.state.service.engine
    for _ in range(30):  # no token at all guesses nothing: refused, summarised, never throttled
        assert client.post("/api/v1/docks", json={}).status_code == 401
    valid = auth(Role.ADMIN)
    for i in range(10):
        wrong = {"Authorization": f"Bearer dfr_guess{i}"}
        assert client.get("/api/v1/drones", headers=wrong).status_code == 401
    throttled = client.get("/api/v1/drones", headers=valid)  # even a valid one: no oracle
    assert throttled.status_code == 429
    assert throttled.headers["content-type"].startswith("application/problem+json")
    assert 1 <= int(throttled.headers["Retry-After"]) <= 60
    with pytest.raises(WebSocketDenialResponse) as denied:
        with client.websocket_connect("/api/v1/stream", subprotocols=["bearer", "x"]):
            pass
    assert denied.value.status_code == 429 and "Retry-After" in denied.value.headers
    assert client.get("/api/v1/health").status_code == 200  # nothing public is refused
    assert _summaries(engine) == []  # written once a minute (and at shutdown), not per request

    client.__exit__(None, None, None)
    rows = _summaries(engine)
    assert len(rows) == 1
    assert rows[0].client_address == "testclient" and rows[0].outcome == "denied"
    assert rows[0].detail.startswith("40 refused authentication(s) (10 with a token), 2 refused")


def test_the_throttle_lifts_when_old_failures_leave_the_window() -> None:
    now = [1000.0]
    # Counting touches no database (only the summaries do): an empty one is enough.
    guard = AuthGuard(
        create_engine("sqlite://"), max_failures=3, window_s=60.0, clock=lambda: now[0]
    )
    for _ in range(3):
        guard.failed("10.0.0.9", path="/api/v1/drones", presented=True)
    assert guard.retry_after_s("10.0.0.9") == 60
    assert guard.retry_after_s("10.0.0.10") is None  # another address is not affected
    now[0] += 59.5
    assert guard.retry_after_s("10.0.0.9") == 1
    now[0] += 1.0
    assert guard.retry_after_s("10.0.0.9") is None


def test_server_log_lines_never_carry_a_token() -> None:
    redact_tokens_in_server_logs()
    access = logging.getLogger("uvicorn.access")
    assert any(isinstance(f, TokenRedactingFilter) for f in access.filters)
    record = access.makeRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5", "GET", "/api/v1/stream?a=1&token=dfr_SeCrEt-123456789&b=2", "1.1", 401),
        None,
    )
    for f in access.filters:
        if isinstance(f, TokenRedactingFilter):
            f.filter(record)
    line = record.getMessage()
    assert "SeCrEt" not in line and "token=[redacted]&b=2" in line
