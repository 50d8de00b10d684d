"""View-only live links to a call: staff create, list and revoke them; an officer's phone views one.

The viewer routes (`/share/...`) take no token of the service: the link's token opens it (with its
PIN), and the phone then presents its own viewer key as the bearer token. A staff token presented
there is refused (403): these routes serve a link's viewers only. See dfr/share_links.py.
"""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response, status
from pydantic import BaseModel, ConfigDict
from sqlmodel import Session, col, select

from dfr import fleet
from dfr.api.params import Id64
from dfr.audit import client_address
from dfr.auth import BearerToken, Principal, principal_for, require_roles
from dfr.basemap import ARCHIVES, BasemapPublic, basemap_config
from dfr.deps import (
    EngineDep,
    FlightServiceDep,
    ServiceDep,
    SessionDep,
    SettingsDep,
    VideoDep,
)
from dfr.errors import (
    ConflictError,
    DfrError,
    ForbiddenError,
    InvalidInputError,
    NotAuthenticatedError,
    NotFoundError,
)
from dfr.models import Call, Flight, Role, as_utc, utcnow
from dfr.share_links import (
    LINK_PREFIX,
    VIEWER_ROLE,
    ShareCreate,
    ShareCreated,
    ShareLinkInfo,
    ShareLinkPublic,
    ShareLinksPublic,
    ShareOpen,
    ShareOpened,
    ShareViewer,
    create_link,
    link_info,
    list_links,
    open_link,
    revoke_link,
    viewer_of,
)
from dfr.telemetry_bridge import drone_frame
from telemetry.video import (
    WHEP_CONTENT_TYPE,
    BadOfferError,
    SessionLimitError,
    SessionUnknownError,
    VideoError,
)

router = APIRouter(tags=["shares"])
Sharer = Annotated[Principal, Depends(require_roles(Role.DISPATCHER, Role.ANALYST))]
#: Flight phases in which a call's drone is its drone (position and video shown).
FLYING = frozenset(
    {"planned", "uploading", "armed", "en_route", "on_scene", "returning", "failsafe", "link_lost"}
)
STAFF_TOKEN_REFUSED = "a service token does not open a shared link; these routes serve its viewers"


# --- staff -----------------------------------------------------------------------------------------


@router.post(
    "/calls/{call_id}/share", response_model=ShareCreated, status_code=status.HTTP_201_CREATED
)
def create_share(
    call_id: Id64, body: ShareCreate, session: SessionDep, principal: Sharer
) -> ShareCreated:
    """A view-only live link to this call for a responding officer (its token is shown once)."""
    created = create_link(session, call_id, body, author=principal.name, now=utcnow())
    session.commit()
    return created


@router.get("/calls/{call_id}/shares", response_model=ShareLinksPublic)
def list_shares(call_id: Id64, session: SessionDep, _: Sharer) -> ShareLinksPublic:
    """The call's links, newest first, with how many phones watch each now."""
    return list_links(session, call_id, utcnow())


@router.delete("/calls/{call_id}/shares/{link_id}", response_model=ShareLinkPublic)
def revoke_share(
    call_id: Id64, link_id: Id64, session: SessionDep, principal: Sharer, service: ServiceDep
) -> ShareLinkPublic:
    """Revoke a link: its viewers' video ends at once and their next request is refused (410)."""
    revoked = revoke_link(session, call_id, link_id, author=principal.name, now=utcnow())
    session.commit()
    service.shares.end_link(link_id, f"the link was revoked by {principal.name}")
    return revoked


# --- viewers ---------------------------------------------------------------------------------------


def _refuse_staff_token(engine: EngineDep, token: str) -> None:
    if principal_for(engine, token) is not None:
        raise ForbiddenError(STAFF_TOKEN_REFUSED)


def share_link_token(token: BearerToken, engine: EngineDep) -> str:
    """The link token a phone presents to open a link (403 for a service token)."""
    if not token.startswith(LINK_PREFIX):
        _refuse_staff_token(engine, token)
        raise NotAuthenticatedError("this link is unknown")
    return token


def share_viewer(token: BearerToken, session: SessionDep, engine: EngineDep) -> ShareViewer:
    """The viewer presenting its key (401 unknown, 410 its link ended, 403 a service token)."""
    viewer = viewer_of(session, token, utcnow())
    if viewer is None:
        _refuse_staff_token(engine, token)
        raise NotAuthenticatedError("this viewer key is unknown")
    return viewer


# No role of the service is admitted on the viewer routes (the route-table checks read this).
share_link_token.dfr_roles = frozenset()  # type: ignore[attr-defined]
share_viewer.dfr_roles = frozenset()  # type: ignore[attr-defined]
LinkToken = Annotated[str, Depends(share_link_token)]
Viewer = Annotated[ShareViewer, Depends(share_viewer)]


@router.get("/share/link", response_model=ShareLinkInfo)
def shared_link_info(token: LinkToken, session: SessionDep) -> ShareLinkInfo:
    """Before opening: whether the link needs a PIN, and when it expires (410 once it ended)."""
    return link_info(session, token, utcnow())


@router.post("/share/open", response_model=ShareOpened)
def open_share(
    body: ShareOpen, token: LinkToken, request: Request, engine: EngineDep
) -> ShareOpened:
    """Open the link on this phone (PIN checked, audited); answers the phone's viewer key."""
    request.state.audit_recorded = True  # open_link audits every attempt itself
    return open_link(engine, token, body.pin, address=client_address(request.scope), now=utcnow())


