"""Storing calls from CAD: idempotent by (agency, cad_incident_id), updates in place, never duplicates.

The store is one SQL upsert per call (`INSERT ... ON CONFLICT (agency_id, cad_incident_id) DO
UPDATE ... WHERE content_hash differs`, SQLite and PostgreSQL), and a batch of calls shares one
transaction: `CallWriter` collects the calls posted while the previous commit runs and commits them
together, each poster waiting for its own result (a 202 is only sent after the commit).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Table, and_, bindparam, case, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session

from cad_bridge import CadCall
from dfr.audit import append_audit
from dfr.errors import CallerNotAdmittedError, InvalidInputError
from dfr.group_commit import GroupCommit
from dfr.models import Agency, ApiToken, Call, CallLifecycle, Note, utcnow

log = logging.getLogger(__name__)

_LIFECYCLE_FOR_STATUS = {"Cancelled": CallLifecycle.CANCELLED, "Closed": CallLifecycle.CLEARED}
_FINAL_LIFECYCLES = (CallLifecycle.CANCELLED, CallLifecycle.CLEARED)

_CALLS: Table = Call.__table__  # type: ignore[attr-defined]
_NOTES: Table = Note.__table__  # type: ignore[attr-defined]
_AGENCIES: Table = Agency.__table__  # type: ignore[attr-defined]
_TOKENS: Table = ApiToken.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class IngestResult:
    """What storing a CAD document did."""

    call_id: int
    created: bool
    changed: bool
    ended: bool  # CAD cancelled or closed the call just now

    @property
    def verb(self) -> str:
        """created | updated | unchanged."""
        return "created" if self.created else "updated" if self.changed else "unchanged"


@dataclass(frozen=True, slots=True)
class AuditStamp:
    """Who posted a call: checked and audited in the call's own transaction.

    With `token_hash` set, the call is stored only if that token still exists, is not revoked and
    has one of `admitted` roles when the transaction runs.
    """

    actor: str
    role: str
    token_hash: str = ""
    admitted: frozenset[str] = frozenset()
    method: str = "POST"
    path: str = "/api/v1/cad/incidents"
    action: str = "post_incident"
    client_address: str = ""


@dataclass(slots=True)
class _Known:
    call_id: int
    content_hash: str
    cad_status: str


_UPDATED_COLUMNS = (
    "call_type",
    "call_type_text",
    "category",
    "priority",
    "lat",
    "lon",
    "address",
    "received_at",
    "cad_status",
    "flags",
    "raw_format",
    "raw_document",
    "content_hash",
    "received_by",
    "updated_at",
)
_INSERTED_COLUMNS = (*_UPDATED_COLUMNS, "agency_id", "cad_incident_id", "lifecycle", "created_at")
_UPSERTS: dict[str, Any] = {}


def _upsert_statement(dialect: str) -> Any:
    """`INSERT ... ON CONFLICT (agency_id, cad_incident_id) DO UPDATE ... WHERE the content differs
    RETURNING id`, built once per dialect (building it is far dearer than running it)."""
    stmt = _UPSERTS.get(dialect)
    if stmt is not None:
        return stmt
    if dialect == "sqlite":
        insert: Any = sqlite.insert(_CALLS)
    elif dialect == "postgresql":
        insert = postgresql.insert(_CALLS)
    else:
        raise NotImplementedError(f"call upsert is not written for {dialect!r}")
    c = _CALLS.c
    insert = insert.values(
        {name: bindparam(name, type_=c[name].type) for name in _INSERTED_COLUMNS}
    )
    update: dict[str, Any] = {name: insert.excluded[name] for name in _UPDATED_COLUMNS}
    # CAD ending the call moves DFR's lifecycle, unless DFR ended the call itself already; any
    # other status leaves the lifecycle to DFR (the inserted lifecycle is NEW then).
    update["lifecycle"] = case(
        (
            or_(
                c.lifecycle.in_(_FINAL_LIFECYCLES),
                insert.excluded.lifecycle == CallLifecycle.NEW,
            ),
            c.lifecycle,
        ),
        else_=insert.excluded.lifecycle,
    )
    stmt = insert.on_conflict_do_update(
        index_elements=[c.agency_id, c.cad_incident_id],
        set_=update,
        where=c.content_hash != insert.excluded.content_hash,
    ).returning(c.id)
    _UPSERTS[dialect] = stmt
    return stmt


def _params(call: CadCall, digest: str, now: datetime, received_by: str | None) -> dict[str, Any]:
    return {
        "call_type": call.call_type,
        "call_type_text": call.call_type_text,
        "category": call.category,
        "priority": call.priority,
        "lat": call.location.lat_deg,
        "lon": call.location.lon_deg,
        "address": call.address,
        "received_at": call.received_at,
        "cad_status": call.status,
        "flags": call.flags.model_dump(),
        "raw_format": call.raw_format,
        "raw_document": call.raw_document,
        "content_hash": digest,
        "received_by": received_by,
        "updated_at": now,
        "agency_id": call.agency,
        "cad_incident_id": call.cad_incident_id,
        "lifecycle": _LIFECYCLE_FOR_STATUS.get(call.status, CallLifecycle.NEW),
        "created_at": now,
    }


def _upsert(conn: Connection, params: dict[str, Any]) -> int | None:
    """Insert or update one call; its id, or None when the stored content was already equal."""
    row = conn.execute(_upsert_statement(conn.dialect.name), params).first()
    return None if row is None else int(row[0])


def _insert_new(conn: Connection, rows: list[dict[str, Any]]) -> dict[tuple[str, str], int]:
    """Calls not stored yet, in one statement run for all; the ids of those it stored, by
    (agency, incident) (a row another writer stored meanwhile is skipped and not returned)."""
    name = conn.dialect.name
    insert: Any = sqlite.insert(_CALLS) if name == "sqlite" else postgresql.insert(_CALLS)
    c = _CALLS.c
    stored = conn.execute(
        insert.on_conflict_do_nothing(index_elements=[c.agency_id, c.cad_incident_id]).returning(
            c.id, c.agency_id, c.cad_incident_id
        ),
        rows,
    )
    return {(r.agency_id, r.cad_incident_id): int(r.id) for r in stored}


def _known_calls(conn: Connection, calls: Sequence[CadCall]) -> dict[tuple[str, str], _Known]:
    c = _CALLS.c
    rows = conn.execute(
        select(c.id, c.agency_id, c.cad_incident_id, c.content_hash, c.cad_status).where(
            c.cad_incident_id.in_({x.cad_incident_id for x in calls}),
            c.agency_id.in_({x.agency for x in calls}),
        )
    )
    return {
        (r.agency_id, r.cad_incident_id): _Known(r.id, r.content_hash, r.cad_status) for r in rows
    }


def _cad_notes(conn: Connection, call_ids: set[int]) -> dict[int, set[tuple[str, str]]]:
    seen: dict[int, set[tuple[str, str]]] = {i: set() for i in call_ids}
    if call_ids:
        n = _NOTES.c
        rows = conn.execute(
            select(n.call_id, n.author, n.text).where(n.call_id.in_(call_ids), n.source == "cad")
        )
        for r in rows:
            seen[r.call_id].add((r.author, r.text))
    return seen


def _refused_callers(
    conn: Connection, stamps: Sequence[AuditStamp | None], now: datetime
) -> set[str]:
    """Token hashes of the batch that are unknown, revoked, expired or not admitted now."""
    wanted = {s.token_hash: s.admitted for s in stamps if s is not None and s.token_hash}
    if not wanted:
        return set()
    t = _TOKENS.c
    valid = {
        r.token_hash
        for r in conn.execute(
            select(t.token_hash, t.role).where(
                t.token_hash.in_(wanted),
                t.revoked_at.is_(None),
                or_(t.expires_at.is_(None), t.expires_at > now),
            )
        )
        if str(getattr(r.role, "value", r.role)) in wanted[r.token_hash]
    }
    return set(wanted) - valid


def _store_batch(
    conn: Connection,
    calls: Sequence[CadCall],
    stamps: Sequence[AuditStamp | None],
    received_by: str | None = None,
) -> list[IngestResult | Exception]:
    """Every call of the batch in `conn`'s transaction, in order (the caller commits)."""
    now = utcnow()
    agencies = set(
        conn.execute(
            select(_AGENCIES.c.id).where(_AGENCIES.c.id.in_({c.agency for c in calls}))
        ).scalars()
    )
    refused = _refused_callers(conn, stamps, now)
    known = _known_calls(conn, calls)
    stored_before = {k.call_id for k in known.values()}
    results: list[IngestResult | Exception | None] = [None] * len(calls)
    params: list[dict[str, Any] | None] = [None] * len(calls)
    new: dict[tuple[str, str], int] = {}  # first post of an incident not stored yet -> index
    for i, (call, stamp) in enumerate(zip(calls, stamps, strict=True)):
        if stamp is not None and stamp.token_hash in refused:
            results[i] = CallerNotAdmittedError("the bearer token is unknown or revoked")
        elif call.agency not in agencies:
            results[i] = InvalidInputError(
                f"agency {call.agency!r} is not known here", field="agency"
            )
        else:
            params[i] = _params(call, call.content_hash(), now, received_by)
            key = (call.agency, call.cad_incident_id)
            if key not in known and key not in new:
                new[key] = i
    if new:
        # New incidents go in with one executemany that returns the rows it stored; one another
        # writer stored meanwhile is not among them and goes the upsert way below.
        created = _insert_new(conn, [p for i in new.values() if (p := params[i]) is not None])
        for key, i in new.items():
            call_id, p = created.get(key), params[i]
            if call_id is None or p is None:
                continue
            known[key] = _Known(call_id, p["content_hash"], calls[i].status)
            results[i] = IngestResult(
                call_id, created=True, changed=True, ended=calls[i].is_terminal
            )
    touched: list[tuple[int, CadCall]] = []
    for i, call in enumerate(calls):
        p = params[i]
        if p is None:
            continue
        result = results[i]
        if result is None:
            result = results[i] = _update(conn, call, p, known)
        if isinstance(result, IngestResult) and result.changed:
            touched.append((result.call_id, call))
    _add_notes(conn, touched, stored_before, now)
    final = [r if r is not None else RuntimeError("not stored") for r in results]
    _audit(conn, final, calls, stamps, now)
    return final


