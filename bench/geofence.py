"""Geofence figures: route checks, route planning with 1000 exclusions, vectorised point checks, optimality.

Run: python bench/geofence.py [--zones 1000 --routes 300 --points 1000000 --optimal-cases 150 --seed 7]
Every loop is bounded by its count. Speeds are printed next to a baseline measured in the same run.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from datetime import UTC, datetime

# Run as a script, this file's folder comes first on sys.path and its name would shadow the package.
if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
    sys.path.pop(0)

import networkx as nx  # noqa: E402
import numpy as np  # noqa: E402
import shapely  # noqa: E402
from shapely.geometry import Point, Polygon  # noqa: E402

from geofence import (  # noqa: E402
    Airspace,
    AirspacePolicy,
    GeoPoint,
    LegalRoute,
    LocalProjection,
    load_zones,
)
from geofence.router import ObstacleField  # noqa: E402

NOW = datetime(2026, 11, 20, 18, 0, tzinfo=UTC)
CENTRE = GeoPoint(38.85, -104.78)


def _ring(proj: LocalProjection, xy: list[tuple[float, float]]) -> list[list[float]]:
    pts = [proj.to_geo(x, y) for x, y in xy]
    coords = [[p.lon_deg, p.lat_deg] for p in pts]
    return coords + coords[:1]


def city(n_zones: int, half_m: float, rng: np.random.Generator, with_grid: bool) -> Airspace:
    """A square operating area with `n_zones` random non-trivial keep-outs and a ceiling grid."""
    proj = LocalProjection(CENTRE)
    features = [
        {
            "type": "Feature",
            "geometry": {
                "type": "Polygon",
                "coordinates": [
                    _ring(
                        proj,
                        [
                            (-half_m, -half_m),
                            (half_m, -half_m),
                            (half_m, half_m),
                            (-half_m, half_m),
                        ],
                    )
                ],
            },
            "properties": {"id": "area", "kind": "inclusion"},
        }
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
            features.append(
                {
                    "type": "Feature",
                    "geometry": {"type": "Polygon", "coordinates": [_ring(proj, xy)]},
                    "properties": {"id": f"p{i}"},
                }
            )
    zones = load_zones({"type": "FeatureCollection", "features": features})
    if with_grid:
        cells = []
        step = 1000.0
        for gx in np.arange(-half_m, half_m, step):
            for gy in np.arange(-half_m, half_m, step):
                d = math.hypot(gx + step / 2 - half_m / 2, gy + step / 2 - half_m / 2)
                ceiling = 0 if d < 1200 else 100 if d < 2500 else 200 if d < 4000 else 400
                cells.append(
                    {
                        "type": "Feature",
                        "geometry": {
                            "type": "Polygon",
                            "coordinates": [
                                _ring(
                                    proj,
                                    [
                                        (gx, gy),
                                        (gx + step, gy),
                                        (gx + step, gy + step),
                                        (gx, gy + step),
                                    ],
                                )
                            ],
                        },
                        "properties": {"OBJECTID": len(cells), "CEILING": ceiling, "UNIT": "Feet"},
                    }
                )
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
    airspace.prepare(NOW)
    t2 = time.perf_counter()
    n_obstacles = len(airspace.obstacle_polygons_xy(NOW))
    print(
        f"city {2 * args.half_m / 1000:.0f} x {2 * args.half_m / 1000:.0f} km, {args.zones} exclusions, "
        f"{len(airspace.zones.ceiling_cells)} ceiling cells -> {n_obstacles} merged obstacles"
    )
    print(
        f"  import + projection: {(t1 - t0) * 1e3:.0f} ms; obstacle field for a time window (cached): "
        f"{(t2 - t1) * 1e3:.0f} ms"
    )

    # Route planning, warm cache.
    ends = free_points(airspace, 2 * args.routes, args.half_m, rng)
    plan_ms: list[float] = []
    plan_best_ms: list[float] = []
    routes: list[LegalRoute] = []
    refused = 0
    for a, b in zip(ends[::2], ends[1::2], strict=True):
        runs = []
        for _ in range(args.repeat):
            s = time.perf_counter()
            r = airspace.plan_route(a, b, NOW)
            runs.append((time.perf_counter() - s) * 1e3)
        plan_ms.append(runs[0])
        plan_best_ms.append(min(runs))
        if isinstance(r, LegalRoute):
            routes.append(r)
        else:
            refused += 1
    lengths = [r.length_m for r in routes]
    legs = [len(r.waypoints) - 1 for r in routes]
    print(
        f"route planning ({len(plan_ms)} random dock/target pairs, mean {np.mean(lengths) / 1000:.1f} km, "
        f"mean {np.mean(legs):.1f} legs, {refused} refused):"
    )
    print(
        f"  p50 {pct(plan_ms, 50):.2f} ms  p90 {pct(plan_ms, 90):.2f} ms  p99 {pct(plan_ms, 99):.2f} ms  "
        f"max {max(plan_ms):.2f} ms; best of {args.repeat} per pair: p50 {pct(plan_best_ms, 50):.2f} ms  "
        f"p99 {pct(plan_best_ms, 99):.2f} ms  (target p99 <= 10 ms)"
    )

    # DFR reach: the target within the site radius (1-5 mi) of its dock.
    reach_ms: list[float] = []
    docks = free_points(airspace, args.routes, args.half_m, rng)
    free_targets = free_points(airspace, 20 * args.routes, args.half_m, rng)
    t_xy = np.array([airspace.projection.to_xy(p) for p in free_targets])
    for dock in docks:
        dx, dy = airspace.projection.to_xy(dock)
        dist = np.hypot(t_xy[:, 0] - dx, t_xy[:, 1] - dy)
        near = np.nonzero((dist > 800) & (dist < 8000))[0]
        if len(near) == 0:
            continue
        target = free_targets[int(rng.choice(near))]
        runs = []
        for _ in range(args.repeat):
            s = time.perf_counter()
            airspace.plan_route(dock, target, NOW)
            runs.append((time.perf_counter() - s) * 1e3)
        reach_ms.append(min(runs))
    print(
        f"route planning within DFR reach (0.8-8 km, {len(reach_ms)} pairs, best of {args.repeat}): "
        f"p50 {pct(reach_ms, 50):.2f} ms  p90 {pct(reach_ms, 90):.2f} ms  p99 {pct(reach_ms, 99):.2f} ms"
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
