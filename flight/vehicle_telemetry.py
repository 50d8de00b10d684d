"""The vehicle's reported state, accumulated from its MAVLink telemetry.

A value outside its range (a latitude beyond 90 degrees, a NaN speed, a battery over 100 %) is
dropped and counted in `invalid_reports`; a value that contradicts what the vehicle just reported
(see flight/contradiction.py) is held back and reported as a CONTRADICTION event.
"""

from __future__ import annotations

import math
import time
from collections import deque
from datetime import datetime
from typing import Any, Protocol

from flight import mavlink_wire as wire
from flight.contradiction import (
    Contradiction,
    ContradictionKind,
    PlausibilityGate,
    PlausibilityLimits,
)
from flight.fanout import VehicleEventSource
from flight.models import (
    FlightMode,
    LandedState,
    LinkState,
    VehicleEventKind,
    VehicleId,
    VehicleState,
    decode_px4_mode,
)
from geofence import GeoPoint

#: Altitudes (AMSL) a report may hold: from the Dead Sea shore's depth to far above any ceiling.
_ALT_RANGE_M = (-1_000.0, 20_000.0)
_MAX_GROUND_SPEED_MPS = 200.0
_IN_AIR = frozenset({LandedState.IN_AIR, LandedState.TAKEOFF, LandedState.LANDING})


class PublishState(Protocol):
    """Hands the vehicle's state to the link's subscribers (rate-limited unless forced)."""

    def __call__(self, *, force: bool = False) -> None:
        """Publish a fresh snapshot."""
        ...


