"""Supervisor approval of launches the policy holds (dfr.dispatch.guards): the stored request and answer.

The dispatcher reads a call's approval state into its facts and opens a pending request the first
time a decision holds the call; a supervisor's answer is stored here, audited by the route, and an
approval then launches the call through the dispatcher's own launch.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import update
from sqlmodel import Session, SQLModel, col, select

from dfr.dispatch.guards import ApprovalState, awaiting_approval
from dfr.dispatch.policy import DispatchDecision
from dfr.errors import ConflictError, NotFoundError
from dfr.models import Call, LaunchApproval, as_utc, utcnow

__all__ = [
    "ApprovalPublic",
    "approval_states",
    "decide",
    "hold_for_supervisor",
    "pending_approvals",
]


class ApprovalPublic(SQLModel):
    call_id: int
    state: str
    held_because: str
    requested_at: datetime
    decided_by: str
    decided_at: datetime | None
    decision_reason: str
    call_type: str = ""
    call_type_text: str = ""
    priority: int = 0
    address: str | None = None
    flight_id: int | None = None
    launch_refused: str | None = None


def _public(row: LaunchApproval, call: Call | None) -> ApprovalPublic:
    return ApprovalPublic(
        call_id=row.call_id,
        state=row.state,
        held_because=row.held_because,
        requested_at=as_utc(row.requested_at),
        decided_by=row.decided_by,
        decided_at=None if row.decided_at is None else as_utc(row.decided_at),
        decision_reason=row.decision_reason,
        call_type="" if call is None else call.call_type,
        call_type_text="" if call is None else call.call_type_text,
        priority=0 if call is None else call.priority,
        address=None if call is None else call.address,
    )


def _row(session: Session, call_id: int) -> LaunchApproval | None:
    return session.exec(select(LaunchApproval).where(LaunchApproval.call_id == call_id)).first()


def approval_states(session: Session, call_ids: Sequence[int]) -> dict[int, str]:
    """The approval state of each of `call_ids` that has one (one query for all)."""
    rows = session.exec(
        select(LaunchApproval.call_id, LaunchApproval.state).where(
            col(LaunchApproval.call_id).in_(call_ids)
        )
    )
    return {call_id: state for call_id, state in rows}


def hold_for_supervisor(session: Session, call: Call, decision: DispatchDecision) -> None:
    """Open a pending request the first time a decision holds `call` for a supervisor."""
    held = awaiting_approval(decision.call_rules)
    if held is None or call.id is None or _row(session, call.id) is not None:
        return
    session.add(LaunchApproval(call_id=call.id, held_because=held.reason[:1000]))


def pending_approvals(session: Session) -> list[ApprovalPublic]:
    """Requests waiting for a supervisor, oldest first."""
    rows = session.exec(
        select(LaunchApproval)
        .where(LaunchApproval.state == ApprovalState.PENDING.value)
        .order_by(col(LaunchApproval.requested_at))
    ).all()
    return [_public(r, session.get(Call, r.call_id)) for r in rows]


def decide(
    session: Session, call_id: int, *, approve: bool, supervisor: str, reason: str
) -> ApprovalPublic:
    """Store a supervisor's answer to a pending request (409 when it was already answered)."""
    row = _row(session, call_id)
    if row is None:
        if session.get(Call, call_id) is None:
            raise NotFoundError("call", call_id)
        raise NotFoundError("launch approval request for call", call_id)
    # One conditional update: of two supervisors answering at once (any instance), one wins.
    answered = session.connection().execute(
        update(LaunchApproval)
        .where(
            col(LaunchApproval.id) == row.id,
            col(LaunchApproval.state) == ApprovalState.PENDING.value,
        )
        .values(
            state=(ApprovalState.APPROVED if approve else ApprovalState.REFUSED).value,
            decided_by=supervisor[:200],
            decided_at=utcnow(),
            decision_reason=reason[:1000],
        )
    )
    session.refresh(row)
    if answered.rowcount != 1:
        raise ConflictError(
            f"the launch to call {call_id} was already {row.state} by {row.decided_by}"
        )
    return _public(row, session.get(Call, call_id))
