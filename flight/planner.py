"""Pure response planning: a legal route out and back, an orbit over the scene, and the vehicle fence."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from datetime import datetime

from flight.errors import PlanRejectedError
from flight.mission_items import MavCmd, MavFrame, MissionItem, MissionType
from flight.plan import DronePerformance, EnergyEstimate, FlightPlan
from geofence import (
    Airspace,
    Altitude,
    AltitudeDatum,
    GeoPoint,
    LegalRoute,
    RoutePoint,
    RouteRefusal,
    Zone,
    ZoneCircle,
    ZoneKind,
    ZonePolygon,
    destination,
    distance_m,
)

#: Waypoint acceptance radius (MAV_CMD_NAV_WAYPOINT param2).
ACCEPTANCE_RADIUS_M = 5.0
#: Orbit radii tried, as fractions of the requested one, before hovering over the scene.
_ORBIT_FRACTIONS = (1.0, 0.5, 0.25)
_ORBIT_SEGMENTS = 24
#: PX4 keeps a few hundred fence vertices; beyond this the nearest exclusions win.
MAX_FENCE_ITEMS = 250


def _item(
    command: MavCmd,
    point: GeoPoint | None = None,
    z: float = 0.0,
    frame: MavFrame = MavFrame.GLOBAL_RELATIVE_ALT_INT,
    mission_type: MissionType = MissionType.MISSION,
    **params: float,
) -> MissionItem:
    x, y = point.to_dege7() if point is not None else (0, 0)
    return MissionItem(
        command=command,
        frame=frame,
        x=x,
        y=y,
        z=z,
        mission_type=mission_type,
        param1=params.get("param1", 0.0),
        param2=params.get("param2", 0.0),
        param3=params.get("param3", 0.0),
        param4=params.get("param4", math.nan),
    )


def _check_request(airspace: Airspace, orbit_radius_m: float, alt_agl_m: float | None) -> None:
    """Refuse a requested altitude outside the policy band or an impossible orbit radius."""
    policy = airspace.policy
    if alt_agl_m is not None and not (
        policy.min_safe_alt_agl_m <= alt_agl_m <= policy.max_alt_agl_m
    ):
        raise PlanRejectedError(
            (
                f"requested altitude {alt_agl_m:g} m AGL is outside "
                f"{policy.min_safe_alt_agl_m:g}..{policy.max_alt_agl_m:g} m AGL",
            )
        )
    if orbit_radius_m < 0 or not math.isfinite(orbit_radius_m):
        raise PlanRejectedError((f"orbit radius {orbit_radius_m} m must be >= 0",))


def _route_or_refuse(
    airspace: Airspace, origin: GeoPoint, target: GeoPoint, now: datetime, prefix: str = ""
) -> LegalRoute:
    route = airspace.plan_route(origin, target, now)
    if isinstance(route, RouteRefusal):
        raise PlanRejectedError(tuple(prefix + v.reason for v in route.reasons), route.reasons)
    return route


def plan_response(
    dock: GeoPoint,
    target: GeoPoint,
    airspace: Airspace,
    performance: DronePerformance,
    now: datetime,
    *,
    orbit_radius_m: float = 50.0,
    alt_agl_m: float | None = None,
) -> FlightPlan:
    """Plan dock -> scene -> orbit until released -> dock; PlanRejectedError with every reason if illegal."""
    return _plan(None, dock, target, airspace, performance, now, orbit_radius_m, alt_agl_m)


def plan_response_from_air(
    position: GeoPoint,
    position_alt_agl_m: float,
    dock: GeoPoint,
    target: GeoPoint,
    airspace: Airspace,
    performance: DronePerformance,
    now: datetime,
    *,
    orbit_radius_m: float = 50.0,
    alt_agl_m: float | None = None,
) -> FlightPlan:
    """Plan for a drone in the air: here -> scene -> orbit until released -> its dock (no take-off).

    The transit starts with a waypoint where the drone is, at the first leg's legal altitude, so
    it changes altitude before it crosses anything; the return is the dock's own legal route.
    """
    start = (position, position_alt_agl_m)
    return _plan(start, dock, target, airspace, performance, now, orbit_radius_m, alt_agl_m)


def _plan(
    start: tuple[GeoPoint, float] | None,
    dock: GeoPoint,
    target: GeoPoint,
    airspace: Airspace,
    performance: DronePerformance,
    now: datetime,
    orbit_radius_m: float,
    alt_agl_m: float | None,
) -> FlightPlan:
    """The plan for a legal route out and back; `start` is (position, alt AGL) in the air, None on the dock."""
    _check_request(airspace, orbit_radius_m, alt_agl_m)
    route, back = _routes(start, dock, target, airspace, now)
    start_alt_agl_m = None if start is None else start[1]
    policy = airspace.policy
    cap = policy.max_alt_agl_m if alt_agl_m is None else alt_agl_m
    leg_alts = tuple(min(a, cap) for a in route.leg_alt_agl_m)
    back_alts = tuple(min(a, cap) for a in back.leg_alt_agl_m)
    scene = route.destination
    notes = list(route.advisories)
    if route.standoff is not None:
        notes.append(route.standoff.reason)
    radius, orbit_alt = _orbit(airspace, scene, orbit_radius_m, leg_alts[-1], route, now, notes)
    points_out = route.route_points(cap)
    points_back = back.route_points(cap)
    from_air = start_alt_agl_m is not None
    mission = _mission_items(
        points_out, points_back, target, radius, orbit_alt, performance, from_air=from_air
    )
    fence = fence_items(_fence_zones(airspace, now, route.waypoints + back.waypoints))
    rally = (
        _item(
            MavCmd.NAV_RALLY_POINT,
            dock,
            z=back_alts[-1],
            mission_type=MissionType.RALLY,
        ),
    )
    eta_s, energy = _timing(
        points_out, points_back, radius, orbit_alt, performance, start_alt_agl_m or 0.0
    )
    return FlightPlan(
        dock=dock,
        target=target,
        scene=scene,
        route_out=route,
        route_back=back,
        leg_alt_agl_m=leg_alts,
        orbit_radius_m=radius,
        orbit_alt_agl_m=orbit_alt,
        mission_items=mission,
        fence_items=fence,
        rally_items=rally,
        eta_s=eta_s,
        energy_wh=energy,
        planned_at=now,
        notes=tuple(notes),
        return_leg_alt_agl_m=back_alts,
        start_alt_agl_m=start_alt_agl_m,
    )


def _routes(
    start: tuple[GeoPoint, float] | None,
    dock: GeoPoint,
    target: GeoPoint,
    airspace: Airspace,
    now: datetime,
) -> tuple[LegalRoute, LegalRoute]:
    """The legal route out (from the dock, or from `start` in the air) and the route back."""
    if start is None:
        route = _route_or_refuse(airspace, dock, target, now)
        return route, _reverse(route)
    position, position_alt_agl_m = start
    if not math.isfinite(position_alt_agl_m) or position_alt_agl_m < 0:
        raise PlanRejectedError((f"current altitude {position_alt_agl_m} m AGL is not usable",))
    route = _route_or_refuse(airspace, position, target, now)
    # The shortest legal path is the same both ways: the return is the dock's route reversed, and
    # it starts where the transit ends (the target, or the same stand-off point).
    home = _route_or_refuse(airspace, dock, target, now, "no legal return to the dock: ")
    return route, _reverse(home)


def _reverse(route: LegalRoute) -> LegalRoute:
    # The shortest legal path is the same in both directions at the same time.
    return LegalRoute(
        waypoints=tuple(reversed(route.waypoints)),
        leg_alt_agl_m=tuple(reversed(route.leg_alt_agl_m)),
        leg_length_m=tuple(reversed(route.leg_length_m)),
        target=route.waypoints[0],
        advisories=route.advisories,
    )


def _orbit(
    airspace: Airspace,
    scene: GeoPoint,
    radius_m: float,
    arrival_alt_m: float,
    route: LegalRoute,
    now: datetime,
    notes: list[str],
) -> tuple[float, float]:
    """The largest legal orbit (radius, altitude) around the scene, down to a hover."""
    if route.standoff is not None:
        # A stand-off point sits on the edge of a keep-out: circling would cross into it.
        return 0.0, arrival_alt_m
    for fraction in _ORBIT_FRACTIONS if radius_m > 0 else ():
        r = radius_m * fraction
        ring = [destination(scene, i * 360.0 / _ORBIT_SEGMENTS, r) for i in range(_ORBIT_SEGMENTS)]
        alt = min([arrival_alt_m] + [airspace.ceiling_agl_m(p) for p in ring])
        if alt < airspace.policy.min_safe_alt_agl_m:
            continue
        pts = [RoutePoint(p, Altitude(alt, AltitudeDatum.AGL)) for p in ring + ring[:1]]
        if not airspace.check_route(pts, now):
            if fraction < 1.0:
                notes.append(f"orbit radius reduced to {r:.0f} m to stay legal")
            return r, alt
    if radius_m > 0:
        notes.append("no legal orbit around the scene: hovering over it")
    return 0.0, arrival_alt_m


def _mission_items(
    out: Sequence[RoutePoint],
    back: Sequence[RoutePoint],
    target: GeoPoint,
    radius_m: float,
    orbit_alt_m: float,
    perf: DronePerformance,
    *,
    from_air: bool = False,
) -> tuple[MissionItem, ...]:
    start, dock = out[0].point, back[-1].point
    first = (
        # In the air: reach the first leg's altitude where the drone is before crossing anything.
        _item(MavCmd.NAV_WAYPOINT, start, z=out[0].alt.value_m, param2=ACCEPTANCE_RADIUS_M)
        if from_air
        else _item(MavCmd.NAV_TAKEOFF, start, z=out[0].alt.value_m, param4=math.nan)
    )
    items = [
        first,
        _item(
            MavCmd.DO_CHANGE_SPEED,
            frame=MavFrame.MISSION,
            param1=1.0,
            param2=perf.cruise_speed_mps,
            param3=-1.0,
            param4=0.0,
        ),
    ]
    items.extend(
        _item(MavCmd.NAV_WAYPOINT, p.point, z=p.alt.value_m, param2=ACCEPTANCE_RADIUS_M)
        for p in out[1:-1]
    )
    scene = out[-1].point
    items.append(_item(MavCmd.DO_SET_ROI_LOCATION, target, z=0.0, param4=0.0))
    # Loiter until released: the operator moves the mission on to the return leg.
    items.append(_item(MavCmd.NAV_LOITER_UNLIM, scene, z=orbit_alt_m, param3=radius_m))
    items.append(_item(MavCmd.DO_SET_ROI_NONE, frame=MavFrame.MISSION, param4=0.0))
    items.extend(
        _item(MavCmd.NAV_WAYPOINT, p.point, z=p.alt.value_m, param2=ACCEPTANCE_RADIUS_M)
        for p in back[1:-1]
    )
    items.append(_item(MavCmd.NAV_LAND, dock, z=0.0, param4=math.nan))
    return tuple(items)


def _profile(
    points: Sequence[RoutePoint], start_alt_m: float, end_alt_m: float, perf: DronePerformance
) -> tuple[float, float]:
    """(seconds, Wh) to fly `points` starting at `start_alt_m` and ending at `end_alt_m` AGL."""
    alts = [start_alt_m] + [p.alt.value_m for p in points] + [end_alt_m]
    seconds = joules = 0.0
    for lo, hi in zip(alts, alts[1:], strict=False):
        if hi > lo:
            t = (hi - lo) / perf.climb_rate_mps
            seconds, joules = seconds + t, joules + t * perf.climb_power_w
        else:
            t = (lo - hi) / perf.descent_rate_mps
            seconds, joules = seconds + t, joules + t * perf.hover_power_w
    for a, b in zip(points, points[1:], strict=False):
        t = distance_m(a.point, b.point) / perf.cruise_speed_mps
        seconds, joules = seconds + t, joules + t * perf.cruise_power_w
    return seconds, joules / 3600.0


def _timing(
    out: Sequence[RoutePoint],
    back: Sequence[RoutePoint],
    radius_m: float,
    orbit_alt_m: float,
    perf: DronePerformance,
    start_alt_m: float = 0.0,
) -> tuple[float, EnergyEstimate]:
    out_s, out_wh = _profile(out, start_alt_m, orbit_alt_m, perf)
    entry_s = radius_m / perf.cruise_speed_mps
    _, back_wh = _profile(back, orbit_alt_m, 0.0, perf)
    scene_power_w = perf.cruise_power_w if radius_m > 0 else perf.hover_power_w
    return out_s + entry_s, EnergyEstimate(
        out_wh + entry_s * perf.cruise_power_w / 3600.0, scene_power_w / 60.0, back_wh
    )


# -- vehicle fence ---------------------------------------------------------------------------------


def _fence_zones(airspace: Airspace, now: datetime, route: Sequence[GeoPoint]) -> list[Zone]:
    """Active operating area and exclusions, nearest to the route's waypoints first."""
    active = [z for z in airspace.zones.zones if z.is_active(now)]
    inclusions = [z for z in active if z.kind is ZoneKind.INCLUSION]
    exclusions = [z for z in active if z.kind is ZoneKind.EXCLUSION]

    def nearness(z: Zone) -> float:
        ref = z.shape.centre if isinstance(z.shape, ZoneCircle) else z.shape.exterior[0]
        return min(distance_m(ref, p) for p in route)

    return inclusions + sorted(exclusions, key=nearness)


