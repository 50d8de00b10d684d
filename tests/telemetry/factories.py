"""Builders of stream messages for the telemetry tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from telemetry import DroneFrame, StreamMessage, alert_message, drone_message

T0 = datetime(2025, 6, 1, 15, 0, tzinfo=UTC)


def frame(drone_id: str = "D1", *, step: int = 0, flight_id: int | None = None) -> DroneFrame:
    """A flying drone `step` tenths of a second after T0, 1 m further north per step."""
    return DroneFrame(
        drone_id=drone_id,
        available=True,
        last_seen=T0 + timedelta(seconds=step / 10),
        lat=38.8339 + step * 1e-5,
        lon=-104.7470,
        alt_amsl_m=1900.0,
        alt_agl_m=60.0,
        heading_deg=0.0,
        ground_speed_mps=10.0,
        battery_pct=90.0,
        mode="AUTO.MISSION",
        armed=True,
        landed_state="in_air",
        link="connected",
        flight_id=flight_id,
    )


def drone_msg(drone_id: str = "D1", step: int = 0) -> StreamMessage:
    return drone_message(frame(drone_id, step=step), T0 + timedelta(seconds=step / 10))


def alert_msg(n: int) -> StreamMessage:
    return alert_message(
        f"a{n}", {"kind": "low_battery", "severity": "warning", "text": f"#{n}"}, T0
    )
