"""Vehicle-side values the link produces: ids, link health, normalised state, events."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import IntEnum, StrEnum
from typing import NewType

from geofence import GeoPoint

VehicleId = NewType("VehicleId", str)


class LinkState(StrEnum):
    """Health of one vehicle's MAVLink link."""

    CONNECTING = "connecting"  # opened, no heartbeat yet
    CONNECTED = "connected"
    DEGRADED = "degraded"  # heartbeats late or packet loss high
    LOST = "lost"  # no heartbeat within the watchdog time
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class LinkHealth:
    """Link quality figures for one vehicle."""

    state: LinkState
    last_heard: datetime | None
    heartbeat_age_s: float | None
    packet_loss_pct: float
    rtt_ms: float | None
    messages_received: int
    bad_frames: int


class FlightMode(StrEnum):
    """PX4 flight mode, decoded from HEARTBEAT.custom_mode (main_mode << 16 | sub_mode << 24)."""

    MANUAL = "MANUAL"
    ALTCTL = "ALTCTL"
    POSCTL = "POSCTL"
    ORBIT = "ORBIT"
    READY = "AUTO.READY"
    TAKEOFF = "AUTO.TAKEOFF"
    HOLD = "AUTO.LOITER"
    MISSION = "AUTO.MISSION"
    RTL = "AUTO.RTL"
    LAND = "AUTO.LAND"
    FOLLOW_TARGET = "AUTO.FOLLOW_TARGET"
    PRECLAND = "AUTO.PRECLAND"
    ACRO = "ACRO"
    OFFBOARD = "OFFBOARD"
    STABILIZED = "STABILIZED"
    TERMINATION = "TERMINATION"
    UNKNOWN = "UNKNOWN"


# (main_mode, sub_mode) -> mode; px4_custom_mode.h
_PX4_MODES: dict[tuple[int, int], FlightMode] = {
    (1, 0): FlightMode.MANUAL,
    (2, 0): FlightMode.ALTCTL,
    (3, 0): FlightMode.POSCTL,
    (3, 1): FlightMode.ORBIT,
    (4, 1): FlightMode.READY,
    (4, 2): FlightMode.TAKEOFF,
    (4, 3): FlightMode.HOLD,
    (4, 4): FlightMode.MISSION,
    (4, 5): FlightMode.RTL,
    (4, 6): FlightMode.LAND,
    (4, 8): FlightMode.FOLLOW_TARGET,
    (4, 9): FlightMode.PRECLAND,
    (5, 0): FlightMode.ACRO,
    (6, 0): FlightMode.OFFBOARD,
    (7, 0): FlightMode.STABILIZED,
    (10, 0): FlightMode.TERMINATION,
}
_PX4_MODE_CODES: dict[FlightMode, tuple[int, int]] = {v: k for k, v in _PX4_MODES.items()}


def decode_px4_mode(custom_mode: int) -> FlightMode:
    """PX4 mode from a HEARTBEAT custom_mode."""
    main = (custom_mode >> 16) & 0xFF
    sub = (custom_mode >> 24) & 0xFF
    mode = _PX4_MODES.get((main, sub))
    if mode is None and main != 4:
        mode = _PX4_MODES.get((main, 0))  # a sub mode we do not know of a non-AUTO main mode
    return mode if mode is not None else FlightMode.UNKNOWN


def px4_mode_code(mode: FlightMode) -> tuple[int, int]:
    """(main_mode, sub_mode) to send in DO_SET_MODE for `mode`."""
    return _PX4_MODE_CODES[mode]


class LandedState(IntEnum):
    """MAV_LANDED_STATE from EXTENDED_SYS_STATE."""

    UNDEFINED = 0
    ON_GROUND = 1
    IN_AIR = 2
    TAKEOFF = 3
    LANDING = 4


