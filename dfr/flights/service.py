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
from dfr.flights.commands import FlightCommands
from dfr.flights.launch import Launcher
from dfr.flights.observation import FlightObserver
from dfr.flights.retask import Retasker
from dfr.metrics import Metrics
from dfr.telemetry_bridge import drone_frame
from flight import Clock, FleetLink, FlightError, VehicleId, VehicleState
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
        adopt_timeout_s: float = 120.0,
        launch_timeout_s: float = 90.0,
    ) -> None:
        super().__init__()
        self._fleet = fleet
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
            book=self._book, fleet=fleet, hub=hub, on_arrival=self._commands.orbit_on_arrival
        )
        self._adopter = FlightAdopter(
            book=self._book, fleet=fleet, spawn=self._spawn, adopt_timeout_s=adopt_timeout_s
        )
        self.plan_for = self._launcher.plan_for
        self.launch = self._launcher.launch
        self.retask = self._retasker.retask
        self.command = self._commands.command
        self.recall = self._commands.recall

    async def _start(self) -> None:
        self._spawn(self._observer.watch_states())
        self._spawn(self._observer.watch_events())
        self._spawn(self._observer.flush_tracks_forever())
        await self._adopter.restore_unfinished()

    async def _stop(self) -> None:
        with contextlib.suppress(Exception):
            await asyncio.to_thread(self._observer.flush_tracks)

    def active_flight_of(self, drone_id: str) -> int | None:
        """The id of the drone's unfinished flight, if any."""
        return self._book.by_drone.get(VehicleId(drone_id))

    def flights_by_phase(self) -> dict[str, int]:
        """How many tracked (unfinished) flights are in each phase."""
        counts: dict[str, int] = {}
        for active in list(self._book.active.values()):
            phase = str(active.tracker.machine.phase)
            counts[phase] = counts.get(phase, 0) + 1
        return counts

    def live_state(self, drone_id: str) -> VehicleState | None:
        """The drone's latest reported state, or None when it has no link."""
        try:
            return self._fleet.vehicle(VehicleId(drone_id)).state()
        except FlightError:
            return None

    def live_frames(self) -> dict[str, dict[str, Any]]:
        """Every linked drone's latest state as map frames (JSON)."""
        by_drone = self._book.by_drone
        return {
            str(vid): drone_frame(state, by_drone.get(vid)).model_dump(mode="json")
            for vid, state in self._fleet.snapshot().items()
        }
