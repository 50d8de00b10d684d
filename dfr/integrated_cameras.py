"""Integrated business cameras: the owner's sharing rules, live views only while a call allows them.

A business shares a camera's stream under its own rules (live allowed, only for calls of priority <=
P within a radius); a live WHEP view is answered only while such a call is open, is ended by the
service as soon as none is (checked every `live_check_s`), and ends at once when the owner's emailed
unplug link (or an admin) revokes the sharing. Every view, end and unplug is audited.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from cameras import (
    CameraSpec,
    LinkRefusedError,
    checked_email,
    checked_name,
    checked_spec,
    checked_text,
    coverage,
    hash_link_token,
    new_link_token,
    well_formed_link_token,
)
from dfr.camera_audit import audit_camera_event, public_base
from dfr.camera_views import Actor, IntegratedCameraIn, IntegratedCameraPublic, LiveCameraPublic
from dfr.errors import InvalidInputError, ServiceUnavailableError
from dfr.mail import Mail, Mailer
from dfr.models import Call, CallLifecycle, IntegratedCamera, get_row, utcnow
from dfr.settings import CameraSettings
from dfr.url_policy import UrlRefusedError, check_video_url
from dfr.video_service import VideoService
from geofence import GeoPoint
from telemetry.video import SessionUnknownError, WhepAnswer

log = logging.getLogger(__name__)


class IntegratedCameraService:
    """Integrated cameras, their live views and their owners' unplug links (one per service graph)."""

    def __init__(
        self,
        *,
        engine: Engine,
        settings: CameraSettings,
        mailer: Mailer,
        video: VideoService,
        default_agency_id: str,
    ) -> None:
        self._engine = engine
        self._settings = settings
        self._mailer = mailer
        self._video = video
        self._agency_id = default_agency_id
        #: Each integrated camera's open live sessions on this instance.
        self._live: dict[int, set[str]] = {}
        self._live_checker: asyncio.Task[None] | None = None

    async def __aenter__(self) -> IntegratedCameraService:
        self._live_checker = asyncio.get_running_loop().create_task(self._check_live_views())
        return self

    async def __aexit__(self, *_: object) -> None:
        if self._live_checker is not None:
            self._live_checker.cancel()
            await asyncio.gather(self._live_checker, return_exceptions=True)
            self._live_checker = None

    async def _check_live_views(self) -> None:
        while True:
            await asyncio.sleep(self._settings.live_check_s)
            try:
                await self.end_views_no_longer_allowed()
            except Exception:
                log.exception("cameras: checking open live views failed; trying again")

    async def end_views_no_longer_allowed(self) -> list[str]:
        """End each open live view whose camera no call allows any more (closed, or owner's rules)."""
        # The viewers that left on their own are forgotten first.
        open_ids = {info.session_id for info in self._video.sessions.sessions()}
        for camera_id in list(self._live):
            self._live[camera_id] &= open_ids
            if not self._live[camera_id]:
                del self._live[camera_id]
        if not self._live:
            return []
        watched = list(self._live)

        def refused() -> dict[int, str]:
            with Session(self._engine) as session:
                open_calls = _open_calls(session)
                reasons: dict[int, str] = {}
                for camera_id in watched:
                    camera = session.get(IntegratedCamera, camera_id)
                    if camera is None:
                        reasons[camera_id] = "the camera is gone"
                        continue
                    try:
                        _live_call(camera, open_calls)
                    except LinkRefusedError as exc:
                        reasons[camera_id] = str(exc)
                return reasons

        ended: list[str] = []
        system = Actor(name="dfr", role="system", address="")
        for camera_id, reason in (await asyncio.to_thread(refused)).items():
            for session_id in self._live.pop(camera_id, set()):
                with contextlib.suppress(SessionUnknownError):
                    await self._video.sessions.end(session_id, reason)
                    ended.append(session_id)
                    await self._audit(
                        system,
                        "DELETE",
                        f"/api/v1/integrated-cameras/{camera_id}/live/whep/{session_id}",
                        200,
                        "cameras.live_ended",
                        f"integrated camera {camera_id} live session {session_id} ended: {reason}",
                    )
        return ended

    async def add_integrated(
        self, form: IntegratedCameraIn, *, actor: Actor, base_url: str
    ) -> IntegratedCameraPublic:
        """Register a business's camera and email its owner the unplug link."""
        spec = checked_spec(
            lat=form.lat,
            lon=form.lon,
            facing_deg=None,
            fov_deg=None,
            street_facing=False,
            records=[],
        )
        email = checked_email(form.owner_email)
        try:
            check_video_url(form.stream_url)
        except UrlRefusedError as exc:
            raise InvalidInputError(str(exc), field="stream_url") from exc
        if not self._mailer.configured:
            raise ServiceUnavailableError("no mail server is configured (DFR_SMTP__HOST)")
        unplug = new_link_token()
        row = IntegratedCamera(
            agency_id=self._agency_id,
            name=checked_name(form.name),
            owner_email=email,
            lat=spec.lat,
            lon=spec.lon,
            stream_url=form.stream_url,
            feed=checked_text(form.feed, "feed"),
            live_allowed=form.live_allowed,
            max_priority=form.max_priority,
            radius_m=form.radius_m,
            retention_days=form.retention_days,
            unplug_hash=hash_link_token(unplug),
            created_by=actor.name,
        )

        def insert() -> IntegratedCameraPublic:
            with Session(self._engine, expire_on_commit=False) as session:
                session.add(row)
                session.commit()
                return _integrated_public(row)

        public = await asyncio.to_thread(insert)
        rules = (
            f"live view {'allowed' if form.live_allowed else 'not allowed'}, only while a call of "
            f"priority {form.max_priority} or more urgent is open within {form.radius_m:g} m; "
            f"clips kept {form.retention_days} days"
        )
        await self._mailer.send(
            Mail(
                to=email,
                subject=f"Your camera {public.name} is integrated",
                body=(
                    f"The real-time crime center integrated your camera {public.name} "
                    f"({public.feed or 'its feed'}) with these rules: {rules}.\n\n"
                    "Every live view is recorded in the audit log. To end the sharing at any time "
                    "(unplug), open this link (keep it private):\n"
                    f"{public_base(self._settings, base_url)}/console/register.html#unplug={unplug}\n"
                ),
            )
        )
        await self._audit(
            actor,
            "POST",
            "/api/v1/integrated-cameras",
            201,
            "cameras.integrated_added",
            f"integrated camera {public.id} ({public.name}): {rules}",
        )
        return public

    def integrated(self, session: Session) -> list[IntegratedCameraPublic]:
        """Every integrated camera (the map layer; unplugged ones say so)."""
        rows = session.exec(select(IntegratedCamera).order_by(col(IntegratedCamera.id))).all()
        return [_integrated_public(r) for r in rows]

    async def live_cameras(self) -> list[LiveCameraPublic]:
        """The integrated cameras that may be watched live now, each with the call allowing it."""

        def run() -> list[LiveCameraPublic]:
            with Session(self._engine) as session:
                cameras = session.exec(
                    select(IntegratedCamera)
                    .where(col(IntegratedCamera.unplugged_at).is_(None))
                    .where(col(IntegratedCamera.live_allowed))
                    .order_by(col(IntegratedCamera.id))
                ).all()
                open_calls = _open_calls(session)
            eligible = []
            for camera in cameras:
                with contextlib.suppress(LinkRefusedError):
                    call_id = _live_call(camera, open_calls)
                    eligible.append(
                        LiveCameraPublic(
                            id=camera.id or 0, name=camera.name, feed=camera.feed, call_id=call_id
                        )
                    )
            return eligible

        return await asyncio.to_thread(run)

    async def watch_live(
        self, camera_id: int, offer_sdp: str, *, actor: Actor, token_id: int | None
    ) -> tuple[WhepAnswer, int]:
        """A live WHEP view of the camera, only while a call within its owner's rules is open."""

        def check() -> tuple[IntegratedCamera, int]:
            with Session(self._engine) as session:
                camera = get_row(session, IntegratedCamera, camera_id)
                return camera, _live_call(camera, _open_calls(session))

        camera, call_id = await asyncio.to_thread(check)
        answer = await self._video.watch(
            f"camera-{camera_id}",
            camera.stream_url,
            offer_sdp,
            actor.name,
            actor.role,
            token_id,
            actor.address,
        )
        self._live.setdefault(camera_id, set()).add(answer.session_id)
        await self._audit(
            actor,
            "POST",
            f"/api/v1/integrated-cameras/{camera_id}/live/whep",
            201,
            "cameras.live_view",
            f"integrated camera {camera_id} live, session {answer.session_id}, for call {call_id}",
        )
        return answer, call_id

    async def unplug(self, *, token: str | None, camera_id: int | None, actor: Actor) -> int:
        """End the camera's sharing (its owner's link, or an admin): live views end now."""

        def run() -> int:
            with Session(self._engine) as session:
                if token is not None:
                    camera = None
                    if well_formed_link_token(token):
                        camera = session.exec(
                            select(IntegratedCamera).where(
                                IntegratedCamera.unplug_hash == hash_link_token(token)
                            )
                        ).first()
                    if camera is None:
                        raise LinkRefusedError("the unplug link is not valid")
                else:
                    camera = get_row(session, IntegratedCamera, camera_id or 0)
                if camera.unplugged_at is None:
                    camera.unplugged_at = utcnow()
                    camera.unplugged_by = actor.name[:200]
                    session.add(camera)
                    session.commit()
                return camera.id or 0

        unplugged = await asyncio.to_thread(run)
        for session_id in self._live.pop(unplugged, set()):
            with contextlib.suppress(SessionUnknownError):
                await self._video.sessions.end(session_id, f"unplugged by {actor.name}")
        await self._audit(
            actor,
            "POST",
            "/api/v1/public/integrated-camera/unplug"
            if token is not None
            else f"/api/v1/integrated-cameras/{unplugged}/unplug",
            200,
            "cameras.unplugged",
            f"integrated camera {unplugged} unplugged; its live views ended",
        )
        return unplugged

    async def _audit(
        self, actor: Actor, method: str, path: str, status: int, action: str, detail: str
    ) -> None:
        await audit_camera_event(self._engine, actor, method, path, status, action, detail)


