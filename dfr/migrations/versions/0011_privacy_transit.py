"""privacy in transit: who lifted it for a flight, when and why

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 18:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMNs: no table copy of flights on SQLite.
    op.add_column(
        "flights",
        sa.Column("privacy_lifted_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    )
    op.add_column(
        "flights",
        sa.Column(
            "privacy_lifted_by",
            sqlmodel.sql.sqltypes.AutoString(length=200),
            nullable=False,
            server_default="",
        ),
    )
    op.add_column(
        "flights",
        sa.Column(
            "privacy_lift_reason",
            sqlmodel.sql.sqltypes.AutoString(length=500),
            nullable=False,
            server_default="",
        ),
    )


def downgrade() -> None:
    with op.batch_alter_table("flights", schema=None) as batch_op:
        batch_op.drop_column("privacy_lift_reason")
        batch_op.drop_column("privacy_lifted_by")
        batch_op.drop_column("privacy_lifted_at")
