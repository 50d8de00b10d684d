"""A contradiction the link held back becomes a warning alert on the live stream, named as such."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import cast

from dfr.flights.book import FlightBook
from dfr.flights.observation import FlightObserver
from flight import FleetLink, VehicleEvent, VehicleEventKind, VehicleId
from telemetry import Hub


def test_a_contradiction_event_raises_a_contradiction_warning_alert() -> None:
    hub = Hub(batch_interval_s=0)
    # Raising an alert reads neither the flights nor the links.
    observer = FlightObserver(
        book=cast(FlightBook, None),
        fleet=cast(FleetLink, None),
        hub=hub,
        on_arrival=lambda _active: None,
    )
    event = VehicleEvent(
        VehicleId("D1"),
        datetime(2026, 1, 1, tzinfo=UTC),
        VehicleEventKind.CONTRADICTION,
        "disarmed reported while in the air; held back until the vehicle confirms it",
        extra={"check": "armed", "held": "1"},
    )
    observer._alert_for_event(event, 7)
    messages = json.loads(hub.snapshot_text())["data"]["messages"]
    alerts = [m["data"] for m in messages if m["type"] == "alert"]
    assert len(alerts) == 1
    assert alerts[0]["kind"] == "contradiction" and alerts[0]["severity"] == "warning"
    assert alerts[0]["drone_id"] == "D1" and alerts[0]["flight_id"] == 7
    assert "disarmed reported while in the air" in alerts[0]["text"]