def _update(
    conn: Connection, call: CadCall, params: dict[str, Any], known: dict[tuple[str, str], _Known]
) -> IngestResult:
    """A post of an incident already stored (or stored by another writer since we looked)."""
    key = (call.agency, call.cad_incident_id)
    before = known.get(key)
    if before is not None and before.content_hash == params["content_hash"]:
        return IngestResult(before.call_id, created=False, changed=False, ended=False)
    call_id = _upsert(conn, params)
    if call_id is None:
        # Another writer stored this very content since we looked.
        found = conn.execute(
            select(_CALLS.c.id).where(
                and_(_CALLS.c.agency_id == call.agency, _CALLS.c.cad_incident_id == key[1])
            )
        ).scalar_one()
        return IngestResult(int(found), created=False, changed=False, ended=False)
    was_terminal = before is not None and before.cad_status in _LIFECYCLE_FOR_STATUS
    known[key] = _Known(call_id, params["content_hash"], call.status)
    return IngestResult(
        call_id, created=before is None, changed=True, ended=call.is_terminal and not was_terminal
    )


def _add_notes(
    conn: Connection, touched: list[tuple[int, CadCall]], existing_ids: set[int], now: datetime
) -> None:
    """CAD notes not yet on the call, in posting order (a re-post repeats the earlier notes)."""
    seen = _cad_notes(conn, {i for i, _ in touched} & existing_ids)
    rows: list[dict[str, Any]] = []
    for call_id, call in touched:
        have = seen.setdefault(call_id, set())
        for note in call.notes:
            if (note.author, note.text) not in have:
                have.add((note.author, note.text))
                rows.append(
                    {
                        "call_id": call_id,
                        "author": note.author,
                        "source": "cad",
                        "text": note.text,
                        "at": note.at or now,
                    }
                )
    if rows:
        conn.execute(_NOTES.insert(), rows)


