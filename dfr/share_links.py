"""View-only live links to one call for responding officers: created, listed, revoked, opened.

A dispatcher or analyst makes a link (expiry, optional PIN, viewer limit); an officer's phone opens
it and gets a viewer key of its own, which reads only that call's scene, its drone's position and
its drone's video. Only SHA-256 hashes of link tokens and viewer keys are stored, and the PIN as a
salted scrypt hash. Wrong PINs lock the link after `MAX_PIN_FAILURES` in a row (and count toward
the failed-authentication throttle of the caller's address, as any 401 does).

Open viewer sessions (WHEP) are held under their link in `ShareSessions`: a revocation on this
instance ends them at once, and every `CHECK_INTERVAL_S` the links with open sessions are checked
in the database, so a revocation elsewhere or an expiry ends them within about that.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select

from dfr.audit import record_audit
from dfr.errors import ConflictError, GoneError, NotAuthenticatedError, NotFoundError
from dfr.loop_calls import call_on_loop
from dfr.models import Call, CallShareLink, CallShareViewer, as_utc, utcnow
from lifecycle import TaskOwner

log = logging.getLogger(__name__)

#: Both start with "dfr_", so the server's log filter redacts them from request lines.
LINK_PREFIX = "dfr_share_"
VIEWER_PREFIX = "dfr_view_"
MAX_PIN_FAILURES = 5
PIN_LOCK_S = 300
#: A viewer not heard from for this long no longer counts toward the link's viewer limit.
VIEWER_IDLE_S = 30.0
#: How often a viewer's last-seen time is written (not every poll).
SEEN_WRITE_S = 5.0
MAX_EXPIRY_S = 24 * 3600
CHECK_INTERVAL_S = 0.5
#: Audit role of a link's viewers (they hold no token of the service).
VIEWER_ROLE = "share-viewer"


def _sha256(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def hash_pin(pin: str, salt: bytes | None = None) -> str:
    """The stored form of a PIN: scrypt with a random salt (a PIN is short, so slow and salted)."""
    salt = salt if salt is not None else secrets.token_bytes(16)
    digest = hashlib.scrypt(pin.encode("utf-8"), salt=salt, n=2**14, r=8, p=1, dklen=32)
    return f"scrypt${salt.hex()}${digest.hex()}"


def pin_matches(pin: str, stored: str) -> bool:
    """Whether `pin` is the one `stored` was made from (constant-time compare)."""
    _, salt_hex, _ = stored.split("$", 2)
    return hmac.compare_digest(hash_pin(pin, bytes.fromhex(salt_hex)), stored)


# --- the API's shapes ------------------------------------------------------------------------------


class ShareCreate(BaseModel):
    """A new link: how long it lives, an optional PIN, how many phones may watch at once."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    expires_in_s: int = Field(default=2 * 3600, ge=60, le=MAX_EXPIRY_S)
    pin: str | None = Field(default=None, pattern=r"^[0-9]{4,12}$")
    max_viewers: int = Field(default=5, ge=1, le=50)
    label: str = Field(default="", max_length=200)


class ShareLinkPublic(BaseModel):
    """A link as its call lists it (never its token or PIN)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: int
    call_id: int
    label: str
    pin_required: bool
    max_viewers: int
    viewers_now: int
    opens: int
    created_by: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    revoked_by: str
    #: active | expired | revoked
    state: str


class ShareCreated(ShareLinkPublic):
    """The new link with its token and page path (shown once)."""

    token: str
    path: str


class ShareLinksPublic(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    data: list[ShareLinkPublic]
    count: int


class ShareOpen(BaseModel):
    """Opening a link: the PIN when it has one."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    pin: str | None = Field(default=None, max_length=12)


