"""`LinkKeeper`: which drones' MAVLink links this instance holds, kept by leases and balanced.

Every `renew_interval_s` (wall seconds) the keeper records its heartbeat, renews its leases, lets go
of the links whose lease it lost, and evens out: with N live instances and M drones each holds at
most ceil(M / N), taking free or expired drone leases first (a dead instance's drones, flying ones
first) and giving back idle drones above its share. It also holds the singleton leases (`outbox`,
`recovery`) when they are free, so exactly one instance delivers to CAD and recovers calls.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import math
import time
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from dfr.cluster.leases import (
    DRONE_RESOURCE_PREFIX,
    OUTBOX_RESOURCE,
    RECOVERY_RESOURCE,
    LeaseStore,
    drone_resource,
)
from flight import Fence, NotLinkHolderError
from lifecycle import TaskOwner

log = logging.getLogger(__name__)
_T = TypeVar("_T")

SINGLETONS = (OUTBOX_RESOURCE, RECOVERY_RESOURCE)
#: A lease is trusted locally only this long before its stored expiry (wall clocks differ a little).
SAFETY_MARGIN_S = 0.5


class HeldLeases:
    """The leases this instance holds, as it reckons them (read by the outbox and recovery)."""

    def __init__(self) -> None:
        self.tokens: dict[str, int] = {}  # resource -> token
        self.valid_until: float = -math.inf  # monotonic; every held lease is renewed together

    def holds(self, resource: str) -> bool:
        """This instance holds `resource` now (no database round trip)."""
        return resource in self.tokens and time.monotonic() < self.valid_until


@dataclass(frozen=True, slots=True)
class DroneLinks:
    """The drones the keeper shares out, and what gaining or losing one's lease does."""

    #: Every drone id of the fleet (blocking: run in a worker thread).
    drone_ids: Callable[[], Sequence[str]]
    #: The drone is flying here (not given back to even the share out).
    busy: Callable[[str], bool]
    open_link: Callable[[str, Fence], Awaitable[None]]
    close_link: Callable[[str], Awaitable[None]]


