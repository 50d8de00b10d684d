"""Flights: plan, launch, track and command drones, with every state change persisted and published.

The flight phase always follows the vehicle's own reports (flight.FlightTracker). Each transition
is stored as a flight event in the same transaction as what it causes elsewhere (call lifecycle,
CAD outbox rows, through the transition hooks), then published on the telemetry hub.

After a service restart, unfinished flights are adopted: once the drone's link is back, its mission
is downloaded and compared with the stored one, and tracking and commanding go on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import Any, Literal, Self

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from dfr.airspace import AirspaceService
from dfr.db import session_scope
from dfr.errors import ConflictError, DfrError, InvalidInputError, NotFoundError
from dfr.models import Dock, Drone, Flight, FlightEvent, TrackPoint
from dfr.planning import performance_of
from dfr.stream_payloads import flight_data
from dfr.telemetry_bridge import drone_frame
from flight import (
    REASSIGNABLE_PHASES,
    Clock,
    CommandAck,
    FleetLink,
    FlightError,
    FlightMode,
    FlightPhase,
    FlightPlan,
    FlightStateMachine,
    FlightTracker,
    FlightTransition,
    LinkState,
    MavCmd,
    MissionItem,
    MissionType,
    VehicleEvent,
    VehicleEventKind,
    VehicleId,
    VehicleLink,
    VehicleState,
    missions_match,
    plan_response,
    plan_response_from_air,
)
from geofence import Altitude, AltitudeDatum, GeoPoint
from lifecycle import TaskOwner
from telemetry import Hub, alert_message, drone_message, flight_message

log = logging.getLogger(__name__)

TERMINAL = frozenset({FlightPhase.COMPLETED, FlightPhase.ABORTED})
LOITER_COMMANDS = frozenset(
    {int(MavCmd.NAV_LOITER_UNLIM), int(MavCmd.NAV_LOITER_TURNS), int(MavCmd.NAV_LOITER_TIME)}
)
#: A transition hook runs inside the transaction that stores the transition (for call and outbox rows).
TransitionHook = Callable[[Session, Flight, FlightTransition], None]
#: Runs inside the transaction that creates a reassigned drone's new flight, before its transitions.
FlightCreatedHook = Callable[[Session, Flight, FlightPlan], None]
PilotCommand = Literal["hold", "resume", "goto", "orbit", "rtl", "land"]
LOW_BATTERY_ALERT_PCT = 25.0
ORBIT_SPEED_M_S = 5.0
TRACK_INTERVAL_S = 1.0


def items_to_json(items: Sequence[MissionItem]) -> list[dict[str, Any]]:
    """Mission items as JSON (NaN as null)."""

    def num(v: float) -> float | None:
        return None if math.isnan(v) else v

    return [
        {
            "command": int(i.command),
            "frame": int(i.frame),
            "param1": num(i.param1),
            "param2": num(i.param2),
            "param3": num(i.param3),
            "param4": num(i.param4),
            "x": i.x,
            "y": i.y,
            "z": num(i.z),
            "autocontinue": i.autocontinue,
            "mission_type": int(i.mission_type),
        }
        for i in items
    ]


def items_from_json(rows: Sequence[dict[str, Any]]) -> list[MissionItem]:
    """Mission items from `items_to_json` output."""

    def num(v: Any) -> float:
        return math.nan if v is None else float(v)

    return [
        MissionItem(
            command=int(r["command"]),
            frame=int(r["frame"]),
            param1=num(r["param1"]),
            param2=num(r["param2"]),
            param3=num(r["param3"]),
            param4=num(r["param4"]),
            x=int(r["x"]),
            y=int(r["y"]),
            z=num(r["z"]),
            autocontinue=bool(r["autocontinue"]),
            mission_type=MissionType(int(r["mission_type"])),
        )
        for r in rows
    ]


def _new_flight(
    session: Session,
    drone_id: str,
    call_id: int | None,
    target: GeoPoint,
    plan: FlightPlan,
    created_by: str,
    reason: str,
    clock: Clock,
) -> Flight:
    """A new planned flight row (with an id) and its first event, in `session`'s transaction."""
    row = Flight(
        drone_id=drone_id,
        call_id=call_id,
        state=str(FlightPhase.PLANNED),
        state_reason="planned",
        target_lat=target.lat_deg,
        target_lon=target.lon_deg,
        orbit_radius_m=plan.orbit_radius_m,
        created_by=created_by,
        plan=_plan_record(plan),
    )
    session.add(row)
    session.flush()
    assert row.id is not None
    session.add(
        FlightEvent(
            flight_id=row.id, at=clock.now(), to_state=str(FlightPhase.PLANNED), reason=reason
        )
    )
    return row


