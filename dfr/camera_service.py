"""The community camera registry on the service's store: registrations, footage requests, clips.

Owners act only through links emailed to them (random tokens, stored as SHA-256): confirmation,
management, and one upload link per footage request. A clip is hashed and probed on arrival,
moved into the evidence store, recorded with its chain of custody, audited, and noted to CAD.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
from datetime import timedelta
from pathlib import Path, PurePosixPath

from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from cameras import (
    CLIP_EXTENSIONS,
    RECORDS,
    AddressWindow,
    CameraInputError,
    CameraSpec,
    LinkRefusedError,
    checked_email,
    checked_file_name,
    checked_name,
    checked_phone,
    checked_size,
    checked_spec,
    checked_text,
    coverage,
    hash_link_token,
    new_link_token,
    probe_clip,
    sha256_of,
    well_formed_link_token,
)
from cameras.errors import ClipTooLargeError
from dfr.call_ledger import CallLedger
from dfr.camera_audit import audit_camera_event, public_base
from dfr.camera_views import (
    Actor,
    CallFootagePublic,
    CameraNearPublic,
    CameraPublic,
    CamerasNearPublic,
    ClipPublic,
    FootageLinkPublic,
    FootageRequestIn,
    FootageRequestPublic,
    OwnerRegistrationPublic,
    RegistrationAccepted,
    RegistrationEdit,
    RegistrationIn,
    UploadLinkPublic,
    UploadPublic,
)
from dfr.errors import ConflictError, InvalidInputError, NotFoundError, ServiceUnavailableError
from dfr.mail import Mail, Mailer, MailSink
from dfr.models import (
    Call,
    CameraRegistration,
    ClipUpload,
    FootageClip,
    FootageLink,
    FootageRequest,
    as_utc,
    get_row,
    utcnow,
)
from dfr.settings import CameraSettings
from geofence import GeoPoint

log = logging.getLogger(__name__)
ACTIVE = "active"
PENDING = "pending"
#: Who the CAD note and the audit name for an owner's upload.
CAMERAS_AUTHOR = "DFR cameras"


class CameraService:
    """Registry, footage requests, owners' links and clips (one per service graph)."""

    def __init__(
        self,
        *,
        engine: Engine,
        settings: CameraSettings,
        mailer: Mailer,
        sink: MailSink | None,
        ledger: CallLedger,
        data_dir: Path,
        default_agency_id: str,
        max_body_bytes: int,
    ) -> None:
        self._engine = engine
        self._settings = settings
        self.mailer = mailer
        self.sink = sink
        self._ledger = ledger
        self._evidence_dir = data_dir / "evidence"
        self._agency_id = default_agency_id
        self._window = AddressWindow(settings.registrations_per_hour, 3600.0)
        # A chunk travels as one multipart body, which the edge bounds; keep room for its framing.
        self.chunk_bytes = max(1024, min(settings.chunk_bytes, max_body_bytes - 16 * 1024))

    @property
    def max_clip_bytes(self) -> int:
        """The largest clip an owner may upload."""
        return self._settings.max_clip_bytes

    async def __aenter__(self) -> CameraService:
        if self.sink is not None:
            await self.sink.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        if self.sink is not None:
            await self.sink.stop()

    # ------------------------------------------------------------------ registry (owners)

    async def register(
        self, form: RegistrationIn, *, address: str, base_url: str
    ) -> RegistrationAccepted:
        """Store a pending registration and email its confirmation and management links."""
        spec = checked_spec(
            lat=form.lat,
            lon=form.lon,
            facing_deg=form.facing_deg,
            fov_deg=form.fov_deg,
            street_facing=form.street_facing,
            records=form.records,
        )
        name = checked_name(form.owner_name)
        email = checked_email(form.email)
        phone = checked_phone(form.phone)
        description = checked_text(form.description, "description")
        if not self.mailer.configured:
            raise ServiceUnavailableError("no mail server is configured (DFR_SMTP__HOST)")
        self._window.take(address)
        confirm, manage = new_link_token(), new_link_token()
        row = CameraRegistration(
            agency_id=self._agency_id,
            owner_name=name,
            email=email,
            phone=phone,
            description=description,
            status=PENDING,
            confirm_hash=hash_link_token(confirm),
            confirm_expires_at=utcnow() + timedelta(days=self._settings.confirm_link_days),
            manage_hash=hash_link_token(manage),
            lat=spec.lat,
            lon=spec.lon,
        )
        _apply_spec(row, spec)
        row = await asyncio.to_thread(self._insert, row)
        base = self._base(base_url)
        mail = Mail(
            to=email,
            subject="Confirm your camera registration",
            body=(
                f"Hello {name},\n\n"
                "You registered a camera with the real-time crime center. Registration does not "
                "give anyone access to your camera; it lets investigators ask you for footage "
                "after a crime near it.\n\n"
                f"Confirm the registration (it stays inactive until you do):\n"
                f"{base}/console/register.html#confirm={confirm}\n\n"
                "View, change or delete your registration at any time (keep this link private):\n"
                f"{base}/console/register.html#manage={manage}\n"
            ),
        )
        try:
            await self.mailer.send(mail)
        except Exception:
            # Nothing stays of a registration whose owner could never confirm it.
            await asyncio.to_thread(self._delete_registration, row.id)
            raise
        assert row.id is not None
        return RegistrationAccepted(
            id=row.id, status=PENDING, detail="a confirmation link was emailed to the owner"
        )

    async def confirm(self, token: str) -> OwnerRegistrationPublic:
        """Activate the registration whose confirmation link this is (used once)."""

        def run() -> OwnerRegistrationPublic:
            with Session(self._engine, expire_on_commit=False) as session:
                row = _registration_by(session, "confirm_hash", token, "confirmation")
                expires = row.confirm_expires_at
                if expires is not None and as_utc(expires) <= utcnow():
                    raise LinkRefusedError("the confirmation link has expired; register again")
                row.status = ACTIVE
                row.confirm_hash = None
                row.confirmed_at = row.updated_at = utcnow()
                session.add(row)
                session.commit()
                return _owner_view(row)

        return await asyncio.to_thread(run)

    async def owner_view(self, token: str) -> OwnerRegistrationPublic:
        """The registration whose management link this is."""

        def run() -> OwnerRegistrationPublic:
            with Session(self._engine) as session:
                return _owner_view(_registration_by(session, "manage_hash", token, "management"))

        return await asyncio.to_thread(run)

    async def owner_edit(self, token: str, edit: RegistrationEdit) -> OwnerRegistrationPublic:
        """Change the registration through its management link."""

        def run() -> OwnerRegistrationPublic:
            with Session(self._engine, expire_on_commit=False) as session:
                row = _registration_by(session, "manage_hash", token, "management")
                spec = checked_spec(
                    lat=row.lat if edit.lat is None else edit.lat,
                    lon=row.lon if edit.lon is None else edit.lon,
                    facing_deg=edit.facing_deg
                    if "facing_deg" in edit.model_fields_set
                    else row.facing_deg,
                    fov_deg=edit.fov_deg if "fov_deg" in edit.model_fields_set else row.fov_deg,
                    street_facing=row.street_facing
                    if edit.street_facing is None
                    else edit.street_facing,
                    records=row.records if edit.records is None else edit.records,
                )
                _apply_spec(row, spec)
                if edit.owner_name is not None:
                    row.owner_name = checked_name(edit.owner_name)
                if "phone" in edit.model_fields_set:
                    row.phone = checked_phone(edit.phone)
                if edit.description is not None:
                    row.description = checked_text(edit.description, "description")
                row.updated_at = utcnow()
                session.add(row)
                session.commit()
                return _owner_view(row)

        return await asyncio.to_thread(run)

    async def owner_delete(self, token: str) -> None:
        """Delete the registration through its management link."""

        def run() -> None:
            with Session(self._engine) as session:
                row = _registration_by(session, "manage_hash", token, "management")
                session.delete(row)
                session.commit()

        await asyncio.to_thread(run)

    # ------------------------------------------------------------------ staff: map and requests

    def cameras(self, session: Session) -> list[CameraPublic]:
        """Every active registered camera (the map layer)."""
        rows = session.exec(
            select(CameraRegistration)
            .where(CameraRegistration.status == ACTIVE)
            .order_by(col(CameraRegistration.id))
        ).all()
        return [_camera_public(r) for r in rows]

    def cameras_near(
        self, session: Session, call_id: int, radius_m: float | None
    ) -> CamerasNearPublic:
        """Active cameras within the radius of the call whose view covers it (or is not told)."""
        call = get_row(session, Call, call_id)
        radius = self._radius(radius_m)
        near = self._near(session, call, radius)
        return CamerasNearPublic(
            call_id=call_id,
            radius_m=radius,
            data=[c for c, _ in near],
            count=len(near),
            owners=len({email for _, email in near}),
        )

    def _radius(self, radius_m: float | None) -> float:
        radius = self._settings.default_radius_m if radius_m is None else radius_m
        if not 0 < radius <= 5000:
            raise InvalidInputError("must be more than 0 and at most 5000 m", field="radius_m")
        return radius

    def _near(
        self, session: Session, call: Call, radius_m: float
    ) -> list[tuple[CameraNearPublic, str]]:
        scene = GeoPoint(call.lat, call.lon)
        found: list[tuple[CameraNearPublic, str]] = []
        for row in session.exec(
            select(CameraRegistration).where(CameraRegistration.status == ACTIVE)
        ).all():
            seen = coverage(_spec_of(row), scene)
            if seen.distance_m <= radius_m and seen.covers:
                public = CameraNearPublic(
                    **_camera_public(row).model_dump(),
                    distance_m=round(seen.distance_m, 1),
                    covers=seen.covers,
                    facing_known=seen.facing_known,
                )
                found.append((public, row.email))
        found.sort(key=lambda item: item[0].distance_m)
        return found

    async def request_footage(
        self, call_id: int, form: FootageRequestIn, *, actor: Actor, base_url: str
    ) -> FootageRequestPublic:
        """Email every owner of a covering camera in range a personal upload link, in one action."""
        start, end = as_utc(form.window_start), as_utc(form.window_end)
        if end <= start:
            raise InvalidInputError("must be after window_start", field="window_end")
        if end - start > timedelta(days=7):
            raise InvalidInputError("the window may span at most 7 days", field="window_end")
        message = checked_text(form.message, "message")
        radius = self._radius(form.radius_m)
        if not self.mailer.configured:
            # Links nobody can receive would only be stored: refuse before anything is.
            raise ServiceUnavailableError("no mail server is configured (DFR_SMTP__HOST)")
        expires = utcnow() + timedelta(days=self._settings.upload_link_days)

        def create() -> tuple[int, list[tuple[int, str, str, str]]]:
            with Session(self._engine) as session:
                call = get_row(session, Call, call_id)
                near = self._near(session, call, radius)
                if not near:
                    raise ConflictError(
                        "no registered camera within the radius covers the scene", field="radius_m"
                    )
                request = FootageRequest(
                    call_id=call_id,
                    requested_by=actor.name,
                    radius_m=radius,
                    window_start=start,
                    window_end=end,
                    message=message,
                )
                session.add(request)
                session.flush()
                assert request.id is not None
                owners: dict[str, int] = {}
                for camera, email in near:
                    owners.setdefault(email, camera.id)
                made: list[tuple[int, str, str, str]] = []
                for email, registration_id in owners.items():
                    token = new_link_token()
                    link = FootageLink(
                        request_id=request.id,
                        call_id=call_id,
                        registration_id=registration_id,
                        token_hash=hash_link_token(token),
                        expires_at=expires,
                    )
                    session.add(link)
                    session.flush()
                    assert link.id is not None
                    owner = session.get(CameraRegistration, registration_id)
                    made.append((link.id, email, owner.owner_name if owner else "", token))
                session.commit()
                return request.id, made

        request_id, made = await asyncio.to_thread(create)
        base = self._base(base_url)
        sent: list[int] = []
        for link_id, email, name, token in made:
            mail = Mail(
                to=email,
                subject="A request for camera footage",
                body=(
                    f"Hello {name},\n\n"
                    "Investigators ask whether your registered camera recorded anything useful "
                    f"between {start.isoformat()} and {end.isoformat()} (UTC).\n\n"
                    f"Their message:\n{message}\n\n"
                    "If you have footage, upload it here (the link is yours alone, works only "
                    f"for this request, and expires {expires.date().isoformat()}):\n"
                    f"{base}/console/upload.html#request={request_id}&token={token}\n\n"
                    "Nothing is ever taken from your camera or device; you choose what to send.\n"
                ),
            )
            try:
                await self.mailer.send(mail)
                sent.append(link_id)
            except Exception:
                log.exception("could not email footage link %s", link_id)

        def finish() -> FootageRequestPublic:
            with Session(self._engine) as session:
                if sent:
                    session.exec(
                        update(FootageLink)
                        .where(col(FootageLink.id).in_(sent))
                        .values(emailed_at=utcnow())
                    )
                    session.commit()
                return _request_public(session, get_row(session, FootageRequest, request_id))

        public = await asyncio.to_thread(finish)
        await self._audit(
            actor,
            "POST",
            f"/api/v1/calls/{call_id}/footage-requests",
            201,
            "cameras.footage_request_sent",
            f"request {request_id} for call {call_id}: {len(made)} owners, {len(sent)} emailed, "
            f"radius {radius:g} m",
        )
        return public

    async def revoke_link(self, link_id: int, *, actor: Actor) -> FootageLinkPublic:
        """Revoke an owner's upload link (its uploads in progress end with it)."""

        def run() -> FootageLinkPublic:
            with Session(self._engine, expire_on_commit=False) as session:
                link = get_row(session, FootageLink, link_id)
                if link.revoked_at is not None:
                    raise ConflictError(f"link {link_id} is already revoked", field="link")
                link.revoked_at = utcnow()
                link.revoked_by = actor.name[:200]
                session.add(link)
                session.commit()
                return _link_public(link)

        public = await asyncio.to_thread(run)
        await self._audit(
            actor,
            "POST",
            f"/api/v1/footage-links/{link_id}/revoke",
            200,
            "cameras.link_revoked",
            f"upload link {link_id} of request {public.request_id} (call {public.call_id})",
        )
        return public

    def footage_of_call(self, session: Session, call_id: int) -> CallFootagePublic:
        """The call's footage requests (with each link's state) and its clips."""
        get_row(session, Call, call_id)
        requests = session.exec(
            select(FootageRequest)
            .where(FootageRequest.call_id == call_id)
            .order_by(col(FootageRequest.id))
        ).all()
        clips = session.exec(
            select(FootageClip).where(FootageClip.call_id == call_id).order_by(col(FootageClip.id))
        ).all()
        return CallFootagePublic(
            call_id=call_id,
            requests=[_request_public(session, r) for r in requests],
            clips=[ClipPublic.model_validate(c, from_attributes=True) for c in clips],
        )

    async def clip_for_download(self, clip_id: int, *, actor: Actor) -> tuple[Path, FootageClip]:
        """The clip's stored file, re-hashed: ConflictError when it no longer matches its record."""

        def run() -> tuple[Path, FootageClip, str]:
            with Session(self._engine) as session:
                clip = get_row(session, FootageClip, clip_id)
                path = self._evidence_dir / clip.stored_path
                return path, clip, sha256_of(path)

        path, clip, sha = await asyncio.to_thread(run)
        matches = sha == clip.sha256
        await self._audit(
            actor,
            "GET",
            f"/api/v1/footage-clips/{clip_id}/file",
            200 if matches else 409,
            "cameras.clip_download",
            f"clip {clip_id} of call {clip.call_id}: sha256 {sha} "
            + ("matches" if matches else f"DIFFERS from recorded {clip.sha256}"),
        )
        if not matches:
            raise ConflictError(
                "the stored clip no longer matches its recorded SHA-256", field="sha256"
            )
        return path, clip

    # ------------------------------------------------------------------ owners' uploads

    async def link_info(self, token: str) -> UploadLinkPublic:
        """What the owner's upload page shows for this link."""

        def run() -> UploadLinkPublic:
            with Session(self._engine) as session:
                link = _usable_link(session, token)
                request = get_row(session, FootageRequest, link.request_id)
                clips = session.exec(
                    select(FootageClip.id).where(FootageClip.link_id == link.id)
                ).all()
                return UploadLinkPublic(
                    request_id=request.id or 0,
                    message=request.message,
                    window_start=as_utc(request.window_start),
                    window_end=as_utc(request.window_end),
                    expires_at=as_utc(link.expires_at),
                    max_clip_bytes=self.max_clip_bytes,
                    chunk_bytes=self.chunk_bytes,
                    extensions=sorted(CLIP_EXTENSIONS),
                    clips_uploaded=len(clips),
                )

        return await asyncio.to_thread(run)

    async def start_upload(
        self, token: str, request_id: int, file_name: str, size_bytes: int
    ) -> UploadPublic:
        """Begin a clip's upload through the link (the file arrives in chunks)."""
        name = checked_file_name(file_name)
        checked_size(size_bytes, self.max_clip_bytes)

        def run() -> UploadPublic:
            with Session(self._engine) as session:
                link = _usable_link(session, token, request_id=request_id)
                assert link.id is not None
                upload = ClipUpload(
                    id=secrets.token_hex(16), link_id=link.id, file_name=name, size_bytes=size_bytes
                )
                self._incoming(upload.id).parent.mkdir(parents=True, exist_ok=True)
                self._incoming(upload.id).touch()
                session.add(upload)
                session.commit()
                return self._upload_public(upload)

        return await asyncio.to_thread(run)

    async def put_chunk(self, token: str, upload_id: str, offset: int, data: bytes) -> UploadPublic:
        """Write one chunk at `offset` (chunks arrive in order; a repeated chunk is accepted)."""
        if not data:
            raise CameraInputError("the chunk is empty", field="chunk")
        if len(data) > self.chunk_bytes:
            raise CameraInputError(f"a chunk holds at most {self.chunk_bytes} bytes", field="chunk")

        def run() -> UploadPublic:
            with Session(self._engine, expire_on_commit=False) as session:
                upload = self._upload(session, token, upload_id)
                if offset < 0 or offset > upload.received_bytes:
                    raise ConflictError(
                        f"the next chunk starts at byte {upload.received_bytes}", field="offset"
                    )
                end = offset + len(data)
                if end > upload.size_bytes:
                    raise ClipTooLargeError(
                        f"the file is larger than the {upload.size_bytes} bytes declared",
                        field="chunk",
                    )
                fd = os.open(self._incoming(upload_id), os.O_WRONLY)
                try:
                    os.pwrite(fd, data, offset)
                finally:
                    os.close(fd)
                received = max(upload.received_bytes, end)
                session.exec(
                    update(ClipUpload)
                    .where(col(ClipUpload.id) == upload_id)
                    .values(received_bytes=received)
                )
                session.commit()
                upload.received_bytes = received
                return self._upload_public(upload)

        return await asyncio.to_thread(run)

    async def complete_upload(self, token: str, upload_id: str, *, address: str) -> ClipPublic:
        """Hash and probe the arrived clip, store it as evidence, record custody, audit, tell CAD."""

        def run() -> ClipPublic:
            with Session(self._engine, expire_on_commit=False) as session:
                upload = self._upload(session, token, upload_id)
                if upload.received_bytes != upload.size_bytes:
                    raise ConflictError(
                        f"{upload.received_bytes} of {upload.size_bytes} bytes have arrived",
                        field="upload",
                    )
                link = get_row(session, FootageLink, upload.link_id)
                incoming = self._incoming(upload_id)
                try:
                    sha = sha256_of(incoming)
                    probe = probe_clip(incoming)
                except CameraInputError:
                    # Nothing of a refused file is kept.
                    session.delete(upload)
                    session.commit()
                    incoming.unlink(missing_ok=True)
                    raise
                suffix = PurePosixPath(upload.file_name).suffix.lower()
                relative = f"footage/call-{link.call_id}/{upload_id}-{sha[:16]}{suffix}"
                stored = self._evidence_dir / relative
                stored.parent.mkdir(parents=True, exist_ok=True)
                owner = session.get(CameraRegistration, link.registration_id)
                uploaded_by = (
                    f"camera owner {owner.owner_name} <{owner.email}>"
                    if owner
                    else f"owner of camera registration {link.registration_id}"
                )
                assert link.id is not None
                clip = FootageClip(
                    call_id=link.call_id,
                    request_id=link.request_id,
                    link_id=link.id,
                    registration_id=link.registration_id,
                    file_name=upload.file_name,
                    size_bytes=upload.size_bytes,
                    sha256=sha,
                    duration_s=probe.duration_s,
                    codec=probe.codec[:32],
                    width=probe.width,
                    height=probe.height,
                    stored_path=relative,
                    uploaded_by=uploaded_by[:200],
                    client_address=address[:64],
                )
                session.add(clip)
                session.delete(upload)
                session.flush()
                self._ledger.add_note(
                    session,
                    link.call_id,
                    author=CAMERAS_AUTHOR,
                    text=(
                        f"Footage clip {clip.id} received from a registered camera owner "
                        f"(request {link.request_id}): {upload.file_name}, {probe.duration_s:g} s "
                        f"{probe.codec}, {upload.size_bytes} bytes, SHA-256 {sha}"
                    ),
                )
                os.replace(incoming, stored)
                try:
                    session.commit()
                except Exception:
                    os.replace(stored, incoming)
                    raise
                return ClipPublic.model_validate(clip, from_attributes=True)

        clip = await asyncio.to_thread(run)
        await self._audit(
            Actor(clip.uploaded_by, "owner", address),
            "POST",
            f"/api/v1/public/footage/uploads/{upload_id}/complete",
            201,
            "cameras.clip_received",
            f"clip {clip.id} for call {clip.call_id}, request {clip.request_id}, link "
            f"{clip.link_id}: {clip.file_name} {clip.size_bytes} bytes sha256 {clip.sha256}",
        )
        return clip

    def _upload(self, session: Session, token: str, upload_id: str) -> ClipUpload:
        link = _usable_link(session, token)
        upload = session.get(ClipUpload, upload_id)
        if upload is None or upload.link_id != link.id:
            raise NotFoundError("upload", upload_id)
        return upload

    def _upload_public(self, upload: ClipUpload) -> UploadPublic:
        return UploadPublic(
            upload_id=upload.id,
            file_name=upload.file_name,
            size_bytes=upload.size_bytes,
            received_bytes=upload.received_bytes,
            chunk_bytes=self.chunk_bytes,
        )

    def _incoming(self, upload_id: str) -> Path:
        return self._evidence_dir / "incoming" / f"{upload_id}.part"

    # ------------------------------------------------------------------ helpers

    def _base(self, base_url: str) -> str:
        return public_base(self._settings, base_url)

    def _insert(self, row: CameraRegistration) -> CameraRegistration:
        with Session(self._engine, expire_on_commit=False) as session:
            session.add(row)
            session.commit()
            return row

    def _delete_registration(self, registration_id: int | None) -> None:
        with Session(self._engine) as session:
            row = session.get(CameraRegistration, registration_id)
            if row is not None:
                session.delete(row)
                session.commit()

    async def _audit(
        self, actor: Actor, method: str, path: str, status: int, action: str, detail: str
    ) -> None:
        await audit_camera_event(self._engine, actor, method, path, status, action, detail)


