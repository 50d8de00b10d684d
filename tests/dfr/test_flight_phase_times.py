"""Predicted and actual phase times of a flight, from its plan, its events and its flown track."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dfr.flights.records import phase_times, plan_record
from dfr.models import FlightEvent, TrackPoint
from flight import DronePerformance, plan_response
from geofence import GeoPoint, colorado_springs_airspace, destination

DOCK = GeoPoint(38.8339, -104.7470)
T0 = datetime(2026, 12, 2, 18, 0, tzinfo=UTC)


def _at(s: float) -> datetime:
    return T0 + timedelta(seconds=s)


def test_each_phase_has_its_prediction_its_actual_time_and_the_error() -> None:
    plan = plan_response(
        DOCK, destination(DOCK, 0, 1500), colorado_springs_airspace(), DronePerformance(), T0
    )
    record = plan_record(plan)
    takeoff_alt = plan.mission_items[0].z
    scene = plan.scene
    events = [
        FlightEvent(flight_id=1, at=_at(0), to_state="planned"),
        FlightEvent(flight_id=1, at=_at(3), to_state="en_route"),
        FlightEvent(flight_id=1, at=_at(150), to_state="on_scene"),
        FlightEvent(flight_id=1, at=_at(450), to_state="returning"),
        FlightEvent(flight_id=1, at=_at(700), to_state="landed"),
    ]
    track = [
        TrackPoint(
            flight_id=1, at=_at(10), lat=DOCK.lat_deg, lon=DOCK.lon_deg, alt_amsl_m=0, alt_agl_m=10
        ),
        TrackPoint(
            flight_id=1,
            at=_at(25),
            lat=DOCK.lat_deg,
            lon=DOCK.lon_deg,
            alt_amsl_m=0,
            alt_agl_m=takeoff_alt - 0.5,
        ),
        TrackPoint(
            flight_id=1,
            at=_at(460),
            lat=scene.lat_deg,
            lon=scene.lon_deg,
            alt_amsl_m=0,
            alt_agl_m=120,
        ),
        TrackPoint(
            flight_id=1,
            at=_at(600),
            lat=DOCK.lat_deg,
            lon=DOCK.lon_deg,
            alt_amsl_m=0,
            alt_agl_m=120,
        ),
    ]
    rows = {r["phase"]: r for r in phase_times(record, events, track)["phases"]}
    assert list(rows) == ["to_scene", "takeoff", "transit", "on_scene", "return", "landing"]
    assert rows["to_scene"]["predicted_s"] == pytest.approx(plan.eta_s)
    assert rows["to_scene"]["actual_s"] == 150
    assert rows["to_scene"]["error_pct"] == pytest.approx((150 - plan.eta_s) / plan.eta_s * 100)
    assert rows["takeoff"]["actual_s"] == 25 and rows["transit"]["actual_s"] == 125
    assert rows["on_scene"] == {
        "phase": "on_scene",
        "predicted_s": None,
        "actual_s": 300,
        "error_pct": None,
    }
    assert rows["return"]["actual_s"] == 150 and rows["landing"]["actual_s"] == 100
    predicted = {p.name: p.seconds for p in plan.phases}
    assert rows["return"]["predicted_s"] == pytest.approx(predicted["return"])


def test_phases_not_flown_yet_have_no_actual_time() -> None:
    plan = plan_response(
        DOCK, destination(DOCK, 0, 800), colorado_springs_airspace(), DronePerformance(), T0
    )
    events = [FlightEvent(flight_id=1, at=_at(0), to_state="planned")]
    rows = phase_times(plan_record(plan), events, [])["phases"]
    assert all(r["actual_s"] is None and r["error_pct"] is None for r in rows)
    assert phase_times({}, [], [])["phases"][0] == {
        "phase": "to_scene",
        "predicted_s": None,
        "actual_s": None,
        "error_pct": None,
    }
