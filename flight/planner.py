"""Pure response planning: a legal route out and back, an orbit over the scene, and the vehicle fence."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from datetime import datetime

from flight.errors import PlanRejectedError
from flight.kinematics import (
    LAUNCH_S,
    Phase,
    PowerModel,
    Waypoint3D,
    climb_s,
    descent_s,
    land_s,
    level_leg_s,
    path_s,
    rtl_start_s,
    takeoff_s,
)
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
    bearing_deg,
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
#: The tracker calls a flight on scene within its orbit radius plus this (FlightTracker.for_plan).
ON_SCENE_MARGIN_M = 50.0
#: Speed of the orbit the service commands over the scene (dfr.flights.commands).
ORBIT_SPEED_MPS = 5.0
#: Lowest take-off height before a climbing transit leg, whatever the policy's minimum.
CLIMB_START_MIN_M = 20.0


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
    if not from_air:
        points_out = _climbing_start(points_out, airspace, performance, now, notes)
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
    eta_s, energy, phases, bound_s = _timing(
        points_out, points_back, radius, orbit_alt, performance, start_alt_agl_m
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
        phases=phases,
        eta_lower_bound_s=bound_s,
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


def _local(origin: GeoPoint, p: RoutePoint) -> Waypoint3D:
    """`p` as metres north/east of `origin` (flat over a response radius) and altitude AGL."""
    d = distance_m(origin, p.point)
    b = math.radians(bearing_deg(origin, p.point)) if d > 0 else 0.0
    return Waypoint3D(d * math.cos(b), d * math.sin(b), p.alt.value_m)


def _trim_end(points: Sequence[Waypoint3D], by_m: float) -> tuple[list[Waypoint3D], float]:
    """`points` with the path's last `by_m` metres (horizontal) cut off, and the length cut."""
    pts = list(points)
    if len(pts) < 2 or by_m <= 0:
        return pts, 0.0
    a, b = pts[-2], pts[-1]
    leg = math.hypot(b.north_m - a.north_m, b.east_m - a.east_m)
    cut = min(by_m, leg)
    if leg <= 0:
        return pts, 0.0
    f = (leg - cut) / leg
    pts[-1] = Waypoint3D(
        a.north_m + (b.north_m - a.north_m) * f,
        a.east_m + (b.east_m - a.east_m) * f,
        a.alt_m + (b.alt_m - a.alt_m) * f,
    )
    return pts, cut


def _path_wh(
    points: Sequence[Waypoint3D],
    legs_s: Sequence[float],
    speed_mps: float,
    power: PowerModel,
    climb_rate_mps: float,
) -> float:
    """Energy of flying `points` in the given leg times: level power, plus the work of climbing.

    Climbing `dz` costs what climbing it at the full rate costs over hovering, however long the leg.
    """
    joules = 0.0
    for (a, b), t in zip(zip(points, points[1:], strict=False), legs_s, strict=False):
        horiz = math.hypot(b.north_m - a.north_m, b.east_m - a.east_m)
        v = min(speed_mps, horiz / t) if t > 0 else 0.0
        joules += power.level_w(v) * t
        dz = b.alt_m - a.alt_m
        if dz > 0:
            joules += max(0.0, power.climb_w - power.hover_w) * dz / climb_rate_mps
    return joules / 3600.0