CLOSED_LIFECYCLES = (CallLifecycle.CLEARED, CallLifecycle.CANCELLED)


def _open_calls(session: Session) -> list[Call]:
    return list(
        session.exec(select(Call).where(col(Call.lifecycle).not_in(CLOSED_LIFECYCLES))).all()
    )


def _live_call(camera: IntegratedCamera, open_calls: list[Call]) -> int:
    """The call allowing live view of the camera now; LinkRefusedError saying why none does."""
    if camera.unplugged_at is not None:
        raise LinkRefusedError("the owner unplugged this camera: no live view")
    if not camera.live_allowed:
        raise LinkRefusedError("the owner does not allow live view of this camera")
    here = CameraSpec(camera.lat, camera.lon, None, None, False, ())
    qualifying = [
        c
        for c in open_calls
        if c.priority <= camera.max_priority
        and c.cad_status.lower() not in ("closed", "cancelled")
        and coverage(here, GeoPoint(c.lat, c.lon)).distance_m <= camera.radius_m
    ]
    if not qualifying:
        raise LinkRefusedError(
            f"no open call of priority {camera.max_priority} or more urgent within "
            f"{camera.radius_m:g} m: the owner allows live view only then"
        )
    call = min(qualifying, key=lambda c: (c.priority, -(c.id or 0)))
    return call.id or 0


def _integrated_public(row: IntegratedCamera) -> IntegratedCameraPublic:
    return IntegratedCameraPublic.model_validate(row, from_attributes=True)
