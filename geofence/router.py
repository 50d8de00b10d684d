"""Shortest paths around polygonal obstacles in local metres, over a visibility graph built once.

The obstacle field is the union of the active keep-outs buffered by their safety margin. Its
visibility graph (clear bitangent lines between obstacle corners, see `geofence.visibility`) is built
the first time a route is asked for and kept with the field, which the airspace caches per set of
active zones. A query connects its start and goal to the graph lazily: A* takes the lines from the
start in order of the best path length they could give, and tests them (and lines to the goal) in
small batches only when the search reaches that length, so a query tests tens of lines, not thousands.
"""

from __future__ import annotations

import heapq
import math
import threading
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import chain

import numpy as np
import numpy.typing as npt
import shapely
from shapely.geometry import LineString, MultiPolygon, Point, Polygon
from shapely.geometry.base import BaseGeometry
from shapely.geometry.polygon import orient
from shapely.ops import nearest_points

from geofence.visibility import ClearLines, VisibilityGraph, build_visibility_graph

#: Obstacles are shrunk by this much for crossing tests, so that edges running along an obstacle
#: boundary (its own vertices) are clear while anything cutting into it is not.
CLEARANCE_M = 0.05
#: A start or goal this close to an obstacle or the area boundary may sit in the clearance band at a
#: corner, where tangency says nothing: its lines are then not pruned to tangents.
_NEAR_BOUNDARY_M = 4 * CLEARANCE_M
#: Lines from the start (and to the goal) tested per batch, growing up to the maximum.
_FIRST_BATCH = 16
_MAX_BATCH = 64

FloatArray = npt.NDArray[np.float64]
XY = tuple[float, float]
TAU = 2 * math.pi


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
    """A path (None when there is none) and the obstacles it bends around, or that close the way."""

    path: list[XY] | None
    obstacles_used: frozenset[int]