def fence_items(zones: Iterable[Zone], max_items: int = MAX_FENCE_ITEMS) -> tuple[MissionItem, ...]:
    """MAV_CMD_NAV_FENCE_* items (GLOBAL_INT, 1e7 lat/lon) for inclusion and exclusion zones, in order.

    Exclusions that would exceed `max_items` are left out (callers order them nearest first);
    an operating area that does not fit is refused.
    """
    items: list[MissionItem] = []
    for zone in zones:
        if zone.kind is ZoneKind.ADVISORY:
            continue
        inclusion = zone.kind is ZoneKind.INCLUSION
        chunk: list[MissionItem] = []
        if isinstance(zone.shape, ZoneCircle):
            cmd = (
                MavCmd.NAV_FENCE_CIRCLE_INCLUSION
                if inclusion
                else MavCmd.NAV_FENCE_CIRCLE_EXCLUSION
            )
            chunk.append(_fence_item(cmd, zone.shape.centre, zone.shape.radius_m))
        else:
            cmd = (
                MavCmd.NAV_FENCE_POLYGON_VERTEX_INCLUSION
                if inclusion
                else MavCmd.NAV_FENCE_POLYGON_VERTEX_EXCLUSION
            )
            ring = zone.shape.exterior
            chunk.extend(_fence_item(cmd, p, float(len(ring))) for p in ring)
            if inclusion:
                # MAVLink fences have no holes: a hole in the operating area is an exclusion.
                for hole in zone.shape.holes:
                    chunk.extend(
                        _fence_item(MavCmd.NAV_FENCE_POLYGON_VERTEX_EXCLUSION, p, float(len(hole)))
                        for p in hole
                    )
        if len(items) + len(chunk) > max_items:
            if inclusion:
                raise PlanRejectedError(
                    (f"operating area {zone.id!r} has too many vertices for the vehicle fence",)
                )
            continue
        items.extend(chunk)
    return tuple(items)


