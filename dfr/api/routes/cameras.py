"""The community camera registry: staff routes (map layer, cameras near a call, footage requests,
clips) and public routes for owners, who act only through the links emailed to them.

An owner's link token travels in the `X-Link-Token` header, never in a URL (URLs are logged); the
emailed links carry it in the fragment, which browsers do not send.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import (
    APIRouter,
    Body,
    Depends,
    File,
    Header,
    Path,
    Query,
    Request,
    UploadFile,
    status,
)
from fastapi.responses import FileResponse, JSONResponse, Response

from cameras import RateLimitedError
from dfr.api.errors import problem
from dfr.api.params import Id64
from dfr.audit import client_address
from dfr.auth import STAFF_ROLES, Principal, require_roles
from dfr.camera_views import (
    Actor,
    CallFootagePublic,
    CamerasNearPublic,
    CamerasPublic,
    ClipPublic,
    FootageLinkPublic,
    FootageRequestIn,
    FootageRequestPublic,
    IntegratedCameraIn,
    IntegratedCameraPublic,
    IntegratedCamerasPublic,
    LiveCamerasPublic,
    MailboxPublic,
    MailPublic,
    OwnerRegistrationPublic,
    RegistrationAccepted,
    RegistrationEdit,
    RegistrationIn,
    UploadLinkPublic,
    UploadPublic,
    UploadStartIn,
)
from dfr.deps import CamerasDep, IntegratedCamerasDep, SessionDep
from dfr.errors import ConflictError, InvalidInputError, NotFoundError
from dfr.models import Role
from telemetry.video import WHEP_CONTENT_TYPE, BadOfferError, SessionLimitError, VideoError

router = APIRouter(tags=["cameras"])
public_router = APIRouter(prefix="/public", tags=["cameras (public)"])
Reader = Annotated[Principal, Depends(require_roles(*STAFF_ROLES))]
Analyst = Annotated[Principal, Depends(require_roles(Role.ANALYST))]
FootageReader = Annotated[Principal, Depends(require_roles(Role.ANALYST, Role.DISPATCHER))]
Tester = Annotated[Principal, Depends(require_roles(Role.TESTER))]
Admin = Annotated[Principal, Depends(require_roles(Role.ADMIN))]
LinkToken = Annotated[str, Header(alias="X-Link-Token", min_length=1, max_length=200)]


def _actor(principal: Principal, request: Request) -> Actor:
    return Actor(principal.name, principal.role.value, client_address(request.scope))


def _base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")


# ---------------------------------------------------------------------------------- staff


@router.get("/cameras", response_model=CamerasPublic)
def list_cameras(session: SessionDep, cameras: CamerasDep, _: Reader) -> CamerasPublic:
    """Every confirmed registered camera (a map layer; registered cameras are never viewable live)."""
    rows = cameras.cameras(session)
    return CamerasPublic(data=rows, count=len(rows))


@router.get("/calls/{call_id}/cameras", response_model=CamerasNearPublic)
def cameras_near_call(
    call_id: Id64,
    session: SessionDep,
    cameras: CamerasDep,
    _: Analyst,
    radius_m: Annotated[float | None, Query(gt=0, le=5000)] = None,
) -> CamerasNearPublic:
    """Confirmed cameras within the radius whose field of view covers the scene (or is not told)."""
    return cameras.cameras_near(session, call_id, radius_m)


@router.post(
    "/calls/{call_id}/footage-requests",
    status_code=status.HTTP_201_CREATED,
    response_model=FootageRequestPublic,
)
async def request_footage(
    call_id: Id64,
    form: Annotated[FootageRequestIn, Body()],
    request: Request,
    cameras: CamerasDep,
    principal: Analyst,
) -> FootageRequestPublic:
    """Email each owner of a covering camera in range a personal upload link (one action)."""
    created = await cameras.request_footage(
        call_id, form, actor=_actor(principal, request), base_url=_base_url(request)
    )
    request.state.audit_recorded = True  # the service wrote the row naming the request
    return created


@router.get("/calls/{call_id}/footage", response_model=CallFootagePublic)
def call_footage(
    call_id: Id64, session: SessionDep, cameras: CamerasDep, _: FootageReader
) -> CallFootagePublic:
    """The call's footage requests (each owner link's state) and the clips received."""
    return cameras.footage_of_call(session, call_id)


@router.post("/footage-links/{link_id}/revoke", response_model=FootageLinkPublic)
async def revoke_footage_link(
    link_id: Id64, request: Request, cameras: CamerasDep, principal: Analyst
) -> FootageLinkPublic:
    """Revoke an owner's upload link: it refuses every later use."""
    revoked = await cameras.revoke_link(link_id, actor=_actor(principal, request))
    request.state.audit_recorded = True
    return revoked