def _audit(
    conn: Connection,
    results: Sequence[IngestResult | Exception],
    calls: Sequence[CadCall],
    stamps: Sequence[AuditStamp | None],
    now: datetime,
) -> None:
    rows = [
        {
            "at": now,
            "actor": s.actor[:200],
            "role": s.role[:16],
            "method": s.method,
            "path": s.path[:500],
            "action": s.action[:200],
            "status_code": 202,
            "outcome": "ok",
            "detail": f"call {r.call_id} {c.cad_incident_id} {r.verb}"[:2000],
            "client_address": s.client_address[:64],
            "target": f"call {r.call_id}",
        }
        for r, c, s in zip(results, calls, stamps, strict=True)
        if s is not None and isinstance(r, IngestResult)
    ]
    # Chained in the call's own transaction (dfr.audit locks the chain head until it commits).
    append_audit(conn, rows)


def store_calls(
    engine: Engine,
    calls: Sequence[CadCall],
    stamps: Sequence[AuditStamp | None] | None = None,
    received_by: str | None = None,
) -> list[IngestResult | Exception]:
    """Store `calls` in one transaction, in order (blocking; run in a worker thread).

    Each call gets its result or its error; a call that fails the batch's transaction is retried
    alone, so one bad call never costs the others theirs.
    """
    stamps = stamps if stamps is not None else [None] * len(calls)
    if not calls:
        return []
    try:
        with engine.begin() as conn:
            return _store_batch(conn, calls, stamps, received_by)
    except Exception as exc:
        if len(calls) == 1:
            return [exc]
        log.warning("a batch of %d calls failed (%s); storing them one by one", len(calls), exc)
    return [
        store_calls(engine, [c], [s], received_by)[0] for c, s in zip(calls, stamps, strict=True)
    ]


