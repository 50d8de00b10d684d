"""`Annotated` dependencies: the only way route handlers reach the running services."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends
from sqlalchemy.engine import Engine
from sqlmodel import Session
from starlette.applications import Starlette
from starlette.requests import HTTPConnection

from dfr.airspace import AirspaceService
from dfr.call_intake import CallIntake
from dfr.call_ledger import CallLedger
from dfr.dispatch.service import Dispatcher
from dfr.errors import ServiceUnavailableError
from dfr.flights import FlightService
from dfr.service import Service
from dfr.settings import Settings
from dfr.tokens import PrincipalCache
from dfr.video_service import VideoService
from telemetry import Hub


def service_of(app: Starlette) -> Service:
    """The app's running service (ServiceUnavailableError while it starts or stops)."""
    service: Service | None = app.state.service
    if service is None:
        raise ServiceUnavailableError("the service is not running")
    return service


async def get_service(connection: HTTPConnection) -> Service:
    """The service graph of the app handling this request or WebSocket."""
    return service_of(connection.app)


ServiceDep = Annotated[Service, Depends(get_service)]


async def get_settings(service: ServiceDep) -> Settings:
    """The settings the service was built with."""
    return service.settings


async def get_engine(service: ServiceDep) -> Engine:
    """The database engine."""
    return service.engine


def get_session(service: ServiceDep) -> Iterator[Session]:
    """A session per request; committed by the handler."""
    with Session(service.engine, expire_on_commit=False) as session:
        yield session


async def get_default_agency_id(service: ServiceDep) -> str:
    """The agency new resources belong to when none is named."""
    return service.default_agency_id


async def get_flight_service(service: ServiceDep) -> FlightService:
    """The flight service, running or not (a drone's live state is empty when it is not)."""
    return service.flights


async def get_flights(service: ServiceDep) -> FlightService:
    """The running flight service (503 when the service runs without drone links)."""
    if not service.flights.running:
        raise ServiceUnavailableError("the flight link is not running")
    return service.flights


async def get_dispatcher(service: ServiceDep) -> Dispatcher:
    """The running dispatcher (503 when the service runs without dispatch)."""
    if not service.dispatcher.running:
        raise ServiceUnavailableError("dispatch is not running")
    return service.dispatcher


async def get_airspace(service: ServiceDep) -> AirspaceService:
    """Zones, ceilings and route planning."""
    return service.airspace


async def get_video(service: ServiceDep) -> VideoService:
    """Live video, viewers and recordings."""
    return service.video


def get_hub(service: ServiceDep) -> Hub:
    """The live stream hub."""
    return service.hub


async def get_intake(service: ServiceDep) -> CallIntake:
    """Where CAD calls come in."""
    return service.intake


async def get_ledger(service: ServiceDep) -> CallLedger:
    """The writer of call state and CAD outbox rows."""
    return service.ledger


async def get_principals(service: ServiceDep) -> PrincipalCache:
    """Principals of tokens seen valid lately."""
    return service.principals


SettingsDep = Annotated[Settings, Depends(get_settings)]
EngineDep = Annotated[Engine, Depends(get_engine)]
SessionDep = Annotated[Session, Depends(get_session)]
DefaultAgencyDep = Annotated[str, Depends(get_default_agency_id)]
FlightsDep = Annotated[FlightService, Depends(get_flights)]
FlightServiceDep = Annotated[FlightService, Depends(get_flight_service)]
DispatcherDep = Annotated[Dispatcher, Depends(get_dispatcher)]
AirspaceDep = Annotated[AirspaceService, Depends(get_airspace)]
VideoDep = Annotated[VideoService, Depends(get_video)]
HubDep = Annotated[Hub, Depends(get_hub)]
IntakeDep = Annotated[CallIntake, Depends(get_intake)]
LedgerDep = Annotated[CallLedger, Depends(get_ledger)]
PrincipalsDep = Annotated[PrincipalCache, Depends(get_principals)]
