"""Route facts from the real planner on the Colorado Springs demo airspace, judged by the policy."""

from __future__ import annotations

from datetime import datetime

import pytest

from dfr.dispatch import (
    AgencyPolicy,
    CallFacts,
    DispatchDecision,
    DroneFacts,
    RouteFacts,
    Rule,
    evaluate,
)
from dfr.dispatch.routes import plan_route_facts
from geofence import Airspace, GeoPoint, colorado_springs_airspace
from tests.dfr.dispatch.builders import DENVER, GOLD_HILL, SAND_CREEK, calm, drone

MONDAY_NOON = datetime(2026, 6, 22, 12, 0, tzinfo=DENVER)
SATURDAY_EVENT = datetime(2026, 6, 20, 19, 0, tzinfo=DENVER)  # Weidner Field TFR active
#: Scenes here lie 3.7-6 km from the docks: widen the radius so airspace is what is judged.
POLICY = AgencyPolicy(response_radius_m={"gold-hill": 10_000.0, "sand-creek": 10_000.0})


@pytest.fixture(scope="module")
def airspace() -> Airspace:
    return colorado_springs_airspace()


def decide(
    airspace: Airspace, target: GeoPoint, drones: list[DroneFacts], now: datetime
) -> DispatchDecision:
    def routes(d: DroneFacts) -> RouteFacts:
        facts, _plan = plan_route_facts(
            d.dock.location, target, airspace, d, now, on_scene_min=POLICY.on_scene_min
        )
        return facts

    call = CallFacts(call_id="C1", call_type="BURGLARY", priority=1, location=target)
    return evaluate(
        call, drones, routes=routes, weather=calm(now), agency=POLICY, now=now, tz=DENVER
    )


def test_plain_call_uses_the_plan_eta_and_energy(airspace: Airspace) -> None:
    target = GeoPoint(38.83, -104.83)
    facts, plan = plan_route_facts(
        GOLD_HILL.location, target, airspace, drone("D3", GOLD_HILL), MONDAY_NOON, on_scene_min=5.0
    )
    assert facts.legal and plan is not None
    assert facts.plan_eta_s == plan.eta_s
    assert facts.plan_energy_wh == pytest.approx(plan.energy_wh.total_wh(5.0))
    assert facts.cruise_alt_agl_m is not None and facts.ceiling_agl_m is not None
    assert facts.cruise_alt_agl_m <= facts.ceiling_agl_m
    decision = decide(airspace, target, [drone("D3", GOLD_HILL)], MONDAY_NOON)
    assert decision.eligible and decision.eta_s == pytest.approx(plan.eta_s)
    energy = next(v for v in decision.drones[0].rules if v.rule is Rule.ENERGY)
    assert "(flight plan)" in energy.reason


def test_call_on_a_helipad_stands_off_and_stays_eligible(airspace: Airspace) -> None:
    helipad = GeoPoint(38.8406, -104.801)
    # 3.9 km each way at the vehicle's real speed needs a bigger pack than the demo's.
    big = drone("D3", GOLD_HILL, battery_capacity_wh=130.0)
    decision = decide(airspace, helipad, [big], MONDAY_NOON)
    assert decision.eligible
    airspace_verdict = decision.drones[0].rules[5]
    assert "stand-off" in airspace_verdict.reason
    assert "helipad" in airspace_verdict.reason


def test_call_inside_the_airport_is_not_eligible_naming_the_airport(airspace: Airspace) -> None:
    runway = GeoPoint(38.79, -104.70)
    decision = decide(airspace, runway, [drone("D1", SAND_CREEK)], MONDAY_NOON)
    assert not decision.eligible
    verdict = decision.drones[0].rules[5]
    assert verdict.rule is Rule.AIRSPACE and not verdict.passed
    assert "Colorado Springs Airport" in verdict.reason


def test_active_event_tfr_grounds_a_drone_whose_dock_it_covers(airspace: Airspace) -> None:
    target = GeoPoint(38.83, -104.83)
    decision = decide(airspace, target, [drone("D3", GOLD_HILL)], SATURDAY_EVENT)
    assert not decision.eligible
    tfr = next(v for v in decision.drones[0].rules if v.rule is Rule.TFR)
    assert not tfr.passed and "Weidner Field event TFR" in tfr.reason
    assert decide(airspace, target, [drone("D3", GOLD_HILL)], MONDAY_NOON).eligible
