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
import hashlib
import json
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict
from sqlalchemy import Table, select, text, update
from sqlalchemy.engine import Connection, Engine
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dfr.log_redaction import redact_tokens_in_server_logs
from dfr.models import AuditChainHead, AuditEntry, as_utc, utcnow
from dfr.tokens import Principal, principal_for

log = logging.getLogger(__name__)
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
#: Paths any address may reach while throttled (nothing there checks a token).
UNGUARDED_PREFIXES = ("/console/", "/docs", "/redoc")
UNGUARDED_PATHS = frozenset({"/", "/api/v1/health", "/openapi.json"})


AUDIT_FORMAT = "dfr-audit/1"
#: The chain value before the first row.
GENESIS_HASH = hashlib.sha256(f"{AUDIT_FORMAT}|genesis".encode()).hexdigest()
#: Audit rows younger than this are never deleted (the database refuses it: migration 0006).
AUDIT_FLOOR_DAYS = 365
#: The columns a row's hash covers, besides chain_seq and prev_hash.
HASHED_FIELDS = (
    "at",
    "actor",
    "role",
    "method",
    "path",
    "action",
    "target",
    "status_code",
    "outcome",
    "detail",
    "client_address",
)
_AUDIT: Table = AuditEntry.__table__  # type: ignore[attr-defined]
_HEAD: Table = AuditChainHead.__table__  # type: ignore[attr-defined]
#: Rows read per query while verifying.
_VERIFY_BATCH = 1000
#: What a bare event row says in the request columns.
EVENT_METHOD = "EVENT"


def outcome_of(status_code: int) -> str:
    """ok, denied (401/403/429) or error."""
    if status_code < 400:
        return "ok"
    return "denied" if status_code in (401, 403, 429) else "error"


def _canonical_at(at: datetime) -> str:
    return as_utc(at).astimezone(UTC).isoformat(timespec="microseconds")


def row_hash(row: Mapping[str, Any]) -> str:
    """The SHA-256 (hex) of one row's canonical content with its chain_seq and prev_hash."""
    fields: dict[str, Any] = {name: row[name] for name in HASHED_FIELDS}
    fields["at"] = _canonical_at(row["at"])
    fields["chain_seq"] = row["chain_seq"]
    fields["prev_hash"] = row["prev_hash"]
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(f"{AUDIT_FORMAT}|{canonical}".encode()).hexdigest()


def _clean(row: Mapping[str, Any]) -> dict[str, Any]:
    """The row as stored: every column given, strings cut to their column's length."""
    return {
        "at": row.get("at") or utcnow(),
        "actor": str(row.get("actor", ""))[:200],
        "role": str(row.get("role", ""))[:16],
        "method": str(row.get("method", EVENT_METHOD))[:10],
        "path": str(row.get("path", ""))[:500],
        "action": str(row.get("action", ""))[:200],
        "target": str(row.get("target", ""))[:200],
        "status_code": int(row.get("status_code", 200)),
        "outcome": str(row.get("outcome", "ok"))[:16],
        "detail": str(row.get("detail", ""))[:2000],
        "client_address": str(row.get("client_address", ""))[:64],
    }


def lock_chain(conn: Connection) -> tuple[int, str]:
    """Lock the chain head until the caller's transaction ends; its (seq, hash).

    Whatever else a writer checks under this lock (a hold before a purge) cannot change under it
    when the other side takes the same lock first.
    """
    if conn.dialect.name == "sqlite":
        # Takes SQLite's write lock now (FOR UPDATE is a no-op there); other writers wait for it.
        conn.execute(text("UPDATE audit_chain_head SET seq = seq WHERE id = 1"))
    head = conn.execute(
        select(_HEAD.c.seq, _HEAD.c.head_hash).where(_HEAD.c.id == 1).with_for_update()
    ).one()
    return int(head.seq), str(head.head_hash)


def append_audit(conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    """Append `rows` to the chain in the caller's open transaction (the chain head stays locked
    until it ends, so keep the transaction short after this)."""
    if not rows:
        return
    seq, prev = lock_chain(conn)
    stored: list[dict[str, Any]] = []
    for given in rows:
        row = _clean(given)
        seq += 1
        row["chain_seq"], row["prev_hash"] = seq, prev
        row["row_hash"] = prev = row_hash(row)
        stored.append(row)
    conn.execute(_AUDIT.insert(), stored)
    conn.execute(update(_HEAD).where(_HEAD.c.id == 1).values(seq=seq, head_hash=prev))


def event_row(
    *,
    actor: str,
    role: str,
    action: str,
    target: str,
    outcome: str = "ok",
    detail: str = "",
    client_address: str = "",
    path: str = "",
    at: datetime | None = None,
) -> dict[str, Any]:
    """An audit row for an event that is not an HTTP write (a view, a download, a purge)."""
    return {
        "at": at or utcnow(),
        "actor": actor,
        "role": role,
        "method": EVENT_METHOD,
        "path": path,
        "action": action,
        "target": target,
        "status_code": {"ok": 200, "denied": 403}.get(outcome, 500),
        "outcome": outcome,
        "detail": detail,
        "client_address": client_address,
    }


def record_event(
    engine: Engine,
    *,
    actor: str,
    role: str,
    action: str,
    target: str,
    outcome: str = "ok",
    detail: str = "",
    client_address: str = "",
    path: str = "",
) -> None:
    """Append one event row in its own transaction (blocking; call from a worker thread)."""
    row = event_row(
        actor=actor,
        role=role,
        action=action,
        target=target,
        outcome=outcome,
        detail=detail,
        client_address=client_address,
        path=path,
    )
    with engine.begin() as conn:
        append_audit(conn, [row])


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
    client_address: str = "",
    target: str = "",
) -> None:
    """Append one audit row (blocking; call from a worker thread on the event loop)."""
    row = {
        "actor": actor,
        "role": role,
        "method": method,
        "path": path,
        "action": action,
        "target": target,
        "status_code": status_code,
        "outcome": outcome_of(status_code),
        "detail": detail,
        "client_address": client_address,
    }
    with engine.begin() as conn:
        append_audit(conn, [row])


