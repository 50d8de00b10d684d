"""camera registry, footage requests, uploads, integrated cameras

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 18:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_STR = sqlmodel.sql.sqltypes.AutoString
_AT = sqlmodel.sql.sqltypes.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "camera_registrations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agency_id", _STR(length=64), nullable=False),
        sa.Column("owner_name", _STR(length=200), nullable=False),
        sa.Column("email", _STR(length=254), nullable=False),
        sa.Column("phone", _STR(length=40), nullable=True),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("facing_deg", sa.Float(), nullable=True),
        sa.Column("fov_deg", sa.Float(), nullable=True),
        sa.Column("street_facing", sa.Boolean(), nullable=False),
        sa.Column("records", sa.JSON(), nullable=False),
        sa.Column("description", _STR(length=500), nullable=False),
        sa.Column("status", _STR(length=16), nullable=False),
        sa.Column("confirm_hash", _STR(length=64), nullable=True),
        sa.Column("confirm_expires_at", _AT(), nullable=True),
        sa.Column("manage_hash", _STR(length=64), nullable=False),
        sa.Column("created_at", _AT(), nullable=False),
        sa.Column("confirmed_at", _AT(), nullable=True),
        sa.Column("updated_at", _AT(), nullable=False),
        sa.ForeignKeyConstraint(["agency_id"], ["agencies.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("confirm_hash"),
        sa.UniqueConstraint("manage_hash"),
    )
    for column in ("agency_id", "email", "status"):
        op.create_index(f"ix_camera_registrations_{column}", "camera_registrations", [column])
    op.create_table(
        "footage_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.Integer(), nullable=False),
        sa.Column("requested_by", _STR(length=200), nullable=False),
        sa.Column("radius_m", sa.Float(), nullable=False),
        sa.Column("window_start", _AT(), nullable=False),
        sa.Column("window_end", _AT(), nullable=False),
        sa.Column("message", _STR(length=2000), nullable=False),
        sa.Column("created_at", _AT(), nullable=False),
        sa.ForeignKeyConstraint(["call_id"], ["calls.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_footage_requests_call_id", "footage_requests", ["call_id"])
    op.create_table(
        "footage_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.Integer(), nullable=False),
        sa.Column("registration_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", _STR(length=64), nullable=False),
        sa.Column("created_at", _AT(), nullable=False),
        sa.Column("expires_at", _AT(), nullable=False),
        sa.Column("emailed_at", _AT(), nullable=True),
        sa.Column("revoked_at", _AT(), nullable=True),
        sa.Column("revoked_by", _STR(length=200), nullable=False),
        sa.ForeignKeyConstraint(["request_id"], ["footage_requests.id"]),
        sa.ForeignKeyConstraint(["call_id"], ["calls.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    for column in ("request_id", "call_id", "registration_id"):
        op.create_index(f"ix_footage_links_{column}", "footage_links", [column])
    op.create_table(
        "clip_uploads",
        sa.Column("id", _STR(length=64), nullable=False),
        sa.Column("link_id", sa.Integer(), nullable=False),
        sa.Column("file_name", _STR(length=200), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("received_bytes", sa.BigInteger(), nullable=False),
        sa.Column("created_at", _AT(), nullable=False),
        sa.ForeignKeyConstraint(["link_id"], ["footage_links.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_clip_uploads_link_id", "clip_uploads", ["link_id"])
    op.create_table(
        "footage_clips",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("link_id", sa.Integer(), nullable=False),
        sa.Column("registration_id", sa.Integer(), nullable=False),
        sa.Column("file_name", _STR(length=200), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("sha256", _STR(length=64), nullable=False),
        sa.Column("duration_s", sa.Float(), nullable=False),
        sa.Column("codec", _STR(length=32), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("stored_path", _STR(length=500), nullable=False),
        sa.Column("uploaded_by", _STR(length=200), nullable=False),
        sa.Column("uploaded_at", _AT(), nullable=False),
        sa.Column("client_address", _STR(length=64), nullable=False),
        sa.ForeignKeyConstraint(["call_id"], ["calls.id"]),
        sa.ForeignKeyConstraint(["request_id"], ["footage_requests.id"]),
        sa.ForeignKeyConstraint(["link_id"], ["footage_links.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    for column in ("call_id", "request_id", "link_id"):
        op.create_index(f"ix_footage_clips_{column}", "footage_clips", [column])
    op.create_table(
        "integrated_cameras",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agency_id", _STR(length=64), nullable=False),
        sa.Column("name", _STR(length=200), nullable=False),
        sa.Column("owner_email", _STR(length=254), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("stream_url", _STR(length=500), nullable=False),
        sa.Column("feed", _STR(length=200), nullable=False),
        sa.Column("live_allowed", sa.Boolean(), nullable=False),
        sa.Column("max_priority", sa.Integer(), nullable=False),
        sa.Column("radius_m", sa.Float(), nullable=False),
        sa.Column("retention_days", sa.Integer(), nullable=False),
        sa.Column("unplug_hash", _STR(length=64), nullable=False),
        sa.Column("unplugged_at", _AT(), nullable=True),
        sa.Column("unplugged_by", _STR(length=200), nullable=False),
        sa.Column("created_by", _STR(length=200), nullable=False),
        sa.Column("created_at", _AT(), nullable=False),
        sa.ForeignKeyConstraint(["agency_id"], ["agencies.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("unplug_hash"),
    )
    op.create_index("ix_integrated_cameras_agency_id", "integrated_cameras", ["agency_id"])


def downgrade() -> None:
    op.drop_index("ix_integrated_cameras_agency_id", table_name="integrated_cameras")
    op.drop_table("integrated_cameras")
    for column in ("call_id", "request_id", "link_id"):
        op.drop_index(f"ix_footage_clips_{column}", table_name="footage_clips")
    op.drop_table("footage_clips")
    op.drop_index("ix_clip_uploads_link_id", table_name="clip_uploads")
    op.drop_table("clip_uploads")
    for column in ("request_id", "call_id", "registration_id"):
        op.drop_index(f"ix_footage_links_{column}", table_name="footage_links")
    op.drop_table("footage_links")
    op.drop_index("ix_footage_requests_call_id", table_name="footage_requests")
    op.drop_table("footage_requests")
    for column in ("agency_id", "email", "status"):
        op.drop_index(f"ix_camera_registrations_{column}", table_name="camera_registrations")
    op.drop_table("camera_registrations")
