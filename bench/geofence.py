"""Geofence figures: route checks, route planning with 1000 exclusions, vectorised point checks, optimality.

Run: python bench/geofence.py [--zones 1000 --half-m 10000 --routes 300 --baseline-routes 100
--points 1000000 --optimal-cases 150 --seed 7]
Every loop is bounded by its count. Speeds are printed next to a baseline measured in the same run:
route planning against the previous planner (a visibility graph grown lazily per query, kept below).
"""

from __future__ import annotations

import argparse
import heapq
import math
import os
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

# Run as a script, this file's folder comes first on sys.path and its name would shadow the package.
if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
    sys.path.pop(0)

import networkx as nx  # noqa: E402
import numpy as np  # noqa: E402
import shapely  # noqa: E402
from shapely.geometry import LineString, Point, Polygon  # noqa: E402

from geofence import (  # noqa: E402
    Airspace,
    AirspacePolicy,
    GeoPoint,
    LegalRoute,
    LocalProjection,
    RouteRefusal,
    load_zones,
)
from geofence.router import ObstacleField, path_length_m  # noqa: E402

NOW = datetime(2026, 11, 20, 18, 0, tzinfo=UTC)
CENTRE = GeoPoint(38.85, -104.78)


def _polygon(
    proj: LocalProjection, xy: list[tuple[float, float]], properties: dict[str, Any]
) -> dict[str, Any]:
    """A GeoJSON polygon feature from local metres, its ring closed."""
    coords = [[p.lon_deg, p.lat_deg] for p in (proj.to_geo(x, y) for x, y in xy)]
    return {
        "type": "Feature",
        "geometry": {"type": "Polygon", "coordinates": [coords + coords[:1]]},
        "properties": properties,
    }


def _square(x_m: float, y_m: float, side_m: float) -> list[tuple[float, float]]:
    """The corners of an axis-aligned square from its south-west corner, counter-clockwise."""
    return [(x_m, y_m), (x_m + side_m, y_m), (x_m + side_m, y_m + side_m), (x_m, y_m + side_m)]


def city(n_zones: int, half_m: float, rng: np.random.Generator, with_grid: bool) -> Airspace:
    """A square operating area with `n_zones` random non-trivial keep-outs and a ceiling grid."""
    proj = LocalProjection(CENTRE)
    features = [
        _polygon(proj, _square(-half_m, -half_m, 2 * half_m), {"id": "area", "kind": "inclusion"})
    ]
    for i in range(n_zones):
        x, y = rng.uniform(-half_m * 0.95, half_m * 0.95, 2)
        if i % 2:
            p = proj.to_geo(float(x), float(y))
            features.append(
                {
                    "type": "Feature",
                    "geometry": {"type": "Point", "coordinates": [p.lon_deg, p.lat_deg]},
                    "properties": {"id": f"c{i}", "radius_m": float(rng.uniform(40, 200))},
                }
            )
        else:
            k = int(rng.integers(4, 8))
            r = rng.uniform(60, 250)
            angles = np.sort(rng.uniform(0, 2 * math.pi, k))
            xy = [(float(x + r * math.cos(a)), float(y + r * math.sin(a))) for a in angles]
            if Polygon(xy).area < 500:
                xy = [(x - 50, y - 50), (x + 50, y - 50), (x + 50, y + 50), (x - 50, y + 50)]
            features.append(_polygon(proj, xy, {"id": f"p{i}"}))
    zones = load_zones({"type": "FeatureCollection", "features": features})
    if with_grid:
        cells = []
        step = 1000.0
        for gx in np.arange(-half_m, half_m, step):
            for gy in np.arange(-half_m, half_m, step):
                d = math.hypot(gx + step / 2 - half_m / 2, gy + step / 2 - half_m / 2)
                ceiling = 0 if d < 1200 else 100 if d < 2500 else 200 if d < 4000 else 400
                properties = {"OBJECTID": len(cells), "CEILING": ceiling, "UNIT": "Feet"}
                cells.append(_polygon(proj, _square(gx, gy, step), properties))
        zones = zones.merged(load_zones({"type": "FeatureCollection", "features": cells}, "uasfm"))
    return Airspace(zones, AirspacePolicy(margin_m=30.0), centre=CENTRE)


