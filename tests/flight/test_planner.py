import math
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flight import (
    DronePerformance,
    MavCmd,
    MavFrame,
    MissionType,
    PlanRejectedError,
    fence_items,
    plan_response,
    plan_response_from_air,
    zones_from_fence_items,
)
from geofence import (
    DEGE7_TOLERANCE_M,
    Airspace,
    AirspacePolicy,
    Altitude,
    AltitudeDatum,
    GeoPoint,
    RoutePoint,
    Zone,
    ZoneCircle,
    ZoneKind,
    ZonePolygon,
    colorado_springs_airspace,
    distance_m,
    load_zones,
)
from tests.geofence.synthetic import CENTRE, box, circle_feature, collection, point, polygon_feature

NOW = datetime(2026, 11, 20, 18, 0, tzinfo=UTC)
PERF = DronePerformance(cruise_speed_mps=15, climb_rate_mps=3, descent_rate_mps=2)


@pytest.fixture
def airspace() -> Airspace:
    zones = load_zones(
        collection(
            polygon_feature("area", box(-3000, -3000, 3000, 3000), kind="operating_area"),
            circle_feature("hospital", 0, 0, 300, name="Hospital helipad"),
            polygon_feature("prison", box(1500, 1500, 2000, 2000), name="Prison"),
        )
    )
    grid = load_zones(
        collection(
            {
                "type": "Feature",
                "geometry": polygon_feature("c", box(-2500, 1000, -1500, 2000))["geometry"],
                "properties": {"OBJECTID": 9, "CEILING": 200, "UNIT": "Feet"},
            }
        ),
        "uasfm",
    )
    return Airspace(zones.merged(grid), AirspacePolicy(margin_m=30), centre=CENTRE)


def commands(items: tuple[object, ...]) -> list[int]:
    return [int(i.command) for i in items]  # type: ignore[attr-defined]


def test_plan_has_takeoff_transit_orbit_return_and_land(airspace: Airspace) -> None:
    dock, target = point(-2000, 0), point(2000, 0)
    plan = plan_response(dock, target, airspace, PERF, NOW, orbit_radius_m=60, alt_agl_m=90)
    cmds = commands(plan.mission_items)
    assert cmds[0] == MavCmd.NAV_TAKEOFF and cmds[1] == MavCmd.DO_CHANGE_SPEED
    assert cmds[-1] == MavCmd.NAV_LAND
    loiter = plan.mission_items[cmds.index(MavCmd.NAV_LOITER_UNLIM)]
    assert loiter.param3 == 60 and loiter.z == 90
    assert (loiter.x, loiter.y) == target.to_dege7()
    roi = plan.mission_items[cmds.index(MavCmd.DO_SET_ROI_LOCATION)]
    assert (roi.x, roi.y) == target.to_dege7()
    land = plan.mission_items[-1]
    assert (land.x, land.y) == dock.to_dege7()
    # The hospital is in the way: there are bends out and back, all at 90 m.
    waypoints = [i for i in plan.mission_items if int(i.command) == MavCmd.NAV_WAYPOINT]
    assert len(waypoints) >= 2 and all(w.z == 90 for w in waypoints)
    assert all(i.mission_type is MissionType.MISSION for i in plan.mission_items)
    assert all(
        i.frame == MavFrame.GLOBAL_RELATIVE_ALT_INT
        for i in plan.mission_items
        if int(i.command) in (MavCmd.NAV_WAYPOINT, MavCmd.NAV_TAKEOFF, MavCmd.NAV_LOITER_UNLIM)
    )
    assert plan.length_m > 4000 and plan.return_length_m == pytest.approx(plan.length_m)


def test_every_flown_leg_is_legal(airspace: Airspace) -> None:
    plan = plan_response(point(-2000, 0), point(2000, 0), airspace, PERF, NOW)
    nav = [
        i
        for i in plan.mission_items
        if int(i.command) in (MavCmd.NAV_TAKEOFF, MavCmd.NAV_WAYPOINT, MavCmd.NAV_LOITER_UNLIM)
    ]
    route = [
        RoutePoint(GeoPoint.from_dege7(i.x, i.y), Altitude(i.z, AltitudeDatum.AGL)) for i in nav
    ]
    assert airspace.check_route(route, NOW) == []


