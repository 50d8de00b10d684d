"""A manual clock for unit tests of time-dependent flight logic."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class ManualClock:
    """Time moves only when a test calls `advance`."""

    def __init__(self) -> None:
        self.t = 0.0
        self.t0 = datetime(2026, 1, 1, tzinfo=UTC)

    def now(self) -> datetime:
        return self.t0 + timedelta(seconds=self.t)

    def monotonic(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        self.t += seconds

    def advance(self, seconds: float) -> None:
        self.t += seconds
