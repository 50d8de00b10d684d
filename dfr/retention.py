"""Retention: named holds on recordings, and the purge of what the agency's policy says is due.

A recording is a flight's (`<data_dir>/recordings/flight-<id>/`: MP4 segments and their hash-chained
manifest, snapshots beside them). The purge (a periodic task in the service, and
`dfr recordings purge [--dry-run]`) deletes, per the fleet file's `[retention]`
(dfr.retention_policy):

- a recording whose last segment ended `recordings_days` ago: its segments, then its manifest;
- a snapshot taken `snapshots_days` ago;
- flight path points (track points) older than `telemetry_days`;
- audit rows older than `audit_days`, never younger than AUDIT_FLOOR_DAYS (the database refuses);

each deletion with one audit row (a recording's names its manifest head, so the deleted video can
still be matched to the chain the audit saw while it was recorded). Nothing under an active hold
goes: not its video, snapshots or flight path. A purge decides under the audit chain's lock, and a
hold is placed under it too, so a hold placed while the purge runs either comes first (the
recording is kept) or finds the recording gone (refused): a hold is never placed on deleted media.
Several instances may purge at once: what one deleted the other finds gone and skips.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Table, delete, func, select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError

from dfr.audit import (
    AUDIT_FLOOR_DAYS,
    AUDIT_PURGE_ACTION,
    append_audit,
    audit_purge_detail,
    event_row,
    lock_chain,
)
from dfr.errors import ConflictError, NotFoundError
from dfr.models import AuditEntry, RecordingHold, TrackPoint, as_utc, utcnow
from dfr.retention_policy import RetentionPolicy
from lifecycle import TaskOwner
from telemetry.video.errors import ManifestError
from telemetry.video.manifest import MANIFEST_NAME, read_manifest

log = logging.getLogger(__name__)

RECORDINGS_DIR = "recordings"
SNAPSHOTS_DIR = "snapshots"
#: Who the purge's audit rows name.
PURGE_ACTOR = ("retention", "system")
#: How often the service purges.
PURGE_INTERVAL_S = 3600.0
_HOLDS: Table = RecordingHold.__table__  # type: ignore[attr-defined]
_TRACK: Table = TrackPoint.__table__  # type: ignore[attr-defined]
_AUDIT: Table = AuditEntry.__table__  # type: ignore[attr-defined]


def recording_dir(data_dir: Path, flight_id: int) -> Path:
    """Where a flight's recording is (as dfr.video_service stores it)."""
    return data_dir / RECORDINGS_DIR / f"flight-{flight_id}"


# --- holds ----------------------------------------------------------------------------------------


class HoldCreate(BaseModel):
    """Why the recording must be kept."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=500, description="e.g. evidence, training")
    case_number: str | None = Field(
        default=None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9 ._/#:-]*$"
    )


class HoldRelease(BaseModel):
    """Why the hold ends."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=500)


class HoldPublic(BaseModel):
    """One hold on a recording."""

    model_config = ConfigDict(frozen=True, from_attributes=True)

    id: int
    flight_id: int
    reason: str
    case_number: str | None
    created_by: str
    created_at: datetime
    released_at: datetime | None
    released_by: str
    release_reason: str
    active: bool


class HoldsPublic(BaseModel):
    """A recording's holds, oldest first."""

    model_config = ConfigDict(frozen=True)

    data: list[HoldPublic]
    count: int
    #: True while any hold is active: the purge keeps the recording.
    held: bool


def _hold_public(row: Any) -> HoldPublic:
    values = dict(row._mapping)
    for key in ("created_at", "released_at"):
        if values[key] is not None:
            values[key] = as_utc(values[key])
    return HoldPublic(**values, active=values["released_at"] is None)


def _holds_of(conn: Connection, flight_id: int) -> list[HoldPublic]:
    rows = conn.execute(
        select(_HOLDS).where(_HOLDS.c.flight_id == flight_id).order_by(_HOLDS.c.id)
    ).all()
    return [_hold_public(r) for r in rows]


