from datetime import UTC, datetime

import numpy as np
import pytest

from geofence import (
    FEET_TO_M,
    Airspace,
    AirspacePolicy,
    Altitude,
    AltitudeDatum,
    GeoPoint,
    InvalidTimeError,
    LegalRoute,
    RoutePoint,
    RouteRefusal,
    ViolationKind,
    colorado_springs_airspace,
    load_zones,
)
from geofence.loaders import UASFM_CELL_DEG
from tests.geofence.synthetic import (
    CENTRE,
    box,
    circle_feature,
    collection,
    lonlat,
    point,
    polygon_feature,
    walled_airspace,
)

NOW = datetime(2026, 11, 20, 18, 0, tzinfo=UTC)  # a Friday, 11:00 in Denver
AGL = AltitudeDatum.AGL


def alt(m: float) -> Altitude:
    return Altitude(m, AGL)


def cell_feature(
    cell_id: int, x: float, y: float, size: float, ceiling_ft: float
) -> dict[str, object]:
    f = polygon_feature(str(cell_id), box(x, y, x + size, y + size))
    f["properties"] = {"OBJECTID": cell_id, "CEILING": ceiling_ft, "UNIT": "Feet"}
    return f


@pytest.fixture
def airspace() -> Airspace:
    zones = load_zones(
        collection(
            polygon_feature("area", box(-2000, -2000, 2000, 2000), kind="operating_area"),
            circle_feature("hospital", 0, 0, 200, name="Hospital helipad", reason="air ambulance"),
            polygon_feature("prison", box(800, -1500, 1200, -1100), name="Prison"),
            circle_feature(
                "tfr",
                -1000,
                1000,
                300,
                name="Stadium TFR",
                applicability=[
                    {
                        "timezone": "America/Denver",
                        "schedule": [{"days": ["FRI"], "start": "18:00", "end": "23:00"}],
                    }
                ],
            ),
            polygon_feature(
                "park", box(-1800, -1800, -1500, -1500), kind="advisory", reason="wildlife"
            ),
        )
    )
    grid = load_zones(
        collection(
            cell_feature(1, 1000, 1000, 500, 100),
            cell_feature(2, 1500, 1000, 500, 0),
        ),
        "uasfm",
    )
    return Airspace(zones.merged(grid), AirspacePolicy(margin_m=20.0), centre=CENTRE)


def test_check_point_reports_every_reason(airspace: Airspace) -> None:
    inside_hospital = airspace.check_point(point(0, 0), alt(150), NOW)
    kinds = {v.kind for v in inside_hospital}
    assert ViolationKind.INSIDE_EXCLUSION in kinds and ViolationKind.ABOVE_POLICY_MAX in kinds
    assert any("Hospital helipad" in v.reason and v.zone_id == "hospital" for v in inside_hospital)
    assert airspace.check_point(point(-500, 500), alt(100), NOW) == []
    outside = airspace.check_point(point(2500, 0), alt(50), NOW)
    assert [v.kind for v in outside] == [ViolationKind.OUTSIDE_OPERATING_AREA]


def test_check_point_counts_the_safety_margin(airspace: Airspace) -> None:
    assert airspace.check_point(point(210, 0), alt(50), NOW)  # 10 m from the circle, margin 20 m
    # Circles are kept out with a circumscribed octagon: at most 8.3 % beyond radius + margin.
    assert airspace.check_point(point(225, 0), alt(50), NOW)
    assert not airspace.check_point(point(220 * 1.083, 0), alt(50), NOW)
    assert not airspace.check_point(point(0, 220 * 1.083), alt(50), NOW)


def test_ceiling_cell_limits_altitude_with_reason_in_feet(airspace: Airspace) -> None:
    v = airspace.check_point(point(1250, 1250), alt(60), NOW)
    assert [x.kind for x in v] == [ViolationKind.ABOVE_CEILING]
    assert "100 ft" in v[0].reason and v[0].zone_id == "uasfm-1"
    assert not airspace.check_point(point(1250, 1250), alt(30), NOW)
    assert airspace.ceiling_agl_m(point(1250, 1250)) == pytest.approx(100 * FEET_TO_M)
    assert airspace.ceiling_agl_m(point(-500, -500)) == pytest.approx(400 * FEET_TO_M)


def test_check_route_reports_each_leg_that_crosses(airspace: Airspace) -> None:
    route = [
        RoutePoint(point(-1000, 0), alt(60)),
        RoutePoint(point(1000, 0), alt(60)),
        RoutePoint(point(1000, -1800), alt(60)),
    ]
    v = airspace.check_route(route, NOW)
    assert {(x.zone_id, x.leg_index) for x in v} == {("hospital", 0), ("prison", 1)}


def test_zone_vertical_limits_apply(airspace: Airspace) -> None:
    zones = load_zones(
        collection(polygon_feature("high", box(-100, -100, 100, 100), floor=80, ceiling=200))
    )
    high = Airspace(zones, AirspacePolicy(margin_m=0), centre=CENTRE)
    assert not high.check_point(point(0, 0), alt(50), NOW)
    assert high.check_point(point(0, 0), alt(90), NOW)


def test_time_window_switches_a_zone_on(airspace: Airspace) -> None:
    friday_evening = datetime(2026, 11, 21, 2, 0, tzinfo=UTC)  # Friday 19:00 in Denver
    assert not airspace.check_point(point(-1000, 1000), alt(50), NOW)
    v = airspace.check_point(point(-1000, 1000), alt(50), friday_evening)
    assert [x.zone_id for x in v] == ["tfr"]


