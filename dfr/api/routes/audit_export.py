"""The audit log as CSV (admin only), filtered as `GET /audit` is; the export is itself audited."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy import Table, select
from sqlalchemy.engine import Engine

from dfr.audit import client_address, record_event
from dfr.auth import Principal, require_roles
from dfr.deps import EngineDep
from dfr.models import AuditEntry, Role, as_utc

router = APIRouter(tags=["admin"])
Admin = Annotated[Principal, Depends(require_roles(Role.ADMIN))]
_AUDIT: Table = AuditEntry.__table__  # type: ignore[attr-defined]
#: The most rows one export holds (page older ones with `before_id`).
MAX_EXPORT_ROWS = 50_000
CSV_COLUMNS = (
    "id",
    "at",
    "actor",
    "role",
    "client_address",
    "method",
    "path",
    "action",
    "target",
    "status_code",
    "outcome",
    "detail",
    "chain_seq",
    "prev_hash",
    "row_hash",
)
#: A cell starting with one of these is read as a formula by spreadsheets (CSV injection).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: object) -> str:
    if value is None:
        return ""
    text = as_utc(value).isoformat() if isinstance(value, datetime) else str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def _csv(engine: Engine, filters: dict[str, object], limit: int) -> tuple[str, int]:
    query = select(*(_AUDIT.c[name] for name in CSV_COLUMNS))
    if filters.get("before_id") is not None:
        query = query.where(_AUDIT.c.id < filters["before_id"])
    for name in ("actor", "action", "target", "outcome", "client_address"):
        if filters.get(name) is not None:
            query = query.where(_AUDIT.c[name] == filters[name])
    if filters.get("since") is not None:
        query = query.where(_AUDIT.c.at >= filters["since"])
    if filters.get("until") is not None:
        query = query.where(_AUDIT.c.at < filters["until"])
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    count = 0
    with engine.connect() as conn:
        for row in conn.execute(query.order_by(_AUDIT.c.id.desc()).limit(limit)):
            writer.writerow([_cell(v) for v in row])
            count += 1
    return out.getvalue(), count


@router.get(
    "/audit.csv",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}}},
)
def export_audit_csv(
    request: Request,
    engine: EngineDep,
    principal: Admin,
    limit: Annotated[int, Query(ge=1, le=MAX_EXPORT_ROWS)] = 10_000,
    before_id: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
    actor: Annotated[str | None, Query(max_length=200)] = None,
    action: Annotated[str | None, Query(max_length=200)] = None,
    target: Annotated[str | None, Query(max_length=200)] = None,
    outcome: Annotated[str | None, Query(pattern="^(ok|denied|error)$")] = None,
    since: Annotated[datetime | None, Query(description="at or after (ISO 8601)")] = None,
    until: Annotated[datetime | None, Query(description="before (ISO 8601)")] = None,
    client_address_: Annotated[str | None, Query(alias="client_address", max_length=64)] = None,
) -> Response:
    """Audit entries as CSV, newest first (cells a spreadsheet would run are prefixed with ')."""
    filters: dict[str, object] = {
        "before_id": before_id,
        "actor": actor,
        "action": action,
        "target": target,
        "outcome": outcome,
        "since": None if since is None else as_utc(since),
        "until": None if until is None else as_utc(until),
        "client_address": client_address_,
    }
    body, count = _csv(engine, filters, limit)
    asked = ", ".join(f"{k}={v}" for k, v in filters.items() if v is not None) or "no filter"
    record_event(
        engine,
        actor=principal.name,
        role=principal.role.value,
        action="audit.export",
        target="audit log",
        detail=f"{count} rows as CSV ({asked})",
        client_address=client_address(request.scope),
        path="/api/v1/audit.csv",
    )
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": 'attachment; filename="audit.csv"',
            "Cache-Control": "private, no-store",
        },
    )
