"""Drone video: RTP/H.264 ingest, WebRTC relay with WHEP signalling, evidence recording, snapshots."""

from typing import TYPE_CHECKING, Any

from telemetry.video.errors import (
    BadOfferError,
    ManifestError,
    RecordingError,
    SessionLimitError,
    SessionUnknownError,
    SignallingError,
    StreamNotLiveError,
    StreamUnknownError,
    StreamUriError,
    VideoError,
)
from telemetry.video.ingest import (
    RtpEndpoint,
    RtpIngest,
    StreamState,
    StreamStatus,
    Subscription,
    parse_stream_uri,
)
from telemetry.video.rtp import AccessUnit, H264Depacketizer, parse_rtp
from telemetry.video.whep import (
    WHEP_CONTENT_TYPE,
    WhepAnswer,
    WhepSessionInfo,
    WhepSessions,
    check_offer,
)

if TYPE_CHECKING:
    from telemetry.video.relay import H264PassthroughTrack


def __getattr__(name: str) -> Any:
    # The relay needs aiortc and PyAV, which take a large part of the service's start-up:
    # imported when first named, not with the package.
    if name == "H264PassthroughTrack":
        from telemetry.video.relay import H264PassthroughTrack

        return H264PassthroughTrack
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "WHEP_CONTENT_TYPE",
    "AccessUnit",
    "BadOfferError",
    "H264Depacketizer",
    "H264PassthroughTrack",
    "ManifestError",
    "RecordingError",
    "RtpEndpoint",
    "RtpIngest",
    "SessionLimitError",
    "SessionUnknownError",
    "SignallingError",
    "StreamNotLiveError",
    "StreamState",
    "StreamStatus",
    "StreamUnknownError",
    "StreamUriError",
    "Subscription",
    "VideoError",
    "WhepAnswer",
    "WhepSessionInfo",
    "WhepSessions",
    "check_offer",
    "parse_rtp",
    "parse_stream_uri",
]
