"""What the camera services share: their audit rows and the base of the links they email."""

from __future__ import annotations

import asyncio

from sqlalchemy.engine import Engine

from dfr.audit import record_audit
from dfr.camera_views import Actor
from dfr.settings import CameraSettings


async def audit_camera_event(
    engine: Engine, actor: Actor, method: str, path: str, status: int, action: str, detail: str
) -> None:
    """One audit row for a camera action (an owner's, an analyst's or the service's)."""
    await asyncio.to_thread(
        record_audit,
        engine,
        actor=actor.name,
        role=actor.role,
        method=method,
        path=path,
        status_code=status,
        action=action,
        detail=detail,
        client_address=actor.address,
    )


def public_base(settings: CameraSettings, base_url: str) -> str:
    """The service's URL as owners reach it: the configured public URL, else the request's."""
    return (settings.public_url or base_url).rstrip("/")
