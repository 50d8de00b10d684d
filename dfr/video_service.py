"""The service's video side: one ingest per drone (from its video_url), WHEP viewers, flight recordings.

Ingests open lazily when the first viewer or recorder asks for a drone's stream. Recordings live in
`<data_dir>/recordings/flight-<id>/`; `FlightRecordingHook` (a flight transition sink) starts one when a flight goes en route
and stops it when the flight lands or ends; after a restart it continues the recording (same hash
chain) of every flight still in the air. Who watched (session start and end) and who exported is
written to the audit log; each closed segment's chain head is too, so a rewritten manifest shows.

A viewer session is held under the viewer's token (TokenSessions): revoking the token ends it. Only
its viewer or an admin may end a session, and the audit row names whoever ended it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from datetime import datetime
from pathlib import Path
from typing import Protocol

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from dfr.audit import record_audit
from dfr.errors import DfrError, ForbiddenError, NotFoundError
from dfr.models import Drone, Flight, Role, utcnow
from dfr.token_sessions import OpenSession, TokenSessions
from flight import FlightPhase, FlightTransition
from telemetry.video import (
    RtpIngest,
    SessionUnknownError,
    VideoError,
    WhepAnswer,
    WhepSessionInfo,
    WhepSessions,
    check_offer,
    parse_stream_uri,
)
from telemetry.video.manifest import Manifest
from telemetry.video.recorder import RecordingStatus, StreamRecorder

log = logging.getLogger(__name__)

#: A flight is recorded from the transition into one of these phases ...
RECORD_FROM = frozenset({FlightPhase.EN_ROUTE})
#: ... until the transition into one of these (failsafe and link loss keep recording: evidence).
RECORD_UNTIL = frozenset({FlightPhase.LANDED, FlightPhase.COMPLETED, FlightPhase.ABORTED})
#: Under privacy in transit a flight is recorded only from its arrival on scene ...
RECORD_FROM_PRIVATE = frozenset({FlightPhase.ON_SCENE})
#: ... and the recording pauses (to continue its chain on a later arrival) when it heads home.
PAUSE_PRIVATE = frozenset({FlightPhase.RETURNING})
#: A flight stored in one of these phases was being recorded when the service stopped.
RECORDING_PHASES = frozenset(
    {
        FlightPhase.EN_ROUTE,
        FlightPhase.ON_SCENE,
        FlightPhase.RETURNING,
        FlightPhase.FAILSAFE,
        FlightPhase.LINK_LOST,
    }
)


class RemoteVideo(Protocol):
    """WHEP viewers of a drone whose video another instance receives (the one holding its link)."""

    async def watch(
        self,
        drone_id: str,
        video_url: str | None,
        offer_sdp: str,
        actor: str,
        role: str,
        token_id: int | None = None,
        client_address: str = "",
    ) -> WhepAnswer:
        """Answer the offer on the drone's holder."""
        ...

    async def end_watch(
        self, drone_id: str, session_id: str, actor: str, role: str, client_address: str = ""
    ) -> None:
        """End a viewer session on the drone's holder (as `actor`, checked there)."""
        ...


def _viewer(actor: str, role: str, token_id: int | None) -> str:
    return f"{actor}|{role}|{'' if token_id is None else token_id}"


def _viewer_parts(viewer: str) -> tuple[str, str]:
    actor, _, rest = viewer.partition("|")
    role, _, _token = rest.partition("|")
    return actor, role