@dataclass(frozen=True, slots=True)
class VehicleState:
    """One normalised snapshot of a vehicle. A field that is not known (yet) is None."""

    vehicle_id: VehicleId
    time: datetime
    available: bool  # False while the link is lost; fields then hold the last known values
    last_seen: datetime | None
    link: LinkState
    position: GeoPoint | None = None
    alt_amsl_m: float | None = None
    alt_agl_m: float | None = None  # above home (PX4's relative_alt); no terrain model
    heading_deg: float | None = None
    ground_speed_mps: float | None = None
    climb_rate_mps: float | None = None
    battery_pct: float | None = None
    battery_voltage_v: float | None = None
    mode: FlightMode = FlightMode.UNKNOWN
    armed: bool = False
    landed_state: LandedState = LandedState.UNDEFINED
    gps_fix_type: int | None = None
    gps_satellites: int | None = None
    packet_loss_pct: float = 0.0
    rtt_ms: float | None = None
    mission_current_seq: int | None = None
    mission_total: int | None = None
    mission_state: int | None = (
        None  # MISSION_STATE: 1 none, 2 not started, 3 active, 4 paused, 5 complete
    )
    mission_reached_seq: int | None = None
    home: GeoPoint | None = None
    home_alt_amsl_m: float | None = None
    system_status: int | None = None
    gimbal_pitch_deg: float | None = None  # 0 horizon, -90 down; None: no gimbal reported

    @property
    def in_air(self) -> bool:
        """True if the vehicle reports itself airborne (taking off, flying or landing)."""
        return self.landed_state in (LandedState.IN_AIR, LandedState.TAKEOFF, LandedState.LANDING)


class VehicleEventKind(StrEnum):
    """What a `VehicleEvent` reports."""

    LINK = "link"  # link state changed
    MODE = "mode"
    ARMED = "armed"
    DISARMED = "disarmed"
    LANDED_STATE = "landed_state"
    STATUSTEXT = "statustext"
    MISSION_CURRENT = "mission_current"
    MISSION_ITEM_REACHED = "mission_item_reached"
    COMMAND = "command"  # a command we sent and its outcome
    CONTRADICTION = "contradiction"  # a report held back: it contradicts what the vehicle just said


@dataclass(frozen=True, slots=True)
class VehicleEvent:
    """Something that happened on one vehicle's link, with the time we learned it."""

    vehicle_id: VehicleId
    time: datetime
    kind: VehicleEventKind
    detail: str
    severity: int | None = None  # MAV_SEVERITY for STATUSTEXT
    value: int | None = None  # mode code, seq, landed state …
    extra: dict[str, str] = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True, slots=True)
class SafetyConfig:
    """Failsafe parameters the agency requires on every vehicle before arming (PX4 names)."""

    nav_dll_act: int = 2  # data-link loss action: 2 Return (PX4 ships 0 = disabled)
    com_dl_loss_t_s: int = 10  # data-link loss timeout, s (PX4 range 5-300)
    gf_action: int = 3  # geofence breach: 3 Return
    rtl_return_alt_m: float = 60.0
    com_low_bat_act: int = 3  # 3: Return at critical, Land at emergency
    #: MPC_XY_CRUISE: PX4's RTL flies home at it (not at the mission's DO_CHANGE_SPEED), so it is
    #: set to the speed the plan budgets the way home at; None leaves the vehicle's own.
    xy_cruise_mps: float | None = None

    def params(self) -> dict[str, int | float]:
        """Parameter name -> value; ints are sent as INT32, floats as REAL32."""
        params: dict[str, int | float] = {
            "NAV_DLL_ACT": int(self.nav_dll_act),
            "COM_DL_LOSS_T": int(self.com_dl_loss_t_s),
            "GF_ACTION": int(self.gf_action),
            "RTL_RETURN_ALT": float(self.rtl_return_alt_m),
            "COM_LOW_BAT_ACT": int(self.com_low_bat_act),
        }
        if self.xy_cruise_mps is not None:
            params["MPC_XY_CRUISE"] = float(self.xy_cruise_mps)
        return params


@dataclass(frozen=True, slots=True)
class CommandAck:
    """A command the vehicle accepted: which command, after how many sends, and the round trip."""

    vehicle_id: VehicleId
    command: str
    result: int  # MAV_RESULT (0 ACCEPTED)
    attempts: int
    rtt_ms: float
