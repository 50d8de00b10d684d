"""When a zone applies: permanent, a start/end interval, and/or a weekly schedule in a time zone."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from geofence.errors import InvalidTimeError

DAY_NAMES: tuple[str, ...] = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")


def require_aware(at: datetime) -> datetime:
    """`at` itself, refused if it carries no time zone (a naive time is ambiguous)."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise InvalidTimeError(f"time {at.isoformat()} has no time zone")
    return at


def parse_timezone(name: str) -> tzinfo:
    """An IANA time zone ('America/Denver', 'UTC')."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidTimeError(f"unknown time zone {name!r}") from exc


@dataclass(frozen=True, slots=True)
class DailyPeriod:
    """On each of `weekdays` (0 = Monday), from `start` to `end` local time; end <= start crosses midnight."""

    weekdays: frozenset[int]
    start: time
    end: time
    tz: tzinfo = field(default_factory=lambda: ZoneInfo("UTC"))

    def contains(self, at: datetime) -> bool:
        """True if `at` falls in this period."""
        local = at.astimezone(self.tz)
        t = local.time().replace(tzinfo=None)
        day = local.weekday()
        if self.start < self.end:
            return day in self.weekdays and self.start <= t < self.end
        if self.start == self.end:  # a whole day
            return day in self.weekdays
        previous = (local - timedelta(days=1)).weekday()
        return (day in self.weekdays and t >= self.start) or (
            previous in self.weekdays and t < self.end
        )

    def to_json(self) -> dict[str, Any]:
        """As our GeoJSON `schedule` entry."""
        return {
            "days": [DAY_NAMES[d] for d in sorted(self.weekdays)],
            "start": self.start.strftime("%H:%M:%S"),
            "end": self.end.strftime("%H:%M:%S"),
            "timezone": str(self.tz),
        }


@dataclass(frozen=True, slots=True)
class Applicability:
    """One applicability period: always, or between `start` and `end`, limited to `schedule` if given."""

    permanent: bool = True
    start: datetime | None = None
    end: datetime | None = None
    schedule: tuple[DailyPeriod, ...] = ()

    def __post_init__(self) -> None:
        for value in (self.start, self.end):
            if value is not None:
                require_aware(value)
        if self.start is not None and self.end is not None and self.end <= self.start:
            raise InvalidTimeError(
                f"end {self.end.isoformat()} is not after start {self.start.isoformat()}"
            )

    def is_active(self, at: datetime) -> bool:
        """True if this period applies at `at`."""
        if self.permanent:
            return True
        if self.start is not None and at < self.start:
            return False
        if self.end is not None and at >= self.end:
            return False
        return not self.schedule or any(p.contains(at) for p in self.schedule)

    def to_json(self) -> dict[str, Any]:
        """As our GeoJSON `applicability` entry."""
        out: dict[str, Any] = {"permanent": self.permanent}
        if self.start is not None:
            out["start"] = self.start.isoformat()
        if self.end is not None:
            out["end"] = self.end.isoformat()
        if self.schedule:
            out["schedule"] = [p.to_json() for p in self.schedule]
        return out


def is_active(periods: tuple[Applicability, ...], at: datetime) -> bool:
    """A zone with no periods is permanent; otherwise it is active while any period applies."""
    require_aware(at)
    return not periods or any(p.is_active(at) for p in periods)
