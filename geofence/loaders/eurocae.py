"""What EUROCAE ED-269 and its successor ED-318 share: restriction kinds, applicability, one zone per volume."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from geofence.errors import InvalidGeometryError
from geofence.geo import Altitude
from geofence.loaders.times import read_applicability, read_datetime, read_period
from geofence.schedule import Applicability
from geofence.zones import Zone, ZoneKind, ZoneShape, validate_zone

_RESTRICTION_KINDS = {
    "PROHIBITED": ZoneKind.EXCLUSION,
    "REQ_AUTHORISATION": ZoneKind.EXCLUSION,
    "REQ_AUTHORIZATION": ZoneKind.EXCLUSION,
    "CONDITIONAL": ZoneKind.ADVISORY,
    "NO_RESTRICTION": ZoneKind.ADVISORY,
    "USPACE": ZoneKind.ADVISORY,
}


def read_identifier(raw: Any, index: int) -> str:
    """A zone's identifier, required."""
    identifier = str(raw or "").strip()
    if not identifier:
        raise InvalidGeometryError(
            f"feature {index} has no identifier", zone_id=f"#{index}", field="identifier"
        )
    return identifier


def read_restriction(raw: Any, zone_id: str, field: str, label: str) -> ZoneKind:
    """What a restriction (ED-269) or geozone type (ED-318) means for a flight."""
    restriction = str(raw if raw is not None else "").upper()
    if restriction not in _RESTRICTION_KINDS:
        raise InvalidGeometryError(f"unknown {label} {raw!r}", zone_id=zone_id, field=field)
    return _RESTRICTION_KINDS[restriction]


def _read_applicability_entry(entry: Any, zone_id: str) -> Applicability:
    permanent = str(entry.get("permanent", "NO")).upper() == "YES"
    schedule = tuple(
        read_period(p, zone_id, "startTime", "endTime", None) for p in entry.get("schedule") or []
    )
    start = read_datetime(entry["startDateTime"], zone_id) if entry.get("startDateTime") else None
    end = read_datetime(entry["endDateTime"], zone_id) if entry.get("endDateTime") else None
    return Applicability(permanent, start, end, schedule)


def read_ed_applicability(raw: Any, zone_id: str) -> tuple[Applicability, ...]:
    """ED applicability entries (`permanent: YES|NO`, start/end date-times, weekly schedule)."""
    return read_applicability(raw, zone_id, _read_applicability_entry)


def join_reasons(reasons: Any, other: Any) -> str:
    """The reason codes and the free-text other reason, comma-separated."""
    parts = [str(r) for r in reasons] if isinstance(reasons, list) else []
    if other:
        parts.append(str(other))
    return ", ".join(parts)


@dataclass(frozen=True, slots=True)
class Volume:
    """One volume of a zone: its horizontal shape and vertical limits."""

    shape: ZoneShape
    floor: Altitude | None
    ceiling: Altitude | None


@dataclass(frozen=True, slots=True)
class ZoneHeader:
    """What every volume of one ED zone shares; each volume becomes a Zone of its own."""

    identifier: str
    kind: ZoneKind
    name: str
    reason: str
    source: str
    message: str
    applicability: tuple[Applicability, ...]

    def zones(
        self, volumes: Sequence[Any], read_volume: Callable[[Any, str], Volume]
    ) -> list[Zone]:
        """The validated zones, ids suffixed `-<n>` when there is more than one volume."""
        out: list[Zone] = []
        for k, raw in enumerate(volumes):
            zone_id = self.identifier if len(volumes) == 1 else f"{self.identifier}-{k}"
            volume = read_volume(raw, zone_id)
            zone = Zone(
                id=zone_id,
                kind=self.kind,
                shape=volume.shape,
                name=self.name,
                reason=self.reason,
                source=self.source,
                message=self.message,
                floor=volume.floor,
                ceiling=volume.ceiling,
                applicability=self.applicability,
            )
            out.append(validate_zone(zone))
        return out
