"""In-process fan-out of stream messages to many subscribers, none of which can slow the others.

`Hub.publish` is synchronous and never awaits: it serialises the message once and offers the text to
every subscriber's bounded pending table. States (every type but `alert`) are merged per key, so a
reader that falls behind gets the newest state of each drone, call or flight rather than a backlog;
alerts keep their order, and when the table is full the oldest alert goes first. A table full of
distinct states cannot drop one without leaving the reader with a stale thing forever, so it is
cleared and the reader's next batch is a fresh snapshot instead (counted as a resync).

A subscription yields batches (lists of serialised envelopes); the first is always one snapshot
message holding the latest message per key plus the most recent alerts. Batches are at most one per
`batch_interval_s`, which bounds the per-client send rate whatever the publish rate.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Self

from telemetry.errors import InvalidMessageError, SubscriberLimitError, SubscriptionClosedError
from telemetry.models import SNAPSHOT_KEY, STREAM_VERSION, StreamMessage

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class SubscriberStats:
    """Counters of one subscriber, for status pages and the benchmark."""

    name: str
    pending: int
    delivered: int
    coalesced: int
    dropped: int
    resyncs: int


class HubSubscription:
    """One reader's bounded view of the stream; iterate it for batches, close it when done."""

    def __init__(self, hub: Hub, name: str) -> None:
        self._hub = hub
        self.name = name
        self._pending: dict[str, str] = {}
        self._event_keys: deque[str] = deque()
        self._seq = itertools.count()
        self._wake = asyncio.Event()
        self._needs_snapshot = True
        self._closed = False
        self._last_batch_at: float | None = None
        self.delivered = 0
        self.coalesced = 0
        self.dropped = 0
        self.resyncs = 0

    @property
    def closed(self) -> bool:
        """True once released."""
        return self._closed

    def stats(self) -> SubscriberStats:
        """The counters now."""
        return SubscriberStats(
            name=self.name,
            pending=len(self._pending),
            delivered=self.delivered,
            coalesced=self.coalesced,
            dropped=self.dropped,
            resyncs=self.resyncs,
        )

    def _offer(self, key: str, text: str, is_event: bool) -> None:
        if self._closed or self._needs_snapshot:
            # A pending snapshot is built when read, from the hub's latest states: nothing to queue.
            return
        pending = self._pending
        if not is_event and key in pending:
            pending[key] = text  # keeps its place in line: a busy drone cannot starve the others
            self.coalesced += 1
            return
        if len(pending) >= self._hub.queue_size:
            if self._event_keys:
                del pending[self._event_keys.popleft()]
                self.dropped += 1
            else:
                self._resync()
                return
        if is_event:
            key = f"{key}#{next(self._seq)}"
            self._event_keys.append(key)
        pending[key] = text
        self._wake.set()

    def _resync(self) -> None:
        self.dropped += len(self._pending) + 1
        self.resyncs += 1
        self._pending.clear()
        self._event_keys.clear()
        self._needs_snapshot = True
        self._wake.set()

    def _take(self, limit: int) -> list[str]:
        pending = self._pending
        if len(pending) <= limit:
            batch = list(pending.values())
            pending.clear()
            self._event_keys.clear()
            return batch
        keys = list(itertools.islice(pending, limit))
        batch = []
        for key in keys:
            batch.append(pending.pop(key))
            if "#" in key:
                self._event_keys.popleft()
        return batch

    async def next_batch(self) -> list[str]:
        """The next serialised envelopes (the first call: one snapshot); waits until there are some."""
        hub = self._hub
        while True:
            if self._closed:
                raise SubscriptionClosedError(f"subscription {self.name!r} is closed")
            if self._needs_snapshot:
                self._needs_snapshot = False
                self._last_batch_at = hub.monotonic()
                self.delivered += 1
                return [hub.snapshot_text()]
            if self._pending:
                if self._last_batch_at is not None and hub.batch_interval_s > 0:
                    wait_s = self._last_batch_at + hub.batch_interval_s - hub.monotonic()
                    if wait_s > 0:
                        await hub.sleep(wait_s)
                        continue  # a resync or close may have happened meanwhile
                batch = self._take(hub.max_batch)
                self._last_batch_at = hub.monotonic()
                self.delivered += len(batch)
                return batch
            self._wake.clear()
            await self._wake.wait()

    def close(self) -> None:
        """Release the subscription (idempotent); a waiting reader ends."""
        if self._closed:
            return
        self._closed = True
        self._pending.clear()
        self._event_keys.clear()
        self._hub._release(self)
        self._wake.set()

    async def __aiter__(self) -> AsyncIterator[list[str]]:
        try:
            while True:
                yield await self.next_batch()
        except SubscriptionClosedError:
            return
        finally:
            self.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()