def free_points(
    airspace: Airspace, n: int, half_m: float, rng: np.random.Generator
) -> list[GeoPoint]:
    out: list[GeoPoint] = []
    while len(out) < n:
        xy = rng.uniform(-half_m, half_m, size=(4 * n, 2))
        lat, lon = airspace.projection.to_geo_arrays(xy[:, 0], xy[:, 1])
        ok = airspace.legal_mask(lat, lon, NOW)
        out.extend(GeoPoint(float(a), float(b)) for a, b, k in zip(lat, lon, ok, strict=True) if k)
    return out[:n]


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def timed(fn: Callable[[], object]) -> tuple[float, float]:
    """(wall ms, this thread's CPU ms): CPU time leaves out waits for a core on a busy machine."""
    wall, cpu = time.perf_counter_ns(), time.thread_time_ns()
    fn()
    return (time.perf_counter_ns() - wall) / 1e6, (time.thread_time_ns() - cpu) / 1e6


XY = tuple[float, float]


def previous_shortest_path(fld: ObstacleField, start: XY, goal: XY) -> list[XY] | None:
    """The previous planner (before the visibility graph), kept here as the baseline."""
    # Start with the obstacles the straight line crosses, find the shortest path among those by A*
    # over their corners (visibility tested as corners are expanded, against those obstacles only),
    # add every obstacle the path crosses, and repeat until the path is clear. Nothing is kept
    # between queries.
    if math.dist(start, goal) < 1e-9:
        return [start, goal]
    straight = np.array([LineString([start, goal])], dtype=object)
    used: set[int] = {int(i) for i in fld.segment_hits(straight)[1]}
    use_area = not bool(fld.lines_in_area(straight)[0])
    while True:
        path, hits, leaves = _previous_search(fld, start, goal, used, use_area)
        if path is None:
            return None
        if not (hits - used) and not (leaves and not use_area):
            return path
        used |= hits
        use_area = use_area or leaves


def _previous_search(
    fld: ObstacleField, start: XY, goal: XY, used: set[int], use_area: bool
) -> tuple[list[XY] | None, set[int], bool]:
    parts = [(np.array([start, goal], float),) * 3] + [fld._nodes[i] for i in sorted(used)]
    if use_area and fld._area_nodes is not None:
        parts.append(fld._area_nodes)
    p_all, pv_all, nx_all = (np.vstack([p[k] for p in parts]) for k in range(3))
    n = len(p_all)
    used_list = sorted(used)
    local = shapely.STRtree([fld._shrunk[i] for i in used_list]) if used_list else None
    check_area = use_area and fld._area_grown is not None
    h = np.hypot(p_all[:, 0] - goal[0], p_all[:, 1] - goal[1])
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
        dd = d[:, 0] * d[:, 0] + d[:, 1] * d[:, 1]
        cand = ~closed & (dd > 0)
        if not is_free[u]:
            ru_p, ru_n = pv_all[u] - p_all[u], nx_all[u] - p_all[u]
            su = (d[:, 0] * ru_p[1] - d[:, 1] * ru_p[0]) * (d[:, 0] * ru_n[1] - d[:, 1] * ru_n[0])
            cand &= (su >= -tol * dd * math.hypot(*ru_p) * math.hypot(*ru_n)) | is_free
        rv_p, rv_n = pv_all - p_all, nx_all - p_all
        sv = (d[:, 0] * rv_p[:, 1] - d[:, 1] * rv_p[:, 0]) * (
            d[:, 0] * rv_n[:, 1] - d[:, 1] * rv_n[:, 0]
        )
        scale_v = dd * np.hypot(rv_p[:, 0], rv_p[:, 1]) * np.hypot(rv_n[:, 0], rv_n[:, 1])
        cand &= (sv >= -tol * scale_v) | is_free | bool(is_free[u])
        idx = np.nonzero(cand)[0]
        new_g = g + np.hypot(d[idx, 0], d[idx, 1])
        better = new_g < g_best[idx]
        idx, new_g = idx[better], new_g[better]
        if len(idx) == 0:
            continue
        lines = shapely.linestrings(
            np.stack([np.broadcast_to(p_all[u], (len(idx), 2)), p_all[idx]], axis=1)
        )
        ok = np.ones(len(idx), bool)
        if local is not None:
            ok[local.query(lines, predicate="intersects")[0]] = False
        if check_area:
            ok[ok] = fld.lines_in_area(lines[ok])
        for v, gv in zip(idx[ok].tolist(), new_g[ok].tolist(), strict=True):
            g_best[v] = gv
            parent[v] = u
            heapq.heappush(heap, (gv + float(h[v]), gv, v))
    if not math.isfinite(g_best[1]):
        return None, set(), False
    node_path = [1]
    while node_path[-1] != 0:
        node_path.append(int(parent[node_path[-1]]))
    path = [(float(p_all[k, 0]), float(p_all[k, 1])) for k in reversed(node_path)]
    path_lines = shapely.linestrings([[a, b] for a, b in zip(path, path[1:], strict=False)])
    hits = {int(o) for o in fld.segment_hits(path_lines)[1]}
    return path, hits, not bool(np.all(fld.lines_in_area(path_lines)))


