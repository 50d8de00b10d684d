"""The API's operations: every router but the caller's own view (`/me`, which reads this table)."""

from __future__ import annotations

from fastapi import APIRouter

from dfr.api.routes import (
    admin,
    audit_export,
    cad,
    calls,
    cluster,
    dispatch,
    fleet,
    flights,
    health,
    privacy,
    recordings_holds,
    signing,
    stream,
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
    zones.router,
    flights.router,
    privacy.router,
    dispatch.router,
    video.router,
    recordings_holds.router,
    audit_export.router,
]
