"""Dispatch: a call's decision, launching a drone to it, and the weather the decisions use."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response, status
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import col, select

from dfr.api.params import Id64
from dfr.auth import STAFF_ROLES, Principal, require_roles
from dfr.deps import DispatcherDep, SessionDep
from dfr.errors import NotFoundError
from dfr.models import Call, Decision, Role

router = APIRouter(tags=["dispatch"])
Reader = Annotated[Principal, Depends(require_roles(*STAFF_ROLES))]
Launcher = Annotated[Principal, Depends(require_roles(Role.DISPATCHER, Role.PILOT))]
WeatherWriter = Annotated[Principal, Depends(require_roles(Role.PILOT, Role.DISPATCHER))]


class LaunchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    drone_id: str | None = Field(default=None, min_length=1, max_length=64)


class LaunchAccepted(BaseModel):
    call_id: int
    flight_id: int


class WeatherObservation(BaseModel):
    model_config = ConfigDict(extra="forbid")
    wind_speed_mps: float = Field(ge=0, le=100)
    wind_gust_mps: float | None = Field(default=None, ge=0, le=150)
    visibility_m: float | None = Field(default=None, ge=0, le=100_000)
    present_weather: list[str] = Field(default_factory=list, max_length=10)
    ceiling_ft: float | None = Field(default=None, ge=0, le=60_000)


@router.get("/calls/{call_id}/decision")
def get_decision(call_id: Id64, session: SessionDep, _: Reader) -> dict[str, Any]:
    """The latest dispatch decision of a call: every rule's verdict and reason per drone."""
    if session.get(Call, call_id) is None:
        raise NotFoundError("call", call_id)
    row = session.exec(
        select(Decision).where(Decision.call_id == call_id).order_by(col(Decision.id).desc())
    ).first()
    if row is None:
        raise NotFoundError("decision for call", call_id)
    return row.detail


@router.post("/calls/{call_id}/evaluate")
async def evaluate_call(call_id: Id64, _: Launcher, dispatcher: DispatcherDep) -> dict[str, Any]:
    """Decide again for a call (after weather or fleet changes), without launching."""
    decision = await dispatcher.evaluate(call_id, allow_auto_launch=False)
    return decision.to_public()


@router.post(
    "/calls/{call_id}/launch", response_model=LaunchAccepted, status_code=status.HTTP_202_ACCEPTED
)
async def launch_call(
    call_id: Id64,
    principal: Launcher,
    dispatcher: DispatcherDep,
    body: LaunchRequest | None = None,
) -> LaunchAccepted:
    """Launch the recommended drone (or the one named) to the call; 409 with the policy's reason.

    A drone the policy lets this call take from a lower-priority call is reassigned in the air.
    """
    drone_id = body.drone_id if body is not None else None
    flight_id = await dispatcher.launch(call_id, drone_id, principal.name)
    return LaunchAccepted(call_id=call_id, flight_id=flight_id)


@router.get("/weather")
def get_weather(_: Reader, dispatcher: DispatcherDep) -> dict[str, Any]:
    """The observation dispatch decides with now (null when none is known)."""
    facts = dispatcher.weather.current(dispatcher.clock.now())
    return {"weather": None if facts is None else facts.to_public()}


@router.put("/weather")
async def set_weather(
    body: WeatherObservation, principal: WeatherWriter, dispatcher: DispatcherDep
) -> dict[str, Any]:
    """The pilot's own observation, overriding the configured source for an hour."""
    facts = await asyncio.to_thread(
        dispatcher.weather.set,
        dispatcher.clock.now(),
        wind_speed_mps=body.wind_speed_mps,
        wind_gust_mps=body.wind_gust_mps,
        visibility_m=body.visibility_m,
        present_weather=tuple(body.present_weather),
        ceiling_ft=body.ceiling_ft,
        observer=principal.name,
    )
    return {"weather": facts.to_public()}


@router.delete("/weather", status_code=status.HTTP_204_NO_CONTENT)
def clear_weather(_: WeatherWriter, dispatcher: DispatcherDep) -> Response:
    """Drop the pilot's override."""
    dispatcher.weather.clear()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
