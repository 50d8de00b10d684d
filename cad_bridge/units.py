"""Responder units in an EIDO: each `emergencyResourceComponent` with a name and a unit location.

A unit is read when it names itself (`emergencyResourceName`) and its `unitLocationReference`
points at a `locationComponent` holding a PIDF-LO point or circle. Anything else about a unit
that cannot be read makes that unit be skipped, never the document refused: the call the
document carries matters more than the units riding along. Drones
(`UnmannedAerialVehicle`) are skipped too: the map shows them from their own telemetry.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cad_bridge.eido import parse_timestamp
from cad_bridge.errors import CadInputError
from cad_bridge.pidf import parse_pidf

_SPACES = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class CadUnitPosition:
    """A CAD unit where an EIDO says it is, with the registry texts of its status."""

    unit_id: str
    lat: float
    lon: float
    primary_status: str | None
    secondary_statuses: tuple[str, ...]
    reported_at: datetime
    incident_ref: str | None


def _ref(value: Any) -> str | None:
    item = value[0] if isinstance(value, list) and value else value
    if isinstance(item, Mapping) and isinstance(item.get("$ref"), str):
        return str(item["$ref"])
    return None


def _texts(value: Any) -> tuple[str, ...]:
    items = value if isinstance(value, list) else [value]
    return tuple(str(v).strip() for v in items if isinstance(v, str) and v.strip())


def _unit(
    resource: Mapping[str, Any], locations: Mapping[str, Mapping[str, Any]]
) -> CadUnitPosition | None:
    if resource.get("emergencyResourceTypeCommonRegistryText") == "UnmannedAerialVehicle":
        return None
    name = resource.get("emergencyResourceName")
    location = locations.get(_ref(resource.get("unitLocationReference")) or "")
    if not isinstance(name, str) or not name.strip() or location is None:
        return None
    by_value = location.get("locationByValue")
    if not isinstance(by_value, str):
        return None
    try:
        where = parse_pidf(by_value, field="locationComponent.locationByValue")
        stamp = resource.get("lastUpdateTimeStamp") or location.get("lastUpdateTimeStamp")
        reported_at = parse_timestamp(stamp, field="emergencyResourceComponent")
    except CadInputError:
        return None
    if where.point is None:
        return None
    primary = _texts(resource.get("primaryUnitStatusRegistryText"))
    incident = resource.get("activeOnIncidentId")
    return CadUnitPosition(
        unit_id=_SPACES.sub("-", name.strip())[:64],
        lat=where.point.lat_deg,
        lon=where.point.lon_deg,
        primary_status=primary[-1] if primary else None,
        secondary_statuses=_texts(resource.get("secondaryUnitStatusRegistryText")),
        reported_at=reported_at,
        incident_ref=str(incident)[:200] if isinstance(incident, str) and incident else None,
    )


def parse_eido_units(document: Any) -> list[CadUnitPosition]:
    """The units of an EIDO document that carry a name and a readable location (others skipped)."""
    if not isinstance(document, Mapping):
        return []
    locations = {
        str(c["$id"]): c
        for c in document.get("locationComponent") or []
        if isinstance(c, Mapping) and isinstance(c.get("$id"), str)
    }
    found = (
        _unit(resource, locations)
        for resource in document.get("emergencyResourceComponent") or []
        if isinstance(resource, Mapping)
    )
    return [unit for unit in found if unit is not None]
