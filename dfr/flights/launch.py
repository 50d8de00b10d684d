"""Launch: plan a response flight, store it, then upload, arm and start it on the vehicle."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session

from dfr.airspace import AirspaceService
from dfr.call_ledger import CallLedger
from dfr.db import session_scope
from dfr.errors import ConflictError, DfrError, NotFoundError
from dfr.flights.book import ActiveFlight, FlightPart
from dfr.flights.records import new_flight_row
from dfr.metrics import Metrics
from dfr.models import Dock, Drone
from dfr.planning import plan_for_drone
from flight import (
    FlightError,
    FlightPhase,
    FlightPlan,
    FlightStateMachine,
    LinkState,
    VehicleId,
    VehicleLink,
    VehicleState,
)
from flight.planner import plan_fence_items
from geofence import GeofenceError, GeoPoint

log = logging.getLogger(__name__)
Spawn = Callable[[Coroutine[Any, Any, Any]], "asyncio.Task[Any]"]


class _StepTimer:
    """Wall milliseconds of each launch step, for the flight's note (and bench/e2e.py)."""

    def __init__(self) -> None:
        self._last = time.monotonic()
        self._steps: list[tuple[str, float]] = []

    def done(self, step: str) -> None:
        now = time.monotonic()
        self._steps.append((step, (now - self._last) * 1000.0))
        self._last = now

    def summary(self) -> str:
        return ", ".join(f"{step} {ms:.0f} ms" for step, ms in self._steps)


