"""The transparency portal (public, no token) and the supervisor's review that publishes a flight."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, col, select

from dfr.api.params import Id64
from dfr.auth import Principal, require_roles
from dfr.deps import ServiceDep, SessionDep
from dfr.errors import ConflictError
from dfr.fleet import read_fleet_file
from dfr.models import Agency, Call, Flight, FlightReview, Role, as_utc, get_row, utcnow
from dfr.transparency import (
    PORTAL_CSS,
    PortalFlight,
    TransparencyPolicy,
    flights_csv,
    portal_flights,
    portal_stats,
    render_page,
)
from dfr.transparency.portal import ENDED_STATES

router = APIRouter(tags=["transparency"])
#: Served at the root, outside the API, without a token.
portal_router = APIRouter(tags=["transparency"], include_in_schema=False)
Supervisor = Annotated[Principal, Depends(require_roles(Role.SUPERVISOR))]


class FlightReviewRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    purpose: str = Field(default="", max_length=200)
    outcome: str = Field(default="", max_length=200)


class FlightReviewPublic(SQLModel):
    flight_id: int
    reviewed_by: str
    reviewed_at: datetime
    purpose: str
    outcome: str


@router.post("/flights/{flight_id}/review", response_model=FlightReviewPublic)
def review_flight(
    flight_id: Id64,
    session: SessionDep,
    principal: Supervisor,
    request: Request,
    body: FlightReviewRequest | None = None,
) -> FlightReviewPublic:
    """Mark an ended flight reviewed, publishing it on the portal (again: updates its wording)."""
    flight = get_row(session, Flight, flight_id)
    if flight.state not in ENDED_STATES and flight.ended_at is None:
        raise ConflictError(f"flight {flight_id} is {flight.state}; review it once it has ended")
    body = body or FlightReviewRequest()
    review = session.get(FlightReview, flight_id) or FlightReview(
        flight_id=flight_id, reviewed_by=principal.name
    )
    review.reviewed_by = principal.name
    review.reviewed_at = utcnow()
    review.purpose = body.purpose.strip()
    review.outcome = body.outcome.strip()
    session.add(review)
    session.commit()
    request.state.audit_detail = f"flight {flight_id} reviewed for publication"
    return FlightReviewPublic(
        flight_id=flight_id,
        reviewed_by=review.reviewed_by,
        reviewed_at=as_utc(review.reviewed_at),
        purpose=review.purpose,
        outcome=review.outcome,
    )


class PendingReviewPublic(SQLModel):
    flight_id: int
    drone_id: str
    call_id: int | None
    call_type: str
    category: str
    started_at: datetime | None
    ended_at: datetime | None
    state: str


class PendingReviewsPublic(SQLModel):
    data: list[PendingReviewPublic]
    count: int


@router.get("/reviews/pending", response_model=PendingReviewsPublic)
def pending_reviews(
    session: SessionDep,
    _: Supervisor,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> PendingReviewsPublic:
    """Ended flights no supervisor has reviewed yet (not on the portal unless auto-published), newest first."""
    reviewed = select(FlightReview.flight_id)
    rows = session.exec(
        select(Flight)
        .where(col(Flight.state).in_(ENDED_STATES), col(Flight.id).not_in(reviewed))
        .order_by(col(Flight.id).desc())
        .limit(limit)
    ).all()
    data = []
    for flight in rows:
        assert flight.id is not None
        call = None if flight.call_id is None else session.get(Call, flight.call_id)
        data.append(
            PendingReviewPublic(
                flight_id=flight.id,
                drone_id=flight.drone_id,
                call_id=flight.call_id,
                call_type="" if call is None else call.call_type,
                category="" if call is None else call.category,
                started_at=None if flight.started_at is None else as_utc(flight.started_at),
                ended_at=None if flight.ended_at is None else as_utc(flight.ended_at),
                state=flight.state,
            )
        )
    return PendingReviewsPublic(data=data, count=len(data))


@functools.lru_cache(maxsize=8)
def _policy_of(path: Path, mtime_ns: int) -> TransparencyPolicy:
    return read_fleet_file(path).transparency or TransparencyPolicy()


def transparency_policy(fleet_file: Path | None) -> TransparencyPolicy:
    """The fleet file's `[transparency]` (re-read when the file changes), else the defaults."""
    if fleet_file is None or not fleet_file.exists():
        return TransparencyPolicy()
    return _policy_of(fleet_file, fleet_file.stat().st_mtime_ns)


def _recorded(recording_dir: Callable[[int], Path], flight_id: int) -> bool:
    folder = recording_dir(flight_id)
    return folder.is_dir() and any(p.is_file() for p in folder.iterdir())


def _published(
    engine: Engine,
    agency_id: str,
    fleet_file: Path | None,
    now: datetime,
    recording_dir: Callable[[int], Path],
) -> tuple[str, list[PortalFlight]]:
    with Session(engine) as session:
        agency = session.get(Agency, agency_id)
        flights = portal_flights(
            session,
            agency_id=agency_id,
            policy=transparency_policy(fleet_file),
            now=now,
            recorded=lambda flight_id: _recorded(recording_dir, flight_id),
        )
        return (agency.name if agency else "DFR"), flights


async def _load(service: Any) -> tuple[str, list[PortalFlight]]:
    return await asyncio.to_thread(
        _published,
        service.engine,
        service.default_agency_id,
        service.settings.fleet_file,
        service.clock.now(),
        service.video.recording_dir,
    )


@portal_router.get("/transparency", response_class=HTMLResponse)
async def portal_page(service: ServiceDep) -> HTMLResponse:
    """The public flight log with its outcome figures and charts."""
    name, flights = await _load(service)
    return HTMLResponse(render_page(name, flights, portal_stats(flights)))


@portal_router.get("/transparency/flights.json")
async def portal_json(service: ServiceDep) -> JSONResponse:
    """The public flight log and figures as JSON."""
    name, flights = await _load(service)
    body: dict[str, Any] = {
        "agency": name,
        "flights": [f.to_public() for f in flights],
        "figures": portal_stats(flights).to_public(),
    }
    return JSONResponse(body)


@portal_router.get("/transparency/flights.csv")
async def portal_csv(service: ServiceDep) -> Response:
    """The public flight log as CSV."""
    _, flights = await _load(service)
    return Response(
        flights_csv(flights),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="flights.csv"'},
    )


@portal_router.get("/transparency/portal.css")
def portal_css() -> Response:
    """The page's style sheet (a file of its own: the CSP allows no inline style)."""
    return Response(PORTAL_CSS, media_type="text/css")
