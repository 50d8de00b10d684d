"""`FleetLink`: every drone of the agency on one asyncio loop, each link supervised in one TaskGroup."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator
from typing import Any

from flight.clock import Clock, SystemClock
from flight.errors import FlightError, UnknownVehicleError
from flight.fanout import VehicleFanOut
from flight.link_context import Fence, no_fence
from flight.mavlink_link import LinkConfig, MavlinkVehicleLink
from flight.models import LinkState, VehicleEvent, VehicleId, VehicleState
from lifecycle import TaskOwner

logger = logging.getLogger(__name__)


class FleetLink(TaskOwner):
    """Links to many vehicles in one process.

    Use as an async context manager; `add_vehicle` may be called while it runs. Each vehicle's
    `run()` is supervised: an unexpected crash is logged and the link restarted with backoff.
    """

    def __init__(self, *, config: LinkConfig | None = None, clock: Clock | None = None) -> None:
        super().__init__()
        self._config = config or LinkConfig()
        self._clock: Clock = clock or SystemClock()
        self._links: dict[VehicleId, MavlinkVehicleLink] = {}
        self._supervisors: dict[VehicleId, asyncio.Task[None]] = {}
        self._fanout = VehicleFanOut(events_maxsize=5000)

    async def __aexit__(self, *exc_info: Any) -> None:
        for link in self._links.values():
            link.close()
        for task in list(self._tasks):
            task.cancel()
        # Unlike TaskOwner's exit, the group is told how the block ended and what it raises is
        # not suppressed: an error in the block or of a supervisor surfaces from the fleet's exit.
        tg, self._tg = self._tg, None
        try:
            if tg is not None:
                await tg.__aexit__(*exc_info)
        finally:
            await self._stop()

    def add_vehicle(
        self,
        vehicle_id: VehicleId,
        url: str,
        sysid: int | None = None,
        config: LinkConfig | None = None,
        fence: Fence = no_fence,
    ) -> MavlinkVehicleLink:
        """Start a link to a vehicle; raises UnsupportedConnectionError for a bad URL.

        `fence` is awaited before every command, parameter write and mission change sent to the
        vehicle; with several service instances it checks this one still holds the link's lease.
        """
        if not self.running:
            raise FlightError("FleetLink is not running (use `async with FleetLink(...)`)")
        if vehicle_id in self._links:
            raise FlightError(f"vehicle {vehicle_id!r} is already in the fleet")
        link = MavlinkVehicleLink(
            vehicle_id,
            url,
            sysid=sysid,
            config=config or self._config,
            clock=self._clock,
            fence=fence,
        )
        link.add_listener(self._fanout.publish_state, self._fanout.publish_event)
        self._links[vehicle_id] = link
        self._supervisors[vehicle_id] = self._spawn(self._supervise(link))
        return link

    async def remove_vehicle(self, vehicle_id: VehicleId) -> None:
        """Close a vehicle's link and forget it."""
        link = self._links.pop(vehicle_id, None)
        if link is None:
            raise UnknownVehicleError(vehicle_id)
        link.close()
        task = self._supervisors.pop(vehicle_id)
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

    def states(self) -> AsyncGenerator[VehicleState, None]:
        """States of all vehicles (latest per vehicle; a slow reader skips, never lags)."""
        return self._fanout.states(lambda: [link.state() for link in self._links.values()])

    def events(self) -> AsyncGenerator[VehicleEvent, None]:
        """Events of all vehicles (bounded; a stalled reader drops the oldest)."""
        return self._fanout.events()