def test_altitude_follows_the_ceiling_grid(airspace: Airspace) -> None:
    plan = plan_response(
        point(-2400, 1100), point(-1600, 1900), airspace, PERF, NOW, orbit_radius_m=0
    )
    assert plan.leg_alt_agl_m == (pytest.approx(200 * 0.3048),)
    # Take-off to the policy's safe height, then the climbing leg up to the grid's ceiling.
    nav = [
        i for i in plan.mission_items if int(i.command) in (MavCmd.NAV_TAKEOFF, MavCmd.NAV_WAYPOINT)
    ]
    assert nav[0].z == pytest.approx(airspace.policy.min_safe_alt_agl_m)
    assert max(i.z for i in plan.mission_items) == pytest.approx(200 * 0.3048)


def test_target_inside_keep_out_uses_standoff_and_hovers(airspace: Airspace) -> None:
    plan = plan_response(point(-2000, 0), point(0, 0), airspace, PERF, NOW)
    assert plan.standoff is not None and "Hospital helipad" in plan.standoff.reason
    assert plan.orbit_radius_m == 0
    assert any("Hospital" in n for n in plan.notes)
    assert distance_m(plan.scene, point(0, 0)) == pytest.approx(
        plan.standoff.distance_to_target_m, rel=1e-3
    )
    assert plan.summary()["standoff"]["zone_ids"] == ["hospital"]


def test_orbit_shrinks_to_stay_legal(airspace: Airspace) -> None:
    # 420 m from the hospital centre: a 100 m orbit would cut its 330 m keep-out, 50 m does not.
    plan = plan_response(point(-2000, 0), point(-420, 0), airspace, PERF, NOW, orbit_radius_m=100)
    assert plan.orbit_radius_m == 50
    assert any("reduced" in n for n in plan.notes)


def test_eta_and_energy_grow_with_distance(airspace: Airspace) -> None:
    near = plan_response(point(-2000, -2000), point(-1000, -2000), airspace, PERF, NOW)
    far = plan_response(point(-2000, -2000), point(2000, -2000), airspace, PERF, NOW)
    assert far.eta_s > near.eta_s
    assert far.energy_wh.out_wh > near.energy_wh.out_wh
    # Straight 1 km at 15 m/s plus climb to 121.92 m at 3 m/s plus orbit entry 50 m.
    # The ETA is the predicted take-off and transit up to the tracker's on-scene line.
    phases = {p.name: p.seconds for p in near.phases}
    assert near.eta_s == pytest.approx(phases["takeoff"] + phases["transit"])
    assert near.eta_lower_bound_s is not None and near.eta_s >= near.eta_lower_bound_s
    orbit_w = PERF.hover_power_w + (PERF.cruise_power_w - PERF.hover_power_w) * (5 / 15) ** 2
    assert near.energy_wh.on_scene_wh_per_min == pytest.approx(orbit_w / 60)
    assert near.energy_wh.total_wh(5) > near.energy_wh.out_wh + near.energy_wh.back_wh


def test_refusal_carries_every_reason(airspace: Airspace) -> None:
    with pytest.raises(PlanRejectedError) as err:
        plan_response(point(1750, 1750), point(5000, 0), airspace, PERF, NOW)
    text = str(err.value)
    assert "Prison" in text and "target is outside the operating area" in text
    assert len(err.value.reasons) == 2


@pytest.mark.parametrize("alt", [10.0, 500.0])
def test_requested_altitude_outside_policy_is_refused(airspace: Airspace, alt: float) -> None:
    with pytest.raises(PlanRejectedError, match="requested altitude"):
        plan_response(point(-2000, 0), point(2000, 0), airspace, PERF, NOW, alt_agl_m=alt)


def test_fence_has_operating_area_and_active_exclusions(airspace: Airspace) -> None:
    plan = plan_response(point(-2000, 0), point(2000, 0), airspace, PERF, NOW)
    cmds = commands(plan.fence_items)
    assert cmds.count(MavCmd.NAV_FENCE_POLYGON_VERTEX_INCLUSION) == 4
    assert cmds.count(MavCmd.NAV_FENCE_CIRCLE_EXCLUSION) == 1
    assert cmds.count(MavCmd.NAV_FENCE_POLYGON_VERTEX_EXCLUSION) == 4
    assert all(
        i.mission_type is MissionType.FENCE and i.frame == MavFrame.GLOBAL_INT
        for i in plan.fence_items
    )
    assert all(
        i.param1 == 4
        for i in plan.fence_items
        if int(i.command) == MavCmd.NAV_FENCE_POLYGON_VERTEX_INCLUSION
    )
    (rally,) = plan.rally_items
    assert rally.command == MavCmd.NAV_RALLY_POINT and rally.mission_type is MissionType.RALLY