def test_naive_time_is_refused(airspace: Airspace) -> None:
    with pytest.raises(InvalidTimeError):
        airspace.check_point(point(0, 0), alt(50), datetime(2026, 1, 1))


def test_plan_route_goes_around_exclusion_and_is_legal(airspace: Airspace) -> None:
    route = airspace.plan_route(point(-1000, 0), point(1000, 0), NOW)
    assert isinstance(route, LegalRoute)
    assert len(route.waypoints) > 2
    assert 2000 < route.length_m < 2000 * 1.05
    assert airspace.check_route(route.route_points(), NOW) == []


def test_plan_route_uses_straight_line_when_clear(airspace: Airspace) -> None:
    route = airspace.plan_route(point(-1000, -500), point(-500, -1000), NOW)
    assert isinstance(route, LegalRoute)
    assert len(route.waypoints) == 2
    assert route.length_m == pytest.approx(np.hypot(500, 500), rel=1e-4)


def test_altitude_profile_takes_lowest_ceiling_crossed(airspace: Airspace) -> None:
    route = airspace.plan_route(point(500, 1250), point(1400, 1250), NOW)
    assert isinstance(route, LegalRoute)
    assert route.leg_alt_agl_m == (pytest.approx(100 * FEET_TO_M),)


def test_zero_ceiling_cell_is_flown_around_and_target_in_it_gets_standoff(
    airspace: Airspace,
) -> None:
    route = airspace.plan_route(point(500, 1250), point(1750, 1250), NOW)
    assert isinstance(route, LegalRoute)
    assert route.standoff is not None
    assert "0 ft ceiling" in route.standoff.reason
    assert route.standoff.distance_to_target_m == pytest.approx(250, abs=1)


def test_target_inside_exclusion_gets_nearest_standoff_with_reason(airspace: Airspace) -> None:
    route = airspace.plan_route(point(-1000, 0), point(50, 0), NOW)
    assert isinstance(route, LegalRoute)
    assert route.standoff is not None
    assert route.standoff.zone_ids == ("hospital",)
    assert "Hospital helipad" in route.standoff.reason
    # Circle 200 m + margin 20 m (octagon edges at least that far): 170 to 190 m from (50, 0).
    assert 169 < route.standoff.distance_to_target_m < 190
    assert airspace.check_point(route.destination, alt(50), NOW) == []


def test_refusal_lists_every_reason(airspace: Airspace) -> None:
    refusal = airspace.plan_route(point(1000, -1300), point(3000, 0), NOW)
    assert isinstance(refusal, RouteRefusal)
    kinds = [v.kind for v in refusal.reasons]
    assert ViolationKind.INSIDE_EXCLUSION in kinds and ViolationKind.OUTSIDE_OPERATING_AREA in kinds
    assert "Prison" in refusal.message and "target is outside" in refusal.message


def test_no_route_when_the_target_is_walled_in() -> None:
    walled = walled_airspace()
    refusal = walled.plan_route(point(-1000, 0), point(0, 0), NOW)
    assert isinstance(refusal, RouteRefusal)
    assert refusal.reasons[0].kind is ViolationKind.NO_ROUTE
    assert "wall-" in refusal.message


def test_route_reports_advisories(airspace: Airspace) -> None:
    route = airspace.plan_route(point(-1900, -1650), point(-1400, -1650), NOW)
    assert isinstance(route, LegalRoute)
    assert route.advisories and "wildlife" in route.advisories[0]


def test_legal_mask_matches_point_checks(airspace: Airspace) -> None:
    rng = np.random.default_rng(7)
    xy = rng.uniform(-2200, 2200, size=(300, 2))
    pts = [point(float(x), float(y)) for x, y in xy]
    mask = airspace.legal_mask([p.lat_deg for p in pts], [p.lon_deg for p in pts], NOW)
    for p, ok in zip(pts, mask, strict=True):
        horizontal = [
            v
            for v in airspace.check_point(p, alt(10), NOW)
            if v.kind in (ViolationKind.INSIDE_EXCLUSION, ViolationKind.OUTSIDE_OPERATING_AREA)
        ]
        low_cell = airspace.ceiling_agl_m(p) < airspace.policy.min_safe_alt_agl_m
        assert bool(ok) == (not horizontal and not low_cell)


def test_route_geojson_carries_legs_and_totals(airspace: Airspace) -> None:
    route = airspace.plan_route(point(-1000, 0), point(1000, 0), NOW)
    assert isinstance(route, LegalRoute)
    doc = route.to_geojson()
    assert doc["properties"]["length_m"] == pytest.approx(route.length_m)
    assert len(doc["features"]) == len(route.waypoints) - 1
    assert doc["features"][0]["geometry"]["coordinates"][0] == pytest.approx(lonlat(-1000, 0))


def test_demo_airspace_routes_downtown_to_east_side_around_the_airport() -> None:
    cos = colorado_springs_airspace()
    downtown = GeoPoint(38.8339, -104.8214)
    east = GeoPoint(38.79, -104.66)
    route = cos.plan_route(downtown, east, NOW)
    assert isinstance(route, LegalRoute)
    assert cos.check_route(route.route_points(), NOW) == []
    assert min(route.leg_alt_agl_m) >= cos.policy.min_safe_alt_agl_m
    assert UASFM_CELL_DEG == pytest.approx(1 / 120)
