"""Live video over WHEP (RFC 9725) and flight recordings (list, export)."""

from __future__ import annotations

import asyncio
import base64
import shutil
import tempfile
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response, status
from fastapi.responses import FileResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.background import BackgroundTask

from dfr import fleet
from dfr.api.params import Id64
from dfr.audit import client_address
from dfr.auth import Principal, require_roles
from dfr.deps import EngineDep, LedgerDep, SessionDep, VideoDep
from dfr.errors import ConflictError, InvalidInputError, NotFoundError
from dfr.models import Role
from dfr.snapshots import (
    SnapshotPublic,
    SnapshotsPublic,
    list_snapshots,
    public,
    snapshot_file,
    take_snapshot,
)
from telemetry.video import (
    WHEP_CONTENT_TYPE,
    BadOfferError,
    SessionLimitError,
    VideoError,
)
from telemetry.video.manifest import VerifyReport, read_manifest, verify_recording
from telemetry.video.recorder import export_recording

router = APIRouter(tags=["video"])
Viewer = Annotated[Principal, Depends(require_roles(Role.ANALYST, Role.DISPATCHER, Role.PILOT))]
Analyst = Annotated[Principal, Depends(require_roles(Role.ANALYST))]


class RecordingPublic(BaseModel):
    """One flight's recording."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    flight_id: int
    stream_key: str
    segments: int
    bytes: int
    head: str
    verification: VerifyReport
    #: recording | waiting | failed | stopped while this service process records it, else None.
    state: str | None = None
    error: str | None = None


class RecordingsPublic(BaseModel):
    """The recordings of a flight (zero or one per stream)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    data: list[RecordingPublic]
    count: int


@router.post(
    "/drones/{drone_id}/video/whep",
    status_code=status.HTTP_201_CREATED,
    response_class=Response,
    responses={201: {"content": {WHEP_CONTENT_TYPE: {}}}},
)
async def whep_offer(
    drone_id: str, request: Request, session: SessionDep, principal: Viewer, video: VideoDep
) -> Response:
    """WHEP: an SDP offer in, the SDP answer out, with the session URL in Location."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != WHEP_CONTENT_TYPE:
        raise InvalidInputError("Content-Type must be application/sdp", field="content-type")
    body = await request.body()
    try:
        offer = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInputError("the SDP offer is not UTF-8", field="body") from exc
    drone = fleet.get_drone(session, drone_id)
    try:
        answer = await video.watch(
            drone_id,
            drone.video_url,
            offer,
            principal.name,
            principal.role.value,
            principal.token_id,
            client_address(request.scope),
        )
    except BadOfferError as exc:
        raise InvalidInputError(str(exc), field="body") from exc
    except SessionLimitError as exc:
        raise ConflictError(str(exc)) from exc
    except VideoError as exc:
        raise ConflictError(f"the drone's video cannot be received: {exc}") from exc
    location = f"{request.url.path.rstrip('/')}/{answer.session_id}"
    return Response(
        answer.sdp,
        status_code=status.HTTP_201_CREATED,
        media_type=WHEP_CONTENT_TYPE,
        headers={"Location": location},
    )


@router.delete("/drones/{drone_id}/video/whep/{session_id}")
async def whep_end(
    drone_id: str, session_id: str, request: Request, principal: Viewer, service: VideoDep
) -> Response:
    """WHEP: end a viewer session (its viewer or an admin only)."""
    await service.end_watch(
        drone_id,
        session_id,
        principal.name,
        principal.role.value,
        client_address(request.scope),
    )
    return Response(status_code=status.HTTP_200_OK)


@router.patch("/drones/{drone_id}/video/whep/{session_id}")
def whep_patch(drone_id: str, session_id: str, _: Viewer) -> Response:
    """Trickle ICE is not supported: the answer already carries every candidate."""
    return Response(status_code=status.HTTP_405_METHOD_NOT_ALLOWED, headers={"Allow": "DELETE"})


def _recording(service: VideoDep, flight_id: int) -> Path:
    directory = service.recording_dir(flight_id)
    if not directory.is_dir():
        raise NotFoundError("recording of flight", flight_id)
    return directory


@router.get("/flights/{flight_id}/recordings", response_model=RecordingsPublic)
async def list_recordings(flight_id: Id64, _: Analyst, service: VideoDep) -> RecordingsPublic:
    """The flight's recordings, each re-verified."""
    directory = service.recording_dir(flight_id)
    if not (directory / "manifest.json").is_file():
        return RecordingsPublic(data=[], count=0)
    manifest = await asyncio.to_thread(read_manifest, directory)
    report = await asyncio.to_thread(verify_recording, directory)
    live = service.recording_status(flight_id)
    item = RecordingPublic(
        flight_id=flight_id,
        stream_key=manifest.stream_key,
        segments=len(manifest.segments),
        bytes=sum(s.bytes for s in manifest.segments),
        head=manifest.head,
        verification=report,
        state=None if live is None else str(live.state),
        error=None if live is None else live.error,
    )
    return RecordingsPublic(data=[item], count=1)


