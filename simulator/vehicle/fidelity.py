"""Fly the PX4 reference flights on one simulated drone with a stepped clock and time their phases.

The flights mirror what the service flew on PX4 SITL (SIH) for the reference traces: take off to
121.92 m, DO_CHANGE_SPEED 12 m/s, a straight leg to the scene, RTL as soon as the scene is reached.
No sockets: the drone is ticked directly, so a 10-minute flight takes about a second of CPU.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from .clock import SimClock
from .config import DroneConfig
from .drone import SimDrone
from .mission import Cmd, Item
from .modes import FlightMode
from .physics import PHYSICS_DT_S

ORBIT_ALT_M = 121.92  # 400 ft AGL, the plan's orbit altitude in the reference flights
CRUISE_REQUEST_MPS = 12.0  # the fleet's cruise speed the mission asked for with DO_CHANGE_SPEED
MISSION_AFTER_ARM_S = 0.45  # the service's MISSION_START followed arming by ~0.45 s on PX4
HOME = (38.8339, -104.7470, 1840.0)
_FRAME_GLOBAL_REL = 3
_MISSION_FRAME = 2


@dataclass(frozen=True, slots=True)
class ReferenceLeg:
    """One reference flight: where the scene is and where the service called it on scene."""

    name: str
    bearing_deg: float
    scene_m: float  # distance of the loiter item (orbit entry) from home
    on_scene_m: float  # distance from home at which the service reported on_scene


LEG_A = ReferenceLeg("a", 37.0, 383.0, 333.0)
LEG_B = ReferenceLeg("b", 0.0, 1452.0, 1401.6)


class SteppedClock(SimClock):
    """A SimClock whose time only moves when the flight loop says so."""

    def __init__(self) -> None:
        super().__init__(1.0, wall=lambda: 0.0)
        self.t_s = 0.0

    def now_s(self) -> float:
        return self.t_s


@dataclass(slots=True)
class FlightLog:
    """Phase instants (s since arming) and the sampled track of one flight."""

    events_s: dict[str, float] = field(default_factory=dict)
    track: list[tuple[float, float, float, float]] = field(default_factory=list)

    def phase_s(self, start: str, end: str) -> float:
        """Seconds from event `start` to event `end`."""
        return self.events_s[end] - self.events_s[start]


def _item(
    seq: int, cmd: Cmd, lat: float = 0.0, lon: float = 0.0, z: float = 0.0, **p: float
) -> Item:
    frame = _MISSION_FRAME if cmd == Cmd.DO_CHANGE_SPEED else _FRAME_GLOBAL_REL
    return Item(
        seq=seq,
        frame=frame,
        command=int(cmd),
        autocontinue=1,
        param1=p.get("param1", 0.0),
        param2=p.get("param2", 0.0),
        param3=p.get("param3", 0.0),
        param4=p.get("param4", math.nan),
        x=round(lat * 1e7),
        y=round(lon * 1e7),
        z=z,
        mission_type=0,
    )


def fly_reference(
    leg: ReferenceLeg, params: dict[str, float] | None = None, max_s: float = 1200.0
) -> FlightLog:
    """Fly `leg` out and home on a fresh drone; returns the phase instants and a 1 Hz track."""
    clock = SteppedClock()
    drone = SimDrone(
        DroneConfig(0, HOME[0], HOME[1], HOME[2], api_port=0, client_port=0, params=params or {}),
        clock,
    )
    b = math.radians(leg.bearing_deg)
    lat, lon = drone.frame.to_latlon(leg.scene_m * math.cos(b), leg.scene_m * math.sin(b))
    drone.plans.mission = [
        _item(0, Cmd.NAV_TAKEOFF, HOME[0], HOME[1], ORBIT_ALT_M),
        _item(1, Cmd.DO_CHANGE_SPEED, param1=1.0, param2=CRUISE_REQUEST_MPS, param3=-1.0),
        _item(2, Cmd.NAV_LOITER_UNLIM, lat, lon, ORBIT_ALT_M, param3=50.0),
    ]
    drone.mission_valid = True
    log = FlightLog()
    ev = log.events_s
    drone.arm(0.0, force=True, reason="reference flight")
    ev["armed"] = 0.0
    t, next_sample = 0.0, 0.0
    while t < max_s:
        t += PHYSICS_DT_S
        clock.t_s = t
        if "mission" not in ev and t >= MISSION_AFTER_ARM_S:
            drone.set_mode(FlightMode.MISSION, t)
            ev["mission"] = t
        drone.advance(t)
        s = drone.phys
        along = s.north_m * math.cos(b) + s.east_m * math.sin(b)
        height = s.up_m
        if t >= next_sample:
            log.track.append((t, s.north_m, s.east_m, height))
            next_sample += 1.0
        if "airborne" not in ev and height > 1.0:
            ev["airborne"] = t
        if "cruise_alt" not in ev and height >= ORBIT_ALT_M - 1.0:
            ev["cruise_alt"] = t
        if "on_scene" not in ev and along >= leg.on_scene_m:
            ev["on_scene"] = t
            drone.set_mode(FlightMode.RTL, t)
        if "on_scene" in ev and "over_home" not in ev and math.hypot(s.north_m, s.east_m) <= 5.0:
            ev["over_home"] = t
        if "over_home" in ev:
            if "at_10m" not in ev and height <= 10.0:
                ev["at_10m"] = t
            if "at_5m" not in ev and height <= 5.0:
                ev["at_5m"] = t
            if "touchdown" not in ev and s.on_ground:
                ev["touchdown"] = t
            if "on_ground" not in ev and s.on_ground and drone.land_detected:
                ev["on_ground"] = t
            if not drone.armed:
                ev["disarmed"] = t
                break
    return log
