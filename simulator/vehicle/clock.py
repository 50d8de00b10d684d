"""Simulation clock: one sped-up time base for physics, stream rates, timeouts and time stamps."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from .errors import SimConfigError

MIN_SPEEDUP = 1.0
MAX_SPEEDUP = 50.0


class SimClock:
    """Simulated seconds since start, running `speedup` times faster than the wall clock."""

    def __init__(self, speedup: float = 1.0, wall: Callable[[], float] = time.monotonic) -> None:
        if not (MIN_SPEEDUP <= speedup <= MAX_SPEEDUP):
            raise SimConfigError(
                f"speed-up must be within {MIN_SPEEDUP}..{MAX_SPEEDUP}, got {speedup}"
            )
        self._speedup = float(speedup)
        self._wall = wall
        self._wall_start = wall()

    @property
    def speedup(self) -> float:
        """Simulated seconds per wall-clock second."""
        return self._speedup

    def now_s(self) -> float:
        """Simulated seconds elapsed since the clock started."""
        return (self._wall() - self._wall_start) * self._speedup

    def wall_s(self, sim_s: float) -> float:
        """Wall-clock seconds that `sim_s` simulated seconds take."""
        return sim_s / self._speedup

    async def sleep(self, sim_s: float) -> None:
        """Sleep for `sim_s` simulated seconds."""
        await asyncio.sleep(max(0.0, sim_s) / self._speedup)