def test_legs_geojson_has_out_and_back_legs_and_figures(airspace: Airspace) -> None:
    plan = plan_response(point(-2000, 0), point(2000, 0), airspace, PERF, NOW)
    doc = plan.legs_geojson()
    phases = [f["properties"].get("phase") for f in doc["features"]]
    assert phases.count("out") == phases.count("back") == len(plan.route_out.waypoints) - 1
    assert doc["properties"]["length_m"] == pytest.approx(plan.length_m)
    assert set(doc["properties"]["energy_wh"]) == {"out_wh", "on_scene_wh_per_min", "back_wh"}


def test_demo_city_plan_downtown_to_airport_side() -> None:
    cos = colorado_springs_airspace()
    plan = plan_response(
        GeoPoint(38.8339, -104.8214), GeoPoint(38.79, -104.66), cos, DronePerformance(), NOW
    )
    assert plan.length_m > distance_m(GeoPoint(38.8339, -104.8214), GeoPoint(38.79, -104.66))
    assert min(plan.leg_alt_agl_m) >= cos.policy.min_safe_alt_agl_m


# -- from the air (a drone retasked while flying) --------------------------------------------------


def test_plan_from_the_air_starts_where_the_drone_is_without_a_take_off(airspace: Airspace) -> None:
    here, dock, target = point(-2000, -1000), point(-2000, 0), point(2000, 0)
    plan = plan_response_from_air(here, 75.0, dock, target, airspace, PERF, NOW, alt_agl_m=90)
    cmds = commands(plan.mission_items)
    assert MavCmd.NAV_TAKEOFF not in cmds
    assert cmds[0] == MavCmd.NAV_WAYPOINT and cmds[1] == MavCmd.DO_CHANGE_SPEED
    first = plan.mission_items[0]
    assert distance_m(GeoPoint.from_dege7(first.x, first.y), here) <= DEGE7_TOLERANCE_M
    assert first.z == 90  # the first leg's altitude, reached before the transit
    assert plan.from_air and plan.start_alt_agl_m == 75.0
    assert plan.summary()["start_alt_agl_m"] == 75.0
    # Over the scene until released, then the dock's legal route home and a landing on the dock.
    loiter = plan.mission_items[cmds.index(MavCmd.NAV_LOITER_UNLIM)]
    assert (loiter.x, loiter.y) == target.to_dege7()
    land = plan.mission_items[-1]
    assert cmds[-1] == MavCmd.NAV_LAND and (land.x, land.y) == dock.to_dege7()
    assert distance_m(plan.route_back.waypoints[0], plan.scene) <= DEGE7_TOLERANCE_M
    assert distance_m(plan.route_back.waypoints[-1], dock) <= DEGE7_TOLERANCE_M
    (rally,) = plan.rally_items
    assert (rally.x, rally.y) == dock.to_dege7()


def test_every_leg_flown_from_the_air_is_legal(airspace: Airspace) -> None:
    plan = plan_response_from_air(
        point(-2000, -1000), 40.0, point(-2000, 0), point(2000, 0), airspace, PERF, NOW
    )
    nav = [
        i
        for i in plan.mission_items
        if int(i.command) in (MavCmd.NAV_WAYPOINT, MavCmd.NAV_LOITER_UNLIM)
    ]
    route = [
        RoutePoint(GeoPoint.from_dege7(i.x, i.y), Altitude(i.z, AltitudeDatum.AGL)) for i in nav
    ]
    assert airspace.check_route(route, NOW) == []
    doc = plan.legs_geojson()
    back = [f for f in doc["features"] if f["properties"].get("phase") == "back"]
    assert len(back) == len(plan.route_back.waypoints) - 1
    assert [f["properties"]["alt_agl_m"] for f in back] == list(plan.back_leg_alt_agl_m)


