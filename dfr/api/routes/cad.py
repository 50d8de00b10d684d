"""CAD in (calls and call updates, EIDO or plain JSON) and people's notes and cancellations out."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Request, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.engine import Engine
from sqlmodel import Session

from cad_bridge import PlainCall
from dfr.api.params import Id64
from dfr.auth import BearerToken, Principal, check_role, hash_token, require_roles
from dfr.db import session_scope
from dfr.deps import EngineDep, IntakeDep, LedgerDep, PrincipalsDep, ServiceDep, SettingsDep
from dfr.errors import CallerNotAdmittedError, NotAuthenticatedError
from dfr.json_limits import body_text
from dfr.models import Role

router = APIRouter(tags=["cad"])
_CAD_ROLES = frozenset({Role.CAD, Role.ADMIN})


async def cad_caller(request: Request, token: BearerToken, principals: PrincipalsDep) -> Principal:
    """The CAD (or admin) posting a call: 401 / 403 like require_roles, looked up off the loop."""
    digest = hash_token(token)
    principal = await principals.principal(token, digest)
    if principal is None:
        raise NotAuthenticatedError("the bearer token is unknown or revoked")
    request.state.principal = principal
    request.state.token_hash = digest
    return check_role(principal, _CAD_ROLES)


cad_caller.dfr_roles = _CAD_ROLES  # type: ignore[attr-defined]
CadCaller = Annotated[Principal, Depends(cad_caller)]
NoteWriter = Annotated[Principal, Depends(require_roles(Role.DISPATCHER, Role.PILOT, Role.ANALYST))]
Dispatcher = Annotated[Principal, Depends(require_roles(Role.DISPATCHER))]


class CallAccepted(BaseModel):
    """The call DFR holds for the posted incident."""

    id: int
    cad_incident_id: str
    created: bool
    changed: bool


class NoteCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=20_000)


class CancelCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=2000)


class OutboundQueued(BaseModel):
    """An outbound item was written; its delivery shows on GET /calls/{id}."""

    call_id: int
    event_id: str
    note_id: int | None = None


_EIDO_EXAMPLE = {"eidoVersion": "1.0", "$id": "urn:emergency:uid:incidentid:...", "...": "..."}


@router.post(
    "/cad/incidents",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=CallAccepted,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "oneOf": [
                            PlainCall.model_json_schema(),
                            {"type": "object", "description": "NENA EIDO 1.0 (NENA-STA-021.1b)"},
                        ]
                    }
                },
                "application/emergency.eido+json": {"schema": {"type": "object"}},
            },
        }
    },
)
async def post_incident(
    request: Request,
    principal: CadCaller,
    intake: IntakeDep,
    principals: PrincipalsDep,
    settings: SettingsDep,
) -> CallAccepted:
    """A call or call update from CAD, as NENA EIDO JSON or the plain JSON form.

    Idempotent by (agency, cad_incident_id): a re-post updates priority, location, notes and
    status; an identical re-post changes nothing.
    """
    body = await request.body()
    body_text(body, max_depth=settings.http.max_json_depth)
    call = intake.parse(body, request.headers.get("content-type", ""))
    stamp = intake.stamp(
        actor=principal.name,
        role=principal.role.value,
        token_hash=request.state.token_hash,
        admitted=frozenset(r.value for r in _CAD_ROLES),
        path=request.url.path,
        client_address=str(getattr(request.state, "client_address", "")),
    )
    try:
        result = await intake.store(call, stamp)
    except CallerNotAdmittedError:
        principals.forget(stamp.token_hash)
        raise
    # The audit row went into the call's own transaction.
    request.state.audit_recorded = True
    request.state.audit_detail = f"call {result.call_id} {call.cad_incident_id} {result.verb}"
    return CallAccepted(
        id=result.call_id,
        cad_incident_id=call.cad_incident_id,
        created=result.created,
        changed=result.changed,
    )


async def _committed(engine: Engine, write: Callable[[Session], OutboundQueued]) -> OutboundQueued:
    """Run `write` in its own transaction on a worker thread."""

    def run() -> OutboundQueued:
        with session_scope(engine) as session:
            return write(session)

    return await asyncio.to_thread(run)


@router.post(
    "/calls/{call_id}/notes", status_code=status.HTTP_201_CREATED, response_model=OutboundQueued
)
async def post_note(
    call_id: Id64,
    note: Annotated[NoteCreate, Body()],
    principal: NoteWriter,
    engine: EngineDep,
    ledger: LedgerDep,
) -> OutboundQueued:
    """Add a note to the call; it is delivered to CAD through the outbox."""

    def write(session: Session) -> OutboundQueued:
        row, item = ledger.add_note(session, call_id, author=principal.name, text=note.text)
        return OutboundQueued(call_id=call_id, event_id=item.event_id, note_id=row.id)

    return await _committed(engine, write)


@router.post(
    "/calls/{call_id}/cancel", status_code=status.HTTP_202_ACCEPTED, response_model=OutboundQueued
)
async def post_cancel(
    call_id: Id64,
    cancel: Annotated[CancelCreate, Body()],
    request: Request,
    principal: Dispatcher,
    engine: EngineDep,
    ledger: LedgerDep,
    service: ServiceDep,
) -> OutboundQueued:
    """Cancel the call (no emergency found); CAD gets disposition 10 Event Cancelled."""

    def write(session: Session) -> OutboundQueued:
        item = ledger.cancel_call(session, call_id, author=principal.name, reason=cancel.reason)
        return OutboundQueued(call_id=call_id, event_id=item.event_id)

    queued = await _committed(engine, write)
    # The flight (if any) goes home; without dispatch running there is none to recall.
    service.dispatcher.submit(call_id, ended=True)
    request.state.audit_detail = f"cancel call {call_id}: {cancel.reason[:200]}"
    return queued