def held_flights(conn: Connection) -> set[int]:
    """Flights whose recording is under an active hold."""
    rows = conn.execute(select(_HOLDS.c.flight_id).where(_HOLDS.c.released_at.is_(None))).all()
    return {int(r.flight_id) for r in rows}


def _has_recording(directory: Path) -> bool:
    return (directory / MANIFEST_NAME).is_file() or (directory / SNAPSHOTS_DIR).is_dir()


def list_holds(engine: Engine, data_dir: Path, flight_id: int) -> HoldsPublic:
    """The holds placed on a flight's recording (NotFoundError when there never was one)."""
    with engine.connect() as conn:
        holds = _holds_of(conn, flight_id)
    if not holds and not _has_recording(recording_dir(data_dir, flight_id)):
        raise NotFoundError("recording of flight", flight_id)
    return HoldsPublic(data=holds, count=len(holds), held=any(h.active for h in holds))


def place_hold(
    engine: Engine,
    data_dir: Path,
    flight_id: int,
    body: HoldCreate,
    *,
    actor: str,
    role: str,
    client_address: str,
) -> HoldPublic:
    """Hold a recording (audited in the same transaction; blocking)."""
    with engine.begin() as conn:
        # Under the chain lock: a purge deciding now has either deleted it already or waits.
        lock_chain(conn)
        if not _has_recording(recording_dir(data_dir, flight_id)):
            raise NotFoundError("recording of flight", flight_id)
        hold_id = conn.execute(
            _HOLDS.insert()
            .values(
                flight_id=flight_id,
                reason=body.reason,
                case_number=body.case_number,
                created_by=actor,
                created_at=utcnow(),
                released_by="",
                release_reason="",
            )
            .returning(_HOLDS.c.id)
        ).scalar_one()
        case = f" case {body.case_number}" if body.case_number else ""
        append_audit(
            conn,
            [
                event_row(
                    actor=actor,
                    role=role,
                    action="recording.hold",
                    target=f"recording {flight_id}",
                    detail=f"hold {hold_id}{case}: {body.reason}",
                    client_address=client_address,
                    path=f"/api/v1/recordings/{flight_id}/holds",
                )
            ],
        )
        row = conn.execute(select(_HOLDS).where(_HOLDS.c.id == hold_id)).one()
    return _hold_public(row)


def release_hold(
    engine: Engine,
    flight_id: int,
    hold_id: int,
    body: HoldRelease,
    *,
    actor: str,
    role: str,
    client_address: str,
) -> HoldPublic:
    """End a hold (audited in the same transaction; blocking); a released hold stays listed."""
    with engine.begin() as conn:
        lock_chain(conn)
        row = conn.execute(
            select(_HOLDS).where(_HOLDS.c.id == hold_id, _HOLDS.c.flight_id == flight_id)
        ).first()
        if row is None:
            raise NotFoundError("hold", hold_id)
        if row.released_at is not None:
            raise ConflictError(f"hold {hold_id} was already released", field="hold_id")
        conn.execute(
            _HOLDS.update()
            .where(_HOLDS.c.id == hold_id)
            .values(released_at=utcnow(), released_by=actor, release_reason=body.reason)
        )
        append_audit(
            conn,
            [
                event_row(
                    actor=actor,
                    role=role,
                    action="recording.hold.release",
                    target=f"recording {flight_id}",
                    detail=f"hold {hold_id} ({row.reason[:200]}) released: {body.reason}",
                    client_address=client_address,
                    path=f"/api/v1/recordings/{flight_id}/holds/{hold_id}/release",
                )
            ],
        )
        row = conn.execute(select(_HOLDS).where(_HOLDS.c.id == hold_id)).one()
    return _hold_public(row)


# --- purge ----------------------------------------------------------------------------------------


