"""The service's video side: one ingest per drone (from its video_url), WHEP viewers, flight recordings.

Ingests open lazily when the first viewer or recorder asks for a drone's stream. Recordings live in
`<data_dir>/recordings/flight-<id>/`. Who watched (session start and end) and who exported is
written to the audit log; each closed segment's chain head is too, so a rewritten manifest shows.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from sqlalchemy.engine import Engine

from dfr.audit import record_audit
from dfr.errors import NotFoundError
from telemetry.video import (
    RtpIngest,
    WhepAnswer,
    WhepSessionInfo,
    WhepSessions,
    check_offer,
    parse_stream_uri,
)
from telemetry.video.manifest import Manifest
from telemetry.video.recorder import StreamRecorder

log = logging.getLogger(__name__)


class VideoService:
    """Owns ingests, WHEP sessions and recorders; built and closed by `video_component`."""

    def __init__(self, engine: Engine, data_dir: Path) -> None:
        self._engine = engine
        self.recordings_root = data_dir / "recordings"
        self._stack = AsyncExitStack()
        self._ingests: dict[str, RtpIngest] = {}
        self._recorders: dict[int, tuple[StreamRecorder, asyncio.Task[None]]] = {}
        self._lock = asyncio.Lock()
        self.sessions = WhepSessions(on_end=self._on_session_end)

    def audit(self, actor: str, role: str, action: str, path: str, detail: str = "") -> None:
        """Append an audit row (blocking)."""
        record_audit(
            self._engine,
            actor=actor,
            role=role,
            method="VIDEO",
            path=path,
            status_code=200,
            action=action,
            detail=detail,
        )

    def _on_session_end(self, info: WhepSessionInfo, reason: str) -> None:
        actor, _, role = info.viewer.partition("|")
        # Called from the event loop: the audit write runs on a worker thread.
        task = asyncio.get_running_loop().run_in_executor(
            None,
            self.audit,
            actor,
            role,
            "video.watch.end",
            f"/drones/{info.stream_key}/video",
            f"session {info.session_id}: {reason}; {info.frames_forwarded} frames",
        )
        task.add_done_callback(lambda _: None)

    async def ingest_for(self, drone_id: str, video_url: str | None) -> RtpIngest:
        """The drone's running ingest, opened from `video_url` on first use."""
        async with self._lock:
            ingest = self._ingests.get(drone_id)
            if ingest is None:
                if not video_url:
                    raise NotFoundError("video stream of drone", drone_id)
                ingest = await self._stack.enter_async_context(
                    RtpIngest(drone_id, parse_stream_uri(video_url))
                )
                self._ingests[drone_id] = ingest
            return ingest

    async def watch(
        self, drone_id: str, video_url: str | None, offer_sdp: str, actor: str, role: str
    ) -> WhepAnswer:
        """Answer a WHEP offer for a drone's stream and audit the viewer."""
        check_offer(offer_sdp)  # bad input is refused before any stream is opened
        ingest = await self.ingest_for(drone_id, video_url)
        answer = await self.sessions.answer(ingest, offer_sdp, viewer=f"{actor}|{role}")
        await asyncio.to_thread(
            self.audit,
            actor,
            role,
            "video.watch.start",
            f"/drones/{drone_id}/video",
            f"session {answer.session_id}",
        )
        return answer

    def recording_dir(self, flight_id: int) -> Path:
        """Where a flight's recording is (or would be)."""
        return self.recordings_root / f"flight-{flight_id}"

    async def start_recording(
        self, flight_id: int, drone_id: str, video_url: str | None, segment_s: float = 10.0
    ) -> StreamRecorder:
        """Record the drone's stream for `flight_id` until `stop_recording`."""
        if flight_id in self._recorders:
            return self._recorders[flight_id][0]
        ingest = await self.ingest_for(drone_id, video_url)

        def on_segment(manifest: Manifest) -> None:
            self.audit(
                "recorder",
                "system",
                "video.segment",
                f"/flights/{flight_id}/recordings",
                f"segments={len(manifest.segments)} head={manifest.head}",
            )

        recorder = StreamRecorder(
            ingest,
            self.recording_dir(flight_id),
            flight_id=str(flight_id),
            segment_s=segment_s,
            on_segment=on_segment,
        )
        task = asyncio.create_task(recorder.run(), name=f"record-flight-{flight_id}")
        self._recorders[flight_id] = (recorder, task)
        return recorder

    async def stop_recording(self, flight_id: int) -> None:
        """Stop and finalise a flight's recording (no-op when not recording)."""
        entry = self._recorders.pop(flight_id, None)
        if entry is not None:
            entry[1].cancel()
            await asyncio.gather(entry[1], return_exceptions=True)

    async def aclose(self) -> None:
        """Stop recorders, end sessions, close ingests."""
        for flight_id in list(self._recorders):
            await self.stop_recording(flight_id)
        await self.sessions.aclose()
        await self._stack.aclose()


@asynccontextmanager
async def video_component(app: FastAPI) -> AsyncIterator[None]:
    """Lifespan component: `app.state.video` for the routes."""
    service = VideoService(app.state.engine, app.state.settings.data_dir)
    app.state.video = service
    try:
        yield
    finally:
        await service.aclose()
