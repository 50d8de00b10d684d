"""Failed authentication: throttled per client address, and audited as one summary row per address.

After `max_failures` refused credentials from one address within `window_s`, every request from
it that needs a token is answered 429 (with Retry-After) until the oldest failure leaves the
window. Only presented credentials count toward the throttle (a request without a token guesses
nothing); every 401 counts toward the audit summary. The counts live in this instance's memory:
behind a balancer over N instances an address gets up to N times the limit, which still bounds a
guessing rate far below anything useful against a 256-bit token.

Refusals are never written one row per request, so anonymous traffic cannot flood the audit log:
each address gets at most one row per `summary_interval_s` with its counts.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy.engine import Engine

from dfr.audit import record_audit
from lifecycle import TaskOwner

log = logging.getLogger(__name__)

MAX_FAILURES = 10
WINDOW_S = 60.0
SUMMARY_INTERVAL_S = 60.0
#: Addresses tracked at most (a spoofing flood cannot grow memory without bound).
MAX_ADDRESSES = 10_000
#: Paths named in a summary row at most.
MAX_PATHS = 5


@dataclass(slots=True)
class _Tally:
    failed: int = 0
    presented: int = 0
    throttled: int = 0
    paths: dict[str, int] = field(default_factory=dict)


class AuthGuard(TaskOwner):
    """Counts failed authentication per client address; refuses and summarises."""

    def __init__(
        self,
        engine: Engine,
        *,
        max_failures: int = MAX_FAILURES,
        window_s: float = WINDOW_S,
        summary_interval_s: float = SUMMARY_INTERVAL_S,
        max_addresses: int = MAX_ADDRESSES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self._engine = engine
        self._max_failures = max_failures
        self._window_s = window_s
        self._summary_interval_s = summary_interval_s
        self._max_addresses = max_addresses
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._tallies: dict[str, _Tally] = {}

    async def _start(self) -> None:
        self._spawn(self._summarise_forever(), name="auth-failure-summaries")

    async def _stop(self) -> None:
        await self.flush()

    def retry_after_s(self, address: str) -> int | None:
        """Seconds until `address` may try again, or None when it is not throttled."""
        failures = self._failures.get(address)
        if failures is None or len(failures) < self._max_failures:
            return None
        wait_s = failures[0] + self._window_s - self._clock()
        if wait_s <= 0:
            failures.popleft()
            return None
        return max(1, math.ceil(wait_s))

    def failed(self, address: str, *, path: str, presented: bool) -> None:
        """Note a refused authentication (`presented`: the request carried credentials)."""
        tally = self._tally(address, path)
        tally.failed += 1
        if not presented:
            return
        tally.presented += 1
        failures = self._failures.get(address)
        if failures is None:
            if len(self._failures) >= self._max_addresses:
                self._forget_quiet()
            failures = self._failures[address] = deque(maxlen=self._max_failures)
        failures.append(self._clock())

    def throttled(self, address: str, *, path: str) -> None:
        """Note a request refused with 429."""
        self._tally(address, path).throttled += 1

    def _tally(self, address: str, path: str) -> _Tally:
        tally = self._tallies.get(address)
        if tally is None:
            # Past the bound, the rest share one row: the log still says how many there were.
            key = address if len(self._tallies) < self._max_addresses else "(other addresses)"
            tally = self._tallies.setdefault(key, _Tally())
        if path in tally.paths or len(tally.paths) < MAX_PATHS:
            tally.paths[path] = tally.paths.get(path, 0) + 1
        return tally

    def _forget_quiet(self) -> None:
        cutoff = self._clock() - self._window_s
        for address in [a for a, f in self._failures.items() if not f or f[-1] < cutoff]:
            del self._failures[address]
        if len(self._failures) >= self._max_addresses:
            self._failures.clear()

    async def _summarise_forever(self) -> None:
        while True:
            await asyncio.sleep(self._summary_interval_s)
            await self.flush()

    async def flush(self) -> int:
        """Write one summary row per address with refusals since the last flush; their number."""
        tallies, self._tallies = self._tallies, {}
        if not tallies:
            return 0
        try:
            await asyncio.to_thread(self._write, tallies)
        except Exception:
            log.exception("could not write %d failed-authentication summaries", len(tallies))
        return len(tallies)

    def _write(self, tallies: dict[str, _Tally]) -> None:
        for address, tally in tallies.items():
            paths = ", ".join(f"{p} x{n}" for p, n in tally.paths.items())
            record_audit(
                self._engine,
                actor="",
                role="",
                method="AUTH",
                path="(failed authentication)",
                status_code=401 if tally.failed else 429,
                action="auth.failed",
                detail=(
                    f"{tally.failed} refused authentication(s) ({tally.presented} with a token), "
                    f"{tally.throttled} refused as throttled (429); paths: {paths}"
                ),
                client_address=address,
            )
