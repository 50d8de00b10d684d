import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from geofence import (
    DEGE7_TOLERANCE_M,
    Altitude,
    AltitudeDatum,
    GeoPoint,
    InvalidGeometryError,
    bearing_deg,
    destination,
    distance_m,
)


@pytest.mark.parametrize(
    ("lat", "lon"), [(95.0, 0.0), (-91.0, 0.0), (0.0, 181.0), (math.nan, 0.0), (0.0, math.inf)]
)
def test_geopoint_refuses_impossible_coordinates(lat: float, lon: float) -> None:
    with pytest.raises(InvalidGeometryError):
        GeoPoint(lat, lon)


def test_altitude_refuses_nan() -> None:
    with pytest.raises(InvalidGeometryError):
        Altitude(math.nan, AltitudeDatum.AGL)


def test_altitude_from_feet_converts_to_metres() -> None:
    assert Altitude.from_feet(400, AltitudeDatum.AGL).value_m == pytest.approx(121.92)


def test_distance_of_one_minute_of_latitude_is_about_one_nautical_mile() -> None:
    assert distance_m(GeoPoint(38.0, -104.0), GeoPoint(38.0 + 1 / 60, -104.0)) == pytest.approx(
        1851, abs=10
    )


@given(
    lat=st.floats(-80, 80),
    lon=st.floats(-179, 179),
    brg=st.floats(0, 359.9),
    dist=st.floats(1, 20_000),
)
def test_destination_then_distance_and_bearing_round_trip(
    lat: float, lon: float, brg: float, dist: float
) -> None:
    origin = GeoPoint(lat, lon)
    far = destination(origin, brg, dist)
    assert distance_m(origin, far) == pytest.approx(dist, abs=1e-3)
    diff = (bearing_deg(origin, far) - brg + 180) % 360 - 180
    assert abs(diff) < 1e-6


@given(lat=st.floats(-90, 90), lon=st.floats(-180, 180))
def test_dege7_round_trip_stays_within_tolerance(lat: float, lon: float) -> None:
    p = GeoPoint(lat, lon)
    q = GeoPoint.from_dege7(*p.to_dege7())
    assert distance_m(p, q) <= DEGE7_TOLERANCE_M
