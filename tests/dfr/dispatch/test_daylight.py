"""Daylight and civil twilight from astral, in the agency's time zone."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dfr.dispatch import InvalidFactsError, LightPhase, daylight_at
from geofence import GeoPoint
from tests.dfr.dispatch.builders import DENVER, SAND_CREEK

SVALBARD = GeoPoint(78.22, 15.65)


def test_summer_noon_is_day_with_civil_dawn_and_dusk_of_the_local_date() -> None:
    light = daylight_at(SAND_CREEK.location, datetime(2026, 6, 21, 12, 0, tzinfo=DENVER), DENVER)
    assert light.phase is LightPhase.DAY and light.flyable_without_waiver
    assert light.civil_dawn is not None and light.civil_dusk is not None
    assert light.civil_dawn.astimezone(DENVER).date() == date(2026, 6, 21)
    assert light.civil_dusk.astimezone(DENVER).strftime("%H:%M") == "21:00"


def test_between_sunset_and_civil_dusk_is_civil_twilight() -> None:
    light = daylight_at(SAND_CREEK.location, datetime(2026, 6, 21, 20, 45, tzinfo=DENVER), DENVER)
    assert light.phase is LightPhase.CIVIL_TWILIGHT
    assert -6.0 <= light.sun_elevation_deg <= 0.0


def test_after_civil_dusk_is_night_until_the_next_days_dawn() -> None:
    light = daylight_at(SAND_CREEK.location, datetime(2026, 12, 21, 22, 0, tzinfo=DENVER), DENVER)
    assert light.phase is LightPhase.NIGHT and not light.flyable_without_waiver
    assert light.next_civil_dawn is not None
    assert light.next_civil_dawn.astimezone(DENVER).date() == date(2026, 12, 22)


def test_polar_day_and_polar_night_fall_back_to_the_sun_elevation() -> None:
    summer = daylight_at(SVALBARD, datetime(2026, 6, 21, 0, 0, tzinfo=UTC), UTC)
    assert summer.phase is LightPhase.DAY and summer.civil_dusk is None
    winter = daylight_at(SVALBARD, datetime(2026, 12, 21, 12, 0, tzinfo=UTC), UTC)
    assert winter.phase is LightPhase.NIGHT


def test_naive_time_is_refused() -> None:
    with pytest.raises(InvalidFactsError):
        daylight_at(SAND_CREEK.location, datetime(2026, 6, 21, 12, 0), DENVER)


@settings(max_examples=60, deadline=None)
@given(minutes=st.integers(min_value=0, max_value=366 * 24 * 60 - 1))
def test_phase_agrees_with_the_sun_elevation_away_from_the_bounds(minutes: int) -> None:
    at = datetime(2026, 1, 1, tzinfo=UTC).timestamp() + minutes * 60
    light = daylight_at(SAND_CREEK.location, datetime.fromtimestamp(at, UTC), DENVER)
    if light.sun_elevation_deg > -5.9:
        assert light.phase is not LightPhase.NIGHT
    elif light.sun_elevation_deg < -6.1:
        assert light.phase is LightPhase.NIGHT
