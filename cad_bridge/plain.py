"""The plain JSON call form, for CADs without EIDO.

`{cad_incident_id, agency?, call_type, call_type_text?, priority (1 highest .. 5), location: {lat, lon,
address?}, received_at, status?, notes?: [text | {text, author?, at?}], flags?: {weapons?,
in_progress?, outdoor?}}`
"""

from __future__ import annotations

import json
import math
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from cad_bridge.errors import CadInputError
from cad_bridge.mapping import CallTypeMapper
from cad_bridge.models import CadCall, CadNote, CallFlags, ReceivedAt
from geofence import GeoPoint


class PlainLocation(BaseModel):
    """Where the call is."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    address: str | None = Field(default=None, max_length=500)

    @field_validator("lat", "lon")
    @classmethod
    def _finite(cls, value: float) -> float:
        if not math.isfinite(value):
            raise ValueError("must be a finite number")
        return value


class PlainNote(CadNote):
    """A CAD note."""


class PlainCall(BaseModel):
    """The plain JSON call document (also its OpenAPI description)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    cad_incident_id: str = Field(min_length=1, max_length=200)
    agency: str | None = Field(default=None, min_length=1, max_length=64)
    call_type: str = Field(min_length=1, max_length=64, description="APCO common incident type")
    call_type_text: str = Field(default="", max_length=300)
    priority: int = Field(ge=1, le=5, description="1 highest .. 5 lowest")
    location: PlainLocation
    received_at: ReceivedAt
    status: str = Field(default="Active", min_length=1, max_length=64)
    notes: list[str | PlainNote] = Field(default_factory=list, max_length=500)
    flags: CallFlags = CallFlags()


def _field(loc: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in loc) or "body"


def parse_plain(
    document: Any, *, default_agency: str, mapper: CallTypeMapper, raw: str = ""
) -> CadCall:
    """Validate a plain JSON call and normalise it to a CadCall."""
    try:
        call = PlainCall.model_validate(document)
    except ValidationError as exc:
        first = exc.errors()[0]
        reason = str(first.get("msg", "invalid")).removeprefix("Value error, ")
        raise CadInputError(reason, field=_field(tuple(first.get("loc", ())))) from None
    agency = call.agency or default_agency
    notes = tuple(
        CadNote(text=n) if isinstance(n, str) else CadNote(text=n.text, author=n.author, at=n.at)
        for n in call.notes
        if (n if isinstance(n, str) else n.text).strip()
    )
    return CadCall(
        agency=agency,
        cad_incident_id=call.cad_incident_id,
        call_type=call.call_type.strip(),
        call_type_text=call.call_type_text,
        category=mapper.category(agency, call.call_type),
        priority=call.priority,
        location=GeoPoint(call.location.lat, call.location.lon),
        address=call.location.address,
        received_at=call.received_at,
        status=call.status,
        notes=notes,
        flags=call.flags,
        raw_format="plain",
        raw_document=raw or json.dumps(document, separators=(",", ":"), default=str),
    )
