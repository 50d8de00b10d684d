"""The audit log is one hash chain: concurrent writers (and instances) never fork it, a changed,
removed or cut-off row is found, and it is filtered and exported as CSV (the export audited)."""

from __future__ import annotations

import csv
import io
import threading
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from dfr.audit import GENESIS_HASH, record_audit, record_event, verify_chain
from dfr.db import make_engine
from dfr.models import AuditEntry, Role
from dfr.runtime import bootstrap_database
from tests.dfr.conftest import TokenFactory, one_agency_fleet

pytestmark = pytest.mark.databases


def _chain(engine: Engine) -> list[AuditEntry]:
    with Session(engine) as session:
        query = select(AuditEntry).where(col(AuditEntry.chain_seq).is_not(None))
        return list(session.exec(query.order_by(col(AuditEntry.chain_seq))).all())


def _lift_protection(engine: Engine) -> None:
    """What someone with the database owner's rights could do."""
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.execute(text("DROP TRIGGER audit_log_no_update"))
            conn.execute(text("DROP TRIGGER audit_log_no_delete"))
        else:
            conn.execute(text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only"))


def test_writers_on_two_engines_at_once_keep_one_unbroken_chain(
    engine: Engine, database_url: str
) -> None:
    other_instance = make_engine(database_url)
    writers, rows_each = 6, 15
    start = threading.Barrier(writers)

    def write(n: int) -> None:
        target = engine if n % 2 else other_instance
        start.wait()
        for i in range(rows_each):
            if i % 2:
                record_event(target, actor=f"w{n}", role="admin", action="x", target=f"t{i}")
            else:
                record_audit(
                    target, actor=f"w{n}", role="admin", method="POST", path="/p", status_code=201
                )

    try:
        threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        other_instance.dispose()
    rows = _chain(engine)
    assert [r.chain_seq for r in rows] == list(range(1, writers * rows_each + 1))
    assert rows[0].prev_hash == GENESIS_HASH
    assert all(b.prev_hash == a.row_hash for a, b in zip(rows, rows[1:], strict=False))
    report = verify_chain(engine)
    assert report.ok and report.rows_checked == writers * rows_each, report
    assert report.head_hash == rows[-1].row_hash


def test_verify_names_a_changed_row_a_removed_row_and_a_cut_off_end(engine: Engine) -> None:
    for i in range(6):
        record_event(engine, actor="ana", role="analyst", action="video.watch", target=f"d{i}")
    assert verify_chain(engine).ok
    rows = _chain(engine)
    _lift_protection(engine)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_log WHERE id = :id"), {"id": rows[-1].id})
    cut = verify_chain(engine)
    assert not cut.ok and "head" in (cut.problem or "")
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_log WHERE id = :id"), {"id": rows[1].id})
    removed = verify_chain(engine)
    assert not removed.ok and removed.first_bad_id == rows[2].id
    assert "missing" in (removed.problem or "")
    with engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET actor = 'bob' WHERE id = :id"), {"id": rows[0].id})
    changed = verify_chain(engine)
    assert not changed.ok and changed.first_bad_id == rows[0].id
    assert "changed" in (changed.problem or "")


def test_audit_filters_by_target_and_exports_csv_with_formulas_defused_and_audited(
    client: TestClient, app: FastAPI, auth: TokenFactory
) -> None:
    engine = app.state.service.engine
    admin = auth(Role.ADMIN)
    record_event(
        engine,
        actor="ana",
        role="analyst",
        action="video.export",
        target="recording 7",
        detail='=HYPERLINK("http://example.invalid","x")',
        client_address="10.0.0.9",
    )
    record_event(engine, actor="ana", role="analyst", action="video.export", target="recording 8")
    listed = client.get("/api/v1/audit", params={"target": "recording 7"}, headers=admin)
    assert [e["target"] for e in listed.json()["data"]] == ["recording 7"]

    answer = client.get("/api/v1/audit.csv", params={"target": "recording 7"}, headers=admin)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/csv")
    table = list(csv.DictReader(io.StringIO(answer.text)))
    assert len(table) == 1
    assert table[0]["actor"] == "ana" and table[0]["client_address"] == "10.0.0.9"
    assert table[0]["detail"].startswith("'=HYPERLINK")
    assert len(table[0]["row_hash"]) == 64

    everything = client.get("/api/v1/audit.csv", headers=admin)
    assert {"recording 7", "recording 8"} <= {
        r["target"] for r in csv.DictReader(io.StringIO(everything.text))
    }
    exports = client.get("/api/v1/audit", params={"action": "audit.export"}, headers=admin).json()[
        "data"
    ]
    assert [(e["actor"], e["client_address"]) for e in exports] == [
        ("test-admin", "testclient"),
        ("test-admin", "testclient"),
    ]
    assert "target=recording 7" in exports[-1]["detail"] and "1 rows" in exports[-1]["detail"]
    refused = client.get("/api/v1/audit.csv", headers=auth(Role.ANALYST))
    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert verify_chain(engine).ok


def test_a_changed_fleet_file_is_audited_once(
    engine: Engine, database_url: str, tmp_path: Path
) -> None:
    fleet = one_agency_fleet(tmp_path)

    def applied() -> list[AuditEntry]:
        with Session(engine) as session:
            query = select(AuditEntry).where(AuditEntry.action == "fleet.file.apply")
            return list(session.exec(query).all())

    bootstrap_database(engine, database_url, fleet)
    bootstrap_database(engine, database_url, fleet)
    assert len(applied()) == 1
    fleet.write_text(fleet.read_text() + '\n[retention]\npreset = "illinois"\n')
    bootstrap_database(engine, database_url, fleet)
    rows = applied()
    assert len(rows) == 2 and rows[-1].target == "agency cspd"
