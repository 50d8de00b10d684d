"""Append-only, hash-chained audit: who did what, when, from where, to what, with what outcome.

Every state-changing request is written by an ASGI middleware after the response, so a handler
cannot forget it, and refused attempts (403/422) are recorded too. Refused authentication (401) is
not written per request but summarised per client address by the AuthGuard, which also throttles it
(429 here, before the request reaches the app or its body is read). Reads that matter (live video,
downloads, exports, the first use of a token in a session) are written by the code that serves them.

The rows form one SHA-256 chain: row n stores `prev_hash` (row n-1's `row_hash`) and
`row_hash = sha256("dfr-audit/1|" + canonical JSON of its content, chain_seq and prev_hash)`.
A writer locks the one `audit_chain_head` row (SELECT ... FOR UPDATE on PostgreSQL, the database
write lock on SQLite) in its own transaction, so concurrent writers and several instances on one
database never fork the chain. `verify_chain` (`dfr audit verify`) walks it and names the first
row that does not hold. Rows younger than AUDIT_FLOOR_DAYS are never deleted (the database refuses).

Public API, for code that audits an event (signatures kept stable):

- `record_event(engine, *, actor, role, action, target, outcome="ok", detail="",
  client_address="")`: one row in its own transaction (blocking; call from a worker thread).
- `append_audit(conn, rows)`: rows (dicts of AuditEntry columns, see `event_row`) in the caller's
  open transaction, so they commit or roll back with its change.
- `event_row(...)`: such a dict for an event (same arguments as `record_event`).
- `record_audit(engine, *, actor, role, method, path, status_code, ...)`: a request's row.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, Protocol

from sqlalchemy.engine import Engine
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dfr.audit_chain import (
    AUDIT_FLOOR_DAYS,
    AUDIT_FORMAT,
    AUDIT_PURGE_ACTION,
    EVENT_METHOD,
    GENESIS_HASH,
    HASHED_FIELDS,
    ChainReport,
    append_audit,
    audit_purge_detail,
    event_row,
    lock_chain,
    outcome_of,
    record_audit,
    record_event,
    row_hash,
    verify_chain,
)
from dfr.log_redaction import redact_tokens_in_server_logs
from dfr.tokens import Principal, principal_for

__all__ = [
    "AUDIT_FLOOR_DAYS",
    "AUDIT_FORMAT",
    "AUDIT_PURGE_ACTION",
    "EVENT_METHOD",
    "GENESIS_HASH",
    "HASHED_FIELDS",
    "AuditMiddleware",
    "ChainReport",
    "append_audit",
    "audit_purge_detail",
    "client_address",
    "event_row",
    "lock_chain",
    "outcome_of",
    "record_audit",
    "record_event",
    "row_hash",
    "verify_chain",
]

log = logging.getLogger(__name__)
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
#: Paths any address may reach while throttled (nothing there checks a token).
UNGUARDED_PREFIXES = ("/console/", "/tiles/", "/docs", "/redoc")
UNGUARDED_PATHS = frozenset({"/", "/api/v1/health", "/openapi.json"})


def client_address(scope: Scope) -> str:
    """The client's address as the server resolved it.

    Behind a proxy, the server (uvicorn's `forwarded_allow_ips`, DFR_HTTP__FORWARDED_ALLOW_IPS)
    has already replaced the peer with the X-Forwarded-For client when the peer is a trusted proxy.
    """
    client = scope.get("client")
    return str(client[0]) if client else ""


def presents_credentials(scope: Scope) -> bool:
    """Whether a request carries a token (header, WebSocket subprotocol or query)."""
    for key, value in scope.get("headers", []):
        if key == b"authorization" and value.strip():
            return True
        if key == b"sec-websocket-protocol" and b"bearer" in value.lower():
            return True
    return b"token=" in scope.get("query_string", b"")


def _principal_from_headers(engine: Engine, scope: Scope) -> Principal | None:
    for key, value in scope.get("headers", []):
        if key.lower() == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and token:
                return principal_for(engine, token.strip())
    return None


class FailureCounter(Protocol):
    """What the middleware asks of the failed-authentication throttle (dfr.auth_guard.AuthGuard)."""

    def retry_after_s(self, address: str) -> int | None:
        """Seconds until `address` may try again, or None."""
        ...

    def failed(self, address: str, *, path: str, presented: bool) -> None:
        """Note a refused authentication."""
        ...

    def throttled(self, address: str, *, path: str) -> None:
        """Note a request refused with 429."""
        ...


def _guard_of(scope: Scope) -> FailureCounter | None:
    app = scope.get("app")
    service = getattr(getattr(app, "state", None), "service", None)
    return getattr(service, "auth_guard", None)


def _guarded(path: str) -> bool:
    return path not in UNGUARDED_PATHS and not path.startswith(UNGUARDED_PREFIXES)


async def refuse_throttled(scope: Scope, receive: Receive, send: Send, retry_after_s: int) -> None:
    """Answer 429 problem+json with Retry-After (a WebSocket: before its handshake completes)."""
    from dfr.api.errors import problem  # the API's one problem+json writer

    detail = f"too many failed authentications from this address; retry in {retry_after_s} s"
    response = problem(
        429, detail, headers={"Retry-After": str(retry_after_s)}, instance=scope["path"]
    )
    if scope["type"] == "http":
        await response(scope, receive, send)
        return
    if "websocket.http.response" in scope.get("extensions", {}):
        await receive()  # websocket.connect
        await send(
            {
                "type": "websocket.http.response.start",
                "status": 429,
                "headers": response.raw_headers,
            }
        )
        await send({"type": "websocket.http.response.body", "body": response.body})
        return
    # A server without the denial-response extension: the close code says the same.
    await receive()
    await send({"type": "websocket.close", "code": 4429, "reason": detail[:120]})


class AuditMiddleware:
    """Throttles failed authentication, then records every non-read HTTP request."""

    def __init__(self, app: ASGIApp, *, engine_of: Callable[[], Engine | None]) -> None:
        self.app = app
        # The engine exists only while the service runs, so it is asked for per request.
        self._engine_of = engine_of
        # The server's own access and connection logs print request targets, queries included.
        redact_tokens_in_server_logs()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        address = client_address(scope)
        scope.setdefault("state", {})["client_address"] = address
        guard = _guard_of(scope)
        if guard is not None and _guarded(scope["path"]):
            retry_after_s = guard.retry_after_s(address)
            if retry_after_s is not None:
                guard.throttled(address, path=scope["path"])
                await refuse_throttled(scope, receive, send, retry_after_s)
                return
        if scope["type"] == "websocket":
            # The WebSocket's own authorisation notes refusals and connects (dfr.auth).
            await self.app(scope, receive, send)
            return
        status_holder: dict[str, int] = {"status": 500}

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            status_code = status_holder["status"]
            if status_code == 401 and guard is not None:
                guard.failed(address, path=scope["path"], presented=presents_credentials(scope))
            elif scope["method"] not in READ_METHODS:
                await self._write(scope, status_code, address)

    async def _write(self, scope: Scope, status_code: int, address: str) -> None:
        state: dict[str, Any] = scope.get("state", {})
        if state.get("audit_recorded"):
            return  # the handler wrote it in the same transaction as its change
        principal = state.get("principal")
        engine = self._engine_of()
        if engine is None:
            return
        if principal is None:
            # Refused before authentication ran (bad body, media type): still say who asked.
            principal = await asyncio.to_thread(_principal_from_headers, engine, scope)
        route = scope.get("route")
        action = getattr(route, "name", "") or ""
        try:
            await asyncio.to_thread(
                record_audit,
                engine,
                actor=principal.name if principal else "",
                role=principal.role.value if principal else "",
                method=scope["method"],
                path=scope["path"],
                status_code=status_code,
                action=action,
                detail=str(state.get("audit_detail", "")),
                client_address=address,
            )
        except Exception:
            log.exception("could not write the audit row for %s %s", scope["method"], scope["path"])
