"""A response flight plan as data: mission, fence and rally items, legs, ETA and energy."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flight.errors import PlanRejectedError as PlanRejectedError  # defined here before
from flight.kinematics import Phase, VehicleLimits
from flight.mission_items import MissionItem
from geofence import GeoPoint, LegalRoute, Standoff


@dataclass(frozen=True, slots=True)
class DronePerformance:
    """What the planner needs to know about an airframe."""

    cruise_speed_mps: float = 15.0
    climb_rate_mps: float = 3.0
    descent_rate_mps: float = 2.0
    cruise_power_w: float = 450.0
    hover_power_w: float = 400.0
    climb_power_w: float = 550.0
    #: The vehicle's own speed and altitude parameters (PX4 defaults until it reports them).
    limits: VehicleLimits = VehicleLimits()
    #: The MPC_XY_CRUISE the service sets before flight (PX4's RTL speed); None: the vehicle's own.
    return_speed_mps: float | None = None

    @property
    def level_speed_mps(self) -> float:
        """The speed the vehicle really flies mission legs at when asked for the cruise speed."""
        return self.limits.level_speed_mps(self.cruise_speed_mps)

    @property
    def rtl_speed_mps(self) -> float:
        """The speed the vehicle really flies home at in RTL."""
        wanted = (
            self.limits.xy_cruise_mps if self.return_speed_mps is None else self.return_speed_mps
        )
        return self.limits.level_speed_mps(wanted)

    def __post_init__(self) -> None:
        for name in ("cruise_speed_mps", "climb_rate_mps", "descent_rate_mps"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0")
        for name in ("cruise_power_w", "hover_power_w", "climb_power_w"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"{name} must be >= 0")


@dataclass(frozen=True, slots=True)
class EnergyEstimate:
    """Battery energy for the three phases of a response."""

    out_wh: float
    on_scene_wh_per_min: float
    back_wh: float

    def total_wh(self, on_scene_min: float) -> float:
        """Energy for the whole flight with `on_scene_min` minutes over the scene."""
        return self.out_wh + on_scene_min * self.on_scene_wh_per_min + self.back_wh

    def to_json(self) -> dict[str, float]:
        """As a JSON object."""
        return {
            "out_wh": self.out_wh,
            "on_scene_wh_per_min": self.on_scene_wh_per_min,
            "back_wh": self.back_wh,
        }


@dataclass(frozen=True, slots=True)
class FlightPlan:
    """Everything a response flight needs: what to upload and what to tell the dispatcher."""

    dock: GeoPoint
    target: GeoPoint
    scene: GeoPoint  # where the drone loiters: the target, or the stand-off point
    route_out: LegalRoute
    route_back: LegalRoute
    leg_alt_agl_m: tuple[float, ...]  # flown altitude of each outbound leg
    orbit_radius_m: float  # 0: hover
    orbit_alt_agl_m: float
    mission_items: tuple[MissionItem, ...]
    fence_items: tuple[MissionItem, ...]
    rally_items: tuple[MissionItem, ...]
    eta_s: float
    energy_wh: EnergyEstimate
    planned_at: datetime
    notes: tuple[str, ...] = ()
    #: Flown altitude of each return leg; empty: the outbound legs' reversed.
    return_leg_alt_agl_m: tuple[float, ...] = ()
    start_alt_agl_m: float | None = None  # None: takes off from the dock; else starts in the air
    #: Predicted phases (takeoff, transit, return, landing; on scene per minute is in energy_wh).
    phases: tuple[Phase, ...] = ()
    #: Physical lower bound of the time to the scene with the vehicle's own limits.
    eta_lower_bound_s: float | None = None

    @property
    def from_air(self) -> bool:
        """True for a plan that starts where an airborne drone is (no take-off)."""
        return self.start_alt_agl_m is not None

    @property
    def back_leg_alt_agl_m(self) -> tuple[float, ...]:
        """Flown altitude of each return leg."""
        return self.return_leg_alt_agl_m or tuple(reversed(self.leg_alt_agl_m))

    @property
    def standoff(self) -> Standoff | None:
        """The stand-off used when the target is inside a keep-out, else None."""
        return self.route_out.standoff

    @property
    def length_m(self) -> float:
        """Horizontal length dock to scene."""
        return self.route_out.length_m

    @property
    def return_length_m(self) -> float:
        """Horizontal length scene to dock."""
        return self.route_back.length_m

    def legs_geojson(self) -> dict[str, Any]:
        """Outbound and return legs, the scene and the target as GeoJSON, with the plan's figures."""

        def pos(p: GeoPoint) -> list[float]:
            return [p.lon_deg, p.lat_deg]

        features: list[dict[str, Any]] = []
        for phase, route, alts in (
            ("out", self.route_out, self.leg_alt_agl_m),
            ("back", self.route_back, self.back_leg_alt_agl_m),
        ):
            for i, (a, b) in enumerate(zip(route.waypoints, route.waypoints[1:], strict=False)):
                features.append(
                    {
                        "type": "Feature",
                        "geometry": {"type": "LineString", "coordinates": [pos(a), pos(b)]},
                        "properties": {
                            "phase": phase,
                            "leg": i,
                            "alt_agl_m": alts[i],
                            "length_m": route.leg_length_m[i],
                        },
                    }
                )
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": pos(self.scene)},
                "properties": {
                    "role": "scene",
                    "orbit_radius_m": self.orbit_radius_m,
                    "alt_agl_m": self.orbit_alt_agl_m,
                },
            }
        )
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": pos(self.target)},
                "properties": {"role": "target"},
            }
        )
        return {"type": "FeatureCollection", "features": features, "properties": self.summary()}

    def summary(self) -> dict[str, Any]:
        """The figures a dispatcher sees, as JSON."""
        standoff = self.standoff
        return {
            "length_m": self.length_m,
            "return_length_m": self.return_length_m,
            "eta_s": self.eta_s,
            "energy_wh": self.energy_wh.to_json(),
            "orbit_radius_m": self.orbit_radius_m,
            "orbit_alt_agl_m": self.orbit_alt_agl_m,
            "standoff": None
            if standoff is None
            else {
                "point": {"lat": standoff.point.lat_deg, "lon": standoff.point.lon_deg},
                "distance_to_target_m": standoff.distance_to_target_m,
                "zone_ids": list(standoff.zone_ids),
                "reason": standoff.reason,
            },
            "notes": list(self.notes),
            "planned_at": self.planned_at.isoformat(),
            "start_alt_agl_m": self.start_alt_agl_m,
            "phases": [p.to_json() for p in self.phases],
            "eta_lower_bound_s": self.eta_lower_bound_s,
        }