@dataclass
class ObstacleField:
    """Disjoint obstacle polygons (metres) and an optional area the path must stay inside."""

    obstacles: list[Polygon]
    area: BaseGeometry | None = None
    _shrunk: list[BaseGeometry] = field(init=False, repr=False)
    _tree: shapely.STRtree = field(init=False, repr=False)
    _outline_tree: shapely.STRtree = field(init=False, repr=False)
    _nodes: list[tuple[FloatArray, FloatArray, FloatArray]] = field(init=False, repr=False)
    _area_grown: BaseGeometry | None = field(init=False, repr=False)
    _area_nodes: tuple[FloatArray, FloatArray, FloatArray] | None = field(init=False, repr=False)
    _area_outline: BaseGeometry | None = field(init=False, repr=False)
    _union_shrunk: BaseGeometry = field(init=False, repr=False)
    _clear: ClearLines = field(init=False, repr=False)
    _graph: VisibilityGraph | None = field(init=False, repr=False, default=None)
    _graph_lock: threading.Lock = field(init=False, repr=False, default_factory=threading.Lock)

    def __post_init__(self) -> None:
        shrunk = shapely.buffer(
            np.array(self.obstacles, dtype=object), -CLEARANCE_M, join_style="mitre"
        )
        shapely.prepare(shrunk)
        self._shrunk = list(shrunk)
        self._tree = shapely.STRtree(self._shrunk)
        self._outline_tree = shapely.STRtree(self.obstacles)
        self._nodes = [_ring_nodes(p, True) for p in self.obstacles]
        self._union_shrunk = shapely.union_all(shrunk) if len(shrunk) else Polygon()
        shapely.prepare(self._union_shrunk)
        if self.area is not None:
            self._area_grown = self.area.buffer(CLEARANCE_M, join_style="mitre")
            shapely.prepare(self._area_grown)
            self._area_outline = self.area.boundary
            shapely.prepare(self._area_outline)
            parts = [_ring_nodes(p, False) for p in _polygons(self.area)]
            self._area_nodes = (
                np.vstack([p[0] for p in parts]),
                np.vstack([p[1] for p in parts]),
                np.vstack([p[2] for p in parts]),
            )
        else:
            self._area_grown = None
            self._area_nodes = None
            self._area_outline = None
        self._clear = ClearLines(self._union_shrunk, self._area_grown)

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

    def _near_boundary(self, xy: XY) -> bool:
        pt = Point(xy)
        if len(self._outline_tree.query(pt, predicate="dwithin", distance=_NEAR_BOUNDARY_M)):
            return True
        return self._area_outline is not None and bool(
            shapely.dwithin(self._area_outline, pt, _NEAR_BOUNDARY_M)
        )

    # -- search --------------------------------------------------------------------------------

    def visibility_graph(self) -> VisibilityGraph:
        """The graph of clear bitangent lines between corners; built on first use, then kept."""
        graph = self._graph
        if graph is not None:
            return graph
        with self._graph_lock:
            if self._graph is None:
                self._graph = self._build_graph()
            return self._graph

    def _build_graph(self, **options: int) -> VisibilityGraph:
        parts = [*self._nodes]
        owners = [np.full(len(p[0]), i, np.intp) for i, p in enumerate(self._nodes)]
        if self._area_nodes is not None:
            parts.append(self._area_nodes)
            owners.append(np.full(len(self._area_nodes[0]), -1, np.intp))
        if not parts:
            empty = np.zeros((0, 2))
            parts = [(empty, empty, empty)]
            owners = [np.zeros(0, np.intp)]
        xy = np.vstack([p[0] for p in parts])
        prev = np.vstack([p[1] for p in parts])
        nxt = np.vstack([p[2] for p in parts])
        owner = np.concatenate(owners)
        # Corners outside the area can never be on a legal path.
        keep = np.ones(len(xy), bool)
        if self._area_grown is not None:
            keep = np.asarray(shapely.contains_xy(self._area_grown, xy[:, 0], xy[:, 1]), bool)
        return build_visibility_graph(
            xy[keep], prev[keep], nxt[keep], owner[keep], self.obstacles, self._clear, **options
        )

    def shortest_path(self, start: XY, goal: XY) -> SearchResult:
        """The shortest obstacle-free path from `start` to `goal` inside the area, or None."""
        if math.dist(start, goal) < 1e-9:
            return SearchResult([start, goal], frozenset())
        s_arr, g_arr = np.array([start], float), np.array([goal], float)
        if self._clear(s_arr, g_arr)[0]:
            return SearchResult([start, goal], frozenset())
        graph = self.visibility_graph()
        search = _Search(
            graph,
            self._clear,
            (start, self._candidates(graph, start)),
            (goal, self._candidates(graph, goal)),
        )
        nodes = search.run()
        if nodes is not None:
            path = [start, *((float(graph.xy[k, 0]), float(graph.xy[k, 1])) for k in nodes), goal]
            used = frozenset(int(graph.owner[k]) for k in nodes if graph.owner[k] >= 0)
            return SearchResult(path, used)
        return SearchResult(None, self._enclosure(graph, search))

    def _candidates(self, graph: VisibilityGraph, xy: XY) -> npt.NDArray[np.bool_]:
        """Nodes a line from (or to) `xy` may reach as a leg of a shortest path."""
        if self._near_boundary(xy):
            return np.ones(len(graph.xy), bool)
        return graph.tangent_mask(xy)

    def _enclosure(self, graph: VisibilityGraph, search: _Search) -> frozenset[int]:
        """The obstacles around whichever of start and goal is walled in (the smaller region)."""
        start_side = search.closed_nodes()
        goal_side = search.region_from_goal(limit=len(start_side))
        side = goal_side if goal_side is not None else start_side
        owners = frozenset(int(graph.owner[k]) for k in side if graph.owner[k] >= 0)
        if owners:
            return owners
        straight = np.array([LineString([search.start, search.goal])], dtype=object)
        return frozenset(int(i) for i in self.segment_hits(straight)[1])

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