class ShareLinkInfo(BaseModel):
    """What a phone may know of a link before opening it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    pin_required: bool
    expires_at: datetime


class ShareOpened(BaseModel):
    """An opened link: the phone's own viewer key (sent as its bearer token from now on)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    viewer_key: str
    call_id: int
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class ShareViewer:
    """A viewer admitted by its key: which link, which call."""

    viewer_id: int
    link_id: int
    call_id: int
    expires_at: datetime

    @property
    def actor(self) -> str:
        """The viewer as the audit log names it."""
        return f"share-link-{self.link_id}/viewer-{self.viewer_id}"


# --- the links -------------------------------------------------------------------------------------


def _state(link: CallShareLink, now: datetime) -> str:
    if link.revoked_at is not None:
        return "revoked"
    return "expired" if as_utc(link.expires_at) <= now else "active"


def _viewers_now(session: Session, link_id: int, now: datetime) -> int:
    since = now - timedelta(seconds=VIEWER_IDLE_S)
    count = session.exec(
        select(func.count())
        .select_from(CallShareViewer)
        .where(
            CallShareViewer.link_id == link_id,
            col(CallShareViewer.closed_at).is_(None),
            col(CallShareViewer.last_seen_at) >= since,
        )
    ).one()
    return int(count)


def public(session: Session, link: CallShareLink, now: datetime) -> ShareLinkPublic:
    """The link as listed."""
    assert link.id is not None
    return ShareLinkPublic(
        id=link.id,
        call_id=link.call_id,
        label=link.label,
        pin_required=link.pin_hash is not None,
        max_viewers=link.max_viewers,
        viewers_now=_viewers_now(session, link.id, now),
        opens=link.opens,
        created_by=link.created_by,
        created_at=as_utc(link.created_at),
        expires_at=as_utc(link.expires_at),
        revoked_at=as_utc(link.revoked_at) if link.revoked_at else None,
        revoked_by=link.revoked_by,
        state=_state(link, now),
    )


def create_link(
    session: Session, call_id: int, body: ShareCreate, *, author: str, now: datetime
) -> ShareCreated:
    """Store a new link to the call (committed by the caller); its token is returned once."""
    call = session.get(Call, call_id)
    if call is None:
        raise NotFoundError("call", call_id)
    token = LINK_PREFIX + secrets.token_urlsafe(32)
    link = CallShareLink(
        call_id=call_id,
        token_hash=_sha256(token),
        label=body.label,
        pin_hash=None if body.pin is None else hash_pin(body.pin),
        max_viewers=body.max_viewers,
        created_by=author[:200],
        created_at=now,
        expires_at=now + timedelta(seconds=body.expires_in_s),
    )
    session.add(link)
    session.flush()
    listed = public(session, link, now)
    return ShareCreated(**listed.model_dump(), token=token, path=f"/share/{token}")


def list_links(session: Session, call_id: int, now: datetime) -> ShareLinksPublic:
    """The call's links, newest first."""
    if session.get(Call, call_id) is None:
        raise NotFoundError("call", call_id)
    rows = session.exec(
        select(CallShareLink)
        .where(CallShareLink.call_id == call_id)
        .order_by(col(CallShareLink.id).desc())
    ).all()
    return ShareLinksPublic(data=[public(session, r, now) for r in rows], count=len(rows))


def revoke_link(
    session: Session, call_id: int, link_id: int, *, author: str, now: datetime
) -> ShareLinkPublic:
    """Revoke the link (idempotent; committed by the caller) and close its viewers' rows."""
    link = session.get(CallShareLink, link_id)
    if link is None or link.call_id != call_id:
        raise NotFoundError("share link", link_id)
    if link.revoked_at is None:
        link.revoked_at = now
        link.revoked_by = author[:200]
        session.add(link)
        for viewer in session.exec(
            select(CallShareViewer).where(
                CallShareViewer.link_id == link_id, col(CallShareViewer.closed_at).is_(None)
            )
        ).all():
            viewer.closed_at = now
            session.add(viewer)
        session.flush()
    return public(session, link, now)


