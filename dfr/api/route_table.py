"""The API's operations: every router but the caller's own view (`/me`, which reads this table)."""

from __future__ import annotations

from fastapi import APIRouter

from dfr.api.routes import (
    admin,
    alerts,
    approvals,
    audit_export,
    cad,
    cad_units,
    calls,
    cameras,
    cluster,
    dispatch,
    fleet,
    flights,
    health,
    privacy,
    recordings_holds,
    shares,
    signing,
    stream,
    transparency,
    video,
    zones,
)

API_PREFIX = "/api/v1"

#: Mounted under API_PREFIX, in this order, with `/me` after `admin`.
OPERATION_ROUTERS: list[APIRouter] = [
    health.router,
    cluster.router,
    fleet.router,
    signing.router,
    calls.router,
    admin.router,
    stream.router,
    cad.router,
    cad_units.router,
    zones.router,
    flights.router,
    transparency.router,
    privacy.router,
    dispatch.router,
    approvals.router,
    video.router,
    cameras.router,
    cameras.public_router,
    recordings_holds.router,
    audit_export.router,
    shares.router,
    alerts.router,
]