class LinkKeeper(TaskOwner):
    """Holds this instance's share of drone links and the singleton leases."""

    def __init__(
        self,
        *,
        store: LeaseStore,
        held: HeldLeases,
        links: DroneLinks,
        renew_interval_s: float,
        bus_kind: str,
        sole: bool = False,
        on_takeover: Callable[[], None] = lambda: None,
    ) -> None:
        super().__init__()
        self._store = store
        self._links = links
        self._interval_s = renew_interval_s
        self._ttl_s = store.ttl.total_seconds()
        self._bus_kind = bus_kind
        self._sole = sole
        self._on_takeover = on_takeover
        self._leases = held
        self._held = held.tokens
        self.takeovers = 0
        # Leases on their own thread: renewals must not wait behind a burst of dispatch work on
        # the shared worker threads, or a busy instance would lose its drones to a quiet one.
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lease-keeper")

    async def _db(self, work: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
        """Run blocking lease work on the keeper's thread."""
        call = functools.partial(work, *args, **kwargs)
        return await asyncio.get_running_loop().run_in_executor(self._thread, call)

    def held_drones(self) -> list[str]:
        """Ids of the drones whose links this instance holds."""
        n = len(DRONE_RESOURCE_PREFIX)
        return sorted(r[n:] for r in self._held if r.startswith(DRONE_RESOURCE_PREFIX))

    def fence_for(self, drone_id: str) -> Fence:
        """The fencing check of one drone's link (see flight.Fence)."""
        resource = drone_resource(drone_id)

        async def fence(operation: str) -> None:
            token = self._held.get(resource)
            if token is None or not self._leases.holds(resource):
                raise NotLinkHolderError(drone_id, operation)
            if not await self._db(self._store.holds, resource, token, _now()):
                raise NotLinkHolderError(drone_id, operation)

        return fence

    async def _start(self) -> None:
        await self._db(self._store.started, _now(), self._bus_kind, sole=self._sole)
        await self.pass_once()
        self._spawn(self._keep())

    async def _stop(self) -> None:
        for resource in list(self._held):
            if resource.startswith(DRONE_RESOURCE_PREFIX):
                await self._drop(resource, release=False)
        self._held.clear()
        try:
            await self._db(self._store.stopped, _now())
        except Exception:  # the database may be gone at shutdown; the leases expire anyway
            log.exception("could not release leases at stop")
        self._thread.shutdown(wait=False)

    async def _keep(self) -> None:
        while True:
            await asyncio.sleep(self._interval_s)
            try:
                await self.pass_once()
            except Exception:
                # The database may be away for a moment: the leases expire on their own, and
                # the fences refuse commands once the local reckoning runs out.
                log.exception("lease pass failed")

    async def pass_once(self) -> None:
        """One round: heartbeat, renew, let go of lost links, balance, take free singletons."""
        store = self._store
        started = time.monotonic()
        await self._db(store.heartbeat, _now(), self._bus_kind)
        kept = await self._db(store.renew, dict(self._held), _now())
        self._leases.valid_until = started + self._ttl_s - SAFETY_MARGIN_S
        for resource in [r for r in self._held if r not in kept]:
            log.warning("lost the lease on %s", resource)
            await self._drop(resource, release=False)
        await self._balance()
        for resource in SINGLETONS:
            if resource not in self._held:
                await self._take(resource)

    async def _balance(self) -> None:
        store = self._store
        now = _now()
        live = await self._db(store.live_instances, now)
        drones = set(await self._db(self._links.drone_ids))
        share = math.ceil(len(drones) / max(1, len(live)))
        mine = self.held_drones()
        for drone_id in mine:
            if drone_id not in drones:  # removed from the fleet
                await self._drop(drone_resource(drone_id), release=True)
        mine = [d for d in mine if d in drones]
        if len(mine) > share:
            idle = [d for d in mine if not self._links.busy(d)]
            for drone_id in idle[: len(mine) - share]:
                log.info("giving back %s (share %d of %d drones)", drone_id, share, len(drones))
                await self._drop(drone_resource(drone_id), release=True)
            return
        if len(mine) >= share:
            return
        leases = {row.resource: row for row in await self._db(store.leases, "drone:")}

        def free(drone_id: str) -> bool:
            row = leases.get(drone_resource(drone_id))
            return row is None or row.holder is None or row.expires_at <= now

        # A dead instance's drones first (their flights wait for a holder), then never-held ones.
        candidates = sorted(
            (d for d in drones if d not in mine and free(d)),
            key=lambda d: (leases.get(drone_resource(d)) is None, d),
        )
        for drone_id in candidates[: share - len(mine)]:
            await self._take(drone_resource(drone_id))

    async def _take(self, resource: str) -> None:
        store = self._store
        previous = {r.resource: r for r in await self._db(store.leases, resource)}
        token = await self._db(store.acquire, resource, _now())
        if token is None:
            return
        self._held[resource] = token
        before = previous.get(resource)
        if before is not None and before.holder not in (None, store.instance_id):
            self.takeovers += 1
            self._on_takeover()
            log.warning("took over %s from %s (token %d)", resource, before.holder, token)
        else:
            log.info("holding %s (token %d)", resource, token)
        if resource.startswith(DRONE_RESOURCE_PREFIX):
            drone_id = resource[len(DRONE_RESOURCE_PREFIX) :]
            try:
                await self._links.open_link(drone_id, self.fence_for(drone_id))
            except Exception:
                log.exception("could not open the link to %s; giving the lease back", drone_id)
                await self._drop(resource, release=True)

    async def _drop(self, resource: str, *, release: bool) -> None:
        token = self._held.pop(resource, None)
        if resource.startswith(DRONE_RESOURCE_PREFIX):
            drone_id = resource[len(DRONE_RESOURCE_PREFIX) :]
            try:
                await self._links.close_link(drone_id)
            except Exception:
                log.exception("closing the link to %s failed", drone_id)
        if release and token is not None:
            await self._db(self._store.release, resource, token, _now())


def _now() -> datetime:
    return datetime.now(UTC)
