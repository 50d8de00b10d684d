"""The live stream's wire schema (version 1): an envelope per change, and the drone frame payload.

Every message is `{v, type, at, key, data}` (see STREAM.md). `key` names the thing the message is
about (`drone:D1`, `call:42` ...): for every type but `alert` the newest message per key is that
thing's whole current state, so a slow reader may skip older ones; alerts are events and are never
merged. The payloads of flights, calls, decisions, alerts, zones and units are built by dfr as
plain JSON objects; their expected fields are documented in STREAM.md.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, model_validator

from telemetry.errors import InvalidMessageError

STREAM_VERSION: Literal[1] = 1

MessageType = Literal["snapshot", "drone", "flight", "call", "decision", "alert", "zone", "unit"]
LinkStatus = Literal["connected", "degraded", "lost"]

#: Types whose newest message per key replaces the older ones (a state); the rest are events.
STATE_TYPES: frozenset[str] = frozenset({"drone", "flight", "call", "decision", "zone", "unit"})
#: Types kept in order and never merged.
EVENT_TYPES: frozenset[str] = frozenset({"alert"})
SNAPSHOT_KEY = "snapshot"

_KEY_RE = re.compile(r"^[a-z]+:[A-Za-z0-9][A-Za-z0-9_.:@-]{0,127}$")


class StreamMessage(BaseModel):
    """One stream envelope: what changed (`type`, `key`), when (`at`, UTC) and its state (`data`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    v: Literal[1] = STREAM_VERSION
    type: MessageType
    at: AwareDatetime
    key: str = Field(min_length=3, max_length=140)
    data: dict[str, Any]

    @model_validator(mode="after")
    def _key_names_its_type(self) -> StreamMessage:
        if self.type == "snapshot":
            if self.key != SNAPSHOT_KEY:
                raise ValueError(f"a snapshot's key is {SNAPSHOT_KEY!r}")
            return self
        if not _KEY_RE.match(self.key) or not self.key.startswith(self.type + ":"):
            raise ValueError(
                f"key {self.key!r} must look like '{self.type}:<id>' (letters, digits, _ . : @ -)"
            )
        return self

    @property
    def is_event(self) -> bool:
        """True for messages kept in order (alerts), False for states merged per key."""
        return self.type in EVENT_TYPES

    def to_json(self) -> str:
        """The wire form (compact JSON, ISO 8601 times)."""
        return self.model_dump_json()


class DroneFrame(BaseModel):
    """A drone's current state as the map shows it; `None` means unknown, never zero."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    drone_id: str = Field(min_length=1, max_length=64)
    available: bool = Field(description="False when the link is lost or the drone is not ready")
    last_seen: AwareDatetime | None = Field(description="when the vehicle was last heard (UTC)")
    lat: float | None = Field(default=None, ge=-90.0, le=90.0)
    lon: float | None = Field(default=None, ge=-180.0, le=180.0)
    alt_amsl_m: float | None = Field(default=None, ge=-500.0, le=20_000.0)
    alt_agl_m: float | None = Field(default=None, ge=-500.0, le=20_000.0)
    heading_deg: float | None = Field(default=None, ge=0.0, le=360.0)
    ground_speed_mps: float | None = Field(default=None, ge=0.0, le=200.0)
    battery_pct: float | None = Field(default=None, ge=0.0, le=100.0)
    battery_v: float | None = Field(default=None, ge=0.0, le=100.0)
    mode: str | None = Field(default=None, max_length=32, description="PX4 mode, e.g. AUTO.MISSION")
    armed: bool | None = None
    landed_state: str | None = Field(
        default=None, max_length=16, description="on_ground | takeoff | in_air | landing"
    )
    gps_fix: int | None = Field(
        default=None, ge=0, le=8, description="MAVLink GPS_FIX_TYPE (3 = 3D, 6 = RTK fixed)"
    )
    satellites: int | None = Field(default=None, ge=0, le=255)
    link: LinkStatus = "connected"
    flight_id: int | None = Field(default=None, ge=1)
    mission_seq: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _position_is_whole(self) -> DroneFrame:
        if (self.lat is None) != (self.lon is None):
            raise ValueError("lat and lon are given together or not at all")
        return self


def _message(
    type_: MessageType, ident: object, data: Mapping[str, Any], at: datetime
) -> StreamMessage:
    try:
        return StreamMessage(type=type_, at=at, key=f"{type_}:{ident}", data=dict(data))
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first.get("loc", ())) or None
        raise InvalidMessageError(str(first.get("msg", "invalid")), field=field) from exc


def drone_message(frame: DroneFrame, at: datetime) -> StreamMessage:
    """The `drone` message carrying `frame`."""
    return _message("drone", frame.drone_id, frame.model_dump(mode="json"), at)


def flight_message(flight_id: int, data: Mapping[str, Any], at: datetime) -> StreamMessage:
    """The `flight` message for flight `flight_id` (fields in STREAM.md)."""
    return _message("flight", flight_id, {"id": flight_id, **data}, at)


def call_message(call_id: int, data: Mapping[str, Any], at: datetime) -> StreamMessage:
    """The `call` message for call `call_id` (fields in STREAM.md)."""
    return _message("call", call_id, {"id": call_id, **data}, at)


def decision_message(call_id: int, data: Mapping[str, Any], at: datetime) -> StreamMessage:
    """The `decision` message: the latest dispatch decision of call `call_id`."""
    return _message("decision", call_id, {"call_id": call_id, **data}, at)


def alert_message(alert_id: str, data: Mapping[str, Any], at: datetime) -> StreamMessage:
    """An `alert` event (link loss, low battery, fence ...); `alert_id` is unique per event."""
    return _message("alert", alert_id, {"id": alert_id, **data}, at)


def zone_message(zone_id: str, feature: Mapping[str, Any], at: datetime) -> StreamMessage:
    """A `zone` message carrying the zone as a GeoJSON Feature."""
    return _message("zone", zone_id, feature, at)


def unit_message(unit_id: str, data: Mapping[str, Any], at: datetime) -> StreamMessage:
    """A `unit` message: a CAD responder unit's latest reported position and status."""
    return _message("unit", unit_id, {"unit_id": unit_id, **data}, at)


def parse_drone_frame(data: Mapping[str, Any]) -> DroneFrame:
    """A DroneFrame from its JSON form, or InvalidMessageError naming the field."""
    try:
        return DroneFrame.model_validate(dict(data))
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first.get("loc", ())) or None
        raise InvalidMessageError(str(first.get("msg", "invalid")), field=field) from exc
