"""Holds on flight recordings: place one (reason, optional case number), list them, release one.

A recording is a flight's, so `{recording_id}` is the flight id. A held recording is kept by the
retention purge (dfr.retention), with its snapshots and flight path, until every hold is released.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, status

from dfr.api.params import Id64
from dfr.audit import client_address
from dfr.auth import Principal, require_roles
from dfr.deps import EngineDep, SettingsDep
from dfr.models import Role
from dfr.retention import (
    HoldCreate,
    HoldPublic,
    HoldRelease,
    HoldsPublic,
    list_holds,
    place_hold,
    release_hold,
)

router = APIRouter(tags=["recordings"])
Analyst = Annotated[Principal, Depends(require_roles(Role.ANALYST))]


@router.get("/recordings/{recording_id}/holds", response_model=HoldsPublic)
def get_holds(
    recording_id: Id64, _: Analyst, engine: EngineDep, settings: SettingsDep
) -> HoldsPublic:
    """The recording's holds, active and released, oldest first."""
    return list_holds(engine, settings.data_dir, recording_id)


@router.post(
    "/recordings/{recording_id}/holds",
    response_model=HoldPublic,
    status_code=status.HTTP_201_CREATED,
)
def create_hold(
    recording_id: Id64,
    body: HoldCreate,
    request: Request,
    principal: Analyst,
    engine: EngineDep,
    settings: SettingsDep,
) -> HoldPublic:
    """Hold the recording (evidence, training): the purge keeps it until the hold is released."""
    hold = place_hold(
        engine,
        settings.data_dir,
        recording_id,
        body,
        actor=principal.name,
        role=principal.role.value,
        client_address=client_address(request.scope),
    )
    # The audit row went into the hold's own transaction.
    request.state.audit_recorded = True
    return hold


@router.post("/recordings/{recording_id}/holds/{hold_id}/release", response_model=HoldPublic)
def end_hold(
    recording_id: Id64,
    hold_id: Id64,
    body: HoldRelease,
    request: Request,
    principal: Analyst,
    engine: EngineDep,
) -> HoldPublic:
    """Release a hold, with the reason; it stays listed."""
    hold = release_hold(
        engine,
        recording_id,
        hold_id,
        body,
        actor=principal.name,
        role=principal.role.value,
        client_address=client_address(request.scope),
    )
    request.state.audit_recorded = True
    return hold
