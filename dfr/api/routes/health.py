"""Liveness and readiness: the database, the running parts and which instance answered."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.engine import Engine

from dfr import __version__
from dfr.deps import ServiceDep
from dfr.models import HealthPublic

router = APIRouter(tags=["health"])


def _database_ok(engine: Engine) -> bool:
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return True
    except Exception:
        return False


@router.get("/health", response_model=HealthPublic, responses={503: {"model": HealthPublic}})
async def health(service: ServiceDep) -> HealthPublic | JSONResponse:
    """Public: 200 when the service is up and its database answers, 503 otherwise."""
    ok = await asyncio.to_thread(_database_ok, service.engine)
    database = "ok" if ok else "unavailable"
    body = HealthPublic(
        status="ok" if ok else "degraded",
        version=__version__,
        database=database,
        instance_id=service.settings.instance_id,
        dependencies={"database": database, **service.part_states()},
        drones_linked=len(service.fleet.vehicle_ids()),
        drones_connected=service.fleet.connected_count(),
    )
    if ok:
        return body
    return JSONResponse(body.model_dump(), status_code=503)