def test_eta_from_the_air_counts_no_take_off_climb(airspace: Airspace) -> None:
    dock = point(-2000, -2000)
    docked = plan_response(dock, point(-1000, -2000), airspace, PERF, NOW)
    airborne = plan_response_from_air(dock, 121.92, dock, point(-1000, -2000), airspace, PERF, NOW)
    # The same 1 km without the launch, the take-off and the climb.
    assert airborne.eta_s < docked.eta_s - 20
    assert [p.name for p in airborne.phases][0] == "takeoff"  # no time: already at altitude
    assert airborne.phases[0].seconds == 0
    assert airborne.energy_wh.out_wh < docked.energy_wh.out_wh
    assert airborne.energy_wh.back_wh == pytest.approx(docked.energy_wh.back_wh)


def test_plan_from_the_air_is_refused_with_the_geofence_reasons(airspace: Airspace) -> None:
    with pytest.raises(PlanRejectedError) as err:
        plan_response_from_air(
            point(1750, 1750), 60.0, point(-2000, 0), point(5000, 0), airspace, PERF, NOW
        )
    text = str(err.value)
    assert "Prison" in text and "target is outside the operating area" in text


def test_plan_from_the_air_refuses_an_unusable_current_altitude(airspace: Airspace) -> None:
    with pytest.raises(PlanRejectedError, match="current altitude"):
        plan_response_from_air(
            point(-2000, -1000), math.nan, point(-2000, 0), point(2000, 0), airspace, PERF, NOW
        )


def test_plan_from_the_dock_is_unchanged_by_the_airborne_variant(airspace: Airspace) -> None:
    plan = plan_response(point(-2000, 0), point(2000, 0), airspace, PERF, NOW)
    assert not plan.from_air and plan.start_alt_agl_m is None
    assert plan.back_leg_alt_agl_m == tuple(reversed(plan.leg_alt_agl_m))
    assert plan.rally_items[0].z == plan.leg_alt_agl_m[0]


# -- fence round trip -----------------------------------------------------------------------------

lat_st = st.floats(-60, 60)
lon_st = st.floats(-179, 179)


@st.composite
def zones_st(draw: st.DrawFn) -> list[Zone]:
    out: list[Zone] = []
    for i in range(draw(st.integers(1, 5))):
        kind = draw(st.sampled_from([ZoneKind.INCLUSION, ZoneKind.EXCLUSION]))
        if draw(st.booleans()):
            shape: ZoneCircle | ZonePolygon = ZoneCircle(
                GeoPoint(draw(lat_st), draw(lon_st)), draw(st.floats(1, 50_000))
            )
        else:
            n = draw(st.integers(3, 12))
            lat0, lon0 = draw(lat_st), draw(lon_st)
            shape = ZonePolygon(
                tuple(
                    GeoPoint(
                        lat0 + 0.01 * math.sin(2 * math.pi * k / n),
                        lon0 + 0.01 * math.cos(2 * math.pi * k / n),
                    )
                    for k in range(n)
                )
            )
        out.append(Zone(f"z{i}", kind, shape))
    return out


@settings(max_examples=100, deadline=None)
@given(zones=zones_st())
def test_zones_survive_the_round_trip_through_fence_items(zones: list[Zone]) -> None:
    items = fence_items(zones, max_items=10_000)
    assert all(isinstance(i.x, int) and isinstance(i.y, int) for i in items)
    back = zones_from_fence_items(items)
    assert len(back) == len(zones)
    for a, b in zip(zones, back, strict=True):
        assert a.kind == b.kind
        if isinstance(a.shape, ZoneCircle):
            assert isinstance(b.shape, ZoneCircle)
            assert distance_m(a.shape.centre, b.shape.centre) <= DEGE7_TOLERANCE_M
            assert b.shape.radius_m == pytest.approx(a.shape.radius_m, rel=1e-6)
        else:
            assert isinstance(b.shape, ZonePolygon)
            assert len(a.shape.exterior) == len(b.shape.exterior)
            for p, q in zip(a.shape.exterior, b.shape.exterior, strict=True):
                assert distance_m(p, q) <= DEGE7_TOLERANCE_M


def test_fence_items_refuse_a_polygon_group_with_two_vertices() -> None:
    items = fence_items(
        [
            Zone(
                "z",
                ZoneKind.EXCLUSION,
                ZonePolygon((GeoPoint(1, 1), GeoPoint(1, 2), GeoPoint(2, 2))),
            )
        ]
    )
    with pytest.raises(PlanRejectedError, match="vertex count"):
        zones_from_fence_items(items[:2])
