"""API tokens: random secrets shown once, stored as SHA-256, and the principals they stand for.

A token has 256 bits of entropy, so a slow hash adds nothing.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import time
from dataclasses import dataclass

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from dfr.models import ApiToken, Role

TOKEN_PREFIX = "dfr_"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling."""

    token_id: int
    name: str
    role: Role


def hash_token(token: str) -> str:
    """The stored form of a token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    """A fresh random token."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def create_token(session: Session, name: str, role: Role) -> tuple[ApiToken, str]:
    """Store a new token for `name` with `role`; returns the row and the secret (shown once)."""
    secret = new_token()
    row = ApiToken(name=name, role=role, token_hash=hash_token(secret))
    session.add(row)
    session.flush()
    return row, secret


def principal_for(engine: Engine, token: str) -> Principal | None:
    """The principal owning `token`, or None when unknown or revoked."""
    with Session(engine) as session:
        row = session.exec(select(ApiToken).where(ApiToken.token_hash == hash_token(token))).first()
        if row is None or row.revoked_at is not None or row.id is None:
            return None
        return Principal(token_id=row.id, name=row.name, role=row.role)


class PrincipalCache:
    """Principals of tokens seen valid lately, so a busy CAD's posts skip a lookup each.

    An entry lives `ttl_s`; a post's own commit checks its token again, so a revoked token never
    stores a call (it is refused with 401 at its next post).
    """

    def __init__(self, engine: Engine, *, ttl_s: float = 5.0, max_entries: int = 1000) -> None:
        self._engine = engine
        self._ttl_s = ttl_s
        self._max_entries = max_entries
        self._seen: dict[str, tuple[Principal, float]] = {}

    async def principal(self, token: str, digest: str) -> Principal | None:
        """The token's principal (looked up off the event loop when not seen lately)."""
        seen = self._seen.get(digest)
        now = time.monotonic()
        if seen is not None and seen[1] > now:
            return seen[0]
        found = await asyncio.to_thread(principal_for, self._engine, token)
        if found is None:
            self._seen.pop(digest, None)
            return None
        if len(self._seen) > self._max_entries:
            self._seen.clear()
        self._seen[digest] = (found, now + self._ttl_s)
        return found

    def forget(self, digest: str) -> None:
        """Drop a token found revoked."""
        self._seen.pop(digest, None)
