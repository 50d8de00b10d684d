"""Calls (CAD incidents) as DFR holds them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from sqlmodel import col, func, select

from dfr.api.params import Id64
from dfr.auth import STAFF_ROLES, Principal, require_roles
from dfr.call_views import CallDetailPublic, CallTimelinePublic, call_detail, call_timeline
from dfr.deps import SessionDep
from dfr.models import Call, CallLifecycle, CallPublic, CallsPublic, get_row

router = APIRouter(tags=["calls"])
Reader = Annotated[Principal, Depends(require_roles(*STAFF_ROLES))]


@router.get("/calls", response_model=CallsPublic)
def list_calls(
    session: SessionDep,
    _: Reader,
    lifecycle: CallLifecycle | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> CallsPublic:
    """Calls, newest first."""
    query = select(Call)
    count_query = select(func.count()).select_from(Call)
    if lifecycle is not None:
        query = query.where(Call.lifecycle == lifecycle)
        count_query = count_query.where(Call.lifecycle == lifecycle)
    rows = session.exec(query.order_by(col(Call.id).desc()).offset(offset).limit(limit)).all()
    total = session.exec(count_query).one()
    return CallsPublic(data=[CallPublic.model_validate(c) for c in rows], count=int(total))


@router.get("/calls/{call_id}", response_model=CallDetailPublic)
def get_call(call_id: Id64, session: SessionDep, _: Reader) -> CallDetailPublic:
    """One call with its notes and each outbound CAD item's delivery state."""
    return call_detail(session, get_row(session, Call, call_id))


@router.get("/calls/{call_id}/timeline", response_model=CallTimelinePublic)
def get_call_timeline(call_id: Id64, session: SessionDep, _: Reader) -> CallTimelinePublic:
    """The call's story in time order: received, decided, launched, flight phases, notes, CAD, end."""
    return call_timeline(session, get_row(session, Call, call_id))
