"""Policy guards: call types the agency never flies, and those that wait for a supervisor's approval.

Configured in the fleet file under `[policy.guards]`; each guard names APCO codes and/or DFR
categories and the reason the agency gives, which the decision shows word for word:

    [[policy.guards.deny]]
    call_types = ["DOMESTIC"]
    reason = "City council resolution 24-117: no drones over domestic disturbances."
    [[policy.guards.supervisor_approval]]
    call_types = ["PROTEST", "GATHERING"]
    reason = "First Amendment activity: a supervisor decides each flight."

A guard adds a verdict only to the calls it names, so other decisions read as before.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator

from dfr.dispatch.facts import CallFacts
from dfr.dispatch.verdict import Detail, Rule, RuleVerdict

__all__ = [
    "ApprovalState",
    "CallGuard",
    "GuardPolicy",
    "awaiting_approval",
    "check_guards",
]


class ApprovalState(StrEnum):
    """Where a supervisor's decision on a call's launch stands ("" in the facts: none asked yet)."""

    PENDING = "pending"
    APPROVED = "approved"
    REFUSED = "refused"


class CallGuard(BaseModel):
    """Which calls a guard applies to (by APCO code or DFR category) and the agency's reason."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    call_types: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    reason: str = Field(min_length=1, max_length=300)

    @field_validator("call_types")
    @classmethod
    def _codes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(c.strip().upper() for c in value if c.strip())

    @field_validator("categories")
    @classmethod
    def _categories(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(c.strip().lower() for c in value if c.strip())

    def applies_to(self, call: CallFacts) -> str | None:
        """What of the call this guard names (its code or category), or None."""
        code = call.call_type.strip().upper()
        if code in self.call_types:
            return code
        category = call.category.strip().lower()
        if category in self.categories:
            return f"category {category}"
        return None


class GuardPolicy(BaseModel):
    """The agency's deny list and supervisor-approval list."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    deny: tuple[CallGuard, ...] = ()
    supervisor_approval: tuple[CallGuard, ...] = ()


def _first(guards: tuple[CallGuard, ...], call: CallFacts) -> tuple[CallGuard, str] | None:
    for guard in guards:
        matched = guard.applies_to(call)
        if matched is not None:
            return guard, matched
    return None


def check_guards(call: CallFacts, guards: GuardPolicy) -> tuple[RuleVerdict, ...]:
    """The guards' verdicts on a call: none when no guard names it."""
    label = f"{call.call_type.strip().upper()} priority {call.priority}"
    denied = _first(guards.deny, call)
    if denied is not None:
        guard, matched = denied
        details: dict[str, Detail] = {"guard": "deny", "matched": matched}
        return (
            RuleVerdict(
                Rule.POLICY_GUARD,
                False,
                f"{label}: the agency never flies {matched}. {guard.reason}",
                details,
            ),
        )
    needs = _first(guards.supervisor_approval, call)
    if needs is None:
        return ()
    guard, matched = needs
    details = {"guard": "supervisor_approval", "matched": matched, "approval": call.approval}
    if call.approval == ApprovalState.APPROVED:
        verdict = RuleVerdict(
            Rule.SUPERVISOR_APPROVAL,
            True,
            f"{label}: a supervisor approved this launch ({guard.reason})",
            details,
        )
    elif call.approval == ApprovalState.REFUSED:
        verdict = RuleVerdict(
            Rule.SUPERVISOR_APPROVAL,
            False,
            f"{label}: a supervisor refused this launch. {guard.reason}",
            details,
        )
    else:
        details["awaiting_approval"] = True
        verdict = RuleVerdict(
            Rule.SUPERVISOR_APPROVAL,
            False,
            f"Awaiting supervisor approval: {matched} needs a supervisor's approval. {guard.reason}",
            details,
        )
    return (verdict,)


def awaiting_approval(verdicts: tuple[RuleVerdict, ...]) -> RuleVerdict | None:
    """The verdict that holds a call for a supervisor, if any."""
    return next((v for v in verdicts if v.details.get("awaiting_approval") is True), None)
