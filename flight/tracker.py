"""Derives a flight's phase from the vehicle's own reports, never from what we assume it does.

Inputs are `VehicleState` snapshots (mode, armed, landed state, mission current, link) and
`VehicleEvent`s (STATUSTEXT, mission item reached). Commands we sent are noted with
`note_command()` so a mode change we asked for is not mistaken for a vehicle failsafe. A report
that contradicts what the vehicle just said (a "disarmed" between armed heartbeats, a jump beyond
physics) never gets here unconfirmed: the link holds it back and raises a contradiction event
instead (flight/contradiction.py), so one forged or corrupted frame cannot abort a flight.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from flight.clock import Clock
from flight.errors import MissionTransferError
from flight.link import VehicleLink
from flight.mission_items import MavCmd, MissionItem, MissionType
from flight.models import (
    FlightMode,
    LandedState,
    LinkState,
    VehicleEvent,
    VehicleEventKind,
    VehicleState,
)
from flight.plan import FlightPlan
from flight.state import FailsafeCause, FlightPhase, FlightStateMachine, FlightTransition
from geofence import GeoPoint, distance_m

_P = FlightPhase
_AIRBORNE = frozenset({_P.EN_ROUTE, _P.ON_SCENE, _P.RETURNING, _P.FAILSAFE})

# PX4 failsafe STATUSTEXTs (commander failsafe framework, geofence, battery, datalink).
_CAUSE_PATTERNS: tuple[tuple[re.Pattern[str], FailsafeCause], ...] = (
    (re.compile(r"geofence|fence", re.I), FailsafeCause.GEOFENCE),
    (re.compile(r"battery|low bat", re.I), FailsafeCause.BATTERY),
    (
        re.compile(r"data ?link|connection to (the )?gcs|gcs connection|link lost", re.I),
        FailsafeCause.LINK_LOSS,
    ),
    (re.compile(r"failsafe", re.I), FailsafeCause.OTHER),
)
_COMMAND_MODES = {
    "rtl": FlightMode.RTL,
    "land": FlightMode.LAND,
    "hold": FlightMode.HOLD,
    "goto": FlightMode.HOLD,  # DO_REPOSITION runs in AUTO.LOITER
    "orbit": FlightMode.ORBIT,
    "resume": FlightMode.MISSION,
    "start_mission": FlightMode.MISSION,
}


def failsafe_cause_of(text: str) -> FailsafeCause | None:
    """The failsafe cause a STATUSTEXT reports, or None if it reports none."""
    for pattern, cause in _CAUSE_PATTERNS:
        if pattern.search(text):
            return cause
    return None


def missions_match(stored: Sequence[MissionItem], downloaded: Sequence[MissionItem]) -> bool:
    """True if the vehicle's mission is the stored one (used to adopt a flight after a restart)."""
    return len(stored) == len(downloaded) and all(
        a.same_on_wire(b) for a, b in zip(stored, downloaded, strict=True)
    )