class VehicleTelemetry:
    """Position, battery, mode, mission progress and STATUSTEXTs as the vehicle last reported them."""

    def __init__(
        self,
        emit: VehicleEventSource,
        publish: PublishState,
        *,
        limits: PlausibilityLimits | None = None,
    ) -> None:
        # Changes a reader must not miss (mode, armed, landed state, mission progress) are events
        # and published at once; position updates are published at the link's state rate.
        self._emit = emit
        self._publish = publish
        self._clock = emit.clock
        self.gate = PlausibilityGate(self._on_contradiction, limits or PlausibilityLimits())
        self.invalid_reports = 0
        self.position: GeoPoint | None = None
        self.alt_amsl_m: float | None = None
        self.alt_rel_m: float | None = None
        self.heading_deg: float | None = None
        self.ground_speed_mps: float | None = None
        self.climb_mps: float | None = None
        self.battery_pct: float | None = None
        self.battery_v: float | None = None
        self._have_battery_status = False
        self.mode = FlightMode.UNKNOWN
        self.armed = False
        self.landed = LandedState.UNDEFINED
        self.gps_fix: int | None = None
        self.gps_sats: int | None = None
        self.mission_seq: int | None = None
        self.mission_total: int | None = None
        self.mission_state: int | None = None
        self.mission_reached: int | None = None
        self.home: GeoPoint | None = None
        self.home_alt_amsl_m: float | None = None
        self.system_status: int | None = None
        #: From GIMBAL_DEVICE_ATTITUDE_STATUS; None while no gimbal has reported.
        self.gimbal_pitch_deg: float | None = None
        #: (real monotonic time, severity, text) of the latest STATUSTEXTs.
        self.statustexts: deque[tuple[float, int, str]] = deque(maxlen=32)

    @property
    def held_reports(self) -> int:
        """Reports held back so far because they contradicted the vehicle's state."""
        return sum(self.gate.held(kind) for kind in ContradictionKind)

    def _on_contradiction(self, found: Contradiction) -> None:
        self._emit(
            VehicleEventKind.CONTRADICTION,
            f"{found.detail}; held back until the vehicle confirms it ({found.held} held so far)",
            extra={"check": str(found.kind), "held": str(found.held)},
        )

    def _airborne(self) -> bool:
        return self.landed in _IN_AIR or (
            self.alt_rel_m is not None and self.alt_rel_m > self.gate.limits.airborne_alt_m
        )

    def texts_since(self, t0: float) -> str:
        """The STATUSTEXTs received since real monotonic time `t0`, joined."""
        return "; ".join(text for t, _sev, text in self.statustexts if t >= t0)

    def on_heartbeat(self, msg: Any) -> bool:
        """Take the autopilot's HEARTBEAT; True if mode or armed state changed."""
        self.system_status = int(msg.system_status)
        mode = (
            decode_px4_mode(int(msg.custom_mode))
            if msg.base_mode & wire.MODE_FLAG_CUSTOM
            else self.mode
        )
        armed = self.gate.armed(
            bool(msg.base_mode & wire.MODE_FLAG_ARMED),
            self.armed,
            self._clock.monotonic(),
            airborne=self._airborne(),
        )
        changed = False
        if mode != self.mode:
            old = self.mode
            self.mode = mode
            self._emit(VehicleEventKind.MODE, f"{old} -> {mode}", value=int(msg.custom_mode))
            changed = True
        if armed != self.armed:
            self.armed = armed
            self._emit(VehicleEventKind.ARMED if armed else VehicleEventKind.DISARMED, "")
            changed = True
        return changed

    def handle(self, msg: Any) -> None:
        """Take one telemetry message (any id; those that carry no state are ignored)."""
        mid = msg.get_msgId()
        if mid == wire.GLOBAL_POSITION_INT:
            self._on_global_position(msg)
        elif mid == wire.VFR_HUD:
            speed_mps = float(msg.groundspeed)
            if 0.0 <= speed_mps <= _MAX_GROUND_SPEED_MPS:  # False for NaN too
                self.ground_speed_mps = speed_mps
            else:
                self.invalid_reports += 1
        elif mid == wire.GPS_RAW_INT:
            self.gps_fix = int(msg.fix_type)
            self.gps_sats = None if msg.satellites_visible == 255 else int(msg.satellites_visible)
        elif mid == wire.SYS_STATUS:
            if self._have_battery_status:
                return
            if msg.battery_remaining >= 0 and not self._on_battery_pct(int(msg.battery_remaining)):
                return
            if msg.voltage_battery not in (0, 65535):
                self.battery_v = msg.voltage_battery / 1000.0
        elif mid == wire.BATTERY_STATUS:
            if msg.battery_remaining >= 0 and not self._on_battery_pct(int(msg.battery_remaining)):
                return  # held back or invalid: its voltages are not believed either
            self._have_battery_status = True
            cells = [v for v in msg.voltages if v not in (65535, 0)]
            if cells:
                # PX4 puts the pack voltage in voltages[0] when it has no per-cell values.
                self.battery_v = sum(cells) / 1000.0
        elif mid == wire.EXTENDED_SYS_STATE:
            self._on_landed_state(msg)
        elif mid == wire.HOME_POSITION:
            home = _point_e7(msg.latitude, msg.longitude)
            alt_m = msg.altitude / 1000.0
            if home is None or not _ALT_RANGE_M[0] <= alt_m <= _ALT_RANGE_M[1]:
                self.invalid_reports += 1
                return
            self.home = home
            self.home_alt_amsl_m = alt_m
        elif mid == wire.MISSION_CURRENT:
            self._on_mission_current(msg)
        elif mid == wire.MISSION_ITEM_REACHED:
            seq = int(msg.seq)
            if seq != self.mission_reached:  # PX4 repeats it 10 times
                self.mission_reached = seq
                self._emit(VehicleEventKind.MISSION_ITEM_REACHED, f"reached {seq}", value=seq)
                self._publish(force=True)
        elif mid == wire.GIMBAL_DEVICE_ATTITUDE_STATUS:
            self._on_gimbal_attitude(msg)
        elif mid == wire.STATUSTEXT:
            text = msg.text.rstrip("\t\x00 ") if isinstance(msg.text, str) else str(msg.text)
            self.statustexts.append((time.monotonic(), int(msg.severity), text))
            self._emit(VehicleEventKind.STATUSTEXT, text, severity=int(msg.severity))

    def _on_gimbal_attitude(self, msg: Any) -> None:
        w, x, y, z = (float(v) for v in msg.q)
        sin_pitch = 2.0 * (w * y - z * x)
        if not math.isfinite(sin_pitch) or abs(w * w + x * x + y * y + z * z - 1.0) > 0.05:
            self.invalid_reports += 1
            return
        self.gimbal_pitch_deg = math.degrees(math.asin(max(-1.0, min(1.0, sin_pitch))))

    def _on_global_position(self, msg: Any) -> None:
        alt_m = msg.alt / 1000.0
        point = _point_e7(msg.lat, msg.lon)
        if (
            (point is None and (msg.lat != 0 or msg.lon != 0))
            or not _ALT_RANGE_M[0] <= alt_m <= _ALT_RANGE_M[1]
            or abs(msg.relative_alt / 1000.0) > _ALT_RANGE_M[1]
        ):
            self.invalid_reports += 1
            return
        if point is not None:  # lat = lon = 0: no fix yet (PX4 sends zeros)
            boot_s = msg.time_boot_ms / 1000.0
            if not self.gate.position(point, alt_m, self._clock.monotonic(), boot_s=boot_s):
                return
            self.position = point
        self.alt_amsl_m = alt_m
        self.alt_rel_m = msg.relative_alt / 1000.0
        if msg.hdg != 65535:
            self.heading_deg = (msg.hdg % 36000) / 100.0
        self.ground_speed_mps = math.hypot(msg.vx, msg.vy) / 100.0
        self.climb_mps = -msg.vz / 100.0
        self._publish()

    def _on_battery_pct(self, pct: int) -> bool:
        """Apply a remaining charge; False if it is out of range or held back."""
        if pct > 100:
            self.invalid_reports += 1
            return False
        in_use = self.armed or self._airborne()
        if not self.gate.battery_pct(float(pct), self._clock.monotonic(), in_use=in_use):
            return False
        self.battery_pct = float(pct)
        return True

    def _on_landed_state(self, msg: Any) -> None:
        landed = LandedState(msg.landed_state) if msg.landed_state <= 4 else LandedState.UNDEFINED
        if landed != self.landed:
            self.landed = landed
            self._emit(VehicleEventKind.LANDED_STATE, landed.name, value=int(landed))
            self._publish(force=True)

    def _on_mission_current(self, msg: Any) -> None:
        seq = int(msg.seq)
        total = int(getattr(msg, "total", 0))
        state = int(getattr(msg, "mission_state", 0))
        changed = seq != self.mission_seq or state != (self.mission_state or 0)
        self.mission_seq = seq
        self.mission_total = None if total in (0, 65535) else total
        self.mission_state = state or None
        if changed:
            self._emit(VehicleEventKind.MISSION_CURRENT, f"seq {seq} state {state}", value=seq)
            self._publish(force=True)

    def snapshot(
        self,
        vehicle_id: VehicleId,
        now: datetime,
        link: LinkState,
        *,
        last_seen: datetime | None,
        packet_loss_pct: float,
        rtt_ms: float | None,
    ) -> VehicleState:
        """This telemetry as a `VehicleState`, with the link's own figures."""
        return VehicleState(
            vehicle_id=vehicle_id,
            time=now,
            available=link in (LinkState.CONNECTED, LinkState.DEGRADED),
            last_seen=last_seen,
            link=link,
            position=self.position,
            alt_amsl_m=self.alt_amsl_m,
            alt_agl_m=self.alt_rel_m,
            heading_deg=self.heading_deg,
            ground_speed_mps=self.ground_speed_mps,
            climb_rate_mps=self.climb_mps,
            battery_pct=self.battery_pct,
            battery_voltage_v=self.battery_v,
            mode=self.mode,
            armed=self.armed,
            landed_state=self.landed,
            gps_fix_type=self.gps_fix,
            gps_satellites=self.gps_sats,
            packet_loss_pct=packet_loss_pct,
            rtt_ms=rtt_ms,
            mission_current_seq=self.mission_seq,
            mission_total=self.mission_total,
            mission_state=self.mission_state,
            mission_reached_seq=self.mission_reached,
            home=self.home,
            home_alt_amsl_m=self.home_alt_amsl_m,
            system_status=self.system_status,
            gimbal_pitch_deg=self.gimbal_pitch_deg,
        )


def _point_e7(lat_e7: int, lon_e7: int) -> GeoPoint | None:
    """The point of MAVLink 1e-7 degree integers, or None for (0, 0) and out-of-range values."""
    lat_deg, lon_deg = lat_e7 / 1e7, lon_e7 / 1e7
    if (lat_e7 == 0 and lon_e7 == 0) or not (
        -90.0 <= lat_deg <= 90.0 and -180.0 <= lon_deg <= 180.0
    ):
        return None
    return GeoPoint(lat_deg, lon_deg)
