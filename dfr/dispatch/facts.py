"""What the dispatch policy decides from: small frozen facts about the call, each drone, its route, the weather.

The service gathers them (database rows, live vehicle state, geofence route, weather source) and the
policy only reads them, so a decision can be replayed from its inputs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dfr.dispatch.errors import InvalidFactsError
from geofence import GeoPoint


def _finite(value: float | None, field: str, *, minimum: float | None = None) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidFactsError(f"must be a finite number, got {value!r}", field=field)
    if minimum is not None and value < minimum:
        raise InvalidFactsError(f"must be >= {minimum}, got {value}", field=field)


def _positive(value: float, field: str) -> None:
    _finite(value, field)
    if value <= 0:
        raise InvalidFactsError(f"must be > 0, got {value}", field=field)


def _aware(value: datetime | None, field: str) -> None:
    if value is not None and (value.tzinfo is None or value.utcoffset() is None):
        raise InvalidFactsError("must carry a time zone", field=field)


@dataclass(frozen=True, slots=True)
class CallFacts:
    """The CAD call as the policy sees it."""

    call_id: str
    call_type: str  # APCO common incident type code (BURGLARY, SHOTS ...)
    priority: int  # 1 highest .. 5 lowest
    location: GeoPoint
    category: str = "unmapped"  # DFR category from the CAD bridge mapping
    in_progress: bool = False
    weapons: bool = False
    outdoor: bool = False
    received_at: datetime | None = None
    #: A supervisor's decision on launching to this call (dfr.dispatch.guards.ApprovalState), or "".
    approval: str = ""

    def __post_init__(self) -> None:
        if isinstance(self.priority, bool) or not isinstance(self.priority, int):
            raise InvalidFactsError(f"must be an integer, got {self.priority!r}", field="priority")
        if not 1 <= self.priority <= 5:
            raise InvalidFactsError(f"must be 1..5, got {self.priority}", field="priority")
        if not self.call_type.strip():
            raise InvalidFactsError("must not be empty", field="call_type")
        _aware(self.received_at, "received_at")


@dataclass(frozen=True, slots=True)
class DockFacts:
    """Where a drone is based and how far it may respond from there."""

    dock_id: str
    name: str
    location: GeoPoint
    response_radius_m: float

    def __post_init__(self) -> None:
        _positive(self.response_radius_m, "response_radius_m")


@dataclass(frozen=True, slots=True)
class Assignment:
    """The call a drone is already working."""

    call_id: str
    priority: int
    call_type: str = ""


@dataclass(frozen=True, slots=True)
class DroneFacts:
    """One drone: its performance (from the fleet table) and its live state (from the flight link)."""

    drone_id: str
    name: str
    dock: DockFacts
    cruise_speed_mps: float
    climb_rate_mps: float
    battery_capacity_wh: float
    hover_power_w: float
    cruise_power_w: float
    battery_pct: float | None  # None: not reported yet
    link_up: bool
    docked: bool  # on the ground at its dock and disarmed
    in_maintenance: bool = False
    health_problems: tuple[str, ...] = ()  # empty: healthy
    assignment: Assignment | None = None
    position: GeoPoint | None = None  # current position; the dock when unknown

    def __post_init__(self) -> None:
        for name in (
            "cruise_speed_mps",
            "climb_rate_mps",
            "battery_capacity_wh",
            "hover_power_w",
            "cruise_power_w",
        ):
            _positive(getattr(self, name), name)
        _finite(self.battery_pct, "battery_pct", minimum=0.0)
        if self.battery_pct is not None and self.battery_pct > 100.0:
            raise InvalidFactsError(f"must be <= 100, got {self.battery_pct}", field="battery_pct")

    @property
    def display_name(self) -> str:
        """`Name (id)` or just the id."""
        return (
            f"{self.name} ({self.drone_id})"
            if self.name and self.name != self.drone_id
            else self.drone_id
        )


@dataclass(frozen=True, slots=True)
class ActiveTfr:
    """A temporary flight restriction in force now near the route or scene."""

    zone_id: str
    name: str = ""
    blocks: bool = True  # True: the route or the scene is inside it
    until: datetime | None = None

    def __post_init__(self) -> None:
        _aware(self.until, "until")


@dataclass(frozen=True, slots=True)
class RouteFacts:
    """What geofence/planning found for one drone's flight to the scene (origin -> destination -> dock)."""

    legal: bool  # a legal route exists to the scene or to a stand-off point
    reasons: tuple[str, ...] = ()  # geofence's reasons when not legal
    length_m: float | None = None  # horizontal length origin -> destination along the legal route
    return_length_m: float | None = None  # destination -> dock; None: same as length_m
    standoff_m: float | None = None  # set when the drone stops short: distance from the scene
    standoff_reason: str = ""
    cruise_alt_agl_m: float | None = None
    ceiling_agl_m: float | None = None  # the lowest legal ceiling along the route
    ceiling_source: str = ""  # e.g. "UASFM cell 200 ft" or "agency maximum"
    active_tfrs: tuple[ActiveTfr, ...] = ()
    plan_eta_s: float | None = None  # time from launch to the destination, from the flight plan
    plan_energy_wh: float | None = None  # energy of the whole planned flight (out, on scene, back)
    plan_on_scene_s: float | None = None  # on-scene time the plan's energy includes
    advisories: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in (
            "length_m",
            "return_length_m",
            "standoff_m",
            "cruise_alt_agl_m",
            "plan_eta_s",
            "plan_energy_wh",
            "plan_on_scene_s",
        ):
            _finite(getattr(self, name), name, minimum=0.0)
        _finite(self.ceiling_agl_m, "ceiling_agl_m")


