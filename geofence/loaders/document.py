"""A zone document as a whole: its feature list, and the all-or-nothing result of reading it."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from geofence.errors import GeofenceError, ImportFormatError
from geofence.zones import CeilingCell, Zone, ZoneSet

logger = logging.getLogger(__name__)

Json = dict[str, Any]


def read_features(data: Json) -> list[Json]:
    """The `features` of a FeatureCollection, each an object."""
    if data.get("type") not in ("FeatureCollection", None):
        raise ImportFormatError(f"expected a FeatureCollection, got type {data.get('type')!r}")
    features = data.get("features")
    if not isinstance(features, list):
        raise ImportFormatError("'features' must be a list")
    for i, f in enumerate(features):
        if not isinstance(f, dict):
            raise ImportFormatError(f"feature {i} is not an object")
    return features


def zone_set(zones: Sequence[Zone], cells: Sequence[CeilingCell]) -> ZoneSet:
    """Every zone and cell of a document as one validated ZoneSet."""
    result = ZoneSet(tuple(zones), tuple(cells))
    logger.info("zones parsed", extra={"zones": len(zones), "ceiling_cells": len(cells)})
    return result


def all_or_nothing(read: Callable[[], ZoneSet]) -> ZoneSet:
    """The ZoneSet `read` returns; anything unexpected in the document becomes ImportFormatError."""
    # A malformed document must fail as a whole, never crash half-way through it.
    try:
        return read()
    except GeofenceError:
        raise
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
        raise ImportFormatError(f"malformed document: {exc!r}") from exc
