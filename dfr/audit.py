"""Append-only audit of every state-changing request: who, what, when, outcome.

Written by an ASGI middleware after the response, so a handler cannot forget it, and refused
attempts (401/403/422) are recorded too.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dfr.models import AuditEntry
from dfr.tokens import Principal, principal_for

log = logging.getLogger(__name__)
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def record_audit(
    engine: Engine,
    *,
    actor: str,
    role: str,
    method: str,
    path: str,
    status_code: int,
    action: str = "",
    detail: str = "",
) -> None:
    """Append one audit row (blocking; call from a worker thread on the event loop)."""
    outcome = "ok" if status_code < 400 else ("denied" if status_code in (401, 403) else "error")
    with Session(engine) as session:
        session.add(
            AuditEntry(
                actor=actor,
                role=role,
                method=method,
                path=path[:500],
                action=action[:200],
                status_code=status_code,
                outcome=outcome,
                detail=detail[:2000],
            )
        )
        session.commit()


def _principal_from_headers(engine: Engine, scope: Scope) -> Principal | None:
    for key, value in scope.get("headers", []):
        if key.lower() == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and token:
                return principal_for(engine, token.strip())
    return None


class AuditMiddleware:
    """Records every non-read HTTP request in the audit log."""

    def __init__(self, app: ASGIApp, *, engine_of: Callable[[], Engine | None]) -> None:
        self.app = app
        # The engine exists only while the service runs, so it is asked for per request.
        self._engine_of = engine_of

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in READ_METHODS:
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
            await self._write(scope, status_holder["status"])

    async def _write(self, scope: Scope, status_code: int) -> None:
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
            )
        except Exception:
            log.exception("could not write the audit row for %s %s", scope["method"], scope["path"])
