"""The visibility graph of an obstacle field: which corners see each other, built once per field.

A shortest path around polygonal obstacles bends only at convex obstacle corners (and reflex corners
of the area it must stay in), and each of its legs is tangent to the obstacle at both ends. The graph
holds every such bitangent corner pair whose straight line is clear, so a route query only has to
connect its start and goal to it.

Building tests every bitangent pair (about 1.3 million for 1000 keep-outs in 20 x 20 km). An exact
segment test costs microseconds per line, so a raster of obstacle cores first discards the pairs
whose line provably passes through an obstacle: a line is marched cell by cell, skipping ahead over
open space, and is blocked as soon as a sample lands in a cell that lies wholly inside an obstacle.
Only the lines it cannot prove blocked (about 3 %) get the exact test, so the graph is exactly the
one the exact test alone would give.
"""

from __future__ import annotations

import math
from array import array
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import shapely
from shapely.geometry import Polygon
from shapely.geometry.base import BaseGeometry

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]
BoolArray = npt.NDArray[np.bool_]

#: Relative tolerance of the tangency test (products of cross products are compared to their scale).
TANGENT_TOL = 1e-9

#: Below this many candidate pairs the raster does not pay for itself: every line gets the exact test.
_MIN_PAIRS_FOR_RASTER = 20_000
#: Raster cell edge; coarser for very large fields so the raster stays within _MAX_CELLS.
_CELL_M = 20.0
_MAX_CELLS = 4_000_000
#: The march skips ahead by the distance (in cells) to the nearest cell near an obstacle, capped here,
_MAX_SKIP_CELLS = 30
#: and never by less than this: near obstacles a sample every few cells still finds their cores.
_MIN_STEP_CELLS = 3.0
_MARCH_CHUNK = 32_768
#: Cores are shrunk by this much more than half a cell diagonal, covering the chords of round joins.
_CORE_SLACK_M = 0.5


@dataclass(frozen=True, slots=True)
class VisibilityGraph:
    """Corner nodes with their ring neighbours, and the clear bitangent edges between them."""

    xy: FloatArray  # (n, 2) node positions in metres
    r_prev: FloatArray  # (n, 2) offset to the ring predecessor of each node (for tangency tests)
    r_next: FloatArray  # (n, 2) offset to the ring successor of each node
    tangent_slack: FloatArray  # (n,) TANGENT_TOL * |r_prev| * |r_next|
    owner: IntArray  # obstacle index of each node; -1 for corners of the area
    # Edges leaving node k are first[k] to first[k + 1], sorted by direction. Compact arrays: a
    # graph of 150 000 directed edges takes a few MB, and the airspace keeps one per time window.
    first: array[int]
    to: array[int]  # the node at the far end
    length_m: array[float]
    angle_rad: array[float]  # direction of the edge, radians from +x
    # Per node as plain floats for the search loop: x, y and the offsets to its ring neighbours.
    corners: tuple[tuple[float, float, float, float, float, float], ...]
    candidate_pairs: int  # bitangent pairs tested
    exact_tests: int  # of which the raster could not decide

    @property
    def edge_count(self) -> int:
        """Number of undirected edges."""
        return len(self.to) // 2

    def tangent_mask(self, origin: tuple[float, float]) -> BoolArray:
        """Vectorised: True where the line from `origin` to a node is tangent to its obstacle."""
        # A corner can be a bend of a shortest path only along a line with its obstacle on one side.
        dx = self.xy[:, 0] - origin[0]
        dy = self.xy[:, 1] - origin[1]
        rp, rn = self.r_prev, self.r_next
        s = (dx * rp[:, 1] - dy * rp[:, 0]) * (dx * rn[:, 1] - dy * rn[:, 0])
        return np.asarray(s >= -self.tangent_slack * (dx * dx + dy * dy), bool)


