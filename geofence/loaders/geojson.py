"""Our GeoJSON zone format (RFC 7946 FeatureCollection), the one the exporter writes.

Feature properties read:

- ``id`` (or the feature ``id``): required, unique.
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


def _feature_id(f: Json, index: int) -> str:
    props = f.get("properties") or {}
    raw = props.get("id", f.get("id"))
    if raw is None or str(raw).strip() == "":
        raise InvalidGeometryError(f"feature {index} has no id", zone_id=f"#{index}", field="id")
    return str(raw)


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
    for i, f in enumerate(read_features(data)):
        zone_id = _feature_id(f, i)
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
