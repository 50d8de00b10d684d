from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest

from geofence import Applicability, DailyPeriod, InvalidTimeError
from geofence.schedule import is_active

DENVER = ZoneInfo("America/Denver")


def test_permanent_zone_is_always_active() -> None:
    assert is_active((), datetime(2031, 2, 3, 4, 5, tzinfo=UTC))
    assert Applicability(permanent=True).is_active(datetime(1999, 1, 1, tzinfo=UTC))


def test_start_end_interval_is_half_open() -> None:
    window = Applicability(
        permanent=False,
        start=datetime(2026, 7, 4, 18, 0, tzinfo=UTC),
        end=datetime(2026, 7, 4, 22, 0, tzinfo=UTC),
    )
    assert not window.is_active(datetime(2026, 7, 4, 17, 59, tzinfo=UTC))
    assert window.is_active(datetime(2026, 7, 4, 18, 0, tzinfo=UTC))
    assert not window.is_active(datetime(2026, 7, 4, 22, 0, tzinfo=UTC))


def test_weekly_schedule_is_read_in_local_time_across_dst() -> None:
    saturday_evening = DailyPeriod(frozenset({5}), time(18, 0), time(23, 0), DENVER)
    # 19:00 local on a summer Saturday (MDT, UTC-6) and a winter Saturday (MST, UTC-7).
    assert saturday_evening.contains(datetime(2026, 7, 12, 1, 0, tzinfo=UTC))
    assert saturday_evening.contains(datetime(2026, 1, 11, 2, 0, tzinfo=UTC))
    # 00:30 UTC that Sunday is 17:30 on Saturday in Denver: not yet.
    assert not saturday_evening.contains(datetime(2026, 1, 11, 0, 30, tzinfo=UTC))


def test_period_crossing_midnight_belongs_to_the_day_it_starts() -> None:
    friday_night = DailyPeriod(frozenset({4}), time(22, 0), time(2, 0), UTC)
    assert friday_night.contains(datetime(2026, 11, 20, 23, 0, tzinfo=UTC))  # Friday 23:00
    assert friday_night.contains(datetime(2026, 11, 21, 1, 0, tzinfo=UTC))  # Saturday 01:00
    assert not friday_night.contains(datetime(2026, 11, 21, 23, 0, tzinfo=UTC))  # Saturday 23:00
    assert not friday_night.contains(datetime(2026, 11, 20, 1, 0, tzinfo=UTC))  # Friday 01:00


def test_schedule_inside_dates_needs_both() -> None:
    a = Applicability(
        permanent=False,
        start=datetime(2026, 5, 1, tzinfo=UTC),
        end=datetime(2026, 6, 1, tzinfo=UTC),
        schedule=(DailyPeriod(frozenset(range(7)), time(16), time(17), UTC),),
    )
    assert a.is_active(datetime(2026, 5, 10, 16, 30, tzinfo=UTC))
    assert not a.is_active(datetime(2026, 5, 10, 15, 30, tzinfo=UTC))
    assert not a.is_active(datetime(2026, 6, 10, 16, 30, tzinfo=UTC))


def test_naive_times_and_reversed_intervals_are_refused() -> None:
    with pytest.raises(InvalidTimeError):
        is_active((), datetime(2026, 1, 1))
    with pytest.raises(InvalidTimeError):
        Applicability(permanent=False, start=datetime(2026, 1, 1))
    with pytest.raises(InvalidTimeError, match="not after"):
        Applicability(
            permanent=False,
            start=datetime(2026, 1, 2, tzinfo=UTC),
            end=datetime(2026, 1, 1, tzinfo=UTC),
        )