def plan_figures(
    airspace: Airspace,
    pairs: list[tuple[GeoPoint, GeoPoint]],
    repeat: int,
    baseline_pairs: int,
) -> tuple[dict[str, list[float]], list[LegalRoute], int]:
    """Times `plan_route` per pair, and the path search against the previous planner on a prefix."""
    # Per pair: first run and best of `repeat`, wall clock and thread CPU; on the first
    # `baseline_pairs` pairs also the path search alone, new and previous planner, interleaved.
    fld = airspace._snapshot(NOW).field
    out: dict[str, list[float]] = {
        k: [] for k in ("wall", "cpu", "best_wall", "best_cpu", "search", "prev", "length_ratio")
    }
    routes: list[LegalRoute] = []
    refused = 0
    for k, (a, b) in enumerate(pairs):
        result: list[LegalRoute | RouteRefusal] = []
        runs = [
            timed(lambda a=a, b=b, r=result: r.append(airspace.plan_route(a, b, NOW)))
            for _ in range(repeat)
        ]
        out["wall"].append(runs[0][0])
        out["cpu"].append(runs[0][1])
        out["best_wall"].append(min(r[0] for r in runs))
        out["best_cpu"].append(min(r[1] for r in runs))
        if isinstance(result[0], LegalRoute):
            routes.append(result[0])
        else:
            refused += 1
        if k < baseline_pairs:
            # Both planners on the same corners, interleaved so machine load hits both alike.
            s, g = airspace.projection.to_xy(a), airspace.projection.to_xy(b)
            found: list[list[XY] | None] = []
            out["search"].append(
                timed(lambda s=s, g=g, f=found: f.append(fld.shortest_path(s, g).path))[1]
            )
            out["prev"].append(
                timed(lambda s=s, g=g, f=found: f.append(previous_shortest_path(fld, s, g)))[1]
            )
            if found[0] is not None and found[1] is not None and path_length_m(found[1]) > 0:
                out["length_ratio"].append(path_length_m(found[0]) / path_length_m(found[1]))
    return out, routes, refused


def report_plans(title: str, fig: dict[str, list[float]], repeat: int) -> None:
    """Prints the planning percentiles and the ratio against the previous planner."""
    print(title)
    print(
        f"  wall p50 {pct(fig['wall'], 50):.2f} ms  p90 {pct(fig['wall'], 90):.2f} ms  "
        f"p99 {pct(fig['wall'], 99):.2f} ms  max {max(fig['wall']):.2f} ms  (target p99 <= 10 ms)"
    )
    print(
        f"  thread CPU p50 {pct(fig['cpu'], 50):.2f} ms  p90 {pct(fig['cpu'], 90):.2f} ms  "
        f"p99 {pct(fig['cpu'], 99):.2f} ms  max {max(fig['cpu']):.2f} ms  (without waiting for a core)"
    )
    print(
        f"  best of {repeat} per pair: wall p99 {pct(fig['best_wall'], 99):.2f} ms  "
        f"CPU p99 {pct(fig['best_cpu'], 99):.2f} ms"
    )
    if fig["prev"]:
        n = len(fig["prev"])
        print(
            f"  path search alone on the first {n} pairs, thread CPU: p50 {pct(fig['search'], 50):.2f} ms  "
            f"p99 {pct(fig['search'], 99):.2f} ms; previous planner p50 {pct(fig['prev'], 50):.2f} ms  "
            f"p99 {pct(fig['prev'], 99):.2f} ms (x{pct(fig['prev'], 50) / pct(fig['search'], 50):.1f} "
            f"at p50, x{pct(fig['prev'], 99) / pct(fig['search'], 99):.1f} at p99)"
        )
        print(
            f"  length new / previous: min {min(fig['length_ratio']):.6f}  "
            f"max {max(fig['length_ratio']):.6f}"
        )