def _point_spec(point: GeoPoint) -> CameraSpec:
    return CameraSpec(point.lat_deg, point.lon_deg, None, None, False, ())


def _apply_spec(row: CameraRegistration, spec: CameraSpec) -> None:
    row.lat, row.lon = spec.lat, spec.lon
    row.facing_deg, row.fov_deg = spec.facing_deg, spec.fov_deg
    row.street_facing = spec.street_facing
    row.records = list(spec.records)


def _spec_of(row: CameraRegistration) -> CameraSpec:
    return CameraSpec(
        lat=row.lat,
        lon=row.lon,
        facing_deg=row.facing_deg,
        fov_deg=row.fov_deg,
        street_facing=row.street_facing,
        records=tuple(r for r in row.records if r in RECORDS),
    )


def _camera_public(row: CameraRegistration) -> CameraPublic:
    assert row.id is not None
    return CameraPublic(
        id=row.id,
        lat=row.lat,
        lon=row.lon,
        facing_deg=row.facing_deg,
        fov_deg=row.fov_deg,
        street_facing=row.street_facing,
        records=list(row.records),
        description=row.description,
    )


def _owner_view(row: CameraRegistration) -> OwnerRegistrationPublic:
    return OwnerRegistrationPublic.model_validate(row, from_attributes=True)


