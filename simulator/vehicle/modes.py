"""PX4 flight modes and their HEARTBEAT encoding (px4_custom_mode.h)."""

from __future__ import annotations

from enum import IntEnum

# MAV_MODE_FLAG bits PX4 sets in HEARTBEAT.base_mode.
MODE_FLAG_CUSTOM_MODE_ENABLED = 1
MODE_FLAG_AUTO_ENABLED = 4
MODE_FLAG_GUIDED_ENABLED = 8
MODE_FLAG_STABILIZE_ENABLED = 16
MODE_FLAG_MANUAL_INPUT_ENABLED = 64
MODE_FLAG_SAFETY_ARMED = 128


class MainMode(IntEnum):
    """PX4_CUSTOM_MAIN_MODE."""

    MANUAL = 1
    ALTCTL = 2
    POSCTL = 3
    AUTO = 4
    ACRO = 5
    OFFBOARD = 6
    STABILIZED = 7


class AutoSubMode(IntEnum):
    """PX4_CUSTOM_SUB_MODE_AUTO."""

    READY = 1
    TAKEOFF = 2
    LOITER = 3
    MISSION = 4
    RTL = 5
    LAND = 6
    FOLLOW_TARGET = 8
    PRECLAND = 9


POSCTL_SUB_ORBIT = 1


class FlightMode(IntEnum):
    """The navigation states this vehicle flies (a subset of PX4's vehicle_status.nav_state)."""

    MANUAL = 0
    ALTCTL = 1
    POSCTL = 2
    MISSION = 3
    LOITER = 4
    RTL = 5
    LAND = 6
    TAKEOFF = 7
    OFFBOARD = 8
    ORBIT = 9
    READY = 10
    STABILIZED = 11
    ACRO = 12


_ENCODING: dict[FlightMode, tuple[int, int]] = {
    FlightMode.MANUAL: (MainMode.MANUAL, 0),
    FlightMode.ALTCTL: (MainMode.ALTCTL, 0),
    FlightMode.POSCTL: (MainMode.POSCTL, 0),
    FlightMode.ORBIT: (MainMode.POSCTL, POSCTL_SUB_ORBIT),
    FlightMode.READY: (MainMode.AUTO, AutoSubMode.READY),
    FlightMode.TAKEOFF: (MainMode.AUTO, AutoSubMode.TAKEOFF),
    FlightMode.LOITER: (MainMode.AUTO, AutoSubMode.LOITER),
    FlightMode.MISSION: (MainMode.AUTO, AutoSubMode.MISSION),
    FlightMode.RTL: (MainMode.AUTO, AutoSubMode.RTL),
    FlightMode.LAND: (MainMode.AUTO, AutoSubMode.LAND),
    FlightMode.ACRO: (MainMode.ACRO, 0),
    FlightMode.OFFBOARD: (MainMode.OFFBOARD, 0),
    FlightMode.STABILIZED: (MainMode.STABILIZED, 0),
}

_AUTO_MODES = {
    FlightMode.READY,
    FlightMode.TAKEOFF,
    FlightMode.LOITER,
    FlightMode.MISSION,
    FlightMode.RTL,
    FlightMode.LAND,
}


def custom_mode(mode: FlightMode) -> int:
    """HEARTBEAT.custom_mode for `mode`: main mode in byte 2, sub mode in byte 3."""
    main, sub = _ENCODING[mode]
    return (main << 16) | (sub << 24)


def base_mode(mode: FlightMode, armed: bool) -> int:
    """HEARTBEAT.base_mode flags as PX4's HEARTBEAT stream sets them."""
    flags = MODE_FLAG_CUSTOM_MODE_ENABLED
    if armed:
        flags |= MODE_FLAG_SAFETY_ARMED
    if mode in _AUTO_MODES:
        flags |= MODE_FLAG_AUTO_ENABLED | MODE_FLAG_STABILIZE_ENABLED | MODE_FLAG_GUIDED_ENABLED
    elif mode in (FlightMode.POSCTL, FlightMode.ORBIT, FlightMode.OFFBOARD):
        flags |= MODE_FLAG_STABILIZE_ENABLED | MODE_FLAG_GUIDED_ENABLED
        if mode is not FlightMode.OFFBOARD:
            flags |= MODE_FLAG_MANUAL_INPUT_ENABLED
    elif mode in (FlightMode.ALTCTL, FlightMode.STABILIZED):
        flags |= MODE_FLAG_STABILIZE_ENABLED | MODE_FLAG_MANUAL_INPUT_ENABLED
    else:
        flags |= MODE_FLAG_MANUAL_INPUT_ENABLED
    return flags


def decode_custom_mode(main: int, sub: int) -> FlightMode | None:
    """The mode DO_SET_MODE asks for with main/sub, or None if PX4 has no such mode.

    AUTO with sub 0 means MISSION, as in PX4's Commander.
    """
    if main == MainMode.AUTO and sub == 0:
        return FlightMode.MISSION
    if main != MainMode.AUTO and main != MainMode.POSCTL:
        sub = 0
    for mode, (m, s) in _ENCODING.items():
        if m == main and s == sub:
            return mode
    return None
