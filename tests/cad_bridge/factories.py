"""Outbound events for the cad_bridge tests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from cad_bridge import EventKind, OutboundEvent

AT = datetime(2025, 3, 15, 3, 10, tzinfo=UTC)


def outbound_event(
    kind: EventKind | str = "note",
    *,
    event_id: str = "ev-1",
    cad_incident_id: str = "urn:x",
    author: str = "dfr",
    at: datetime = AT,
    **fields: Any,
) -> OutboundEvent:
    """An event for agency cspd at AT; `fields` are the kind's own (text, unit, disposition ...)."""
    return OutboundEvent(
        event_id=event_id,
        agency="cspd",
        cad_incident_id=cad_incident_id,
        kind=EventKind(kind),
        at=at,
        author=author,
        **fields,
    )
