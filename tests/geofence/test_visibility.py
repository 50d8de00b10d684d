"""The visibility graph: the raster filter changes nothing, and routes over it are shortest."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from geofence import Airspace, AirspacePolicy, LegalRoute, RouteRefusal, ViolationKind, load_zones
from geofence.router import ObstacleField, path_length_m
from tests.geofence.synthetic import (
    CENTRE,
    box,
    circle_feature,
    collection,
    point,
    polygon_feature,
    walled_airspace,
)
from tests.geofence.test_router import _reference_length

NOW = datetime(2026, 11, 20, 18, 0, tzinfo=UTC)
HALF = 3000.0


def _random_field(n_zones: int, seed: int) -> Airspace:
    rng = np.random.default_rng(seed)
    features = [polygon_feature("area", box(-HALF, -HALF, HALF, HALF), kind="inclusion")]
    for i in range(n_zones):
        x, y = (float(v) for v in rng.uniform(-HALF * 0.9, HALF * 0.9, 2))
        if i % 2:
            features.append(circle_feature(f"c{i}", x, y, float(rng.uniform(40, 200))))
        else:
            r = float(rng.uniform(60, 250))
            angles = np.sort(rng.uniform(0, 2 * np.pi, int(rng.integers(4, 8))))
            ring = [(x + r * float(np.cos(a)), y + r * float(np.sin(a))) for a in angles]
            features.append(polygon_feature(f"p{i}", ring))
    return Airspace(load_zones(collection(*features)), AirspacePolicy(margin_m=30.0), centre=CENTRE)


def _edges(field: ObstacleField, **options: int) -> set[tuple[int, int]]:
    graph = field._build_graph(**options)
    out: set[tuple[int, int]] = set()
    for u in range(len(graph.xy)):
        out.update((u, int(v)) for v in graph.to[graph.first[u] : graph.first[u + 1]])
    return out


@pytest.mark.parametrize("seed", [1, 2])
def test_raster_filter_keeps_exactly_the_clear_edges(seed: int) -> None:
    field = _random_field(120, seed)._snapshot(NOW).field
    filtered = field._build_graph(min_pairs_for_raster=0)
    assert filtered.exact_tests < filtered.candidate_pairs / 5  # the raster did decide most pairs
    assert _edges(field, min_pairs_for_raster=0) == _edges(field, min_pairs_for_raster=10**12)


def test_routes_through_many_zones_match_brute_force() -> None:
    airspace = _random_field(25, 3)
    field = airspace._snapshot(NOW).field
    rng = np.random.default_rng(4)
    compared = 0
    while compared < 10:
        s, g = (tuple(float(v) for v in rng.uniform(-HALF, HALF, 2)) for _ in range(2))
        if not (field.is_free(s) and field.is_free(g)):  # type: ignore[arg-type]
            continue
        path = field.shortest_path(s, g).path  # type: ignore[arg-type]
        reference = _reference_length(field, s, g)  # type: ignore[arg-type]
        assert (path is None) == (reference is None)
        if path is not None and reference is not None:
            assert path_length_m(path) == pytest.approx(reference, rel=1e-9, abs=1e-6)
        compared += 1


def test_no_route_names_the_walls_when_the_start_is_walled_in() -> None:
    # Elsewhere: not part of the enclosure, so not named.
    walled = walled_airspace(polygon_feature("far", box(1000, 1000, 1200, 1200)))
    refusal = walled.plan_route(point(0, 0), point(1500, -1500), NOW)
    assert isinstance(refusal, RouteRefusal)
    assert refusal.reasons[0].kind is ViolationKind.NO_ROUTE
    assert "wall-" in refusal.message and "far" not in refusal.message
    assert isinstance(walled.plan_route(point(1500, -1500), point(-1500, 1500), NOW), LegalRoute)
