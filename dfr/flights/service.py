"""`FlightService`: the agency's flights over a running FleetLink, composed of one part per job."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from typing import Any

from sqlalchemy.engine import Engine

from dfr.airspace import AirspaceService
from dfr.call_ledger import CallLedger
from dfr.flights.adoption import FlightAdopter
from dfr.flights.book import FlightBook, TransitionSink
from dfr.flights.commands import FlightCommands, PilotCommand
from dfr.flights.launch import Launcher
from dfr.flights.observation import FlightObserver
from dfr.flights.remote import RemoteFlights
from dfr.flights.retask import Retasker
from dfr.metrics import Metrics
from dfr.telemetry_bridge import drone_frame
from flight import (
    Clock,
    CommandAck,
    FleetLink,
    FlightError,
    FlightPlan,
    VehicleId,
    VehicleState,
)
from geofence import GeoPoint
from lifecycle import TaskOwner
from telemetry import Hub


class FlightService(TaskOwner):
    """Plans, launches, reassigns, commands, observes and adopts flights.

    The flight phase always follows the vehicle's own reports. Each transition is stored as a
    flight event in the same transaction as what it causes elsewhere (the `sinks`: call lifecycle
    and CAD outbox rows, recordings), then published on the telemetry hub.
    """

    def __init__(
        self,
        *,
        engine: Engine,
        fleet: FleetLink,
        airspace: AirspaceService,
        hub: Hub,
        clock: Clock,
        ledger: CallLedger,
        sinks: Sequence[TransitionSink],
        metrics: Metrics,
        remote: RemoteFlights | None = None,
        adopt_timeout_s: float = 120.0,
        launch_timeout_s: float = 90.0,
    ) -> None:
        super().__init__()
        self._fleet = fleet
        self._remote = remote
        self._book = FlightBook(engine=engine, hub=hub, clock=clock, sinks=sinks)
        self._launcher = Launcher(
            book=self._book,
            fleet=fleet,
            airspace=airspace,
            ledger=ledger,
            spawn=self._spawn,
            launch_timeout_s=launch_timeout_s,
            metrics=metrics,
        )
        self._retasker = Retasker(
            book=self._book,
            fleet=fleet,
            launcher=self._launcher,
            ledger=ledger,
            launch_timeout_s=launch_timeout_s,
        )
        self._commands = FlightCommands(
            book=self._book,
            fleet=fleet,
            airspace=airspace,
            launcher=self._launcher,
            spawn=self._spawn,
        )
        self._observer = FlightObserver(
            book=self._book,
            fleet=fleet,
            hub=hub,
            on_arrival=self._commands.orbit_on_arrival,
            on_link_up=self._prepare_docked,
        )
        self._adopter = FlightAdopter(
            book=self._book, fleet=fleet, spawn=self._spawn, adopt_timeout_s=adopt_timeout_s
        )
        self.plan_for = self._launcher.plan_for

    def _prepare_docked(self, drone_id: VehicleId) -> None:
        self._spawn(self._launcher.prepare_docked(drone_id), name=f"prepare-{drone_id}")

    def refresh_dock_fences(self) -> None:
        """The zones changed: put the new dock fence on every docked drone linked here."""
        if not self.running:
            return
        for drone_id in self._fleet.vehicle_ids():
            self._prepare_docked(drone_id)

    def _linked_here(self, drone_id: str) -> bool:
        return self._remote is None or VehicleId(drone_id) in self._fleet.vehicle_ids()

    async def launch(
        self,
        drone_id: str,
        target: GeoPoint,
        *,
        call_id: int | None = None,
        orbit_radius_m: float = 50.0,
        alt_agl_m: float | None = None,
        created_by: str = "",
        plan: FlightPlan | None = None,
    ) -> int:
        """Plan and store a flight, then fly it (on the instance holding the drone's link)."""
        if self._remote is not None and not self._linked_here(drone_id):
            return await self._remote.launch(
                drone_id,
                target,
                call_id=call_id,
                orbit_radius_m=orbit_radius_m,
                alt_agl_m=alt_agl_m,
                created_by=created_by,
            )
        return await self._launcher.launch(
            drone_id,
            target,
            call_id=call_id,
            orbit_radius_m=orbit_radius_m,
            alt_agl_m=alt_agl_m,
            created_by=created_by,
            plan=plan,
        )

    async def retask(
        self,
        drone_id: str,
        target: GeoPoint,
        *,
        call_id: int | None,
        reason: str,
        from_call_id: int | None = None,
        orbit_radius_m: float = 50.0,
        alt_agl_m: float | None = None,
        created_by: str = "",
    ) -> int:
        """Reassign a flying drone (on the instance holding its link); the new flight's id."""
        options: dict[str, Any] = {
            "call_id": call_id,
            "reason": reason,
            "from_call_id": from_call_id,
            "orbit_radius_m": orbit_radius_m,
            "alt_agl_m": alt_agl_m,
            "created_by": created_by,
        }
        if self._remote is not None and not self._linked_here(drone_id):
            return await self._remote.retask(drone_id, target, **options)
        return await self._retasker.retask(drone_id, target, **options)

    async def command(
        self, flight_id: int, command: PilotCommand, **arguments: float | None
    ) -> CommandAck:
        """A pilot command (on the instance holding the flight's drone's link)."""
        if self._remote is not None and flight_id not in self._book.active:
            drone_id = await self._drone_of(flight_id)
            if not self._linked_here(drone_id):
                return await self._remote.command(drone_id, flight_id, command=command, **arguments)
        return await self._commands.command(flight_id, command, **arguments)

    async def recall(self, flight_id: int, reason: str) -> None:
        """Send the flight home (on the instance holding its drone's link)."""
        if self._remote is not None and flight_id not in self._book.active:
            drone_id = await self._drone_of(flight_id)
            if not self._linked_here(drone_id):
                await self._remote.recall(drone_id, flight_id, reason)
                return
        await self._commands.recall(flight_id, reason)

    async def _drone_of(self, flight_id: int) -> str:
        row = await asyncio.to_thread(self._book.flight_row, flight_id)
        return row.drone_id

    async def adopt_drone(self, drone_id: str) -> None:
        """This instance now links `drone_id`: follow its unfinished flight, if any."""
        await self._adopter.restore_unfinished(drone_id)

    def let_go_of_drone(self, drone_id: str) -> None:
        """Another instance links `drone_id` now: stop following its flight here."""
        self._adopter.let_go(drone_id)

    async def _start(self) -> None:
        self._spawn(self._observer.watch_states())
        self._spawn(self._observer.watch_events())
        self._spawn(self._observer.flush_tracks_forever())
        await self._adopter.restore_unfinished()

    async def _stop(self) -> None:
        with contextlib.suppress(Exception):
            await asyncio.to_thread(self._observer.flush_tracks)

    def active_flight_of(self, drone_id: str) -> int | None:
        """The id of the drone's unfinished flight, if any (its holder's word when linked elsewhere)."""
        if self._remote is not None and not self._linked_here(drone_id):
            return self._remote.flight_of(drone_id)
        return self._book.by_drone.get(VehicleId(drone_id))

    def flights_by_phase(self) -> dict[str, int]:
        """How many tracked (unfinished) flights are in each phase."""
        counts: dict[str, int] = {}
        for active in list(self._book.active.values()):
            phase = str(active.tracker.machine.phase)
            counts[phase] = counts.get(phase, 0) + 1
        return counts

    def live_state(self, drone_id: str) -> VehicleState | None:
        """The drone's latest reported state, or None when it has no link on any instance."""
        try:
            return self._fleet.vehicle(VehicleId(drone_id)).state()
        except FlightError:
            return None if self._remote is None else self._remote.state_of(drone_id)

    def live_frames(self) -> dict[str, dict[str, Any]]:
        """Every linked drone's latest state as map frames (JSON)."""
        by_drone = self._book.by_drone
        return {
            str(vid): drone_frame(state, by_drone.get(vid)).model_dump(mode="json")
            for vid, state in self._fleet.snapshot().items()
        }
