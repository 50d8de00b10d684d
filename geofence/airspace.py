"""The airspace for one agency: legality checks with reasons, vectorised point checks and legal routes."""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

import numpy as np
import numpy.typing as npt
import shapely
from shapely.geometry import LineString, Point, Polygon
from shapely.geometry.base import BaseGeometry

from geofence.errors import InvalidGeometryError, UnsupportedDatumError
from geofence.footprints import project_zones
from geofence.geo import FEET_TO_M, Altitude, AltitudeDatum, GeoPoint
from geofence.legal_route import LegalRoute, RoutePoint, Standoff
from geofence.policy import AirspacePolicy
from geofence.projection import LocalProjection
from geofence.router import CLEARANCE_M, ObstacleField, path_length_m
from geofence.schedule import require_aware
from geofence.violations import RouteRefusal, Violation, ViolationKind
from geofence.zones import Zone, ZoneCircle, ZoneKind, ZoneSet

_SNAPSHOT_CACHE: Final = 16


@dataclass
class _Snapshot:
    """The obstacle field for one set of active zones."""

    field: ObstacleField
    obstacle_zone_ids: list[tuple[str, ...]]
    op_area_ids: tuple[str, ...]
    has_op_area: bool


@dataclass
class Airspace:
    """Zones, ceiling grid and policy projected once around the operating area; all checks in metres."""

    zones: ZoneSet
    policy: AirspacePolicy = field(default_factory=AirspacePolicy)
    centre: GeoPoint | None = None

    def __post_init__(self) -> None:
        if self.centre is None:
            self.centre = _centre_of(self.zones)
        self.projection = LocalProjection(self.centre)
        margin = self.policy.margin_m
        blocking_floor = self.policy.max_alt_agl_m
        ground = self.policy.ground_amsl_m
        excl = [z for z in self.zones.zones if z.kind is ZoneKind.EXCLUSION]
        incl = [z for z in self.zones.zones if z.kind is ZoneKind.INCLUSION]
        adv = [z for z in self.zones.zones if z.kind is ZoneKind.ADVISORY]
        self._excl = project_zones(excl, self.projection, margin, ground)
        self._incl = project_zones(incl, self.projection, 0.0, ground)
        self._incl_grown = [g.buffer(CLEARANCE_M, join_style="mitre") for g in self._incl.buffered]
        for g in self._incl_grown:
            shapely.prepare(g)
        self._adv = project_zones(adv, self.projection, 0.0, ground)
        # An exclusion blocks routing if it reaches into the band we may fly in at all.
        self._excl_blocks = self._excl.floor_agl_m < blocking_floor
        cells = self.zones.ceiling_cells
        self._cells = cells
        self._cell_geoms = [self.projection.project(c.shape.to_shapely_lonlat()) for c in cells]
        self._cell_ceiling = np.array([c.ceiling_agl_m for c in cells], float)
        self._low_cells = [
            i for i, c in enumerate(cells) if c.ceiling_agl_m < self.policy.min_safe_alt_agl_m
        ]
        # Cells too low to fly in are obstacles the router runs along, so only entering them counts;
        # any other cell applies up to and including its edges (the lower of two neighbours wins).
        low = set(self._low_cells)
        self._cell_checked = [
            g.buffer(-CLEARANCE_M, join_style="mitre") if i in low else g
            for i, g in enumerate(self._cell_geoms)
        ]
        self._cell_tree = shapely.STRtree(self._cell_checked) if cells else None
        shapely.prepare(np.array(self._cell_checked, dtype=object))
        self._snapshots: OrderedDict[tuple[bool, ...], _Snapshot] = OrderedDict()
        self._snapshots_lock = threading.Lock()

    # -- snapshots: the obstacle field for each set of active zones ------------------------------

    def _snapshot(self, at: datetime) -> _Snapshot:
        require_aware(at)
        key = tuple(self._excl.active_mask(at).tolist()) + tuple(
            self._incl.active_mask(at).tolist()
        )
        with self._snapshots_lock:  # planners and the warm-up share the cache across threads
            snap = self._snapshots.get(key)
            if snap is not None:
                self._snapshots.move_to_end(key)
                return snap
        n_excl = len(self._excl.zones)
        excl_active = np.array(key[:n_excl], bool) & self._excl_blocks
        incl_active = np.array(key[n_excl:], bool)
        pieces = [self._excl.buffered[i] for i in np.nonzero(excl_active)[0]]
        piece_ids = [self._excl.zones[int(i)].id for i in np.nonzero(excl_active)[0]]
        pieces += [self._cell_geoms[i] for i in self._low_cells]
        piece_ids += [self._cells[i].id for i in self._low_cells]
        obstacles: list[Polygon] = []
        owners: list[tuple[str, ...]] = []
        if pieces:
            union = shapely.union_all(np.array(pieces, dtype=object))
            obstacles = [p for p in getattr(union, "geoms", [union]) if isinstance(p, Polygon)]
            piece_tree = shapely.STRtree(pieces)
            pairs = piece_tree.query(obstacles, predicate="intersects")
            owner_lists: list[list[str]] = [[] for _ in obstacles]
            for comp, piece in zip(pairs[0].tolist(), pairs[1].tolist(), strict=True):
                owner_lists[comp].append(piece_ids[piece])
            owners = [tuple(o) for o in owner_lists]
        incl_geoms = [self._incl.buffered[i] for i in np.nonzero(incl_active)[0]]
        area = shapely.union_all(np.array(incl_geoms, dtype=object)) if incl_geoms else None
        snap = _Snapshot(
            field=ObstacleField(obstacles, area),
            obstacle_zone_ids=owners,
            op_area_ids=tuple(self._incl.zones[int(i)].id for i in np.nonzero(incl_active)[0]),
            has_op_area=bool(self._incl.zones),
        )
        with self._snapshots_lock:
            snap = self._snapshots.setdefault(key, snap)  # another thread may have built it too
            self._snapshots.move_to_end(key)
            if len(self._snapshots) > _SNAPSHOT_CACHE:
                self._snapshots.popitem(last=False)
        return snap

    def prepare(self, at: datetime) -> None:
        """Build (and cache) the routing structures for the zones active at `at`."""
        # Otherwise the first route planned in a time window pays for its visibility graph.
        self._snapshot(at).field.visibility_graph()

    # -- helpers ---------------------------------------------------------------------------------

    def _agl_m(self, alt: Altitude) -> float:
        if alt.datum in (AltitudeDatum.AGL, AltitudeDatum.TAKEOFF):
            return alt.value_m
        if alt.datum is AltitudeDatum.AMSL and self.policy.ground_amsl_m is not None:
            return alt.value_m - self.policy.ground_amsl_m
        raise UnsupportedDatumError(
            f"cannot check an altitude in {alt.datum} without ground elevation"
        )

    def _describe(self, zone_ids: Sequence[str]) -> str:
        """Zones by name; ceiling cells summarised by count and ceiling."""
        names: list[str] = []
        cells: dict[float, int] = {}
        for zone_id in dict.fromkeys(zone_ids):
            item = self.zones.get(zone_id)
            if isinstance(item, Zone):
                names.append(item.describe())
            else:
                cells[item.ceiling_agl_m] = cells.get(item.ceiling_agl_m, 0) + 1
        names.extend(
            f"{n} UASFM cell{'s' if n > 1 else ''} with a {c / FEET_TO_M:.0f} ft ceiling"
            for c, n in sorted(cells.items())
        )
        return ", ".join(names)

    def ceiling_agl_m(self, point: GeoPoint) -> float:
        """The highest legal altitude above ground at `point` (ceiling grid and policy)."""
        if self._cell_tree is None:
            return self.policy.max_alt_agl_m
        hits = self._cell_tree.query(Point(self.projection.to_xy(point)), predicate="intersects")
        if len(hits) == 0:
            return self.policy.max_alt_agl_m
        return float(min(self.policy.max_alt_agl_m, self._cell_ceiling[hits].min()))

    # -- checks ----------------------------------------------------------------------------------

    def check_point(self, point: GeoPoint, alt: Altitude, at: datetime) -> list[Violation]:
        """Every reason the drone may not be at `point`, `alt` at time `at` (empty: legal)."""
        return self._check_geoms([Point(self.projection.to_xy(point))], [(alt, alt)], at)

    def check_route(self, route: Sequence[RoutePoint], at: datetime) -> list[Violation]:
        """Every reason flying `route` (straight legs between its points) at `at` is not legal."""
        if len(route) < 2:
            raise InvalidGeometryError("a route needs at least two points", field="route")
        lat = np.array([p.point.lat_deg for p in route])
        lon = np.array([p.point.lon_deg for p in route])
        x, y = self.projection.to_xy_arrays(lat, lon)
        coords = np.stack(
            [np.column_stack([x[:-1], y[:-1]]), np.column_stack([x[1:], y[1:]])], axis=1
        )
        lines = list(shapely.linestrings(coords))
        alts = [(a.alt, b.alt) for a, b in zip(route, route[1:], strict=False)]
        return self._check_geoms(lines, alts, at, legs=True)

    def _check_geoms(
        self,
        geoms: list[BaseGeometry],
        alts: list[tuple[Altitude, Altitude]],
        at: datetime,
        legs: bool = False,
    ) -> list[Violation]:
        require_aware(at)
        out: list[Violation] = []
        lo = np.array([min(self._agl_m(a), self._agl_m(b)) for a, b in alts])
        hi = np.array([max(self._agl_m(a), self._agl_m(b)) for a, b in alts])
        arr = np.array(geoms, dtype=object)
        what = "leg" if legs else "point"

        def leg(i: int) -> int | None:
            return i if legs else None

        def label(i: int) -> str:
            return f"{what} {i}" if legs else what

        incl = self._incl
        if incl.zones:
            active = incl.active_mask(at)
            inside = np.zeros(len(geoms), bool)
            for k in np.nonzero(active)[0]:
                inside |= np.asarray(shapely.covers(self._incl_grown[int(k)], arr), bool)
            out.extend(
                Violation(
                    ViolationKind.OUTSIDE_OPERATING_AREA,
                    f"{label(i)} is outside the operating area",
                    leg_index=leg(i),
                )
                for i in np.nonzero(~inside)[0].tolist()
            )
        if self._excl.tree is not None:
            g_idx, z_idx = self._excl.tree.query(arr, predicate="intersects")
            for gi, zi in zip(g_idx.tolist(), z_idx.tolist(), strict=True):
                zone = self._excl.zones[zi]
                if not zone.is_active(at):
                    continue
                if lo[gi] >= self._excl.ceiling_agl_m[zi] or hi[gi] < self._excl.floor_agl_m[zi]:
                    continue
                out.append(
                    Violation(
                        ViolationKind.INSIDE_EXCLUSION,
                        f"{label(gi)} enters {zone.describe()}"
                        + (
                            f" (or its {self.policy.margin_m:g} m margin)"
                            if self.policy.margin_m
                            else ""
                        )
                        + (f": {zone.reason}" if zone.reason else ""),
                        zone_id=zone.id,
                        leg_index=leg(gi),
                    )
                )
        if self._cell_tree is not None:
            g_idx, c_idx = self._cell_tree.query(arr, predicate="intersects")
            worst: dict[int, int] = {}
            for gi, ci in zip(g_idx.tolist(), c_idx.tolist(), strict=True):
                if hi[gi] > self._cell_ceiling[ci] + 1e-6 and (
                    gi not in worst or self._cell_ceiling[ci] < self._cell_ceiling[worst[gi]]
                ):
                    worst[gi] = ci
            for gi, ci in sorted(worst.items()):
                cell = self._cells[ci]
                out.append(
                    Violation(
                        ViolationKind.ABOVE_CEILING,
                        f"{label(gi)} at {hi[gi]:.0f} m AGL is above the "
                        f"{cell.ceiling_agl_m / FEET_TO_M:.0f} ft ceiling of UASFM cell {cell.id}",
                        zone_id=cell.id,
                        leg_index=leg(gi),
                    )
                )
        out.extend(
            Violation(
                ViolationKind.ABOVE_POLICY_MAX,
                f"{label(gi)} at {hi[gi]:.0f} m AGL is above the policy maximum "
                f"{self.policy.max_alt_agl_m:.0f} m AGL",
                leg_index=leg(gi),
            )
            for gi in np.nonzero(hi > self.policy.max_alt_agl_m + 1e-6)[0].tolist()
        )
        return out

    def legal_mask(
        self, lat_deg: npt.ArrayLike, lon_deg: npt.ArrayLike, at: datetime
    ) -> npt.NDArray[np.bool_]:
        """Vectorised horizontal check: in the operating area, clear of active keep-outs (with margin)
        and of ceiling cells too low to fly in (below the minimum safe altitude)."""
        snap = self._snapshot(at)
        x, y = self.projection.to_xy_arrays(lat_deg, lon_deg)
        return snap.field.free_mask(x, y)

    # -- routing ---------------------------------------------------------------------------------

    def plan_route(
        self, origin: GeoPoint, target: GeoPoint, at: datetime
    ) -> LegalRoute | RouteRefusal:
        """The shortest legal route from `origin` to `target` (or a stand-off point), or every reason why not."""
        snap = self._snapshot(at)
        fld = snap.field
        start = self.projection.to_xy(origin)
        goal = self.projection.to_xy(target)
        reasons: list[Violation] = []
        if not fld.in_area(start):
            reasons.append(
                Violation(
                    ViolationKind.OUTSIDE_OPERATING_AREA, "origin is outside the operating area"
                )
            )
        for i in fld.obstacles_at(start):
            names = self._describe(snap.obstacle_zone_ids[i])
            reasons.append(
                Violation(
                    ViolationKind.INSIDE_EXCLUSION,
                    f"origin is inside {names} (with its safety margin)",
                    zone_id=snap.obstacle_zone_ids[i][0] if snap.obstacle_zone_ids[i] else None,
                )
            )
        standoff: Standoff | None = None
        if not fld.in_area(goal):
            reasons.append(
                Violation(
                    ViolationKind.OUTSIDE_OPERATING_AREA, "target is outside the operating area"
                )
            )
        else:
            containing = fld.obstacles_at(goal)
            if containing:
                merged = tuple(z for i in containing for z in snap.obstacle_zone_ids[i])
                # A merged keep-out may join several zones: name only those the target is in.
                inside = {
                    v.zone_id
                    for v in self.check_point(
                        target, Altitude(self.policy.min_safe_alt_agl_m, AltitudeDatum.AGL), at
                    )
                    if v.zone_id is not None
                }
                zone_ids = tuple(z for z in merged if z in inside) or merged
                names = self._describe(zone_ids)
                stand = fld.standoff(goal)
                if stand is None:
                    reasons.append(
                        Violation(
                            ViolationKind.NO_STANDOFF,
                            f"target is inside {names} and no legal stand-off point exists",
                            zone_id=zone_ids[0] if zone_ids else None,
                        )
                    )
                else:
                    dist = math.dist(stand, goal)
                    standoff = Standoff(
                        point=self.projection.to_geo(*stand),
                        distance_to_target_m=dist,
                        zone_ids=zone_ids,
                        reason=f"target is inside {names}; nearest legal point is {dist:.0f} m away",
                    )
                    goal = stand
        if reasons:
            return RouteRefusal(tuple(reasons))
        result = fld.shortest_path(start, goal)
        if result.path is None:
            blockers = sorted({z for i in result.obstacles_used for z in snap.obstacle_zone_ids[i]})
            names = self._describe(blockers) or "the operating area boundary"
            return RouteRefusal(
                (
                    Violation(
                        ViolationKind.NO_ROUTE,
                        f"no legal route: the way is closed by {names}",
                        zone_id=blockers[0] if blockers else None,
                    ),
                )
            )
        return self._legal_route(result.path, target, standoff, at)

    def _legal_route(
        self,
        path: list[tuple[float, float]],
        target: GeoPoint,
        standoff: Standoff | None,
        at: datetime,
    ) -> LegalRoute | RouteRefusal:
        xy = np.asarray(path, float)
        lat, lon = self.projection.to_geo_arrays(xy[:, 0], xy[:, 1])
        waypoints = [GeoPoint(float(a), float(b)) for a, b in zip(lat, lon, strict=True)]
        waypoints[0] = self.projection.to_geo(*path[0])
        lines = [LineString([a, b]) for a, b in zip(path, path[1:], strict=False)]
        if not lines:  # origin is the destination
            lines = [Point(path[0])]
            waypoints = [waypoints[0], waypoints[0]]
        alts = np.full(len(lines), self.policy.max_alt_agl_m)
        if self._cell_tree is not None:
            g_idx, c_idx = self._cell_tree.query(
                np.array(lines, dtype=object), predicate="intersects"
            )
            np.minimum.at(alts, g_idx, self._cell_ceiling[c_idx])
        refusals = [
            Violation(
                ViolationKind.BELOW_MIN_SAFE_ALTITUDE,
                f"leg {i} crosses a ceiling of {a:.0f} m AGL, below the minimum safe altitude "
                f"{self.policy.min_safe_alt_agl_m:.0f} m",
                leg_index=i,
            )
            for i, a in enumerate(alts.tolist())
            if a < self.policy.min_safe_alt_agl_m
        ]
        if refusals:
            return RouteRefusal(tuple(refusals))
        advisories: list[str] = []
        if self._adv.tree is not None:
            _, z_idx = self._adv.tree.query(np.array(lines, dtype=object), predicate="intersects")
            for zi in sorted(set(z_idx.tolist())):
                zone = self._adv.zones[zi]
                if zone.is_active(at):
                    advisories.append(
                        f"route crosses advisory {zone.describe()}"
                        + (
                            f": {zone.message or zone.reason}"
                            if zone.message or zone.reason
                            else ""
                        )
                    )
        return LegalRoute(
            waypoints=tuple(waypoints),
            leg_alt_agl_m=tuple(float(a) for a in alts),
            leg_length_m=tuple(path_length_m([a, b]) for a, b in zip(path, path[1:], strict=False))
            or (0.0,),
            target=target,
            standoff=standoff,
            advisories=tuple(advisories),
        )

    # -- access for exporters ---------------------------------------------------------------------

    def obstacle_polygons_xy(self, at: datetime) -> list[Polygon]:
        """The buffered, merged keep-outs active at `at`, in local metres (for tests and maps)."""
        return list(self._snapshot(at).field.obstacles)

    def operating_area_xy(self, at: datetime) -> BaseGeometry | None:
        """The operating area active at `at` in local metres, or None if there is none."""
        return self._snapshot(at).field.area


def _centre_of(zones: ZoneSet) -> GeoPoint:
    shapes: list[BaseGeometry] = []
    preferred = [z for z in zones.zones if z.kind is ZoneKind.INCLUSION] or list(zones.zones)
    for z in preferred:
        if isinstance(z.shape, ZoneCircle):
            shapes.append(Point(z.shape.centre.lon_deg, z.shape.centre.lat_deg))
        else:
            shapes.append(z.shape.to_shapely_lonlat())
    if not shapes:
        shapes = [c.shape.to_shapely_lonlat() for c in zones.ceiling_cells]
    if not shapes:
        raise InvalidGeometryError("an airspace needs zones or an explicit centre", field="centre")
    c = shapely.union_all(shapes).envelope.centroid
    return GeoPoint(float(c.y), float(c.x))
