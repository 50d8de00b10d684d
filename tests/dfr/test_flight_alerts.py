"""Which vehicle events raise which alerts: fence and failsafe warnings need an acknowledgement,
a lost link raises one alert and its return resolves it (and asks for the dock's fence)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

from dfr.flights.observation import FlightObserver
from flight import VehicleEvent, VehicleEventKind, VehicleId
from telemetry import AlertBoard, Hub

T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def _observer(hub: Hub, links_up: list[VehicleId]) -> FlightObserver:
    # Only the hub and the link-up hook are used by the alert rules.
    return FlightObserver(
        book=cast(Any, None),
        fleet=cast(Any, None),
        hub=hub,
        on_arrival=lambda _: None,
        on_link_up=links_up.append,
    )


def _event(kind: VehicleEventKind, detail: str, second: int, **extra: Any) -> VehicleEvent:
    at = T0.replace(second=second)
    severity = extra.pop("severity", None)
    return VehicleEvent(VehicleId("D1"), at, kind, detail, severity=severity, extra=extra)


def test_vehicle_warnings_about_the_fence_or_a_failsafe_need_an_acknowledgement() -> None:
    hub = Hub()
    observer = _observer(hub, [])
    observer._alert_for_event(
        _event(VehicleEventKind.STATUSTEXT, "Geofence violated", 1, severity=2), 7
    )
    observer._alert_for_event(
        _event(VehicleEventKind.STATUSTEXT, "Failsafe activated: RTL", 2, severity=1), 7
    )
    observer._alert_for_event(
        _event(VehicleEventKind.STATUSTEXT, "Wind speed high", 3, severity=4), 7
    )
    alerts = {a["kind"]: a for a in AlertBoard(hub).alerts()}
    assert set(alerts) == {"fence", "failsafe", "vehicle"}
    assert alerts["fence"]["needs_ack"] and alerts["failsafe"]["needs_ack"]
    assert not alerts["vehicle"]["needs_ack"]


def test_a_lost_link_raises_one_alert_and_its_return_resolves_it() -> None:
    hub = Hub()
    links_up: list[VehicleId] = []
    observer = _observer(hub, links_up)
    observer._alert_for_event(
        _event(VehicleEventKind.LINK, "connected -> lost: no heartbeat for 3.6 s", 1, state="lost"),
        None,
    )
    (raised,) = AlertBoard(hub).alerts()
    assert raised["kind"] == "link_lost" and raised["state"] == "active"
    observer._alert_for_event(
        _event(VehicleEventKind.LINK, "lost -> connected: heartbeat regular", 5, state="connected"),
        None,
    )
    (resolved,) = AlertBoard(hub).alerts()
    assert resolved["id"] == raised["id"] and resolved["state"] == "resolved"
    assert resolved["resolution"] == "link back: lost -> connected: heartbeat regular"
    assert links_up == [VehicleId("D1")]


def test_a_link_back_from_degraded_does_not_ask_for_the_dock_fence_again() -> None:
    links_up: list[VehicleId] = []
    observer = _observer(Hub(), links_up)
    observer._alert_for_event(
        _event(
            VehicleEventKind.LINK, "degraded -> connected: heartbeat regular", 1, state="connected"
        ),
        None,
    )
    assert links_up == []
