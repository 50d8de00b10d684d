"""Daylight and civil twilight at a place and time (sun 6 degrees below the horizon or higher).

14 CFR 107.29 allows flight in daylight and civil twilight; night flight needs a waiver or the
agency's night rules. Civil dawn/dusk come from astral for the local date in the agency's time zone.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from enum import StrEnum

import astral
import astral.sun

from dfr.dispatch.errors import InvalidFactsError
from geofence import GeoPoint

CIVIL_DEPRESSION_DEG = 6.0


class LightPhase(StrEnum):
    """Where the sun is."""

    DAY = "day"
    CIVIL_TWILIGHT = "civil_twilight"
    NIGHT = "night"


@dataclass(frozen=True, slots=True)
class Daylight:
    """The light at one place and time, with the civil twilight bounds that frame it."""

    phase: LightPhase
    sun_elevation_deg: float
    civil_dawn: datetime | None  # of the local date; None where the sun never gets that low/high
    civil_dusk: datetime | None
    next_civil_dawn: datetime | None  # the dawn that ends the current night

    @property
    def flyable_without_waiver(self) -> bool:
        """Daylight or civil twilight."""
        return self.phase is not LightPhase.NIGHT


@functools.lru_cache(maxsize=512)
def _civil_events(
    lat_deg: float, lon_deg: float, day: date, tz: tzinfo
) -> tuple[datetime, datetime] | None:
    """(civil dawn, civil dusk) of a local date, or None in polar day/night."""
    observer = astral.Observer(latitude=lat_deg, longitude=lon_deg)
    try:
        events = astral.sun.sun(
            observer, date=day, tzinfo=tz, dawn_dusk_depression=CIVIL_DEPRESSION_DEG
        )
    except ValueError:  # the sun never crosses -6 degrees that day
        return None
    return events["dawn"], events["dusk"]


def daylight_at(location: GeoPoint, at: datetime, tz: tzinfo) -> Daylight:
    """The light at `location` at time `at` (aware), with civil dawn/dusk in `tz`."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise InvalidFactsError("must carry a time zone", field="now")
    lat, lon = round(location.lat_deg, 4), round(location.lon_deg, 4)  # ~10 m: same sun times
    observer = astral.Observer(latitude=lat, longitude=lon)
    elevation = float(astral.sun.elevation(observer, at))
    local_day = at.astimezone(tz).date()
    events = _civil_events(lat, lon, local_day, tz)
    if events is None:
        phase = _phase_from_elevation(elevation)
        return Daylight(phase, elevation, None, None, None)
    dawn, dusk = events
    if dawn <= at <= dusk:
        phase = LightPhase.DAY if elevation > 0 else LightPhase.CIVIL_TWILIGHT
        # Between two events elevation alone can disagree by a hair at the bounds; the events win.
        return Daylight(phase, elevation, dawn, dusk, None)
    if at < dawn:
        next_dawn: datetime | None = dawn
    else:
        following = _civil_events(lat, lon, local_day + timedelta(days=1), tz)
        next_dawn = following[0] if following is not None else None
    return Daylight(LightPhase.NIGHT, elevation, dawn, dusk, next_dawn)


def _phase_from_elevation(elevation_deg: float) -> LightPhase:
    if elevation_deg > 0:
        return LightPhase.DAY
    if elevation_deg >= -CIVIL_DEPRESSION_DEG:
        return LightPhase.CIVIL_TWILIGHT
    return LightPhase.NIGHT
