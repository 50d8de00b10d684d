"""CAD in (calls and call updates, EIDO or plain JSON) and people's notes and cancellations out."""

from __future__ import annotations

import asyncio
import time
from typing import Annotated

from fastapi import APIRouter, Body, Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.engine import Engine

from cad_bridge import CadInputError, CallTypeMapper, PlainCall, parse_call
from dfr.auth import Principal, hash_token, principal_for, require_roles
from dfr.cad_ingest import AuditStamp, CallerNotAdmittedError, call_writer
from dfr.db import session_scope
from dfr.deps import EngineDep
from dfr.errors import InvalidInputError
from dfr.models import Role
from dfr.outbox import add_note, cancel_call, notify_delivery
from dfr.runtime import dispatch_call
from dfr.settings import Settings

router = APIRouter(tags=["cad"])
_bearer = HTTPBearer(auto_error=False)
_CAD_ROLES = frozenset({Role.CAD, Role.ADMIN})
#: How long a token seen valid skips the pre-check; the commit itself checks it again, so a
#: revoked token never stores a call (it is refused with 401 at its next post).
PRINCIPAL_TTL_S = 5.0


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(
        status_code=status.HTTP_401_UNAUTHORIZED,
        detail=detail,
        headers={"WWW-Authenticate": "Bearer"},
    )


async def cad_caller(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The CAD (or admin) posting a call: 401 / 403 like require_roles, looked up off the loop."""
    if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
        raise _unauthorized("a bearer token is required")
    app = request.app
    cache: dict[str, tuple[Principal, float]] | None = getattr(app.state, "cad_principals", None)
    if cache is None:
        cache = app.state.cad_principals = {}
    digest = hash_token(credentials.credentials)
    seen = cache.get(digest)
    now = time.monotonic()
    if seen is not None and seen[1] > now:
        principal = seen[0]
    else:
        found = await asyncio.to_thread(principal_for, app.state.engine, credentials.credentials)
        if found is None:
            cache.pop(digest, None)
            raise _unauthorized("the bearer token is unknown or revoked")
        if len(cache) > 1000:
            cache.clear()
        cache[digest] = (found, now + PRINCIPAL_TTL_S)
        principal = found
    request.state.principal = principal
    request.state.token_hash = digest
    if principal.role not in _CAD_ROLES:
        raise HTTPException(
            status_code=status.HTTP_403_FORBIDDEN,
            detail=f"role {principal.role.value!r} may not do this; admitted: "
            + ", ".join(sorted(r.value for r in _CAD_ROLES)),
        )
    return principal


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
) -> CallAccepted:
    """A call or call update from CAD, as NENA EIDO JSON or the plain JSON form.

    Idempotent by (agency, cad_incident_id): a re-post updates priority, location, notes and
    status; an identical re-post changes nothing.
    """
    # Read from the app directly: a sync dependency would cost a worker-thread hop per call.
    settings: Settings = request.app.state.settings
    default_agency: str = request.app.state.default_agency_id
    body = await request.body()
    mapper: CallTypeMapper = (
        getattr(request.app.state, "call_type_mapper", None) or CallTypeMapper()
    )
    try:
        call = parse_call(
            body,
            default_agency=default_agency,
            mapper=mapper,
            content_type=request.headers.get("content-type", ""),
            max_bytes=settings.cad.max_payload_bytes,
        )
    except CadInputError as exc:
        raise InvalidInputError(exc.reason, field=exc.field) from exc
    stamp = AuditStamp(
        actor=principal.name,
        role=principal.role.value,
        token_hash=request.state.token_hash,
        admitted=frozenset(r.value for r in _CAD_ROLES),
        path=request.url.path,
    )
    try:
        result = await call_writer(request.app).store(call, stamp)
    except CallerNotAdmittedError as exc:
        getattr(request.app.state, "cad_principals", {}).pop(stamp.token_hash, None)
        raise _unauthorized(str(exc)) from exc
    # The audit row went into the call's own transaction.
    request.state.audit_recorded = True
    if result.created or result.changed:
        dispatch_call(request.app, result.call_id, ended=result.ended)
    request.state.audit_detail = f"call {result.call_id} {call.cad_incident_id} {result.verb}"
    return CallAccepted(
        id=result.call_id,
        cad_incident_id=call.cad_incident_id,
        created=result.created,
        changed=result.changed,
    )


def _note(engine: Engine, call_id: int, author: str, text: str) -> OutboundQueued:
    with session_scope(engine) as session:
        note, item = add_note(session, call_id, author=author, text=text)
        return OutboundQueued(call_id=call_id, event_id=item.event_id, note_id=note.id)


def _cancel(engine: Engine, call_id: int, author: str, reason: str) -> OutboundQueued:
    with session_scope(engine) as session:
        item = cancel_call(session, call_id, author=author, reason=reason)
        return OutboundQueued(call_id=call_id, event_id=item.event_id)


@router.post(
    "/calls/{call_id}/notes", status_code=status.HTTP_201_CREATED, response_model=OutboundQueued
)
async def post_note(
    call_id: int,
    note: Annotated[NoteCreate, Body()],
    request: Request,
    principal: NoteWriter,
    engine: EngineDep,
) -> OutboundQueued:
    """Add a note to the call; it is delivered to CAD through the outbox."""
    queued = await asyncio.to_thread(_note, engine, call_id, principal.name, note.text)
    notify_delivery(request.app)
    return queued


@router.post(
    "/calls/{call_id}/cancel", status_code=status.HTTP_202_ACCEPTED, response_model=OutboundQueued
)
async def post_cancel(
    call_id: int,
    cancel: Annotated[CancelCreate, Body()],
    request: Request,
    principal: Dispatcher,
    engine: EngineDep,
) -> OutboundQueued:
    """Cancel the call (no emergency found); CAD gets disposition 10 Event Cancelled."""
    queued = await asyncio.to_thread(_cancel, engine, call_id, principal.name, cancel.reason)
    dispatch_call(request.app, call_id, ended=True)
    request.state.audit_detail = f"cancel call {call_id}: {cancel.reason[:200]}"
    notify_delivery(request.app)
    return queued