def _fence_item(cmd: MavCmd, point: GeoPoint, param1: float) -> MissionItem:
    return _item(
        cmd, point, z=0.0, frame=MavFrame.GLOBAL_INT, mission_type=MissionType.FENCE, param1=param1
    )


def zones_from_fence_items(items: Sequence[MissionItem]) -> list[Zone]:
    """The zones a list of fence items describes (ids `fence-<n>`); the inverse of fence_items."""
    zones: list[Zone] = []
    i = 0
    while i < len(items):
        item = items[i]
        cmd = int(item.command)
        zone_id = f"fence-{len(zones)}"
        if cmd in (MavCmd.NAV_FENCE_CIRCLE_INCLUSION, MavCmd.NAV_FENCE_CIRCLE_EXCLUSION):
            kind = (
                ZoneKind.INCLUSION
                if cmd == MavCmd.NAV_FENCE_CIRCLE_INCLUSION
                else ZoneKind.EXCLUSION
            )
            shape: ZoneCircle | ZonePolygon = ZoneCircle(
                GeoPoint.from_dege7(item.x, item.y), float(item.param1)
            )
            zones.append(Zone(zone_id, kind, shape))
            i += 1
        elif cmd in (
            MavCmd.NAV_FENCE_POLYGON_VERTEX_INCLUSION,
            MavCmd.NAV_FENCE_POLYGON_VERTEX_EXCLUSION,
        ):
            count = int(item.param1)
            group = items[i : i + count]
            if count < 3 or len(group) < count or any(int(g.command) != cmd for g in group):
                raise PlanRejectedError((f"fence item {i}: bad polygon vertex count {count}",))
            kind = (
                ZoneKind.INCLUSION
                if cmd == MavCmd.NAV_FENCE_POLYGON_VERTEX_INCLUSION
                else ZoneKind.EXCLUSION
            )
            shape = ZonePolygon(tuple(GeoPoint.from_dege7(g.x, g.y) for g in group))
            zones.append(Zone(zone_id, kind, shape))
            i += count
        else:
            raise PlanRejectedError((f"fence item {i}: command {cmd} is not a fence command",))
    return zones
