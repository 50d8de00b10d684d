"""The flight state machine: an explicit table of allowed transitions, each one an event.

    planned -> uploading -> armed -> en_route -> on_scene -> returning -> landed -> completed
plus aborted(reason) before take-off, failsafe(cause) and link_lost from any active phase, and
completed(reason) straight from en_route, on_scene or returning when the drone is reassigned in the
air to another call (a new flight takes over the same vehicle). The CAD unit
status (Dispatched, EnRoute, OnScene, Cleared) that goes with a phase is attached to the transition
that changes it, for the CAD bridge.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from flight.clock import Clock
from flight.errors import IllegalTransitionError
from flight.models import VehicleId, VehicleState


class FlightPhase(StrEnum):
    """Where a flight is in its life."""

    PLANNED = "planned"
    UPLOADING = "uploading"
    ARMED = "armed"
    EN_ROUTE = "en_route"
    ON_SCENE = "on_scene"
    RETURNING = "returning"
    LANDED = "landed"
    COMPLETED = "completed"
    ABORTED = "aborted"
    FAILSAFE = "failsafe"
    LINK_LOST = "link_lost"


class FailsafeCause(StrEnum):
    """Why the vehicle took over, from its own mode and STATUSTEXT."""

    LINK_LOSS = "link_loss"
    GEOFENCE = "geofence"
    BATTERY = "battery"
    OTHER = "other"


class CadUnitStatus(StrEnum):
    """Unit status the CAD bridge reports for the drone."""

    DISPATCHED = "Dispatched"
    EN_ROUTE = "EnRoute"
    ON_SCENE = "OnScene"
    CLEARED = "Cleared"


_P = FlightPhase
_AIRBORNE_EXITS = frozenset({_P.FAILSAFE, _P.LINK_LOST, _P.LANDED})
#: Phases from which a drone may be reassigned in the air: its flight then completes there.
REASSIGNABLE_PHASES = frozenset({_P.EN_ROUTE, _P.ON_SCENE, _P.RETURNING})

#: The only transitions a flight may take.
TRANSITIONS: dict[FlightPhase, frozenset[FlightPhase]] = {
    _P.PLANNED: frozenset({_P.UPLOADING, _P.ABORTED}),
    _P.UPLOADING: frozenset({_P.ARMED, _P.ABORTED, _P.LINK_LOST}),
    _P.ARMED: frozenset({_P.EN_ROUTE, _P.ABORTED, _P.FAILSAFE, _P.LINK_LOST}),
    _P.EN_ROUTE: frozenset({_P.ON_SCENE, _P.RETURNING, _P.COMPLETED} | _AIRBORNE_EXITS),
    _P.ON_SCENE: frozenset({_P.EN_ROUTE, _P.RETURNING, _P.COMPLETED} | _AIRBORNE_EXITS),
    _P.RETURNING: frozenset({_P.EN_ROUTE, _P.ON_SCENE, _P.COMPLETED} | _AIRBORNE_EXITS),
    _P.FAILSAFE: frozenset({_P.RETURNING, _P.EN_ROUTE, _P.ON_SCENE, _P.LANDED, _P.LINK_LOST}),
    _P.LINK_LOST: frozenset(
        {_P.ARMED, _P.EN_ROUTE, _P.ON_SCENE, _P.RETURNING, _P.FAILSAFE, _P.LANDED, _P.ABORTED}
    ),
    _P.LANDED: frozenset({_P.COMPLETED}),
    _P.COMPLETED: frozenset(),
    _P.ABORTED: frozenset(),
}

TERMINAL_PHASES = frozenset({_P.COMPLETED, _P.ABORTED})

_CAD_STATUS: dict[FlightPhase, CadUnitStatus | None] = {
    _P.PLANNED: CadUnitStatus.DISPATCHED,
    _P.UPLOADING: CadUnitStatus.DISPATCHED,
    _P.ARMED: CadUnitStatus.DISPATCHED,
    _P.EN_ROUTE: CadUnitStatus.EN_ROUTE,
    _P.ON_SCENE: CadUnitStatus.ON_SCENE,
    _P.RETURNING: CadUnitStatus.CLEARED,
    _P.LANDED: CadUnitStatus.CLEARED,
    _P.COMPLETED: CadUnitStatus.CLEARED,
    _P.ABORTED: CadUnitStatus.CLEARED,
    _P.FAILSAFE: None,  # unchanged: the unit is still committed until it turns back
    _P.LINK_LOST: None,
}


def cad_status_for(phase: FlightPhase) -> CadUnitStatus | None:
    """CAD unit status of a phase (None: leave the current status)."""
    return _CAD_STATUS[phase]


@dataclass(frozen=True, slots=True)
class FlightTransition:
    """One transition of a flight: the event that is stored and published."""

    flight_id: str
    vehicle_id: VehicleId
    time: datetime
    from_phase: FlightPhase
    to_phase: FlightPhase
    reason: str = ""
    cause: FailsafeCause | None = None
    cad_status: CadUnitStatus | None = None  # set only when this transition changes it
    snapshot: VehicleState | None = field(default=None, compare=False)

    @property
    def reassigned(self) -> bool:
        """True when this ends a flight in the air because its drone was given to another call."""
        return self.to_phase == FlightPhase.COMPLETED and self.from_phase in REASSIGNABLE_PHASES

    def as_record(self) -> dict[str, Any]:
        """A JSON-ready dict for persistence (snapshot summarised)."""
        snap = self.snapshot
        return {
            "flight_id": self.flight_id,
            "vehicle_id": self.vehicle_id,
            "time": self.time.isoformat(),
            "from": str(self.from_phase),
            "to": str(self.to_phase),
            "reason": self.reason,
            "cause": None if self.cause is None else str(self.cause),
            "cad_status": None if self.cad_status is None else str(self.cad_status),
            "snapshot": None
            if snap is None
            else {
                "lat_deg": None if snap.position is None else snap.position.lat_deg,
                "lon_deg": None if snap.position is None else snap.position.lon_deg,
                "alt_amsl_m": snap.alt_amsl_m,
                "alt_agl_m": snap.alt_agl_m,
                "mode": str(snap.mode),
                "armed": snap.armed,
                "landed_state": snap.landed_state.name,
                "battery_pct": snap.battery_pct,
                "link": str(snap.link),
                "mission_current_seq": snap.mission_current_seq,
            },
        }


class FlightStateMachine:
    """The phase of one flight; every change goes through `transition`, checked against TRANSITIONS."""

    def __init__(
        self,
        flight_id: str,
        vehicle_id: VehicleId,
        clock: Clock,
        *,
        phase: FlightPhase = FlightPhase.PLANNED,
        cad_status: CadUnitStatus | None = None,
        phase_before_link_loss: FlightPhase | None = None,
    ) -> None:
        self.flight_id = flight_id
        self.vehicle_id = vehicle_id
        self._clock = clock
        self._phase = phase
        self._cad_status = cad_status if cad_status is not None else cad_status_for(phase)
        self.phase_before_link_loss = phase_before_link_loss
        self.history: list[FlightTransition] = []
        self.abort_reason: str | None = None
        self.failsafe_cause: FailsafeCause | None = None

    @property
    def phase(self) -> FlightPhase:
        """Current phase."""
        return self._phase

    @property
    def cad_status(self) -> CadUnitStatus | None:
        """CAD unit status last emitted."""
        return self._cad_status

    @property
    def finished(self) -> bool:
        """True once completed or aborted."""
        return self._phase in TERMINAL_PHASES

    def can(self, to: FlightPhase) -> bool:
        """True if the table allows moving to `to` now."""
        return to in TRANSITIONS[self._phase]

    def transition(
        self,
        to: FlightPhase,
        *,
        reason: str = "",
        cause: FailsafeCause | None = None,
        snapshot: VehicleState | None = None,
    ) -> FlightTransition:
        """Move to `to`; raises IllegalTransitionError if the table does not allow it."""
        if not self.can(to):
            raise IllegalTransitionError(self.flight_id, self._phase, to)
        if to == FlightPhase.ABORTED and not reason:
            raise ValueError("an abort needs a reason")
        if to == FlightPhase.COMPLETED and self._phase in REASSIGNABLE_PHASES and not reason:
            raise ValueError("completing a flight in the air needs a reason (the reassignment)")
        if to == FlightPhase.FAILSAFE and cause is None:
            raise ValueError("a failsafe needs a cause")
        if to == FlightPhase.LINK_LOST:
            self.phase_before_link_loss = self._phase
        status = cad_status_for(to)
        changed_status = status if status is not None and status != self._cad_status else None
        if changed_status is not None:
            self._cad_status = changed_status
        event = FlightTransition(
            self.flight_id,
            self.vehicle_id,
            self._clock.now(),
            self._phase,
            to,
            reason,
            cause,
            changed_status,
            snapshot,
        )
        self._phase = to
        if to == FlightPhase.ABORTED:
            self.abort_reason = reason
        if to == FlightPhase.FAILSAFE:
            self.failsafe_cause = cause
        self.history.append(event)
        return event

    def to_record(self) -> dict[str, Any]:
        """What must be persisted to restore this machine after a restart."""
        return {
            "flight_id": self.flight_id,
            "vehicle_id": self.vehicle_id,
            "phase": str(self._phase),
            "cad_status": None if self._cad_status is None else str(self._cad_status),
            "phase_before_link_loss": None
            if self.phase_before_link_loss is None
            else str(self.phase_before_link_loss),
        }

    @classmethod
    def from_record(cls, record: dict[str, Any], clock: Clock) -> FlightStateMachine:
        """Restore from `to_record()` output (after a service restart)."""
        before = record.get("phase_before_link_loss")
        status = record.get("cad_status")
        return cls(
            str(record["flight_id"]),
            VehicleId(str(record["vehicle_id"])),
            clock,
            phase=FlightPhase(record["phase"]),
            cad_status=None if status is None else CadUnitStatus(status),
            phase_before_link_loss=None if before is None else FlightPhase(before),
        )
