"""CAD units: each responder unit's latest reported position and status

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_STR = sqlmodel.sql.sqltypes.AutoString
_AT = sqlmodel.sql.sqltypes.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "cad_units",
        sa.Column("agency_id", _STR(length=64), nullable=False),
        sa.Column("unit_id", _STR(length=64), nullable=False),
        sa.Column("status", _STR(length=32), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("heading_deg", sa.Float(), nullable=True),
        sa.Column("speed_mps", sa.Float(), nullable=True),
        sa.Column("call_ref", _STR(length=200), nullable=True),
        sa.Column("source", _STR(length=16), nullable=False),
        sa.Column("reported_at", _AT(), nullable=False),
        sa.Column("received_at", _AT(), nullable=False),
        sa.ForeignKeyConstraint(["agency_id"], ["agencies.id"]),
        sa.PrimaryKeyConstraint("agency_id", "unit_id"),
    )
    op.create_index("ix_cad_units_reported_at", "cad_units", ["reported_at"])


def downgrade() -> None:
    op.drop_index("ix_cad_units_reported_at", table_name="cad_units")
    op.drop_table("cad_units")
