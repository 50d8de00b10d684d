"""Flight state machine: the transition table, events, CAD status and persistence."""

from __future__ import annotations

import pytest

from flight.errors import IllegalTransitionError
from flight.models import VehicleId
from flight.state import (
    TRANSITIONS,
    CadUnitStatus,
    FailsafeCause,
    FlightPhase,
    FlightStateMachine,
)
from tests.flight.clocks import ManualClock

P = FlightPhase


def machine() -> FlightStateMachine:
    return FlightStateMachine("f1", VehicleId("d1"), ManualClock())


def test_full_flight_sequence_emits_events_and_cad_statuses() -> None:
    m = machine()
    seq = [P.UPLOADING, P.ARMED, P.EN_ROUTE, P.ON_SCENE, P.RETURNING, P.LANDED, P.COMPLETED]
    events = [m.transition(p, reason=str(p)) for p in seq]
    assert [e.to_phase for e in events] == seq
    assert [e.from_phase for e in events] == [P.PLANNED, *seq[:-1]]
    assert [e.cad_status for e in events] == [
        None,  # already Dispatched when planned
        None,
        CadUnitStatus.EN_ROUTE,
        CadUnitStatus.ON_SCENE,
        CadUnitStatus.CLEARED,
        None,
        None,
    ]
    assert m.finished and m.history == events


@pytest.mark.parametrize(
    ("start", "to"),
    [
        (P.PLANNED, P.EN_ROUTE),
        (P.PLANNED, P.ARMED),
        (P.UPLOADING, P.ON_SCENE),
        (P.EN_ROUTE, P.ABORTED),
        (P.LANDED, P.EN_ROUTE),
        (P.COMPLETED, P.PLANNED),
        (P.ABORTED, P.UPLOADING),
    ],
)
def test_illegal_transition_raises_and_changes_nothing(start: FlightPhase, to: FlightPhase) -> None:
    m = FlightStateMachine("f1", VehicleId("d1"), ManualClock(), phase=start)
    with pytest.raises(IllegalTransitionError):
        m.transition(to, reason="x", cause=FailsafeCause.OTHER)
    assert m.phase == start and not m.history


def test_every_phase_has_a_table_entry_and_terminals_have_no_exit() -> None:
    assert set(TRANSITIONS) == set(FlightPhase)
    assert not TRANSITIONS[P.COMPLETED] and not TRANSITIONS[P.ABORTED]


def test_abort_needs_reason_and_failsafe_needs_cause() -> None:
    m = machine()
    with pytest.raises(ValueError):
        m.transition(P.ABORTED)
    m.transition(P.UPLOADING)
    m.transition(P.ARMED)
    with pytest.raises(ValueError):
        m.transition(P.FAILSAFE)
    e = m.transition(P.FAILSAFE, cause=FailsafeCause.GEOFENCE, reason="Geofence violated")
    assert e.cause == FailsafeCause.GEOFENCE and m.failsafe_cause == FailsafeCause.GEOFENCE


@pytest.mark.parametrize("start", [P.EN_ROUTE, P.ON_SCENE, P.RETURNING])
def test_a_flight_reassigned_in_the_air_completes_with_its_reason_and_clears_the_unit(
    start: FlightPhase,
) -> None:
    m = FlightStateMachine("f1", VehicleId("d1"), ManualClock(), phase=start)
    e = m.transition(P.COMPLETED, reason="reassigned to higher-priority call 7 (priority 1)")
    assert m.finished and e.reassigned
    assert e.reason == "reassigned to higher-priority call 7 (priority 1)"
    assert e.cad_status == (None if start == P.RETURNING else CadUnitStatus.CLEARED)


def test_completing_in_the_air_needs_a_reason_and_landing_is_no_reassignment() -> None:
    m = FlightStateMachine("f1", VehicleId("d1"), ManualClock(), phase=P.EN_ROUTE)
    with pytest.raises(ValueError, match="reason"):
        m.transition(P.COMPLETED)
    assert m.phase == P.EN_ROUTE
    landed = FlightStateMachine("f2", VehicleId("d1"), ManualClock(), phase=P.LANDED)
    assert not landed.transition(P.COMPLETED).reassigned
    for phase in (P.FAILSAFE, P.LINK_LOST, P.ARMED):
        assert P.COMPLETED not in TRANSITIONS[phase]


def test_link_lost_remembers_previous_phase_and_survives_restore() -> None:
    clock = ManualClock()
    m = FlightStateMachine("f1", VehicleId("d1"), clock, phase=P.EN_ROUTE)
    clock.advance(3)
    e = m.transition(P.LINK_LOST, reason="no heartbeat")
    assert e.time == clock.now()
    restored = FlightStateMachine.from_record(m.to_record(), clock)
    assert restored.phase == P.LINK_LOST
    assert restored.phase_before_link_loss == P.EN_ROUTE
    assert restored.cad_status == CadUnitStatus.EN_ROUTE
    assert e.as_record()["to"] == "link_lost"
