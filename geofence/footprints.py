"""Zone footprints in local metres, ready for vectorised queries: grown by the margin, with their limits."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

import numpy as np
import numpy.typing as npt
import shapely
from shapely.geometry import Point
from shapely.geometry.base import BaseGeometry

from geofence.projection import LocalProjection
from geofence.router import CLEARANCE_M
from geofence.zones import Zone, ZoneCircle, ZoneKind, agl_limit_m

_CIRCLE_SEGMENTS: Final = 8


@dataclass
class Footprints:
    """One kind of zone projected once: shapes for routing and for checks, an index, limits as arrays."""

    zones: list[Zone]
    buffered: list[BaseGeometry]  # buffered by the margin (for routing)
    checked: list[BaseGeometry]  # buffered by the margin, less the clearance (for checks)
    tree: shapely.STRtree | None
    floor_agl_m: npt.NDArray[np.float64]
    ceiling_agl_m: npt.NDArray[np.float64]
    permanent: npt.NDArray[np.bool_]

    def active_mask(self, at: datetime) -> npt.NDArray[np.bool_]:
        """Which zones apply at `at`."""
        mask = self.permanent.copy()
        for i in np.nonzero(~self.permanent)[0]:
            mask[i] = self.zones[int(i)].is_active(at)
        return mask


def _footprint(zone: Zone, projection: LocalProjection, margin_m: float) -> BaseGeometry:
    if isinstance(zone.shape, ZoneCircle):
        centre = Point(projection.to_xy(zone.shape.centre))
        if zone.kind is ZoneKind.INCLUSION:
            return centre.buffer(zone.shape.radius_m, quad_segs=16)
        # Circumscribed polygon: its edges stay outside the true circle plus margin.
        r = (zone.shape.radius_m + margin_m) / math.cos(math.pi / _CIRCLE_SEGMENTS)
        return centre.buffer(r, quad_segs=_CIRCLE_SEGMENTS // 4)
    poly = projection.project(zone.shape.to_shapely_lonlat())
    if margin_m > 0:
        # Mitred corners add no vertices (fewer graph nodes) and stay >= margin away;
        # the limit bevels needle-sharp corners, still no closer than the margin.
        poly = poly.buffer(margin_m, join_style="mitre", mitre_limit=2.0)
    return poly


def project_zones(
    zones: Sequence[Zone],
    projection: LocalProjection,
    margin_m: float,
    ground_amsl_m: float | None,
) -> Footprints:
    """`zones` in local metres, grown by `margin_m`; AMSL limits read over `ground_amsl_m`."""
    buffered = [_footprint(z, projection, margin_m) for z in zones]
    arr = np.array(buffered, dtype=object)
    checked = list(shapely.buffer(arr, -CLEARANCE_M, join_style="mitre")) if len(arr) else []
    # Prepare now: a first query would otherwise pay for it in the middle of a check.
    shapely.prepare(np.array(checked, dtype=object))
    return Footprints(
        zones=list(zones),
        buffered=buffered,
        checked=checked,
        tree=shapely.STRtree(checked) if checked else None,
        floor_agl_m=np.array([agl_limit_m(z.floor, ground_amsl_m, 0.0) for z in zones], float),
        ceiling_agl_m=np.array(
            [agl_limit_m(z.ceiling, ground_amsl_m, math.inf) for z in zones], float
        ),
        permanent=np.array([z.is_permanent for z in zones], bool),
    )