class PurgeItem(BaseModel):
    """One thing the purge deleted (or, in a dry run, would delete)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["recording", "snapshot", "telemetry", "audit"]
    target: str
    flight_id: int | None = None
    #: When it was recorded (a recording: its last segment's end).
    at: datetime | None = None
    #: A recording's manifest head, a snapshot's SHA-256.
    sha256: str = ""
    files: int = 0
    bytes: int = 0
    rows: int = 0


class PurgeReport(BaseModel):
    """What one purge did."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    dry_run: bool
    at: datetime
    policy: RetentionPolicy
    purged: list[PurgeItem]
    #: Flights whose due media was kept because their recording is held.
    kept_under_hold: list[int]
    failed: list[str]


def _parse_time(value: str) -> datetime | None:
    try:
        return as_utc(datetime.fromisoformat(value))
    except ValueError:
        return None


def _flight_dirs(root: Path) -> list[tuple[int, Path]]:
    found: list[tuple[int, Path]] = []
    if not root.is_dir():
        return found
    for path in root.glob("flight-*"):
        suffix = path.name.removeprefix("flight-")
        if path.is_dir() and suffix.isdigit():
            found.append((int(suffix), path))
    return sorted(found)


def _recording_item(flight_id: int, directory: Path) -> PurgeItem | None:
    """The recording in `directory` as the purge would list it, None when there is none."""
    try:
        manifest = read_manifest(directory)
    except ManifestError:
        return None
    times = [manifest.created_at, *(s.ended_at for s in manifest.segments)]
    parsed = [t for t in (_parse_time(v) for v in times) if t is not None]
    return PurgeItem(
        kind="recording",
        target=f"recording {flight_id}",
        flight_id=flight_id,
        at=max(parsed) if parsed else None,
        sha256=manifest.head,
        files=len(manifest.segments) + 1,
        bytes=sum(s.bytes for s in manifest.segments),
    )


def _recording_files(directory: Path) -> list[Path]:
    """Every file of the recording, segments first and the manifest last."""
    try:
        listed = [directory / s.file for s in read_manifest(directory).segments]
    except ManifestError:
        listed = []
    loose = [
        p
        for pattern in ("*.mp4", "*.partial", "*.partial.interrupted*", f"{MANIFEST_NAME}.tmp")
        for p in directory.glob(pattern)
    ]
    # Listed names are the manifest's: only plain names inside the directory are followed.
    safe = [p for p in listed if p.parent == directory]
    return [*dict.fromkeys([*safe, *loose]), directory / MANIFEST_NAME]


def _snapshot_items(flight_id: int, directory: Path) -> list[tuple[PurgeItem, list[Path]]]:
    found: list[tuple[PurgeItem, list[Path]]] = []
    for record_path in sorted((directory / SNAPSHOTS_DIR).glob("*.json")):
        try:
            record = json.loads(record_path.read_text(encoding="utf-8"))
            at = _parse_time(str(record["at"]))
            sha256 = str(record.get("sha256", ""))
        except (OSError, ValueError, KeyError, TypeError):
            continue
        still = record_path.with_suffix(".jpg")
        item = PurgeItem(
            kind="snapshot",
            target=f"snapshot {flight_id}/{record_path.stem}",
            flight_id=flight_id,
            at=at,
            sha256=sha256,
            files=2 if still.exists() else 1,
            bytes=still.stat().st_size if still.exists() else 0,
        )
        found.append((item, [still, record_path]))
    return found


def _unlink_all(paths: list[Path]) -> None:
    for path in paths:
        path.unlink(missing_ok=True)


def _remove_if_empty(directory: Path) -> None:
    for path in (directory / SNAPSHOTS_DIR, directory):
        try:
            path.rmdir()
        except OSError:
            pass  # not empty, or already gone


