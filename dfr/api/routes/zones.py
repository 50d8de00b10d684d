"""Zones (import, list, delete) and route previews."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field

from dfr.auth import STAFF_ROLES, Principal, require_roles
from dfr.deps import AirspaceDep, FlightServiceDep, SessionDep, SettingsDep
from dfr.errors import InvalidInputError
from dfr.fleet import get_drone
from dfr.json_limits import body_text
from dfr.models import Role, as_utc, utcnow
from dfr.planning import performance_of
from dfr.settings import HttpSettings
from flight import PlanRejectedError, plan_response
from geofence import GeoPoint, RouteRefusal, derived_ids, detect_format, document_size

router = APIRouter(tags=["zones"])
Reader = Annotated[Principal, Depends(require_roles(*STAFF_ROLES))]
Admin = Annotated[Principal, Depends(require_roles(Role.ADMIN))]
Planner = Annotated[
    Principal, Depends(require_roles(Role.DISPATCHER, Role.PILOT, Role.ANALYST, Role.TESTER))
]


class DerivedZoneId(BaseModel):
    feature: int = Field(description="index of the feature in the document")
    id: str
    derived_from: str = Field(description="name | geometry")


class ZonesImported(BaseModel):
    imported: int
    ids: list[str]
    derived_ids: list[DerivedZoneId] = Field(
        default_factory=list,
        description="ids given to GeoJSON features that had none (stable: a re-import updates them)",
    )


class LatLon(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)

    def point(self) -> GeoPoint:
        return GeoPoint(self.lat, self.lon)


class RoutePlanRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    from_: LatLon = Field(alias="from")
    to: LatLon
    at: datetime | None = None
    drone_id: str | None = None
    orbit_radius_m: float = Field(default=50.0, ge=0, le=1000)
    alt_agl_m: float | None = Field(default=None, gt=0)


def check_zone_document(body: bytes, limits: HttpSettings) -> None:
    """Refuse a zone document that is unreadable or larger than the import limits, naming the limit."""
    size = document_size(body_text(body, max_depth=limits.max_json_depth))
    if size.features > limits.zone_import_max_features:
        raise InvalidInputError(
            f"the document has {size.features} features; the limit is "
            f"{limits.zone_import_max_features} (http.zone_import_max_features)",
            field="features",
        )
    if size.vertices > limits.zone_import_max_vertices:
        raise InvalidInputError(
            f"the document has {size.vertices} vertices; the limit is "
            f"{limits.zone_import_max_vertices} (http.zone_import_max_vertices)",
            field="vertices",
        )


_ZONE_DOCUMENT = {"schema": {"type": "object"}}


@router.post(
    "/zones/import",
    response_model=ZonesImported,
    status_code=status.HTTP_201_CREATED,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": _ZONE_DOCUMENT,
                "application/geo+json": _ZONE_DOCUMENT,
                "text/csv": {"schema": {"type": "string"}},
            },
        }
    },
)
async def import_zones(
    _: Admin,
    request: Request,
    airspace: AirspaceDep,
    settings: SettingsDep,
    flights: FlightServiceDep,
    format: Annotated[  # noqa: A002
        str | None, Query(description="geojson | ed269 | ed318 | uasfm; detected when absent")
    ] = None,
) -> ZonesImported:
    """Import a GeoJSON, ED-269, ED-318 or UASFM (GeoJSON/CSV) document, all or nothing."""
    body = await request.body()
    if not body:
        raise InvalidInputError("the request body is empty; send a zone document", field="body")
    await asyncio.to_thread(check_zone_document, body, settings.http)
    ids = await asyncio.to_thread(airspace.import_document, body, format)
    flights.refresh_dock_fences()
    derived = await asyncio.to_thread(_derived_ids, body, format)
    return ZonesImported(imported=len(ids), ids=ids, derived_ids=derived)


def _derived_ids(body: bytes, format: str | None) -> list[DerivedZoneId]:  # noqa: A002
    # The document has just been imported, so it is a JSON object or a UASFM CSV.
    try:
        data = json.loads(body.decode("utf-8-sig"))
    except ValueError:
        return []
    if not isinstance(data, dict) or (format or detect_format(data)) != "geojson":
        return []
    return [
        DerivedZoneId(feature=d.feature, id=d.id, derived_from=d.derived_from)
        for d in derived_ids(data)
    ]


@router.get("/zones")
def list_zones(
    _: Reader, airspace: AirspaceDep, active_at: datetime | None = None
) -> dict[str, Any]:
    """Zones as a GeoJSON FeatureCollection (only those active at `active_at` when given)."""
    return airspace.geojson(None if active_at is None else as_utc(active_at))


@router.delete("/zones/{zone_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_zone(
    zone_id: str, _: Admin, airspace: AirspaceDep, flights: FlightServiceDep
) -> Response:
    """Remove a zone."""
    await asyncio.to_thread(airspace.delete_zone, zone_id)
    flights.refresh_dock_fences()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/routes/plan")
def plan_route(
    _: Planner, body: RoutePlanRequest, airspace: AirspaceDep, session: SessionDep
) -> dict[str, Any]:
    """The legal route (or the full response plan for `drone_id`) as GeoJSON, or 422 with every reason."""
    at = as_utc(body.at) if body.at else utcnow()
    space = airspace.airspace()
    if body.drone_id is None:
        route = space.plan_route(body.from_.point(), body.to.point(), at)
        if isinstance(route, RouteRefusal):
            raise PlanRejectedError(tuple(v.reason for v in route.reasons), route.reasons)
        return route.to_geojson()
    drone = get_drone(session, body.drone_id)
    plan = plan_response(
        body.from_.point(),
        body.to.point(),
        space,
        performance_of(drone),
        at,
        orbit_radius_m=body.orbit_radius_m,
        alt_agl_m=body.alt_agl_m,
    )
    return plan.legs_geojson()
