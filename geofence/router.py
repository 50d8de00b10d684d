"""Shortest paths around polygonal obstacles in local metres (a lazily grown visibility graph).

The obstacle field is the union of the active keep-outs buffered by their safety margin. The search
starts with only the obstacles the straight line crosses, finds the shortest path in that reduced
world over a visibility graph of their vertices (edges pruned to bitangents), and adds every obstacle
the path crosses until the path is clear. Because dropping obstacles can only shorten the shortest
path, a path that is clear of all obstacles is the shortest path of the full world.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import shapely
from shapely.geometry import LineString, MultiPolygon, Point, Polygon
from shapely.geometry.base import BaseGeometry
from shapely.geometry.polygon import orient
from shapely.ops import nearest_points

#: Obstacles are shrunk by this much for crossing tests, so that edges running along an obstacle
#: boundary (its own vertices) are clear while anything cutting into it is not.
CLEARANCE_M = 0.05

FloatArray = npt.NDArray[np.float64]
XY = tuple[float, float]


def _polygons(geom: BaseGeometry) -> list[Polygon]:
    if geom.is_empty:
        return []
    if isinstance(geom, Polygon):
        return [geom]
    if isinstance(geom, MultiPolygon):
        return list(geom.geoms)
    return [g for part in getattr(geom, "geoms", []) for g in _polygons(part)]


def _ring_nodes(poly: Polygon, keep_left_turns: bool) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Vertices where a shortest path may bend, with their ring predecessors and successors.

    Rings are oriented with the polygon on their left. A path around an obstacle only bends at its
    convex corners (left turns); a path inside an area only at the area's reflex corners (right turns).
    """
    poly = orient(poly, 1.0)
    pts, prev, nxt = [], [], []
    for ring in [poly.exterior, *poly.interiors]:
        c = np.asarray(ring.coords, float)[:-1]
        if len(c) < 3:
            continue
        pv = np.roll(c, 1, axis=0)
        nx = np.roll(c, -1, axis=0)
        turn = (c[:, 0] - pv[:, 0]) * (nx[:, 1] - c[:, 1]) - (c[:, 1] - pv[:, 1]) * (
            nx[:, 0] - c[:, 0]
        )
        keep = turn > 1e-9 if keep_left_turns else turn < -1e-9
        pts.append(c[keep])
        prev.append(pv[keep])
        nxt.append(nx[keep])
    if not pts:
        empty = np.zeros((0, 2))
        return empty, empty, empty
    return np.vstack(pts), np.vstack(prev), np.vstack(nxt)


@dataclass
class SearchResult:
    """A path (None when there is none) and the obstacles the search had to take into account."""

    path: list[XY] | None
    obstacles_used: frozenset[int]
    left_area: bool = False


