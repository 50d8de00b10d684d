"""Facts for dispatch tests: a Colorado Springs dock, drones with the demo fleet's performance, calls."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from dfr.dispatch import (
    CallFacts,
    DockFacts,
    DroneFacts,
    RouteFacts,
    WeatherFacts,
)
from geofence import GeoPoint, destination

DENVER = ZoneInfo("America/Denver")
#: 12:00 MDT on a summer day: broad daylight in Colorado Springs.
NOON = datetime(2026, 6, 21, 18, 0, tzinfo=UTC)

SAND_CREEK = DockFacts("sand-creek", "Sand Creek Division", GeoPoint(38.8339, -104.7470), 3218.7)
GOLD_HILL = DockFacts("gold-hill", "Gold Hill Division", GeoPoint(38.8253, -104.8383), 3218.7)


def drone(drone_id: str = "D1", dock: DockFacts = SAND_CREEK, **changes: Any) -> DroneFacts:
    """A healthy docked drone with the demo fleet's figures, with `changes` applied."""
    base = DroneFacts(
        drone_id=drone_id,
        name=f"Drone {drone_id}",
        dock=dock,
        cruise_speed_mps=15.0,
        climb_rate_mps=4.0,
        battery_capacity_wh=100.0,
        hover_power_w=250.0,
        cruise_power_w=220.0,
        battery_pct=95.0,
        link_up=True,
        docked=True,
    )
    return replace(base, **changes)


def call_at(
    distance_m: float,
    *,
    dock: DockFacts = SAND_CREEK,
    bearing_deg: float = 45.0,
    call_type: str = "BURGLARY",
    priority: int = 1,
    call_id: str = "C1",
    **changes: Any,
) -> CallFacts:
    """A call `distance_m` from `dock`."""
    return CallFacts(
        call_id=call_id,
        call_type=call_type,
        priority=priority,
        location=destination(dock.location, bearing_deg, distance_m),
        **changes,
    )


def calm(observed_at: datetime = NOON, **changes: Any) -> WeatherFacts:
    """Flyable weather observed at `observed_at`."""
    base = WeatherFacts(
        observed_at=observed_at,
        source="METAR KCOS",
        wind_speed_mps=4.0,
        wind_gust_mps=None,
        visibility_m=16_000.0,
        present_weather=(),
        ceiling_ft=None,
    )
    return replace(base, **changes)


def open_route(**changes: Any) -> RouteFacts:
    """A legal route under a 400 ft agency ceiling."""
    return replace(
        RouteFacts(legal=True, ceiling_agl_m=121.92, ceiling_source="agency maximum"), **changes
    )