def _plan_record(plan: FlightPlan) -> dict[str, Any]:
    """A flight plan as stored with its flight (what adoption and the API read back)."""
    return {
        "summary": plan.summary(),
        "legs": plan.legs_geojson(),
        "mission_items": items_to_json(plan.mission_items),
        "fence_items": items_to_json(plan.fence_items),
        "rally_items": items_to_json(plan.rally_items),
        "on_scene_seq": _on_scene_seq(plan.mission_items),
    }


def _scene_of(row: Flight) -> GeoPoint:
    """Where a stored flight loiters: its stand-off point, or its target."""
    standoff = (row.plan or {}).get("summary", {}).get("standoff")
    if standoff:
        return GeoPoint(standoff["point"]["lat"], standoff["point"]["lon"])
    return GeoPoint(row.target_lat, row.target_lon)


def _on_scene_seq(items: Sequence[MissionItem]) -> int | None:
    for seq, item in enumerate(items):
        if int(item.command) in LOITER_COMMANDS:
            return seq
    return None


@dataclass
class _Active:
    """A flight the service is tracking."""

    flight_id: int
    drone_id: VehicleId
    call_id: int | None
    tracker: FlightTracker
    mission: list[MissionItem]
    scene: GeoPoint | None = None
    orbit_radius_m: float = 0.0
    orbit_alt_agl_m: float = 0.0
    orbiting: bool = False
    adopted: bool = True
    last_track_s: float = -math.inf
    low_battery_alerted: bool = False
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    #: Upload, arm and mission start, until they end; a recall before take-off cancels them.
    launching: asyncio.Task[None] | None = None
    #: The launch has sent ARM.
    arm_sent: bool = False


