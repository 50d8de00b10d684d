"""Readers every zone format shares for when a zone applies: date-times, times of day, weekly periods."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, time, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from geofence.errors import InvalidTimeError
from geofence.loaders.document import Json
from geofence.schedule import DAY_NAMES, Applicability, DailyPeriod, parse_timezone

UTC: tzinfo = ZoneInfo("UTC")


def read_datetime(raw: Any, zone_id: str, default_tz: tzinfo = UTC) -> datetime:
    """An ISO 8601 date-time; one without an offset is in `default_tz`."""
    if not isinstance(raw, str):
        raise InvalidTimeError(f"zone {zone_id!r}: date-time {raw!r} is not a string")
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError as exc:
        raise InvalidTimeError(f"zone {zone_id!r}: bad date-time {raw!r}") from exc
    return value if value.tzinfo is not None else value.replace(tzinfo=default_tz)


def _read_clock(raw: Any, zone_id: str) -> tuple[time, tzinfo | None]:
    """'hh:mm[:ss[.ss]][Z|+hh:mm]' to a local time and its zone if given."""
    if not isinstance(raw, str):
        raise InvalidTimeError(f"zone {zone_id!r}: time {raw!r} is not a string")
    text = raw.strip()
    tz: tzinfo | None = None
    if text.endswith("Z"):
        text, tz = text[:-1], UTC
    try:
        value = time.fromisoformat(text)
    except ValueError as exc:
        raise InvalidTimeError(f"zone {zone_id!r}: bad time of day {raw!r}") from exc
    if value.tzinfo is not None:
        tz = value.tzinfo
        value = value.replace(tzinfo=None)
    return value, tz


def _read_days(raw: Any, zone_id: str) -> frozenset[int]:
    if not isinstance(raw, list) or not raw:
        raise InvalidTimeError(f"zone {zone_id!r}: schedule days must be a non-empty list")
    days: set[int] = set()
    for d in raw:
        name = str(d).upper()[:3]
        if name == "ANY":
            days.update(range(7))
        elif name in DAY_NAMES:
            days.add(DAY_NAMES.index(name))
        else:
            raise InvalidTimeError(f"zone {zone_id!r}: unknown day {d!r}")
    return frozenset(days)


def read_period(
    raw: Json, zone_id: str, start_key: str, end_key: str, tz: tzinfo | None
) -> DailyPeriod:
    """A weekly period: days (`day` or `days`), start and end times, in its own or `tz` or UTC."""
    start, tz_start = _read_clock(raw.get(start_key), zone_id)
    end, tz_end = _read_clock(raw.get(end_key), zone_id)
    if "timezone" in raw:
        tz = parse_timezone(str(raw["timezone"]))
    return DailyPeriod(
        _read_days(raw.get("day", raw.get("days")), zone_id),
        start,
        end,
        tz or tz_start or tz_end or UTC,
    )


def read_applicability(
    raw: Any, zone_id: str, read_entry: Callable[[Any, str], Applicability]
) -> tuple[Applicability, ...]:
    """A list of applicability entries, each read by the format's `read_entry`; absent: permanent."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise InvalidTimeError(f"zone {zone_id!r}: applicability must be a list")
    return tuple(read_entry(entry, zone_id) for entry in raw)
