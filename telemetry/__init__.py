"""In-process telemetry bus, WebSocket fan-out, track recording, video relay and recording."""

from telemetry.alerts import NEEDS_ACK_KINDS, AlertBoard
from telemetry.errors import (
    InvalidMessageError,
    SubscriberLimitError,
    SubscriptionClosedError,
    TelemetryError,
    TrackStoreError,
)
from telemetry.hub import Hub, HubMirror, HubSubscription, SubscriberStats
from telemetry.models import (
    EVENT_TYPES,
    STATE_TYPES,
    STREAM_VERSION,
    DroneFrame,
    LinkStatus,
    MessageType,
    StreamMessage,
    alert_message,
    call_message,
    decision_message,
    drone_message,
    flight_message,
    parse_drone_frame,
    unit_message,
    zone_message,
)
from telemetry.tracks import InMemoryTrackStore, TrackRecorder, TrackSample, TrackStore
from telemetry.ws import BEARER_SUBPROTOCOL, make_router

__all__ = [
    "BEARER_SUBPROTOCOL",
    "EVENT_TYPES",
    "NEEDS_ACK_KINDS",
    "STATE_TYPES",
    "STREAM_VERSION",
    "AlertBoard",
    "DroneFrame",
    "Hub",
    "HubMirror",
    "HubSubscription",
    "InMemoryTrackStore",
    "InvalidMessageError",
    "LinkStatus",
    "MessageType",
    "StreamMessage",
    "SubscriberLimitError",
    "SubscriberStats",
    "SubscriptionClosedError",
    "TelemetryError",
    "TrackRecorder",
    "TrackSample",
    "TrackStore",
    "TrackStoreError",
    "alert_message",
    "call_message",
    "decision_message",
    "drone_message",
    "flight_message",
    "make_router",
    "parse_drone_frame",
    "unit_message",
    "zone_message",
]
