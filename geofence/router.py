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


def _ring_nodes(poly: Polygon) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Vertices of every ring of `poly` with their ring predecessors and successors."""
    pts, prev, nxt = [], [], []
    for ring in [poly.exterior, *poly.interiors]:
        c = np.asarray(ring.coords, float)[:-1]
        if len(c) < 3:
            continue
        pts.append(c)
        prev.append(np.roll(c, 1, axis=0))
        nxt.append(np.roll(c, -1, axis=0))
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
        self._shrunk = list(shrunk)
        self._tree = shapely.STRtree(self._shrunk)
        self._nodes = [_ring_nodes(p) for p in self.obstacles]
        self._union_shrunk = shapely.union_all(shrunk) if len(shrunk) else Polygon()
        shapely.prepare(self._union_shrunk)
        if self.area is not None:
            self._area_grown = self.area.buffer(CLEARANCE_M, join_style="mitre")
            shapely.prepare(self._area_grown)
            parts = [_ring_nodes(p) for p in _polygons(self.area)]
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
        ii, jj = np.triu_indices(n, k=1)
        d = p_all[jj] - p_all[ii]

        def side(base: FloatArray, other: FloatArray, dvec: FloatArray) -> FloatArray:
            rel = other - base
            return np.asarray(dvec[:, 0] * rel[:, 1] - dvec[:, 1] * rel[:, 0], float)

        # A shortest path only bends at a vertex where the obstacle lies wholly on one side of it.
        tol = 1e-9
        tan_i = side(p_all[ii], pv_all[ii], d) * side(p_all[ii], nx_all[ii], d) >= -tol
        tan_j = side(p_all[jj], pv_all[jj], d) * side(p_all[jj], nx_all[jj], d) >= -tol
        free = np.zeros(n, bool)
        free[:2] = True
        keep = (tan_i | free[ii]) & (tan_j | free[jj]) & (np.hypot(d[:, 0], d[:, 1]) > 0)
        ii, jj = ii[keep], jj[keep]
        coords = np.stack([p_all[ii], p_all[jj]], axis=1)
        lines = shapely.linestrings(coords)
        line_idx, obs_idx = self.segment_hits(lines)
        used_arr = np.fromiter(used, np.intp, len(used)) if used else np.zeros(0, np.intp)
        blocked = np.zeros(len(lines), bool)
        in_used = np.isin(obs_idx, used_arr)
        blocked[line_idx[in_used]] = True
        in_area = np.ones(len(lines), bool)
        if self._area_grown is not None:
            candidates = ~blocked
            in_area[candidates] = self.lines_in_area(lines[candidates])
            if use_area:
                blocked |= ~in_area
        ok = ~blocked
        edges_i, edges_j = ii[ok], jj[ok]
        lengths = np.hypot(*(p_all[edges_j] - p_all[edges_i]).T)
        adjacency: list[list[tuple[int, float, int]]] = [[] for _ in range(n)]
        edge_ids = np.nonzero(ok)[0]
        for a, b, w, e in zip(
            edges_i.tolist(), edges_j.tolist(), lengths.tolist(), edge_ids.tolist(), strict=True
        ):
            adjacency[a].append((b, w, e))
            adjacency[b].append((a, w, e))
        route = _astar(p_all, adjacency, 0, 1)
        if route is None:
            return None, set(), False
        node_path, edge_path = route
        hits: set[int] = set()
        hit_lines = np.isin(line_idx, np.asarray(edge_path, np.intp))
        hits.update(int(o) for o in obs_idx[hit_lines])
        leaves = not bool(np.all(in_area[edge_path]))
        return [(float(p_all[k, 0]), float(p_all[k, 1])) for k in node_path], hits, leaves

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


def _astar(
    pts: FloatArray, adjacency: list[list[tuple[int, float, int]]], source: int, goal: int
) -> tuple[list[int], list[int]] | None:
    gx, gy = pts[goal]
    h = np.hypot(pts[:, 0] - gx, pts[:, 1] - gy).tolist()
    dist = {source: 0.0}
    came: dict[int, tuple[int, int]] = {}
    heap = [(h[source], 0.0, source)]
    done: set[int] = set()
    while heap:
        _, g, u = heapq.heappop(heap)
        if u in done:
            continue
        if u == goal:
            nodes, edges = [goal], []
            while nodes[-1] != source:
                parent, edge = came[nodes[-1]]
                nodes.append(parent)
                edges.append(edge)
            return nodes[::-1], edges[::-1]
        done.add(u)
        for v, w, e in adjacency[u]:
            ng = g + w
            if ng < dist.get(v, math.inf):
                dist[v] = ng
                came[v] = (u, e)
                heapq.heappush(heap, (ng + h[v], ng, v))
    return None


def path_length_m(path: Sequence[XY]) -> float:
    """Length of a polyline in metres."""
    return float(sum(math.dist(a, b) for a, b in zip(path, path[1:], strict=False)))
