"""Property tests: planned routes are legal and as short as a brute-force visibility-graph search."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import networkx as nx
import numpy as np
import shapely
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from shapely.geometry import LineString, Point, Polygon
from shapely.geometry.base import BaseGeometry

from geofence import Airspace, AirspacePolicy, LegalRoute, RouteRefusal, ViolationKind, load_zones
from geofence.router import ObstacleField
from tests.geofence.synthetic import CENTRE, box, circle_feature, collection, point, polygon_feature

NOW = datetime(2026, 11, 20, 18, 0, tzinfo=UTC)
HALF = 1500.0
EPS_M = 0.1

circle_st = st.tuples(
    st.just("circle"),
    st.floats(-1200, 1200),
    st.floats(-1200, 1200),
    st.floats(30, 350),
)
convex_st = st.tuples(
    st.just("poly"),
    st.floats(-1200, 1200),
    st.floats(-1200, 1200),
    st.lists(st.tuples(st.floats(-300, 300), st.floats(-300, 300)), min_size=3, max_size=7),
)


def _build(
    obstacles: list[tuple[object, ...]], margin_m: float
) -> tuple[Airspace, list[BaseGeometry]]:
    features = [polygon_feature("area", box(-HALF, -HALF, HALF, HALF), kind="inclusion")]
    truth: list[BaseGeometry] = []
    for i, ob in enumerate(obstacles):
        if ob[0] == "circle":
            _, x, y, r = ob
            features.append(circle_feature(f"z{i}", float(x), float(y), float(r)))  # type: ignore[arg-type]
            truth.append(Point(x, y).buffer(float(r), quad_segs=64))  # type: ignore[arg-type]
        else:
            _, x, y, pts = ob
            hull = shapely.MultiPoint([(x + dx, y + dy) for dx, dy in pts]).convex_hull  # type: ignore[operator, union-attr, attr-defined]
            if not isinstance(hull, Polygon) or hull.area < 100:
                continue
            ring = list(hull.exterior.coords)[:-1]
            features.append(polygon_feature(f"z{i}", ring))
            truth.append(hull)
    airspace = Airspace(
        load_zones(collection(*features)), AirspacePolicy(margin_m=margin_m), centre=CENTRE
    )
    # The truth is in the same local metres as the airspace (the synthetic projection shares its centre).
    return airspace, truth


def _xy(airspace: Airspace, route: LegalRoute) -> list[tuple[float, float]]:
    return [airspace.projection.to_xy(p) for p in route.waypoints]


def _reference_length(
    field: ObstacleField, start: tuple[float, float], goal: tuple[float, float]
) -> float | None:
    """Brute force: every vertex pair, every obstacle, networkx Dijkstra."""
    nodes = [start, goal]
    for poly in field.obstacles:
        for ring in [poly.exterior, *poly.interiors]:
            nodes.extend(list(ring.coords)[:-1])
    area = field.area
    assert area is not None
    nodes.extend(list(area.exterior.coords)[:-1])
    blocked = (
        shapely.union_all([o.buffer(-0.05, join_style="mitre") for o in field.obstacles])
        if field.obstacles
        else Polygon()
    )
    inside = area.buffer(0.05, join_style="mitre")
    graph = nx.Graph()
    pairs = [(i, j) for i in range(len(nodes)) for j in range(i + 1, len(nodes))]
    lines = shapely.linestrings([[nodes[i], nodes[j]] for i, j in pairs])
    ok = ~shapely.intersects(blocked, lines) & shapely.covers(inside, lines)
    for (i, j), good in zip(pairs, ok, strict=True):
        if good:
            graph.add_edge(i, j, weight=math.dist(nodes[i], nodes[j]))
    try:
        return float(nx.dijkstra_path_length(graph, 0, 1))
    except (nx.NetworkXNoPath, nx.NodeNotFound):
        return None


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    obstacles=st.lists(st.one_of(circle_st, convex_st), min_size=1, max_size=6),
    start=st.tuples(st.floats(-1450, 1450), st.floats(-1450, 1450)),
    goal=st.tuples(st.floats(-1450, 1450), st.floats(-1450, 1450)),
    margin_m=st.sampled_from([0.0, 25.0]),
)
# Found by earlier runs: a needle corner under the margin, start == goal, a goal on a long edge.
@example(
    obstacles=[("poly", 28.0, 0.0, [(0.0, 0.0), (7.0, 200.0), (-1.0, 0.0)])],
    start=(0.0, 0.0),
    goal=(56.0, 0.0),
    margin_m=25.0,
)
@example(obstacles=[("circle", 1.0, -807.0, 30.0)], start=(0.0, 0.0), goal=(0.0, 0.0), margin_m=0.0)
@example(
    obstacles=[("poly", -1.0, 0.0, [(0.0, 2.0), (0.0, -198.0), (1.0, 0.0)])],
    start=(0.0, 0.0),
    goal=(-1.0, 0.0),
    margin_m=0.0,
)
@example(
    obstacles=[("poly", -0.03125, -46.0, [(0.0, 0.0), (0.0, 100.0), (2.0, 0.0)])],
    start=(0.0, 0.0),
    goal=(1.0, 0.0),
    margin_m=0.0,
)
def test_planned_route_is_legal_and_within_1_01_of_brute_force(
    obstacles: list[tuple[object, ...]],
    start: tuple[float, float],
    goal: tuple[float, float],
    margin_m: float,
) -> None:
    airspace, truth = _build(obstacles, margin_m)
    field = airspace._snapshot(NOW).field
    s_xy = airspace.projection.to_xy(point(*start))
    g_xy = airspace.projection.to_xy(point(*goal))
    assume(field.is_free(s_xy) and field.is_free(g_xy))
    result = airspace.plan_route(point(*start), point(*goal), NOW)
    reference = _reference_length(field, s_xy, g_xy)
    if isinstance(result, RouteRefusal):
        assert [v.kind for v in result.reasons] == [ViolationKind.NO_ROUTE]
        assert reference is None
        return
    assert result.standoff is None
    path = _xy(airspace, result)
    area = Polygon(box(-HALF, -HALF, HALF, HALF)).buffer(EPS_M)
    for a, b in zip(path, path[1:], strict=False):
        leg = LineString([a, b])
        assert area.covers(leg)
        for zone in truth:
            # Never inside a zone, and (less the polygon tolerance) never inside its margin.
            assert leg.distance(zone) >= margin_m - EPS_M
    assert airspace.check_route(result.route_points(), NOW) == []
    assert reference is not None
    assert result.length_m <= reference * 1.01 + 1e-6
    assert result.length_m >= reference - 1e-3


@settings(max_examples=30, deadline=None)
@given(
    obstacles=st.lists(circle_st, min_size=1, max_size=4),
    offset=st.tuples(st.floats(-0.7, 0.7), st.floats(-0.7, 0.7)),
)
def test_standoff_is_legal_and_near_the_target(
    obstacles: list[tuple[object, ...]], offset: tuple[float, float]
) -> None:
    airspace, _ = _build(obstacles, 20.0)
    _, cx, cy, r = obstacles[0]
    target = (float(cx) + offset[0] * float(r), float(cy) + offset[1] * float(r))  # type: ignore[arg-type]
    field = airspace._snapshot(NOW).field
    t_xy = airspace.projection.to_xy(point(*target))
    assume(not field.is_free(t_xy))
    start = next(
        (
            p
            for p in [(-1450.0, -1450.0), (1450.0, 1450.0), (-1450.0, 1450.0), (1450.0, -1450.0)]
            if field.is_free(airspace.projection.to_xy(point(*p)))
        ),
        None,
    )
    assume(start is not None)
    assert start is not None
    result = airspace.plan_route(point(*start), point(*target), NOW)
    if isinstance(result, RouteRefusal):
        assert {v.kind for v in result.reasons} <= {
            ViolationKind.NO_ROUTE,
            ViolationKind.NO_STANDOFF,
        }
        return
    assert result.standoff is not None
    s_xy = airspace.projection.to_xy(result.standoff.point)
    assert field.is_free(s_xy)
    # No free point lies closer to the target than the stand-off (up to boundary sampling).
    angles = np.linspace(0, 2 * math.pi, 72, endpoint=False)
    for radius in np.linspace(1, result.standoff.distance_to_target_m * 0.97, 10):
        xs = t_xy[0] + radius * np.cos(angles)
        ys = t_xy[1] + radius * np.sin(angles)
        assert not field.free_mask(xs, ys).any()
