"""FAA UAS Facility Map grid: ceiling cells from a FeatureServer GeoJSON answer or a CSV export."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from typing import Any

import shapely
from shapely.geometry import Polygon

from geofence.errors import ImportFormatError, InvalidGeometryError
from geofence.geo import FEET_TO_M
from geofence.loaders.document import Json, read_features, zone_set
from geofence.loaders.geometry import read_polygon, read_position
from geofence.zones import CeilingCell, ZoneSet, validate_cell

#: A UASFM grid cell is 30 x 30 arc-seconds; used when a CSV row gives only the cell centre.
UASFM_CELL_DEG = 30.0 / 3600.0

_SOURCE = "FAA UASFM"


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


def read_ceiling_cell(f: Json, props: Json, cell_id: str, source: str) -> CeilingCell:
    """A Polygon feature with `ceiling_agl_m`, or UASFM's CEILING in UNIT (feet by default)."""
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
            shape=read_polygon(geometry.get("coordinates"), cell_id),
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
    for i, f in enumerate(read_features(data)):
        props = f.get("properties") or {}
        cells.append(read_ceiling_cell(f, props, _uasfm_id(props, f, i), _SOURCE))
    return zone_set((), cells)


def looks_like_uasfm_csv(text: str) -> bool:
    """True if the first line is a CSV header with a CEILING column."""
    head = text.lstrip().split("\n", 1)[0].upper()
    return "CEILING" in head and "," in head


def _wkt_ring(raw: str, cell_id: str) -> list[list[float]]:
    try:
        geom = shapely.from_wkt(raw)
    except shapely.errors.GEOSException as exc:
        raise InvalidGeometryError(f"bad WKT: {exc}", zone_id=cell_id, field="WKT") from exc
    if not isinstance(geom, Polygon):
        raise InvalidGeometryError("WKT cell must be a POLYGON", zone_id=cell_id, field="WKT")
    return [list(c) for c in geom.exterior.coords]


def _centre_ring(props: Mapping[str, Any], cell_id: str) -> list[list[float]]:
    centre = read_position(
        [_float(props["LONGITUDE"], cell_id), _float(props["LATITUDE"], cell_id)], cell_id
    )
    h = UASFM_CELL_DEG / 2
    lo, la = centre.lon_deg, centre.lat_deg
    return [
        [lo - h, la - h],
        [lo + h, la - h],
        [lo + h, la + h],
        [lo - h, la + h],
        [lo - h, la - h],
    ]


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
            ring = _wkt_ring(row[wkt_col], cell_id)
        else:
            ring = _centre_ring(props, cell_id)
        cells.append(
            validate_cell(
                CeilingCell(
                    id=cell_id,
                    shape=read_polygon([ring], cell_id),
                    ceiling_agl_m=_ceiling_m(props.get("CEILING"), props.get("UNIT"), cell_id),
                    source=_SOURCE,
                    airport=str(props.get("APT1_FAAID") or ""),
                )
            )
        )
    return zone_set((), cells)


def _float(raw: Any, cell_id: str) -> float:
    try:
        return float(raw)
    except (TypeError, ValueError) as exc:
        raise InvalidGeometryError(
            f"{raw!r} is not a number", zone_id=cell_id, field="LATITUDE"
        ) from exc