def bitangent_pairs(xy: FloatArray, prev: FloatArray, nxt: FloatArray) -> tuple[IntArray, IntArray]:
    """Every node pair (i < j) whose line is tangent at both ends."""
    n = len(xy)
    x, y = xy[:, 0], xy[:, 1]
    rpx, rpy = prev[:, 0] - x, prev[:, 1] - y
    rnx, rny = nxt[:, 0] - x, nxt[:, 1] - y
    scale = TANGENT_TOL * np.hypot(rpx, rpy) * np.hypot(rnx, rny)
    rows: list[IntArray] = []
    cols: list[IntArray] = []
    block = 64  # rows per step: bounds the temporaries to a few MB
    for i0 in range(0, n - 1, block):
        i1 = min(i0 + block, n - 1)
        u = slice(i0, i1)
        # Columns from i0 + 1 on (the upper triangle). The test at i keeps a quarter to a half of
        # them (the share of directions outside the corner's wedge), so the test at j runs on those.
        dx = x[None, i0 + 1 :] - x[u, None]
        dy = y[None, i0 + 1 :] - y[u, None]
        dd = dx * dx + dy * dy
        ok = (dx * rpy[u, None] - dy * rpx[u, None]) * (
            dx * rny[u, None] - dy * rnx[u, None]
        ) >= -scale[u, None] * dd
        ok &= np.arange(i0 + 1, n)[None, :] > np.arange(i0, i1)[:, None]
        ok &= dd > 0
        r, c = np.nonzero(ok)
        dx, dy, dd = dx[r, c], dy[r, c], dd[r, c]
        j = c + i0 + 1
        ok_j = (dx * rpy[j] - dy * rpx[j]) * (dx * rny[j] - dy * rnx[j]) >= -scale[j] * dd
        rows.append(r[ok_j] + i0)
        cols.append(j[ok_j])
    if not rows:
        empty = np.zeros(0, np.intp)
        return empty, empty
    return np.concatenate(rows).astype(np.intp), np.concatenate(cols).astype(np.intp)


@dataclass(frozen=True, slots=True)
class _CoreRaster:
    """Per cell: how far a march may step (in cells), negative where the cell is inside an obstacle."""

    x0_m: float
    y0_m: float
    cell_m: float
    width: int
    step_cells: npt.NDArray[np.float32]  # flattened row-major (row = y)


def _core_raster(
    obstacles: list[Polygon], bounds: tuple[float, float, float, float]
) -> _CoreRaster:
    x0, y0, x1, y1 = bounds
    cell = max(_CELL_M, math.sqrt((x1 - x0) * (y1 - y0) / _MAX_CELLS))
    # Two cells of padding: every sample of a line between two nodes falls inside the raster.
    x0, y0 = x0 - 2 * cell, y0 - 2 * cell
    width = int((x1 - x0) / cell) + 3
    height = int((y1 - y0) / cell) + 3
    solid = np.zeros((height, width), bool)
    near = np.zeros((height, width), bool)
    half_diag = cell * math.sqrt(0.5)
    arr = np.array(obstacles, dtype=object)
    # A cell whose centre is inside the core lies wholly inside the obstacle (less its clearance).
    cores = shapely.buffer(arr, -(half_diag + _CORE_SLACK_M), quad_segs=4)
    grown = shapely.buffer(arr, half_diag, join_style="mitre")
    shapely.prepare(cores)
    shapely.prepare(grown)
    for core, halo in zip(cores.tolist(), grown.tolist(), strict=True):
        bx0, by0, bx1, by1 = halo.bounds
        i0, i1 = max(int((bx0 - x0) / cell), 0), min(int((bx1 - x0) / cell) + 1, width - 1)
        j0, j1 = max(int((by0 - y0) / cell), 0), min(int((by1 - y0) / cell) + 1, height - 1)
        cx = x0 + (np.arange(i0, i1 + 1) + 0.5) * cell
        cy = y0 + (np.arange(j0, j1 + 1) + 0.5) * cell
        gx, gy = np.meshgrid(cx, cy)
        near[j0 : j1 + 1, i0 : i1 + 1] |= shapely.contains_xy(halo, gx, gy)
        if not core.is_empty:
            solid[j0 : j1 + 1, i0 : i1 + 1] |= shapely.contains_xy(core, gx, gy)
    # Chebyshev distance (in cells) to the nearest cell near an obstacle, by repeated dilation.
    dist = np.full((height, width), _MAX_SKIP_CELLS, np.float32)
    dist[near] = 0
    front = near
    for k in range(1, _MAX_SKIP_CELLS):
        grown_rows = front.copy()
        grown_rows[1:, :] |= front[:-1, :]
        grown_rows[:-1, :] |= front[1:, :]
        nxt = grown_rows.copy()
        nxt[:, 1:] |= grown_rows[:, :-1]
        nxt[:, :-1] |= grown_rows[:, 1:]
        dist[nxt & ~front] = k
        front = nxt
    step = np.maximum(dist, np.float32(_MIN_STEP_CELLS))
    step[solid] = np.float32(-1e9)
    return _CoreRaster(x0, y0, cell, width, step.ravel())


