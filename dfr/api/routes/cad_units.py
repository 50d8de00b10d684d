"""Responders on the map: CAD's AVL feed of unit positions in, the units with their age out."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Query, Request, status
from pydantic import Field

from dfr.auth import Principal, require_roles
from dfr.cad_units import MAX_REPORTS_PER_POST, CadUnitReport, CadUnitsPublic, UnitsAccepted
from dfr.deps import CadUnitsDep
from dfr.models import Role

router = APIRouter(tags=["cad"])
AvlFeed = Annotated[Principal, Depends(require_roles(Role.CAD))]
Watcher = Annotated[
    Principal,
    Depends(
        require_roles(
            Role.ADMIN, Role.DISPATCHER, Role.PILOT, Role.SUPERVISOR, Role.ANALYST, Role.TESTER
        )
    ),
]
UnitReports = Annotated[
    list[CadUnitReport], Field(min_length=1, max_length=MAX_REPORTS_PER_POST), Body()
]


@router.post("/cad/units", status_code=status.HTTP_202_ACCEPTED, response_model=UnitsAccepted)
async def post_units(
    reports: UnitReports, request: Request, _: AvlFeed, units: CadUnitsDep
) -> UnitsAccepted:
    """Unit positions from CAD's AVL feed (up to 500 per post); a report older than the unit's
    stored one is ignored and counted as stale; one dated over 60 s ahead refuses the post."""
    result = await units.report(reports)
    request.state.audit_detail = (
        f"units: {result.accepted} accepted, {result.ignored_stale} older than stored"
    )
    return result


@router.get("/cad/units", response_model=CadUnitsPublic)
async def list_units(
    _: Watcher,
    units: CadUnitsDep,
    max_age_s: Annotated[
        int | None,
        Query(ge=1, le=7 * 86_400, description="only units reported within this many seconds"),
    ] = None,
) -> CadUnitsPublic:
    """Every responder unit's latest position, with `age_s` and `stale` (older than 120 s)."""
    return await units.listing(max_age_s=max_age_s)
