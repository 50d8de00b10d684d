"""The application factory: the HTTP app over one service graph built from Settings."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager

from fastapi import APIRouter, FastAPI
from sqlalchemy.engine import Engine

from dfr import __version__
from dfr.api.errors import (
    PROBLEM_RESPONSES,
    UnhandledErrorMiddleware,
    describe_problems,
    install_error_handlers,
)
from dfr.api.route_table import API_PREFIX, OPERATION_ROUTERS
from dfr.api.routes import me, metrics, tiles
from dfr.api.routes.transparency import portal_router
from dfr.audit import AuditMiddleware
from dfr.console import mount_console
from dfr.docs_ui import mount_docs
from dfr.http_limits import RequestLimitsMiddleware
from dfr.mail import mount_mail_page
from dfr.security_headers import SecurityHeadersMiddleware
from dfr.service import Run, Service, build_service
from dfr.settings import Settings, load_settings

log = logging.getLogger(__name__)
__all__ = ["API_PREFIX", "ROUTERS", "Companion", "create_app"]

#: Every API router, mounted under API_PREFIX (the route-table auth test walks this list).
ROUTERS: list[APIRouter] = [*OPERATION_ROUTERS[:4], me.router, *OPERATION_ROUTERS[4:]]

#: Something run beside the service for its whole life (the demo's simulated fleet and CAD, a
#: test's probe): entered once the service runs, left before it stops.
Companion = Callable[[Service], AbstractAsyncContextManager[None]]


def create_app(
    settings: Settings | None = None,
    *,
    run: Run = Run.ALL,
    companions: Sequence[Companion] = (),
) -> FastAPI:
    """A new service app; nothing is built or opened until its lifespan starts."""
    settings = settings or load_settings()
    resolved = settings

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with build_service(resolved, run=run) as service, AsyncExitStack() as stack:
            app.state.service = service
            try:
                for companion in companions:
                    await stack.enter_async_context(companion(service))
                log.info("dfr %s ready", __version__)
                yield
            finally:
                await stack.aclose()
                app.state.service = None

    app = FastAPI(
        title="DFR",
        version=__version__,
        summary="Drone-as-First-Responder dispatch and telemetry service",
        lifespan=lifespan,
        # Swagger UI is served from the installed package (dfr.docs_ui), never from a CDN.
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json" if settings.http.docs else None,
    )
    app.state.service = None  # the one thing the app holds: the running service graph
    install_error_handlers(app)
    describe_problems(app)
    for router in ROUTERS:
        app.include_router(router, prefix=API_PREFIX, responses=PROBLEM_RESPONSES)
    if settings.http.docs:
        mount_docs(app)
    mount_console(app)
    mount_mail_page(app)
    # Beside the console, outside the API: scrapers expect /metrics at the root.
    app.include_router(metrics.router)
    # The public transparency portal: outside the API, no token.
    app.include_router(portal_router)
    # The PMTiles basemap's tiles, public like the console's files (the map fetches them bare).
    app.include_router(tiles.router)

    def engine_of() -> Engine | None:
        service: Service | None = app.state.service
        return None if service is None else service.engine

    # Added last = outermost: the audit also records requests the limits refuse, an unhandled
    # error is still a problem document, and every answer carries the security headers.
    app.add_middleware(
        RequestLimitsMiddleware,
        max_body_bytes=settings.cad.max_payload_bytes,
        path_limits={f"{API_PREFIX}/zones/import": settings.http.zone_import_max_bytes},
    )
    app.add_middleware(AuditMiddleware, engine_of=engine_of)
    app.add_middleware(UnhandledErrorMiddleware)
    app.add_middleware(
        SecurityHeadersMiddleware,
        tile_url=settings.console.tile_url,
        basemap_url=settings.map.basemap,
        hsts_max_age_s=settings.http.hsts_max_age_s,
    )
    return app