def _proven_blocked(raster: _CoreRaster, a: FloatArray, b: FloatArray) -> BoolArray:
    """True for lines a -> b with a sample inside an obstacle core; False means undecided."""
    blocked = np.zeros(len(a), bool)
    # Single precision halves the memory traffic; its error (well under a millimetre in cells of
    # metres) is covered by the core slack.
    f32 = np.float32
    for k0 in range(0, len(a), _MARCH_CHUNK):
        pa, pb = a[k0 : k0 + _MARCH_CHUNK], b[k0 : k0 + _MARCH_CHUNK]
        d = pb - pa
        length = np.hypot(d[:, 0], d[:, 1])
        # Rows: x, y of the start in cells, unit direction, length in cells, distance marched.
        st = np.empty((6, len(pa)), f32)
        st[0] = (pa[:, 0] - raster.x0_m) / raster.cell_m
        st[1] = (pa[:, 1] - raster.y0_m) / raster.cell_m
        st[2] = d[:, 0] / length
        st[3] = d[:, 1] / length
        st[4] = length / raster.cell_m
        st[5] = 0.0
        idx = np.arange(k0, k0 + len(pa))
        while idx.size:
            cell = (st[1] + st[3] * st[5]).astype(np.intp) * raster.width + (
                st[0] + st[2] * st[5]
            ).astype(np.intp)
            st[5] += raster.step_cells[cell]
            hit = st[5] < 0
            blocked[idx[hit]] = True
            going = ~hit & (st[5] < st[4])
            idx = idx[going]
            st = st[:, going]
    return blocked


def build_visibility_graph(
    xy: FloatArray,
    prev: FloatArray,
    nxt: FloatArray,
    owner: IntArray,
    obstacles: list[Polygon],
    lines_clear: ClearLines,
    min_pairs_for_raster: int = _MIN_PAIRS_FOR_RASTER,
) -> VisibilityGraph:
    """The graph of clear bitangent pairs; `lines_clear` is the exact test for a batch of lines."""
    i, j = bitangent_pairs(xy, prev, nxt)
    undecided = np.ones(len(i), bool)
    if len(i) >= min_pairs_for_raster and obstacles:
        lo = xy.min(axis=0)
        hi = xy.max(axis=0)
        raster = _core_raster(obstacles, (lo[0], lo[1], hi[0], hi[1]))
        undecided = ~_proven_blocked(raster, xy[i], xy[j])
    k = np.nonzero(undecided)[0]
    clear = np.zeros(len(i), bool)
    if len(k):
        clear[k] = lines_clear(xy[i[k]], xy[j[k]])
    src = np.concatenate([i[clear], j[clear]])
    dst = np.concatenate([j[clear], i[clear]])
    d = xy[dst] - xy[src]
    angle = np.arctan2(d[:, 1], d[:, 0])
    order = np.lexsort((angle, src))
    src, dst, angle = src[order], dst[order], angle[order]
    length = np.hypot(d[order, 0], d[order, 1])
    first = np.searchsorted(src, np.arange(len(xy) + 1))
    r_prev, r_next = prev - xy, nxt - xy
    return VisibilityGraph(
        xy=xy,
        r_prev=r_prev,
        r_next=r_next,
        tangent_slack=TANGENT_TOL
        * np.hypot(r_prev[:, 0], r_prev[:, 1])
        * np.hypot(r_next[:, 0], r_next[:, 1]),
        owner=owner,
        first=array("q", first.astype(np.int64).tobytes()),
        to=array("q", dst.astype(np.int64).tobytes()),
        length_m=array("d", length.astype(np.float64).tobytes()),
        angle_rad=array("d", angle.astype(np.float64).tobytes()),
        corners=tuple(
            (a[0], a[1], b[0], b[1], c[0], c[1])
            for a, b, c in zip(xy.tolist(), r_prev.tolist(), r_next.tolist(), strict=True)
        ),
        candidate_pairs=len(i),
        exact_tests=len(k),
    )


class ClearLines:
    """The exact segment test: a line is clear if it misses `blocked` and stays inside `inside`."""

    def __init__(self, blocked: BaseGeometry, inside: BaseGeometry | None) -> None:
        self._blocked = blocked
        self._inside = inside

    def __call__(self, a: FloatArray, b: FloatArray) -> BoolArray:
        """Vectorised: True for each line a[k] -> b[k] that is clear."""
        coords = np.empty((len(a), 2, 2))
        coords[:, 0] = a
        coords[:, 1] = b
        lines = shapely.linestrings(coords)
        ok = ~np.asarray(shapely.intersects(self._blocked, lines), bool)
        if self._inside is not None and ok.any():
            ok[ok] = np.asarray(shapely.covers(self._inside, lines[ok]), bool)
        return ok
