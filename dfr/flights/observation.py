"""Observation: the vehicles' own reports drive flight phases, the map, alerts and the flown track."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from dfr.db import session_scope
from dfr.flights.book import ActiveFlight, FlightPart
from dfr.models import TrackPoint
from dfr.telemetry_bridge import drone_frame
from flight import FlightPhase, VehicleEvent, VehicleEventKind, VehicleId, VehicleState
from telemetry import AlertBoard, Hub, drone_message

LOW_BATTERY_ALERT_PCT = 25.0
TRACK_INTERVAL_S = 1.0
TRACK_FLUSH_PERIOD_S = 2.0
_ALERT_KINDS = {
    VehicleEventKind.LINK: "link_lost",
    VehicleEventKind.CONTRADICTION: "contradiction",
}
_LINK_UP = frozenset({"connected", "degraded"})


def _statustext_kind(text: str) -> str:
    """The alert kind of a vehicle's warning: fence and failsafe ones must be acknowledged."""
    lowered = text.lower()
    if "fence" in lowered:
        return "fence"
    if "failsafe" in lowered:
        return "failsafe"
    return "vehicle"


@dataclass(kw_only=True)
class FlightObserver(FlightPart):
    """Follows every drone's states and events: phases, alerts, map frames and the flown track."""

    hub: Hub
    on_arrival: Callable[[ActiveFlight], None]
    #: Called when a drone's link comes up while it flies no flight (its dock's fence goes on).
    on_link_up: Callable[[VehicleId], None] | None = None
    _track_buffer: list[TrackPoint] = field(default_factory=list, init=False)

    async def watch_states(self) -> None:
        """Turn each reported state into a map frame, a track point and phase transitions."""
        book = self.book
        async for state in self.fleet.states():
            flight_id = book.by_drone.get(state.vehicle_id)
            self.hub.publish(drone_message(drone_frame(state, flight_id), state.time))
            if flight_id is None:
                continue
            active = book.active.get(flight_id)
            if active is None or not active.adopted:
                continue
            self._record_track(active, state)
            self._battery_alert(active, state)
            if active.lock.locked():
                continue  # a launch step is storing; the next state snapshot catches up
            async with active.lock:
                transitions = active.tracker.observe(state)
                if transitions:
                    await book.store(active, transitions)
            for t in transitions:
                if t.to_phase == FlightPhase.FAILSAFE:
                    self._alert(
                        f"{active.drone_id}:failsafe:{active.flight_id}:{state.time.timestamp():.3f}",
                        "critical",
                        str(active.drone_id),
                        active.flight_id,
                        "failsafe",
                        f"{active.drone_id}: failsafe: {t.reason}",
                        state_time=state.time,
                    )
            if any(t.to_phase == FlightPhase.ON_SCENE for t in transitions):
                self.on_arrival(active)

    async def watch_events(self) -> None:
        """Feed vehicle events to their flight's tracker and raise the alerts they call for."""
        book = self.book
        async for event in self.fleet.events():
            flight_id = book.by_drone.get(event.vehicle_id)
            active = book.active.get(flight_id) if flight_id is not None else None
            if active is not None:
                active.tracker.observe_event(event)
                if (
                    event.kind == VehicleEventKind.STATUSTEXT
                    and active.tracker.phase == FlightPhase.UPLOADING
                ):
                    # PX4 refuses AUTO.MISSION for a moment after an upload and the launch retries;
                    # a launch that really fails is reported by its abort, with the reason.
                    continue
            self._alert_for_event(event, flight_id)

    def _alert_for_event(self, event: VehicleEvent, flight_id: int | None) -> None:
        level: str | None = None
        kind = _ALERT_KINDS.get(event.kind, "vehicle")
        if event.kind == VehicleEventKind.STATUSTEXT and (event.severity or 6) <= 4:
            level = "critical" if (event.severity or 6) <= 2 else "warning"
            kind = _statustext_kind(event.detail)
        elif event.kind == VehicleEventKind.LINK and event.extra.get("state") == "lost":
            # A degraded link shows on the drone itself; only a lost one is worth an alert.
            level = "critical"
        elif event.kind == VehicleEventKind.LINK and event.extra.get("state") in _LINK_UP:
            # The condition has ended: the loss alert is resolved on every console.
            AlertBoard(self.hub).resolve_active(
                "link_lost", str(event.vehicle_id), f"link back: {event.detail}", event.time
            )
            # Only a link that was down (not one back from degraded): its vehicle may be new.
            came_up = event.detail.startswith(("connecting ->", "lost ->"))
            if flight_id is None and came_up and self.on_link_up is not None:
                self.on_link_up(event.vehicle_id)
        elif event.kind == VehicleEventKind.CONTRADICTION:
            # The report was held back, so the flight goes on; someone may be forging frames.
            level = "warning"
        if level is None:
            return
        at = event.time
        self._alert(
            f"{event.vehicle_id}:{event.kind}:{at.timestamp():.3f}",
            level,
            str(event.vehicle_id),
            flight_id,
            kind,
            f"{event.vehicle_id}: {event.detail}",
            state_time=at,
        )

    def _battery_alert(self, active: ActiveFlight, state: VehicleState) -> None:
        pct = state.battery_pct
        if pct is None or active.low_battery_alerted or pct > LOW_BATTERY_ALERT_PCT:
            return
        active.low_battery_alerted = True
        self._alert(
            f"{active.drone_id}:battery:{active.flight_id}",
            "warning",
            str(active.drone_id),
            active.flight_id,
            "low_battery",
            f"{active.drone_id} battery at {pct:.0f} %",
            state_time=state.time,
        )

    def _alert(
        self,
        key: str,
        severity: str,
        drone_id: str,
        flight_id: int | None,
        kind: str,
        text: str,
        *,
        state_time: datetime,
    ) -> None:
        AlertBoard(self.hub).raise_alert(
            key,
            severity=severity,
            kind=kind,
            text=text,
            drone_id=drone_id,
            flight_id=flight_id,
            at=state_time,
        )

    def _record_track(self, active: ActiveFlight, state: VehicleState) -> None:
        now_s = self.book.clock.monotonic()
        if state.position is None or state.alt_amsl_m is None:
            return
        if now_s - active.last_track_s < TRACK_INTERVAL_S or not state.armed:
            return
        active.last_track_s = now_s
        self._track_buffer.append(
            TrackPoint(
                flight_id=active.flight_id,
                at=state.time,
                lat=state.position.lat_deg,
                lon=state.position.lon_deg,
                alt_amsl_m=state.alt_amsl_m,
                alt_agl_m=state.alt_agl_m,
            )
        )

    async def flush_tracks_forever(self) -> None:
        """Write buffered track points every couple of seconds."""
        while True:
            await asyncio.sleep(TRACK_FLUSH_PERIOD_S)
            if self._track_buffer:
                await asyncio.to_thread(self.flush_tracks)

    def flush_tracks(self) -> None:
        """Write buffered track points now (blocking)."""
        batch, self._track_buffer = self._track_buffer, []
        if not batch:
            return
        with session_scope(self.book.engine) as session:
            session.add_all(batch)
