"""Outbox delivery: sends stored outbound events to CAD in order per incident, at least once.

The rows live in the service's database (behind the OutboxStore protocol); this worker only
decides what to send, when, and what the answer means: delivered (2xx, 409), retry later with
exponential backoff and jitter (5xx, timeouts, refused), or dead (other 4xx).
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol

from cad_bridge.base import CadAdapter
from cad_bridge.errors import CadRejectedError, CadUnavailableError
from cad_bridge.models import OutboundEvent

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class OutboxRecord:
    """One stored outbound event."""

    id: int
    call_id: int
    attempts: int
    event: OutboundEvent


@dataclass(frozen=True, slots=True)
class Delivered:
    """CAD accepted (or already had) the row's event at `at`."""

    record_id: int
    at: datetime


class OutboxStore(Protocol):
    """Durable storage of outbound events (implemented by the service on its database)."""

    async def due(
        self, now: datetime, limit: int, delivered: Sequence[Delivered] = ()
    ) -> Sequence[OutboxRecord]:
        """Mark `delivered` rows delivered (CAD has them), then return the pending rows to send
        now: for each incident its oldest pending rows, in id order, only when the oldest is due
        (a row waiting for retry holds back the ones after it). One round trip to the store."""
        ...

    async def mark_retry(
        self, record_id: int, *, attempts: int, next_attempt_at: datetime, error: str
    ) -> None:
        """The attempt failed for a reason that may pass; try again at `next_attempt_at`."""
        ...

    async def mark_dead(self, record_id: int, *, attempts: int, error: str, at: datetime) -> None:
        """CAD refused the event; it will not be sent again."""
        ...

    async def mark_waiting(self, record_id: int, reason: str) -> None:
        """No CAD is configured for the row's agency: it stays pending, with the reason shown."""
        ...


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential backoff with jitter: base * 2^(attempt-1), capped, scaled by U(1-jitter, 1)."""

    base_s: float = 0.5
    cap_s: float = 60.0
    jitter: float = 0.5

    def delay_s(self, attempt: int, rng: random.Random) -> float:
        """Seconds to wait after the `attempt`-th failure (attempt >= 1)."""
        raw = min(self.cap_s, self.base_s * float(2 ** max(0, attempt - 1)))
        return raw * (1.0 - self.jitter * rng.random())


def _utcnow() -> datetime:
    return datetime.now(UTC)


AdapterLookup = Callable[[str], CadAdapter | None]
DeadLetterHook = Callable[[OutboxRecord, str], Awaitable[None] | None]


#: Incidents whose events are delivered at once (each incident's own events go in order).
MAX_PARALLEL_INCIDENTS = 16


@dataclass
class OutboxDelivery:
    """The delivery loop. `notify()` wakes it when new rows were written."""

    store: OutboxStore
    adapter_for: AdapterLookup
    backoff: Backoff = field(default_factory=Backoff)
    clock: Callable[[], datetime] = _utcnow
    rng: random.Random = field(default_factory=random.Random)
    poll_interval_s: float = 1.0
    batch_size: int = 200
    max_parallel_incidents: int = MAX_PARALLEL_INCIDENTS
    on_dead: DeadLetterHook | None = None
    _wake: asyncio.Event = field(default_factory=asyncio.Event, init=False)
    _stopping: bool = field(default=False, init=False)
    _delivered: list[Delivered] = field(default_factory=list, init=False)
    delivered_count: int = field(default=0, init=False)

    def notify(self) -> None:
        """New rows exist: look now instead of at the next poll."""
        self._wake.set()

    def stop(self) -> None:
        """Finish the current batch and return from run()."""
        self._stopping = True
        self._wake.set()

    async def run(self) -> None:
        """Deliver until stop() or cancellation."""
        while not self._stopping:
            # Cleared before looking, so a notify() during the look is never lost.
            self._wake.clear()
            try:
                sent = await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                # A store hiccup (database locked ...) must not end delivery for good.
                log.exception("outbox delivery pass failed; retrying after the poll interval")
                sent = 0
            if sent == 0 and not self._stopping:
                try:
                    async with asyncio.timeout(self.poll_interval_s):
                        await self._wake.wait()
                except TimeoutError:
                    pass
        await self.flush()

    async def flush(self) -> None:
        """Record the deliveries not yet written to the store."""
        if self._delivered:
            await self.store.due(self.clock(), 0, self._delivered)
            self._delivered = []

    async def run_once(self) -> int:
        """One pass over due rows; returns how many were delivered.

        The deliveries of the previous pass are recorded in the same store call that reads the
        next rows; until then a crash re-sends them, which CAD drops by idempotency key.
        """
        records = await self.store.due(self.clock(), self.batch_size, self._delivered)
        self._delivered = []
        if not records:
            return 0
        by_incident: dict[int, list[OutboxRecord]] = {}
        for record in records:
            by_incident.setdefault(record.call_id, []).append(record)
        gate = asyncio.Semaphore(self.max_parallel_incidents)
        delivered = 0

        async def one_incident(chain: list[OutboxRecord]) -> None:
            nonlocal delivered
            async with gate:
                for record in chain:
                    outcome = await self._deliver(record)
                    if outcome == "delivered":
                        delivered += 1
                    elif outcome != "dead":
                        return  # later events of this incident wait behind this one

        async with asyncio.TaskGroup() as group:
            for chain in by_incident.values():
                group.create_task(one_incident(chain))
        self.delivered_count += delivered
        return delivered

    async def _deliver(self, record: OutboxRecord) -> str:
        adapter = self.adapter_for(record.event.agency)
        if adapter is None:
            await self.store.mark_waiting(record.id, "no CAD is configured for this agency")
            return "waiting"
        attempts = record.attempts + 1
        try:
            await adapter.deliver(record.event)
        except CadRejectedError as exc:
            await self.store.mark_dead(
                record.id, attempts=attempts, error=exc.reason, at=self.clock()
            )
            log.error(
                "CAD refused event %s of incident %s: %s",
                record.event.event_id,
                record.event.cad_incident_id,
                exc.reason,
                extra={"event_id": record.event.event_id, "call_id": record.call_id},
            )
            if self.on_dead is not None:
                result = self.on_dead(record, exc.reason)
                if result is not None:
                    await result
            return "dead"
        except CadUnavailableError as exc:
            delay_s = self.backoff.delay_s(attempts, self.rng)
            await self.store.mark_retry(
                record.id,
                attempts=attempts,
                next_attempt_at=self.clock() + timedelta(seconds=delay_s),
                error=exc.reason,
            )
            log.info(
                "event %s not delivered (attempt %d, retry in %.1f s): %s",
                record.event.event_id,
                attempts,
                delay_s,
                exc.reason,
                extra={"event_id": record.event.event_id, "call_id": record.call_id},
            )
            return "retry"
        self._delivered.append(Delivered(record.id, self.clock()))
        return "delivered"
