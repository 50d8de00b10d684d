"""The supported zone formats: telling them apart, and the one entry point that reads any of them."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from geofence.errors import ImportFormatError
from geofence.loaders.document import Json, all_or_nothing
from geofence.loaders.ed269 import load_ed269
from geofence.loaders.ed318 import load_ed318
from geofence.loaders.geojson import load_geojson
from geofence.loaders.uasfm import load_uasfm_csv, load_uasfm_geojson, looks_like_uasfm_csv
from geofence.zones import ZoneSet

_LOADERS: dict[str, Callable[[Json], ZoneSet]] = {
    "geojson": load_geojson,
    "ed269": load_ed269,
    "ed318": load_ed318,
    "uasfm": load_uasfm_geojson,
}
FORMATS: tuple[str, ...] = tuple(_LOADERS)


def load_zones(document: bytes | str | Mapping[str, Any], format: str | None = None) -> ZoneSet:
    """Parse a zone document into a validated ZoneSet; raise on the first bad zone, importing nothing."""
    if format is not None and format not in FORMATS:
        raise ImportFormatError(f"unknown format {format!r}; expected one of {', '.join(FORMATS)}")
    if isinstance(document, Mapping):
        data: Any = dict(document)
        text = None
    else:
        try:
            text = document.decode("utf-8-sig") if isinstance(document, bytes) else document
        except UnicodeDecodeError as exc:
            raise ImportFormatError(f"document is not UTF-8 text (byte {exc.start})") from exc
        try:
            data = json.loads(text)
        except RecursionError as exc:
            raise ImportFormatError("document is nested too deeply to be a zone document") from exc
        except ValueError:
            data = None
    if data is None:
        if text is not None and format in (None, "uasfm") and looks_like_uasfm_csv(text):
            return all_or_nothing(lambda: load_uasfm_csv(text))
        raise ImportFormatError("document is neither JSON nor a UASFM CSV")
    if not isinstance(data, dict):
        raise ImportFormatError("document must be a JSON object")
    loader = _LOADERS[format or detect_format(data)]
    return all_or_nothing(lambda: loader(data))


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
