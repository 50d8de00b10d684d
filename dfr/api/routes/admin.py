"""API tokens and the audit log (admin only)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query, status
from sqlmodel import col, select

from dfr.api.params import Id64
from dfr.auth import Principal, TokenSessionsDep, create_token, require_roles
from dfr.deps import PrincipalsDep, SessionDep
from dfr.errors import ConflictError, InvalidInputError, NotFoundError
from dfr.models import (
    MAX_TOKEN_LIFETIME_S,
    ApiToken,
    AuditEntry,
    AuditEntryPublic,
    AuditPublic,
    Role,
    TokenCreate,
    TokenCreated,
    TokenPublic,
    TokensPublic,
    as_utc,
    utcnow,
)

router = APIRouter(tags=["admin"])
Admin = Annotated[Principal, Depends(require_roles(Role.ADMIN))]
#: The largest audit page.
MAX_AUDIT_PAGE = 1000


@router.get("/tokens", response_model=TokensPublic)
def list_tokens(session: SessionDep, _: Admin) -> TokensPublic:
    """Every token (never the secret), with its expiry and when it was last used."""
    rows = session.exec(select(ApiToken).order_by(col(ApiToken.id))).all()
    return TokensPublic(data=[TokenPublic.model_validate(r) for r in rows], count=len(rows))


def _expiry(body: TokenCreate) -> datetime | None:
    now = utcnow()
    if body.expires_in_s is not None and body.expires_at is not None:
        raise InvalidInputError("give expires_in_s or expires_at, not both", field="expires_at")
    if body.expires_in_s is not None:
        return now + timedelta(seconds=body.expires_in_s)
    if body.expires_at is None:
        return None
    if body.expires_at.tzinfo is None:
        raise InvalidInputError("expires_at needs a UTC offset (e.g. Z)", field="expires_at")
    expires_at = as_utc(body.expires_at)
    if expires_at <= now:
        raise InvalidInputError("expires_at is in the past", field="expires_at")
    if expires_at > now + timedelta(seconds=MAX_TOKEN_LIFETIME_S):
        raise InvalidInputError("expires_at is more than ten years away", field="expires_at")
    return expires_at


@router.post("/tokens", response_model=TokenCreated, status_code=status.HTTP_201_CREATED)
def create_api_token(body: TokenCreate, session: SessionDep, _: Admin) -> TokenCreated:
    """Create a token (optionally expiring); the secret is in this answer only."""
    expires_at = _expiry(body)
    if session.exec(select(ApiToken).where(ApiToken.name == body.name)).first() is not None:
        raise ConflictError(f"a token named {body.name!r} already exists", field="name")
    row, secret = create_token(session, body.name, body.role, expires_at=expires_at)
    session.commit()
    return TokenCreated(**TokenPublic.model_validate(row).model_dump(), token=secret)


@router.delete("/tokens/{token_id}", response_model=TokenPublic)
def revoke_token(
    token_id: Id64,
    session: SessionDep,
    _: Admin,
    sessions: TokenSessionsDep,
    principals: PrincipalsDep,
) -> TokenPublic:
    """Revoke a token (kept for the record); its open streams and video sessions end at once."""
    row = session.get(ApiToken, token_id)
    if row is None:
        raise NotFoundError("token", token_id)
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        session.add(row)
        session.commit()
    # Those on other instances end at their next check of open sessions' tokens.
    sessions.end_token(token_id, "revoked")
    principals.forget(row.token_hash)
    return TokenPublic.model_validate(row)


@router.get("/audit", response_model=AuditPublic)
def list_audit(
    session: SessionDep,
    _: Admin,
    limit: Annotated[int, Query(ge=1, le=MAX_AUDIT_PAGE)] = 100,
    before_id: Annotated[
        int | None, Query(ge=1, le=2**63 - 1, description="entries older than this id")
    ] = None,
    actor: Annotated[str | None, Query(max_length=200)] = None,
    action: Annotated[str | None, Query(max_length=200)] = None,
    path_prefix: Annotated[str | None, Query(max_length=500)] = None,
    target: Annotated[
        str | None, Query(max_length=200, description='what was acted on, e.g. "recording 12"')
    ] = None,
    outcome: Annotated[str | None, Query(pattern="^(ok|denied|error)$")] = None,
    since: Annotated[datetime | None, Query(description="at or after (ISO 8601)")] = None,
    until: Annotated[datetime | None, Query(description="before (ISO 8601)")] = None,
    client_address: Annotated[str | None, Query(max_length=64)] = None,
) -> AuditPublic:
    """Audit entries, newest first, a page at a time (`next_before_id`), filtered."""
    query = select(AuditEntry)
    if before_id is not None:
        query = query.where(col(AuditEntry.id) < before_id)
    if actor is not None:
        query = query.where(AuditEntry.actor == actor)
    if action is not None:
        query = query.where(AuditEntry.action == action)
    if path_prefix is not None:
        query = query.where(col(AuditEntry.path).startswith(path_prefix, autoescape=True))
    if target is not None:
        query = query.where(AuditEntry.target == target)
    if outcome is not None:
        query = query.where(AuditEntry.outcome == outcome)
    if since is not None:
        query = query.where(col(AuditEntry.at) >= as_utc(since))
    if until is not None:
        query = query.where(col(AuditEntry.at) < as_utc(until))
    if client_address is not None:
        query = query.where(AuditEntry.client_address == client_address)
    rows = session.exec(query.order_by(col(AuditEntry.id).desc()).limit(limit)).all()
    last = rows[-1].id if len(rows) == limit else None
    return AuditPublic(
        data=[AuditEntryPublic.model_validate(r) for r in rows],
        count=len(rows),
        next_before_id=last,
    )
