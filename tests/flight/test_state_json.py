"""VehicleState survives the trip through JSON bytes exactly, unknown fields included."""

import dataclasses
import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flight import (
    FlightMode,
    LandedState,
    LinkState,
    VehicleId,
    VehicleState,
    vehicle_state_from_json,
    vehicle_state_to_json,
)
from flight.state_json import DECODERS
from geofence import GeoPoint

T0 = datetime(2025, 6, 1, 15, 0, 0, 123456, tzinfo=UTC)

_times = st.datetimes(
    min_value=datetime(2000, 1, 1),
    max_value=datetime(2100, 1, 1),
    timezones=st.sampled_from(
        [UTC, timezone(timedelta(hours=-6)), timezone(timedelta(hours=5, minutes=30))]
    ),
)
_points = st.builds(
    GeoPoint,
    st.floats(min_value=-90, max_value=90, allow_nan=False),
    st.floats(min_value=-180, max_value=180, allow_nan=False),
)
_floats = st.floats(allow_nan=False, allow_infinity=False)
_ints = st.integers(min_value=-(2**31), max_value=2**31)

_states = st.builds(
    VehicleState,
    vehicle_id=st.text(min_size=1, max_size=20).map(VehicleId),
    time=_times,
    available=st.booleans(),
    last_seen=st.none() | _times,
    link=st.sampled_from(LinkState),
    position=st.none() | _points,
    alt_amsl_m=st.none() | _floats,
    alt_agl_m=st.none() | _floats,
    heading_deg=st.none() | _floats,
    ground_speed_mps=st.none() | _floats,
    climb_rate_mps=st.none() | _floats,
    battery_pct=st.none() | _floats,
    battery_voltage_v=st.none() | _floats,
    mode=st.sampled_from(FlightMode),
    armed=st.booleans(),
    landed_state=st.sampled_from(LandedState),
    gps_fix_type=st.none() | _ints,
    gps_satellites=st.none() | _ints,
    packet_loss_pct=_floats,
    rtt_ms=st.none() | _floats,
    mission_current_seq=st.none() | _ints,
    mission_total=st.none() | _ints,
    mission_state=st.none() | _ints,
    mission_reached_seq=st.none() | _ints,
    home=st.none() | _points,
    home_alt_amsl_m=st.none() | _floats,
    system_status=st.none() | _ints,
)


def _same(a: VehicleState, b: VehicleState) -> None:
    assert a == b
    # Equal datetimes may still differ in offset; the codec keeps it.
    assert a.time.utcoffset() == b.time.utcoffset()
    if a.last_seen is not None and b.last_seen is not None:
        assert a.last_seen.utcoffset() == b.last_seen.utcoffset()
    for spec in dataclasses.fields(VehicleState):
        assert type(getattr(a, spec.name)) is type(getattr(b, spec.name)), spec.name


@given(_states)
def test_every_vehicle_state_round_trips_exactly(state: VehicleState) -> None:
    _same(vehicle_state_from_json(vehicle_state_to_json(state)), state)


def test_a_state_with_every_optional_field_unknown_round_trips_with_none() -> None:
    state = VehicleState(
        vehicle_id=VehicleId("D1"), time=T0, available=False, last_seen=None, link=LinkState.LOST
    )
    back = vehicle_state_from_json(vehicle_state_to_json(state))
    _same(back, state)
    assert back.position is None and back.battery_pct is None and back.home is None


def test_the_json_is_compact_and_names_enums_by_value() -> None:
    state = VehicleState(
        vehicle_id=VehicleId("D1"),
        time=T0,
        available=True,
        last_seen=T0,
        link=LinkState.CONNECTED,
        position=GeoPoint(38.8339, -104.747),
        mode=FlightMode.MISSION,
        landed_state=LandedState.IN_AIR,
    )
    data = vehicle_state_to_json(state)
    assert b" " not in data
    raw = json.loads(data)
    assert raw["mode"] == "AUTO.MISSION" and raw["landed_state"] == 2 and raw["link"] == "connected"
    assert raw["position"] == [38.8339, -104.747]
    assert raw["time"] == "2025-06-01T15:00:00.123456+00:00"


def test_the_decoder_table_names_every_field_of_vehicle_state() -> None:
    assert set(DECODERS) == {spec.name for spec in dataclasses.fields(VehicleState)}


@pytest.mark.parametrize(
    ("data", "names"),
    [
        (b"not json", "not JSON"),
        (b"[]", "JSON object"),
        (b'{"vehicle_id":"D1","bogus":1}', "bogus"),
        (b'{"vehicle_id":"D1"}', "missing"),
        (b'{"vehicle_id":"D1","armed":1}', "armed"),
        (b'{"vehicle_id":"D1","position":[91,0]}', "position"),
        (b'{"vehicle_id":"D1","mode":"WARP"}', "mode"),
        (b'{"vehicle_id":"D1","battery_pct":true}', "battery_pct"),
    ],
)
def test_decoding_refuses_what_is_not_a_vehicle_state(data: bytes, names: str) -> None:
    with pytest.raises(ValueError, match=names):
        vehicle_state_from_json(data)
