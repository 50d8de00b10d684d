"""Snapshots: someone watching a flight marks a moment (a still JPEG of the live picture plus a note).

The still is the latest picture of the drone's stream, decoded from the current GOP the ingest
keeps; nothing is decoded until someone asks. It is stored beside the flight's recording as
`<recording dir>/snapshots/<id>.jpg` with a `<id>.json` record (who, when, the note, its SHA-256,
the call note it produced); the id is the UTC time. When the flight serves a call, the note goes on
the call and to CAD through the outbox in one transaction; if that transaction fails, the files are
removed again, so a refused snapshot leaves nothing behind.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import re
from datetime import datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError
from sqlalchemy.engine import Engine
from sqlmodel import Session

from dfr.call_ledger import CallLedger
from dfr.db import session_scope
from dfr.errors import ConflictError, NotFoundError
from dfr.models import Drone, Flight, as_utc
from dfr.video_service import VideoService
from flight import FlightPhase
from telemetry.video import AccessUnit, StreamNotLiveError, StreamState
from telemetry.video.snapshot import snapshot_jpeg

log = logging.getLogger(__name__)

SNAPSHOTS_DIR = "snapshots"
#: `20250102T030405123456Z`, with `-N` when two snapshots of a flight share the microsecond.
SNAPSHOT_ID_RE = re.compile(r"^\d{8}T\d{12}Z(?:-\d{1,3})?$")
#: A flight in one of these has left the drone's picture: a snapshot would not show it.
ENDED_PHASES = frozenset({FlightPhase.COMPLETED.value, FlightPhase.ABORTED.value})
JPEG_SOI = b"\xff\xd8"
JPEG_EOI = b"\xff\xd9"


class SnapshotRecord(BaseModel):
    """What is stored beside the still (`<id>.json`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    at: datetime
    flight_id: int
    drone_id: str
    call_id: int | None
    note_id: int | None
    event_id: str | None
    author: str
    role: str
    note: str
    sha256: str
    bytes: int
    width: int | None = None
    height: int | None = None


class SnapshotPublic(SnapshotRecord):
    """A snapshot as the API shows it: the record and where to fetch the still."""

    url: str


class SnapshotsPublic(BaseModel):
    """A flight's snapshots, oldest first."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    data: list[SnapshotPublic]
    count: int


def snapshot_id_for(at: datetime) -> str:
    """The id (and file stem) of a snapshot taken at `at`: its UTC time, microseconds included."""
    return as_utc(at).strftime("%Y%m%dT%H%M%S%fZ")


def snapshot_url(flight_id: int, snapshot_id: str) -> str:
    """Where the API serves the still."""
    return f"/api/v1/flights/{flight_id}/snapshots/{snapshot_id}.jpg"


def snapshot_note_text(author: str, at: datetime, note: str, sha256: str) -> str:
    """The call note (and CAD note) a snapshot writes."""
    stamp = as_utc(at).strftime("%Y-%m-%d %H:%M:%SZ")
    return f"Snapshot by {author} at {stamp}: {note} (sha256 {sha256})"


def snapshots_dir(video: VideoService, flight_id: int) -> Path:
    """Where a flight's snapshots are (or would be)."""
    return video.recording_dir(flight_id) / SNAPSHOTS_DIR


def public(record: SnapshotRecord) -> SnapshotPublic:
    """The API view of a stored record."""
    return SnapshotPublic(**record.model_dump(), url=snapshot_url(record.flight_id, record.id))


def _load_flight(engine: Engine, flight_id: int) -> tuple[Flight, Drone]:
    with Session(engine) as session:
        flight = session.get(Flight, flight_id)
        if flight is None:
            raise NotFoundError("flight", flight_id)
        drone = session.get(Drone, flight.drone_id)
        if drone is None:
            raise NotFoundError("drone", flight.drone_id)
        return flight, drone


def _write_atomic(path: Path, data: bytes) -> None:
    partial = path.with_name(path.name + ".partial")
    with partial.open("wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(partial, path)


def _free_id(directory: Path, base: str) -> str:
    candidate, n = base, 0
    while (directory / f"{candidate}.json").exists() or (directory / f"{candidate}.jpg").exists():
        n += 1
        if n > 999:
            raise ConflictError("too many snapshots of this flight in one microsecond")
        candidate = f"{base}-{n}"
    return candidate


def _store(
    engine: Engine, ledger: CallLedger, directory: Path, draft: SnapshotRecord, jpeg: bytes
) -> SnapshotRecord:
    """Write the still and its record, then the call note; undo the files if the note fails."""
    directory.mkdir(parents=True, exist_ok=True)
    record = draft.model_copy(update={"id": _free_id(directory, draft.id)})
    image = directory / f"{record.id}.jpg"
    meta = directory / f"{record.id}.json"
    try:
        _write_atomic(image, jpeg)
        if record.call_id is not None:
            with session_scope(engine) as session:
                text = snapshot_note_text(record.author, record.at, record.note, record.sha256)
                note, item = ledger.add_note(
                    session, record.call_id, author=record.author, text=text
                )
                record = record.model_copy(update={"note_id": note.id, "event_id": item.event_id})
        _write_atomic(meta, record.model_dump_json(indent=2).encode("utf-8"))
    except BaseException:
        # Nothing half-done stays: the still without its record (or its call note) is removed.
        for path in (image, meta, image.with_name(image.name + ".partial")):
            path.unlink(missing_ok=True)
        raise
    return record


async def take_snapshot(
    video: VideoService,
    engine: Engine,
    ledger: CallLedger,
    *,
    flight_id: int,
    author: str,
    role: str,
    note: str,
) -> SnapshotRecord:
    """Grab the flight's drone's current picture, store it hashed, and note it on the call."""
    flight, drone = await asyncio.to_thread(_load_flight, engine, flight_id)
    if flight.state in ENDED_PHASES:
        raise ConflictError(
            f"flight {flight_id} has ended ({flight.state}): its drone's picture is no longer "
            "this flight's",
            field="flight",
        )
    if not drone.video_url:
        raise ConflictError(f"drone {drone.id} has no video stream configured", field="video")
    ingest = video.running_ingest(drone.id)
    if ingest is None:
        raise ConflictError(
            f"drone {drone.id}'s video is not being received (nobody is watching or recording it)",
            field="video",
        )
    if ingest.state is not StreamState.LIVE:
        raise ConflictError(
            f"drone {drone.id}'s video stream is {ingest.state.value}, not live: no current picture",
            field="video",
        )
    gop = ingest.current_gop()
    try:
        async with video.snapshot_slots:
            jpeg, size = await asyncio.to_thread(_encode, gop)
    except StreamNotLiveError as exc:
        raise ConflictError(f"drone {drone.id}'s video: {exc}", field="video") from exc
    at = video.now()
    draft = SnapshotRecord(
        id=snapshot_id_for(at),
        at=as_utc(at),
        flight_id=flight_id,
        drone_id=drone.id,
        call_id=flight.call_id,
        note_id=None,
        event_id=None,
        author=author,
        role=role,
        note=note,
        sha256=hashlib.sha256(jpeg).hexdigest(),
        bytes=len(jpeg),
        width=size[0],
        height=size[1],
    )
    record = await asyncio.to_thread(
        _store, engine, ledger, snapshots_dir(video, flight_id), draft, jpeg
    )
    log.info(
        "flight %s: snapshot %s by %s (sha256 %s)", flight_id, record.id, author, record.sha256
    )
    return record


def _encode(gop: list[AccessUnit]) -> tuple[bytes, tuple[int, int]]:
    jpeg = snapshot_jpeg(gop)
    if not (jpeg.startswith(JPEG_SOI) and jpeg.endswith(JPEG_EOI)):
        raise StreamNotLiveError("the picture could not be encoded as JPEG")
    return jpeg, _jpeg_size(jpeg)


def _jpeg_size(jpeg: bytes) -> tuple[int, int]:
    """Width and height from the JPEG's start-of-frame segment."""
    pos = 2
    while pos + 9 < len(jpeg):
        if jpeg[pos] != 0xFF:
            break
        marker = jpeg[pos + 1]
        length = int.from_bytes(jpeg[pos + 2 : pos + 4], "big")
        if marker in (0xC0, 0xC1, 0xC2):
            height = int.from_bytes(jpeg[pos + 5 : pos + 7], "big")
            width = int.from_bytes(jpeg[pos + 7 : pos + 9], "big")
            return width, height
        pos += 2 + length
    raise StreamNotLiveError("the JPEG has no frame header")


def _read_records(directory: Path) -> list[SnapshotRecord]:
    records: list[SnapshotRecord] = []
    if not directory.is_dir():
        return records
    for path in sorted(directory.glob("*.json")):
        try:
            records.append(SnapshotRecord.model_validate_json(path.read_bytes()))
        except (OSError, ValidationError) as exc:
            log.warning("snapshot record %s unreadable: %s", path, exc)
    records.sort(key=lambda r: (r.at, r.id))
    return records


async def list_snapshots(video: VideoService, engine: Engine, flight_id: int) -> SnapshotsPublic:
    """The flight's snapshots (404 for an unknown flight)."""
    await asyncio.to_thread(_load_flight, engine, flight_id)
    records = await asyncio.to_thread(_read_records, snapshots_dir(video, flight_id))
    return SnapshotsPublic(data=[public(r) for r in records], count=len(records))


def _find(directory: Path, flight_id: int, snapshot_id: str) -> tuple[SnapshotRecord, Path]:
    if not SNAPSHOT_ID_RE.match(snapshot_id):
        raise NotFoundError("snapshot", snapshot_id)
    meta = directory / f"{snapshot_id}.json"
    image = directory / f"{snapshot_id}.jpg"
    if not (meta.is_file() and image.is_file()):
        raise NotFoundError("snapshot", snapshot_id)
    record = SnapshotRecord.model_validate_json(meta.read_bytes())
    if record.flight_id != flight_id:
        raise NotFoundError("snapshot", snapshot_id)
    return record, image


async def snapshot_file(
    video: VideoService, flight_id: int, snapshot_id: str
) -> tuple[SnapshotRecord, Path]:
    """The record and the still's path (NotFoundError when either is missing)."""
    return await asyncio.to_thread(_find, snapshots_dir(video, flight_id), flight_id, snapshot_id)


__all__ = [
    "SNAPSHOT_ID_RE",
    "SnapshotPublic",
    "SnapshotRecord",
    "SnapshotsPublic",
    "list_snapshots",
    "snapshot_file",
    "snapshot_id_for",
    "snapshot_note_text",
    "snapshot_url",
    "take_snapshot",
]
