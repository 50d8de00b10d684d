"""A WHEP session is ended only by its viewer or an admin (named in the audit), and by its token's end."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from aiortc import RTCPeerConnection
from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from dfr.db import session_scope
from dfr.errors import ForbiddenError
from dfr.models import ApiToken, AuditEntry, Role, utcnow
from dfr.token_sessions import TokenSessions
from dfr.tokens import create_token
from dfr.video_service import VideoService
from tests.conftest import free_udp_ports


async def _offer(pc: RTCPeerConnection) -> str:
    pc.addTransceiver("video", direction="recvonly")
    await pc.setLocalDescription(await pc.createOffer())
    return str(pc.localDescription.sdp)


def _ends(engine: Engine) -> list[AuditEntry]:
    with Session(engine) as session:
        query = select(AuditEntry).where(AuditEntry.action == "video.watch.end")
        return list(session.exec(query).all())


async def _wait_for_ends(engine: Engine, count: int) -> list[AuditEntry]:
    async with asyncio.timeout(10):
        while len(rows := await asyncio.to_thread(_ends, engine)) < count:  # noqa: ASYNC110 - rows come from worker threads
            await asyncio.sleep(0.02)
    return rows


@pytest.mark.integration
async def test_whep_sessions_end_by_their_viewer_an_admin_or_their_token(
    engine: Engine, tmp_path: Path
) -> None:
    with session_scope(engine) as session:
        analyst, _ = create_token(session, "ana", Role.ANALYST)
        analyst_id = analyst.id
    assert analyst_id is not None
    video_url = f"udp://127.0.0.1:{free_udp_ports(1)[0]}"
    viewers = [RTCPeerConnection() for _ in range(2)]
    async with TokenSessions(engine, check_interval_s=3600) as sessions:
        video = VideoService(engine, tmp_path, sessions=sessions)
        try:
            first = await video.watch(
                "D1", video_url, await _offer(viewers[0]), "ana", "analyst", analyst_id, "10.0.0.1"
            )
            second = await video.watch(
                "D1", video_url, await _offer(viewers[1]), "ana", "analyst", analyst_id, "10.0.0.1"
            )
            assert sessions.count(analyst_id) == 2

            with pytest.raises(ForbiddenError, match="viewer or an admin"):
                await video.end_watch("D1", first.session_id, "pete", Role.PILOT.value)
            await video.end_watch("D1", first.session_id, "root", Role.ADMIN.value, "10.0.0.2")
            (ended,) = await _wait_for_ends(engine, 1)
            assert (ended.actor, ended.role, ended.client_address) == ("root", "admin", "10.0.0.2")
            assert "of viewer ana" in ended.detail and "ended by root (admin)" in ended.detail
            assert sessions.count(analyst_id) == 1

            # Revoked elsewhere: the next check of open sessions' tokens ends the other one.
            with engine.begin() as conn:
                conn.execute(
                    update(ApiToken).where(ApiToken.id == analyst_id).values(revoked_at=utcnow())  # type: ignore[arg-type]
                )
            assert await sessions.check_once() == 1
            rows = await _wait_for_ends(engine, 2)
            (by_token,) = [r for r in rows if second.session_id in r.detail]
            assert "the token was revoked" in by_token.detail
            assert (by_token.actor, by_token.client_address) == ("ana", "10.0.0.1")
            assert video.sessions.sessions() == [] and sessions.count() == 0
        finally:
            await video.aclose()
            for pc in viewers:
                await pc.close()
