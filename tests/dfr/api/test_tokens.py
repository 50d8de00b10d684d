"""Tokens may expire (refused like revoked ones) and note their last use at most once a minute."""

from __future__ import annotations

import asyncio
import functools
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import select
from typer.testing import CliRunner

from dfr.cli import app as cli_app
from dfr.db import make_engine, session_scope
from dfr.models import ApiToken, Role, as_utc, utcnow
from dfr.token_sessions import TokenSessions
from dfr.tokens import Principal, PrincipalCache, create_token, hash_token, principal_for
from tests.dfr.conftest import TokenFactory


def test_tokens_expire_and_the_list_shows_expiry_and_last_use(
    client: TestClient, app: FastAPI, auth: TokenFactory
) -> None:
    admin = auth(Role.ADMIN)
    created = client.post(
        "/api/v1/tokens",
        json={"name": "cad-q1", "role": "cad", "expires_in_s": 3600},
        headers=admin,
    )
    assert created.status_code == 201, created.text
    expires_at = created.json()["expires_at"]
    assert expires_at is not None
    for body, field in [
        (
            {"name": "x", "role": "cad", "expires_in_s": 60, "expires_at": "2099-01-01T00:00:00Z"},
            "expires_at",
        ),
        ({"name": "x", "role": "cad", "expires_at": "2001-01-01T00:00:00Z"}, "expires_at"),
        ({"name": "x", "role": "cad", "expires_at": "2099-01-01T00:00:00"}, "expires_at"),
        ({"name": "x", "role": "cad", "expires_in_s": 5}, "expires_in_s"),
    ]:
        refused = client.post("/api/v1/tokens", json=body, headers=admin)
        assert refused.status_code == 422, body
        assert refused.json()["errors"][0]["field"].endswith(field)

    with session_scope(app.state.service.engine) as session:
        _, stale = create_token(
            session, "stale", Role.PILOT, expires_at=utcnow() - timedelta(seconds=1)
        )
    assert (
        client.get("/api/v1/drones", headers={"Authorization": f"Bearer {stale}"}).status_code
        == 401
    )

    listed = {t["name"]: t for t in client.get("/api/v1/tokens", headers=admin).json()["data"]}
    assert listed["cad-q1"]["expires_at"] == expires_at and listed["cad-q1"]["last_used_at"] is None
    assert listed["test-admin"]["last_used_at"] is not None
    assert listed["stale"]["last_used_at"] is None


def _fixed(at: datetime) -> datetime:
    return at


async def test_last_use_is_written_at_most_once_a_minute_and_expiry_ends_sessions(
    engine: Engine,
) -> None:
    with session_scope(engine) as session:
        row, secret = create_token(session, "console", Role.DISPATCHER)
        token_id = row.id
    start = utcnow()
    seen = []
    for offset_s in (0, 30, 59, 61, 90):
        at = start + timedelta(seconds=offset_s)
        assert principal_for(engine, secret, now=functools.partial(_fixed, at))
        with session_scope(engine) as session:
            stored = session.get(ApiToken, token_id)
            assert stored is not None and stored.last_used_at is not None
            seen.append(round((as_utc(stored.last_used_at) - start).total_seconds()))
    assert seen == [0, 0, 0, 61, 61]
    later = start + timedelta(days=1)
    with session_scope(engine) as session:
        stored = session.get(ApiToken, token_id)
        assert stored is not None
        stored.expires_at = later
    assert principal_for(engine, secret, now=functools.partial(_fixed, later)) is None

    # A session held under the token ends at the first check after its expiry.
    ended: list[str] = []

    async def end(reason: str) -> None:
        ended.append(reason)

    async with TokenSessions(engine, check_interval_s=3600, now=lambda: later) as sessions:
        assert token_id is not None
        sessions.open(token_id, "websocket", end)
        assert await sessions.check_once() == 1
        await asyncio.sleep(0)  # the ending runs as a task of the registry
        await asyncio.sleep(0)
    assert ended == ["the token expired"] and sessions.count() == 0


def test_the_cli_creates_an_expiring_token(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    argv = ["token", "create", "--role", "cad", "--name", "cad-q2", "--data-dir", str(data_dir)]
    result = CliRunner().invoke(cli_app, [*argv, "--expires-in-s", "3600"])
    assert result.exit_code == 0, result.output
    engine = make_engine(f"sqlite:///{data_dir / 'dfr.sqlite3'}")
    try:
        with session_scope(engine) as session:
            row = session.exec(select(ApiToken).where(ApiToken.name == "cad-q2")).one()
            assert row.expires_at is not None
            left_s = (as_utc(row.expires_at) - utcnow()).total_seconds()
        assert 3500 < left_s <= 3600
        assert principal_for(engine, result.stdout.strip()) is not None
    finally:
        engine.dispose()
    refused = CliRunner().invoke(cli_app, [*argv, "--expires-in-s", "5"])
    assert refused.exit_code == 2


def test_posts_in_flight_when_a_token_is_not_cached_share_one_lookup(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    with session_scope(engine) as session:
        _, secret = create_token(session, "cad-burst", Role.CAD)
    lookups: list[str] = []

    def counted(engine: Engine, token: str) -> Principal | None:
        lookups.append(token)
        return principal_for(engine, token)

    monkeypatch.setattr("dfr.tokens.principal_for", counted)
    cache = PrincipalCache(engine, ttl_s=60.0)
    digest = hash_token(secret)

    async def burst() -> list[Principal | None]:
        return await asyncio.gather(*(cache.principal(secret, digest) for _ in range(64)))

    found = asyncio.run(burst())
    assert {p.name if p else None for p in found} == {"cad-burst"}
    assert len(lookups) == 1
    asyncio.run(burst())
    assert len(lookups) == 1  # cached now
    cache.forget(digest)
    asyncio.run(burst())
    assert len(lookups) == 2
