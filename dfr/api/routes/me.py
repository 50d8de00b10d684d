"""`GET /api/v1/me`: who the token belongs to, what it may do, and how the console should start."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.routing import APIRoute, APIWebSocketRoute
from pydantic import BaseModel, ConfigDict

from dfr.api.route_table import API_PREFIX, OPERATION_ROUTERS
from dfr.auth import Principal, declared_roles, require_roles
from dfr.basemap import ARCHIVES, BasemapPublic, basemap_config
from dfr.deps import SettingsDep
from dfr.models import Role

router = APIRouter(tags=["me"])
AnyRole = Annotated[Principal, Depends(require_roles(*Role))]

#: Console actions and the route each one calls; offered only when that route admits the role.
ACTIONS: dict[str, tuple[str, str]] = {
    "launch": ("POST", "/api/v1/calls/{}/launch"),
    "note": ("POST", "/api/v1/calls/{}/notes"),
    "cancel": ("POST", "/api/v1/calls/{}/cancel"),
    "command": ("POST", "/api/v1/flights/{}/commands"),
    "privacy": ("POST", "/api/v1/flights/{}/privacy"),
    "video": ("POST", "/api/v1/drones/{}/video/whep"),
    "camera_live": ("GET", "/api/v1/integrated-cameras/live"),
    "share": ("POST", "/api/v1/calls/{}/share"),
    "ack_alert": ("POST", "/api/v1/alerts/{}/ack"),
    "stream": ("WS", "/api/v1/stream"),
}


class ConsoleConfigPublic(BaseModel):
    model_config = ConfigDict(frozen=True)

    tile_url: str | None
    tile_attribution: str
    tile_max_zoom: int
    #: The basemap (map.basemap); when its kind is none the console falls back to tile_url/grid.
    basemap: BasemapPublic


class MePublic(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    role: Role
    may: dict[str, bool]
    console: ConsoleConfigPublic


def _admitted_roles() -> dict[tuple[str, str], frozenset[Role]]:
    table: dict[tuple[str, str], frozenset[Role]] = {}
    for route in (r for router in OPERATION_ROUTERS for r in router.routes):
        dependant = getattr(route, "dependant", None)
        roles = None if dependant is None else declared_roles(dependant)
        if roles is None or not isinstance(route, APIRoute | APIWebSocketRoute):
            continue
        path = API_PREFIX + re.sub(r"\{[^}]+\}", "{}", route.path)
        methods = (route.methods or set()) if isinstance(route, APIRoute) else {"WS"}
        for method in methods:
            table[(method, path)] = roles
    return table


@router.get("/me", response_model=MePublic)
def me(principal: AnyRole, settings: SettingsDep) -> MePublic:
    """The caller's name and role, the console actions its role may take, and console settings."""
    table = _admitted_roles()
    may = {
        action: principal.role in table.get(route, frozenset()) for action, route in ACTIONS.items()
    }
    console = settings.console
    return MePublic(
        name=principal.name,
        role=principal.role,
        may=may,
        console=ConsoleConfigPublic(
            tile_url=console.tile_url,
            tile_attribution=console.tile_attribution,
            tile_max_zoom=console.tile_max_zoom,
            basemap=basemap_config(settings.map, ARCHIVES),
        ),
    )
