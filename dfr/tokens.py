"""API tokens: random secrets shown once, stored as SHA-256, and the principals they stand for.

A token has 256 bits of entropy, so a slow hash adds nothing. A token may expire (`expires_at`);
an expired token is refused like a revoked one. `last_used_at` is written at most once a
minute per token, never once per request.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from dfr.audit_chain import append_audit, event_row
from dfr.models import ApiToken, Role, as_utc, utcnow

TOKEN_PREFIX = "dfr_"
#: How stale `last_used_at` may be: it is a "when was this token last seen" hint, not a log.
LAST_USED_RESOLUTION = timedelta(seconds=60)
#: A token used after this long unused starts a new session: its first use is audited.
SESSION_IDLE = timedelta(minutes=30)


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling."""

    token_id: int
    name: str
    role: Role
    #: None: the token does not expire.
    expires_at: datetime | None = None


def hash_token(token: str) -> str:
    """The stored form of a token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    """A fresh random token."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def create_token(
    session: Session, name: str, role: Role, *, expires_at: datetime | None = None
) -> tuple[ApiToken, str]:
    """Store a new token for `name` with `role`; returns the row and the secret (shown once)."""
    secret = new_token()
    row = ApiToken(name=name, role=role, token_hash=hash_token(secret), expires_at=expires_at)
    session.add(row)
    session.flush()
    return row, secret


def token_ended(row: ApiToken, now: datetime) -> str | None:
    """Why `row` no longer authenticates ("revoked", "expired"), or None while it does."""
    if row.revoked_at is not None:
        return "revoked"
    if row.expires_at is not None and as_utc(row.expires_at) <= now:
        return "expired"
    return None


def principal_for(
    engine: Engine,
    token: str,
    *,
    now: Callable[[], datetime] = utcnow,
    client_address: str = "",
) -> Principal | None:
    """The principal owning `token`, or None when unknown, revoked or expired (notes its use;
    the first use of a session, from `client_address`, is audited)."""
    at = now()
    with Session(engine) as session:
        row = session.exec(select(ApiToken).where(ApiToken.token_hash == hash_token(token))).first()
        if row is None or row.id is None or token_ended(row, at) is not None:
            return None
        principal = Principal(
            token_id=row.id,
            name=row.name,
            role=row.role,
            expires_at=None if row.expires_at is None else as_utc(row.expires_at),
        )
        last_used = row.last_used_at
        if last_used is None or as_utc(last_used) <= at - LAST_USED_RESOLUTION:
            # Compare-and-set: of several instances seeing the token at once, one writes.
            seen = (
                col(ApiToken.last_used_at).is_(None)
                if last_used is None
                else col(ApiToken.last_used_at) == last_used
            )
            noted = session.execute(
                update(ApiToken)
                .where(col(ApiToken.id) == row.id)
                .where(seen)
                .values(last_used_at=at)
            )
            starts = last_used is None or as_utc(last_used) <= at - SESSION_IDLE
            # Of instances racing, the one whose compare-and-set wrote it.
            if starts and getattr(noted, "rowcount", 0) == 1:
                idle = "never used before" if last_used is None else f"unused since {last_used}"
                first_use = event_row(
                    actor=row.name,
                    role=row.role.value,
                    action="auth.session.start",
                    target=f"token {row.id}",
                    detail=f"first use of a session ({idle})",
                    client_address=client_address,
                )
                append_audit(session.connection(), [first_use])
            session.commit()
        return principal


class PrincipalCache:
    """Principals of tokens seen valid lately, so a busy CAD's posts skip a lookup each.

    An entry lives `ttl_s` (never past the token's expiry); a post's own commit checks its token
    again, so a revoked token never stores a call (it is refused with 401 at its next post).
    Posts arriving while a token is being looked up wait for that one lookup.
    """

    def __init__(self, engine: Engine, *, ttl_s: float = 5.0, max_entries: int = 1000) -> None:
        self._engine = engine
        self._ttl_s = ttl_s
        self._max_entries = max_entries
        self._seen: dict[str, tuple[Principal, float]] = {}
        self._looking_up: dict[str, asyncio.Future[Principal | None]] = {}

    async def principal(self, token: str, digest: str) -> Principal | None:
        """The token's principal (looked up off the event loop when not seen lately)."""
        seen = self._seen.get(digest)
        if seen is not None and seen[1] > time.monotonic():
            return seen[0]
        pending = self._looking_up.get(digest)
        if pending is None:
            # Every post in flight when an entry expires would otherwise look it up at once.
            pending = asyncio.ensure_future(self._look_up(token, digest))
            self._looking_up[digest] = pending
            pending.add_done_callback(functools.partial(self._looked_up, digest))
        return await asyncio.shield(pending)

    def _looked_up(self, digest: str, done: asyncio.Future[Principal | None]) -> None:
        self._looking_up.pop(digest, None)
        if not done.cancelled():
            done.exception()  # retrieved: the posts that waited for it raised it already

    async def _look_up(self, token: str, digest: str) -> Principal | None:
        now = time.monotonic()
        found = await asyncio.to_thread(principal_for, self._engine, token)
        if found is None:
            self._seen.pop(digest, None)
            return None
        if len(self._seen) > self._max_entries:
            self._seen.clear()
        ttl_s = self._ttl_s
        if found.expires_at is not None:
            ttl_s = min(ttl_s, (found.expires_at - utcnow()).total_seconds())
        self._seen[digest] = (found, now + ttl_s)
        return found

    def forget(self, digest: str) -> None:
        """Drop a token found revoked."""
        self._seen.pop(digest, None)
