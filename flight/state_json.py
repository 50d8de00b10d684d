"""VehicleState as compact JSON bytes and back, exactly (for telling other instances of a vehicle).

Times are ISO 8601 with their offset, enums their values, positions `[lat_deg, lon_deg]`, unknown
fields `null`. Decoding refuses (ValueError) what is not the JSON of a VehicleState.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import fields
from datetime import datetime
from enum import Enum

from flight.models import FlightMode, LandedState, LinkState, VehicleId, VehicleState
from geofence import GeofenceError, GeoPoint


def _encode(value: object) -> object:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, GeoPoint):
        return [value.lat_deg, value.lon_deg]
    if isinstance(value, Enum):
        return value.value
    return value


def vehicle_state_to_json(state: VehicleState) -> bytes:
    """The compact JSON of `state`, every field included."""
    out = {spec.name: _encode(getattr(state, spec.name)) for spec in fields(VehicleState)}
    return json.dumps(out, separators=(",", ":")).encode()


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected a string, got {value!r}")
    return value


def _time(value: object) -> datetime:
    return datetime.fromisoformat(_text(value))


def _point(value: object) -> GeoPoint:
    if not (isinstance(value, list) and len(value) == 2):
        raise ValueError(f"expected [lat_deg, lon_deg], got {value!r}")
    return GeoPoint(_number(value[0]), _number(value[1]))


def _number(value: object) -> float:
    # bool is an int to Python, never a measurement here; NaN and infinities are no measurement
    # either (Python's json reads them although JSON has none).
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"expected a finite number, got {value!r}")
    return value


def _integer(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"expected an integer, got {value!r}")
    return value


def _flag(value: object) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"expected true or false, got {value!r}")
    return value


def _optional(decode: Callable[[object], object]) -> Callable[[object], object]:
    return lambda value: None if value is None else decode(value)


_opt_number = _optional(_number)
_opt_integer = _optional(_integer)

#: How each field of VehicleState is read back; a test checks it names every field.
DECODERS: dict[str, Callable[[object], object]] = {
    "vehicle_id": lambda value: VehicleId(_text(value)),
    "time": _time,
    "available": _flag,
    "last_seen": _optional(_time),
    "link": lambda value: LinkState(_text(value)),
    "position": _optional(_point),
    "alt_amsl_m": _opt_number,
    "alt_agl_m": _opt_number,
    "heading_deg": _opt_number,
    "ground_speed_mps": _opt_number,
    "climb_rate_mps": _opt_number,
    "battery_pct": _opt_number,
    "battery_voltage_v": _opt_number,
    "mode": lambda value: FlightMode(_text(value)),
    "armed": _flag,
    "landed_state": lambda value: LandedState(_integer(value)),
    "gps_fix_type": _opt_integer,
    "gps_satellites": _opt_integer,
    "packet_loss_pct": _number,
    "rtt_ms": _opt_number,
    "mission_current_seq": _opt_integer,
    "mission_total": _opt_integer,
    "mission_state": _opt_integer,
    "mission_reached_seq": _opt_integer,
    "home": _optional(_point),
    "home_alt_amsl_m": _opt_number,
    "system_status": _opt_integer,
    "gimbal_pitch_deg": _opt_number,
}


def vehicle_state_from_json(data: bytes) -> VehicleState:
    """The VehicleState `data` encodes; ValueError naming the field if it is not one."""
    try:
        raw = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"not JSON: {exc}") from exc
    if not isinstance(raw, dict):
        raise ValueError("a vehicle state is a JSON object")
    unknown = raw.keys() - DECODERS.keys()
    if unknown:
        raise ValueError(f"unknown fields {sorted(unknown)}")
    values: dict[str, object] = {}
    for name, decode in DECODERS.items():
        if name not in raw:
            # A sender on an older version may not know a newer optional field: take its default.
            continue
        try:
            values[name] = decode(raw[name])
        except (ValueError, TypeError, GeofenceError) as exc:
            raise ValueError(f"{name}: {exc}") from exc
    try:
        return VehicleState(**values)  # type: ignore[arg-type]
    except TypeError as exc:
        raise ValueError(f"missing fields: {exc}") from exc