class RetentionJob(TaskOwner):
    """Purges what the policy says is due, every `interval_s` while running, and on demand.

    `now` is the clock the policy is applied with (a test moves it on); the audit floor is also
    enforced by the database on its own clock, which no service clock moves.
    """

    def __init__(
        self,
        engine: Engine,
        data_dir: Path,
        policy: RetentionPolicy | None,
        *,
        now: Callable[[], datetime] = utcnow,
        interval_s: float = PURGE_INTERVAL_S,
        busy: Callable[[int], bool] = lambda _flight_id: False,
    ) -> None:
        super().__init__()
        self._engine = engine
        self.data_dir = data_dir
        self.policy = (policy or RetentionPolicy()).effective()
        self.now = now
        self._interval_s = interval_s
        #: A flight this process is recording now: never purged mid-recording.
        self._busy = busy
        #: The last periodic purge's report, and an event set when each one ends.
        self.last_report: PurgeReport | None = None
        self.ran = asyncio.Event()

    async def _start(self) -> None:
        if any(
            days is not None
            for days in (
                self.policy.recordings_days,
                self.policy.snapshots_days,
                self.policy.telemetry_days,
                self.policy.audit_days,
            )
        ):
            self._spawn(self._every_interval(), name="retention-purge")

    async def _every_interval(self) -> None:
        while True:
            try:
                report = self.last_report = await asyncio.to_thread(self.purge)
                if report.purged or report.failed:
                    log.info(
                        "retention purge: %d deleted, %d kept under hold, %d failed",
                        len(report.purged),
                        len(report.kept_under_hold),
                        len(report.failed),
                    )
            except Exception:
                log.exception(
                    "the retention purge failed; it runs again in %.0f s", self._interval_s
                )
            self.ran.set()
            await asyncio.sleep(self._interval_s)

    def purge(self, *, dry_run: bool = False) -> PurgeReport:
        """Delete (or with `dry_run` only list) what is due now (blocking)."""
        now = as_utc(self.now())
        purged: list[PurgeItem] = []
        kept: set[int] = set()
        failed: list[str] = []
        with self._engine.connect() as conn:
            held = held_flights(conn)
        for flight_id, directory in _flight_dirs(self.data_dir / RECORDINGS_DIR):
            if self._busy(flight_id):
                continue
            try:
                purged += self._purge_flight_media(flight_id, directory, now, held, kept, dry_run)
            except (OSError, DBAPIError) as exc:
                failed.append(f"recording {flight_id}: {exc}")
        for step in (self._purge_telemetry, self._purge_audit):
            try:
                purged += step(now, held, kept, dry_run)
            except (OSError, DBAPIError) as exc:
                failed.append(f"{step.__name__.removeprefix('_purge_')}: {exc}")
        return PurgeReport(
            dry_run=dry_run,
            at=now,
            policy=self.policy,
            purged=purged,
            kept_under_hold=sorted(kept),
            failed=failed,
        )

    def _purge_flight_media(
        self,
        flight_id: int,
        directory: Path,
        now: datetime,
        held: set[int],
        kept: set[int],
        dry_run: bool,
    ) -> list[PurgeItem]:
        due: list[tuple[PurgeItem, list[Path] | None]] = []
        days = self.policy.recordings_days
        recording = _recording_item(flight_id, directory)
        if days is not None and recording is not None and recording.at is not None:
            if recording.at + timedelta(days=days) <= now:
                due.append((recording, None))
        days = self.policy.snapshots_days
        if days is not None:
            due += [
                (item, files)
                for item, files in _snapshot_items(flight_id, directory)
                if item.at is not None and item.at + timedelta(days=days) <= now
            ]
        if not due:
            return []
        if flight_id in held:
            kept.add(flight_id)
            return []
        if dry_run:
            return [item for item, _ in due]
        done: list[PurgeItem] = []
        for item, files in due:
            if self._delete_media(flight_id, directory, item, files):
                done.append(item)
            else:
                kept.add(flight_id)
        _remove_if_empty(directory)
        return done

    def _delete_media(
        self, flight_id: int, directory: Path, item: PurgeItem, files: list[Path] | None
    ) -> bool:
        """Delete one recording or snapshot and audit it, under the chain lock; False if held."""
        with self._engine.begin() as conn:
            lock_chain(conn)
            # A hold placed since the purge began holds the lock first, so it shows here.
            if flight_id in held_flights(conn):
                return False
            if files is None:
                if not (directory / MANIFEST_NAME).is_file():
                    return True  # another instance purged it
                _unlink_all(_recording_files(directory))
                detail = (
                    f"manifest head={item.sha256} segments={item.files - 1} bytes={item.bytes} "
                    f"recorded until {item.at.isoformat() if item.at else '?'}; "
                    f"recordings_days={self.policy.recordings_days}"
                )
            else:
                if not any(p.exists() for p in files):
                    return True
                _unlink_all(files)
                detail = (
                    f"sha256={item.sha256} taken {item.at.isoformat() if item.at else '?'}; "
                    f"snapshots_days={self.policy.snapshots_days}"
                )
            append_audit(conn, [self._row(f"retention.purge.{item.kind}", item.target, detail)])
        return True

    def _row(self, action: str, target: str, detail: str) -> dict[str, Any]:
        actor, role = PURGE_ACTOR
        return event_row(actor=actor, role=role, action=action, target=target, detail=detail)

    def _purge_telemetry(
        self, now: datetime, held: set[int], kept: set[int], dry_run: bool
    ) -> list[PurgeItem]:
        days = self.policy.telemetry_days
        if days is None:
            return []
        cutoff = now - timedelta(days=days)
        with self._engine.begin() as conn:
            if not dry_run:
                lock_chain(conn)
                held = held_flights(conn)
            counts = conn.execute(
                select(_TRACK.c.flight_id, func.count())
                .where(_TRACK.c.at < cutoff)
                .group_by(_TRACK.c.flight_id)
                .order_by(_TRACK.c.flight_id)
            ).all()
            items: list[PurgeItem] = []
            for flight_id, count in counts:
                if flight_id in held:
                    kept.add(int(flight_id))
                    continue
                items.append(
                    PurgeItem(
                        kind="telemetry",
                        target=f"flight {flight_id}",
                        flight_id=int(flight_id),
                        rows=int(count),
                    )
                )
            if dry_run or not items:
                return items
            ids = [i.flight_id for i in items]
            conn.execute(delete(_TRACK).where(_TRACK.c.at < cutoff, _TRACK.c.flight_id.in_(ids)))
            detail = f"before {cutoff.isoformat()}; telemetry_days={days}"
            append_audit(
                conn,
                [
                    self._row(
                        "retention.purge.telemetry", i.target, f"{i.rows} track points {detail}"
                    )
                    for i in items
                ],
            )
        return items

    def _purge_audit(
        self, now: datetime, held: set[int], kept: set[int], dry_run: bool
    ) -> list[PurgeItem]:
        days = self.policy.audit_days
        if days is None:
            return []
        # The floor holds on real time too: a clock moved on never brings it closer.
        cutoff = min(now - timedelta(days=days), utcnow() - timedelta(days=AUDIT_FLOOR_DAYS))
        with self._engine.begin() as conn:
            if not dry_run:
                lock_chain(conn)
            last_seq = conn.execute(
                select(func.max(_AUDIT.c.chain_seq)).where(_AUDIT.c.at < cutoff)
            ).scalar()
            old = _AUDIT.c.at < cutoff
            # By chain position, so the rows left are one unbroken stretch of the chain.
            gone = (
                old
                if last_seq is None
                else (_AUDIT.c.chain_seq <= last_seq) | (_AUDIT.c.chain_seq.is_(None) & old)
            )
            count = conn.execute(select(func.count()).select_from(_AUDIT).where(gone)).scalar_one()
            if not count:
                return []
            item = PurgeItem(kind="audit", target="audit log", rows=int(count))
            if dry_run:
                return [item]
            conn.execute(delete(_AUDIT).where(gone))
            detail = audit_purge_detail(int(count), cutoff, last_seq, days)
            append_audit(conn, [self._row(AUDIT_PURGE_ACTION, "audit log", detail)])
        return [item]
