"""Docks and drones (the agency's fleet records)."""

from __future__ import annotations

from typing import Annotated, TypeVar

from fastapi import APIRouter, Depends, Response, status
from pydantic import BaseModel
from sqlmodel import Session, col, select

from dfr import fleet
from dfr.auth import STAFF_ROLES, Principal, require_roles
from dfr.deps import DefaultAgencyDep, FlightServiceDep, SessionDep, SettingsDep
from dfr.models import (
    Dock,
    DockCreate,
    DockPublic,
    DocksPublic,
    DockUpdate,
    Drone,
    DroneCreate,
    DronePublic,
    DronesPublic,
    DroneUpdate,
    Role,
)
from dfr.telemetry_bridge import drone_frame
from dfr.url_policy import UrlPolicy

router = APIRouter(tags=["fleet"])
Reader = Annotated[Principal, Depends(require_roles(*STAFF_ROLES))]
Admin = Annotated[Principal, Depends(require_roles(Role.ADMIN))]


_Public = TypeVar("_Public", bound=BaseModel)


def _committed(session: Session, public: type[_Public], row: object) -> _Public:
    session.commit()
    return public.model_validate(row)


def _committed_no_content(session: Session) -> Response:
    session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/docks", response_model=DocksPublic)
def list_docks(session: SessionDep, _: Reader) -> DocksPublic:
    """Every dock."""
    docks = session.exec(select(Dock).order_by(col(Dock.id))).all()
    return DocksPublic(data=[DockPublic.model_validate(d) for d in docks], count=len(docks))


@router.get("/docks/{dock_id}", response_model=DockPublic)
def get_dock(dock_id: str, session: SessionDep, _: Reader) -> DockPublic:
    """One dock."""
    return DockPublic.model_validate(fleet.get_dock(session, dock_id))


@router.post("/docks", response_model=DockPublic, status_code=status.HTTP_201_CREATED)
def create_dock(
    body: DockCreate, session: SessionDep, agency_id: DefaultAgencyDep, _: Admin
) -> DockPublic:
    """Create a dock."""
    return _committed(session, DockPublic, fleet.create_dock(session, body, agency_id))


@router.patch("/docks/{dock_id}", response_model=DockPublic)
def update_dock(dock_id: str, body: DockUpdate, session: SessionDep, _: Admin) -> DockPublic:
    """Change a dock."""
    return _committed(session, DockPublic, fleet.update_dock(session, dock_id, body))


@router.delete("/docks/{dock_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_dock(dock_id: str, session: SessionDep, _: Admin) -> Response:
    """Delete a dock with no drones."""
    fleet.delete_dock(session, dock_id)
    return _committed_no_content(session)


def _with_live(flights: FlightServiceDep, drone: Drone) -> DronePublic:
    public = DronePublic.model_validate(drone)
    if not flights.running:
        return public
    state = flights.live_state(drone.id)
    flight_id = flights.active_flight_of(drone.id)
    live = None if state is None else drone_frame(state, flight_id).model_dump(mode="json")
    return public.model_copy(update={"live": live, "flight_id": flight_id})


@router.get("/drones", response_model=DronesPublic)
def list_drones(session: SessionDep, _: Reader, flights: FlightServiceDep) -> DronesPublic:
    """Every drone with its live state (null when the service has no link to it)."""
    drones = session.exec(select(Drone).order_by(col(Drone.id))).all()
    return DronesPublic(data=[_with_live(flights, d) for d in drones], count=len(drones))


@router.get("/drones/{drone_id}", response_model=DronePublic)
def get_drone(
    drone_id: str, session: SessionDep, _: Reader, flights: FlightServiceDep
) -> DronePublic:
    """One drone with its live state."""
    return _with_live(flights, fleet.get_drone(session, drone_id))


def _url_policy(settings: SettingsDep) -> UrlPolicy:
    return UrlPolicy(settings.fleet.allowed_networks)


UrlPolicyDep = Annotated[UrlPolicy, Depends(_url_policy)]


@router.post("/drones", response_model=DronePublic, status_code=status.HTTP_201_CREATED)
def create_drone(
    body: DroneCreate, session: SessionDep, policy: UrlPolicyDep, _: Admin
) -> DronePublic:
    """Create a drone at a dock; its URLs name the agency's networks and bind no other drone's port."""
    return _committed(session, DronePublic, fleet.create_drone(session, body, policy))


@router.patch("/drones/{drone_id}", response_model=DronePublic)
def update_drone(
    drone_id: str, body: DroneUpdate, session: SessionDep, policy: UrlPolicyDep, _: Admin
) -> DronePublic:
    """Change a drone (changed URLs are checked as on create)."""
    return _committed(session, DronePublic, fleet.update_drone(session, drone_id, body, policy))


@router.delete("/drones/{drone_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_drone(drone_id: str, session: SessionDep, _: Admin) -> Response:
    """Delete a drone that never flew."""
    fleet.delete_drone(session, drone_id)
    return _committed_no_content(session)