class ChainReport(BaseModel):
    """The outcome of walking the audit chain."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    ok: bool
    rows_checked: int
    #: Rows written before the chain existed (not covered by it).
    unchained_rows: int
    #: The chain's first remaining link (above 1 once rows past the floor were purged).
    first_seq: int | None
    head_seq: int
    head_hash: str
    first_bad_id: int | None = None
    first_bad_seq: int | None = None
    problem: str | None = None


def _chained_rows(conn: Connection) -> Iterator[Any]:
    after = -1
    while True:
        batch = conn.execute(
            select(_AUDIT)
            .where(_AUDIT.c.chain_seq.is_not(None), _AUDIT.c.chain_seq > after)
            .order_by(_AUDIT.c.chain_seq)
            .limit(_VERIFY_BATCH)
        ).all()
        if not batch:
            return
        yield from batch
        after = int(batch[-1].chain_seq)


def _row_problem(row: Any, expected_seq: int | None, prev: str | None) -> str | None:
    mapping = row._mapping
    if expected_seq is not None and row.chain_seq != expected_seq:
        return f"chain_seq {row.chain_seq} follows {expected_seq - 1}: a row is missing"
    if prev is not None and row.prev_hash != prev:
        return "prev_hash does not match the previous row's hash"
    if row_hash(mapping) != row.row_hash:
        return "row_hash does not match the row's content (the row was changed)"
    return None


def verify_chain(engine: Engine) -> ChainReport:
    """Walk the chain from its first remaining row to the head row; report the first break."""
    with engine.connect() as conn:
        head = conn.execute(select(_HEAD.c.seq, _HEAD.c.head_hash).where(_HEAD.c.id == 1)).one()
        first_chained_id = conn.execute(
            select(_AUDIT.c.id)
            .where(_AUDIT.c.chain_seq.is_not(None))
            .order_by(_AUDIT.c.chain_seq)
            .limit(1)
        ).scalar()
        unchained = conn.execute(
            select(_AUDIT.c.id).where(_AUDIT.c.chain_seq.is_(None)).order_by(_AUDIT.c.id.desc())
        ).all()
        checked, first_seq, last_seq, last_hash = 0, None, 0, GENESIS_HASH
        base = {"unchained_rows": len(unchained), "head_seq": head.seq, "head_hash": head.head_hash}
        if unchained and first_chained_id is not None and unchained[0].id > first_chained_id:
            bad = int(unchained[0].id)
            return ChainReport(
                ok=False,
                rows_checked=0,
                first_seq=None,
                first_bad_id=bad,
                problem=f"row {bad} was written outside the chain",
                **base,
            )
        for row in _chained_rows(conn):
            if first_seq is None:
                first_seq = int(row.chain_seq)
                # Rows before a purged start are gone by design; the first one left anchors it.
                problem = _row_problem(row, 1 if first_seq == 1 else None, None)
                if problem is None and first_seq == 1 and row.prev_hash != GENESIS_HASH:
                    problem = "the first row does not start from the genesis hash"
            else:
                problem = _row_problem(row, last_seq + 1, last_hash)
            if problem is not None:
                return ChainReport(
                    ok=False,
                    rows_checked=checked,
                    first_seq=first_seq,
                    first_bad_id=int(row.id),
                    first_bad_seq=int(row.chain_seq),
                    problem=problem,
                    **base,
                )
            checked += 1
            last_seq, last_hash = int(row.chain_seq), str(row.row_hash)
    if (last_seq, last_hash) != (head.seq, head.head_hash) and not (checked == 0 and head.seq == 0):
        return ChainReport(
            ok=False,
            rows_checked=checked,
            first_seq=first_seq,
            first_bad_seq=last_seq + 1,
            problem=f"the chain ends at row {last_seq} but its head names row {head.seq}: "
            "rows were removed from its end, or the head was changed",
            **base,
        )
    return ChainReport(ok=True, rows_checked=checked, first_seq=first_seq, **base)


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
