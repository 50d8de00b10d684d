"""Errors of the video ingest, relay and recorder: the `VideoError` branch of telemetry's tree.

VideoError                      (a TelemetryError; the whole tree is in telemetry/errors.py)
├── StreamUnknownError          no stream with that key is configured
├── StreamUriError              a stream URI we cannot receive (scheme, host or port)
├── RtpParseError               a datagram that is not a valid RTP packet (also a ValueError)
├── SignallingError             a WHEP offer we cannot answer
│   ├── BadOfferError           not an SDP offer with a receivable video section
│   ├── SessionLimitError       too many viewers for this stream or overall
│   └── SessionUnknownError     no WHEP session with that id
├── StreamNotLiveError          no frames (yet) to build a snapshot from
└── RecordingError              a recording that could not be written or read
    └── ManifestError           a manifest that is missing or malformed
"""

from __future__ import annotations

from telemetry.errors import TelemetryError


class VideoError(TelemetryError):
    """Root of video errors."""


class StreamUnknownError(VideoError):
    """No stream with that key is configured."""


class StreamUriError(VideoError):
    """A stream URI we cannot receive."""


class RtpParseError(VideoError, ValueError):
    """A datagram that is not a valid RTP packet."""


class SignallingError(VideoError):
    """A WHEP offer we cannot answer."""


class BadOfferError(SignallingError):
    """Not an SDP offer with a receivable video section."""


class SessionLimitError(SignallingError):
    """Too many viewers."""


class SessionUnknownError(SignallingError):
    """No WHEP session with that id."""


class StreamNotLiveError(VideoError):
    """No frames to build a snapshot from."""


class RecordingError(VideoError):
    """A recording that could not be written or read."""


class ManifestError(RecordingError):
    """A manifest that is missing or malformed."""
