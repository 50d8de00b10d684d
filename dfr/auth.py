"""Bearer-token authentication and role checks.

Tokens are random secrets shown once; only their SHA-256 is stored (a token has 256 bits of entropy,
so a slow hash adds nothing). Every endpoint declares the roles it admits with `require_roles`;
`admin` is admitted everywhere. The few public paths are listed in PUBLIC_PATHS.

A WebSocket takes its token from the `Authorization` header or the subprotocol pair
`["bearer", <token>]`, never from the URL (URLs end up in access logs and browser history). An
admitted WebSocket is held open under its token (TokenSessions) and closed 4401 when the token is
revoked or expires; each connect and each refusal is audited (refused tokens as summaries).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends, Request, WebSocket, WebSocketException
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from dfr.audit import client_address, record_audit
from dfr.auth_guard import AuthGuard
from dfr.deps import EngineDep, ServiceDep
from dfr.errors import ForbiddenError, NotAuthenticatedError
from dfr.models import Role
from dfr.token_sessions import TokenSessions
from dfr.tokens import (
    TOKEN_PREFIX,
    Principal,
    PrincipalCache,
    create_token,
    hash_token,
    new_token,
    principal_for,
)

__all__ = [
    "PUBLIC_PATHS",
    "PUBLIC_PREFIXES",
    "STAFF_ROLES",
    "TOKEN_PREFIX",
    "WS_FORBIDDEN",
    "WS_UNAUTHENTICATED",
    "AuthGuardDep",
    "BearerToken",
    "Principal",
    "PrincipalCache",
    "TokenSessionsDep",
    "authenticate",
    "bearer_token",
    "token_of",
    "check_role",
    "declared_roles",
    "is_public_path",
    "create_token",
    "hash_token",
    "new_token",
    "principal_for",
    "require_roles",
    "require_ws_roles",
    "websocket_token",
]

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

#: Paths under these prefixes take no bearer token: the camera registry's public form and the
#: owners' links, each checked by its own random link token (sent in the body or a header).
PUBLIC_PREFIXES = ("/api/v1/public/",)


def is_public_path(path: str) -> bool:
    """Whether `path` is served without a bearer token."""
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)


_bearer = HTTPBearer(auto_error=False)


def token_of(credentials: HTTPAuthorizationCredentials | None) -> str:
    """The bearer token of an Authorization header (401 when there is none)."""
    if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
        raise NotAuthenticatedError("a bearer token is required")
    return credentials.credentials


# Dependencies that do no I/O are `async def`: FastAPI runs a plain `def` one on a worker thread.
async def bearer_token(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str:
    """The request's bearer token (401 when there is none)."""
    return token_of(credentials)


BearerToken = Annotated[str, Depends(bearer_token)]


def check_role(principal: Principal, admitted: frozenset[Role]) -> Principal:
    """`principal` when its role is admitted, else ForbiddenError naming the roles that are."""
    if principal.role not in admitted:
        raise ForbiddenError(
            f"role {principal.role.value!r} may not do this; admitted: "
            + ", ".join(sorted(r.value for r in admitted))
        )
    return principal


def authenticate(request: Request, token: BearerToken, engine: EngineDep) -> Principal:
    """Resolve the bearer token to a principal (401 when missing, unknown or revoked)."""
    principal = principal_for(engine, token, client_address=client_address(request.scope))
    if principal is None:
        raise NotAuthenticatedError("the bearer token is unknown, revoked or expired")
    request.state.principal = principal
    return principal


def declared_roles(dependant: Any) -> frozenset[Role] | None:
    """The roles a route's dependencies admit (from `require_roles`), None for a public route."""
    for dep in dependant.dependencies:
        roles = getattr(dep.call, "dfr_roles", None)
        if roles is not None:
            return frozenset(roles)
        found = declared_roles(dep)
        if found is not None:
            return found
    return None


def require_roles(*roles: Role) -> Callable[..., Awaitable[Principal]]:
    """A dependency admitting `roles` (and admin); its `dfr_roles` attribute lists them."""
    admitted = frozenset((*roles, Role.ADMIN))

    async def check(principal: Annotated[Principal, Depends(authenticate)]) -> Principal:
        return check_role(principal, admitted)

    check.dfr_roles = admitted  # type: ignore[attr-defined]
    check.__name__ = "require_" + "_".join(sorted(r.value for r in admitted))
    return check