class VideoService:
    """Owns ingests, WHEP sessions and recorders.

    With several instances a drone's video is received by the instance holding its link (the
    drone sends its stream to one address); a viewer on another instance is answered by it.
    """

    def __init__(
        self,
        engine: Engine,
        data_dir: Path,
        *,
        now: Callable[[], datetime] = utcnow,
        snapshot_workers: int = 2,
        remote: RemoteVideo | None = None,
        linked_here: Callable[[str], bool] = lambda _drone_id: True,
        sessions: TokenSessions | None = None,
    ) -> None:
        self._engine = engine
        self._token_sessions = sessions
        #: Each viewer session's hold on its token, and who ended a session (for its audit row).
        self._held: dict[str, OpenSession] = {}
        self._ended_by: dict[str, tuple[str, str, str]] = {}
        #: Each viewer session's client address (for the row of its end).
        self._addresses: dict[str, str] = {}
        self._remote = remote
        self._linked_here = linked_here
        self.recordings_root = data_dir / "recordings"
        self.now = now
        #: Snapshots decode a GOP on a worker thread: a burst of them must not take every core.
        self.snapshot_slots = asyncio.Semaphore(snapshot_workers)
        self._stack = AsyncExitStack()
        self._ingests: dict[str, RtpIngest] = {}
        self._recorders: dict[int, tuple[StreamRecorder, asyncio.Task[None]]] = {}
        self._lock = asyncio.Lock()
        self.sessions = WhepSessions(on_end=self._on_session_end)

    def audit(
        self,
        actor: str,
        role: str,
        action: str,
        path: str,
        detail: str = "",
        client_address: str = "",
    ) -> None:
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
            client_address=client_address,
        )

    def _on_session_end(self, info: WhepSessionInfo, reason: str) -> None:
        held = self._held.pop(info.session_id, None)
        if held is not None and self._token_sessions is not None:
            self._token_sessions.close(held)
        viewer, viewer_role = _viewer_parts(info.viewer)
        address = self._addresses.pop(info.session_id, "")
        actor, role, address = self._ended_by.pop(info.session_id, (viewer, viewer_role, address))
        # Called from the event loop: the audit write runs on a worker thread.
        task = asyncio.get_running_loop().run_in_executor(
            None,
            self.audit,
            actor,
            role,
            "video.watch.end",
            f"/drones/{info.stream_key}/video",
            f"session {info.session_id} of viewer {viewer}: {reason}; "
            f"{info.frames_forwarded} frames",
            address,
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

    def running_ingest(self, drone_id: str) -> RtpIngest | None:
        """The drone's ingest when one is open (a viewer or a recorder asked for it), else None."""
        return self._ingests.get(drone_id)

    async def watch(
        self,
        drone_id: str,
        video_url: str | None,
        offer_sdp: str,
        actor: str,
        role: str,
        token_id: int | None = None,
        client_address: str = "",
    ) -> WhepAnswer:
        """Answer a WHEP offer for a drone's stream and audit the viewer (held under `token_id`)."""
        check_offer(offer_sdp)  # bad input is refused before any stream is opened
        if self._remote is not None and not self._linked_here(drone_id):
            return await self._remote.watch(
                drone_id, video_url, offer_sdp, actor, role, token_id, client_address
            )
        ingest = await self.ingest_for(drone_id, video_url)
        viewer = _viewer(actor, role, token_id)
        answer = await self.sessions.answer(ingest, offer_sdp, viewer=viewer)
        self._addresses[answer.session_id] = client_address
        if token_id is not None and self._token_sessions is not None:
            session_id = answer.session_id

            async def end(reason: str) -> None:
                self._held.pop(session_id, None)
                with contextlib.suppress(SessionUnknownError):
                    await self.sessions.end(session_id, reason)

            self._held[session_id] = self._token_sessions.open(token_id, "whep", end)
        await asyncio.to_thread(
            self.audit,
            actor,
            role,
            "video.watch.start",
            f"/drones/{drone_id}/video",
            f"session {answer.session_id}",
            client_address,
        )
        return answer

    async def end_watch(
        self, drone_id: str, session_id: str, actor: str, role: str, client_address: str = ""
    ) -> None:
        """End a viewer session of the drone as `actor` (its viewer or an admin; else Forbidden)."""
        try:
            session = self.sessions.get(session_id)
        except SessionUnknownError:
            if self._remote is not None and not self._linked_here(drone_id):
                await self._remote.end_watch(drone_id, session_id, actor, role, client_address)
                return
            raise NotFoundError("WHEP session", session_id) from None
        if session.stream_key != drone_id:
            raise NotFoundError("WHEP session", session_id)
        viewer, _ = _viewer_parts(session.viewer)
        if actor != viewer and role != Role.ADMIN.value:
            raise ForbiddenError("only the session's viewer or an admin may end it")
        self._ended_by[session_id] = (actor, role, client_address)
        reason = "ended by viewer" if actor == viewer else f"ended by {actor} ({role})"
        try:
            await self.sessions.end(session_id, reason)
        except SessionUnknownError:
            self._ended_by.pop(session_id, None)
            raise NotFoundError("WHEP session", session_id) from None

    def recording_dir(self, flight_id: int) -> Path:
        """Where a flight's recording is (or would be)."""
        return self.recordings_root / f"flight-{flight_id}"

    async def start_recording(
        self,
        flight_id: int,
        drone_id: str,
        video_url: str | None,
        segment_s: float = 10.0,
        *,
        resume: bool = False,
    ) -> StreamRecorder:
        """Record the drone's stream for `flight_id` until `stop_recording` (`resume`: continue one)."""
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
            resume=resume,
        )
        task = asyncio.create_task(recorder.run(), name=f"record-flight-{flight_id}")
        self._recorders[flight_id] = (recorder, task)
        return recorder

    def recording_status(self, flight_id: int) -> RecordingStatus | None:
        """The running recorder's status (None when this process is not recording the flight)."""
        entry = self._recorders.get(flight_id)
        return None if entry is None else entry[0].status()

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


