"""Privacy in transit: the camera looks at the horizon on the way to a call and home, and records only on scene.

The agency's policy (`DFR_PRIVACY__TRANSIT_MODE`, on by default) applies to every flight until a
pilot or dispatcher lifts it for that flight with a reason ("search", "location unclear"); the lift
is stored on the flight, audited, and noted to CAD. The camera is pointed through PX4's gimbal
manager (`aim_camera`) when the vehicle has reported one; otherwise, or when the vehicle refuses,
that is logged and changes nothing else: recording is gated here, whatever the camera points at.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session

from dfr.call_ledger import CallLedger
from dfr.errors import ConflictError
from dfr.models import Drone, Flight, get_row, utcnow
from dfr.settings import PrivacySettings
from dfr.video_service import FlightRecordingHook
from flight import FleetLink, FlightError, FlightPhase, FlightTransition, VehicleId

log = logging.getLogger(__name__)

#: Phases in which a private flight's camera looks at the horizon.
TRANSIT_PHASES = frozenset({FlightPhase.EN_ROUTE, FlightPhase.RETURNING})
#: A flight in one of these phases has ended: nothing is left to lift.
ENDED_PHASES = frozenset({FlightPhase.LANDED, FlightPhase.COMPLETED, FlightPhase.ABORTED})


def private_in_transit(policy: PrivacySettings, flight: Flight) -> bool:
    """Whether `flight` flies under privacy in transit (policy on and not lifted for it)."""
    return policy.transit_mode and flight.privacy_lifted_at is None


def scene_pitch_deg(alt_agl_m: float | None, orbit_radius_m: float) -> float:
    """Gimbal pitch that looks at the scene from an orbit of `orbit_radius_m` (nose toward its centre)."""
    if alt_agl_m is None or not math.isfinite(alt_agl_m) or orbit_radius_m <= 0:
        return -90.0
    return -math.degrees(math.atan2(max(alt_agl_m, 0.0), orbit_radius_m))


class CameraAim:
    """Flight transition sink that points each flight's camera as the privacy policy asks.

    Like the recording hook it runs inside the storing transaction, so it only decides; the
    command goes to the vehicle once the transaction has committed, in order per drone.
    """

    def __init__(
        self, fleet: FleetLink, loop: asyncio.AbstractEventLoop, policy: PrivacySettings
    ) -> None:
        self._fleet = fleet
        self._loop = loop
        self._policy = policy
        self._chains: dict[str, asyncio.Task[None]] = {}  # touched on the loop only

    def on_transition(self, session: Session, flight: Flight, transition: FlightTransition) -> None:
        """Schedule the camera move `transition` calls for (called by the flight service)."""
        if not self._policy.transit_mode:
            return  # the agency does not use privacy in transit: the camera is the pilot's
        pitch: Callable[[], float]
        if transition.to_phase in TRANSIT_PHASES and private_in_transit(self._policy, flight):
            horizon = self._policy.horizon_pitch_deg
            pitch = lambda: horizon  # noqa: E731
        elif transition.to_phase == FlightPhase.ON_SCENE:
            pitch = self._scene_pitch(flight.drone_id, flight.orbit_radius_m)
        else:
            return
        drone_id = flight.drone_id

        def committed(_: object) -> None:
            try:
                self._loop.call_soon_threadsafe(self.aim, drone_id, pitch)
            except RuntimeError:  # the loop is closed: the service is shutting down
                pass

        event.listen(session, "after_commit", committed, once=True)

    def _scene_pitch(self, drone_id: str, orbit_radius_m: float) -> Callable[[], float]:
        def pitch() -> float:
            # Read when the command goes out: the height the vehicle orbits at, not a planned one.
            state = self._fleet.vehicle(VehicleId(drone_id)).state()
            return scene_pitch_deg(state.alt_agl_m, orbit_radius_m)

        return pitch

    def aim(self, drone_id: str, pitch: Callable[[], float]) -> None:
        """Point the drone's camera (on the loop), after any move already scheduled for it."""
        previous = self._chains.get(drone_id)
        task = self._loop.create_task(
            self._aim_after(previous, drone_id, pitch), name=f"camera-aim-{drone_id}"
        )
        self._chains[drone_id] = task

        def forget(done: asyncio.Task[None]) -> None:
            if self._chains.get(drone_id) is done:
                del self._chains[drone_id]

        task.add_done_callback(forget)

    async def _aim_after(
        self, previous: asyncio.Task[None] | None, drone_id: str, pitch: Callable[[], float]
    ) -> None:
        if previous is not None:
            await asyncio.wait([previous])
        try:
            link = self._fleet.vehicle(VehicleId(drone_id))
            if link.state().gimbal_pitch_deg is None:
                # No gimbal manager has reported: PX4 without one leaves gimbal commands
                # unanswered, and retrying them would hold the link's commands for seconds.
                log.info("drone %s: no gimbal reported; camera not pointed", drone_id)
                return
            pitch_deg = pitch()
            await link.aim_camera(pitch_deg)
        except FlightError as exc:
            log.warning("drone %s: camera not pointed: %s", drone_id, exc)
            return
        log.info("drone %s: camera pointed at %.0f deg pitch", drone_id, pitch_deg)

    async def aclose(self) -> None:
        """Wait briefly for moves already sent."""
        pending = list(self._chains.values())
        if pending:
            await asyncio.wait(pending, timeout=5)


class PrivacyLifts:
    """Lifts privacy in transit for one flight: stored, noted to CAD, recorded from now on."""

    def __init__(
        self,
        *,
        engine: Engine,
        ledger: CallLedger,
        recordings: FlightRecordingHook,
        camera: CameraAim,
        policy: PrivacySettings,
    ) -> None:
        self._engine = engine
        self._ledger = ledger
        self._recordings = recordings
        self._camera = camera
        self._policy = policy

    async def lift(self, flight_id: int, *, reason: str, by: str) -> Flight:
        """Lift privacy for `flight_id` (ConflictError if it has ended or was already lifted)."""
        row, video_url = await asyncio.to_thread(self._store, flight_id, reason, by)
        if video_url and row.state not in ENDED_PHASES:
            if row.state in (FlightPhase.EN_ROUTE, FlightPhase.ON_SCENE, FlightPhase.RETURNING):
                self._recordings.privacy_lifted(flight_id, row.drone_id, video_url)
        if self._policy.transit_mode and row.state in TRANSIT_PHASES:
            search = self._policy.search_pitch_deg
            self._camera.aim(row.drone_id, lambda: search)
        return row

    def _store(self, flight_id: int, reason: str, by: str) -> tuple[Flight, str | None]:
        with Session(self._engine, expire_on_commit=False) as session:
            row = get_row(session, Flight, flight_id)
            if row.state in ENDED_PHASES:
                raise ConflictError(f"flight {flight_id} is {row.state}; privacy cannot be lifted")
            if row.privacy_lifted_at is not None:
                raise ConflictError(
                    f"privacy was already lifted for flight {flight_id} by "
                    f"{row.privacy_lifted_by}: {row.privacy_lift_reason}"
                )
            row.privacy_lifted_at = utcnow()
            row.privacy_lifted_by = by[:200]
            row.privacy_lift_reason = reason
            session.add(row)
            if row.call_id is not None:
                self._ledger.add_note(
                    session,
                    row.call_id,
                    author=by,
                    text=f"Drone {row.drone_id}: privacy in transit lifted ({reason}); "
                    "the camera may look down and records until the flight ends.",
                )
            drone = session.get(Drone, row.drone_id)
            session.commit()
            return row, drone.video_url if drone is not None else None
