"""Alerts raised, resolved and acknowledged through the hub; another instance's hub sees the same."""

from __future__ import annotations

import json

from telemetry import AlertBoard, Hub
from tests.telemetry.factories import T0


class Forward:
    """Joins two hubs as the cluster's hub bridge does: publishes of one enter the other."""

    def __init__(self, other: Hub) -> None:
        self.other = other

    def mirror_publish(self, key: str, text: str, is_event: bool) -> None:
        self.other.publish_text(key, text, is_event)

    def mirror_forget(self, key: str) -> None:
        self.other.forget(key, mirror=False)


def _raise(board: AlertBoard, alert_id: str, kind: str, drone: str = "D1") -> None:
    board.raise_alert(
        alert_id,
        severity="critical",
        kind=kind,
        text=f"{drone}: {kind}",
        drone_id=drone,
        flight_id=7,
        at=T0,
    )


def test_a_resolved_alert_replaces_its_active_version_in_the_snapshot() -> None:
    hub = Hub()
    board = AlertBoard(hub)
    _raise(board, "D1:link:1", "link_lost")
    _raise(board, "D2:link:1", "link_lost", drone="D2")
    assert board.resolve_active("link_lost", "D1", "link back") == ["D1:link:1"]
    assert board.resolve_active("link_lost", "D1", "again") == []
    messages = json.loads(hub.snapshot_text())["data"]["messages"]
    alerts = {m["key"]: m["data"] for m in messages}
    assert len(messages) == 2
    assert alerts["alert:D1:link:1"]["state"] == "resolved"
    assert alerts["alert:D1:link:1"]["resolution"] == "link back"
    assert alerts["alert:D2:link:1"]["state"] == "active"


def test_failsafe_low_battery_and_fence_need_an_acknowledgement_and_the_first_stands() -> None:
    board = AlertBoard(Hub())
    for kind in ("failsafe", "low_battery", "fence", "link_lost", "vehicle"):
        _raise(board, f"D1:{kind}", kind)
    needs = {a["kind"] for a in board.alerts() if a["needs_ack"]}
    assert needs == {"failsafe", "low_battery", "fence"}
    acked = board.acknowledge("D1:fence", "dispatcher-ann")
    assert acked is not None and acked["acknowledged_by"] == "dispatcher-ann"
    again = board.acknowledge("D1:fence", "pilot-bob")
    assert again is not None and again["acknowledged_by"] == "dispatcher-ann"
    assert board.acknowledge("nowhere", "pilot-bob") is None


def test_an_acknowledgement_on_one_instance_is_seen_by_the_other() -> None:
    here, there = Hub(), Hub()
    here.add_mirror(Forward(there))
    there.add_mirror(Forward(here))
    _raise(AlertBoard(here), "D1:battery:7", "low_battery")
    assert AlertBoard(there).acknowledge("D1:battery:7", "pilot-bob") is not None
    seen_here = AlertBoard(here).get("D1:battery:7")
    assert seen_here is not None and seen_here["acknowledged_by"] == "pilot-bob"
