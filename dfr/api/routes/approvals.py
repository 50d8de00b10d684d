"""Supervisor approval: launches the policy holds for a supervisor, and the supervisor's answer."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import SQLModel

from dfr.api.params import Id64
from dfr.approvals import ApprovalPublic, decide, pending_approvals
from dfr.audit import record_audit
from dfr.auth import STAFF_ROLES, Principal, require_roles
from dfr.db import session_scope
from dfr.deps import DispatcherDep, EngineDep, SessionDep
from dfr.errors import LaunchRefusedError
from dfr.models import Role

router = APIRouter(tags=["approvals"])
Reader = Annotated[Principal, Depends(require_roles(*STAFF_ROLES, Role.SUPERVISOR))]
Supervisor = Annotated[Principal, Depends(require_roles(Role.SUPERVISOR))]


class ApprovalDecision(BaseModel):
    model_config = ConfigDict(extra="forbid")
    approve: bool
    reason: str = Field(min_length=1, max_length=1000)


class ApprovalsPublic(SQLModel):
    data: list[ApprovalPublic]
    count: int


@router.get("/approvals", response_model=ApprovalsPublic)
def list_pending_approvals(session: SessionDep, _: Reader) -> ApprovalsPublic:
    """Launches waiting for a supervisor, oldest first."""
    rows = pending_approvals(session)
    return ApprovalsPublic(data=rows, count=len(rows))


@router.post("/calls/{call_id}/approval", response_model=ApprovalPublic)
async def decide_launch_approval(
    call_id: Id64,
    body: ApprovalDecision,
    principal: Supervisor,
    request: Request,
    engine: EngineDep,
    dispatcher: DispatcherDep,
) -> ApprovalPublic:
    """Approve (and launch, as a dispatcher's launch would) or refuse a held launch, with a reason."""

    def store() -> ApprovalPublic:
        with session_scope(engine) as session:
            return decide(
                session,
                call_id,
                approve=body.approve,
                supervisor=principal.name,
                reason=body.reason,
            )

    answer = await asyncio.to_thread(store)
    verb = "approved" if body.approve else "refused"
    await asyncio.to_thread(
        record_audit,
        engine,
        actor=principal.name,
        role=principal.role.value,
        method=request.method,
        path=request.url.path,
        status_code=200,
        action=f"launch_approval.{verb}",
        detail=f"call {call_id} {verb}: {body.reason}",
        client_address=str(getattr(request.state, "client_address", "")),
    )
    # The answer is audited above with its reason; the middleware's generic row would repeat it.
    request.state.audit_recorded = True
    if not body.approve:
        # Decided again so the call shows the refusal (and CAD gets it as a note).
        await dispatcher.evaluate(call_id, allow_auto_launch=False)
        return answer
    try:
        answer.flight_id = await dispatcher.launch(call_id, None, principal.name)
    except LaunchRefusedError as exc:
        # Approved stays approved: a dispatcher may launch once a drone can fly it.
        answer.launch_refused = str(exc)
    return answer
