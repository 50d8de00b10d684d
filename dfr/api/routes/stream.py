"""`WS /api/v1/stream`: the live stream for the console (staff roles; token as in telemetry.ws)."""

from __future__ import annotations

from dfr.auth import STAFF_ROLES, require_ws_roles
from dfr.deps import get_hub
from telemetry import make_router

router = make_router(get_hub, require_ws_roles(*STAFF_ROLES))
