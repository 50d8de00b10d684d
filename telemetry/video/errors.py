"""Errors of video ingest, relay and recording: the `VideoError` branch of telemetry/errors.py."""

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
