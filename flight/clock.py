"""Injected time for the flight package, so simulations can run faster than real time."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """Wall time for timestamps, monotonic time and sleep for protocol timers."""

    def now(self) -> datetime:
        """Timezone-aware UTC time."""
        ...

    def monotonic(self) -> float:
        """Seconds on a monotonic scale (vehicle time when sped up)."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Sleep `seconds` of this clock's time."""
        ...


class SystemClock:
    """Real time, optionally sped up by `speed` (vehicle seconds per real second)."""

    def __init__(self, speed: float = 1.0) -> None:
        if not speed > 0:
            raise ValueError("clock speed must be positive")
        self.speed = speed
        self._t0_mono = time.monotonic()
        self._t0_wall = datetime.now(UTC)

    def now(self) -> datetime:
        """UTC time, advancing `speed` times faster than real time."""
        return self._t0_wall + timedelta(seconds=self.monotonic())

    def monotonic(self) -> float:
        """Scaled monotonic seconds since this clock was made."""
        return (time.monotonic() - self._t0_mono) * self.speed

    async def sleep(self, seconds: float) -> None:
        """Sleep `seconds / speed` real seconds."""
        await asyncio.sleep(max(0.0, seconds) / self.speed)
