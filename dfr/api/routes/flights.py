"""Flights: start one without a CAD call, read state, events, route and track, and pilot commands."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, status
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session, col, func, select

from dfr.api.params import Id64
from dfr.auth import STAFF_ROLES, Principal, require_roles
from dfr.deps import EngineDep, FlightsDep, SessionDep
from dfr.errors import ForbiddenError
from dfr.models import (
    Flight,
    FlightDetailPublic,
    FlightEvent,
    FlightEventPublic,
    FlightPublic,
    FlightsPublic,
    Role,
    TrackPoint,
    get_row,
)
from geofence import GeoPoint

router = APIRouter(tags=["flights"])
Reader = Annotated[Principal, Depends(require_roles(*STAFF_ROLES))]
Pilot = Annotated[Principal, Depends(require_roles(Role.PILOT))]
Commander = Annotated[Principal, Depends(require_roles(Role.PILOT, Role.DISPATCHER))]


class Target(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)


class FlightCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    drone_id: str = Field(min_length=1, max_length=64)
    target: Target
    orbit_radius_m: float = Field(default=50.0, ge=0, le=1000)
    alt_agl_m: float | None = Field(default=None, gt=0, le=150)


class FlightCommand(BaseModel):
    model_config = ConfigDict(extra="forbid")
    command: Literal["hold", "resume", "goto", "orbit", "rtl", "land"]
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    alt_agl_m: float | None = Field(default=None, gt=0, le=150)
    radius_m: float | None = Field(default=None, gt=0, le=1000)
    speed_mps: float | None = Field(default=None, gt=0, le=25)


class CommandResult(BaseModel):
    flight_id: int
    command: str
    result: str
    attempts: int


def flight_public(row: Flight) -> FlightPublic:
    """The public form of a flight row."""
    return FlightPublic.model_validate(row, update={"summary": row.plan.get("summary", {})})


def flight_detail(session: Session, row: Flight) -> FlightDetailPublic:
    """A flight with its events, planned route and flown track."""
    assert row.id is not None
    events = session.exec(
        select(FlightEvent).where(FlightEvent.flight_id == row.id).order_by(col(FlightEvent.id))
    ).all()
    points = session.exec(
        select(TrackPoint).where(TrackPoint.flight_id == row.id).order_by(col(TrackPoint.at))
    ).all()
    track: dict[str, Any] = {
        "type": "Feature",
        "geometry": {"type": "LineString", "coordinates": [[p.lon, p.lat] for p in points]},
        "properties": {
            "times": [p.at.isoformat() for p in points],
            "alt_amsl_m": [p.alt_amsl_m for p in points],
        },
    }
    return FlightDetailPublic(
        **flight_public(row).model_dump(),
        events=[FlightEventPublic.model_validate(e) for e in events],
        route=row.plan.get("legs") or {"type": "FeatureCollection", "features": []},
        track=track,
    )


@router.get("/flights", response_model=FlightsPublic)
def list_flights(
    session: SessionDep,
    _: Reader,
    state: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> FlightsPublic:
    """Flights, newest first."""
    query = select(Flight)
    count = select(func.count()).select_from(Flight)
    if state:
        query = query.where(Flight.state == state)
        count = count.where(Flight.state == state)
    rows = session.exec(query.order_by(col(Flight.id).desc()).limit(limit)).all()
    return FlightsPublic(
        data=[flight_public(r) for r in rows], count=int(session.exec(count).one())
    )


@router.get("/flights/{flight_id}", response_model=FlightDetailPublic)
def get_flight(flight_id: Id64, session: SessionDep, _: Reader) -> FlightDetailPublic:
    """One flight with events, planned route (GeoJSON) and flown track."""
    return flight_detail(session, get_row(session, Flight, flight_id))


@router.post("/flights", response_model=FlightPublic, status_code=status.HTTP_201_CREATED)
async def create_flight(
    principal: Pilot, body: FlightCreate, flights: FlightsDep, engine: EngineDep
) -> FlightPublic:
    """A pilot's flight without a CAD call, planned like any response."""
    flight_id = await flights.launch(
        body.drone_id,
        GeoPoint(body.target.lat, body.target.lon),
        orbit_radius_m=body.orbit_radius_m,
        alt_agl_m=body.alt_agl_m,
        created_by=principal.name,
    )
    with Session(engine) as session:
        row = session.get(Flight, flight_id)
        assert row is not None
        return flight_public(row)


@router.post("/flights/{flight_id}/commands", response_model=CommandResult)
async def command_flight(
    flight_id: Id64, principal: Commander, body: FlightCommand, flights: FlightsDep
) -> CommandResult:
    """Send a pilot command; answers with the vehicle's acknowledgement or its refusal."""
    if principal.role == Role.DISPATCHER and body.command != "rtl":
        raise ForbiddenError(f"a dispatcher may only send rtl, not {body.command}")
    ack = await flights.command(
        flight_id,
        body.command,
        lat=body.lat,
        lon=body.lon,
        alt_agl_m=body.alt_agl_m,
        radius_m=body.radius_m,
        speed_mps=body.speed_mps,
    )
    return CommandResult(
        flight_id=flight_id, command=body.command, result="accepted", attempts=ack.attempts
    )
