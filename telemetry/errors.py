"""Errors raised by the telemetry stream (hub, messages, track recording).

TelemetryError
 ├── InvalidMessageError      a stream message or drone frame is refused (bad type, key, value)
 ├── SubscriberLimitError     the hub already serves its maximum number of subscribers
 ├── SubscriptionClosedError  reading from a subscription that was released
 └── TrackStoreError          the track store could not keep recorded points
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
