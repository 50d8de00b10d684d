"""Zone importers (GeoJSON, EUROCAE ED-269, ED-318, FAA UASFM grid): validate everything, import all or nothing.

Our GeoJSON (RFC 7946 FeatureCollection) reads these feature properties:

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

import csv
import io
import json
import logging
import math
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, time, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

import shapely
from shapely.geometry import Polygon

from geofence.errors import GeofenceError, ImportFormatError, InvalidGeometryError, InvalidTimeError
from geofence.geo import FEET_TO_M, Altitude, AltitudeDatum, GeoPoint
from geofence.schedule import DAY_NAMES, Applicability, DailyPeriod, parse_timezone
from geofence.zones import (
    CeilingCell,
    Zone,
    ZoneCircle,
    ZoneKind,
    ZonePolygon,
    ZoneSet,
    validate_cell,
    validate_zone,
)

logger = logging.getLogger(__name__)

FORMATS: tuple[str, ...] = ("geojson", "ed269", "ed318", "uasfm")
#: A UASFM grid cell is 30 x 30 arc-seconds; used when a CSV row gives only the cell centre.
UASFM_CELL_DEG = 30.0 / 3600.0
_UTC = ZoneInfo("UTC")

Json = dict[str, Any]


# -- entry point ------------------------------------------------------------------------------------


def load_zones(document: bytes | str | Mapping[str, Any], format: str | None = None) -> ZoneSet:
    """Parse a zone document into a validated ZoneSet; raise on the first bad zone, importing nothing."""
    if format is not None and format not in FORMATS:
        raise ImportFormatError(f"unknown format {format!r}; expected one of {', '.join(FORMATS)}")
    if isinstance(document, Mapping):
        data: Any = dict(document)
        text = None
    else:
        text = document.decode("utf-8-sig") if isinstance(document, bytes) else document
        try:
            data = json.loads(text)
        except ValueError:
            data = None
    if data is None:
        if text is not None and format in (None, "uasfm") and _looks_like_csv(text):
            return _guard(lambda: load_uasfm_csv(text))
        raise ImportFormatError("document is neither JSON nor a UASFM CSV")
    if not isinstance(data, dict):
        raise ImportFormatError("document must be a JSON object")
    fmt = format or detect_format(data)
    loader: Callable[[Json], ZoneSet] = {
        "geojson": load_geojson,
        "ed269": load_ed269,
        "ed318": load_ed318,
        "uasfm": load_uasfm_geojson,
    }[fmt]
    return _guard(lambda: loader(data))


def _guard(fn: Callable[[], ZoneSet]) -> ZoneSet:
    # Anything unexpected in a document becomes an import error, never a crash half-way.
    try:
        return fn()
    except GeofenceError:
        raise
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
        raise ImportFormatError(f"malformed document: {exc!r}") from exc


def detect_format(data: Json) -> str:
    """Which of FORMATS a parsed JSON document is in."""
    features = data.get("features")
    if not isinstance(features, list):
        raise ImportFormatError("no 'features' list: not a GeoJSON, ED-269 or ED-318 document")
    if not features:
        return "geojson"
    first = features[0]
    if not isinstance(first, dict):
        raise ImportFormatError("features must be objects")
    if "restriction" in first and isinstance(first.get("geometry"), list):
        return "ed269"
    props = first.get("properties") or {}
    if "CEILING" in props and props.get("kind") != "ceiling_cell":
        return "uasfm"
    geometry = first.get("geometry") or {}
    if (
        "variant" in props
        or "zoneAuthority" in props
        or "layer" in geometry
        or "extent" in geometry
    ):
        return "ed318"
    return "geojson"


# -- shared parsing ---------------------------------------------------------------------------------


def _position(raw: Any, zone_id: str) -> GeoPoint:
    """A GeoJSON [lon, lat] position; swapped order is detected where the values allow."""
    if not isinstance(raw, list | tuple) or len(raw) < 2:
        raise InvalidGeometryError(
            f"position {raw!r} is not [lon, lat]", zone_id=zone_id, field="coordinates"
        )
    lon, lat = raw[0], raw[1]
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (lon, lat)):
        raise InvalidGeometryError(
            f"position {raw!r} is not numeric", zone_id=zone_id, field="coordinates"
        )
    if not (math.isfinite(lon) and math.isfinite(lat)):
        raise InvalidGeometryError(
            f"position {raw!r} is not finite", zone_id=zone_id, field="coordinates"
        )
    if abs(lat) > 90.0:
        hint = " (looks like [lat, lon]; GeoJSON order is [lon, lat])" if abs(lon) <= 90.0 else ""
        raise InvalidGeometryError(
            f"latitude {lat} is outside -90..90{hint}", zone_id=zone_id, field="coordinates"
        )
    if abs(lon) > 180.0:
        raise InvalidGeometryError(
            f"longitude {lon} is outside -180..180", zone_id=zone_id, field="coordinates"
        )
    return GeoPoint(float(lat), float(lon))


def _ring(raw: Any, zone_id: str, what: str = "ring") -> tuple[GeoPoint, ...]:
    if not isinstance(raw, list) or len(raw) < 4:
        n = len(raw) if isinstance(raw, list) else 0
        raise InvalidGeometryError(
            f"{what} has {n} positions; a closed ring needs at least 4 (3 vertices + closing)",
            zone_id=zone_id,
            field="coordinates",
        )
    pts = [_position(p, zone_id) for p in raw]
    if pts[0] != pts[-1]:
        raise InvalidGeometryError(
            f"{what} is not closed (first position differs from last)",
            zone_id=zone_id,
            field="coordinates",
        )
    return tuple(pts[:-1])


def _polygon(raw: Any, zone_id: str) -> ZonePolygon:
    if not isinstance(raw, list) or not raw:
        raise InvalidGeometryError("polygon has no rings", zone_id=zone_id, field="coordinates")
    exterior = _ring(raw[0], zone_id, "exterior ring")
    holes = tuple(_ring(r, zone_id, f"hole {i}") for i, r in enumerate(raw[1:]))
    return ZonePolygon(exterior, holes)


def _radius(raw: Any, zone_id: str, scale: float = 1.0) -> float:
    if (
        not isinstance(raw, int | float)
        or isinstance(raw, bool)
        or not math.isfinite(raw)
        or raw <= 0
    ):
        raise InvalidGeometryError(
            f"circle radius {raw!r} must be a number > 0", zone_id=zone_id, field="radius"
        )
    return float(raw) * scale


def _uom_scale(raw: Any, zone_id: str) -> float:
    unit = str(raw if raw is not None else "m").strip().upper()
    if unit in ("M", "METRE", "METER", "METERS", "METRES"):
        return 1.0
    if unit in ("FT", "FEET", "FOOT"):
        return FEET_TO_M
    raise InvalidGeometryError(
        f"unknown unit of measure {raw!r} (expected M or FT)", zone_id=zone_id, field="uom"
    )


def _datum(raw: Any, zone_id: str) -> AltitudeDatum:
    ref = str(raw if raw is not None else "AGL").strip().upper()
    aliases = {"AGL": "AGL", "AMSL": "AMSL", "MSL": "AMSL", "WGS84": "WGS84", "TAKEOFF": "TAKEOFF"}
    if ref not in aliases:
        raise InvalidGeometryError(
            f"unknown vertical reference {raw!r}", zone_id=zone_id, field="verticalReference"
        )
    return AltitudeDatum(aliases[ref])


def _limit(
    value: Any, scale: float, datum: AltitudeDatum, zone_id: str, what: str
) -> Altitude | None:
    if value is None:
        return None
    if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
        raise InvalidGeometryError(f"{what} {value!r} is not a number", zone_id=zone_id, field=what)
    return Altitude(float(value) * scale, datum)


def _datetime(raw: Any, zone_id: str, default_tz: tzinfo = _UTC) -> datetime:
    if not isinstance(raw, str):
        raise InvalidTimeError(f"zone {zone_id!r}: date-time {raw!r} is not a string")
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError as exc:
        raise InvalidTimeError(f"zone {zone_id!r}: bad date-time {raw!r}") from exc
    return value if value.tzinfo is not None else value.replace(tzinfo=default_tz)


def _clock(raw: Any, zone_id: str) -> tuple[time, tzinfo | None]:
    """'hh:mm[:ss[.ss]][Z|+hh:mm]' to a local time and its zone if given."""
    if not isinstance(raw, str):
        raise InvalidTimeError(f"zone {zone_id!r}: time {raw!r} is not a string")
    text = raw.strip()
    tz: tzinfo | None = None
    if text.endswith("Z"):
        text, tz = text[:-1], _UTC
    try:
        value = time.fromisoformat(text)
    except ValueError as exc:
        raise InvalidTimeError(f"zone {zone_id!r}: bad time of day {raw!r}") from exc
    if value.tzinfo is not None:
        tz = value.tzinfo
        value = value.replace(tzinfo=None)
    return value, tz


def _days(raw: Any, zone_id: str) -> frozenset[int]:
    if not isinstance(raw, list) or not raw:
        raise InvalidTimeError(f"zone {zone_id!r}: schedule days must be a non-empty list")
    days: set[int] = set()
    for d in raw:
        name = str(d).upper()[:3]
        if name == "ANY":
            days.update(range(7))
        elif name in DAY_NAMES:
            days.add(DAY_NAMES.index(name))
        else:
            raise InvalidTimeError(f"zone {zone_id!r}: unknown day {d!r}")
    return frozenset(days)


def _period(
    raw: Json, zone_id: str, start_key: str, end_key: str, tz: tzinfo | None
) -> DailyPeriod:
    start, tz_start = _clock(raw.get(start_key), zone_id)
    end, tz_end = _clock(raw.get(end_key), zone_id)
    if "timezone" in raw:
        tz = parse_timezone(str(raw["timezone"]))
    return DailyPeriod(
        _days(raw.get("day", raw.get("days")), zone_id),
        start,
        end,
        tz or tz_start or tz_end or _UTC,
    )


# -- our GeoJSON ------------------------------------------------------------------------------------

_KINDS = {
    "exclusion": ZoneKind.EXCLUSION,
    "keep_out": ZoneKind.EXCLUSION,
    "inclusion": ZoneKind.INCLUSION,
    "operating_area": ZoneKind.INCLUSION,
    "advisory": ZoneKind.ADVISORY,
}


def _features(data: Json) -> list[Json]:
    if data.get("type") not in ("FeatureCollection", None):
        raise ImportFormatError(f"expected a FeatureCollection, got type {data.get('type')!r}")
    features = data.get("features")
    if not isinstance(features, list):
        raise ImportFormatError("'features' must be a list")
    for i, f in enumerate(features):
        if not isinstance(f, dict):
            raise ImportFormatError(f"feature {i} is not an object")
    return features


def _feature_id(f: Json, index: int) -> str:
    props = f.get("properties") or {}
    raw = props.get("id", f.get("id"))
    if raw is None or str(raw).strip() == "":
        raise InvalidGeometryError(f"feature {index} has no id", zone_id=f"#{index}", field="id")
    return str(raw)


def _geojson_shape(geometry: Any, props: Json, zone_id: str) -> ZonePolygon | ZoneCircle:
    if not isinstance(geometry, dict):
        raise InvalidGeometryError("feature has no geometry", zone_id=zone_id, field="geometry")
    gtype = geometry.get("type")
    circle = props.get("circle")
    if isinstance(circle, dict):
        return ZoneCircle(
            _position(circle.get("centre"), zone_id), _radius(circle.get("radius_m"), zone_id)
        )
    if gtype == "Polygon":
        return _polygon(geometry.get("coordinates"), zone_id)
    if gtype == "Point":
        if "radius_m" not in props:
            raise InvalidGeometryError(
                "a Point zone needs 'radius_m'", zone_id=zone_id, field="radius_m"
            )
        return ZoneCircle(
            _position(geometry.get("coordinates"), zone_id), _radius(props["radius_m"], zone_id)
        )
    raise InvalidGeometryError(
        f"geometry type {gtype!r} is not supported (Polygon, or Point with radius_m)",
        zone_id=zone_id,
        field="geometry",
    )


def _geojson_applicability(raw: Any, zone_id: str) -> tuple[Applicability, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise InvalidTimeError(f"zone {zone_id!r}: applicability must be a list")
    out = []
    for entry in raw:
        if not isinstance(entry, dict):
            raise InvalidTimeError(f"zone {zone_id!r}: applicability entries must be objects")
        tz = parse_timezone(str(entry["timezone"])) if "timezone" in entry else None
        schedule = tuple(
            _period(p, zone_id, "start", "end", tz) for p in entry.get("schedule") or []
        )
        start = _datetime(entry["start"], zone_id, tz or _UTC) if entry.get("start") else None
        end = _datetime(entry["end"], zone_id, tz or _UTC) if entry.get("end") else None
        permanent = bool(entry.get("permanent", start is None and end is None and not schedule))
        out.append(Applicability(permanent, start, end, schedule))
    return tuple(out)


def load_geojson(data: Json) -> ZoneSet:
    """Our documented GeoJSON FeatureCollection (see the module docstring)."""
    zones: list[Zone] = []
    cells: list[CeilingCell] = []
    for i, f in enumerate(_features(data)):
        zone_id = _feature_id(f, i)
        props = f.get("properties") or {}
        if not isinstance(props, dict):
            raise InvalidGeometryError(
                "properties must be an object", zone_id=zone_id, field="properties"
            )
        kind_raw = str(props.get("kind", "exclusion")).lower()
        if kind_raw == "ceiling_cell":
            cells.append(_cell_from(f, props, zone_id, "geojson"))
            continue
        if kind_raw not in _KINDS:
            raise InvalidGeometryError(f"unknown kind {kind_raw!r}", zone_id=zone_id, field="kind")
        scale = _uom_scale(props.get("uom"), zone_id)
        datum = _datum(props.get("vertical_reference"), zone_id)
        floor_datum = _datum(props.get("floor_reference") or datum, zone_id)
        ceiling_datum = _datum(props.get("ceiling_reference") or datum, zone_id)
        zones.append(
            validate_zone(
                Zone(
                    id=zone_id,
                    kind=_KINDS[kind_raw],
                    shape=_geojson_shape(f.get("geometry"), props, zone_id),
                    name=str(props.get("name") or ""),
                    reason=str(props.get("reason") or ""),
                    source=str(props.get("source") or "geojson"),
                    message=str(props.get("message") or ""),
                    floor=_limit(props.get("floor"), scale, floor_datum, zone_id, "floor"),
                    ceiling=_limit(props.get("ceiling"), scale, ceiling_datum, zone_id, "ceiling"),
                    applicability=_geojson_applicability(props.get("applicability"), zone_id),
                )
            )
        )
    return _zone_set(zones, cells)


def _zone_set(zones: Sequence[Zone], cells: Sequence[CeilingCell]) -> ZoneSet:
    result = ZoneSet(tuple(zones), tuple(cells))
    logger.info("zones parsed", extra={"zones": len(zones), "ceiling_cells": len(cells)})
    return result


# -- EUROCAE ED-269 ---------------------------------------------------------------------------------

_ED269_RESTRICTION = {
    "PROHIBITED": ZoneKind.EXCLUSION,
    "REQ_AUTHORISATION": ZoneKind.EXCLUSION,
    "REQ_AUTHORIZATION": ZoneKind.EXCLUSION,
    "CONDITIONAL": ZoneKind.ADVISORY,
    "NO_RESTRICTION": ZoneKind.ADVISORY,
    "USPACE": ZoneKind.ADVISORY,
}


def _ed_applicability(raw: Any, zone_id: str) -> tuple[Applicability, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise InvalidTimeError(f"zone {zone_id!r}: applicability must be a list")
    out = []
    for entry in raw:
        permanent = str(entry.get("permanent", "NO")).upper() == "YES"
        schedule = tuple(
            _period(p, zone_id, "startTime", "endTime", None) for p in entry.get("schedule") or []
        )
        start = _datetime(entry["startDateTime"], zone_id) if entry.get("startDateTime") else None
        end = _datetime(entry["endDateTime"], zone_id) if entry.get("endDateTime") else None
        out.append(Applicability(permanent, start, end, schedule))
    return tuple(out)


def _ed_reason(reasons: Any, other: Any) -> str:
    parts = [str(r) for r in reasons] if isinstance(reasons, list) else []
    if other:
        parts.append(str(other))
    return ", ".join(parts)


def load_ed269(data: Json) -> ZoneSet:
    """EUROCAE ED-269 `{features: [UASZoneVersion]}`; positions read as GeoJSON [lon, lat]."""
    features = data.get("features")
    if not isinstance(features, list):
        raise ImportFormatError("ED-269 document needs 'features'")
    zones: list[Zone] = []
    for i, f in enumerate(features):
        if not isinstance(f, dict):
            raise ImportFormatError(f"feature {i} is not an object")
        base_id = str(f.get("identifier") or "").strip()
        if not base_id:
            raise InvalidGeometryError(
                f"feature {i} has no identifier", zone_id=f"#{i}", field="identifier"
            )
        restriction = str(f.get("restriction", "")).upper()
        if restriction not in _ED269_RESTRICTION:
            raise InvalidGeometryError(
                f"unknown restriction {f.get('restriction')!r}",
                zone_id=base_id,
                field="restriction",
            )
        volumes = f.get("geometry")
        if not isinstance(volumes, list) or not volumes:
            raise InvalidGeometryError(
                "geometry must list at least one volume", zone_id=base_id, field="geometry"
            )
        applicability = _ed_applicability(f.get("applicability"), base_id)
        for k, vol in enumerate(volumes):
            zone_id = base_id if len(volumes) == 1 else f"{base_id}-{k}"
            scale = _uom_scale(vol.get("uomDimensions"), zone_id)
            proj = vol.get("horizontalProjection") or {}
            ptype = proj.get("type")
            shape: ZonePolygon | ZoneCircle
            if ptype == "Polygon":
                shape = _polygon(proj.get("coordinates"), zone_id)
            elif ptype == "Circle":
                shape = ZoneCircle(
                    _position(proj.get("center"), zone_id),
                    _radius(proj.get("radius"), zone_id, scale),
                )
            else:
                raise InvalidGeometryError(
                    f"horizontalProjection type {ptype!r} (expected Polygon or Circle)",
                    zone_id=zone_id,
                    field="type",
                )
            zones.append(
                validate_zone(
                    Zone(
                        id=zone_id,
                        kind=_ED269_RESTRICTION[restriction],
                        shape=shape,
                        name=str(f.get("name") or ""),
                        reason=_ed_reason(f.get("reason"), f.get("otherReasonInfo")),
                        source=f"ED-269 {f.get('country', '')}".strip(),
                        message=str(f.get("message") or ""),
                        floor=_limit(
                            vol.get("lowerLimit"),
                            scale,
                            _datum(vol.get("lowerVerticalReference"), zone_id),
                            zone_id,
                            "lowerLimit",
                        ),
                        ceiling=_limit(
                            vol.get("upperLimit"),
                            scale,
                            _datum(vol.get("upperVerticalReference"), zone_id),
                            zone_id,
                            "upperLimit",
                        ),
                        applicability=applicability,
                    )
                )
            )
    return _zone_set(zones, ())


# -- EUROCAE ED-318 ---------------------------------------------------------------------------------


def _text(raw: Any) -> str:
    """ED-318 multilingual text `[{text, lang}]`: English first, else the first."""
    if isinstance(raw, str):
        return raw
    if isinstance(raw, list) and raw:
        for item in raw:
            if isinstance(item, dict) and str(item.get("lang", "")).lower().startswith("en"):
                return str(item.get("text", ""))
        first = raw[0]
        return str(first.get("text", "")) if isinstance(first, dict) else str(first)
    return ""


def _ed318_volume(
    geometry: Json, zone_id: str
) -> tuple[ZonePolygon | ZoneCircle, Altitude | None, Altitude | None]:
    gtype = geometry.get("type")
    layer = geometry.get("layer") or {}
    scale = _uom_scale(layer.get("uom", "m"), zone_id)
    floor = _limit(
        layer.get("lower"), scale, _datum(layer.get("lowerReference"), zone_id), zone_id, "lower"
    )
    ceiling = _limit(
        layer.get("upper"), scale, _datum(layer.get("upperReference"), zone_id), zone_id, "upper"
    )
    shape: ZonePolygon | ZoneCircle
    if gtype == "Polygon":
        shape = _polygon(geometry.get("coordinates"), zone_id)
    elif gtype == "Point":
        extent = geometry.get("extent") or {}
        if str(extent.get("subType", "")).lower() != "circle":
            raise InvalidGeometryError(
                "a Point geozone needs extent {subType: Circle}", zone_id=zone_id, field="extent"
            )
        shape = ZoneCircle(
            _position(geometry.get("coordinates"), zone_id),
            _radius(extent.get("radius"), zone_id, scale),
        )
    else:
        raise InvalidGeometryError(
            f"geometry type {gtype!r} is not supported", zone_id=zone_id, field="geometry"
        )
    return shape, floor, ceiling


def load_ed318(data: Json) -> ZoneSet:
    """EUROCAE ED-318 GeoJSON geozones (Polygon, Point+extent Circle, GeometryCollection of layers)."""
    zones: list[Zone] = []
    for i, f in enumerate(_features(data)):
        props = f.get("properties") or {}
        base_id = str(props.get("identifier") or f.get("id") or "").strip()
        if not base_id:
            raise InvalidGeometryError(
                f"feature {i} has no identifier", zone_id=f"#{i}", field="identifier"
            )
        ztype = str(props.get("type", "")).upper()
        if ztype not in _ED269_RESTRICTION:
            raise InvalidGeometryError(
                f"unknown geozone type {props.get('type')!r}", zone_id=base_id, field="type"
            )
        geometry = f.get("geometry")
        if not isinstance(geometry, dict):
            raise InvalidGeometryError("feature has no geometry", zone_id=base_id, field="geometry")
        parts = (
            geometry.get("geometries")
            if geometry.get("type") == "GeometryCollection"
            else [geometry]
        )
        if not isinstance(parts, list) or not parts:
            raise InvalidGeometryError(
                "empty GeometryCollection", zone_id=base_id, field="geometry"
            )
        applicability = _ed_applicability(props.get("limitedApplicability"), base_id)
        for k, part in enumerate(parts):
            zone_id = base_id if len(parts) == 1 else f"{base_id}-{k}"
            shape, floor, ceiling = _ed318_volume(part, zone_id)
            zones.append(
                validate_zone(
                    Zone(
                        id=zone_id,
                        kind=_ED269_RESTRICTION[ztype],
                        shape=shape,
                        name=_text(props.get("name")),
                        reason=_ed_reason(props.get("reason"), _text(props.get("otherReasonInfo"))),
                        source=f"ED-318 {props.get('country', '')}".strip(),
                        message=_text(props.get("message")),
                        floor=floor,
                        ceiling=ceiling,
                        applicability=applicability,
                    )
                )
            )
    return _zone_set(zones, ())


# -- FAA UAS Facility Map grid ----------------------------------------------------------------------


def _ceiling_m(raw: Any, unit: Any, cell_id: str) -> float:
    try:
        value = float(raw)
    except (TypeError, ValueError) as exc:
        raise InvalidGeometryError(
            f"CEILING {raw!r} is not a number", zone_id=cell_id, field="CEILING"
        ) from exc
    unit_name = str(unit or "Feet").strip().lower()
    if unit_name in ("feet", "ft", "foot"):
        return value * FEET_TO_M
    if unit_name in ("meters", "metres", "m"):
        return value
    raise InvalidGeometryError(f"unknown UNIT {unit!r}", zone_id=cell_id, field="UNIT")


def _cell_from(f: Json, props: Json, cell_id: str, source: str) -> CeilingCell:
    geometry = f.get("geometry") or {}
    if geometry.get("type") != "Polygon":
        raise InvalidGeometryError(
            "a ceiling cell must be a Polygon", zone_id=cell_id, field="geometry"
        )
    if "ceiling_agl_m" in props:
        ceiling = _ceiling_m(props["ceiling_agl_m"], "m", cell_id)
    else:
        ceiling = _ceiling_m(props.get("CEILING"), props.get("UNIT"), cell_id)
    return validate_cell(
        CeilingCell(
            id=cell_id,
            shape=_polygon(geometry.get("coordinates"), cell_id),
            ceiling_agl_m=ceiling,
            source=source,
            airport=str(props.get("APT1_FAAID") or props.get("airport") or ""),
        )
    )


def _uasfm_id(props: Mapping[str, Any], f: Mapping[str, Any] | None, index: int) -> str:
    for key in ("GLOBALID", "OBJECTID"):
        if props.get(key) not in (None, ""):
            return f"uasfm-{props[key]}"
    if f is not None and f.get("id") is not None:
        return f"uasfm-{f['id']}"
    return f"uasfm-{index}"


def load_uasfm_geojson(data: Json) -> ZoneSet:
    """A UASFM FeatureServer `f=geojson` answer: Polygon cells with CEILING (feet AGL)."""
    cells = []
    for i, f in enumerate(_features(data)):
        props = f.get("properties") or {}
        cells.append(_cell_from(f, props, _uasfm_id(props, f, i), "FAA UASFM"))
    return _zone_set((), cells)


def _looks_like_csv(text: str) -> bool:
    head = text.lstrip().split("\n", 1)[0].upper()
    return "CEILING" in head and "," in head


def load_uasfm_csv(text: str) -> ZoneSet:
    """UASFM CSV: CEILING (UNIT, default feet) and a cell as WKT POLYGON or LATITUDE/LONGITUDE centre."""
    reader = csv.DictReader(io.StringIO(text))
    if reader.fieldnames is None:
        raise ImportFormatError("empty CSV")
    fields = {name.strip().upper(): name for name in reader.fieldnames}
    if "CEILING" not in fields:
        raise ImportFormatError("UASFM CSV needs a CEILING column")
    wkt_col = next(
        (fields[k] for k in ("WKT", "GEOMETRY", "THE_GEOM", "SHAPE") if k in fields), None
    )
    has_centre = "LATITUDE" in fields and "LONGITUDE" in fields
    if wkt_col is None and not has_centre:
        raise ImportFormatError("UASFM CSV needs a WKT column or LATITUDE and LONGITUDE")
    cells = []
    for i, row in enumerate(reader):
        props = {k.strip().upper(): v for k, v in row.items() if k is not None}
        cell_id = _uasfm_id(props, None, i)
        if wkt_col is not None and row.get(wkt_col):
            try:
                geom = shapely.from_wkt(row[wkt_col])
            except shapely.errors.GEOSException as exc:
                raise InvalidGeometryError(f"bad WKT: {exc}", zone_id=cell_id, field="WKT") from exc
            if not isinstance(geom, Polygon):
                raise InvalidGeometryError(
                    "WKT cell must be a POLYGON", zone_id=cell_id, field="WKT"
                )
            ring = [list(c) for c in geom.exterior.coords]
        else:
            centre = _position(
                [_float(props["LONGITUDE"], cell_id), _float(props["LATITUDE"], cell_id)], cell_id
            )
            h = UASFM_CELL_DEG / 2
            lo, la = centre.lon_deg, centre.lat_deg
            ring = [
                [lo - h, la - h],
                [lo + h, la - h],
                [lo + h, la + h],
                [lo - h, la + h],
                [lo - h, la - h],
            ]
        cells.append(
            validate_cell(
                CeilingCell(
                    id=cell_id,
                    shape=_polygon([ring], cell_id),
                    ceiling_agl_m=_ceiling_m(props.get("CEILING"), props.get("UNIT"), cell_id),
                    source="FAA UASFM",
                    airport=str(props.get("APT1_FAAID") or ""),
                )
            )
        )
    return _zone_set((), cells)


def _float(raw: Any, cell_id: str) -> float:
    try:
        return float(raw)
    except (TypeError, ValueError) as exc:
        raise InvalidGeometryError(
            f"{raw!r} is not a number", zone_id=cell_id, field="LATITUDE"
        ) from exc