@dataclass
class ObstacleField:
    """Disjoint obstacle polygons (metres) and an optional area the path must stay inside."""

    obstacles: list[Polygon]
    area: BaseGeometry | None = None
    _shrunk: list[BaseGeometry] = field(init=False, repr=False)
    _tree: shapely.STRtree = field(init=False, repr=False)
    _nodes: list[tuple[FloatArray, FloatArray, FloatArray]] = field(init=False, repr=False)
    _area_grown: BaseGeometry | None = field(init=False, repr=False)
    _area_nodes: tuple[FloatArray, FloatArray, FloatArray] | None = field(init=False, repr=False)
    _union_shrunk: BaseGeometry = field(init=False, repr=False)

    def __post_init__(self) -> None:
        shrunk = shapely.buffer(
            np.array(self.obstacles, dtype=object), -CLEARANCE_M, join_style="mitre"
        )
        shapely.prepare(shrunk)
        self._shrunk = list(shrunk)
        self._tree = shapely.STRtree(self._shrunk)
        self._nodes = [_ring_nodes(p, True) for p in self.obstacles]
        self._union_shrunk = shapely.union_all(shrunk) if len(shrunk) else Polygon()
        shapely.prepare(self._union_shrunk)
        if self.area is not None:
            self._area_grown = self.area.buffer(CLEARANCE_M, join_style="mitre")
            shapely.prepare(self._area_grown)
            parts = [_ring_nodes(p, False) for p in _polygons(self.area)]
            self._area_nodes = (
                np.vstack([p[0] for p in parts]),
                np.vstack([p[1] for p in parts]),
                np.vstack([p[2] for p in parts]),
            )
        else:
            self._area_grown = None
            self._area_nodes = None

    # -- point and segment tests -------------------------------------------------------------

    def free_mask(self, x: FloatArray, y: FloatArray) -> npt.NDArray[np.bool_]:
        """Vectorised: True where a point is inside the area and outside every obstacle."""
        ok = ~shapely.contains_xy(self._union_shrunk, x, y)
        if self._area_grown is not None:
            ok &= shapely.contains_xy(self._area_grown, x, y)
        return np.asarray(ok, bool)

    def obstacles_at(self, xy: XY) -> list[int]:
        """Indices of obstacles the point is inside (on a boundary counts as outside)."""
        return [int(i) for i in self._tree.query(Point(xy), predicate="intersects")]

    def in_area(self, xy: XY) -> bool:
        """True if the point is inside the area (or there is no area)."""
        return self._area_grown is None or bool(shapely.contains_xy(self._area_grown, *xy))

    def is_free(self, xy: XY) -> bool:
        """True if the point is inside the area and clear of every obstacle."""
        return bool(self.free_mask(np.array([xy[0]]), np.array([xy[1]]))[0])

    def segment_hits(
        self, lines: Sequence[LineString] | npt.NDArray[np.object_]
    ) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
        """(line index, obstacle index) pairs for every line crossing an obstacle."""
        if len(lines) == 0 or not self.obstacles:
            empty = np.zeros(0, np.intp)
            return empty, empty
        hits = self._tree.query(np.asarray(lines, dtype=object), predicate="intersects")
        return hits[0], hits[1]

    def lines_in_area(self, lines: npt.NDArray[np.object_]) -> npt.NDArray[np.bool_]:
        """True for every line inside the area."""
        if self._area_grown is None:
            return np.ones(len(lines), bool)
        return np.asarray(shapely.covers(self._area_grown, lines), bool)

    # -- search --------------------------------------------------------------------------------

    def shortest_path(self, start: XY, goal: XY, max_rounds: int = 10_000) -> SearchResult:
        """The shortest obstacle-free path from `start` to `goal` inside the area, or None."""
        if math.dist(start, goal) < 1e-9:
            return SearchResult([start, goal], frozenset(), False)
        straight = np.array([LineString([start, goal])], dtype=object)
        line_idx, obs_idx = self.segment_hits(straight)
        used: set[int] = {int(i) for i in obs_idx}
        use_area = not bool(self.lines_in_area(straight)[0])
        for _ in range(max_rounds):
            path, path_hits, path_leaves_area = self._search(start, goal, used, use_area)
            if path is None:
                return SearchResult(None, frozenset(used), use_area)
            new = path_hits - used
            if not new and not (path_leaves_area and not use_area):
                return SearchResult(path, frozenset(used), use_area)
            used |= new
            use_area = use_area or path_leaves_area
        return SearchResult(None, frozenset(used), use_area)

    def _search(
        self, start: XY, goal: XY, used: set[int], use_area: bool
    ) -> tuple[list[XY] | None, set[int], bool]:
        """A* over the visibility graph of the obstacles in `used`, edges found as nodes are expanded."""
        pts = [np.array([start, goal], float)]
        prev = [np.array([start, goal], float)]
        nxt = [np.array([start, goal], float)]
        for i in sorted(used):
            p, pv, nx = self._nodes[i]
            pts.append(p)
            prev.append(pv)
            nxt.append(nx)
        if use_area and self._area_nodes is not None:
            pts.append(self._area_nodes[0])
            prev.append(self._area_nodes[1])
            nxt.append(self._area_nodes[2])
        p_all = np.vstack(pts)
        pv_all = np.vstack(prev)
        nx_all = np.vstack(nxt)
        n = len(p_all)
        used_list = sorted(used)
        # Only the obstacles in play block edges here; the path is checked against all of them below.
        local = shapely.STRtree([self._shrunk[i] for i in used_list]) if used_list else None
        check_area = use_area and self._area_grown is not None
        h = np.hypot(p_all[:, 0] - goal[0], p_all[:, 1] - goal[1])
        # Tangency at the far end does not depend on where we come from up to sign: precompute parts.
        is_free = np.zeros(n, bool)
        is_free[:2] = True
        closed = np.zeros(n, bool)
        g_best = np.full(n, math.inf)
        g_best[0] = 0.0
        parent = np.full(n, -1, np.intp)
        heap: list[tuple[float, float, int]] = [(float(h[0]), 0.0, 0)]
        tol = 1e-9
        while heap:
            _, g, u = heapq.heappop(heap)
            if closed[u]:
                continue
            if u == 1:
                break
            closed[u] = True
            d = p_all - p_all[u]
            # Products of two cross products scale with |d|^2 |r1| |r2|: compare relative to that.
            dd = d[:, 0] * d[:, 0] + d[:, 1] * d[:, 1]
            cand = ~closed & (dd > 0)
            if not is_free[u]:
                # A shortest path only leaves a corner along a line with the obstacle on one side.
                ru_p = pv_all[u] - p_all[u]
                ru_n = nx_all[u] - p_all[u]
                su = (d[:, 0] * ru_p[1] - d[:, 1] * ru_p[0]) * (
                    d[:, 0] * ru_n[1] - d[:, 1] * ru_n[0]
                )
                # Start and goal are exempt: either may sit in the clearance band inside a corner.
                cand &= (su >= -tol * dd * math.hypot(*ru_p) * math.hypot(*ru_n)) | is_free
            rv_p = pv_all - p_all
            rv_n = nx_all - p_all
            sv = (d[:, 0] * rv_p[:, 1] - d[:, 1] * rv_p[:, 0]) * (
                d[:, 0] * rv_n[:, 1] - d[:, 1] * rv_n[:, 0]
            )
            scale_v = dd * np.hypot(rv_p[:, 0], rv_p[:, 1]) * np.hypot(rv_n[:, 0], rv_n[:, 1])
            cand &= (sv >= -tol * scale_v) | is_free | bool(is_free[u])
            idx = np.nonzero(cand)[0]
            if len(idx) == 0:
                continue
            new_g = g + np.hypot(d[idx, 0], d[idx, 1])
            better = new_g < g_best[idx]
            idx, new_g = idx[better], new_g[better]
            if len(idx) == 0:
                continue
            coords = np.stack([np.broadcast_to(p_all[u], (len(idx), 2)), p_all[idx]], axis=1)
            lines = shapely.linestrings(coords)
            ok = np.ones(len(idx), bool)
            if local is not None:
                hit_lines, _ = local.query(lines, predicate="intersects")
                ok[hit_lines] = False
            if check_area:
                ok[ok] = self.lines_in_area(lines[ok])
            for v, gv in zip(idx[ok].tolist(), new_g[ok].tolist(), strict=True):
                g_best[v] = gv
                parent[v] = u
                heapq.heappush(heap, (gv + float(h[v]), gv, v))
        if not math.isfinite(g_best[1]):
            return None, set(), False
        node_path = [1]
        while node_path[-1] != 0:
            node_path.append(int(parent[node_path[-1]]))
        node_path.reverse()
        path = [(float(p_all[k, 0]), float(p_all[k, 1])) for k in node_path]
        path_lines = shapely.linestrings([[a, b] for a, b in zip(path, path[1:], strict=False)])
        _, obs_idx = self.segment_hits(path_lines)
        hits = {int(o) for o in obs_idx}
        leaves = not bool(np.all(self.lines_in_area(path_lines)))
        return path, hits, leaves

    def standoff(self, target: XY, spacing_m: float = 5.0) -> XY | None:
        """The nearest free point to `target` on the boundary of the obstacles that contain it."""
        containing = self.obstacles_at(target)
        if not containing:
            return target if self.in_area(target) else None
        pt = Point(target)
        best: tuple[float, XY] | None = None
        for i in containing:
            boundary = self.obstacles[i].boundary
            near = nearest_points(boundary, pt)[0]
            candidates = [(near.x, near.y)]
            length = boundary.length
            count = max(int(length / spacing_m), 8)
            samples = shapely.line_interpolate_point(
                boundary, np.linspace(0.0, length, count, endpoint=False)
            )
            candidates.extend(shapely.get_coordinates(samples).tolist())
            arr = np.asarray(candidates, float)
            ok = self.free_mask(arr[:, 0], arr[:, 1])
            if not ok.any():
                continue
            dist = np.hypot(arr[:, 0] - target[0], arr[:, 1] - target[1])
            dist[~ok] = math.inf
            k = int(np.argmin(dist))
            if best is None or dist[k] < best[0]:
                best = (float(dist[k]), (float(arr[k, 0]), float(arr[k, 1])))
        return None if best is None else best[1]


def path_length_m(path: Sequence[XY]) -> float:
    """Length of a polyline in metres."""
    return float(sum(math.dist(a, b) for a, b in zip(path, path[1:], strict=False)))
