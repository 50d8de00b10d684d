"""Numbers as a US dispatcher reads them: miles with kilometres, mph with m/s, feet, minutes."""

from __future__ import annotations

from datetime import datetime, tzinfo

M_PER_MILE = 1609.344
M_PER_FT = 0.3048
MPH_PER_M_S = 2.2369362920544
KT_PER_M_S = 1.9438444924406


def miles_km(distance_m: float) -> str:
    """`1.42 mi (2.29 km)`."""
    return f"{distance_m / M_PER_MILE:.2f} mi ({distance_m / 1000.0:.2f} km)"


def speed(speed_mps: float) -> str:
    """`12.0 m/s (27 mph)`."""
    return f"{speed_mps:.1f} m/s ({speed_mps * MPH_PER_M_S:.0f} mph)"


def visibility(distance_m: float) -> str:
    """`4.8 km (3.0 mi)`."""
    return f"{distance_m / 1000.0:.1f} km ({distance_m / M_PER_MILE:.1f} mi)"


def metres_feet(height_m: float) -> str:
    """`110 m (361 ft)`."""
    return f"{height_m:.0f} m ({height_m / M_PER_FT:.0f} ft)"


def duration(seconds: float) -> str:
    """`2 min 40 s`, `45 s`, `1 h 5 min`."""
    total = round(seconds)
    if total < 60:
        return f"{total} s"
    minutes, secs = divmod(total, 60)
    if minutes < 60:
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


def clock(at: datetime, tz: tzinfo) -> str:
    """`19:42 MDT` in the agency's time zone."""
    local = at.astimezone(tz)
    return f"{local:%H:%M} {local.tzname() or ''}".strip()
