"""`WS /api/v1/stream`: the live stream for the console (staff roles; token as in telemetry.ws)."""

from __future__ import annotations

from fastapi import WebSocket

from dfr.auth import STAFF_ROLES, require_ws_roles
from telemetry import Hub, make_router


def get_hub(websocket: WebSocket) -> Hub:
    """The app's hub (built in create_app, before any component starts)."""
    hub: Hub = websocket.app.state.hub
    return hub


router = make_router(get_hub, require_ws_roles(*STAFF_ROLES))