@router.get(
    "/footage-clips/{clip_id}/file",
    response_class=FileResponse,
    responses={200: {"content": {"application/octet-stream": {}}}},
)
async def download_clip(
    clip_id: Id64, request: Request, cameras: CamerasDep, principal: Analyst
) -> FileResponse:
    """The clip's bytes, re-hashed first: 409 when they no longer match the recorded SHA-256."""
    path, clip = await cameras.clip_for_download(clip_id, actor=_actor(principal, request))
    return FileResponse(
        path,
        media_type="application/octet-stream",
        filename=clip.file_name,
        headers={"X-Content-SHA256": clip.sha256, "Cache-Control": "no-store"},
    )


@router.get("/demo/mail", response_model=MailboxPublic)
def demo_mail(cameras: CamerasDep, _: Tester) -> MailboxPublic:
    """What the local mail sink received (dfr demo and tests only), newest first."""
    if cameras.sink is None:
        raise NotFoundError("mail sink", "demo")
    rows = [MailPublic.of(m) for m in cameras.sink.messages()]
    return MailboxPublic(data=rows, count=len(rows))


@router.post(
    "/integrated-cameras",
    status_code=status.HTTP_201_CREATED,
    response_model=IntegratedCameraPublic,
)
async def add_integrated_camera(
    form: Annotated[IntegratedCameraIn, Body()],
    request: Request,
    cameras: IntegratedCamerasDep,
    principal: Admin,
) -> IntegratedCameraPublic:
    """Integrate a business's camera (RTP H.264 stream) under its owner's sharing rules."""
    added = await cameras.add_integrated(
        form, actor=_actor(principal, request), base_url=_base_url(request)
    )
    request.state.audit_recorded = True
    return added


@router.get("/integrated-cameras", response_model=IntegratedCamerasPublic)
def list_integrated_cameras(
    session: SessionDep, cameras: IntegratedCamerasDep, _: Reader
) -> IntegratedCamerasPublic:
    """Every integrated camera with its owner's rules (a map layer)."""
    rows = cameras.integrated(session)
    return IntegratedCamerasPublic(data=rows, count=len(rows))


@router.get("/integrated-cameras/live", response_model=LiveCamerasPublic)
async def list_live_cameras(cameras: IntegratedCamerasDep, _: Analyst) -> LiveCamerasPublic:
    """The integrated cameras whose live view the owner's rules allow now (the video wall's tiles)."""
    rows = await cameras.live_cameras()
    return LiveCamerasPublic(data=rows, count=len(rows))


@router.post(
    "/integrated-cameras/{camera_id}/live/whep",
    status_code=status.HTTP_201_CREATED,
    response_class=Response,
    responses={201: {"content": {WHEP_CONTENT_TYPE: {}}}},
)
async def watch_integrated_camera(
    camera_id: Id64, request: Request, cameras: IntegratedCamerasDep, principal: Analyst
) -> Response:
    """WHEP: live view, only while a call within the owner's rules is open near the camera."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != WHEP_CONTENT_TYPE:
        raise InvalidInputError("Content-Type must be application/sdp", field="content-type")
    try:
        offer = (await request.body()).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInputError("the SDP offer is not UTF-8", field="body") from exc
    try:
        answer, call_id = await cameras.watch_live(
            camera_id, offer, actor=_actor(principal, request), token_id=principal.token_id
        )
    except BadOfferError as exc:
        raise InvalidInputError(str(exc), field="body") from exc
    except SessionLimitError as exc:
        raise ConflictError(str(exc)) from exc
    except VideoError as exc:
        raise ConflictError(f"the camera's stream cannot be received: {exc}") from exc
    request.state.audit_recorded = True
    return Response(
        answer.sdp,
        status_code=status.HTTP_201_CREATED,
        media_type=WHEP_CONTENT_TYPE,
        headers={
            "Location": f"/api/v1/drones/camera-{camera_id}/video/whep/{answer.session_id}",
            "X-DFR-Call-Id": str(call_id),
        },
    )


@router.post("/integrated-cameras/{camera_id}/unplug")
async def admin_unplug_camera(
    camera_id: Id64, request: Request, cameras: IntegratedCamerasDep, principal: Admin
) -> dict[str, int]:
    """End the camera's sharing as an admin: its live views end now."""
    unplugged = await cameras.unplug(
        token=None, camera_id=camera_id, actor=_actor(principal, request)
    )
    request.state.audit_recorded = True
    return {"id": unplugged}