@dataclass(kw_only=True)
class Launcher(FlightPart):
    """Plans, stores and launches flights from a dock."""

    airspace: AirspaceService
    ledger: CallLedger
    spawn: Spawn
    launch_timeout_s: float
    metrics: Metrics

    def plan_for(
        self,
        session: Session,
        drone: Drone,
        target: GeoPoint,
        *,
        orbit_radius_m: float = 50.0,
        alt_agl_m: float | None = None,
        now: datetime | None = None,
        airborne: VehicleState | None = None,
    ) -> FlightPlan:
        """The response plan to `target`, from the dock or from where the drone flies when
        `airborne`, and back to the dock (PlanRejectedError with reasons)."""
        dock = session.get(Dock, drone.dock_id)
        if dock is None:
            raise NotFoundError("dock", drone.dock_id)
        return plan_for_drone(
            self.airspace.airspace(),
            drone,
            dock,
            target,
            now or self.book.clock.now(),
            airborne=airborne,
            orbit_radius_m=orbit_radius_m,
            alt_agl_m=alt_agl_m,
        )

    async def prepare_docked(self, drone_id: VehicleId) -> None:
        """Put its dock's fence on a docked drone that has just connected (verified), so its next
        launch finds it there and uploads only the mission; a failure is logged, the launch retries."""
        if drone_id in self.book.by_drone or drone_id not in self.fleet.vehicle_ids():
            return

        def dock_of() -> GeoPoint | None:
            with session_scope(self.book.engine) as session:
                drone = session.get(Drone, drone_id)
                dock = session.get(Dock, drone.dock_id) if drone is not None else None
                return None if dock is None else GeoPoint(dock.lat, dock.lon)

        dock = await asyncio.to_thread(dock_of)
        link = self.fleet.vehicle(drone_id)
        state = link.state()
        if dock is None or state.armed or state.in_air:
            return
        try:
            items = plan_fence_items(self.airspace.airspace(), self.book.clock.now(), [dock])
            await link.upload_fence(items)
        except (FlightError, DfrError, GeofenceError) as exc:
            # No zones yet, an operating area too large for a fence, a vehicle that did not take
            # it: the launch uploads the fence itself (and reports why it could not).
            log.info("drone %s: dock fence not put on the vehicle at connect: %s", drone_id, exc)

    def _check_ready(self, drone: Drone) -> None:
        if drone.in_maintenance:
            raise ConflictError(f"drone {drone.id} is in maintenance")
        flying = self.book.by_drone.get(VehicleId(drone.id))
        if flying is not None:
            raise ConflictError(f"drone {drone.id} is already flying flight {flying}")
        link = self.fleet.vehicle(VehicleId(drone.id))
        if link.link_state not in (LinkState.CONNECTED, LinkState.DEGRADED):
            raise ConflictError(f"drone {drone.id} has no MAVLink link ({link.link_state})")
        state = link.state()
        if state.armed or state.in_air:
            raise ConflictError(f"drone {drone.id} is not on its dock (armed or in the air)")

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
        """Plan and store a flight, then upload, arm and start it in the background; returns its id."""
        clock = self.book.clock

        def create() -> tuple[int, FlightPlan]:
            with session_scope(self.book.engine) as session:
                drone = session.get(Drone, drone_id)
                if drone is None:
                    raise NotFoundError("drone", drone_id)
                self._check_ready(drone)
                flight_plan = plan or self.plan_for(
                    session, drone, target, orbit_radius_m=orbit_radius_m, alt_agl_m=alt_agl_m
                )
                row = new_flight_row(
                    session,
                    drone.id,
                    call_id,
                    target,
                    flight_plan,
                    created_by,
                    f"planned by {created_by or 'dfr'}; ETA {flight_plan.eta_s:.0f} s",
                    clock,
                )
                machine = FlightStateMachine(str(row.id), VehicleId(drone.id), clock)
                row.machine = machine.to_record()
                self.ledger.record_launched(
                    session, row, author=created_by, eta_s=flight_plan.eta_s
                )
                assert row.id is not None
                return row.id, flight_plan

        vehicle = VehicleId(drone_id)
        if vehicle in self.book.by_drone:
            raise ConflictError(f"drone {drone_id} is already being launched or flying")
        with self.book.reserving(vehicle, f"drone {drone_id} is already being launched or flying"):
            flight_id, flight_plan = await asyncio.to_thread(create)
        machine = FlightStateMachine(str(flight_id), vehicle, clock)
        active = ActiveFlight.for_plan(flight_id, call_id, machine, clock, flight_plan)
        self.book.register(active)
        self.book.publish(flight_id)
        active.launching = self.spawn(self._fly(active, flight_plan))
        (self.metrics.pilot_launches if call_id is None else self.metrics.call_launches).inc()
        log.info(
            "flight %s launched: drone %s, call %s, by %s",
            flight_id,
            drone_id,
            call_id,
            created_by or "dfr",
            extra=active.log_fields,
        )
        return flight_id

    async def _fly(self, active: ActiveFlight, plan: FlightPlan) -> None:
        link = self.fleet.vehicle(active.drone_id)
        async with active.lock:
            await self.book.store(active, [active.tracker.begin_upload(link.state())])
        steps = _StepTimer()
        try:
            async with asyncio.timeout(self.launch_timeout_s):
                # The fence first: PX4 checks the mission against the fence it holds. A fence and
                # rally points the docked vehicle already holds (verified on this connection) are
                # not sent again, and its failsafe parameters were confirmed when it connected.
                await link.upload_fence(plan.fence_items)
                steps.done("fence")
                await link.upload_mission(plan.mission_items)
                steps.done("mission upload")
                await link.upload_rally(plan.rally_items)
                steps.done("rally")
                active.tracker.note_command("start_mission")
                active.arm_sent = True
                await link.arm()
                steps.done("arm")
                ack = await link.start_mission()
                steps.done("mission start")
            await self.book.store_note(
                active,
                f"mission started: the vehicle accepted AUTO.MISSION ({ack.attempts} tries; "
                f"{steps.summary()})",
            )
        except (FlightError, TimeoutError) as exc:
            reason = str(exc) or "launch timed out"
            log.warning(
                "flight %s launch failed: %s", active.flight_id, reason, extra=active.log_fields
            )
            if link.state().armed and not link.state().in_air:
                with contextlib.suppress(FlightError):
                    await link.disarm()
            async with active.lock:
                machine = active.tracker.machine
                if machine.can(FlightPhase.ABORTED):
                    await self.book.store(
                        active, [active.tracker.abort(f"launch failed: {reason}")]
                    )
                else:
                    await self.book.store_note(active, f"launch step failed: {reason}")

    async def stop(self, active: ActiveFlight, link: VehicleLink) -> bool:
        """Stop a launch under way; True when the drone is (again) disarmed on the ground.

        Safety rule: an aborted flight must never take off afterwards, so the upload/arm/start
        sequence is cancelled, and a drone armed meanwhile is disarmed. If PX4 refuses the disarm
        (it is lifting off), the caller recalls it as an airborne flight.
        """
        task = active.launching
        stopped = False
        if task is not None and not task.done():
            task.cancel()
            await asyncio.wait([task])
            stopped = True
        state = link.state()
        if state.in_air:
            return False
        # Stopped after ARM went out: the vehicle may be armed before its heartbeat says so.
        if state.armed or (stopped and active.arm_sent):
            try:
                await link.disarm()
            except FlightError as exc:
                log.warning(
                    "flight %s: disarm after a stopped launch refused: %s",
                    active.flight_id,
                    exc,
                    extra=active.log_fields,
                )
                return False
        return True