class Hub:
    """Latest state per key, recent alerts, and the subscribers they are offered to."""

    def __init__(
        self,
        *,
        queue_size: int = 256,
        max_subscribers: int = 1000,
        recent_events: int = 50,
        batch_interval_s: float = 0.02,
        max_batch: int = 2000,
        now: Callable[[], datetime] = _utcnow,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if queue_size < 1 or max_subscribers < 1 or recent_events < 0 or max_batch < 1:
            raise ValueError("queue_size, max_subscribers and max_batch must be positive")
        if batch_interval_s < 0:
            raise ValueError("batch_interval_s must not be negative")
        self.queue_size = queue_size
        self.max_subscribers = max_subscribers
        self.batch_interval_s = batch_interval_s
        self.max_batch = max_batch
        self.now = now
        self.monotonic = monotonic
        self.sleep = sleep
        self._latest: dict[str, str] = {}
        self._recent_events: deque[str] = deque(maxlen=recent_events)
        self._subscribers: dict[int, HubSubscription] = {}
        self.published = 0

    @property
    def subscriber_count(self) -> int:
        """How many subscriptions are open."""
        return len(self._subscribers)

    def publish(self, message: StreamMessage) -> None:
        """Offer `message` to every subscriber without waiting for any (call on the loop thread)."""
        if message.type == "snapshot":
            raise InvalidMessageError("snapshots are made by the hub, not published", field="type")
        text = message.to_json()
        is_event = message.is_event
        if is_event:
            self._recent_events.append(text)
        else:
            self._latest[message.key] = text
        self.published += 1
        for subscriber in self._subscribers.values():
            subscriber._offer(message.key, text, is_event)

    def forget(self, key: str) -> None:
        """Drop `key`'s latest state from future snapshots (a finished call or flight)."""
        self._latest.pop(key, None)

    def latest(self, key: str) -> str | None:
        """The serialised latest state of `key`, if any."""
        return self._latest.get(key)

    def snapshot_text(self) -> str:
        """The serialised snapshot message: every latest state, then the recent alerts."""
        parts = ",".join(itertools.chain(self._latest.values(), self._recent_events))
        return (
            f'{{"v":{STREAM_VERSION},"type":"snapshot","at":"{_iso(self.now())}",'
            f'"key":"{SNAPSHOT_KEY}","data":{{"messages":[{parts}]}}}}'
        )

    def subscribe(self, name: str = "") -> HubSubscription:
        """A new subscription, starting with a snapshot; raises SubscriberLimitError when full."""
        if len(self._subscribers) >= self.max_subscribers:
            raise SubscriberLimitError(self.max_subscribers)
        subscription = HubSubscription(self, name or f"subscriber-{len(self._subscribers) + 1}")
        self._subscribers[id(subscription)] = subscription
        return subscription

    def stats(self) -> list[SubscriberStats]:
        """The counters of every open subscription."""
        return [s.stats() for s in self._subscribers.values()]

    def close(self) -> None:
        """Release every subscription (at shutdown): their readers end."""
        for subscription in list(self._subscribers.values()):
            subscription.close()

    def _release(self, subscription: HubSubscription) -> None:
        self._subscribers.pop(id(subscription), None)