# ---------------------------------------------------------------------------------- public


@public_router.post(
    "/camera-registrations",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=RegistrationAccepted,
)
async def register_camera(
    form: Annotated[RegistrationIn, Body()], request: Request, cameras: CamerasDep
) -> RegistrationAccepted | JSONResponse:
    """Register a camera (no token; a few per hour per address); active once the owner confirms."""
    try:
        return await cameras.register(
            form, address=client_address(request.scope), base_url=_base_url(request)
        )
    except RateLimitedError as exc:
        return problem(
            429,
            exc.reason,
            headers={"Retry-After": str(exc.retry_after_s)},
            instance=request.url.path,
        )


@public_router.post("/camera-registration/confirm", response_model=OwnerRegistrationPublic)
async def confirm_registration(token: LinkToken, cameras: CamerasDep) -> OwnerRegistrationPublic:
    """Activate a registration by its emailed confirmation link (once)."""
    return await cameras.confirm(token)


@public_router.get("/camera-registration", response_model=OwnerRegistrationPublic)
async def view_registration(token: LinkToken, cameras: CamerasDep) -> OwnerRegistrationPublic:
    """The owner's registration, by its private management link."""
    return await cameras.owner_view(token)


@public_router.patch("/camera-registration", response_model=OwnerRegistrationPublic)
async def edit_registration(
    token: LinkToken, edit: Annotated[RegistrationEdit, Body()], cameras: CamerasDep
) -> OwnerRegistrationPublic:
    """Change the owner's registration through its private management link."""
    return await cameras.owner_edit(token, edit)


@public_router.delete("/camera-registration", status_code=status.HTTP_204_NO_CONTENT)
async def delete_registration(token: LinkToken, cameras: CamerasDep) -> None:
    """Delete the owner's registration through its private management link."""
    await cameras.owner_delete(token)


@public_router.get("/footage/link", response_model=UploadLinkPublic)
async def upload_link(token: LinkToken, cameras: CamerasDep) -> UploadLinkPublic:
    """What an owner's upload link asks for (the request's window and message)."""
    return await cameras.link_info(token)


@public_router.post(
    "/footage/uploads", status_code=status.HTTP_201_CREATED, response_model=UploadPublic
)
async def start_upload(
    token: LinkToken, form: Annotated[UploadStartIn, Body()], cameras: CamerasDep
) -> UploadPublic:
    """Begin a clip's upload (MP4, MOV, AVI or MKV up to the size limit); chunks follow."""
    return await cameras.start_upload(token, form.request_id, form.file_name, form.size_bytes)


@public_router.put("/footage/uploads/{upload_id}/chunks", response_model=UploadPublic)
async def put_chunk(
    upload_id: Annotated[str, Path(pattern=r"^[0-9a-f]{32}$")],
    token: LinkToken,
    chunk: Annotated[UploadFile, File()],
    cameras: CamerasDep,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> UploadPublic:
    """One chunk of the clip at byte `offset` (in order; a repeated chunk is accepted)."""
    data = await chunk.read(cameras.chunk_bytes + 1)
    return await cameras.put_chunk(token, upload_id, offset, data)


@public_router.post(
    "/footage/uploads/{upload_id}/complete",
    status_code=status.HTTP_201_CREATED,
    response_model=ClipPublic,
)
async def complete_upload(
    upload_id: Annotated[str, Path(pattern=r"^[0-9a-f]{32}$")],
    token: LinkToken,
    request: Request,
    cameras: CamerasDep,
) -> ClipPublic:
    """The clip has arrived: it is hashed, probed, stored as evidence and noted on the call."""
    clip = await cameras.complete_upload(token, upload_id, address=client_address(request.scope))
    request.state.audit_recorded = True
    return clip


@public_router.post("/integrated-camera/unplug")
async def owner_unplug_camera(
    token: LinkToken, request: Request, cameras: IntegratedCamerasDep
) -> dict[str, int]:
    """The owner's unplug link: the camera's sharing ends and its live views end now."""
    actor = Actor("camera owner (unplug link)", "owner", client_address(request.scope))
    unplugged = await cameras.unplug(token=token, camera_id=None, actor=actor)
    request.state.audit_recorded = True
    return {"id": unplugged}
