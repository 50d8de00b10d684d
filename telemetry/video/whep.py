"""WHEP (RFC 9725) signalling logic: SDP offer in, SDP answer and a session id out; end on DELETE.

Transport-free: the HTTP route (in dfr) maps `answer()` to `201 Created` + `Location`, `end()` to
`200`, and the errors to 400/404/409/503. ICE is not trickled: aiortc gathers its candidates before
answering, so the answer is complete (servers may refuse PATCH with 405, RFC 9725 §4.3.1).

Each session is a server-side RTCPeerConnection sending one `H264PassthroughTrack`. H.264 is forced
with codec preferences set before the offer is applied, because aiortc otherwise answers with the
first codec of the browser's list (often VP8), which would need a per-viewer encoder. A session whose
connection does not come up within `connect_timeout_s`, or that fails or closes later, is ended and
its resources released, so a viewer that leaves mid-negotiation costs nothing for long.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from telemetry.video.errors import (
    BadOfferError,
    SessionLimitError,
    SessionUnknownError,
    SignallingError,
)
from telemetry.video.ingest import RtpIngest

if TYPE_CHECKING:
    from aiortc import RTCPeerConnection
    from aiortc.rtcrtptransceiver import RTCRtpTransceiver

    from telemetry.video.relay import H264PassthroughTrack

log = logging.getLogger(__name__)

MAX_OFFER_BYTES = 64 * 1024
WHEP_CONTENT_TYPE = "application/sdp"


@dataclass(frozen=True, slots=True)
class WhepSessionInfo:
    """Who watches what, for status pages and the audit trail."""

    session_id: str
    stream_key: str
    viewer: str
    started_at_s: float
    connected: bool
    frames_forwarded: int


@dataclass(slots=True)
class _Session:
    session_id: str
    stream_key: str
    viewer: str
    pc: RTCPeerConnection
    track: H264PassthroughTrack
    started_at_s: float
    connected: bool = False
    ended: bool = False
    watcher: asyncio.Task[None] | None = field(default=None)


@dataclass(frozen=True, slots=True)
class WhepAnswer:
    """The result of a successful offer."""

    session_id: str
    sdp: str


def check_offer(offer_sdp: str) -> None:
    """Refuse an offer that cannot become a receiving H.264 video session (BadOfferError)."""
    if len(offer_sdp.encode("utf-8", "replace")) > MAX_OFFER_BYTES:
        raise BadOfferError(f"SDP offer larger than {MAX_OFFER_BYTES} bytes")
    lines = [line.strip() for line in offer_sdp.splitlines()]
    if not lines or lines[0] != "v=0":
        raise BadOfferError("not an SDP document: it must start with 'v=0'")
    if not any(line.startswith("m=video") for line in lines):
        raise BadOfferError("the offer has no video section (m=video)")
    if not any(line.startswith("a=rtpmap:") and "H264/90000" in line for line in lines):
        raise BadOfferError("the offer does not accept H.264 video (no 'H264/90000' rtpmap)")
    if not any(line.startswith(("a=fingerprint:", "a=ice-ufrag:")) for line in lines):
        raise BadOfferError("the offer lacks ICE credentials or a DTLS fingerprint")


async def _load_webrtc() -> None:
    """Import aiortc and PyAV (with the relay) on the first viewer, not at service start.

    The import runs in a worker thread so the event loop keeps serving (and the drone links keep
    their heartbeats) while it takes its fraction of a second.
    """
    await asyncio.to_thread(importlib.import_module, "telemetry.video.relay")


def _prefer_h264(transceiver: RTCRtpTransceiver) -> None:
    from aiortc import RTCRtpSender

    codecs = RTCRtpSender.getCapabilities("video").codecs
    transceiver.setCodecPreferences(
        [c for c in codecs if c.mimeType.lower() in ("video/h264", "video/rtx")]
    )


class WhepSessions:
    """All WHEP viewer sessions of the process."""

    def __init__(
        self,
        *,
        max_sessions: int = 64,
        max_per_stream: int = 16,
        connect_timeout_s: float = 15.0,
        gather_timeout_s: float = 10.0,
        on_end: Callable[[WhepSessionInfo, str], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._max_sessions = max_sessions
        self._max_per_stream = max_per_stream
        self._connect_timeout_s = connect_timeout_s
        self._gather_timeout_s = gather_timeout_s
        self._on_end = on_end
        self._clock = clock
        self._sessions: dict[str, _Session] = {}

    def sessions(self, stream_key: str | None = None) -> list[WhepSessionInfo]:
        """Current sessions, optionally of one stream."""
        return [
            self._info(s)
            for s in self._sessions.values()
            if stream_key is None or s.stream_key == stream_key
        ]

    def get(self, session_id: str) -> WhepSessionInfo:
        """One session (SessionUnknownError if none)."""
        session = self._sessions.get(session_id)
        if session is None:
            raise SessionUnknownError(f"no WHEP session {session_id!r}")
        return self._info(session)

    def _info(self, s: _Session) -> WhepSessionInfo:
        return WhepSessionInfo(
            s.session_id,
            s.stream_key,
            s.viewer,
            s.started_at_s,
            s.connected,
            s.track.frames_forwarded,
        )

    async def answer(self, ingest: RtpIngest, offer_sdp: str, *, viewer: str = "") -> WhepAnswer:
        """Answer a viewer's offer for `ingest`'s stream; the session runs until ended."""
        check_offer(offer_sdp)
        if len(self._sessions) >= self._max_sessions:
            raise SessionLimitError(f"the server already has {self._max_sessions} viewers")
        if len(self.sessions(ingest.stream_key)) >= self._max_per_stream:
            raise SessionLimitError(
                f"stream {ingest.stream_key!r} already has {self._max_per_stream} viewers"
            )
        await _load_webrtc()
        from aiortc import RTCPeerConnection, RTCSessionDescription

        from telemetry.video.relay import H264PassthroughTrack

        pc = RTCPeerConnection()
        track = H264PassthroughTrack(ingest.subscribe())
        session = _Session(
            secrets.token_urlsafe(16), ingest.stream_key, viewer, pc, track, self._clock()
        )
        try:
            transceiver = pc.addTransceiver(track, direction="sendonly")
            _prefer_h264(transceiver)
            try:
                await pc.setRemoteDescription(RTCSessionDescription(offer_sdp, "offer"))
            except (ValueError, KeyError, IndexError) as exc:
                raise BadOfferError(f"the SDP offer cannot be used: {exc}") from exc
            except Exception as exc:  # aiortc raises its own errors for unusable offers
                if type(exc).__name__ in ("OperationError", "InvalidStateError"):
                    raise BadOfferError(f"the SDP offer cannot be used: {exc}") from exc
                raise
            async with asyncio.timeout(self._gather_timeout_s):
                await pc.setLocalDescription(await pc.createAnswer())
        except BaseException as exc:
            track.stop()
            await pc.close()
            if isinstance(exc, TimeoutError):
                raise SignallingError("ICE gathering did not finish in time") from exc
            raise
        self._sessions[session.session_id] = session

        @pc.on("connectionstatechange")
        def _on_state() -> None:
            state = pc.connectionState
            if state == "connected":
                session.connected = True
            elif state in ("failed", "closed"):
                self._spawn_end(session, f"connection {state}")

        session.watcher = asyncio.create_task(
            self._expire_unconnected(session), name=f"whep-{session.session_id}"
        )
        log.info("WHEP session %s for stream %s", session.session_id, ingest.stream_key)
        return WhepAnswer(session.session_id, pc.localDescription.sdp)

    async def _expire_unconnected(self, session: _Session) -> None:
        await asyncio.sleep(self._connect_timeout_s)
        if not session.connected:
            await self._end(session, "viewer never connected")

    def _spawn_end(self, session: _Session, reason: str) -> None:
        if session.ended:
            return  # closing already (pc.close() itself reports "closed")
        if session.watcher is not None and not session.watcher.done():
            session.watcher.cancel()
        session.watcher = asyncio.create_task(self._end(session, reason))

    async def end(self, session_id: str, reason: str = "ended by viewer") -> WhepSessionInfo:
        """End a session (the WHEP DELETE); SessionUnknownError if there is none."""
        session = self._sessions.get(session_id)
        if session is None:
            raise SessionUnknownError(f"no WHEP session {session_id!r}")
        info = self._info(session)
        await self._end(session, reason)
        return info

    async def _end(self, session: _Session, reason: str) -> None:
        if session.ended:
            return
        session.ended = True
        self._sessions.pop(session.session_id, None)
        info = self._info(session)
        session.track.stop()
        await session.pc.close()
        log.info("WHEP session %s ended: %s", session.session_id, reason)
        if self._on_end is not None:
            self._on_end(info, reason)

    async def aclose(self) -> None:
        """End every session."""
        for session in list(self._sessions.values()):
            if session.watcher is not None and session.watcher is not asyncio.current_task():
                session.watcher.cancel()
            await self._end(session, "server shutting down")