class _Search:
    """A* from start to goal over a visibility graph, with the start and goal lines tested lazily.

    Lines from the start are taken in order of the path length they promise (their length plus the
    straight distance on to the goal) and tested in batches when the search gets to that length.
    Lines to the goal are tested in batches too, in order of the shortest path that could use them
    (straight to the corner, straight on to the goal), a batch whenever a settled corner needs one.
    The Euclidean heuristic is consistent, so a corner's first settled distance is its shortest.

    A shortest path bends at a corner only around its obstacle, so it leaves a corner turning to
    the side the obstacle is on (it could cut the corner otherwise): only edges within that half
    turn of the arriving direction are followed, found by bisection in the direction-sorted lists.
    """

    def __init__(
        self,
        graph: VisibilityGraph,
        clear: ClearLines,
        start: tuple[XY, npt.NDArray[np.bool_]],
        goal: tuple[XY, npt.NDArray[np.bool_]],
    ) -> None:
        """`start` and `goal` come with the corners a line from (to) them may reach."""
        self.graph = graph
        self.clear = clear
        self.start, self.from_start_mask = start
        self.goal, self.to_goal_mask = goal
        n = len(graph.xy)
        self._g_best = [math.inf] * n
        self._parent = [-1] * n
        self._closed = bytearray(n)

    def run(self) -> list[int] | None:
        """Corner indices of a shortest path, or None if there is none."""
        graph = self.graph
        xy = graph.xy
        if len(xy) == 0:
            return None
        h_arr = np.hypot(xy[:, 0] - self.goal[0], xy[:, 1] - self.goal[1])
        bound = np.hypot(xy[:, 0] - self.start[0], xy[:, 1] - self.start[1]) + h_arr
        firsts = np.nonzero(self.from_start_mask)[0]
        first = _Ordered(bound[firsts], firsts)
        lasts = np.nonzero(self.to_goal_mask)[0]
        last = _Ordered(bound[lasts], lasts)
        # Per corner: 0 line to the goal untested (or not a candidate), 1 clear, 2 blocked.
        goal_line = bytearray(len(xy))
        h = h_arr.tolist()
        to_goal = self.to_goal_mask.tobytes()
        corners = graph.corners
        first_edge, to, length, angle = graph.first, graph.to, graph.length_m, graph.angle_rad
        sx, sy = self.start
        gx, gy = self.goal
        g_best, parent, closed = self._g_best, self._parent, self._closed
        heap: list[tuple[float, float, int]] = []
        # Settled corners with a clear line to the goal: (path length through it, corner).
        goal_heap: list[tuple[float, int]] = []
        next_first = next_last = 0
        first_batch = last_batch = _FIRST_BATCH
        inf = math.inf
        while True:
            f_main = heap[0][0] if heap else inf
            if next_first < len(first.items) or first.extend():
                f_first = first.keys[next_first]
            else:
                f_first = inf
            if goal_heap and goal_heap[0][0] <= f_main and goal_heap[0][0] <= f_first:
                return self._nodes_to(goal_heap[0][1])
            if f_first <= f_main:
                if f_first == inf:
                    return None
                take = first.items[next_first : next_first + first_batch]
                next_first += len(take)
                first_batch = min(2 * first_batch, _MAX_BATCH)
                ok = self.clear(_repeat(self.start, len(take)), xy[take])
                for v, good in zip(take, ok.tolist(), strict=True):
                    if good:
                        gv = math.dist((sx, sy), corners[v][:2])
                        if gv < g_best[v]:
                            g_best[v] = gv
                            parent[v] = -1
                            heapq.heappush(heap, (gv + h[v], gv, v))
                continue
            _, gu, u = heapq.heappop(heap)
            if closed[u] or gu > g_best[u]:
                continue
            closed[u] = 1
            ux, uy, rpx, rpy, rnx, rny = corners[u]
            p = parent[u]
            if p < 0:
                dx, dy = ux - sx, uy - sy
            else:
                dx, dy = ux - corners[p][0], uy - corners[p][1]
            side = _obstacle_side(dx, dy, rpx, rpy, rnx, rny)
            if to_goal[u] and (
                side == 0
                or side * (dx * (gy - uy) - dy * (gx - ux))
                >= -_turn_slack(dx, dy, gx - ux, gy - uy)
            ):
                if not goal_line[u]:
                    # Test this corner's line with the next untested ones most likely needed next.
                    batch = [u]
                    while len(batch) < last_batch and (
                        next_last < len(last.items) or last.extend()
                    ):
                        v = last.items[next_last]
                        next_last += 1
                        if not goal_line[v] and v != u:
                            batch.append(v)
                    last_batch = min(2 * last_batch, _MAX_BATCH)
                    ok = self.clear(xy[batch], _repeat(self.goal, len(batch)))
                    for v, good in zip(batch, ok.tolist(), strict=True):
                        goal_line[v] = 1 if good else 2
                if goal_line[u] == 1:
                    heapq.heappush(goal_heap, (gu + h[u], u))
            for k in _onward(first_edge[u], first_edge[u + 1], angle, side, math.atan2(dy, dx)):
                v = to[k]
                gv = gu + length[k]
                if gv < g_best[v]:
                    g_best[v] = gv
                    parent[v] = u
                    heapq.heappush(heap, (gv + h[v], gv, v))

    def _nodes_to(self, last: int) -> list[int]:
        nodes = [last]
        while self._parent[nodes[-1]] >= 0:
            nodes.append(self._parent[nodes[-1]])
        nodes.reverse()
        return nodes

    def closed_nodes(self) -> list[int]:
        """Corners the search reached from the start."""
        return [k for k, c in enumerate(self._closed) if c]

    def region_from_goal(self, limit: int) -> list[int] | None:
        """Corners connected to the goal, or None once there are more than `limit` of them."""
        xy = self.graph.xy
        lasts = np.nonzero(self.to_goal_mask)[0]
        clear = self.clear(xy[lasts], _repeat(self.goal, len(lasts))) if len(lasts) else lasts
        seen = set(lasts[clear].tolist())
        todo = list(seen)
        graph = self.graph
        while todo:
            if len(seen) > limit:
                return None
            u = todo.pop()
            for v in graph.to[graph.first[u] : graph.first[u + 1]]:
                if v not in seen:
                    seen.add(v)
                    todo.append(v)
        return sorted(seen)


