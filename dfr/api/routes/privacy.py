"""Privacy in transit: a pilot or dispatcher lifts it for one flight, with a reason."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from dfr.api.params import Id64
from dfr.api.routes.flights import flight_public
from dfr.auth import Principal, require_roles
from dfr.deps import ServiceDep
from dfr.models import FlightPublic, Role

router = APIRouter(tags=["flights"])
Lifter = Annotated[Principal, Depends(require_roles(Role.PILOT, Role.DISPATCHER))]


class PrivacyLift(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(
        min_length=3,
        max_length=500,
        description='why the camera may look down in transit, e.g. "search", "location unclear"',
    )


@router.post("/flights/{flight_id}/privacy", response_model=FlightPublic)
async def lift_privacy(
    flight_id: Id64, body: PrivacyLift, principal: Lifter, service: ServiceDep, request: Request
) -> FlightPublic:
    """Lift privacy in transit for this flight: recorded from now on, audited and noted to CAD."""
    reason = " ".join(body.reason.split())
    row = await service.privacy.lift(flight_id, reason=reason, by=principal.name)
    request.state.audit_detail = f"privacy lifted for flight {flight_id}: {reason}"
    return flight_public(row)
