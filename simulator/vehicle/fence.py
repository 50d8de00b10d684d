"""Geofence geometry built from stored FENCE items, checked the way PX4's Geofence does (inclusion/exclusion)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from .mission import Cmd, Item
from .physics import latlon_to_offset


@dataclass(frozen=True, slots=True)
class FenceShape:
    """One polygon (vertices in local metres) or circle (centre + radius) and whether it is an inclusion."""

    inclusion: bool
    vertices: tuple[tuple[float, float], ...] = ()
    center: tuple[float, float] = (0.0, 0.0)
    radius_m: float = 0.0

    def contains(self, north_m: float, east_m: float) -> bool:
        """Whether the local point lies inside the shape."""
        if not self.vertices:
            return math.hypot(north_m - self.center[0], east_m - self.center[1]) <= self.radius_m
        inside = False
        pts = self.vertices
        j = len(pts) - 1
        for i in range(len(pts)):
            ni, ei = pts[i]
            nj, ej = pts[j]
            if (ei > east_m) != (ej > east_m):
                cross = ni + (east_m - ei) * (nj - ni) / (ej - ei)
                if north_m < cross:
                    inside = not inside
            j = i
        return inside


def build_fence(items: list[Item], lat0_deg: float, lon0_deg: float) -> list[FenceShape] | None:
    """Shapes of a fence plan relative to the origin, or None if the vertex groups are inconsistent."""
    shapes: list[FenceShape] = []
    i = 0
    while i < len(items):
        it = items[i]
        if it.command in (Cmd.FENCE_CIRCLE_INCLUSION, Cmd.FENCE_CIRCLE_EXCLUSION):
            shapes.append(
                FenceShape(
                    inclusion=it.command == Cmd.FENCE_CIRCLE_INCLUSION,
                    center=latlon_to_offset(lat0_deg, lon0_deg, it.lat_deg, it.lon_deg),
                    radius_m=it.param1,
                )
            )
            i += 1
        elif it.command in (Cmd.FENCE_POLYGON_VERTEX_INCLUSION, Cmd.FENCE_POLYGON_VERTEX_EXCLUSION):
            count = int(it.param1)
            group = items[i : i + count]
            if len(group) < count or any(
                g.command != it.command or int(g.param1) != count for g in group
            ):
                return None
            shapes.append(
                FenceShape(
                    inclusion=it.command == Cmd.FENCE_POLYGON_VERTEX_INCLUSION,
                    vertices=tuple(
                        latlon_to_offset(lat0_deg, lon0_deg, g.lat_deg, g.lon_deg) for g in group
                    ),
                )
            )
            i += count
        else:
            i += 1  # return point: stored, not a boundary
    return shapes


def inside_fence(shapes: list[FenceShape], north_m: float, east_m: float) -> bool:
    """PX4 semantics: inside every inclusion shape's union and outside every exclusion shape."""
    inclusions = [s for s in shapes if s.inclusion]
    if inclusions and not any(s.contains(north_m, east_m) for s in inclusions):
        return False
    return not any(s.contains(north_m, east_m) for s in shapes if not s.inclusion)
