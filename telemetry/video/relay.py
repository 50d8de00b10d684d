"""A WebRTC video track that forwards the ingested H.264 as it is: no decode, no re-encode.

aiortc's RTP sender packs an `av.Packet` returned by `track.recv()` with its H.264 packetiser
instead of encoding a frame, so each viewer costs only packetisation and SRTP. The price: a
viewer's keyframe request (PLI) cannot be honoured, so a new or recovering viewer waits for the
camera's next IDR (the simulated camera sends one per second, PX4's gazebo camera every 10 frames).
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import av
from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError

from telemetry.video.ingest import Subscription

_TIME_BASE = Fraction(1, 90_000)
_FRAME_GAP_90KHZ = 3000  # assumed spacing across a stream restart (one frame at 30 fps)


class H264PassthroughTrack(MediaStreamTrack):
    """A video track fed from an ingest subscription."""

    kind = "video"

    def __init__(self, subscription: Subscription) -> None:
        super().__init__()
        self._sub = subscription
        self._generation: int | None = None
        self._offset_90khz = 0
        self._last_pts = -_FRAME_GAP_90KHZ
        self.frames_forwarded = 0

    async def recv(self) -> av.Packet[Any]:
        """The next access unit as an `av.Packet` with a 90 kHz pts."""
        if self.readyState != "live":
            raise MediaStreamError
        unit = await self._sub.get()
        if unit.generation != self._generation:
            # Keep the outgoing timestamps monotonic across camera restarts.
            self._generation = unit.generation
            self._offset_90khz = self._last_pts + _FRAME_GAP_90KHZ - unit.timestamp_90khz
        pts = unit.timestamp_90khz + self._offset_90khz
        self._last_pts = pts
        packet = av.Packet(unit.data)
        packet.pts = pts
        packet.dts = pts
        packet.time_base = _TIME_BASE
        self.frames_forwarded += 1
        return packet

    def stop(self) -> None:
        """End the track and release its subscription."""
        super().stop()
        self._sub.close()