@dataclass(frozen=True, slots=True)
class WeatherFacts:
    """One weather observation at the agency's reporting station (or the pilot's own)."""

    observed_at: datetime
    source: str  # "METAR KCOS", "manual (pilot)", "static"
    wind_speed_mps: float | None  # None: not reported
    wind_gust_mps: float | None = None  # None: no gusts reported
    visibility_m: float | None = None  # None: not reported
    present_weather: tuple[str, ...] = ()  # METAR present-weather groups: "-RA", "+TSRA", "FG"
    ceiling_ft: float | None = None  # lowest broken/overcast/obscured layer AGL; None: no ceiling
    raw: str = ""

    def __post_init__(self) -> None:
        _aware(self.observed_at, "observed_at")
        _finite(self.wind_speed_mps, "wind_speed_mps", minimum=0.0)
        _finite(self.wind_gust_mps, "wind_gust_mps", minimum=0.0)
        _finite(self.visibility_m, "visibility_m", minimum=0.0)
        _finite(self.ceiling_ft, "ceiling_ft", minimum=0.0)

    @classmethod
    def from_public(cls, data: dict[str, Any]) -> WeatherFacts:
        """From `to_public`'s JSON (ValueError, KeyError or TypeError when it is not that)."""
        return cls(
            observed_at=datetime.fromisoformat(str(data["observed_at"])),
            source=str(data["source"]),
            wind_speed_mps=_optional_float(data["wind_speed_mps"]),
            wind_gust_mps=_optional_float(data["wind_gust_mps"]),
            visibility_m=_optional_float(data["visibility_m"]),
            present_weather=tuple(str(code) for code in data["present_weather"]),
            ceiling_ft=_optional_float(data["ceiling_ft"]),
            raw=str(data["raw"]),
        )

    def to_public(self) -> dict[str, object]:
        """As JSON."""
        return {
            "observed_at": self.observed_at.isoformat(),
            "source": self.source,
            "wind_speed_mps": self.wind_speed_mps,
            "wind_gust_mps": self.wind_gust_mps,
            "visibility_m": self.visibility_m,
            "present_weather": list(self.present_weather),
            "ceiling_ft": self.ceiling_ft,
            "raw": self.raw,
        }


def _optional_float(value: Any) -> float | None:
    return None if value is None else float(value)