class FlightService(TaskOwner):
    """Owns the flights of the agency's drones over a running FleetLink."""

    def __init__(
        self,
        *,
        engine: Engine,
        fleet: FleetLink,
        airspace: AirspaceService,
        hub: Hub,
        clock: Clock,
        hooks: list[TransitionHook] | None = None,
        adopt_timeout_s: float = 120.0,
        launch_timeout_s: float = 90.0,
    ) -> None:
        super().__init__()
        self._engine = engine
        self._fleet = fleet
        self._airspace = airspace
        self._hub = hub
        self._clock = clock
        # Kept by reference: components started later (dispatch, CAD) add their hooks to it.
        self.hooks: list[TransitionHook] = hooks if hooks is not None else []
        self._adopt_timeout_s = adopt_timeout_s
        self._launch_timeout_s = launch_timeout_s
        self._active: dict[int, _Active] = {}
        self._by_drone: dict[VehicleId, int] = {}
        self._reserved: set[VehicleId] = (
            set()
        )  # launches between the readiness check and registration
        self._track_buffer: list[TrackPoint] = []

    # ------------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> Self:
        await super().__aenter__()
        self._spawn(self._watch_states())
        self._spawn(self._watch_events())
        self._spawn(self._flush_tracks_forever())
        await self._restore_unfinished()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await super().__aexit__(exc_type, exc, tb)
        with contextlib.suppress(Exception):
            await asyncio.to_thread(self._flush_tracks)

    # ------------------------------------------------------------------ queries

    def active_flight_of(self, drone_id: str) -> int | None:
        """The id of the drone's unfinished flight, if any."""
        return self._by_drone.get(VehicleId(drone_id))

    def live_state(self, drone_id: str) -> VehicleState | None:
        """The drone's latest reported state, or None when it has no link."""
        try:
            return self._fleet.vehicle(VehicleId(drone_id)).state()
        except FlightError:
            return None

    def live_frames(self) -> dict[str, dict[str, Any]]:
        """Every linked drone's latest state as map frames (JSON)."""
        out: dict[str, dict[str, Any]] = {}
        for vid, state in self._fleet.snapshot().items():
            frame = drone_frame(state, self._by_drone.get(vid))
            out[str(vid)] = frame.model_dump(mode="json")
        return out

    # ------------------------------------------------------------------ planning and launch

    def plan_for(
        self,
        session: Session,
        drone: Drone,
        target: GeoPoint,
        *,
        orbit_radius_m: float = 50.0,
        alt_agl_m: float | None = None,
        now: datetime | None = None,
    ) -> FlightPlan:
        """The response plan from the drone's dock to `target` (PlanRejectedError with reasons)."""
        dock = session.get(Dock, drone.dock_id)
        if dock is None:
            raise NotFoundError("dock", drone.dock_id)
        return plan_response(
            GeoPoint(dock.lat, dock.lon),
            target,
            self._airspace.airspace(),
            performance_of(drone),
            now or self._clock.now(),
            orbit_radius_m=orbit_radius_m,
            alt_agl_m=alt_agl_m,
        )

    def _check_ready(self, drone: Drone) -> None:
        if drone.in_maintenance:
            raise ConflictError(f"drone {drone.id} is in maintenance")
        if VehicleId(drone.id) in self._by_drone:
            raise ConflictError(
                f"drone {drone.id} is already flying flight {self._by_drone[VehicleId(drone.id)]}"
            )
        link = self._fleet.vehicle(VehicleId(drone.id))
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

        def create() -> tuple[int, FlightPlan]:
            with session_scope(self._engine) as session:
                drone = session.get(Drone, drone_id)
                if drone is None:
                    raise NotFoundError("drone", drone_id)
                self._check_ready(drone)
                flight_plan = plan or self.plan_for(
                    session, drone, target, orbit_radius_m=orbit_radius_m, alt_agl_m=alt_agl_m
                )
                row = _new_flight(
                    session,
                    drone.id,
                    call_id,
                    target,
                    flight_plan,
                    created_by,
                    f"planned by {created_by or 'dfr'}; ETA {flight_plan.eta_s:.0f} s",
                    self._clock,
                )
                machine = FlightStateMachine(str(row.id), VehicleId(drone.id), self._clock)
                row.machine = machine.to_record()
                assert row.id is not None
                return row.id, flight_plan

        vehicle = VehicleId(drone_id)
        if vehicle in self._reserved or vehicle in self._by_drone:
            raise ConflictError(f"drone {drone_id} is already being launched or flying")
        self._reserved.add(vehicle)
        try:
            flight_id, flight_plan = await asyncio.to_thread(create)
        finally:
            self._reserved.discard(vehicle)
        machine = FlightStateMachine(str(flight_id), VehicleId(drone_id), self._clock)
        active = _Active(
            flight_id=flight_id,
            drone_id=VehicleId(drone_id),
            call_id=call_id,
            tracker=FlightTracker.for_plan(machine, self._clock, flight_plan),
            mission=list(flight_plan.mission_items),
            scene=flight_plan.scene,
            orbit_radius_m=flight_plan.orbit_radius_m,
            orbit_alt_agl_m=flight_plan.orbit_alt_agl_m,
        )
        self._register(active)
        self._publish_flight(flight_id)
        active.launching = self._spawn(self._fly(active, flight_plan))
        return flight_id

    def _register(self, active: _Active) -> None:
        self._active[active.flight_id] = active
        self._by_drone[active.drone_id] = active.flight_id

    def _forget(self, active: _Active) -> None:
        self._active.pop(active.flight_id, None)
        if self._by_drone.get(active.drone_id) == active.flight_id:
            del self._by_drone[active.drone_id]

    async def _fly(self, active: _Active, plan: FlightPlan) -> None:
        link = self._fleet.vehicle(active.drone_id)
        async with active.lock:
            await self._store(active, [active.tracker.begin_upload(link.state())])
        try:
            async with asyncio.timeout(self._launch_timeout_s):
                await link.upload_fence(plan.fence_items)
                await link.upload_mission(plan.mission_items)
                await link.upload_rally(plan.rally_items)
                active.tracker.note_command("start_mission")
                active.arm_sent = True
                await link.arm()
                ack = await link.start_mission()
            await self._store_note(
                active, f"mission started: the vehicle accepted AUTO.MISSION ({ack.attempts} tries)"
            )
        except (FlightError, TimeoutError) as exc:
            reason = str(exc) or "launch timed out"
            log.warning("flight %s launch failed: %s", active.flight_id, reason)
            if link.state().armed and not link.state().in_air:
                with contextlib.suppress(FlightError):
                    await link.disarm()
            async with active.lock:
                machine = active.tracker.machine
                if machine.can(FlightPhase.ABORTED):
                    await self._store(active, [active.tracker.abort(f"launch failed: {reason}")])
                else:
                    await self._store_note(active, f"launch step failed: {reason}")

    # ------------------------------------------------------------------ reassignment in the air

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
        on_created: FlightCreatedHook | None = None,
    ) -> int:
        """Send an airborne drone from its flight to `target`; returns the new flight's id.

        The plan starts where the drone is; fence, rally and mission are uploaded and read back and
        the mission restarts in the air (the drone is never disarmed or re-armed). Only then does
        the old flight complete with `reason` and a new flight take over en route, in one
        transaction (`on_created` runs inside it). A refused plan (PlanRejectedError) or upload
        (ConflictError) leaves the old flight flying its own mission.
        """
        vehicle = VehicleId(drone_id)
        flight_id = self._by_drone.get(vehicle)
        if flight_id is None or flight_id not in self._active:
            raise ConflictError(f"drone {drone_id} has no flight to be reassigned from")
        if vehicle in self._reserved:
            raise ConflictError(f"drone {drone_id} is already being launched or reassigned")
        old = self._active[flight_id]
        if from_call_id is not None and old.call_id != from_call_id:
            raise ConflictError(
                f"drone {drone_id} is flying flight {flight_id} for call {old.call_id}, "
                f"not for call {from_call_id}"
            )
        self._reserved.add(vehicle)
        try:
            # The old flight's lock: its tracker stands still while its mission is being replaced.
            async with old.lock:
                link, state = self._check_reassignable(old)
                plan = await asyncio.to_thread(
                    self._plan_from_air, drone_id, state, target, orbit_radius_m, alt_agl_m
                )
                ack = await self._upload_retask(old, link, plan, state)
                return await self._hand_over(
                    old, link, plan, ack, target, call_id, reason, created_by, on_created
                )
        finally:
            self._reserved.discard(vehicle)

    def _check_reassignable(self, old: _Active) -> tuple[VehicleLink, VehicleState]:
        if not old.adopted:
            raise ConflictError(f"flight {old.flight_id} is still being adopted after a restart")
        phase = old.tracker.phase
        if phase not in REASSIGNABLE_PHASES:
            raise ConflictError(
                f"flight {old.flight_id} is {phase}; only a drone en route, on scene or returning "
                "can be reassigned"
            )
        link = self._fleet.vehicle(old.drone_id)
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
        assert state.position is not None and state.alt_agl_m is not None
        with Session(self._engine) as session:
            drone = session.get(Drone, drone_id)
            if drone is None:
                raise NotFoundError("drone", drone_id)
            dock = session.get(Dock, drone.dock_id)
            if dock is None:
                raise NotFoundError("dock", drone.dock_id)
            performance = performance_of(drone)
        return plan_response_from_air(
            state.position,
            max(0.0, state.alt_agl_m),
            GeoPoint(dock.lat, dock.lon),
            target,
            self._airspace.airspace(),
            performance,
            self._clock.now(),
            orbit_radius_m=orbit_radius_m,
            alt_agl_m=alt_agl_m,
        )

    async def _upload_retask(
        self, old: _Active, link: VehicleLink, plan: FlightPlan, before: VehicleState
    ) -> CommandAck:
        sent: list[MissionType] = []
        try:
            async with asyncio.timeout(self._launch_timeout_s):
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
            log.warning("flight %s: reassignment refused: %s", old.flight_id, why)
            restored = await self._restore_plan(old, link, sent, before)
            await self._store_note(old, f"reassignment refused by the vehicle ({why}); {restored}")
            raise ConflictError(
                f"drone {old.drone_id} did not take the new mission ({why}); "
                f"it keeps flying flight {old.flight_id}"
            ) from exc

    async def _restore_plan(
        self, old: _Active, link: VehicleLink, sent: Sequence[MissionType], before: VehicleState
    ) -> str:
        """Put back what a refused reassignment changed on the vehicle; says how that went."""
        if not sent:
            return "nothing was changed on the vehicle"
        try:
            row = await asyncio.to_thread(self._flight_row, old.flight_id)
            async with asyncio.timeout(self._launch_timeout_s):
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
        old: _Active,
        link: VehicleLink,
        plan: FlightPlan,
        ack: CommandAck,
        target: GeoPoint,
        call_id: int | None,
        reason: str,
        created_by: str,
        on_created: FlightCreatedHook | None,
    ) -> int:
        """The vehicle flies the new plan: the old flight completes and a new one goes on en route."""
        now_state = link.state()
        ended = old.tracker.machine.transition(
            FlightPhase.COMPLETED, reason=reason, snapshot=now_state
        )
        old_record = old.tracker.machine.to_record()

        def write() -> tuple[int, FlightStateMachine]:
            with session_scope(self._engine) as session:
                old_row = session.get(Flight, old.flight_id)
                if old_row is not None:
                    self._apply_transitions(session, old_row, [ended], old_record)
                row = _new_flight(
                    session,
                    str(old.drone_id),
                    call_id,
                    target,
                    plan,
                    created_by,
                    f"planned by {created_by or 'dfr'} in the air, taking the drone from "
                    f"flight {old.flight_id}; ETA {plan.eta_s:.0f} s",
                    self._clock,
                )
                if on_created is not None:
                    on_created(session, row, plan)
                machine = FlightStateMachine(str(row.id), old.drone_id, self._clock)
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
                self._apply_transitions(session, row, steps, machine.to_record())
                assert row.id is not None
                return row.id, machine

        try:
            flight_id, machine = await asyncio.to_thread(write)
        except Exception:
            log.exception("flight %s: could not store the reassignment", old.flight_id)
            raise
        finally:
            self._forget(old)
        tracker = FlightTracker.for_plan(machine, self._clock, plan)
        tracker.note_command("start_mission")
        self._register(
            _Active(
                flight_id=flight_id,
                drone_id=old.drone_id,
                call_id=call_id,
                tracker=tracker,
                mission=list(plan.mission_items),
                scene=plan.scene,
                orbit_radius_m=plan.orbit_radius_m,
                orbit_alt_agl_m=plan.orbit_alt_agl_m,
            )
        )
        self._publish_flight(old.flight_id)
        self._publish_flight(flight_id)
        return flight_id

    # ------------------------------------------------------------------ commands

    def _flight_row(self, flight_id: int) -> Flight:
        with Session(self._engine) as session:
            row = session.get(Flight, flight_id)
            if row is None:
                raise NotFoundError("flight", flight_id)
            return row

    async def command(
        self,
        flight_id: int,
        command: PilotCommand,
        *,
        lat: float | None = None,
        lon: float | None = None,
        alt_agl_m: float | None = None,
        radius_m: float | None = None,
        speed_mps: float | None = None,
    ) -> CommandAck:
        """Send a pilot command; geofence refuses an illegal go-to or orbit before anything is sent."""
        active = self._active.get(flight_id)
        if active is None:
            row = await asyncio.to_thread(self._flight_row, flight_id)
            raise ConflictError(f"flight {flight_id} is {row.state}; it takes no commands")
        link = self._fleet.vehicle(active.drone_id)
        state = link.state()
        if command in ("goto", "orbit"):
            point = self._command_point(active, lat, lon)
            alt = alt_agl_m
            if alt is None:
                alt = state.alt_agl_m if state.alt_agl_m is not None else 60.0
            self._check_legal(point, alt)
            home_amsl = state.home_alt_amsl_m
            if home_amsl is None:
                raise ConflictError(f"drone {active.drone_id} has not reported its home altitude")
            altitude = Altitude(home_amsl + alt, AltitudeDatum.AMSL)
            if command == "goto":
                active.tracker.note_command("goto")
                ack = await link.goto(point, altitude, speed_mps)
            else:
                radius = radius_m if radius_m is not None else 50.0
                active.tracker.note_command("orbit")
                ack = await link.orbit(point, radius, speed_mps or 5.0, altitude)
        elif command == "hold":
            active.tracker.note_command("hold")
            ack = await link.hold()
        elif command == "resume":
            active.tracker.note_command("resume")
            ack = await link.resume()
        elif command == "rtl":
            active.tracker.note_command("rtl")
            ack = await link.return_to_launch()
        elif command == "land":
            active.tracker.note_command("land")
            ack = await link.land()
        else:  # pragma: no cover - the API model refuses other values
            raise InvalidInputError(f"unknown command {command!r}", field="command")
        await self._store_note(active, f"pilot command {command} accepted by the vehicle")
        return ack

    def _command_point(self, active: _Active, lat: float | None, lon: float | None) -> GeoPoint:
        if lat is None and lon is None:
            target = active.tracker.target
            if target is None:
                raise InvalidInputError("lat and lon are required", field="lat")
            return target
        if lat is None or lon is None:
            raise InvalidInputError("lat and lon are given together", field="lat")
        return GeoPoint(lat, lon)

    def _check_legal(self, point: GeoPoint, alt_agl_m: float) -> None:
        violations = self._airspace.airspace().check_point(
            point, Altitude(alt_agl_m, AltitudeDatum.AGL), self._clock.now()
        )
        if violations:
            raise InvalidInputError(
                "refused by the geofence: " + "; ".join(v.reason for v in violations),
                field="target",
            )

    def _maybe_orbit(self, active: _Active) -> None:
        """On arrival, circle the scene: a multicopter hovers at the plan's loiter item otherwise."""
        if active.orbiting or active.orbit_radius_m <= 0 or active.scene is None:
            return
        active.orbiting = True
        self._spawn(self._orbit_scene(active))

    async def _orbit_scene(self, active: _Active) -> None:
        link = self._fleet.vehicle(active.drone_id)
        home_amsl = link.state().home_alt_amsl_m
        assert active.scene is not None
        try:
            if home_amsl is None:
                raise ConflictError("the vehicle has not reported its home altitude")
            # Under the flight's lock: a reassignment in progress must not be undone by an orbit
            # over the old scene, and a flight that has just been handed over orbits nothing.
            async with active.lock:
                if self._active.get(active.flight_id) is not active:
                    return
                active.tracker.note_command("orbit")
                await link.orbit(
                    active.scene,
                    active.orbit_radius_m,
                    ORBIT_SPEED_M_S,
                    Altitude(home_amsl + active.orbit_alt_agl_m, AltitudeDatum.AMSL),
                )
        except (FlightError, DfrError) as exc:
            await self._store_note(active, f"orbit over the scene refused, hovering: {exc}")
            return
        await self._store_note(
            active, f"orbiting the scene at {active.orbit_radius_m:.0f} m radius"
        )

    async def recall(self, flight_id: int, reason: str) -> None:
        """End a flight's task: return to the dock (or abort it if it has not taken off)."""
        active = self._active.get(flight_id)
        if active is None:
            return
        link = self._fleet.vehicle(active.drone_id)
        if await self._stop_launch(active, link):
            async with active.lock:
                if active.tracker.machine.can(FlightPhase.ABORTED):
                    await self._store(active, [active.tracker.abort(f"recalled: {reason}")])
            return
        state = link.state()
        seq = active.tracker.on_scene_seq
        if (
            active.tracker.phase == FlightPhase.ON_SCENE
            and state.mode in (FlightMode.MISSION, FlightMode.ORBIT, FlightMode.HOLD)
            and seq is not None
            and seq + 1 < len(active.mission)
        ):
            # Over the scene: fly the planned (legal) return route home rather than PX4's straight RTL.
            await link.set_mission_current(seq + 1)
            if state.mode != FlightMode.MISSION:
                active.tracker.note_command("resume")
                await link.resume()
            await self._store_note(active, f"released to the planned return: {reason}")
            return
        active.tracker.note_command("rtl")
        await link.return_to_launch()
        await self._store_note(active, f"recalled to the dock: {reason}")

    async def _stop_launch(self, active: _Active, link: VehicleLink) -> bool:
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
                    "flight %s: disarm after a stopped launch refused: %s", active.flight_id, exc
                )
                return False
        return True

    # ------------------------------------------------------------------ observation

    async def _watch_states(self) -> None:
        async for state in self._fleet.states():
            flight_id = self._by_drone.get(state.vehicle_id)
            self._hub.publish(drone_message(drone_frame(state, flight_id), state.time))
            if flight_id is None:
                continue
            active = self._active.get(flight_id)
            if active is None or not active.adopted:
                continue
            self._record_track(active, state)
            self._battery_alert(active, state)
            if active.lock.locked():
                continue  # a launch step is storing; the next state snapshot catches up
            async with active.lock:
                transitions = active.tracker.observe(state)
                if transitions:
                    await self._store(active, transitions)
            if any(t.to_phase == FlightPhase.ON_SCENE for t in transitions):
                self._maybe_orbit(active)

    async def _watch_events(self) -> None:
        async for event in self._fleet.events():
            flight_id = self._by_drone.get(event.vehicle_id)
            active = self._active.get(flight_id) if flight_id is not None else None
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
        if event.kind == VehicleEventKind.STATUSTEXT and (event.severity or 6) <= 4:
            level = "critical" if (event.severity or 6) <= 2 else "warning"
        elif event.kind == VehicleEventKind.LINK and event.extra.get("state") == "lost":
            # A degraded link shows on the drone itself; only a lost one is worth an alert.
            level = "critical"
        if level is None:
            return
        at = event.time
        self._hub.publish(
            alert_message(
                f"{event.vehicle_id}:{event.kind}:{at.timestamp():.3f}",
                {
                    "severity": level,
                    "drone_id": str(event.vehicle_id),
                    "flight_id": flight_id,
                    "kind": "link_lost" if event.kind == VehicleEventKind.LINK else "vehicle",
                    "text": f"{event.vehicle_id}: {event.detail}",
                },
                at,
            )
        )

    def _battery_alert(self, active: _Active, state: VehicleState) -> None:
        pct = state.battery_pct
        if pct is None or active.low_battery_alerted or pct > LOW_BATTERY_ALERT_PCT:
            return
        active.low_battery_alerted = True
        self._hub.publish(
            alert_message(
                f"{active.drone_id}:battery:{active.flight_id}",
                {
                    "severity": "warning",
                    "drone_id": str(active.drone_id),
                    "flight_id": active.flight_id,
                    "kind": "low_battery",
                    "text": f"{active.drone_id} battery at {pct:.0f} %",
                },
                state.time,
            )
        )

    def _record_track(self, active: _Active, state: VehicleState) -> None:
        now_s = self._clock.monotonic()
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

    async def _flush_tracks_forever(self) -> None:
        while True:
            await asyncio.sleep(2.0)
            if self._track_buffer:
                await asyncio.to_thread(self._flush_tracks)

    def _flush_tracks(self) -> None:
        batch, self._track_buffer = self._track_buffer, []
        if not batch:
            return
        with session_scope(self._engine) as session:
            session.add_all(batch)

    # ------------------------------------------------------------------ persistence

    async def _store(self, active: _Active, transitions: Sequence[FlightTransition]) -> None:
        machine = active.tracker.machine
        record = machine.to_record()

        def write() -> None:
            with session_scope(self._engine) as session:
                row = session.get(Flight, active.flight_id)
                if row is None:
                    return
                self._apply_transitions(session, row, transitions, record)

        try:
            await asyncio.to_thread(write)
        except Exception:
            log.exception("could not store transitions of flight %s", active.flight_id)
            raise
        if machine.finished:
            self._forget(active)
        self._publish_flight(active.flight_id)

    def _apply_transitions(
        self,
        session: Session,
        row: Flight,
        transitions: Sequence[FlightTransition],
        record: dict[str, Any],
    ) -> None:
        """Store transitions as flight events on `row` and run the hooks, in the caller's transaction."""
        assert row.id is not None
        for t in transitions:
            session.add(
                FlightEvent(
                    flight_id=row.id,
                    at=t.time,
                    from_state=str(t.from_phase),
                    to_state=str(t.to_phase),
                    reason=(t.reason + (f" (cause: {t.cause})" if t.cause else ""))[:1000],
                    snapshot=t.as_record().get("snapshot") or {},
                )
            )
            row.state = str(t.to_phase)
            row.state_reason = t.reason[:1000]
            row.updated_at = t.time
            if t.to_phase == FlightPhase.EN_ROUTE and row.started_at is None:
                row.started_at = t.time
            if t.to_phase in TERMINAL:
                row.ended_at = t.time
            row.machine = record
            session.add(row)
            session.flush()
            for hook in self.hooks:
                hook(session, row, t)

    async def _store_note(self, active: _Active, text: str) -> None:
        def write() -> None:
            with session_scope(self._engine) as session:
                row = session.get(Flight, active.flight_id)
                if row is None:
                    return
                session.add(
                    FlightEvent(
                        flight_id=active.flight_id,
                        at=self._clock.now(),
                        from_state=row.state,
                        to_state=row.state,
                        reason=text[:1000],
                    )
                )

        await asyncio.to_thread(write)

    def _publish_flight(self, flight_id: int) -> None:
        try:
            row = self._flight_row(flight_id)
        except NotFoundError:
            return
        self._hub.publish(flight_message(flight_id, flight_data(row), self._clock.now()))

    # ------------------------------------------------------------------ adoption after restart

    async def _restore_unfinished(self) -> None:
        def load() -> list[Flight]:
            with Session(self._engine) as session:
                return list(
                    session.exec(
                        select(Flight).where(col(Flight.state).not_in([str(p) for p in TERMINAL]))
                    ).all()
                )

        for row in await asyncio.to_thread(load):
            assert row.id is not None
            record = row.machine or {
                "flight_id": str(row.id),
                "vehicle_id": row.drone_id,
                "phase": row.state,
            }
            machine = FlightStateMachine.from_record(record, self._clock)
            mission = items_from_json(row.plan.get("mission_items", []))
            summary = row.plan.get("summary", {})
            active = _Active(
                flight_id=row.id,
                drone_id=VehicleId(row.drone_id),
                call_id=row.call_id,
                tracker=FlightTracker(
                    machine,
                    self._clock,
                    on_scene_seq=row.plan.get("on_scene_seq"),
                    target=GeoPoint(row.target_lat, row.target_lon),
                ),
                mission=mission,
                scene=_scene_of(row),
                orbit_radius_m=float(summary.get("orbit_radius_m") or 0.0),
                orbit_alt_agl_m=float(summary.get("orbit_alt_agl_m") or 0.0),
                orbiting=machine.phase == FlightPhase.ON_SCENE,
                adopted=False,
            )
            if active.drone_id not in self._fleet.vehicle_ids():
                log.warning("flight %s: drone %s has no link; cannot adopt", row.id, row.drone_id)
                continue
            self._register(active)
            self._spawn(self._adopt(active))

    async def _adopt(self, active: _Active) -> None:
        link = self._fleet.vehicle(active.drone_id)
        try:
            state = await link.wait_connected(self._adopt_timeout_s)
            downloaded = await link.download_mission(MissionType.MISSION)
        except FlightError as exc:
            await self._store_note(active, f"not adopted after restart: {exc}")
            active.adopted = True  # keep following the vehicle's reports anyway
            return
        phase = active.tracker.machine.phase
        if phase in (FlightPhase.PLANNED, FlightPhase.UPLOADING) and not state.armed:
            async with active.lock:
                await self._store(
                    active, [active.tracker.abort("the service restarted before take-off")]
                )
            return
        if missions_match(active.mission, downloaded):
            await self._store_note(active, "adopted after restart: vehicle mission matches")
        else:
            await self._store_note(
                active, "adopted after restart, but the vehicle's mission differs from the plan"
            )
        active.adopted = True
