"""Adoption after a restart: unfinished flights are followed again once their drone answers."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from sqlmodel import Session, col, select

from dfr.flights.book import ActiveFlight, FlightPart
from dfr.flights.launch import Spawn
from dfr.flights.records import TERMINAL, items_from_json, scene_of
from dfr.models import Flight
from flight import (
    FlightError,
    FlightPhase,
    FlightStateMachine,
    FlightTracker,
    MissionType,
    VehicleId,
    missions_match,
)
from geofence import GeoPoint

log = logging.getLogger(__name__)


@dataclass(kw_only=True)
class FlightAdopter(FlightPart):
    """Takes over the flights a previous run of the service left unfinished."""

    spawn: Spawn
    adopt_timeout_s: float

    async def restore_unfinished(self, drone_id: str | None = None) -> None:
        """Register the stored unfinished flights (of `drone_id`, or of every linked drone) and
        adopt them in the background; another instance adopts the flights of drones it links."""
        book = self.book

        def load() -> list[Flight]:
            query = select(Flight).where(col(Flight.state).not_in([str(p) for p in TERMINAL]))
            if drone_id is not None:
                query = query.where(Flight.drone_id == drone_id)
            with Session(book.engine) as session:
                return list(session.exec(query).all())

        for row in await asyncio.to_thread(load):
            if row.id in book.active:
                continue
            active = self._active_of(row)
            if active.drone_id not in self.fleet.vehicle_ids():
                log.info(
                    "flight %s: drone %s is not linked here; not adopted",
                    row.id,
                    row.drone_id,
                    extra=active.log_fields,
                )
                continue
            book.register(active)
            self.spawn(self._adopt(active))

    def let_go(self, drone_id: str) -> None:
        """Stop following the drone's flight here (another instance holds its link now)."""
        book = self.book
        flight_id = book.by_drone.get(VehicleId(drone_id))
        active = None if flight_id is None else book.active.get(flight_id)
        if active is None:
            return
        if active.launching is not None:
            active.launching.cancel()
        book.forget(active)
        log.warning(
            "flight %s: drone %s's link is held elsewhere now; no longer followed here",
            active.flight_id,
            drone_id,
            extra=active.log_fields,
        )

    def _active_of(self, row: Flight) -> ActiveFlight:
        assert row.id is not None
        clock = self.book.clock
        record = row.machine or {
            "flight_id": str(row.id),
            "vehicle_id": row.drone_id,
            "phase": row.state,
        }
        machine = FlightStateMachine.from_record(record, clock)
        summary = row.plan.get("summary", {})
        return ActiveFlight(
            flight_id=row.id,
            drone_id=VehicleId(row.drone_id),
            call_id=row.call_id,
            tracker=FlightTracker(
                machine,
                clock,
                on_scene_seq=row.plan.get("on_scene_seq"),
                target=GeoPoint(row.target_lat, row.target_lon),
            ),
            mission=items_from_json(row.plan.get("mission_items", [])),
            scene=scene_of(row),
            orbit_radius_m=float(summary.get("orbit_radius_m") or 0.0),
            orbit_alt_agl_m=float(summary.get("orbit_alt_agl_m") or 0.0),
            orbiting=machine.phase == FlightPhase.ON_SCENE,
            adopted=False,
        )

    async def _adopt(self, active: ActiveFlight) -> None:
        book = self.book
        link = self.fleet.vehicle(active.drone_id)
        try:
            state = await link.wait_connected(self.adopt_timeout_s)
            downloaded = await link.download_mission(MissionType.MISSION)
        except FlightError as exc:
            await book.store_note(active, f"not adopted after restart: {exc}")
            active.adopted = True  # keep following the vehicle's reports anyway
            return
        phase = active.tracker.machine.phase
        if phase in (FlightPhase.PLANNED, FlightPhase.UPLOADING) and not state.armed:
            async with active.lock:
                await book.store(
                    active, [active.tracker.abort("the service restarted before take-off")]
                )
            return
        if missions_match(active.mission, downloaded):
            await book.store_note(active, "adopted after restart: vehicle mission matches")
        else:
            await book.store_note(
                active, "adopted after restart, but the vehicle's mission differs from the plan"
            )
        active.adopted = True