class FlightTracker:
    """Feeds one flight's state machine from the vehicle's reports."""

    def __init__(
        self,
        machine: FlightStateMachine,
        clock: Clock,
        *,
        on_scene_seq: int | None = None,
        target: GeoPoint | None = None,
        on_scene_radius_m: float = 150.0,
        failsafe_text_window_s: float = 10.0,
        command_window_s: float = 10.0,
        link_loss_window_s: float = 60.0,
    ) -> None:
        self.machine = machine
        self._clock = clock
        self.on_scene_seq = on_scene_seq
        self.target = target
        self.on_scene_radius_m = on_scene_radius_m
        self._text_window_s = failsafe_text_window_s
        self._command_window_s = command_window_s
        self._last_cause: tuple[float, FailsafeCause, str] | None = None
        self._commanded: dict[FlightMode, float] = {}
        self._last: VehicleState | None = None
        self._was_airborne = machine.phase in _AIRBORNE
        self._prev_mode: FlightMode | None = None
        self._link_lost_at: float | None = None
        self._link_loss_window_s = link_loss_window_s

    @classmethod
    def for_plan(
        cls, machine: FlightStateMachine, clock: Clock, plan: FlightPlan, margin_m: float = 50.0
    ) -> FlightTracker:
        """A tracker for a planned flight: on scene at the plan's loiter item, near its scene."""
        loiters = (MavCmd.NAV_LOITER_UNLIM, MavCmd.NAV_LOITER_TIME, MavCmd.NAV_LOITER_TURNS)
        seq = next(
            (i for i, it in enumerate(plan.mission_items) if int(it.command) in loiters), None
        )
        return cls(
            machine,
            clock,
            on_scene_seq=seq,
            target=plan.scene,
            on_scene_radius_m=plan.orbit_radius_m + margin_m,
        )

    @property
    def phase(self) -> FlightPhase:
        """Current phase of the flight."""
        return self.machine.phase

    def note_command(self, command: str) -> None:
        """Record that we commanded `command` (rtl, land, hold, goto, orbit, resume, start_mission)."""
        mode = _COMMAND_MODES.get(command)
        if mode is not None:
            self._commanded[mode] = self._clock.monotonic()

    def _commanded_recently(self, mode: FlightMode) -> bool:
        t = self._commanded.get(mode)
        return t is not None and self._clock.monotonic() - t <= self._command_window_s

    def _recent_cause(self) -> tuple[FailsafeCause, str] | None:
        now = self._clock.monotonic()
        if self._last_cause is not None:
            t, cause, text = self._last_cause
            if now - t <= self._text_window_s:
                return cause, text
        # The vehicle's own failsafe texts are sent while the link is down and never reach us:
        # an uncommanded RTL/Land/Hold soon after a link loss is the data-link-loss failsafe.
        if self._link_lost_at is not None and now - self._link_lost_at <= self._link_loss_window_s:
            return FailsafeCause.LINK_LOSS, "data link was lost"
        return None

    # ------------------------------------------------------------------ operator steps

    def begin_upload(self, snapshot: VehicleState | None = None) -> FlightTransition:
        """planned -> uploading, before the fence/mission upload starts."""
        return self.machine.transition(_P.UPLOADING, reason="uploading plan", snapshot=snapshot)

    def abort(self, reason: str, snapshot: VehicleState | None = None) -> FlightTransition:
        """Abort a flight that has not taken off (upload refused, safety config, arm refused)."""
        return self.machine.transition(_P.ABORTED, reason=reason, snapshot=snapshot or self._last)

    # ------------------------------------------------------------------ observations

    def observe_event(self, event: VehicleEvent) -> list[FlightTransition]:
        """Take a vehicle event into account (STATUSTEXT failsafe causes)."""
        if event.kind == VehicleEventKind.STATUSTEXT:
            cause = failsafe_cause_of(event.detail)
            if cause is not None:
                self._last_cause = (self._clock.monotonic(), cause, event.detail)
        return []

    def observe(self, state: VehicleState) -> list[FlightTransition]:
        """Advance the flight from a state snapshot; returns the transitions taken."""
        self._last = state
        out: list[FlightTransition] = []
        for _ in range(
            4
        ):  # a snapshot may justify a short chain (link back -> returning -> landed)
            step = self._step(state)
            if step is None:
                break
            out.append(step)
        self._prev_mode = state.mode
        return out

    def _go(
        self,
        to: FlightPhase,
        state: VehicleState,
        reason: str,
        cause: FailsafeCause | None = None,
    ) -> FlightTransition | None:
        if not self.machine.can(to):
            return None
        if to in _AIRBORNE:
            self._was_airborne = True
        return self.machine.transition(to, reason=reason, cause=cause, snapshot=state)

    def _step(self, s: VehicleState) -> FlightTransition | None:
        phase = self.machine.phase
        if phase in (_P.PLANNED, _P.COMPLETED, _P.ABORTED):
            return None
        if s.link == LinkState.LOST:
            self._link_lost_at = self._clock.monotonic()
            if phase != _P.LINK_LOST:
                return self._go(_P.LINK_LOST, s, "no heartbeat from the vehicle")
            return None
        if not s.available:
            return None
        if phase == _P.LINK_LOST:
            return self._after_link_back(s)
        if phase == _P.UPLOADING:
            return self._go(_P.ARMED, s, "vehicle reports armed") if s.armed else None
        if phase == _P.ARMED:
            if s.in_air:
                return self._go(_P.EN_ROUTE, s, f"airborne in {s.mode}")
            if not s.armed:
                return self._go(_P.ABORTED, s, "vehicle disarmed before take-off")
            return None
        if phase == _P.LANDED:
            return None if s.armed else self._go(_P.COMPLETED, s, "vehicle disarmed after landing")
        # airborne phases
        if s.landed_state == LandedState.ON_GROUND and self._was_airborne:
            return self._go(_P.LANDED, s, "vehicle reports on ground")
        failsafe = self._failsafe(s, phase)
        if failsafe is not None:
            return failsafe
        if phase == _P.FAILSAFE:
            if s.mode in (FlightMode.RTL, FlightMode.LAND):
                return self._go(_P.RETURNING, s, f"vehicle failsafe action {s.mode}")
            if s.mode == FlightMode.ORBIT:
                return self._go(_P.ON_SCENE, s, "pilot took over: orbit")
            if s.mode == FlightMode.MISSION and self._commanded_recently(FlightMode.MISSION):
                return self._go(_P.EN_ROUTE, s, "pilot resumed the mission")
            return None
        if s.mode == FlightMode.RTL and phase != _P.RETURNING:
            return self._go(_P.RETURNING, s, "returning to launch")
        if phase == _P.EN_ROUTE and self._at_scene(s):
            return self._go(_P.ON_SCENE, s, f"on scene ({s.mode})")
        if phase == _P.RETURNING and s.mode == FlightMode.ORBIT:
            return self._go(_P.ON_SCENE, s, "re-tasked: orbit")
        if (
            phase == _P.ON_SCENE
            and s.mode == FlightMode.MISSION
            and self.on_scene_seq is not None
            and s.mission_current_seq is not None
            and s.mission_current_seq > self.on_scene_seq
        ):
            return self._go(_P.RETURNING, s, "released: flying the planned return")
        on_return_leg = (
            self.on_scene_seq is not None
            and s.mission_current_seq is not None
            and s.mission_current_seq > self.on_scene_seq
        )
        if (
            phase in (_P.ON_SCENE, _P.RETURNING)
            and s.mode == FlightMode.MISSION
            and not on_return_leg
        ):
            if self._commanded_recently(FlightMode.MISSION) and not self._at_scene(s):
                return self._go(_P.EN_ROUTE, s, "mission resumed")
        return None

    def _failsafe(self, s: VehicleState, phase: FlightPhase) -> FlightTransition | None:
        """A mode change we did not command, explained by a failsafe STATUSTEXT (or by RTL en route)."""
        if phase == _P.FAILSAFE or s.mode not in (FlightMode.RTL, FlightMode.LAND, FlightMode.HOLD):
            return None
        if self._prev_mode == s.mode or self._commanded_recently(s.mode):
            return None
        self._prev_mode = s.mode  # one failsafe per mode change
        recent = self._recent_cause()
        if recent is not None:
            cause, text = recent
            return self._go(_P.FAILSAFE, s, f"vehicle switched to {s.mode}: {text}", cause)
        if phase == _P.EN_ROUTE and s.mode in (FlightMode.RTL, FlightMode.LAND):
            return self._go(
                _P.FAILSAFE, s, f"vehicle switched to {s.mode} on its own", FailsafeCause.OTHER
            )
        return None

    def _at_scene(self, s: VehicleState) -> bool:
        if s.mode == FlightMode.ORBIT:
            return True
        near = (
            self.target is None
            or s.position is None
            or distance_m(s.position, self.target) <= self.on_scene_radius_m
        )
        if self.on_scene_seq is not None and s.mission_current_seq is not None:
            if s.mode == FlightMode.MISSION and s.mission_current_seq >= self.on_scene_seq:
                return near
        if self.target is not None and s.position is not None and s.mode == FlightMode.HOLD:
            return distance_m(s.position, self.target) <= self.on_scene_radius_m
        return False

    def _after_link_back(self, s: VehicleState) -> FlightTransition | None:
        """The link is back: the phase follows what the vehicle did meanwhile."""
        before = self.machine.phase_before_link_loss
        self._prev_mode = s.mode  # the mode found on return is judged here, not again below
        if not s.in_air and s.landed_state == LandedState.ON_GROUND:
            if self._was_airborne:
                return self._go(_P.LANDED, s, "link back: vehicle on ground")
            if not s.armed:
                return self._go(_P.ABORTED, s, "link lost before take-off; vehicle disarmed")
            return self._go(_P.ARMED, s, "link back: armed on ground")
        if s.mode in (FlightMode.RTL, FlightMode.LAND):
            recent = self._recent_cause()
            if recent is not None or before not in (_P.RETURNING,):
                cause = recent[0] if recent is not None else FailsafeCause.LINK_LOSS
                return self._go(
                    _P.FAILSAFE, s, f"link back: vehicle's own {s.mode} observed", cause
                )
            return self._go(_P.RETURNING, s, "link back: returning")
        if s.mode == FlightMode.ORBIT or before == _P.ON_SCENE:
            return self._go(_P.ON_SCENE, s, "link back: on scene")
        if before in (_P.EN_ROUTE, _P.RETURNING, _P.ARMED, _P.FAILSAFE):
            target = _P.EN_ROUTE if before == _P.ARMED and s.in_air else before
            return self._go(target, s, f"link back ({s.mode})")
        return self._go(_P.EN_ROUTE, s, f"link back ({s.mode})")


async def adopt_flight(
    link: VehicleLink,
    record: dict[str, Any],
    stored_mission: Sequence[MissionItem],
    clock: Clock,
    plan: FlightPlan | None = None,
) -> FlightTracker:
    """After a restart: check the vehicle flies the stored mission, restore the flight's tracker.

    `record` is `FlightStateMachine.to_record()` as persisted. Raises MissionTransferError when the
    download fails or the vehicle's mission is not the stored one (the flight is then not adopted).
    """
    downloaded = await link.download_mission(MissionType.MISSION)
    if not missions_match(stored_mission, downloaded):
        raise MissionTransferError(
            link.vehicle_id,
            "adopt flight",
            "mission on the vehicle differs from the stored flight",
            detail=f"vehicle has {len(downloaded)} items, stored {len(stored_mission)}",
        )
    machine = FlightStateMachine.from_record(record, clock)
    if plan is not None:
        return FlightTracker.for_plan(machine, clock, plan)
    return FlightTracker(machine, clock)
