"""Each dispatch rule on its own: verdicts, edge cases and the sentence the dispatcher reads."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dfr.dispatch import (
    ActiveTfr,
    AgencyPolicy,
    Assignment,
    CallTypeRule,
    PreemptionPolicy,
    Rule,
    RuleVerdict,
    WeatherLimits,
    daylight_at,
    estimate_trip,
    rules,
)
from tests.dfr.dispatch.builders import (
    DENVER,
    NOON,
    SAND_CREEK,
    call_at,
    calm,
    drone,
    open_route,
)

POLICY = AgencyPolicy()
LIMITS = WeatherLimits()


def assert_verdict(verdict: RuleVerdict, passed: bool, *phrases: str) -> None:
    """The verdict passed (or failed) and its reason holds every phrase."""
    assert verdict.passed is passed, verdict.reason
    for phrase in phrases:
        assert phrase in verdict.reason, verdict.reason


# --- call type and priority -----------------------------------------------------------------------


def test_call_type_burglary_priority_one_is_allowed() -> None:
    verdict = rules.check_call_type(call_at(1000, call_type="BURGLARY", priority=1), POLICY)
    assert verdict.passed and verdict.rule is Rule.CALL_TYPE
    assert "BURGLARY priority 1" in verdict.reason


def test_call_type_priority_below_the_limit_is_refused_naming_the_limit() -> None:
    verdict = rules.check_call_type(call_at(1000, call_type="BURGLARY", priority=3), POLICY)
    assert_verdict(verdict, False, "priority 2 or higher")


def test_call_type_nonemergency_is_never_flown_even_at_priority_one() -> None:
    verdict = rules.check_call_type(call_at(1000, call_type="NONEMERG", priority=1), POLICY)
    assert_verdict(verdict, False, "never")


def test_call_type_in_a_never_category_is_refused_whatever_its_code() -> None:
    call = call_at(1000, call_type="PARKING", category="non_emergency", priority=1)
    assert not rules.check_call_type(call, POLICY).passed


def test_call_type_unknown_and_unmapped_is_not_eligible_with_reason() -> None:
    verdict = rules.check_call_type(call_at(1000, call_type="XYZZY", priority=1), POLICY)
    assert_verdict(verdict, False, "'XYZZY' is not mapped")


def test_call_type_mapped_but_not_listed_names_its_category() -> None:
    verdict = rules.check_call_type(
        call_at(1000, call_type="FIRE", category="fire", priority=1), POLICY
    )
    assert_verdict(verdict, False, "category fire")


def test_call_type_falls_back_to_the_category_table() -> None:
    policy = AgencyPolicy(categories={"Fire": CallTypeRule(max_priority=1)})
    verdict = rules.check_call_type(
        call_at(1000, call_type="BRUSH", category="fire", priority=1), policy
    )
    assert verdict.passed
    assert verdict.details["matched"] == "category fire"


def test_call_type_codes_compare_case_insensitively() -> None:
    assert rules.check_call_type(call_at(1000, call_type=" burglary ", priority=2), POLICY).passed


def test_call_type_requiring_in_progress_refuses_a_cold_call() -> None:
    policy = AgencyPolicy(
        call_types={"THEFT": CallTypeRule(max_priority=3, requires_in_progress=True)}
    )
    cold = call_at(1000, call_type="THEFT", priority=2)
    hot = call_at(1000, call_type="THEFT", priority=2, in_progress=True)
    assert not rules.check_call_type(cold, policy).passed
    assert "in progress" in rules.check_call_type(cold, policy).reason
    assert rules.check_call_type(hot, policy).passed


# --- distance -------------------------------------------------------------------------------------


def test_distance_exactly_at_the_radius_passes() -> None:
    call = call_at(2000)
    distance = rules.scene_distance_m(SAND_CREEK, call)
    assert rules.check_distance(SAND_CREEK, distance, radius_m=distance).passed


def test_distance_beyond_the_radius_fails_naming_miles_and_km() -> None:
    verdict = rules.check_distance(SAND_CREEK, 5000.0, radius_m=3218.7)
    assert_verdict(
        verdict,
        False,
        "3.11 mi (5.00 km)",
        "2.00 mi (3.22 km) response radius",
        "Sand Creek Division",
    )


@given(
    distance=st.floats(min_value=0, max_value=60_000, allow_nan=False),
    radius=st.floats(min_value=1, max_value=50_000, allow_nan=False),
)
def test_distance_passes_exactly_when_within_radius(distance: float, radius: float) -> None:
    assert rules.check_distance(SAND_CREEK, distance, radius).passed is (distance <= radius)


def test_distance_uses_the_policy_radius_override_for_the_dock() -> None:
    policy = AgencyPolicy(response_radius_m={"sand-creek": 5000.0})
    assert policy.radius_for("sand-creek", 3218.7) == 5000.0
    assert policy.radius_for("gold-hill", 3218.7) == 3218.7


# --- battery: launch minimum and round-trip energy -------------------------------------------------


def test_launch_battery_exactly_at_the_minimum_passes() -> None:
    assert rules.check_launch_battery(drone(battery_pct=30.0), 30.0).passed


def test_launch_battery_below_the_minimum_fails_naming_both() -> None:
    verdict = rules.check_launch_battery(drone(battery_pct=29.0), 30.0)
    assert not verdict.passed
    assert "29%" in verdict.reason and "30% launch minimum" in verdict.reason


def test_launch_battery_not_reported_fails() -> None:
    assert not rules.check_launch_battery(drone(battery_pct=None), 30.0).passed


def test_trip_estimate_from_distance_speed_and_power() -> None:
    call = call_at(1500)
    trip = estimate_trip(drone(), call, None, POLICY)
    # climb 60 m at 4 m/s = 15 s, then 1500 m at 15 m/s = 100 s
    assert trip.eta_s == pytest.approx(115.0, abs=0.01)
    transit_wh = 220.0 * 3000.0 / 15.0 / 3600.0
    hover_wh = 250.0 * (15.0 + 15.0 + 300.0) / 3600.0
    assert trip.energy_wh == pytest.approx(transit_wh + hover_wh, rel=1e-6)
    assert not trip.from_plan


def test_trip_uses_the_plan_eta_and_energy_when_given() -> None:
    route = open_route(plan_eta_s=140.0, plan_energy_wh=40.0, plan_on_scene_s=300.0)
    trip = estimate_trip(drone(), call_at(1500), route, POLICY)
    assert trip.eta_s == 140.0
    assert trip.energy_wh == 40.0
    assert trip.from_plan


def test_trip_tops_up_a_plan_with_less_on_scene_time_than_policy() -> None:
    route = open_route(plan_energy_wh=40.0, plan_on_scene_s=120.0)
    trip = estimate_trip(drone(), call_at(1500), route, POLICY)
    assert trip.energy_wh == pytest.approx(40.0 + 250.0 * 180.0 / 3600.0)


def test_trip_from_an_airborne_drone_starts_where_it_is_and_returns_to_its_dock() -> None:
    call = call_at(1500)
    flying = drone(docked=False, position=call.location)
    trip = estimate_trip(flying, call, None, POLICY)
    assert trip.out_m == pytest.approx(0.0, abs=0.01)
    assert trip.back_m == pytest.approx(1500.0, abs=0.01)
    assert not trip.origin_is_dock


def test_energy_exactly_at_the_reserve_passes_and_just_under_fails() -> None:
    trip = estimate_trip(drone(), call_at(2000), None, POLICY)
    needed_pct = trip.energy_wh + 20.0  # capacity 100 Wh: 1 Wh = 1 %
    assert rules.check_energy(drone(battery_pct=needed_pct), trip, 20.0).passed
    short = rules.check_energy(drone(battery_pct=needed_pct - 0.01), trip, 20.0)
    assert not short.passed
    assert "reserve of 20.0 Wh" in short.reason
    assert f"needs {trip.energy_wh:.1f} Wh" in short.reason


def test_energy_reason_names_the_numbers() -> None:
    trip = estimate_trip(drone(), call_at(1500), None, POLICY)
    verdict = rules.check_energy(drone(battery_pct=80.0), trip, 25.0)
    assert_verdict(
        verdict, True, "Battery 80% holds 80.0 Wh", "5 min on scene", "25% reserve of 25.0 Wh"
    )


@given(
    low=st.floats(min_value=0, max_value=100, allow_nan=False),
    high=st.floats(min_value=0, max_value=100, allow_nan=False),
    distance=st.floats(min_value=0, max_value=4000, allow_nan=False),
)
def test_energy_more_charge_never_turns_a_pass_into_a_fail(
    low: float, high: float, distance: float
) -> None:
    low, high = min(low, high), max(low, high)
    trip = estimate_trip(drone(), call_at(distance), None, POLICY)
    if rules.check_energy(drone(battery_pct=low), trip, 20.0).passed:
        assert rules.check_energy(drone(battery_pct=high), trip, 20.0).passed


# --- weather --------------------------------------------------------------------------------------


def test_weather_within_limits_names_wind_and_visibility() -> None:
    verdict = rules.check_weather(calm(), LIMITS, NOON, DENVER)
    assert_verdict(verdict, True, "Wind 4.0 m/s (9 mph)", "visibility 16.0 km")


def test_weather_wind_exactly_at_the_limit_passes() -> None:
    assert rules.check_weather(calm(wind_speed_mps=12.0), LIMITS, NOON, DENVER).passed


def test_weather_wind_over_the_limit_fails_naming_the_wind() -> None:
    verdict = rules.check_weather(calm(wind_speed_mps=14.0), LIMITS, NOON, DENVER)
    assert_verdict(verdict, False, "Wind 14.0 m/s (31 mph) is over the 12.0 m/s (27 mph) limit")


def test_weather_gusts_over_the_limit_fail_even_with_light_wind() -> None:
    verdict = rules.check_weather(
        calm(wind_speed_mps=5.0, wind_gust_mps=16.0), LIMITS, NOON, DENVER
    )
    assert not verdict.passed
    assert "gusts 16.0 m/s" in verdict.reason.lower()


def test_weather_low_visibility_fails_naming_it() -> None:
    verdict = rules.check_weather(calm(visibility_m=1200.0), LIMITS, NOON, DENVER)
    assert not verdict.passed
    assert "visibility 1.2 km (0.7 mi) is under" in verdict.reason.lower()


def test_weather_low_ceiling_fails() -> None:
    verdict = rules.check_weather(calm(ceiling_ft=500.0), LIMITS, NOON, DENVER)
    assert_verdict(verdict, False, "ceiling 500 ft")


@pytest.mark.parametrize(
    ("present", "grounded"),
    [
        (("-RA",), False),
        (("RA",), False),
        (("+RA",), True),
        (("TSRA",), True),
        (("VCTS",), True),
        (("-FZRA",), True),
        (("-SN",), True),
        (("BR",), False),
        (("-SHRA",), False),
        (("+SHRA",), True),
    ],
)
def test_weather_present_weather_codes_ground_per_policy(
    present: tuple[str, ...], grounded: bool
) -> None:
    verdict = rules.check_weather(calm(present_weather=present), LIMITS, NOON, DENVER)
    assert verdict.passed is not grounded


def test_weather_missing_observation_fails() -> None:
    verdict = rules.check_weather(None, LIMITS, NOON, DENVER)
    assert_verdict(verdict, False, "No weather observation")


def test_weather_stale_observation_fails_naming_its_age() -> None:
    verdict = rules.check_weather(calm(NOON - timedelta(hours=2)), LIMITS, NOON, DENVER)
    assert_verdict(verdict, False, "2 h old")


def test_weather_unreported_wind_fails() -> None:
    assert not rules.check_weather(calm(wind_speed_mps=None), LIMITS, NOON, DENVER).passed


# --- daylight -------------------------------------------------------------------------------------

NIGHT = datetime(2026, 6, 21, 23, 0, tzinfo=DENVER)


def test_daylight_at_noon_passes() -> None:
    light = daylight_at(SAND_CREEK.location, NOON, DENVER)
    assert rules.check_daylight(light, False, "Sand Creek", DENVER).passed


def test_night_without_waiver_fails_naming_dusk_and_dawn() -> None:
    light = daylight_at(SAND_CREEK.location, NIGHT, DENVER)
    verdict = rules.check_daylight(light, False, "Sand Creek", DENVER)
    assert_verdict(
        verdict, False, "civil twilight ended at 21:00 MDT", "civil dawn at 05:0", "no night waiver"
    )


def test_night_with_waiver_passes_and_says_so() -> None:
    light = daylight_at(SAND_CREEK.location, NIGHT, DENVER)
    verdict = rules.check_daylight(light, True, "Sand Creek", DENVER)
    assert_verdict(verdict, True, "night waiver")


def test_civil_twilight_after_sunset_passes() -> None:
    at = datetime(2026, 6, 21, 20, 45, tzinfo=DENVER)  # sunset 20:27, civil dusk 21:00
    verdict = rules.check_daylight(daylight_at(SAND_CREEK.location, at, DENVER), False, "X", DENVER)
    assert verdict.passed
    assert verdict.reason.startswith("Civil twilight")


def test_before_dawn_is_night_naming_the_coming_dawn() -> None:
    at = datetime(2026, 6, 21, 3, 30, tzinfo=DENVER)
    verdict = rules.check_daylight(daylight_at(SAND_CREEK.location, at, DENVER), False, "X", DENVER)
    assert_verdict(verdict, False, "before civil dawn at 05:01 MDT")


# --- availability ---------------------------------------------------------------------------------

NO_PREEMPTION = PreemptionPolicy()
PREEMPTION = PreemptionPolicy(allowed=True, min_priority_gap=2)


def test_available_when_docked_healthy_and_linked() -> None:
    assert rules.check_availability(drone(), call_at(1000), NO_PREEMPTION).passed


@pytest.mark.parametrize(
    ("changes", "phrase"),
    [
        ({"in_maintenance": True}, "in maintenance"),
        ({"link_up": False}, "no telemetry link"),
        ({"health_problems": ("GPS: no 3D fix",)}, "not healthy: GPS: no 3D fix"),
        ({"docked": False}, "not on its dock"),
    ],
)
def test_unavailable_drone_fails_with_reason(changes: dict[str, object], phrase: str) -> None:
    verdict = rules.check_availability(drone(**changes), call_at(1000), NO_PREEMPTION)
    assert not verdict.passed
    assert phrase in verdict.reason


def test_assigned_drone_is_unavailable_without_preemption() -> None:
    busy = drone(docked=False, assignment=Assignment("C9", priority=4))
    verdict = rules.check_availability(busy, call_at(1000, priority=1), NO_PREEMPTION)
    assert_verdict(verdict, False, "on call C9 (priority 4)", "does not allow preemption")


def test_assigned_drone_is_preemptible_by_a_much_higher_priority_call() -> None:
    busy = drone(docked=False, assignment=Assignment("C9", priority=4))
    verdict = rules.check_availability(busy, call_at(1000, priority=1), PREEMPTION)
    assert verdict.passed
    assert verdict.details["preempts_call_id"] == "C9"


def test_preemption_needs_the_priority_gap() -> None:
    busy = drone(docked=False, assignment=Assignment("C9", priority=2))
    verdict = rules.check_availability(busy, call_at(1000, priority=1), PREEMPTION)
    assert_verdict(verdict, False, "at least 2 higher")


def test_drone_already_on_this_call_stays_available() -> None:
    busy = drone(docked=False, assignment=Assignment("C1", priority=1))
    assert rules.check_availability(busy, call_at(1000, call_id="C1"), NO_PREEMPTION).passed


# --- airspace, altitude, TFR ----------------------------------------------------------------------


def test_airspace_refusal_passes_geofence_reasons_through() -> None:
    route = open_route(legal=False, reasons=("destination is inside exclusion 'COS airport'",))
    verdict = rules.check_airspace(route, 400.0)
    assert_verdict(verdict, False, "inside exclusion 'COS airport'")


def test_airspace_standoff_within_limit_passes_naming_the_distance() -> None:
    route = open_route(standoff_m=180.0, standoff_reason="scene inside 'Hospital helipad'")
    verdict = rules.check_airspace(route, 400.0)
    assert_verdict(verdict, True, "stand-off 180 m", "Hospital helipad")


def test_airspace_standoff_too_far_fails() -> None:
    verdict = rules.check_airspace(open_route(standoff_m=900.0), 400.0)
    assert not verdict.passed
    assert "900 m" in verdict.reason and "400 m limit" in verdict.reason


def test_altitude_above_the_ceiling_fails_and_at_it_passes() -> None:
    trip = estimate_trip(drone(), call_at(1000), open_route(cruise_alt_agl_m=90.0), POLICY)
    low = open_route(cruise_alt_agl_m=90.0, ceiling_agl_m=60.96, ceiling_source="UASFM 200 ft")
    verdict = rules.check_altitude(low, trip)
    assert_verdict(verdict, False, "UASFM 200 ft")
    assert rules.check_altitude(replace(low, ceiling_agl_m=90.0), trip).passed


def test_tfr_covering_the_route_fails_naming_it() -> None:
    until = datetime(2026, 6, 21, 22, 0, tzinfo=DENVER)
    route = open_route(active_tfrs=(ActiveTfr("tfr-1", "Stadium event", blocks=True, until=until),))
    verdict = rules.check_tfr(route, DENVER)
    assert_verdict(verdict, False, "Stadium event until 22:00 MDT")


def test_tfr_avoided_by_the_route_passes() -> None:
    route = open_route(active_tfrs=(ActiveTfr("tfr-1", "Stadium event", blocks=False),))
    verdict = rules.check_tfr(route, DENVER)
    assert_verdict(verdict, True, "avoided")


@given(
    wind=st.floats(min_value=0, max_value=40, allow_nan=False),
    gust=st.one_of(st.none(), st.floats(min_value=0, max_value=40, allow_nan=False)),
)
def test_weather_passes_exactly_when_wind_and_gust_are_within_limits(
    wind: float, gust: float | None
) -> None:
    verdict = rules.check_weather(
        calm(wind_speed_mps=wind, wind_gust_mps=gust), LIMITS, NOON, DENVER
    )
    within = wind <= LIMITS.max_wind_mps and (gust is None or gust <= LIMITS.max_gust_mps)
    assert verdict.passed is within
