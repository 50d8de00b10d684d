"""`Annotated` dependencies: the only way route handlers reach the running services."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Iterator
from typing import Annotated, Any

from fastapi import Depends
from sqlalchemy.engine import Engine
from sqlmodel import Session
from starlette.applications import Starlette
from starlette.requests import HTTPConnection

from dfr.airspace import AirspaceService
from dfr.cad_units import CadUnits
from dfr.call_intake import CallIntake
from dfr.call_ledger import CallLedger
from dfr.camera_service import CameraService
from dfr.dispatch.service import Dispatcher
from dfr.errors import ServiceUnavailableError
from dfr.flights import FlightService
from dfr.integrated_cameras import IntegratedCameraService
from dfr.metrics import Metrics
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


def _part(name: str) -> Callable[..., Awaitable[Any]]:
    """A dependency answering one service of the graph by its name in `Service`."""
    if name not in {f.name for f in dataclasses.fields(Service)}:
        raise ValueError(f"the service graph has no {name!r}")

    async def dependency(service: ServiceDep) -> Any:
        return getattr(service, name)

    dependency.__name__ = f"get_{name}"
    return dependency


def get_session(service: ServiceDep) -> Iterator[Session]:
    """A session per request; committed by the handler."""
    with Session(service.engine, expire_on_commit=False) as session:
        yield session


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


def get_hub(service: ServiceDep) -> Hub:
    """The live stream hub (a plain function: the stream router calls it as one)."""
    return service.hub


SettingsDep = Annotated[Settings, Depends(_part("settings"))]
EngineDep = Annotated[Engine, Depends(_part("engine"))]
SessionDep = Annotated[Session, Depends(get_session)]
DefaultAgencyDep = Annotated[str, Depends(_part("default_agency_id"))]
#: The flight service, running or not (a drone's live state is empty when it is not).
FlightServiceDep = Annotated[FlightService, Depends(_part("flights"))]
FlightsDep = Annotated[FlightService, Depends(get_flights)]
DispatcherDep = Annotated[Dispatcher, Depends(get_dispatcher)]
AirspaceDep = Annotated[AirspaceService, Depends(_part("airspace"))]
VideoDep = Annotated[VideoService, Depends(_part("video"))]
HubDep = Annotated[Hub, Depends(get_hub)]
IntakeDep = Annotated[CallIntake, Depends(_part("intake"))]
LedgerDep = Annotated[CallLedger, Depends(_part("ledger"))]
PrincipalsDep = Annotated[PrincipalCache, Depends(_part("principals"))]
MetricsDep = Annotated[Metrics, Depends(_part("metrics"))]
CamerasDep = Annotated[CameraService, Depends(_part("cameras"))]
IntegratedCamerasDep = Annotated[IntegratedCameraService, Depends(_part("integrated_cameras"))]
CadUnitsDep = Annotated[CadUnits, Depends(_part("cad_units"))]