class SharedScene(BaseModel):
    """The call as an officer sees it: what, how urgent, where."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    call_id: int
    title: str
    priority: int
    address: str | None
    lat: float
    lon: float
    lifecycle: str
    received_at: datetime


class SharedDrone(BaseModel):
    """The call's drone now."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    drone_id: str
    flight_id: int
    flight_state: str
    eta_at: datetime | None
    lat: float | None
    lon: float | None
    alt_agl_m: float | None
    heading_deg: float | None
    link: str | None
    video: bool


class SharedView(BaseModel):
    """All a shared link shows: the scene and the call's drone (position, video available)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    scene: SharedScene
    drone: SharedDrone | None
    expires_at: datetime
    #: The agency's street basemap, drawn as the console draws it.
    basemap: BasemapPublic


def _flying_flight(session: Session, call_id: int) -> Flight | None:
    flight = session.exec(
        select(Flight).where(Flight.call_id == call_id).order_by(col(Flight.id).desc())
    ).first()
    if flight is None or flight.state not in FLYING:
        return None
    return flight


@router.get("/share/view", response_model=SharedView)
def shared_view(
    viewer: Viewer, session: SessionDep, flights: FlightServiceDep, settings: SettingsDep
) -> SharedView:
    """The link's call and its drone's position now (poll it; 410 once the link ended)."""
    call = session.get(Call, viewer.call_id)
    if call is None:
        raise NotFoundError("call", viewer.call_id)
    scene = SharedScene(
        call_id=viewer.call_id,
        title=call.call_type_text or call.call_type,
        priority=call.priority,
        address=call.address,
        lat=call.lat,
        lon=call.lon,
        lifecycle=call.lifecycle.value,
        received_at=as_utc(call.received_at),
    )
    drone = None
    flight = _flying_flight(session, viewer.call_id)
    if flight is not None:
        assert flight.id is not None
        row = fleet.get_drone(session, flight.drone_id)
        state = flights.live_state(flight.drone_id) if flights.running else None
        frame = None if state is None else drone_frame(state, flight.id)
        eta_s = (flight.plan or {}).get("summary", {}).get("eta_s")
        started = as_utc(flight.started_at) if flight.started_at else None
        drone = SharedDrone(
            drone_id=flight.drone_id,
            flight_id=flight.id,
            flight_state=flight.state,
            eta_at=None if eta_s is None or started is None else started + timedelta(seconds=eta_s),
            lat=None if frame is None else frame.lat,
            lon=None if frame is None else frame.lon,
            alt_agl_m=None if frame is None else frame.alt_agl_m,
            heading_deg=None if frame is None else frame.heading_deg,
            link=None if frame is None else frame.link,
            video=bool(row.video_url),
        )
    return SharedView(
        scene=scene,
        drone=drone,
        expires_at=viewer.expires_at,
        basemap=basemap_config(settings.map, ARCHIVES),
    )


@router.post(
    "/share/video/whep",
    status_code=status.HTTP_201_CREATED,
    response_class=Response,
    responses={201: {"content": {WHEP_CONTENT_TYPE: {}}}},
)
async def shared_video_offer(
    request: Request, viewer: Viewer, session: SessionDep, video: VideoDep, service: ServiceDep
) -> Response:
    """WHEP for the link's drone: an SDP offer in, the answer out, ended with the link."""
    request.state.audit_recorded = True  # the video service audits the viewer's start and end
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != WHEP_CONTENT_TYPE:
        raise InvalidInputError("Content-Type must be application/sdp", field="content-type")
    try:
        offer = (await request.body()).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInputError("the SDP offer is not UTF-8", field="body") from exc
    flight = _flying_flight(session, viewer.call_id)
    if flight is None:
        raise ConflictError("the call has no drone in the air")
    drone = fleet.get_drone(session, flight.drone_id)
    try:
        answer = await video.watch(
            drone.id,
            drone.video_url,
            offer,
            viewer.actor,
            VIEWER_ROLE,
            None,
            client_address(request.scope),
        )
    except BadOfferError as exc:
        raise InvalidInputError(str(exc), field="body") from exc
    except SessionLimitError as exc:
        raise ConflictError(str(exc)) from exc
    except VideoError as exc:
        raise ConflictError(f"the drone's video cannot be received: {exc}") from exc
    session_id = answer.session_id

    async def end(reason: str) -> None:
        try:
            await video.sessions.end(session_id, reason)
        except SessionUnknownError:
            # Not here: the instance holding the drone's link answered it (or it ended already).
            with contextlib.suppress(DfrError):
                await video.end_watch(drone.id, session_id, viewer.actor, VIEWER_ROLE)

    service.shares.open(viewer.link_id, "whep", end, key=session_id)
    return Response(
        answer.sdp,
        status_code=status.HTTP_201_CREATED,
        media_type=WHEP_CONTENT_TYPE,
        headers={"Location": f"{request.url.path.rstrip('/')}/{drone.id}/{session_id}"},
    )


@router.delete("/share/video/whep/{drone_id}/{session_id}")
async def shared_video_end(
    drone_id: str,
    session_id: str,
    request: Request,
    viewer: Viewer,
    video: VideoDep,
    service: ServiceDep,
) -> Response:
    """WHEP: the phone ends its own viewer session."""
    request.state.audit_recorded = True  # the video service audits the session's end
    await video.end_watch(
        drone_id, session_id, viewer.actor, VIEWER_ROLE, client_address(request.scope)
    )
    service.shares.close_key(session_id)
    return Response(status_code=status.HTTP_200_OK)
