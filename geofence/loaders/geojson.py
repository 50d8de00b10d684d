"""Our GeoJSON zone format (RFC 7946 FeatureCollection), the one the exporter writes.

Feature properties read:

- ``id`` (or the feature ``id``): unique. RFC 7946 makes it optional: without one, the id is
  derived so that re-importing the same file updates the same zones: ``name-<slug of name>``
  (with ``-<geometry hash>`` when two features share a name), else ``geom-<geometry hash>``.
- ``kind``: ``exclusion`` (default), ``inclusion`` / ``operating_area``, ``advisory``, ``ceiling_cell``.
- ``name``, ``reason``, ``source``, ``message``: text.
- ``floor``, ``ceiling``: numbers in ``uom`` (``m`` default, or ``ft``) above ``vertical_reference``
  (``AGL`` default, ``AMSL``, ``WGS84``), or per limit ``floor_reference`` / ``ceiling_reference``;
  absent or null: from the ground / unlimited.
- ``radius_m``: with a ``Point`` geometry, the zone is a circle. A Polygon with
  ``circle: {centre: [lon, lat], radius_m}`` (what the exporter writes) is read as that circle.
- ``ceiling_agl_m`` or ``CEILING`` (feet): for ``ceiling_cell`` features.
- ``applicability``: list of ``{start?, end?, schedule?: [{days: [MON..SUN|ANY], start: "HH:MM",
  end: "HH:MM", timezone?: "America/Denver"}], timezone?}``; absent: permanent.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from geofence.errors import InvalidGeometryError, InvalidTimeError
from geofence.loaders.document import Json, read_features, zone_set
from geofence.loaders.geometry import (
    read_circle,
    read_datum,
    read_limit,
    read_polygon,
    read_uom_scale,
)
from geofence.loaders.times import UTC, read_applicability, read_datetime, read_period
from geofence.loaders.uasfm import read_ceiling_cell
from geofence.schedule import Applicability, parse_timezone
from geofence.zones import (
    CeilingCell,
    Zone,
    ZoneCircle,
    ZoneKind,
    ZonePolygon,
    ZoneSet,
    validate_zone,
)

_KINDS = {
    "exclusion": ZoneKind.EXCLUSION,
    "keep_out": ZoneKind.EXCLUSION,
    "inclusion": ZoneKind.INCLUSION,
    "operating_area": ZoneKind.INCLUSION,
    "advisory": ZoneKind.ADVISORY,
}


@dataclass(frozen=True, slots=True)
class DerivedId:
    """The id given to a feature that had none, and what it was derived from."""

    feature: int
    id: str
    derived_from: str  # "name" | "geometry"


def _given_id(f: Json) -> str | None:
    props = f.get("properties")
    raw = props.get("id", f.get("id")) if isinstance(props, dict) else f.get("id")
    if raw is None or str(raw).strip() == "":
        return None
    return str(raw)


def _geometry_hash(f: Json) -> str:
    # Canonical JSON, so the same geometry written with other key order or spacing hashes alike.
    canonical = json.dumps(f.get("geometry"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:12]


def _name_slug(f: Json) -> str:
    props = f.get("properties")
    name = str(props.get("name") or "") if isinstance(props, dict) else ""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:80]


def derived_ids(data: Json) -> list[DerivedId]:
    """The ids derived for the features of a GeoJSON document that have none (see the module docstring)."""
    features = read_features(data)
    missing = [i for i, f in enumerate(features) if _given_id(f) is None]
    slugs = {i: _name_slug(features[i]) for i in missing}
    shared = {s for s in slugs.values() if s and list(slugs.values()).count(s) > 1}
    result = []
    for i in missing:
        slug = slugs[i]
        if not slug:
            result.append(DerivedId(i, f"geom-{_geometry_hash(features[i])}", "geometry"))
        elif slug in shared:
            result.append(DerivedId(i, f"name-{slug}-{_geometry_hash(features[i])}", "name"))
        else:
            result.append(DerivedId(i, f"name-{slug}", "name"))
    return result


def _read_shape(geometry: Any, props: Json, zone_id: str) -> ZonePolygon | ZoneCircle:
    if not isinstance(geometry, dict):
        raise InvalidGeometryError("feature has no geometry", zone_id=zone_id, field="geometry")
    gtype = geometry.get("type")
    circle = props.get("circle")
    if isinstance(circle, dict):
        return read_circle(circle.get("centre"), circle.get("radius_m"), zone_id)
    if gtype == "Polygon":
        return read_polygon(geometry.get("coordinates"), zone_id)
    if gtype == "Point":
        if "radius_m" not in props:
            raise InvalidGeometryError(
                "a Point zone needs 'radius_m'", zone_id=zone_id, field="radius_m"
            )
        return read_circle(geometry.get("coordinates"), props["radius_m"], zone_id)
    raise InvalidGeometryError(
        f"geometry type {gtype!r} is not supported (Polygon, or Point with radius_m)",
        zone_id=zone_id,
        field="geometry",
    )


def _read_applicability_entry(entry: Any, zone_id: str) -> Applicability:
    if not isinstance(entry, dict):
        raise InvalidTimeError(f"zone {zone_id!r}: applicability entries must be objects")
    tz = parse_timezone(str(entry["timezone"])) if "timezone" in entry else None
    schedule = tuple(
        read_period(p, zone_id, "start", "end", tz) for p in entry.get("schedule") or []
    )
    start = read_datetime(entry["start"], zone_id, tz or UTC) if entry.get("start") else None
    end = read_datetime(entry["end"], zone_id, tz or UTC) if entry.get("end") else None
    permanent = bool(entry.get("permanent", start is None and end is None and not schedule))
    return Applicability(permanent, start, end, schedule)


def _read_zone(f: Json, props: Json, zone_id: str, kind_raw: str) -> Zone:
    if kind_raw not in _KINDS:
        raise InvalidGeometryError(f"unknown kind {kind_raw!r}", zone_id=zone_id, field="kind")
    scale = read_uom_scale(props.get("uom"), zone_id)
    datum = read_datum(props.get("vertical_reference"), zone_id)
    floor_datum = read_datum(props.get("floor_reference") or datum, zone_id)
    ceiling_datum = read_datum(props.get("ceiling_reference") or datum, zone_id)
    zone = Zone(
        id=zone_id,
        kind=_KINDS[kind_raw],
        shape=_read_shape(f.get("geometry"), props, zone_id),
        name=str(props.get("name") or ""),
        reason=str(props.get("reason") or ""),
        source=str(props.get("source") or "geojson"),
        message=str(props.get("message") or ""),
        floor=read_limit(props.get("floor"), scale, floor_datum, zone_id, "floor"),
        ceiling=read_limit(props.get("ceiling"), scale, ceiling_datum, zone_id, "ceiling"),
        applicability=read_applicability(
            props.get("applicability"), zone_id, _read_applicability_entry
        ),
    )
    return validate_zone(zone)


def load_geojson(data: Json) -> ZoneSet:
    """Our documented GeoJSON FeatureCollection (see the module docstring)."""
    zones: list[Zone] = []
    cells: list[CeilingCell] = []
    derived = {d.feature: d.id for d in derived_ids(data)}
    for i, f in enumerate(read_features(data)):
        zone_id = _given_id(f) or derived[i]
        props = f.get("properties") or {}
        if not isinstance(props, dict):
            raise InvalidGeometryError(
                "properties must be an object", zone_id=zone_id, field="properties"
            )
        kind_raw = str(props.get("kind", "exclusion")).lower()
        if kind_raw == "ceiling_cell":
            cells.append(read_ceiling_cell(f, props, zone_id, "geojson"))
        else:
            zones.append(_read_zone(f, props, zone_id, kind_raw))
    return zone_set(zones, cells)
