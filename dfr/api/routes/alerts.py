"""Alerts: the recent ones as the consoles show them, and a person's acknowledgement (audited)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, Field

from dfr.auth import Principal, require_roles
from dfr.deps import HubDep
from dfr.errors import NotFoundError
from dfr.models import Role
from telemetry import AlertBoard

router = APIRouter(tags=["alerts"])
Watcher = Annotated[
    Principal,
    Depends(
        require_roles(
            Role.ADMIN, Role.DISPATCHER, Role.PILOT, Role.SUPERVISOR, Role.ANALYST, Role.TESTER
        )
    ),
]
#: Who may acknowledge: the people who answer for the drones in the air.
Responder = Annotated[
    Principal,
    Depends(require_roles(Role.ADMIN, Role.DISPATCHER, Role.PILOT, Role.SUPERVISOR, Role.TESTER)),
]
AlertId = Annotated[
    str, Path(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:@-]*$")
]


class AlertPublic(BaseModel):
    id: str
    severity: str
    kind: str
    text: str
    drone_id: str | None = None
    flight_id: int | None = None
    state: str = Field(description="active | resolved (its condition ended)")
    needs_ack: bool = Field(description="stays prominent until a person acknowledges it")
    raised_at: str | None = None
    resolved_at: str | None = None
    resolution: str = ""
    acknowledged_by: str | None = None
    acknowledged_at: str | None = None


class AlertList(BaseModel):
    data: list[AlertPublic]


def _public(data: dict[str, Any]) -> AlertPublic:
    # Alerts raised before acknowledgement existed (a mirror from an older instance) lack fields.
    return AlertPublic.model_validate(
        {
            "state": "active",
            "needs_ack": False,
            "kind": "vehicle",
            "severity": "info",
            "text": "",
            **data,
        }
    )


@router.get("/alerts", response_model=AlertList)
def list_alerts(_: Watcher, hub: HubDep) -> AlertList:
    """The recent alerts (latest version of each), newest first."""
    return AlertList(data=[_public(a) for a in AlertBoard(hub).alerts()])


@router.post("/alerts/{alert_id}/ack", response_model=AlertPublic)
def acknowledge_alert(alert_id: AlertId, principal: Responder, hub: HubDep) -> AlertPublic:
    """Acknowledge an alert: every console shows who did (the first acknowledgement stands)."""
    data = AlertBoard(hub).acknowledge(alert_id, principal.name)
    if data is None:
        raise NotFoundError("alert", alert_id)
    return _public(data)
