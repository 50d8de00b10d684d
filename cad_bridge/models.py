"""The canonical CAD call every inbound format normalises to, and the outbound event model."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from geofence import GeoPoint

#: Incident Status-Common registry values (NENA-STA-021.1b) that end DFR's involvement.
TERMINAL_STATUSES = frozenset({"Cancelled", "Closed"})


def _require_offset(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("received_at must carry a UTC offset (e.g. 2025-01-01T12:00:00Z)")
    return value


#: When CAD received the call; a time without a UTC offset is refused, never guessed.
ReceivedAt = Annotated[datetime, AfterValidator(_require_offset)]


class CallFlags(BaseModel):
    """Facts about the scene that matter to a drone response."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    weapons: bool = False
    in_progress: bool = False
    outdoor: bool = False


class CadNote(BaseModel):
    """A note written in CAD."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    text: str = Field(min_length=1, max_length=20_000)
    author: str = Field(default="cad", max_length=200)
    at: datetime | None = None


class CadCall(BaseModel):
    """A CAD incident as DFR understands it, whatever format it came in."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    agency: str = Field(min_length=1, max_length=64)
    cad_incident_id: str = Field(min_length=1, max_length=200)
    call_type: str = Field(min_length=1, max_length=64, description="APCO common incident type")
    call_type_text: str = Field(default="", max_length=300)
    category: str = Field(default="unmapped", max_length=64)
    priority: int = Field(ge=1, le=5, description="1 highest .. 5 lowest")
    location: GeoPoint
    address: str | None = Field(default=None, max_length=500)
    received_at: ReceivedAt
    status: str = Field(default="Active", max_length=64)
    notes: tuple[CadNote, ...] = ()
    flags: CallFlags = CallFlags()
    raw_format: Literal["plain", "eido"] = "plain"
    raw_document: str = Field(default="", repr=False)

    @property
    def is_terminal(self) -> bool:
        """True when CAD has cancelled or closed the incident."""
        return self.status in TERMINAL_STATUSES

    def content_hash(self) -> str:
        """A digest of everything but the raw document: equal hashes mean an identical call."""
        body: dict[str, Any] = self.model_dump(mode="json", exclude={"raw_document", "raw_format"})
        body["location"] = [round(self.location.lat_deg, 7), round(self.location.lon_deg, 7)]
        encoded = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
        return hashlib.sha256(encoded).hexdigest()


#: The issue's name for the same concept.
CadIncident = CadCall


class EventKind(StrEnum):
    """What an outbound event tells CAD."""

    NOTE = "note"
    UNIT_STATUS = "unit_status"
    CANCEL = "cancel"


class UnitStatus(StrEnum):
    """Secondary Unit Status registry values (NENA-STA-021.1b) DFR reports for its drone."""

    DISPATCHED = "Dispatched"
    EN_ROUTE = "EnRoute"
    ON_SCENE = "OnScene"
    CLEARED = "Cleared"
    ASSIGNMENT_CANCELLED = "AssignmentCancelled"


class UnitReport(BaseModel):
    """The drone as a CAD unit."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(min_length=1, max_length=64)
    status: UnitStatus
    eta_s: float | None = Field(default=None, ge=0)
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)


class Disposition(BaseModel):
    """An APCO ANS 1.111.2 common disposition (e.g. 10 Event Cancelled, 21 Unit Cancelled En Route)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    code: str = Field(min_length=1, max_length=8)
    text: str = Field(default="", max_length=300)


EVENT_CANCELLED = Disposition(code="10", text="Event Cancelled")
UNIT_CANCELLED_EN_ROUTE = Disposition(code="21", text="Unit Cancelled En Route")


class OutboundEvent(BaseModel):
    """One fact DFR tells CAD; `event_id` is also the idempotency key."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_id: str = Field(min_length=1, max_length=64)
    agency: str = Field(min_length=1, max_length=64)
    cad_incident_id: str = Field(min_length=1, max_length=200)
    kind: EventKind
    at: datetime
    author: str = Field(min_length=1, max_length=200)
    text: str | None = Field(default=None, max_length=20_000)
    unit: UnitReport | None = None
    disposition: Disposition | None = None
    call_type: str | None = Field(
        default=None, max_length=64, description="the incident type, needed to restate an EIDO"
    )

    def plain_body(self) -> dict[str, Any]:
        """The plain JSON wire form: `{event_id, cad_incident_id, kind, at, author, text?, unit?, disposition?}`."""
        return self.model_dump(mode="json", exclude={"agency", "call_type"}, exclude_none=True)
