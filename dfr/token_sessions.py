"""Open sessions follow their token: WebSockets and WHEP viewers end when it is revoked or expires.

Each instance keeps its open sessions by token id and, every `check_interval_s`, asks the shared
database about those tokens in one query (whatever the number of clients), so a revocation made
on any instance, or an expiry, ends them within `check_interval_s` plus one query. A revocation
made on this instance ends them at once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from dfr.loop_calls import call_on_loop
from dfr.models import ApiToken, utcnow
from dfr.tokens import token_ended
from lifecycle import TaskOwner

log = logging.getLogger(__name__)

#: Ends one session, given the reason shown to its client.
SessionEnder = Callable[[str], Awaitable[None]]
#: How often open sessions' tokens are checked: a revocation elsewhere ends them within ~this.
CHECK_INTERVAL_S = 0.5
REASONS = {"revoked": "the token was revoked", "expired": "the token expired"}


@dataclass(eq=False, slots=True)
class OpenSession:
    """One session held open under a token."""

    token_id: int
    kind: str
    end: SessionEnder = field(repr=False)


class TokenSessions(TaskOwner):
    """The open sessions of this instance by token, ended when their token stops authenticating."""

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
        self._by_token: dict[int, set[OpenSession]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self.ended = 0

    async def _start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._spawn(self._check_forever(), name="token-sessions")

    def open(self, token_id: int, kind: str, end: SessionEnder) -> OpenSession:
        """Hold a session under `token_id`; `end(reason)` is awaited when the token ends."""
        session = OpenSession(token_id, kind, end)
        self._by_token.setdefault(token_id, set()).add(session)
        return session

    def close(self, session: OpenSession) -> None:
        """Forget a session that ended on its own."""
        sessions = self._by_token.get(session.token_id)
        if sessions is not None:
            sessions.discard(session)
            if not sessions:
                del self._by_token[session.token_id]

    def count(self, token_id: int | None = None) -> int:
        """Open sessions (of one token, or all)."""
        if token_id is not None:
            return len(self._by_token.get(token_id, ()))
        return sum(len(s) for s in self._by_token.values())

    def end_token(self, token_id: int, why: str) -> None:
        """End every session of `token_id` now; callable from any thread (`why`: revoked, expired)."""
        if self._loop is not None:
            call_on_loop(self._loop, self._end_token, token_id, why)

    def _end_token(self, token_id: int, why: str) -> None:
        sessions = self._by_token.pop(token_id, set())
        reason = REASONS.get(why, why)
        for session in sessions:
            if self.running:
                self._spawn(self._end(session, reason), name=f"end-{session.kind}")

    async def _end(self, session: OpenSession, reason: str) -> None:
        self.ended += 1
        try:
            await session.end(reason)
        except Exception:
            log.exception("could not end a %s session of token %s", session.kind, session.token_id)

    async def _check_forever(self) -> None:
        while True:
            await asyncio.sleep(self._check_interval_s)
            try:
                await self.check_once()
            except Exception:
                # The database may be briefly away; the next round asks again.
                log.warning("could not check open sessions' tokens", exc_info=True)

    async def check_once(self) -> int:
        """Ask the database about every token with open sessions; end those no longer valid."""
        token_ids = set(self._by_token)
        if not token_ids:
            return 0
        ended = await asyncio.to_thread(self._ended_tokens, token_ids)
        for token_id, why in ended.items():
            self._end_token(token_id, why)
        return len(ended)

    def _ended_tokens(self, token_ids: set[int]) -> dict[int, str]:
        now = self._now()
        with Session(self._engine) as session:
            rows = session.exec(select(ApiToken).where(col(ApiToken.id).in_(token_ids))).all()
        found = {row.id: token_ended(row, now) for row in rows}
        # A token deleted outright is as good as revoked.
        return {t: found.get(t) or "revoked" for t in token_ids if t not in found or found[t]}
