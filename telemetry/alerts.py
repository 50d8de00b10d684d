"""Alerts people act on: raised, resolved when their condition ends, acknowledged by a person.

An alert's state is its latest `alert` message in the hub (`Hub.recent_event`): resolving or
acknowledging it publishes it again under the same key, so every console sees the change, the
snapshot holds only the latest version, and the hub's mirrors carry it to the other instances
(which therefore know who acknowledged what without a store of their own).

Alert data: `id`, `severity` (critical | warning | info), `kind`, `text`, `drone_id`,
`flight_id`, `state` (active | resolved), `needs_ack` (failsafe, low battery and fence alerts
stay prominent until a person acknowledges them), `raised_at`, `resolved_at`, `resolution`,
`acknowledged_by`, `acknowledged_at`.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from telemetry.hub import Hub
from telemetry.models import alert_message

#: Kinds that stay prominent on the consoles until someone acknowledges them.
NEEDS_ACK_KINDS = frozenset({"failsafe", "low_battery", "fence"})

Alert = dict[str, Any]


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


class AlertBoard:
    """Raises, resolves and acknowledges the alerts held in one hub."""

    def __init__(self, hub: Hub) -> None:
        self._hub = hub

    def raise_alert(
        self,
        alert_id: str,
        *,
        severity: str,
        kind: str,
        text: str,
        drone_id: str | None,
        flight_id: int | None,
        at: datetime,
    ) -> Alert:
        """Publish a new active alert; returns its data."""
        data: Alert = {
            "id": alert_id,
            "severity": severity,
            "drone_id": drone_id,
            "flight_id": flight_id,
            "kind": kind,
            "text": text,
            "state": "active",
            "needs_ack": kind in NEEDS_ACK_KINDS,
            "raised_at": _iso(at),
            "resolved_at": None,
            "resolution": "",
            "acknowledged_by": None,
            "acknowledged_at": None,
        }
        self._hub.publish(alert_message(alert_id, data, at))
        return data

    def get(self, alert_id: str) -> Alert | None:
        """The alert's latest data, or None when it is unknown here (or too old to be kept)."""
        text = self._hub.recent_event(f"alert:{alert_id}")
        if text is None:
            return None
        data: Alert = json.loads(text)["data"]
        return data

    def alerts(self) -> list[Alert]:
        """Every recent alert's latest data, newest first."""
        return [json.loads(t)["data"] for t in reversed(self._hub.recent_events())]

    def resolve(self, alert_id: str, resolution: str, at: datetime | None = None) -> Alert | None:
        """Mark an active alert resolved (its condition ended); None when unknown or already resolved."""
        data = self.get(alert_id)
        if data is None or data.get("state") == "resolved":
            return None
        when = at or self._hub.now()
        data.update(state="resolved", resolved_at=_iso(when), resolution=resolution)
        self._hub.publish(alert_message(alert_id, data, when))
        return data

    def resolve_active(
        self, kind: str, drone_id: str, resolution: str, at: datetime | None = None
    ) -> list[str]:
        """Resolve every active alert of `kind` about `drone_id`; returns their ids."""
        ids = [
            str(a["id"])
            for a in self.alerts()
            if a.get("kind") == kind
            and a.get("drone_id") == drone_id
            and a.get("state") != "resolved"
        ]
        for alert_id in ids:
            self.resolve(alert_id, resolution, at)
        return ids

    def acknowledge(self, alert_id: str, by: str, at: datetime | None = None) -> Alert | None:
        """Record that `by` acknowledged the alert (the first acknowledgement stands); None when unknown."""
        data = self.get(alert_id)
        if data is None:
            return None
        if data.get("acknowledged_by"):
            return data
        when = at or self._hub.now()
        data.update(acknowledged_by=by, acknowledged_at=_iso(when))
        self._hub.publish(alert_message(alert_id, data, when))
        return data