def _live_link(session: Session, token: str, now: datetime) -> CallShareLink:
    link = session.exec(
        select(CallShareLink).where(CallShareLink.token_hash == _sha256(token))
    ).first()
    if link is None:
        raise NotAuthenticatedError("this link is unknown")
    state = _state(link, now)
    if state != "active":
        raise GoneError(f"this link was {state}" if state == "revoked" else "this link expired")
    return link


def link_info(session: Session, token: str, now: datetime) -> ShareLinkInfo:
    """Whether the link needs a PIN and when it expires (GoneError when it ended)."""
    link = _live_link(session, token, now)
    return ShareLinkInfo(pin_required=link.pin_hash is not None, expires_at=as_utc(link.expires_at))


def open_link(
    engine: Engine, token: str, pin: str | None, *, address: str, now: datetime
) -> ShareOpened:
    """Admit one phone to the link: check PIN, lock and viewer limit, audit, and mint its key."""
    with Session(engine) as session:
        link = _live_link(session, token, now)
        assert link.id is not None
        if link.locked_until is not None and as_utc(link.locked_until) > now:
            wait_s = int((as_utc(link.locked_until) - now).total_seconds()) + 1
            _audit(engine, f"share-link-{link.id}", "share.open.locked", link, address, 401)
            raise NotAuthenticatedError(f"too many wrong PINs; this link is locked for {wait_s} s")
        if link.pin_hash is not None and (pin is None or not pin_matches(pin, link.pin_hash)):
            link.pin_failures += 1
            if link.pin_failures >= MAX_PIN_FAILURES:
                link.pin_failures = 0
                link.locked_until = now + timedelta(seconds=PIN_LOCK_S)
            session.add(link)
            session.commit()
            _audit(engine, f"share-link-{link.id}", "share.open.wrong_pin", link, address, 401)
            raise NotAuthenticatedError("a PIN is required" if pin is None else "wrong PIN")
        if _viewers_now(session, link.id, now) >= link.max_viewers:
            raise ConflictError(f"this link admits {link.max_viewers} viewers at once; it is full")
        key = VIEWER_PREFIX + secrets.token_urlsafe(32)
        viewer = CallShareViewer(
            link_id=link.id,
            key_hash=_sha256(key),
            opened_at=now,
            last_seen_at=now,
            client_address=address[:64],
        )
        link.pin_failures = 0
        link.locked_until = None
        link.opens += 1
        session.add(link)
        session.add(viewer)
        session.commit()
        opened = ShareOpened(
            viewer_key=key, call_id=link.call_id, expires_at=as_utc(link.expires_at)
        )
        actor = f"share-link-{link.id}/viewer-{viewer.id}"
    _audit(engine, actor, "share.open", link, address, 200)
    return opened


def _audit(
    engine: Engine, actor: str, action: str, link: CallShareLink, address: str, status: int
) -> None:
    record_audit(
        engine,
        actor=actor,
        role=VIEWER_ROLE,
        method="SHARE",
        path=f"/calls/{link.call_id}/shares/{link.id}",
        status_code=status,
        action=action,
        detail=f"link {link.id} of call {link.call_id} ({link.label})" if link.label else "",
        client_address=address,
    )


def viewer_of(session: Session, key: str, now: datetime) -> ShareViewer | None:
    """The viewer holding `key` (None when unknown; GoneError when its link ended or it closed)."""
    row = session.exec(
        select(CallShareViewer, CallShareLink)
        .join(CallShareLink, col(CallShareLink.id) == col(CallShareViewer.link_id))
        .where(CallShareViewer.key_hash == _sha256(key))
    ).first()
    if row is None:
        return None
    viewer, link = row
    state = _state(link, now)
    if state != "active":
        raise GoneError(f"this link was {state}" if state == "revoked" else "this link expired")
    if viewer.closed_at is not None:
        raise GoneError("this viewer was closed")
    if (now - as_utc(viewer.last_seen_at)).total_seconds() >= SEEN_WRITE_S:
        viewer.last_seen_at = now
        session.add(viewer)
        session.commit()
    assert viewer.id is not None and link.id is not None
    return ShareViewer(viewer.id, link.id, link.call_id, as_utc(link.expires_at))