#: WebSocket close codes for refused connections (4000-4999 are the application's own).
WS_UNAUTHENTICATED = 4401
WS_FORBIDDEN = 4403
URL_TOKEN_REFUSED = (
    "a token in the URL is refused (URLs are logged); send it as the Authorization header "
    "or the subprotocol pair bearer, <token>"
)


async def get_token_sessions(service: ServiceDep) -> TokenSessions:
    """The open sessions held under tokens."""
    return service.sessions


async def get_auth_guard(service: ServiceDep) -> AuthGuard:
    """The failed-authentication throttle."""
    return service.auth_guard


TokenSessionsDep = Annotated[TokenSessions, Depends(get_token_sessions)]
AuthGuardDep = Annotated[AuthGuard, Depends(get_auth_guard)]


def websocket_token(websocket: WebSocket) -> str | None:
    """The token of a WebSocket: `Sec-WebSocket-Protocol: bearer, <t>` or the header."""
    protocols = [str(p).strip() for p in websocket.scope.get("subprotocols") or []]
    if len(protocols) >= 2 and protocols[0].lower() == "bearer" and protocols[1]:
        return protocols[1]
    scheme, _, token = websocket.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


async def _refuse_websocket(websocket: WebSocket, code: int, reason: str) -> WebSocketException:
    # Accepted first so the browser sees the close code; a refused handshake only shows 1006.
    offered = [p.strip().lower() for p in websocket.scope.get("subprotocols") or []]
    await websocket.accept(subprotocol="bearer" if "bearer" in offered else None)
    return WebSocketException(code=code, reason=reason)


async def _ws_audit(
    service: ServiceDep,
    websocket: WebSocket,
    principal: Principal,
    status_code: int,
    action: str,
    detail: str = "",
) -> None:
    await asyncio.to_thread(
        record_audit,
        service.engine,
        actor=principal.name,
        role=principal.role.value,
        method="WS",
        path=websocket.url.path,
        status_code=status_code,
        action=action,
        detail=detail,
        client_address=client_address(websocket.scope),
    )


def require_ws_roles(*roles: Role) -> Callable[..., Any]:
    """A WebSocket dependency admitting `roles` (and admin); closes 4401 / 4403 otherwise.

    The admitted socket is held under its token for as long as the endpoint runs: revoking the
    token (on any instance) or its expiry closes it with 4401 and the reason.
    """
    admitted = frozenset((*roles, Role.ADMIN))

    async def check(websocket: WebSocket, service: ServiceDep) -> AsyncIterator[Principal]:
        path = websocket.url.path
        address = client_address(websocket.scope)
        if "token" in websocket.query_params:
            service.auth_guard.failed(address, path=path, presented=True)
            raise await _refuse_websocket(websocket, WS_UNAUTHENTICATED, URL_TOKEN_REFUSED)
        token = websocket_token(websocket)
        if not token:
            service.auth_guard.failed(address, path=path, presented=False)
            raise await _refuse_websocket(websocket, WS_UNAUTHENTICATED, "a token is required")
        principal = await asyncio.to_thread(principal_for, service.engine, token)
        if principal is None:
            service.auth_guard.failed(address, path=path, presented=True)
            raise await _refuse_websocket(
                websocket, WS_UNAUTHENTICATED, "the token is unknown, revoked or expired"
            )
        if principal.role not in admitted:
            reason = f"role {principal.role.value!r} may not do this"
            await _ws_audit(service, websocket, principal, 403, "ws.refused", reason)
            raise await _refuse_websocket(websocket, WS_FORBIDDEN, reason)
        websocket.state.principal = principal
        await _ws_audit(service, websocket, principal, 101, "ws.connect")

        async def end(reason: str) -> None:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(1.0):
                    await websocket.close(code=WS_UNAUTHENTICATED, reason=reason)

        held = service.sessions.open(principal.token_id, "websocket", end)
        try:
            yield principal
        finally:
            service.sessions.close(held)

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
    Role.SUPERVISOR,
)