def store_call(engine: Engine, call: CadCall) -> IngestResult:
    """Store one call in its own transaction, raising its error (blocking)."""
    result = store_calls(engine, [call])[0]
    if isinstance(result, Exception):
        raise result
    return result


def ingest_call(session: Session, call: CadCall) -> IngestResult:
    """Create or update the call within `session`'s transaction (the caller commits)."""
    result = _store_batch(session.connection(), [call], [None])[0]
    if isinstance(result, Exception):
        raise result
    return result


class CallWriter:
    """Group commit: calls submitted while a commit runs are stored together in the next one.

    One writer per engine and event loop; its drain task exists only while there is work, so it
    needs no start or stop. `store` returns once the call is committed (or raises its error).
    Commits run on the writer's own thread: on the shared worker threads they queued behind the
    dispatch decisions of the calls just stored, and CAD waited for decisions to get its 202.
    """

    def __init__(
        self, engine: Engine, *, max_batch: int = 500, received_by: str | None = None
    ) -> None:
        self._engine = engine
        self._received_by = received_by
        # The caller going away must not cancel the batch others wait on (shielded).
        self._group: GroupCommit[tuple[CadCall, AuditStamp | None], IngestResult] = GroupCommit(
            self._store_batch,
            executor=ThreadPoolExecutor(max_workers=1, thread_name_prefix="cad-call-writer"),
            max_batch=max_batch,
            name="cad-call-writer",
        )

    @property
    def idle_s(self) -> float:
        """Seconds since the writer last had calls to store (0 while it has)."""
        return self._group.idle_s

    @property
    def batches(self) -> int:
        """Transactions committed so far."""
        return self._group.batches

    @property
    def stored(self) -> int:
        """Calls stored so far (or answered with their error)."""
        return self._group.done

    def _store_batch(
        self, items: list[tuple[CadCall, AuditStamp | None]]
    ) -> list[IngestResult | Exception]:
        return store_calls(
            self._engine, [c for c, _ in items], [s for _, s in items], self._received_by
        )

    async def store(self, call: CadCall, stamp: AuditStamp | None = None) -> IngestResult:
        """Store `call` (idempotently); returns after its transaction committed."""
        return await self._group.submit((call, stamp))
