"""Simulated CAD incidents and a seeded generator of realistic Colorado Springs calls.

This module is an independent implementation of the CAD side: it shares no code with the service.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Final

#: APCO common incident types with the share of calls, priority range (1 highest) and typical text.
CALL_TYPES: Final[tuple[tuple[str, str, float, tuple[int, int]], ...]] = (
    ("BURGLARY", "Burglary", 0.12, (1, 3)),
    ("ROBBERY", "Robbery", 0.05, (1, 2)),
    ("WEAPON", "Person with a weapon", 0.05, (1, 1)),
    ("ASSAULT", "Assault", 0.08, (1, 2)),
    ("FIGHT", "Fight in progress", 0.06, (1, 2)),
    ("SUSP", "Suspicious person or vehicle", 0.16, (2, 4)),
    ("WELFARE", "Welfare check", 0.14, (2, 4)),
    ("VEHSTLN", "Stolen vehicle", 0.06, (3, 4)),
    ("MVC", "Motor vehicle crash", 0.08, (2, 3)),
    ("MISSING", "Missing person", 0.04, (1, 3)),
    ("ALARMB", "Burglar alarm", 0.08, (3, 4)),
    ("NOISE", "Noise complaint", 0.04, (4, 5)),
    ("LITTER", "Illegal dumping", 0.04, (5, 5)),
)

#: Docks of the demo city (Colorado Springs PD division stations) with the drones' reach.
DOCKS: Final = (
    ("Sand Creek", 38.8339, -104.7470),
    ("Gold Hill", 38.8253, -104.8383),
    ("Stetson Hills", 38.8957, -104.7178),
)
REACH_M: Final = 3218.7
CITY_CENTRE: Final = (38.8339, -104.8214)

STREETS: Final = (
    ("Academy", "Blvd"),
    ("Platte", "Ave"),
    ("Union", "Blvd"),
    ("Nevada", "Ave"),
    ("Tejon", "St"),
    ("Powers", "Blvd"),
    ("Galley", "Rd"),
    ("Circle", "Dr"),
    ("Barnes", "Rd"),
    ("Fountain", "Blvd"),
    ("Woodmen", "Rd"),
    ("Austin Bluffs", "Pkwy"),
    ("Constitution", "Ave"),
    ("Uintah", "St"),
    ("Cascade", "Ave"),
)
NOTES: Final = (
    "RP on scene, will meet officers out front",
    "Suspect last seen northbound on foot",
    "Caller hears breaking glass",
    "Dark sedan with no plates",
    "RP is a neighbour, not involved",
    "Multiple callers reporting",
)
_EARTH_R_M: Final = 6_371_000.0


@dataclass
class SimIncident:
    """One incident as the simulated CAD holds it."""

    incident_id: str
    call_type: str
    call_type_text: str
    priority: int
    lat: float
    lon: float
    address: str
    received_at: datetime
    status: str = "Active"
    notes: list[str] = field(default_factory=list)
    weapons: bool = False
    in_progress: bool = False
    outdoor: bool = False
    dfr_call_id: int | None = None

    def with_changes(self, **changes: Any) -> SimIncident:
        """A copy with some fields changed (for update re-posts)."""
        return replace(self, **changes)


def _offset(lat: float, lon: float, distance_m: float, bearing_deg: float) -> tuple[float, float]:
    # Spherical approximation is plenty for scattering calls around a city.
    d = distance_m / _EARTH_R_M
    b = math.radians(bearing_deg)
    lat1, lon1 = math.radians(lat), math.radians(lon)
    lat2 = math.asin(math.sin(lat1) * math.cos(d) + math.cos(lat1) * math.sin(d) * math.cos(b))
    lon2 = lon1 + math.atan2(
        math.sin(b) * math.sin(d) * math.cos(lat1), math.cos(d) - math.sin(lat1) * math.sin(lat2)
    )
    return math.degrees(lat2), math.degrees(lon2)


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * _EARTH_R_M * math.asin(math.sqrt(a))


def within_reach(lat: float, lon: float) -> bool:
    """True when some dock is within the drones' reach of the point."""
    return any(haversine_m(lat, lon, d_lat, d_lon) <= REACH_M for _, d_lat, d_lon in DOCKS)


class CallGenerator:
    """Seeded, reproducible stream of realistic calls for Colorado Springs."""

    def __init__(self, seed: int = 1, *, in_reach_share: float = 0.7, prefix: str = "CS") -> None:
        self._rng = random.Random(seed)
        self._in_reach_share = in_reach_share
        self._prefix = prefix
        self._seq = 0
        self._seed = seed

    def _place(self) -> tuple[float, float]:
        if self._rng.random() < self._in_reach_share:
            _, lat, lon = self._rng.choice(DOCKS)
            return _offset(
                lat, lon, self._rng.uniform(100, REACH_M * 0.95), self._rng.uniform(0, 360)
            )
        while True:
            lat, lon = _offset(
                *CITY_CENTRE, self._rng.uniform(4_000, 14_000), self._rng.uniform(0, 360)
            )
            if not within_reach(lat, lon):
                return lat, lon

    def next_incident(self, now: datetime | None = None) -> SimIncident:
        """The next call."""
        self._seq += 1
        codes = [c for c in CALL_TYPES]
        code, text, _, (p_lo, p_hi) = self._rng.choices(codes, weights=[c[2] for c in codes])[0]
        lat, lon = self._place()
        street, suffix = self._rng.choice(STREETS)
        number = self._rng.randrange(100, 9900, 2 if self._rng.random() < 0.5 else 1)
        notes = self._rng.sample(NOTES, k=self._rng.randint(0, 2))
        return SimIncident(
            incident_id=f"{self._prefix}{self._seed:02d}-{self._seq:06d}",
            call_type=code,
            call_type_text=text,
            priority=self._rng.randint(p_lo, p_hi),
            lat=round(lat, 6),
            lon=round(lon, 6),
            address=f"{number} {street} {suffix}, Colorado Springs, CO",
            received_at=now or datetime.now(UTC),
            notes=notes,
            weapons=code in ("WEAPON", "ROBBERY") and self._rng.random() < 0.7,
            in_progress=code in ("BURGLARY", "FIGHT", "ROBBERY") and self._rng.random() < 0.6,
            outdoor=code in ("FIGHT", "SUSP", "MVC", "MISSING", "LITTER"),
        )