@router.get("/flights/{flight_id}/recordings/export")
async def export_recordings(
    flight_id: Id64, request: Request, principal: Analyst, service: VideoDep
) -> FileResponse:
    """A zip of the manifest and every segment (audited)."""
    directory = _recording(service, flight_id)
    tmp = Path(tempfile.mkdtemp(prefix="dfr-export-")) / f"flight-{flight_id}-recording.zip"
    try:
        await asyncio.to_thread(export_recording, directory, tmp)
    except VideoError as exc:
        raise ConflictError(f"the recording cannot be exported: {exc}") from exc
    await asyncio.to_thread(
        service.audit,
        principal.name,
        principal.role.value,
        "video.export",
        f"/flights/{flight_id}/recordings",
        f"head={read_manifest(directory).head}",
        client_address(request.scope),
    )
    return FileResponse(
        tmp,
        media_type="application/zip",
        filename=tmp.name,
        background=BackgroundTask(shutil.rmtree, tmp.parent, ignore_errors=True),
    )


class SnapshotCreate(BaseModel):
    """What the person marking the moment says about it."""

    model_config = ConfigDict(extra="forbid")

    note: str = Field(min_length=1, max_length=2000)


@router.post(
    "/flights/{flight_id}/snapshots",
    status_code=status.HTTP_201_CREATED,
    response_model=SnapshotPublic,
)
async def create_snapshot(
    principal: Viewer,
    flight_id: Id64,
    body: SnapshotCreate,
    request: Request,
    engine: EngineDep,
    video: VideoDep,
    ledger: LedgerDep,
) -> SnapshotPublic:
    """Mark a moment: a still of the drone's live picture, hashed, noted on the call and to CAD."""
    note = body.note.strip()
    if not note:
        raise InvalidInputError("the note is empty", field="note")
    record = await take_snapshot(
        video,
        engine,
        ledger,
        flight_id=flight_id,
        author=principal.name,
        role=principal.role.value,
        note=note,
    )
    request.state.audit_detail = (
        f"snapshot {record.id} of flight {flight_id} drone {record.drone_id} "
        f"call {record.call_id} sha256={record.sha256}"
    )
    return public(record)


@router.get("/flights/{flight_id}/snapshots", response_model=SnapshotsPublic)
async def get_snapshots(
    _: Viewer, flight_id: Id64, engine: EngineDep, video: VideoDep
) -> SnapshotsPublic:
    """The flight's snapshots, oldest first."""
    return await list_snapshots(video, engine, flight_id)


@router.get(
    "/flights/{flight_id}/snapshots/{snapshot_id}.jpg",
    response_class=FileResponse,
    responses={200: {"content": {"image/jpeg": {}}}},
)
async def get_snapshot_image(
    principal: Viewer, flight_id: Id64, snapshot_id: str, request: Request, service: VideoDep
) -> FileResponse:
    """The still (audited as a view); `Repr-Digest` carries its recorded SHA-256."""
    record, path = await snapshot_file(service, flight_id, snapshot_id)
    await asyncio.to_thread(
        service.audit,
        principal.name,
        principal.role.value,
        "video.snapshot.view",
        f"/flights/{flight_id}/snapshots/{snapshot_id}",
        f"sha256={record.sha256}",
        client_address(request.scope),
    )
    digest = base64.b64encode(bytes.fromhex(record.sha256)).decode("ascii")
    return FileResponse(
        path,
        media_type="image/jpeg",
        headers={"Repr-Digest": f"sha-256=:{digest}:", "Cache-Control": "private, no-store"},
    )