def reference_length(
    field: ObstacleField, start: tuple[float, float], goal: tuple[float, float]
) -> float | None:
    """Brute-force visibility graph over every vertex (networkx Dijkstra)."""
    nodes = [start, goal]
    for poly in field.obstacles:
        for ring in [poly.exterior, *poly.interiors]:
            nodes.extend(list(ring.coords)[:-1])
    assert field.area is not None
    nodes.extend(list(field.area.exterior.coords)[:-1])
    blocked = (
        shapely.union_all([o.buffer(-0.05, join_style="mitre") for o in field.obstacles])
        if field.obstacles
        else Polygon()
    )
    inside = field.area.buffer(0.05, join_style="mitre")
    ii, jj = np.triu_indices(len(nodes), k=1)
    arr = np.asarray(nodes)
    lines = shapely.linestrings(np.stack([arr[ii], arr[jj]], axis=1))
    ok = ~shapely.intersects(blocked, lines) & shapely.covers(inside, lines)
    graph = nx.Graph()
    for i, j in zip(ii[ok].tolist(), jj[ok].tolist(), strict=True):
        graph.add_edge(i, j, weight=math.dist(nodes[i], nodes[j]))
    try:
        return float(nx.dijkstra_path_length(graph, 0, 1))
    except (nx.NetworkXNoPath, nx.NodeNotFound):
        return None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--zones", type=int, default=1000)
    ap.add_argument("--half-m", type=float, default=10_000.0, help="half width of the city square")
    ap.add_argument("--routes", type=int, default=300)
    ap.add_argument(
        "--baseline-routes",
        type=int,
        default=100,
        help="pairs (of each kind) also planned with the previous planner, for the ratio",
    )
    ap.add_argument("--points", type=int, default=1_000_000)
    ap.add_argument("--optimal-cases", type=int, default=150)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument(
        "--repeat", type=int, default=3, help="timings per case (best-of filters scheduler noise)"
    )
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)

    t0 = time.perf_counter()
    airspace = city(args.zones, args.half_m, rng, with_grid=True)
    t1 = time.perf_counter()
    n_obstacles = len(airspace.obstacle_polygons_xy(NOW))  # builds the obstacle field
    t2 = time.perf_counter()
    airspace.prepare(NOW)  # builds its visibility graph
    t3 = time.perf_counter()
    graph = airspace._snapshot(NOW).field.visibility_graph()
    print(
        f"city {2 * args.half_m / 1000:.0f} x {2 * args.half_m / 1000:.0f} km, {args.zones} exclusions, "
        f"{len(airspace.zones.ceiling_cells)} ceiling cells -> {n_obstacles} merged obstacles"
    )
    print(
        f"  import + projection: {(t1 - t0) * 1e3:.0f} ms; per time window, built once and cached: "
        f"obstacle field {(t2 - t1) * 1e3:.0f} ms, visibility graph {(t3 - t2) * 1e3:.0f} ms "
        f"({len(graph.xy)} corners, {graph.candidate_pairs} bitangent pairs, "
        f"{graph.exact_tests} exact line tests, {graph.edge_count} edges)"
    )

    # Route planning, graph built.
    ends = free_points(airspace, 2 * args.routes, args.half_m, rng)
    fig, routes, refused = plan_figures(
        airspace, list(zip(ends[::2], ends[1::2], strict=True)), args.repeat, args.baseline_routes
    )
    lengths = [r.length_m for r in routes]
    legs = [len(r.waypoints) - 1 for r in routes]
    report_plans(
        f"route planning ({len(fig['wall'])} random dock/target pairs, mean {np.mean(lengths) / 1000:.1f} km, "
        f"mean {np.mean(legs):.1f} legs, {refused} refused):",
        fig,
        args.repeat,
    )

    # DFR reach: the target within the site radius (1-5 mi) of its dock.
    docks = free_points(airspace, args.routes, args.half_m, rng)
    free_targets = free_points(airspace, 20 * args.routes, args.half_m, rng)
    t_xy = np.array([airspace.projection.to_xy(p) for p in free_targets])
    reach_pairs: list[tuple[GeoPoint, GeoPoint]] = []
    for dock in docks:
        dx, dy = airspace.projection.to_xy(dock)
        dist = np.hypot(t_xy[:, 0] - dx, t_xy[:, 1] - dy)
        near = np.nonzero((dist > 800) & (dist < 8000))[0]
        if len(near):
            reach_pairs.append((dock, free_targets[int(rng.choice(near))]))
    reach, _, _ = plan_figures(airspace, reach_pairs, args.repeat, args.baseline_routes)
    report_plans(
        f"route planning within DFR reach (0.8-8 km, {len(reach_pairs)} pairs):", reach, args.repeat
    )

    # Route legality check of the planned routes.
    check_ms: list[float] = []
    check_best_ms: list[float] = []
    bad = 0
    for r in routes:
        pts = r.route_points()
        runs = []
        for _ in range(args.repeat):
            s = time.perf_counter()
            v = airspace.check_route(pts, NOW)
            runs.append((time.perf_counter() - s) * 1e3)
        check_ms.append(runs[0])
        check_best_ms.append(min(runs))
        bad += bool(v)
    print(f"route legality check ({len(check_ms)} routes, {bad} with violations):")
    print(
        f"  p50 {pct(check_ms, 50):.3f} ms  p99 {pct(check_ms, 99):.3f} ms; best of {args.repeat} per route: "
        f"p99 {pct(check_best_ms, 99):.3f} ms  (target p99 <= 1 ms)"
    )

    # Vectorised point checks against a per-point STRtree baseline.
    xy = rng.uniform(-args.half_m * 1.05, args.half_m * 1.05, size=(args.points, 2))
    lat, lon = airspace.projection.to_geo_arrays(xy[:, 0], xy[:, 1])
    s = time.perf_counter()
    mask = airspace.legal_mask(lat, lon, NOW)
    vec_s = time.perf_counter() - s
    n_base = min(20_000, args.points)
    obstacles = airspace.obstacle_polygons_xy(NOW)
    tree = shapely.STRtree(obstacles)
    area = airspace.operating_area_xy(NOW)
    s = time.perf_counter()
    base = np.empty(n_base, bool)
    for k in range(n_base):
        x, y = airspace.projection.to_xy(GeoPoint(float(lat[k]), float(lon[k])))
        pt = Point(x, y)
        base[k] = (
            bool(area is not None and area.contains(pt))
            and len(tree.query(pt, predicate="within")) == 0
        )
    base_s = time.perf_counter() - s
    agree = float(np.mean(base == mask[:n_base]))
    print(
        f"point checks: vectorised {args.points / vec_s / 1e3:.0f}k points/s ({args.points} points, "
        f"{mask.mean() * 100:.0f}% legal); per-point STRtree baseline {n_base / base_s / 1e3:.1f}k points/s; "
        f"ratio x{(args.points / vec_s) / (n_base / base_s):.0f}; agreement {agree * 100:.2f}% "
        f"(target >= 200k/s)"
    )

    if args.optimal_cases <= 0:
        return
    # Optimality against a brute-force visibility graph on small random cases.
    ratios: list[float] = []
    brute_ms: list[float] = []
    fast_ms: list[float] = []
    mismatched = 0
    for _ in range(args.optimal_cases):
        small = city(int(rng.integers(3, 12)), 1500.0, rng, with_grid=False)
        fld = small._snapshot(NOW).field
        a, b = free_points(small, 2, 1500.0, rng)
        s = time.perf_counter()
        r = small.plan_route(a, b, NOW)
        fast_ms.append((time.perf_counter() - s) * 1e3)
        s = time.perf_counter()
        ref = reference_length(fld, small.projection.to_xy(a), small.projection.to_xy(b))
        brute_ms.append((time.perf_counter() - s) * 1e3)
        if isinstance(r, LegalRoute) and ref is not None:
            ratios.append(r.length_m / ref if ref > 0 else 1.0)
        elif isinstance(r, LegalRoute) != (ref is not None):
            mismatched += 1
    print(
        f"planned / optimal length on {len(ratios)} small random cases (3-11 zones, 3 x 3 km): "
        f"mean {np.mean(ratios):.6f}  max {max(ratios):.6f}  (route/no-route disagreements: {mismatched})"
    )
    print(
        f"  planner p50 {pct(fast_ms, 50):.2f} ms vs brute-force visibility graph p50 {pct(brute_ms, 50):.1f} ms "
        f"(x{pct(brute_ms, 50) / pct(fast_ms, 50):.0f})"
    )


if __name__ == "__main__":
    main()
