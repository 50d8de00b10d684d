"""`GET /metrics`: Prometheus text format, for an admin token or for anyone when configured public.

Scrapers are rarely given bearer tokens, so `DFR_METRICS__PUBLIC=true` opens the route (on a
network only the scraper reaches); by default it needs an admin token like any admin route.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from dfr.auth import authenticate, check_role, token_of
from dfr.deps import EngineDep, MetricsDep, SettingsDep
from dfr.metrics import CONTENT_TYPE_LATEST
from dfr.models import Role

router = APIRouter(tags=["metrics"])
_ADMIN = frozenset({Role.ADMIN})
_bearer = HTTPBearer(auto_error=False)


def metrics_access(
    request: Request,
    settings: SettingsDep,
    engine: EngineDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """Admit anyone when metrics are public, else an admin token (401 without one, 403 other roles)."""
    if settings.metrics.public:
        return
    check_role(authenticate(request, token_of(credentials), engine), _ADMIN)


@router.get("/metrics", include_in_schema=False, dependencies=[Depends(metrics_access)])
async def metrics(metrics: MetricsDep) -> Response:
    """Every metric of this instance in the Prometheus text format."""
    return Response(await metrics.scrape(), media_type=CONTENT_TYPE_LATEST)
