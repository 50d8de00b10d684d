"""Receives one drone's RTP/H.264 stream on UDP and fans access units out to subscribers.

Nothing is decoded here. Each subscriber (a WebRTC viewer, a recorder) has a bounded queue; when a
subscriber falls behind, its queue is emptied and it resumes at the next keyframe, so a slow viewer
never delays the stream or the other viewers. A watchdog marks the stream STALLED when no access
unit arrived for `stall_after_s`, and LIVE again when frames come back (the UDP socket stays bound:
a camera that reboots just starts sending again, which the depacketiser sees as a restart).
"""

from __future__ import annotations

import asyncio
import enum
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Self

from pydantic import BaseModel, ConfigDict

from lifecycle import TaskOwner
from telemetry.video.errors import StreamUriError, VideoError
from telemetry.video.rtp import AccessUnit, H264Depacketizer

log = logging.getLogger(__name__)

_GOP_CACHE_MAX_UNITS = 600


class StreamState(enum.StrEnum):
    """Health of an ingested stream."""

    WAITING = "waiting"  # bound, nothing decodable received yet
    LIVE = "live"
    STALLED = "stalled"  # frames stopped for longer than stall_after_s
    CLOSED = "closed"


class StreamStatus(BaseModel):
    """What the API shows about one stream."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    stream_key: str
    state: StreamState
    port: int
    frames: int
    keyframes: int
    bytes: int
    packets: int
    malformed_packets: int
    lost_packets: int
    dropped_frames: int
    restarts: int
    stalls: int
    last_frame_age_s: float | None
    viewers: int


@dataclass(frozen=True, slots=True)
class RtpEndpoint:
    """Where to listen for a stream."""

    host: str
    port: int


def parse_stream_uri(uri: str, *, listen_host: str = "127.0.0.1") -> RtpEndpoint:
    """The UDP endpoint for a VIDEO_STREAM_INFORMATION uri ("5600", "udp://0.0.0.0:5600", ...)."""
    text = uri.strip()
    scheme, sep, rest = text.partition("://")
    if not sep:
        scheme, rest = "udp", text
    port_text = rest.rpartition(":")[2] if ":" in rest else rest
    if scheme not in ("udp", "rtp") or not port_text.isdigit() or len(port_text) > 5:
        raise StreamUriError(f"unsupported video stream uri {uri!r}: expected udp://host:port")
    port = int(port_text)
    if not 0 < port < 65536:
        raise StreamUriError(f"port {port} in {uri!r} is out of range")
    # PX4's uri names the port to listen on; its host part (often 0.0.0.0) is not where we bind.
    return RtpEndpoint(listen_host, port)


class Subscription:
    """A bounded queue of access units for one consumer; starts at a keyframe."""

    def __init__(self, ingest: RtpIngest, max_queue: int) -> None:
        self._ingest = ingest
        self._queue: asyncio.Queue[AccessUnit] = asyncio.Queue(maxsize=max_queue)
        self._need_keyframe = True
        self.closed = False
        self.dropped = 0

    def offer(self, unit: AccessUnit) -> None:
        """Queue `unit` without ever waiting (called by the ingest)."""
        if self._need_keyframe and not unit.keyframe:
            return
        if self._queue.full():
            self.dropped += self._queue.qsize()
            while not self._queue.empty():
                self._queue.get_nowait()
            self._need_keyframe = True
            if not unit.keyframe:
                return
        self._need_keyframe = False
        self._queue.put_nowait(unit)

    def resync(self) -> None:
        """Skip to the next keyframe (after a stream restart)."""
        self._need_keyframe = True

    async def get(self) -> AccessUnit:
        """The next access unit (waits without deadline: the caller owns cancellation)."""
        return await self._queue.get()

    def close(self) -> None:
        """Stop receiving."""
        if not self.closed:
            self.closed = True
            self._ingest.unsubscribe(self)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self, ingest: RtpIngest) -> None:
        self._ingest = ingest

    def datagram_received(self, data: bytes, addr: tuple[str | object, int]) -> None:
        self._ingest.on_datagram(data)

    def error_received(self, exc: Exception) -> None:
        log.debug("video socket error: %s", exc)


class RtpIngest(TaskOwner):
    """One stream's receiver: `async with RtpIngest(key, endpoint) as ingest:`."""

    def __init__(
        self,
        stream_key: str,
        endpoint: RtpEndpoint,
        *,
        stall_after_s: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
        payload_type: int | None = 96,
    ) -> None:
        super().__init__()
        self.stream_key = stream_key
        self.endpoint = endpoint
        self._stall_after_s = stall_after_s
        self._clock = clock
        self._depacketizer = H264Depacketizer(payload_type)
        self._subscribers: set[Subscription] = set()
        self._transport: asyncio.DatagramTransport | None = None
        self._state = StreamState.WAITING
        self._frames = 0
        self._keyframes = 0
        self._bytes = 0
        self._stalls = 0
        self._last_frame_at: float | None = None
        self._generation = 0
        self._gop: list[AccessUnit] = []
        self._state_changed = asyncio.Event()

    @property
    def port(self) -> int:
        """The bound UDP port (useful when opened on port 0)."""
        if self._transport is None:
            return self.endpoint.port
        sockname = self._transport.get_extra_info("sockname")
        return int(sockname[1])

    async def _start(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            transport, _ = await loop.create_datagram_endpoint(
                lambda: _Protocol(self), local_addr=(self.endpoint.host, self.endpoint.port)
            )
        except OSError as exc:
            raise VideoError(
                f"cannot listen for stream {self.stream_key!r} on "
                f"{self.endpoint.host}:{self.endpoint.port}: {exc}"
            ) from exc
        self._transport = transport
        self._spawn(self._watch(), name=f"video-watchdog-{self.stream_key}")

    async def _stop(self) -> None:
        if self._transport is not None:
            self._transport.close()
            self._transport = None
        self._set_state(StreamState.CLOSED)

    async def aclose(self) -> None:
        """Unbind and stop the watchdog (what leaving the `async with` block does)."""
        await self.__aexit__(None, None, None)

    def subscribe(self, max_queue: int = 60) -> Subscription:
        """A new consumer; it receives from the next keyframe on."""
        sub = Subscription(self, max_queue)
        self._subscribers.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        """Remove a consumer (idempotent)."""
        self._subscribers.discard(sub)

    def current_gop(self) -> list[AccessUnit]:
        """Access units since the last keyframe (for snapshots), oldest first."""
        return list(self._gop)

    def on_datagram(self, data: bytes) -> None:
        """Handle one received datagram (called from the event loop)."""
        self._bytes += len(data)
        now = self._clock()
        for unit in self._depacketizer.push(data, now):
            self._publish(unit, now)

    def _publish(self, unit: AccessUnit, now: float) -> None:
        if unit.generation != self._generation:
            self._generation = unit.generation
            self._gop.clear()
            for sub in self._subscribers:
                sub.resync()
        self._frames += 1
        self._last_frame_at = now
        if unit.keyframe:
            self._keyframes += 1
            self._gop = [unit]
        elif self._gop and len(self._gop) < _GOP_CACHE_MAX_UNITS:
            self._gop.append(unit)
        if self._state is not StreamState.LIVE:
            self._set_state(StreamState.LIVE)
        for sub in list(self._subscribers):
            sub.offer(unit)

    def _set_state(self, state: StreamState) -> None:
        if state is self._state:
            return
        log.info("video stream %s: %s -> %s", self.stream_key, self._state, state)
        if state is StreamState.STALLED:
            self._stalls += 1
        self._state = state
        self._state_changed.set()
        self._state_changed = asyncio.Event()

    async def wait_state(self, state: StreamState, timeout_s: float) -> None:
        """Wait until the stream is in `state` (TimeoutError after `timeout_s`)."""
        async with asyncio.timeout(timeout_s):
            while self._state is not state:
                await self._state_changed.wait()

    async def _watch(self) -> None:
        period_s = min(0.25, self._stall_after_s / 4)
        while True:
            await asyncio.sleep(period_s)
            if (
                self._state is StreamState.LIVE
                and self._last_frame_at is not None
                and self._clock() - self._last_frame_at > self._stall_after_s
            ):
                self._set_state(StreamState.STALLED)

    @property
    def state(self) -> StreamState:
        """Current health."""
        return self._state

    def status(self) -> StreamStatus:
        """A snapshot of the stream's counters and health."""
        counters = self._depacketizer.counters
        age = None if self._last_frame_at is None else max(0.0, self._clock() - self._last_frame_at)
        return StreamStatus(
            stream_key=self.stream_key,
            state=self._state,
            port=self.port,
            frames=self._frames,
            keyframes=self._keyframes,
            bytes=self._bytes,
            packets=counters.packets,
            malformed_packets=counters.malformed,
            lost_packets=counters.lost,
            dropped_frames=counters.dropped_access_units,
            restarts=counters.restarts,
            stalls=self._stalls,
            last_frame_age_s=age,
            viewers=len(self._subscribers),
        )
