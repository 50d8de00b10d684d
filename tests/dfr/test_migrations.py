"""Migrations on every backend: an empty database reaches head, one at the previous revision
upgrades to head keeping its rows, and a downgrade to base can be upgraded again."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, SQLModel, select

import dfr.models  # noqa: F401
from dfr.db import alembic_config, make_engine, upgrade_schema
from dfr.models import AuditEntry, Decision

pytestmark = pytest.mark.databases

AT = datetime(2026, 11, 21, 19, 40, tzinfo=UTC)


def _head_and_previous(url: str) -> tuple[str, str]:
    script = ScriptDirectory.from_config(alembic_config(url))
    head = script.get_revision("head")
    assert head is not None and isinstance(head.down_revision, str)
    return head.revision, head.down_revision


def _revision(engine: sa.Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def test_every_migration_applies_to_an_empty_database(database_url: str) -> None:
    upgrade_schema(database_url)
    upgrade_schema(database_url)
    engine = make_engine(database_url)
    try:
        assert _revision(engine) == _head_and_previous(database_url)[0]
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
        assert diff == [], f"models differ from migrations; add a migration: {diff}"
        with Session(engine) as session:
            session.add(AuditEntry(method="POST", path="/x", status_code=200, outcome="ok", at=AT))
            session.commit()
            stored = session.exec(select(AuditEntry)).one()
            assert stored.at == AT
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
            conn.execute(sa.text("UPDATE audit_log SET actor = 'someone else'"))
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM audit_log"))
    finally:
        engine.dispose()


def test_a_downgrade_to_base_leaves_nothing_an_upgrade_trips_on(database_url: str) -> None:
    upgrade_schema(database_url)
    command.downgrade(alembic_config(database_url), "base")
    upgrade_schema(database_url)
    engine = make_engine(database_url)
    try:
        assert _revision(engine) == _head_and_previous(database_url)[0]
    finally:
        engine.dispose()


def test_a_database_at_the_previous_revision_upgrades_to_head(database_url: str) -> None:
    head, previous = _head_and_previous(database_url)
    command.upgrade(alembic_config(database_url), previous)
    engine = make_engine(database_url)
    try:
        assert _revision(engine) == previous
        with engine.begin() as conn:
            call_id = _write_rows_of_the_previous_revision(conn)
        command.upgrade(alembic_config(database_url), head)
        assert _revision(engine) == head
        with Session(engine) as session:
            decision = session.exec(select(Decision)).one()
            assert decision.call_id == call_id
            assert decision.rules == [{"rule": "distance", "ok": True}]
            assert decision.detail == {}
            assert decision.created_at == AT
    finally:
        engine.dispose()


def _write_rows_of_the_previous_revision(conn: sa.Connection) -> int:
    """An agency, a call and its decision, through the tables as that revision made them."""
    tables = sa.MetaData()
    tables.reflect(conn, only=("agencies", "calls", "decisions"))
    agencies, calls, decisions = (tables.tables[n] for n in ("agencies", "calls", "decisions"))
    stamps = {"created_at": AT, "updated_at": AT}
    conn.execute(agencies.insert().values(id="cspd", name="CSPD", timezone="UTC", **stamps))
    call_id = conn.execute(
        calls.insert()
        .values(
            agency_id="cspd",
            cad_incident_id="CS-1",
            call_type="SUSP",
            call_type_text="Suspicious person",
            category="suspicious",
            priority=2,
            lat=38.84,
            lon=-104.76,
            received_at=AT,
            cad_status="Active",
            lifecycle="NEW",
            flags={"weapons": False},
            raw_format="plain",
            raw_document="{}",
            content_hash="h",
            **stamps,
        )
        .returning(calls.c.id)
    ).scalar_one()
    conn.execute(
        decisions.insert().values(
            call_id=call_id,
            created_at=AT,
            eligible=True,
            summary="D1 in range",
            rules=[{"rule": "distance", "ok": True}],
        )
    )
    return int(call_id)