class FlightRecordingHook:
    """Flight transition sink: record a flight's video from en route until it lands or ends.

    The flight service calls hooks synchronously, on a worker thread, inside the transaction that
    stores the transition; recording needs the event loop. So the hook only reads the drone's
    `video_url` and, once the transaction has committed, hands the start or stop to the loop.
    Actions of one flight run in order (a stop never overtakes its start). A drone without
    `video_url` is simply not recorded; a stream that cannot be opened is logged, not raised.
    """

    def __init__(
        self,
        video: VideoService,
        loop: asyncio.AbstractEventLoop,
        *,
        private_transit: Callable[[Flight], bool] = lambda flight: False,
    ) -> None:
        self._video = video
        self._loop = loop
        self._private_transit = private_transit
        self._chains: dict[int, asyncio.Task[None]] = {}  # touched on the loop only
        self._finished: set[int] = set()  # touched on the loop only

    def on_transition(self, session: Session, flight: Flight, transition: FlightTransition) -> None:
        """Schedule the recording change `transition` implies (called by the flight service)."""
        flight_id = flight.id
        if flight_id is None:
            return
        action: Callable[[], Awaitable[None]]
        private = self._private_transit(flight)
        if transition.to_phase in (RECORD_FROM_PRIVATE if private else RECORD_FROM):
            drone = session.get(Drone, flight.drone_id)
            video_url = drone.video_url if drone is not None else None
            if not video_url:
                return
            # A private flight's recording may have paused on a way home and now continues.
            action = functools.partial(
                self._start, flight_id, flight.drone_id, video_url, resume=private
            )
        elif transition.to_phase in RECORD_UNTIL:
            action = functools.partial(self._stop, flight_id)
        elif private and transition.to_phase in PAUSE_PRIVATE:
            action = functools.partial(self._video.stop_recording, flight_id)
        else:
            return

        def committed(_: object) -> None:
            try:
                self._loop.call_soon_threadsafe(self._enqueue, flight_id, action)
            except RuntimeError:  # the loop is closed: the service is shutting down
                log.warning("flight %s: recording change dropped at shutdown", flight_id)

        event.listen(session, "after_commit", committed, once=True)

    def privacy_lifted(self, flight_id: int, drone_id: str, video_url: str) -> None:
        """Privacy was lifted mid-flight (called on the loop): record from now until the flight ends."""
        action = functools.partial(self._start, flight_id, drone_id, video_url, resume=True)
        self._enqueue(flight_id, action)

    def _enqueue(self, flight_id: int, action: Callable[[], Awaitable[None]]) -> None:
        previous = self._chains.get(flight_id)
        task = self._loop.create_task(
            self._after(previous, action), name=f"recording-flight-{flight_id}"
        )
        self._chains[flight_id] = task

        def forget(done: asyncio.Task[None]) -> None:
            if self._chains.get(flight_id) is done:
                del self._chains[flight_id]

        task.add_done_callback(forget)

    async def _after(
        self, previous: asyncio.Task[None] | None, action: Callable[[], Awaitable[None]]
    ) -> None:
        if previous is not None:
            await asyncio.wait([previous])
        await action()

    async def resume_unfinished(self, engine: Engine) -> None:
        """After a restart: continue recording every flight stored as still in the air."""

        def airborne() -> list[tuple[int, str, str]]:
            with Session(engine) as session:
                rows = session.exec(
                    select(Flight, Drone.video_url)
                    .where(Flight.drone_id == Drone.id)
                    .where(col(Flight.state).in_([str(p) for p in RECORDING_PHASES]))
                ).all()
                return [
                    (f.id, f.drone_id, url)
                    for f, url in rows
                    if f.id is not None
                    and url
                    # A private flight in transit was not being recorded.
                    and not (
                        self._private_transit(f)
                        and f.state in (FlightPhase.EN_ROUTE, FlightPhase.RETURNING)
                    )
                ]

        for flight_id, drone_id, video_url in await asyncio.to_thread(airborne):
            action = functools.partial(self._start, flight_id, drone_id, video_url, resume=True)
            self._enqueue(flight_id, action)

    async def _start(
        self, flight_id: int, drone_id: str, video_url: str, *, resume: bool = False
    ) -> None:
        if flight_id in self._finished:
            return
        try:
            await self._video.start_recording(flight_id, drone_id, video_url, resume=resume)
        except (DfrError, VideoError) as exc:
            log.warning("flight %s: drone %s video not recorded: %s", flight_id, drone_id, exc)
            return
        verb = "continuing the recording of" if resume else "recording"
        log.info("flight %s: %s drone %s video from %s", flight_id, verb, drone_id, video_url)
        if resume:
            await asyncio.to_thread(
                self._video.audit,
                "recorder",
                "system",
                "video.recording.resume",
                f"/flights/{flight_id}/recordings",
                "continued after a service restart",
            )

    async def _stop(self, flight_id: int) -> None:
        self._finished.add(flight_id)
        await self._video.stop_recording(flight_id)

    async def aclose(self) -> None:
        """Wait for scheduled starts and stops (the service's `aclose` then stops recorders)."""
        pending = list(self._chains.values())
        if pending:
            await asyncio.wait(pending, timeout=30)
