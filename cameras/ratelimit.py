"""A per-address sliding window: at most N actions per window from one client address."""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable

from cameras.errors import RateLimitedError


class AddressWindow:
    """Admits at most `limit` actions per `window_s` from each address (in this process)."""

    def __init__(
        self, limit: int, window_s: float, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._limit = limit
        self._window_s = window_s
        self._clock = clock
        self._seen: dict[str, deque[float]] = {}

    def take(self, address: str) -> None:
        """Count one action from `address`, or RateLimitedError when the window is full."""
        now = self._clock()
        seen = self._seen.setdefault(address, deque())
        while seen and now - seen[0] >= self._window_s:
            seen.popleft()
        if len(seen) >= self._limit:
            retry_after_s = max(1, math.ceil(self._window_s - (now - seen[0])))
            raise RateLimitedError(
                f"too many registrations from this address; retry in {retry_after_s} s",
                retry_after_s=retry_after_s,
            )
        seen.append(now)
        if len(self._seen) > 10_000:
            # Addresses whose window has emptied are forgotten, so memory stays bounded.
            for key in [k for k, v in self._seen.items() if not v or now - v[-1] >= self._window_s]:
                del self._seen[key]
