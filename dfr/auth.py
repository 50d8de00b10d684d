"""Bearer-token authentication and role checks.

Tokens are random secrets shown once; only their SHA-256 is stored (a token has 256 bits of entropy,
so a slow hash adds nothing). Every endpoint declares the roles it admits with `require_roles`;
`admin` is admitted everywhere. The few public paths are listed in PUBLIC_PATHS.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, WebSocket, WebSocketException, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from dfr.models import ApiToken, Role

TOKEN_PREFIX = "dfr_"
#: Paths served without a token: liveness for probes, the API description, and the console's static shell.
PUBLIC_PATHS = frozenset(
    {
        "/api/v1/health",
        "/docs",
        "/docs/oauth2-redirect",
        "/openapi.json",
        "/redoc",
        "/",
        "/console/",
    }
)

_bearer = HTTPBearer(auto_error=False)


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling."""

    token_id: int
    name: str
    role: Role


def hash_token(token: str) -> str:
    """The stored form of a token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    """A fresh random token."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def create_token(session: Session, name: str, role: Role) -> tuple[ApiToken, str]:
    """Store a new token for `name` with `role`; returns the row and the secret (shown once)."""
    secret = new_token()
    row = ApiToken(name=name, role=role, token_hash=hash_token(secret))
    session.add(row)
    session.flush()
    return row, secret


def principal_for(engine: Engine, token: str) -> Principal | None:
    """The principal owning `token`, or None when unknown or revoked."""
    with Session(engine) as session:
        row = session.exec(select(ApiToken).where(ApiToken.token_hash == hash_token(token))).first()
        if row is None or row.revoked_at is not None or row.id is None:
            return None
        return Principal(token_id=row.id, name=row.name, role=row.role)


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(
        status_code=status.HTTP_401_UNAUTHORIZED,
        detail=detail,
        headers={"WWW-Authenticate": "Bearer"},
    )


def authenticate(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """Resolve the bearer token to a principal (401 when missing, unknown or revoked)."""
    if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
        raise _unauthorized("a bearer token is required")
    engine: Engine = request.app.state.engine
    principal = principal_for(engine, credentials.credentials)
    if principal is None:
        raise _unauthorized("the bearer token is unknown or revoked")
    request.state.principal = principal
    return principal


def require_roles(*roles: Role) -> Callable[..., Principal]:
    """A dependency admitting `roles` (and admin); its `dfr_roles` attribute lists them."""
    admitted = frozenset((*roles, Role.ADMIN))

    def check(principal: Annotated[Principal, Depends(authenticate)]) -> Principal:
        if principal.role not in admitted:
            raise HTTPException(
                status_code=status.HTTP_403_FORBIDDEN,
                detail=f"role {principal.role.value!r} may not do this; admitted: "
                + ", ".join(sorted(r.value for r in admitted)),
            )
        return principal

    check.dfr_roles = admitted  # type: ignore[attr-defined]
    check.__name__ = "require_" + "_".join(sorted(r.value for r in admitted))
    return check


#: WebSocket close codes for refused connections (4000-4999 are the application's own).
WS_UNAUTHENTICATED = 4401
WS_FORBIDDEN = 4403


def websocket_token(websocket: WebSocket) -> str | None:
    """The token of a WebSocket: `Sec-WebSocket-Protocol: bearer, <t>`, `?token=` or the header."""
    protocols = [str(p).strip() for p in websocket.scope.get("subprotocols") or []]
    if len(protocols) >= 2 and protocols[0].lower() == "bearer" and protocols[1]:
        return protocols[1]
    if query_token := websocket.query_params.get("token"):
        return str(query_token)
    scheme, _, token = websocket.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


async def _refuse_websocket(websocket: WebSocket, code: int, reason: str) -> WebSocketException:
    # Accepted first so the browser sees the close code; a refused handshake only shows 1006.
    offered = [p.strip().lower() for p in websocket.scope.get("subprotocols") or []]
    await websocket.accept(subprotocol="bearer" if "bearer" in offered else None)
    return WebSocketException(code=code, reason=reason)


def require_ws_roles(*roles: Role) -> Callable[..., Any]:
    """A WebSocket dependency admitting `roles` (and admin); closes 4401 / 4403 otherwise."""
    admitted = frozenset((*roles, Role.ADMIN))

    async def check(websocket: WebSocket) -> Principal:
        token = websocket_token(websocket)
        if not token:
            raise await _refuse_websocket(websocket, WS_UNAUTHENTICATED, "a token is required")
        engine: Engine = websocket.app.state.engine
        principal = await asyncio.to_thread(principal_for, engine, token)
        if principal is None:
            raise await _refuse_websocket(
                websocket, WS_UNAUTHENTICATED, "the token is unknown or revoked"
            )
        if principal.role not in admitted:
            raise await _refuse_websocket(
                websocket, WS_FORBIDDEN, f"role {principal.role.value!r} may not do this"
            )
        websocket.state.principal = principal
        return principal

    check.dfr_roles = admitted  # type: ignore[attr-defined]
    check.__name__ = "require_ws_" + "_".join(sorted(r.value for r in admitted))
    return check


#: Roles that read operational state (everyone but the CAD integration).
STAFF_ROLES: tuple[Role, ...] = (
    Role.ADMIN,
    Role.DISPATCHER,
    Role.PILOT,
    Role.ANALYST,
    Role.TESTER,
)
