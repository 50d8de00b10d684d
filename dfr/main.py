"""The application factory: builds the app, its collaborators and its lifespan from Settings."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from pathlib import Path

from fastapi import APIRouter, FastAPI
from sqlalchemy.engine import Engine

from dfr import __version__
from dfr.airspace import AirspaceService, read_zone_source
from dfr.api.errors import install_error_handlers
from dfr.api.routes import (
    admin,
    cad,
    calls,
    dispatch,
    fleet,
    flights,
    health,
    me,
    stream,
    video,
    zones,
)
from dfr.audit import AuditMiddleware
from dfr.console import mount_console
from dfr.db import make_engine, session_scope, upgrade_schema
from dfr.fleet import apply_fleet_file, ensure_agency, read_fleet_file
from dfr.http_limits import RequestLimitsMiddleware
from dfr.outbox import cad_component
from dfr.runtime import dispatch_component, flight_component
from dfr.settings import Settings, load_settings
from dfr.video_service import video_component
from telemetry import Hub

log = logging.getLogger(__name__)
API_PREFIX = "/api/v1"
DEFAULT_AGENCY_ID = "default"

#: Every API router, mounted under API_PREFIX (the route-table auth test walks this list).
ROUTERS: list[APIRouter] = [
    health.router,
    fleet.router,
    calls.router,
    admin.router,
    me.router,
    stream.router,
    cad.router,
    zones.router,
    flights.router,
    dispatch.router,
    video.router,
]

#: Long-lived parts of the service (link manager, outbox delivery, telemetry hub ...): each is a
#: factory returning an async context manager entered at startup and left at shutdown, in order.
Component = Callable[[FastAPI], AbstractAsyncContextManager[None]]
COMPONENTS: list[Component] = [
    flight_component,
    cad_component,
    dispatch_component,
    video_component,
]


def bootstrap_database(
    engine: Engine, url: str, fleet_file: Path | None
) -> tuple[str, list[bytes]]:
    """Apply migrations and the fleet file; returns the default agency id and its zone documents."""
    upgrade_schema(url)
    with session_scope(engine) as session:
        if fleet_file is not None:
            fleet = read_fleet_file(fleet_file)
            apply_fleet_file(session, fleet)
            documents = [read_zone_source(z, fleet_file.parent) for z in fleet.zones]
            return fleet.agency.id, documents
        ensure_agency(session, DEFAULT_AGENCY_ID, "Default agency")
        return DEFAULT_AGENCY_ID, []


def bootstrap_airspace(service: AirspaceService, documents: list[bytes]) -> None:
    """Load stored zones, then (re)import the fleet file's zone documents by id."""
    service.load()
    for document in documents:
        service.import_document(document, None)


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    app.state.default_agency_id, zone_documents = await asyncio.to_thread(
        bootstrap_database, app.state.engine, settings.database_url, settings.fleet_file
    )
    app.state.airspace = AirspaceService(
        app.state.engine, app.state.default_agency_id, settings.flight.max_alt_agl_m
    )
    await asyncio.to_thread(bootstrap_airspace, app.state.airspace, zone_documents)
    async with AsyncExitStack() as stack:
        for component in app.state.components:
            await stack.enter_async_context(component(app))
        log.info("dfr %s ready", __version__)
        yield
        app.state.hub.close()  # ends every stream client before the components stop
    app.state.engine.dispose()


def create_app(
    settings: Settings | None = None, *, components: list[Component] | None = None
) -> FastAPI:
    """A new service app; nothing is opened until its lifespan starts."""
    settings = settings or load_settings()
    app = FastAPI(
        title="DFR",
        version=__version__,
        summary="Drone-as-First-Responder dispatch and telemetry service",
        lifespan=_lifespan,
    )
    app.state.settings = settings
    app.state.engine = make_engine(settings.database_url, echo=settings.database.echo)
    app.state.components = list(COMPONENTS if components is None else components)
    app.state.default_agency_id = DEFAULT_AGENCY_ID
    app.state.hub = Hub(queue_size=settings.telemetry.client_queue_size)
    app.state.flight_hooks = []  # transition hooks added by dispatch and CAD components
    app.state.flights = None
    app.state.fleet = None
    install_error_handlers(app)
    for router in ROUTERS:
        app.include_router(router, prefix=API_PREFIX)
    mount_console(app)
    # Added last = outermost: the audit also records requests the limits refuse.
    app.add_middleware(RequestLimitsMiddleware, max_body_bytes=settings.cad.max_payload_bytes)
    app.add_middleware(AuditMiddleware)
    return app
