"""Errors raised by telemetry: the stream (hub, messages, track recording) and drone video.

HTTP statuses and WebSocket close codes are assigned where the errors are handled (dfr, telemetry.ws),
never here. The video errors live in telemetry/video/errors.py, under the same root.

TelemetryError
 ├── InvalidMessageError        a stream message or drone frame is refused (bad type, key, value)
 ├── SubscriberLimitError       the hub already serves its maximum number of subscribers
 ├── SubscriptionClosedError    reading from a subscription that was released
 ├── TrackStoreError            the track store could not keep recorded points
 └── VideoError                 (telemetry.video) a stream, viewer session or recording failed
      ├── StreamUnknownError    no stream with that key is configured
      ├── StreamUriError        a stream URI we cannot receive (scheme, host or port)
      ├── RtpParseError         a datagram that is not a valid RTP packet (also a ValueError)
      ├── SignallingError       a WHEP offer we cannot answer
      │    ├── BadOfferError        not an SDP offer with a receivable video section
      │    ├── SessionLimitError    too many viewers for this stream or overall
      │    └── SessionUnknownError  no WHEP session with that id
      ├── StreamNotLiveError    no frames (yet) to build a snapshot from
      └── RecordingError        a recording that could not be written or read
           └── ManifestError    a manifest that is missing or malformed
"""

from __future__ import annotations


class TelemetryError(Exception):
    """Root of every telemetry error."""


class InvalidMessageError(TelemetryError):
    """A stream message or one of its payloads is refused."""

    def __init__(self, reason: str, *, field: str | None = None) -> None:
        self.reason = reason
        self.field = field
        super().__init__(f"{field}: {reason}" if field else reason)


class SubscriberLimitError(TelemetryError):
    """No room for another subscriber."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        super().__init__(f"the stream already serves its maximum of {limit} subscribers")


class SubscriptionClosedError(TelemetryError):
    """The subscription was released and yields nothing more."""


class TrackStoreError(TelemetryError):
    """Recorded track points could not be stored."""
