"""Building blocks scenarios share: calls as a CAD sends them, and reading what CAD received."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any

from simulator.cad import SimIncident

_SERIAL = itertools.count(1)


def make_incident(
    lat: float,
    lon: float,
    *,
    call_type: str = "BURGLARY",
    call_type_text: str = "Burglary in progress",
    priority: int = 1,
    address: str = "scenario address",
    in_progress: bool = True,
    prefix: str = "SCN",
) -> SimIncident:
    """A new CAD incident with a unique id."""
    stamp = datetime.now(UTC)
    return SimIncident(
        incident_id=f"{prefix}-{stamp:%H%M%S}-{next(_SERIAL)}",
        call_type=call_type,
        call_type_text=call_type_text,
        priority=priority,
        lat=lat,
        lon=lon,
        address=address,
        received_at=stamp,
        in_progress=in_progress,
    )


def event_kind(item: dict[str, Any]) -> str:
    """`note`, `unit_status` or `cancel` of a received plain event (`eido` for EIDO documents)."""
    body = item.get("body") or {}
    return str(body.get("kind", item.get("format", "")))


def event_text(item: dict[str, Any]) -> str:
    """The note text of a received plain event ("" otherwise)."""
    body = item.get("body") or {}
    return str(body.get("text") or "")