def ended_links(engine: Engine, link_ids: set[int], now: datetime) -> set[int]:
    """Of `link_ids`, those revoked, expired or deleted."""
    with Session(engine) as session:
        rows = session.exec(select(CallShareLink).where(col(CallShareLink.id).in_(link_ids))).all()
    live = {r.id for r in rows if _state(r, now) == "active"}
    return link_ids - live


# --- open viewer sessions --------------------------------------------------------------------------

#: Ends one session, given the reason.
SessionEnder = Callable[[str], Awaitable[None]]


@dataclass(eq=False, slots=True)
class ShareSession:
    """One session (a WHEP viewer) held open under a link."""

    link_id: int
    kind: str
    end: SessionEnder = field(repr=False)
    key: str | None = None


class ShareSessions(TaskOwner):
    """This instance's open viewer sessions by link, ended when their link is revoked or expires."""

    def __init__(
        self,
        engine: Engine,
        *,
        check_interval_s: float = CHECK_INTERVAL_S,
        now: Callable[[], datetime] = utcnow,
    ) -> None:
        super().__init__()
        self._engine = engine
        self._check_interval_s = check_interval_s
        self._now = now
        self._by_link: dict[int, set[ShareSession]] = {}
        self._by_key: dict[str, ShareSession] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self.ended = 0

    async def _start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._spawn(self._check_forever(), name="share-sessions")

    def open(
        self, link_id: int, kind: str, end: SessionEnder, key: str | None = None
    ) -> ShareSession:
        """Hold a session (named `key`) under the link; `end(reason)` is awaited when the link ends."""
        held = ShareSession(link_id, kind, end, key)
        self._by_link.setdefault(link_id, set()).add(held)
        if key is not None:
            self._by_key[key] = held
        return held

    def close_key(self, key: str) -> None:
        """Forget the session named `key` (its viewer ended it)."""
        held = self._by_key.get(key)
        if held is not None:
            self.close(held)

    def close(self, held: ShareSession) -> None:
        """Forget a session that ended on its own."""
        if held.key is not None:
            self._by_key.pop(held.key, None)
        sessions = self._by_link.get(held.link_id)
        if sessions is not None:
            sessions.discard(held)
            if not sessions:
                del self._by_link[held.link_id]

    def count(self, link_id: int | None = None) -> int:
        """Open sessions (of one link, or all)."""
        if link_id is not None:
            return len(self._by_link.get(link_id, ()))
        return sum(len(s) for s in self._by_link.values())

    def end_link(self, link_id: int, reason: str) -> None:
        """End every session of the link now; callable from any thread."""
        if self._loop is not None:
            call_on_loop(self._loop, self._end_link, link_id, reason)

    def _end_link(self, link_id: int, reason: str) -> None:
        for held in self._by_link.pop(link_id, set()):
            if held.key is not None:
                self._by_key.pop(held.key, None)
            if self.running:
                self._spawn(self._end(held, reason), name=f"end-share-{held.kind}")

    async def _end(self, held: ShareSession, reason: str) -> None:
        self.ended += 1
        try:
            await held.end(reason)
        except Exception:
            log.exception("could not end a %s session of share link %s", held.kind, held.link_id)

    async def _check_forever(self) -> None:
        while True:
            await asyncio.sleep(self._check_interval_s)
            try:
                await self.check_once()
            except Exception:
                # The database may be briefly away; the next round asks again.
                log.warning("could not check open share sessions' links", exc_info=True)

    async def check_once(self) -> int:
        """Ask the database about every link with open sessions; end those that ended."""
        link_ids = set(self._by_link)
        if not link_ids:
            return 0
        ended = await asyncio.to_thread(ended_links, self._engine, link_ids, self._now())
        for link_id in ended:
            self._end_link(link_id, "the shared link ended")
        return len(ended)