def _registration_by(session: Session, column: str, token: str, kind: str) -> CameraRegistration:
    if well_formed_link_token(token):
        row = session.exec(
            select(CameraRegistration).where(
                getattr(CameraRegistration, column) == hash_link_token(token)
            )
        ).first()
        if row is not None:
            return row
    raise LinkRefusedError(f"the {kind} link is not valid (unknown, already used, or deleted)")


def _usable_link(session: Session, token: str, *, request_id: int | None = None) -> FootageLink:
    link = None
    if well_formed_link_token(token):
        link = session.exec(
            select(FootageLink).where(FootageLink.token_hash == hash_link_token(token))
        ).first()
    if link is None:
        raise LinkRefusedError("the upload link is not valid")
    if link.revoked_at is not None:
        raise LinkRefusedError("the upload link was revoked")
    if as_utc(link.expires_at) <= utcnow():
        raise LinkRefusedError("the upload link has expired")
    if request_id is not None and request_id != link.request_id:
        raise LinkRefusedError("the upload link is for another case; use the link of this request")
    return link


def _state(link: FootageLink) -> str:
    if link.revoked_at is not None:
        return "revoked"
    return "expired" if as_utc(link.expires_at) <= utcnow() else "active"


def _link_public(link: FootageLink) -> FootageLinkPublic:
    assert link.id is not None
    return FootageLinkPublic(
        id=link.id,
        request_id=link.request_id,
        call_id=link.call_id,
        registration_id=link.registration_id,
        created_at=as_utc(link.created_at),
        expires_at=as_utc(link.expires_at),
        emailed_at=as_utc(link.emailed_at) if link.emailed_at else None,
        revoked_at=as_utc(link.revoked_at) if link.revoked_at else None,
        revoked_by=link.revoked_by,
        state=_state(link),
    )


def _request_public(session: Session, request: FootageRequest) -> FootageRequestPublic:
    links = session.exec(
        select(FootageLink)
        .where(FootageLink.request_id == request.id)
        .order_by(col(FootageLink.id))
    ).all()
    assert request.id is not None
    return FootageRequestPublic(
        id=request.id,
        call_id=request.call_id,
        requested_by=request.requested_by,
        radius_m=request.radius_m,
        window_start=as_utc(request.window_start),
        window_end=as_utc(request.window_end),
        message=request.message,
        created_at=as_utc(request.created_at),
        links=[_link_public(link) for link in links],
    )


__all__ = ["ACTIVE", "PENDING", "Actor", "CameraService"]
