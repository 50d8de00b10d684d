"""API tokens and the audit log (admin only)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, status
from sqlmodel import col, select

from dfr.api.params import Id64
from dfr.auth import Principal, create_token, require_roles
from dfr.deps import SessionDep
from dfr.errors import ConflictError, NotFoundError
from dfr.models import (
    ApiToken,
    AuditEntry,
    AuditEntryPublic,
    AuditPublic,
    Role,
    TokenCreate,
    TokenCreated,
    TokenPublic,
    TokensPublic,
    utcnow,
)

router = APIRouter(tags=["admin"])
Admin = Annotated[Principal, Depends(require_roles(Role.ADMIN))]


@router.get("/tokens", response_model=TokensPublic)
def list_tokens(session: SessionDep, _: Admin) -> TokensPublic:
    """Every token (never the secret)."""
    rows = session.exec(select(ApiToken).order_by(col(ApiToken.id))).all()
    return TokensPublic(data=[TokenPublic.model_validate(r) for r in rows], count=len(rows))


@router.post("/tokens", response_model=TokenCreated, status_code=status.HTTP_201_CREATED)
def create_api_token(body: TokenCreate, session: SessionDep, _: Admin) -> TokenCreated:
    """Create a token; the secret is in this answer only."""
    if session.exec(select(ApiToken).where(ApiToken.name == body.name)).first() is not None:
        raise ConflictError(f"a token named {body.name!r} already exists", field="name")
    row, secret = create_token(session, body.name, body.role)
    session.commit()
    return TokenCreated(**TokenPublic.model_validate(row).model_dump(), token=secret)


@router.delete("/tokens/{token_id}", response_model=TokenPublic)
def revoke_token(token_id: Id64, session: SessionDep, _: Admin) -> TokenPublic:
    """Revoke a token (kept for the record)."""
    row = session.get(ApiToken, token_id)
    if row is None:
        raise NotFoundError("token", token_id)
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        session.add(row)
        session.commit()
    return TokenPublic.model_validate(row)


@router.get("/audit", response_model=AuditPublic)
def list_audit(
    session: SessionDep,
    _: Admin,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> AuditPublic:
    """The most recent audit entries."""
    rows = session.exec(select(AuditEntry).order_by(col(AuditEntry.id).desc()).limit(limit)).all()
    return AuditPublic(data=[AuditEntryPublic.model_validate(r) for r in rows], count=len(rows))
