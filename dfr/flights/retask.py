"""Reassignment in the air: a drone leaves its flight for a new target without landing."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from sqlmodel import Session

from dfr.call_ledger import CallLedger
from dfr.db import session_scope
from dfr.errors import ConflictError, DfrError, NotFoundError
from dfr.flights.book import ActiveFlight, FlightPart
from dfr.flights.launch import Launcher
from dfr.flights.records import items_from_json, new_flight_row
from dfr.models import Drone, Flight
from flight import (
    REASSIGNABLE_PHASES,
    CommandAck,
    FlightError,
    FlightMode,
    FlightPhase,
    FlightPlan,
    FlightStateMachine,
    LinkState,
    MissionType,
    VehicleId,
    VehicleLink,
    VehicleState,
)
from geofence import GeoPoint

log = logging.getLogger(__name__)


@dataclass(kw_only=True)
class Retasker(FlightPart):
    """Sends airborne drones from one flight to another."""

    launcher: Launcher
    ledger: CallLedger
    launch_timeout_s: float

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
        """Send an airborne drone from its flight to `target`; returns the new flight's id.

        The plan starts where the drone is; fence, rally and mission are uploaded and read back and
        the mission restarts in the air (the drone is never disarmed or re-armed). Only then does
        the old flight complete with `reason` and a new flight take over en route, in one
        transaction (with the launch record of its call). A refused plan (PlanRejectedError) or
        upload (ConflictError) leaves the old flight flying its own mission.
        """
        vehicle = VehicleId(drone_id)
        flight_id = self.book.by_drone.get(vehicle)
        if flight_id is None or flight_id not in self.book.active:
            raise ConflictError(f"drone {drone_id} has no flight to be reassigned from")
        refusal = f"drone {drone_id} is already being launched or reassigned"
        if self.book.is_reserved(vehicle):
            raise ConflictError(refusal)
        old = self.book.active[flight_id]
        if from_call_id is not None and old.call_id != from_call_id:
            raise ConflictError(
                f"drone {drone_id} is flying flight {flight_id} for call {old.call_id}, "
                f"not for call {from_call_id}"
            )
        # The old flight's lock: its tracker stands still while its mission is being replaced.
        with self.book.reserving(vehicle, refusal):
            async with old.lock:
                link, state = self._check_reassignable(old)
                plan = await asyncio.to_thread(
                    self._plan_from_air, drone_id, state, target, orbit_radius_m, alt_agl_m
                )
                ack = await self._upload(old, link, plan, state)
                return await self._hand_over(
                    old, link, plan, ack, target, call_id, reason, created_by, from_call_id
                )

    def _check_reassignable(self, old: ActiveFlight) -> tuple[VehicleLink, VehicleState]:
        if not old.adopted:
            raise ConflictError(f"flight {old.flight_id} is still being adopted after a restart")
        phase = old.tracker.phase
        if phase not in REASSIGNABLE_PHASES:
            raise ConflictError(
                f"flight {old.flight_id} is {phase}; only a drone en route, on scene or returning "
                "can be reassigned"
            )
        link = self.fleet.vehicle(old.drone_id)
        if link.link_state not in (LinkState.CONNECTED, LinkState.DEGRADED):
            raise ConflictError(f"drone {old.drone_id} has no MAVLink link ({link.link_state})")
        state = link.state()
        if not (state.armed and state.in_air) or state.position is None or state.alt_agl_m is None:
            raise ConflictError(f"drone {old.drone_id} is not in the air with a known position")
        return link, state

    def _plan_from_air(
        self,
        drone_id: str,
        state: VehicleState,
        target: GeoPoint,
        orbit_radius_m: float,
        alt_agl_m: float | None,
    ) -> FlightPlan:
        with Session(self.book.engine) as session:
            drone = session.get(Drone, drone_id)
            if drone is None:
                raise NotFoundError("drone", drone_id)
            return self.launcher.plan_for(
                session,
                drone,
                target,
                airborne=state,
                orbit_radius_m=orbit_radius_m,
                alt_agl_m=alt_agl_m,
            )

    async def _upload(
        self, old: ActiveFlight, link: VehicleLink, plan: FlightPlan, before: VehicleState
    ) -> CommandAck:
        sent: list[MissionType] = []
        try:
            async with asyncio.timeout(self.launch_timeout_s):
                sent.append(MissionType.FENCE)
                await link.upload_fence(plan.fence_items)
                sent.append(MissionType.RALLY)
                await link.upload_rally(plan.rally_items)
                # The mission last: until it is replaced, the vehicle flies the old one unchanged.
                sent.append(MissionType.MISSION)
                await link.upload_mission(plan.mission_items)
                old.tracker.note_command("start_mission")
                await link.set_mission_current(0)
                return await link.start_mission()
        except (FlightError, TimeoutError) as exc:
            why = str(exc) or "the vehicle did not answer in time"
            log.warning(
                "flight %s: reassignment refused: %s", old.flight_id, why, extra=old.log_fields
            )
            restored = await self._restore_plan(old, link, sent, before)
            await self.book.store_note(
                old, f"reassignment refused by the vehicle ({why}); {restored}"
            )
            raise ConflictError(
                f"drone {old.drone_id} did not take the new mission ({why}); "
                f"it keeps flying flight {old.flight_id}"
            ) from exc

    async def _restore_plan(
        self,
        old: ActiveFlight,
        link: VehicleLink,
        sent: Sequence[MissionType],
        before: VehicleState,
    ) -> str:
        """Put back what a refused reassignment changed on the vehicle; says how that went."""
        if not sent:
            return "nothing was changed on the vehicle"
        try:
            row = await asyncio.to_thread(self.book.flight_row, old.flight_id)
            async with asyncio.timeout(self.launch_timeout_s):
                if MissionType.FENCE in sent:
                    await link.upload_fence(items_from_json(row.plan.get("fence_items", [])))
                if MissionType.RALLY in sent:
                    await link.upload_rally(items_from_json(row.plan.get("rally_items", [])))
                if MissionType.MISSION in sent:
                    await link.upload_mission(old.mission)
                    seq = before.mission_current_seq
                    if seq is not None and 0 <= seq < len(old.mission):
                        await link.set_mission_current(seq)
                    if before.mode == FlightMode.MISSION:
                        # A new upload makes PX4 hold: the old mission goes on where it was.
                        old.tracker.note_command("resume")
                        await link.start_mission()
        except (FlightError, DfrError, TimeoutError) as exc:
            return f"its own plan could not be put back: {exc or 'timed out'}"
        return "its own plan is back on the vehicle"

    async def _hand_over(
        self,
        old: ActiveFlight,
        link: VehicleLink,
        plan: FlightPlan,
        ack: CommandAck,
        target: GeoPoint,
        call_id: int | None,
        reason: str,
        created_by: str,
        from_call_id: int | None,
    ) -> int:
        """The vehicle flies the new plan: the old flight completes and a new one goes on en route."""
        book, clock = self.book, self.book.clock
        now_state = link.state()
        ended = old.tracker.machine.transition(
            FlightPhase.COMPLETED, reason=reason, snapshot=now_state
        )
        old_record = old.tracker.machine.to_record()

        def write() -> tuple[int, FlightStateMachine]:
            with session_scope(book.engine) as session:
                old_row = session.get(Flight, old.flight_id)
                if old_row is not None:
                    book.apply_transitions(session, old_row, [ended], old_record)
                row = new_flight_row(
                    session,
                    str(old.drone_id),
                    call_id,
                    target,
                    plan,
                    created_by,
                    f"planned by {created_by or 'dfr'} in the air, taking the drone from "
                    f"flight {old.flight_id}; ETA {plan.eta_s:.0f} s",
                    clock,
                )
                self.ledger.record_launched(
                    session, row, author=created_by, eta_s=plan.eta_s, from_call_id=from_call_id
                )
                machine = FlightStateMachine(str(row.id), old.drone_id, clock)
                steps = [
                    machine.transition(
                        FlightPhase.UPLOADING,
                        reason="plan uploaded in the air (fence, rally and mission read back)",
                        snapshot=now_state,
                    ),
                    machine.transition(
                        FlightPhase.ARMED, reason="already armed and in the air", snapshot=now_state
                    ),
                    machine.transition(
                        FlightPhase.EN_ROUTE,
                        reason=(
                            f"taken over from flight {old.flight_id}: the vehicle accepted "
                            f"AUTO.MISSION in the air ({ack.attempts} tries)"
                        ),
                        snapshot=now_state,
                    ),
                ]
                book.apply_transitions(session, row, steps, machine.to_record())
                assert row.id is not None
                return row.id, machine

        try:
            flight_id, machine = await book.write_events(old, write)
        except Exception:
            log.exception(
                "flight %s: could not store the reassignment", old.flight_id, extra=old.log_fields
            )
            raise
        finally:
            book.forget(old)
        active = ActiveFlight.for_plan(flight_id, call_id, machine, clock, plan)
        active.tracker.note_command("start_mission")
        book.register(active)
        book.publish(old.flight_id)
        book.publish(flight_id)
        return flight_id
