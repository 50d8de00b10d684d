"""Policy guards: a denied call type is refused with the agency's reason; an approval category waits."""

from __future__ import annotations

from dfr.dispatch import AgencyPolicy, DispatchDecision, RouteFacts, Rule, evaluate
from dfr.dispatch.guards import ApprovalState, GuardPolicy
from tests.dfr.dispatch.builders import DENVER, NOON, call_at, calm, drone, open_route

COUNCIL = "City council resolution 24-117: no drones over domestic disturbances."
GATHERINGS = "First Amendment activity: a supervisor decides each flight."
POLICY = AgencyPolicy.model_validate(
    {
        "call_types": {"PROTEST": {"max_priority": 3, "auto_launch_max_priority": 3}},
        "guards": {
            "deny": [{"call_types": ["domestic", "NOISE"], "reason": COUNCIL}],
            "supervisor_approval": [{"call_types": ["PROTEST"], "reason": GATHERINGS}],
        },
    }
)


def _decide(call_type: str, approval: str = "") -> DispatchDecision:
    return evaluate(
        call_at(1500, call_type=call_type, priority=2, approval=approval),
        [drone("D1")],
        routes=lambda _: open_route(),
        weather=calm(),
        agency=POLICY,
        now=NOON,
        tz=DENVER,
    )


def test_a_denied_call_type_is_refused_with_the_agencys_reason() -> None:
    decision = _decide("DOMESTIC")
    assert not decision.eligible and decision.recommended is None
    guard = next(v for v in decision.call_rules if v.rule is Rule.POLICY_GUARD)
    assert not guard.passed and COUNCIL in guard.reason
    assert COUNCIL in decision.summary


def test_a_gathering_call_awaits_a_supervisor_and_never_auto_launches() -> None:
    decision = _decide("PROTEST")
    assert not decision.eligible and not decision.auto_launch
    assert decision.summary.startswith("Awaiting supervisor approval")


def test_an_approved_gathering_call_is_eligible_and_a_refused_one_is_not() -> None:
    approved = _decide("PROTEST", ApprovalState.APPROVED)
    assert approved.eligible and approved.recommended is not None
    assert approved.recommended.drone_id == "D1"
    refused = _decide("PROTEST", ApprovalState.REFUSED)
    assert not refused.eligible and "refused" in refused.summary


def test_calls_no_guard_names_keep_their_two_call_rules() -> None:
    decision = _decide("BURGLARY")
    assert [v.rule for v in decision.call_rules] == [Rule.CALL_TYPE, Rule.WEATHER]
    assert GuardPolicy().deny == ()
    assert isinstance(open_route(), RouteFacts)