class _Ordered:
    """Items in increasing key order, sorted a chunk at a time: most queries use only the first few."""

    def __init__(self, keys: FloatArray, items: npt.NDArray[np.intp]) -> None:
        self._keys = keys
        self._items = items
        self._chunk = 32
        self.keys: list[float] = []
        self.items: list[int] = []

    def extend(self) -> bool:
        """Append the next chunk to `keys` and `items`; False when nothing is left."""
        n = len(self._keys)
        if n == 0:
            return False
        if self._chunk < n:
            part = np.argpartition(self._keys, self._chunk - 1)
            head, rest = part[: self._chunk], part[self._chunk :]
            head = head[np.argsort(self._keys[head], kind="stable")]
        else:
            head, rest = np.argsort(self._keys, kind="stable"), np.zeros(0, np.intp)
        self.keys.extend(self._keys[head].tolist())
        self.items.extend(self._items[head].tolist())
        self._keys, self._items = self._keys[rest], self._items[rest]
        self._chunk *= 4
        return True


def _repeat(xy: XY, n: int) -> FloatArray:
    return np.broadcast_to(np.asarray(xy, float), (n, 2))


#: Slack (radians, relative) for the turn-side tests, so that nearly straight continuations stay.
_TURN_TOL = 1e-7


def _obstacle_side(dx: float, dy: float, rpx: float, rpy: float, rnx: float, rny: float) -> int:
    """+1 if the corner's obstacle is left of the arriving direction, -1 if right, 0 if unclear."""
    cp = dx * rpy - dy * rpx
    cn = dx * rny - dy * rnx
    eps = _TURN_TOL * math.hypot(dx, dy) * (math.hypot(rpx, rpy) + math.hypot(rnx, rny))
    if abs(cp) <= eps and abs(cn) <= eps:
        return 0
    if cp >= -eps and cn >= -eps:
        return 1
    if cp <= eps and cn <= eps:
        return -1
    return 0


def _turn_slack(dx: float, dy: float, ox: float, oy: float) -> float:
    """How far below zero a cross product may be and still count as going straight on."""
    return _TURN_TOL * math.hypot(dx, dy) * math.hypot(ox, oy)


def _onward(
    a: int, b: int, angle: Sequence[float], side: int, arriving_rad: float
) -> Iterable[int]:
    """Indices (within a..b) of the edges leaving within half a turn to `side` of the arrival."""
    if side == 0:
        return range(a, b)
    if side > 0:
        lo, hi = arriving_rad - _TURN_TOL, arriving_rad + math.pi + _TURN_TOL
    else:
        lo, hi = arriving_rad - math.pi - _TURN_TOL, arriving_rad + _TURN_TOL
    # Directions are stored in [-pi, pi]: a half turn reaching past either end wraps round.
    if hi > math.pi:
        i, j = bisect_left(angle, lo, a, b), bisect_right(angle, hi - TAU, a, b)
    elif lo < -math.pi:
        i, j = bisect_left(angle, lo + TAU, a, b), bisect_right(angle, hi, a, b)
    else:
        return range(bisect_left(angle, lo, a, b), bisect_right(angle, hi, a, b))
    return chain(range(i, b), range(a, j))
