"""The audit log's hash chain: appending rows under the chain head's lock, and verifying it.

See dfr.audit (which re-exports this API) for what is audited and how the chain is built.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import Table, select, text, update
from sqlalchemy.engine import Connection, Engine

from dfr.models import AuditChainHead, AuditEntry, as_utc, utcnow

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
#: The action of the row written when a changed fleet file is applied.
FLEET_FILE_ACTION = "fleet.file.apply"
#: The action of the row a purge of old audit rows writes; its detail names the last row it removed.
AUDIT_PURGE_ACTION = "retention.purge.audit"
_PURGED_THROUGH = re.compile(r"\(through chain row (\d+)\)")


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


def target_of_path(path: str) -> str:
    """What a request row acted on, from its path ("/api/v1/docks/n1" -> "docks/n1")."""
    return path.removeprefix("/api/v1").strip("/")


def _clean(row: Mapping[str, Any]) -> dict[str, Any]:
    """The row as stored: every column given, strings cut to their column's length."""
    return {
        "at": row.get("at") or utcnow(),
        "actor": str(row.get("actor", ""))[:200],
        "role": str(row.get("role", ""))[:16],
        "method": str(row.get("method", EVENT_METHOD))[:10],
        "path": str(row.get("path", ""))[:500],
        "action": str(row.get("action", ""))[:200],
        "target": str(row.get("target") or target_of_path(str(row.get("path", ""))))[:200],
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


def audit_purge_detail(count: int, cutoff: datetime, through_seq: int | None, days: int) -> str:
    """The detail of a purge's row: what went, through which chain row (the next row anchors)."""
    return (
        f"{count} rows before {_canonical_at(cutoff)} (through chain row {through_seq or 0}); "
        f"audit_days={days}"
    )


def _purged_through(conn: Connection) -> int | None:
    """The last chain row the latest audit purge removed, None when none did."""
    detail = conn.execute(
        select(_AUDIT.c.detail)
        .where(_AUDIT.c.action == AUDIT_PURGE_ACTION, _AUDIT.c.chain_seq.is_not(None))
        .order_by(_AUDIT.c.chain_seq.desc())
        .limit(1)
    ).scalar()
    found = None if detail is None else _PURGED_THROUGH.search(str(detail))
    return None if found is None else int(found.group(1))


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
                # Rows before a purged start are gone by design; the first one left anchors it,
                # and the (chained) row of the latest audit purge names where it must start.
                problem = _row_problem(row, 1 if first_seq == 1 else None, None)
                if problem is None and first_seq == 1 and row.prev_hash != GENESIS_HASH:
                    problem = "the first row does not start from the genesis hash"
                if problem is None and first_seq > 1 and _purged_through(conn) != first_seq - 1:
                    problem = (
                        f"the rows before chain row {first_seq} are missing, and no audit "
                        "purge removed them"
                    )
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


def note_fleet_file(conn: Connection, path: Path, agency_id: str) -> bool:
    """Audit a fleet file (docks, drones, dispatch policy, retention) applied with content the
    last one applied did not have; True when it wrote a row. In the caller's transaction."""
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    last = conn.execute(
        select(_AUDIT.c.detail)
        .where(_AUDIT.c.action == FLEET_FILE_ACTION)
        .order_by(_AUDIT.c.id.desc())
        .limit(1)
    ).scalar()
    if last is not None and str(last).startswith(f"sha256={digest} "):
        return False
    row = event_row(
        actor="fleet-file",
        role="system",
        action=FLEET_FILE_ACTION,
        target=f"agency {agency_id}",
        detail=f"sha256={digest} {path}",
    )
    append_audit(conn, [row])
    return True
