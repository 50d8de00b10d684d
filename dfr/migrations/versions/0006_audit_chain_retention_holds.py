"""audit hash chain, recording holds and purge

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 18:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: Audit rows younger than this are never deleted, whatever a purge asks (also in dfr.audit).
AUDIT_FLOOR_DAYS = 365
#: sha256("dfr-audit/1|genesis"): the chain value before the first row (also in dfr.audit).
AUDIT_GENESIS = "a328db2727c56d3238f9e853e891ffe3a4e78f1099dfd7f0aa1cb9c420ec740e"


def upgrade() -> None:
    # Plain ADD COLUMN / CREATE INDEX (never a table copy): the append-only triggers must survive.
    op.add_column(
        "audit_log",
        sa.Column(
            "target",
            sqlmodel.sql.sqltypes.AutoString(length=200),
            nullable=False,
            server_default="",
        ),
    )
    op.add_column("audit_log", sa.Column("chain_seq", sa.Integer(), nullable=True))
    for name in ("prev_hash", "row_hash"):
        op.add_column(
            "audit_log",
            sa.Column(
                name,
                sqlmodel.sql.sqltypes.AutoString(length=64),
                nullable=False,
                server_default="",
            ),
        )
    op.create_index("ix_audit_log_target", "audit_log", ["target"], unique=False)
    op.create_index("ix_audit_log_chain_seq", "audit_log", ["chain_seq"], unique=True)

    head = op.create_table(
        "audit_chain_head",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("head_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.bulk_insert(head, [{"id": 1, "seq": 0, "head_hash": AUDIT_GENESIS}])

    op.create_table(
        "recording_holds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("flight_id", sa.Integer(), nullable=False),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("case_number", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("created_by", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("released_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("released_by", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("release_reason", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_recording_holds_flight_id", "recording_holds", ["flight_id"], unique=False)
    _audit_deletes_only_past_the_floor()


def _audit_deletes_only_past_the_floor() -> None:
    """UPDATE stays refused; DELETE is refused for any row younger than the floor (database time,
    so no service clock, however set, can cross it)."""
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_delete")
        op.execute(
            "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log "
            f"WHEN OLD.at >= datetime('now', '-{AUDIT_FLOOR_DAYS} days') "
            "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only "
            f"(rows younger than {AUDIT_FLOOR_DAYS} days)'); END"
        )
    elif dialect == "postgresql":
        op.execute(
            "CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger AS $$ BEGIN "
            f"IF TG_OP = 'DELETE' AND OLD.at < now() - interval '{AUDIT_FLOOR_DAYS} days' "
            "THEN RETURN OLD; END IF; "
            "RAISE EXCEPTION 'audit_log is append-only'; END; $$ LANGUAGE plpgsql"
        )


def _audit_refuses_every_delete() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_delete")
        op.execute(
            "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log "
            "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END"
        )
    elif dialect == "postgresql":
        op.execute(
            "CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger AS $$ BEGIN "
            "RAISE EXCEPTION 'audit_log is append-only'; END; $$ LANGUAGE plpgsql"
        )


def downgrade() -> None:
    _audit_refuses_every_delete()
    op.drop_index("ix_recording_holds_flight_id", table_name="recording_holds")
    op.drop_table("recording_holds")
    op.drop_table("audit_chain_head")
    op.drop_index("ix_audit_log_chain_seq", table_name="audit_log")
    op.drop_index("ix_audit_log_target", table_name="audit_log")
    # SQLite drops a column in place (3.35+) when nothing indexes it: the triggers survive.
    for name in ("row_hash", "prev_hash", "chain_seq", "target"):
        op.drop_column("audit_log", name)
