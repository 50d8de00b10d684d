"""The whole decision: eligibility per drone, recommendation and runner-up, auto-launch, public form."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

import pytest

from dfr.dispatch import (
    AgencyPolicy,
    Assignment,
    CallFacts,
    DispatchDecision,
    DroneFacts,
    InvalidFactsError,
    PreemptionPolicy,
    RouteFacts,
    RouteSource,
    Rule,
    WeatherFacts,
    evaluate,
)
from dfr.models import Decision
from tests.dfr.dispatch.builders import (
    DENVER,
    GOLD_HILL,
    NOON,
    SAND_CREEK,
    call_at,
    calm,
    drone,
    open_route,
)

POLICY = AgencyPolicy()
CALM = calm()


def always_open(_: DroneFacts) -> RouteFacts:
    return open_route()


def run(
    call: CallFacts | None = None,
    drones: Sequence[DroneFacts] | None = None,
    *,
    routes: RouteSource = always_open,
    weather: WeatherFacts | None = CALM,
    agency: AgencyPolicy = POLICY,
    now: datetime = NOON,
) -> DispatchDecision:
    return evaluate(
        call if call is not None else call_at(1500),
        drones if drones is not None else [drone("D1")],
        routes=routes,
        weather=weather,
        agency=agency,
        now=now,
        tz=DENVER,
    )


def test_burglary_in_progress_near_a_dock_is_eligible_and_auto_launched() -> None:
    call = call_at(1500, call_type="BURGLARY", priority=1, in_progress=True)
    decision = run(call, [drone("D1"), drone("D2", battery_pct=80.0), drone("D3", GOLD_HILL)])
    assert decision.eligible
    assert decision.recommended is not None and decision.recommended.drone_id == "D1"
    assert decision.runner_up is not None and decision.runner_up.drone_id == "D2"
    assert decision.auto_launch
    assert "Recommend Drone D1 (D1) from Sand Creek Division" in decision.summary
    gold_hill = decision.evaluation_of("D3")
    assert gold_hill is not None and not gold_hill.eligible
    distance = next(v for v in gold_hill.rules if v.rule is Rule.DISTANCE)
    assert not distance.passed and "beyond" in distance.reason


def test_fastest_eta_wins_and_the_plan_eta_beats_straight_distance() -> None:
    slow_plan = {"D1": open_route(plan_eta_s=400.0), "D2": open_route(plan_eta_s=150.0)}
    decision = run(drones=[drone("D1"), drone("D2")], routes=slow_plan)
    assert decision.recommended is not None and decision.recommended.drone_id == "D2"
    assert decision.eta_s == 150.0
    assert decision.runner_up is not None and decision.runner_up.drone_id == "D1"


def test_faster_drone_wins_among_docks() -> None:
    call = call_at(800, dock=GOLD_HILL, bearing_deg=90.0)
    decision = run(call, [drone("D1", SAND_CREEK), drone("D3", GOLD_HILL)])
    assert decision.recommended is not None and decision.recommended.drone_id == "D3"


def test_no_drones_is_not_eligible_with_a_summary() -> None:
    decision = run(drones=[])
    assert not decision.eligible
    assert decision.recommended is None and decision.runner_up is None
    assert not decision.auto_launch
    assert decision.summary == "No drone: the agency has no drones."


def test_all_drones_busy_is_not_eligible_each_naming_its_call() -> None:
    busy = [
        drone("D1", docked=False, assignment=Assignment("C7", priority=1)),
        drone("D2", docked=False, assignment=Assignment("C8", priority=2)),
    ]
    decision = run(drones=busy)
    assert not decision.eligible
    assert "on call C7" in decision.summary and "on call C8" in decision.summary
    for evaluation in decision.drones:
        availability = evaluation.rules[0]
        assert availability.rule is Rule.AVAILABILITY and not availability.passed


def test_call_beyond_the_radius_names_the_distance() -> None:
    decision = run(call_at(5000))
    assert not decision.eligible
    assert "3.11 mi (5.00 km)" in decision.summary


def test_wind_over_the_limit_makes_no_drone_eligible_naming_the_wind() -> None:
    decision = run(weather=calm(wind_speed_mps=15.0))
    assert not decision.eligible
    assert "Wind 15.0 m/s (34 mph) is over" in decision.summary
    assert all(not d.eligible for d in decision.drones)


def test_call_inside_a_zone_without_standoff_is_not_eligible_with_the_geofence_reason() -> None:
    refused = {"D1": RouteFacts(legal=False, reasons=("scene inside exclusion 'COS airport'",))}
    decision = run(routes=refused)
    assert not decision.eligible
    assert "COS airport" in decision.summary


def test_call_inside_a_zone_with_standoff_stays_eligible() -> None:
    standoff = {"D1": open_route(standoff_m=150.0, standoff_reason="scene inside 'COS airport'")}
    decision = run(routes=standoff)
    assert decision.eligible
    airspace = decision.drones[0].rules[5]
    assert airspace.rule is Rule.AIRSPACE and "stand-off 150 m" in airspace.reason


def test_a_free_drone_beats_a_faster_preemptible_one() -> None:
    policy = AgencyPolicy(preemption=PreemptionPolicy(allowed=True, min_priority_gap=2))
    call = call_at(2500, priority=1)
    overhead = drone("D1", docked=False, position=call.location, assignment=Assignment("C9", 4))
    decision = run(call, [overhead, drone("D2")], agency=policy)
    assert decision.recommended is not None and decision.recommended.drone_id == "D2"
    assert decision.runner_up is not None and decision.runner_up.preempts_call_id == "C9"


def test_preemption_recommends_the_busy_drone_but_leaves_launch_to_a_dispatcher() -> None:
    policy = AgencyPolicy(preemption=PreemptionPolicy(allowed=True, min_priority_gap=2))
    call = call_at(1000, priority=1)
    busy = drone("D1", docked=False, position=call.location, assignment=Assignment("C9", 4))
    decision = run(call, [busy], agency=policy)
    assert decision.eligible
    assert decision.recommended is not None and decision.recommended.preempts_call_id == "C9"
    assert not decision.auto_launch
    assert "taking it from call C9" in decision.summary
    auto = policy.model_copy(
        update={"preemption": PreemptionPolicy(allowed=True, min_priority_gap=2, auto_launch=True)}
    )
    assert run(call, [busy], agency=auto).auto_launch


def test_auto_launch_follows_the_table_per_call_type_and_priority() -> None:
    assert not run(call_at(1000, call_type="SUSP", priority=2)).auto_launch
    assert run(call_at(1000, call_type="ROBBERY", priority=2)).auto_launch
    assert not run(call_at(1000, call_type="ASSAULT", priority=2)).auto_launch
    off = AgencyPolicy(auto_launch=False)
    decision = run(call_at(1000, call_type="ROBBERY", priority=1), agency=off)
    assert decision.eligible and not decision.auto_launch
    assert "turned off" in decision.auto_launch_reason


def test_routes_are_only_computed_for_drones_that_could_take_the_call() -> None:
    asked: list[str] = []

    def routes(d: DroneFacts) -> RouteFacts:
        asked.append(d.drone_id)
        return open_route()

    drones = [drone("D1"), drone("D2", in_maintenance=True), drone("D3", GOLD_HILL)]
    decision = run(call_at(1500), drones, routes=routes)
    assert asked == ["D1"]
    skipped = decision.evaluation_of("D2")
    assert skipped is not None and not skipped.rules[5].checked
    asked.clear()
    run(call_at(1500, call_type="NONEMERG"), drones, routes=routes)
    assert asked == []


def test_a_failing_airspace_check_grounds_the_drone_not_the_decision() -> None:
    def broken(_: DroneFacts) -> RouteFacts:
        raise RuntimeError("zone index unavailable")

    decision = run(routes=broken)
    assert not decision.eligible
    assert "zone index unavailable" in decision.drones[0].rules[5].reason


def test_a_drone_missing_from_precomputed_routes_is_not_eligible() -> None:
    decision = run(drones=[drone("D1"), drone("D2")], routes={"D1": open_route()})
    assert [d.eligible for d in decision.drones] == [True, False]


def test_night_without_waiver_grounds_and_with_waiver_flies() -> None:
    night = datetime(2026, 6, 21, 23, 0, tzinfo=DENVER)
    dark = run(now=night, weather=calm(night))
    assert not dark.eligible and "no night waiver" in dark.summary
    waived = run(now=night, weather=calm(night), agency=AgencyPolicy(night_waiver=True))
    assert waived.eligible


def test_public_form_is_json_with_every_rule_per_drone() -> None:
    decision = run(drones=[drone("D1"), drone("D2", link_up=False)])
    public = json.loads(json.dumps(decision.to_public()))
    assert public["eligible"] is True
    assert [r["rule"] for r in public["call_rules"]] == ["call_type", "weather"]
    for entry in public["drones"]:
        assert [r["rule"] for r in entry["rules"]] == [
            "availability",
            "launch_battery",
            "distance",
            "energy",
            "daylight",
            "airspace",
            "altitude",
            "tfr",
        ]
        assert all(r["reason"] for r in entry["rules"])
    assert public["drones"][1]["eligible"] is False
    assert public["recommended"]["drone_id"] == "D1"
    assert public["weather"]["source"] == "METAR KCOS"


def test_record_fits_the_decisions_table() -> None:
    decision = run(drones=[drone(f"D{i}") for i in range(20)], call=call_at(9000))
    record = decision.to_record()
    row = Decision.model_validate({"call_id": 1, **record})
    assert row.eligible is False and row.recommended_drone_id is None
    assert len(row.summary) <= 1000
    assert len(row.rules) == 2 + 20 * 8
    json.dumps(row.rules)


def test_same_inputs_give_the_same_decision() -> None:
    drones = [drone("D1"), drone("D2"), drone("D3", GOLD_HILL)]
    assert run(drones=drones).to_public() == run(drones=drones).to_public()


def test_naive_now_and_duplicate_drone_ids_are_refused() -> None:
    with pytest.raises(InvalidFactsError):
        run(now=datetime(2026, 6, 21, 12, 0))
    with pytest.raises(InvalidFactsError, match="unique"):
        run(drones=[drone("D1"), drone("D1")])


def test_impossible_facts_are_refused() -> None:
    with pytest.raises(InvalidFactsError, match="priority"):
        call_at(100, priority=7)
    with pytest.raises(InvalidFactsError, match="battery_pct"):
        drone(battery_pct=140.0)
    with pytest.raises(InvalidFactsError, match="length_m"):
        RouteFacts(legal=True, length_m=float("nan"))
