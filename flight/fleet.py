"""`FleetLink`: every drone of the agency on one asyncio loop, each link supervised in one TaskGroup."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator
from types import TracebackType
from typing import Self

from flight.clock import Clock, SystemClock
from flight.errors import FlightError, UnknownVehicleError
from flight.mavlink_link import LinkConfig, MavlinkVehicleLink
from flight.models import LinkState, VehicleEvent, VehicleId, VehicleState

logger = logging.getLogger(__name__)


class _StateFanIn:
    """Latest state per vehicle for one fleet-wide subscriber."""

    __slots__ = ("event", "pending")

    def __init__(self) -> None:
        self.pending: dict[VehicleId, VehicleState] = {}
        self.event = asyncio.Event()


class FleetLink:
    """Links to many vehicles in one process.

    Use as an async context manager; `add_vehicle` may be called while it runs. Each vehicle's
    `run()` is supervised: an unexpected crash is logged and the link restarted with backoff.
    """

    def __init__(self, *, config: LinkConfig | None = None, clock: Clock | None = None) -> None:
        self._config = config or LinkConfig()
        self._clock: Clock = clock or SystemClock()
        self._links: dict[VehicleId, MavlinkVehicleLink] = {}
        self._tasks: dict[VehicleId, asyncio.Task[None]] = {}
        self._tg: asyncio.TaskGroup | None = None
        self._state_subs: set[_StateFanIn] = set()
        self._event_subs: set[asyncio.Queue[VehicleEvent]] = set()

    async def __aenter__(self) -> Self:
        self._tg = asyncio.TaskGroup()
        await self._tg.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for link in self._links.values():
            link.close()
        for task in self._tasks.values():
            task.cancel()
        tg, self._tg = self._tg, None
        if tg is not None:
            await tg.__aexit__(exc_type, exc, tb)

    def add_vehicle(
        self,
        vehicle_id: VehicleId,
        url: str,
        sysid: int | None = None,
        config: LinkConfig | None = None,
    ) -> MavlinkVehicleLink:
        """Start a link to a vehicle; raises UnsupportedConnectionError for a bad URL."""
        if self._tg is None:
            raise FlightError("FleetLink is not running (use `async with FleetLink(...)`)")
        if vehicle_id in self._links:
            raise FlightError(f"vehicle {vehicle_id!r} is already in the fleet")
        link = MavlinkVehicleLink(
            vehicle_id, url, sysid=sysid, config=config or self._config, clock=self._clock
        )
        link.add_listener(self._on_state, self._on_event)
        self._links[vehicle_id] = link
        self._tasks[vehicle_id] = self._tg.create_task(self._supervise(link))
        return link

    async def remove_vehicle(self, vehicle_id: VehicleId) -> None:
        """Close a vehicle's link and forget it."""
        link = self._links.pop(vehicle_id, None)
        if link is None:
            raise UnknownVehicleError(vehicle_id)
        link.close()
        task = self._tasks.pop(vehicle_id)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    async def _supervise(self, link: MavlinkVehicleLink) -> None:
        backoff_s = 1.0
        while True:
            try:
                await link.run()
                return
            except Exception:
                logger.exception(
                    "link %s crashed; restarting",
                    link.vehicle_id,
                    extra={"vehicle_id": link.vehicle_id},
                )
                link.reopen()
                await self._clock.sleep(backoff_s)
                backoff_s = min(backoff_s * 2, 30.0)

    def vehicle(self, vehicle_id: VehicleId) -> MavlinkVehicleLink:
        """The link to one vehicle; raises UnknownVehicleError."""
        try:
            return self._links[vehicle_id]
        except KeyError:
            raise UnknownVehicleError(vehicle_id) from None

    def vehicle_ids(self) -> list[VehicleId]:
        """Ids of all vehicles in the fleet."""
        return list(self._links)

    def snapshot(self) -> dict[VehicleId, VehicleState]:
        """Latest state of every vehicle."""
        return {vid: link.state() for vid, link in self._links.items()}

    def connected_count(self) -> int:
        """Vehicles whose link is connected or degraded (for readiness checks)."""
        ok = (LinkState.CONNECTED, LinkState.DEGRADED)
        return sum(1 for link in self._links.values() if link.link_state in ok)

    def _on_state(self, state: VehicleState) -> None:
        for sub in self._state_subs:
            sub.pending[state.vehicle_id] = state
            sub.event.set()

    def _on_event(self, event: VehicleEvent) -> None:
        for q in self._event_subs:
            if q.full():
                q.get_nowait()
            q.put_nowait(event)

    async def states(self) -> AsyncGenerator[VehicleState, None]:
        """States of all vehicles (latest per vehicle; a slow reader skips, never lags)."""
        sub = _StateFanIn()
        self._state_subs.add(sub)
        try:
            for link in self._links.values():
                sub.pending[link.vehicle_id] = link.state()
            sub.event.set()
            while True:
                await sub.event.wait()
                sub.event.clear()
                batch, sub.pending = sub.pending, {}
                for state in batch.values():
                    yield state
        finally:
            self._state_subs.discard(sub)

    async def events(self) -> AsyncGenerator[VehicleEvent, None]:
        """Events of all vehicles (bounded; a stalled reader drops the oldest)."""
        q: asyncio.Queue[VehicleEvent] = asyncio.Queue(maxsize=5000)
        self._event_subs.add(q)
        try:
            while True:
                yield await q.get()
        finally:
            self._event_subs.discard(q)