def _timing(
    out: Sequence[RoutePoint],
    back: Sequence[RoutePoint],
    radius_m: float,
    orbit_alt_m: float,
    perf: DronePerformance,
    start_alt_m: float | None = None,
    arrival_radius_m: float | None = None,
) -> tuple[float, EnergyEstimate, tuple[Phase, ...], float]:
    """(ETA, energy, predicted phases, lower bound of the ETA) of the flight out and back.

    The ETA runs to the moment the tracker calls the flight on scene: within the orbit radius plus
    `ON_SCENE_MARGIN_M` of the scene, still at speed. The return is budgeted at the slower of the
    mission's return legs and PX4's RTL (MPC_XY_CRUISE), so either keeps the reserve.
    """
    limits = perf.limits
    power = PowerModel(
        perf.hover_power_w, perf.cruise_power_w, perf.cruise_speed_mps, perf.climb_power_w
    )
    v_out = perf.level_speed_mps
    arrival = radius_m + ON_SCENE_MARGIN_M if arrival_radius_m is None else arrival_radius_m
    origin = out[0].point
    pts = [_local(origin, p) for p in out]
    if start_alt_m is None:
        first_s = takeoff_s(pts[0].alt_m, limits)
        first_wh = first_s * power.climb_w / 3600.0
    else:
        dz = pts[0].alt_m - start_alt_m
        first_s = climb_s(dz, limits) if dz > 0 else descent_s(-dz, limits)
        first_wh = first_s * (power.climb_w if dz > 0 else power.hover_w) / 3600.0
    flown, cut = _trim_end(pts, arrival)
    transit_s, legs_s = path_s(
        flown, v_out, limits, acc_rad_m=ACCEPTANCE_RADIUS_M, stop_at_end=False
    )
    transit_wh = _path_wh(flown, legs_s, v_out, power, limits.z_v_auto_up_mps)
    # Past the on-scene line: brake to the scene, then out to the orbit and onto the circle.
    entry_s = level_leg_s(cut, v_out, v_out, 0.0, limits) + level_leg_s(
        radius_m, 0.0, ORBIT_SPEED_MPS, ORBIT_SPEED_MPS, limits
    )
    entry_wh = entry_s * power.level_w(ORBIT_SPEED_MPS) / 3600.0
    eta_s = first_s + transit_s
    # The bound: the launch and the take-off ramp, then the longer of the climb and the distance.
    total_h = sum(
        math.hypot(b.north_m - a.north_m, b.east_m - a.east_m)
        for a, b in zip(flown, flown[1:], strict=False)
    )
    climb_m = max(0.0, max(p.alt_m for p in pts) - (start_alt_m or 0.0))
    overhead_s = LAUNCH_S + limits.spoolup_s + limits.tko_ramp_s if start_alt_m is None else 0.0
    bound_s = overhead_s + max(climb_m / limits.z_v_auto_up_mps, total_h / v_out)

    # The way home: from the orbit altitude along the return legs, then the landing at the dock.
    v_back = min(v_out, perf.rtl_speed_mps)
    back_pts = [_local(origin, p) for p in back]
    back_pts[0] = Waypoint3D(back_pts[0].north_m, back_pts[0].east_m, orbit_alt_m)
    return_s, back_legs_s = path_s(back_pts, v_back, limits, acc_rad_m=ACCEPTANCE_RADIUS_M)
    # RTL from the orbit: brake and turn home first, and it may start across the circle.
    start_s = rtl_start_s(ORBIT_SPEED_MPS if radius_m > 0 else 0.0, limits) + radius_m / v_back
    return_s += start_s
    return_wh = (
        _path_wh(back_pts, back_legs_s, v_back, power, limits.z_v_auto_up_mps)
        + start_s * power.hover_w / 3600.0
    )
    landing = land_s(back_pts[-1].alt_m, limits)
    landing_wh = landing * power.hover_w / 3600.0
    scene_power_w = power.level_w(ORBIT_SPEED_MPS) if radius_m > 0 else power.hover_w
    phases = (
        Phase("takeoff", first_s, first_wh),
        Phase("transit", transit_s, transit_wh),
        Phase("return", return_s, return_wh),
        Phase("landing", landing, landing_wh),
    )
    energy = EnergyEstimate(
        first_wh + transit_wh + entry_wh, scene_power_w / 60.0, return_wh + landing_wh
    )
    return eta_s, energy, phases, bound_s


def _climbing_start(
    points: Sequence[RoutePoint],
    airspace: Airspace,
    perf: DronePerformance,
    now: datetime,
    notes: list[str],
) -> tuple[RoutePoint, ...]:
    """Take off to a safe height, then climb along the first leg instead of all the way up first.

    The climbing leg ends where the vehicle reaches the leg's altitude at MPC_Z_V_AUTO_UP while
    flying at its level speed; the legs are checked against ceilings and zones, and a route they
    would break keeps the vertical climb.
    """
    pts = tuple(points)
    safe_m = max(CLIMB_START_MIN_M, airspace.policy.min_safe_alt_agl_m)
    leg_alt = pts[0].alt.value_m
    if len(pts) < 2 or leg_alt <= safe_m + 1.0:
        return pts
    a, b = pts[0].point, pts[1].point
    leg_m = distance_m(a, b)
    climb_m = leg_alt - safe_m
    needed_m = perf.level_speed_mps * climb_m / perf.limits.z_v_auto_up_mps
    start = RoutePoint(a, Altitude(safe_m, AltitudeDatum.AGL))
    if needed_m < leg_m - ACCEPTANCE_RADIUS_M:
        top = RoutePoint(destination(a, bearing_deg(a, b), needed_m), pts[0].alt)
        candidate = (start, top, *pts[1:])
    else:
        candidate = (start, *pts[1:])
    if airspace.check_route(candidate, now):
        notes.append(
            "climbing to the cruise altitude in a vertical take-off: a climbing leg is not legal"
        )
        return pts
    return candidate


# -- vehicle fence ---------------------------------------------------------------------------------


def plan_fence_items(
    airspace: Airspace, now: datetime, route: Sequence[GeoPoint]
) -> tuple[MissionItem, ...]:
    """The fence a plan along `route` carries; with `[dock]`, the one a docked vehicle holds ahead
    of a launch (the same whenever every active zone fits in the fence)."""
    return fence_items(_fence_zones(airspace, now, route))


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
