"""PX4 commander's failsafes (GPS loss, data link loss, geofence, battery) and the GPS-loss fault.

Each check runs every physics step. A triggered failsafe announces itself and either acts now
(hold, terminate, disarm, or when on the ground) or holds for COM_FAIL_ACT_T first, as PX4 does,
so the user may take over before the action.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Protocol

from . import physics
from .fence import FenceShape, inside_fence
from .modes import FlightMode
from .view import SEVERITY_CRITICAL, SEVERITY_INFO, SEVERITY_WARNING, DroneView

GPS_LOSS_FAILSAFE_S = 1.0
# NAV_DLL_ACT and GF_ACTION values -> failsafe action (GF_ACTION 1 only warns).
_DATALINK_ACTIONS = {1: "hold", 2: "rtl", 3: "land", 5: "terminate", 6: "disarm"}
_FENCE_ACTIONS = {1: None, 2: "hold", 3: "rtl", 4: "terminate", 5: "land"}


class FailsafeHost(DroneView, Protocol):
    """The drone as its failsafes see it: arming state, home, airframe and fence."""

    armed: bool
    terminated: bool
    home: tuple[float, float, float] | None
    airframe: physics.Airframe
    fence_shapes: list[FenceShape]


class Failsafes:
    """Failsafe state of one drone; `now_s` is the simulation clock (faults are timed on it)."""

    def __init__(self, drone: FailsafeHost, now_s: Callable[[], float]) -> None:
        self._d = drone
        self._now_s = now_s
        self.gcs_seen_s: float | None = None
        self.dll_lost = False
        self.fence_breached = False
        self.pending: tuple[str, float] | None = None
        self.battery_level = 0  # 0 ok, 1 low, 2 critical, 3 emergency
        self._gps_lost_until_s = -1.0
        self._gps_lost_since_s: float | None = None

    @property
    def active(self) -> bool:
        """A failsafe is pending or its cause persists (HEARTBEAT reports MAV_STATE_CRITICAL)."""
        return bool(self.pending or self.dll_lost or self.fence_breached)

    def lose_gps(self, duration_s: float) -> None:
        """Fault: no GPS fix for `duration_s` simulated seconds."""
        self._gps_lost_until_s = self._now_s() + duration_s

    def gps_ok(self) -> bool:
        """Whether GPS has a 3D fix (no GPS-loss fault)."""
        return self._now_s() >= self._gps_lost_until_s

    def gcs_connected(self, now_s: float) -> bool:
        """A GCS heartbeat within COM_DL_LOSS_T."""
        return (
            self.gcs_seen_s is not None
            and now_s - self.gcs_seen_s <= self._d.params["COM_DL_LOSS_T"]
        )

    def in_air(self) -> bool:
        """Armed and off the ground."""
        return self._d.armed and not self._d.phys.on_ground

    def check(self, now_s: float) -> None:
        """Run every check, then a held failsafe action whose time has come."""
        self._check_gps(now_s)
        self._check_datalink(now_s)
        self._check_fence(now_s)
        self._check_battery(now_s)
        if self.pending is not None and now_s >= self.pending[1]:
            action = self.pending[0]
            self.pending = None
            self.apply_action(action, now_s)

    def apply_action(self, action: str, now_s: float) -> None:
        """Do a failsafe action now (only while armed)."""
        d = self._d
        if not d.armed:
            return
        if action == "hold":
            d.set_mode(FlightMode.LOITER, now_s)
        elif action == "rtl":
            if d.home is not None and self.gps_ok():
                d.set_mode(FlightMode.RTL, now_s)
            else:
                d.set_mode(FlightMode.LAND, now_s)
        elif action == "land":
            d.set_mode(FlightMode.LAND, now_s)
        elif action == "terminate":
            d.terminated = True
            d.announce(SEVERITY_CRITICAL, "Flight termination active")
        elif action == "disarm":
            d.armed = False
            d.announce(SEVERITY_CRITICAL, "Disarmed by failsafe")

    def _schedule(self, action: str, now_s: float, text: str) -> None:
        delay = self._d.params["COM_FAIL_ACT_T"]
        self._d.announce(SEVERITY_CRITICAL, text)
        if action in ("hold", "terminate", "disarm") or delay <= 0 or not self.in_air():
            self.apply_action(action, now_s)
            return
        self._d.set_mode(FlightMode.LOITER, now_s)
        self.pending = (action, now_s + delay)

    def _check_gps(self, now_s: float) -> None:
        if self.gps_ok():
            self._gps_lost_since_s = None
            return
        if self._gps_lost_since_s is None:
            self._gps_lost_since_s = now_s
            self._d.announce(SEVERITY_CRITICAL, "GPS signal lost")
        elif (
            now_s - self._gps_lost_since_s >= GPS_LOSS_FAILSAFE_S
            and self.in_air()
            and self._d.mode is not FlightMode.LAND
        ):
            self._d.announce(
                SEVERITY_CRITICAL, "Failsafe activated: no global position, descending"
            )
            self._d.set_mode(FlightMode.LAND, now_s)

    def _check_datalink(self, now_s: float) -> None:
        if self.gcs_seen_s is None:
            return
        lost = not self.gcs_connected(now_s)
        if lost and not self.dll_lost:
            self.dll_lost = True
            self._d.announce(SEVERITY_CRITICAL, "Connection to ground station lost")
            action = _DATALINK_ACTIONS.get(int(self._d.params["NAV_DLL_ACT"]))
            if action is not None and self.in_air():
                self._schedule(
                    action, now_s, f"Failsafe activated: data link lost, {action.upper()}"
                )
        elif not lost and self.dll_lost:
            self.dll_lost = False
            self._d.announce(SEVERITY_INFO, "Data link regained")

    def fence_violation(self) -> str | None:
        """Which geofence the drone is outside of now, if any."""
        d = self._d
        s = d.phys
        hn, he, hup = d.home_local()
        max_h, max_v = d.params["GF_MAX_HOR_DIST"], d.params["GF_MAX_VER_DIST"]
        if max_h > 0 and math.hypot(s.north_m - hn, s.east_m - he) > max_h:
            return "Geofence: exceeding maximum distance to Home"
        if max_v > 0 and s.up_m - hup > max_v:
            return "Geofence: exceeding maximum altitude above Home"
        if d.fence_shapes and not inside_fence(d.fence_shapes, s.north_m, s.east_m):
            return "Geofence: approaching or outside geofence"
        return None

    def _check_fence(self, now_s: float) -> None:
        violation = self.fence_violation() if self.in_air() else None
        if violation is None:
            self.fence_breached = False
            return
        if self.fence_breached:
            return
        self.fence_breached = True
        gf_action = int(self._d.params["GF_ACTION"])
        if gf_action == 0:
            return
        action = _FENCE_ACTIONS.get(gf_action)
        if action is None:
            self._d.announce(SEVERITY_WARNING, violation)
        else:
            self._schedule(action, now_s, violation)

    def _check_battery(self, now_s: float) -> None:
        frac = physics.battery_fraction(self._d.phys, self._d.airframe)
        p = self._d.params
        level = (
            3
            if frac <= p["BAT_EMERGEN_THR"]
            else 2
            if frac <= p["BAT_CRIT_THR"]
            else 1
            if frac <= p["BAT_LOW_THR"]
            else 0
        )
        if level <= self.battery_level:
            if level < self.battery_level and level == 0:
                self.battery_level = 0
            return
        self.battery_level = level
        act = int(p["COM_LOW_BAT_ACT"])
        if level == 1:
            self._d.announce(SEVERITY_WARNING, "Low battery level! Return advised")
            return
        action: str | None = None
        if level == 2:
            action = {2: "land", 3: "rtl"}.get(act)
            text = "Critical battery level!"
        else:
            action = "land" if act in (2, 3) else None
            text = (
                "Emergency battery level! Landing immediately"
                if action
                else "Emergency battery level!"
            )
        if action is None or not self.in_air():
            self._d.announce(SEVERITY_CRITICAL, text)
            return
        if action == "land":
            self._d.announce(SEVERITY_CRITICAL, text + " Landing")
            self._d.set_mode(FlightMode.LAND, now_s)
        else:
            self._schedule(action, now_s, text + " Returning")
