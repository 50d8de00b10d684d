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

Mirrors (`add_mirror`) see every local publish and forget, already serialised, so another process
can be told; what comes back from elsewhere enters through `publish_text` / `forget(mirror=False)`,
which reach subscribers, the latest states and the recent alerts alike but no mirror, so a message
is never sent back where it came from.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol, Self

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


class HubMirror(Protocol):
    """Told of every local publish and forget of a hub (on the loop thread; must not block or raise)."""

    def mirror_publish(self, key: str, text: str, is_event: bool) -> None:
        """`text` (the serialised message about `key`) was published here."""

    def mirror_forget(self, key: str) -> None:
        """`key` was forgotten here."""


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
        # Latest text per alert key, oldest first: an alert published again (resolved,
        # acknowledged) replaces its earlier version in snapshots and moves to the end.
        self._recent_events: OrderedDict[str, str] = OrderedDict()
        self._recent_limit = recent_events
        self._subscribers: dict[int, HubSubscription] = {}
        self._mirrors: list[HubMirror] = []
        self.published = 0
        self.injected = 0

    @property
    def subscriber_count(self) -> int:
        """How many subscriptions are open."""
        return len(self._subscribers)

    def publish(self, message: StreamMessage) -> None:
        """Offer `message` to every subscriber without waiting for any (call on the loop thread)."""
        if message.type == "snapshot":
            raise InvalidMessageError("snapshots are made by the hub, not published", field="type")
        text = message.to_json()
        key = message.key
        is_event = message.is_event
        self._offer(key, text, is_event)
        self.published += 1
        for mirror in self._mirrors:
            try:
                mirror.mirror_publish(key, text, is_event)
            except Exception:
                # A failing mirror loses its copy; the local stream must go on regardless.
                log.exception("hub mirror %r failed on publish of %s", mirror, key)

    def publish_text(self, key: str, text: str, is_event: bool) -> None:
        """Offer an already serialised message from elsewhere like `publish` does, but to no mirror."""
        if key == SNAPSHOT_KEY or not key:
            raise InvalidMessageError(f"no message may have the key {key!r}", field="key")
        if not (text.startswith("{") and text.endswith("}")):
            # The text is spliced verbatim into every snapshot: a non-object would break them all.
            raise InvalidMessageError("a serialised message is a JSON object", field="text")
        self._offer(key, text, is_event)
        self.injected += 1

    def _offer(self, key: str, text: str, is_event: bool) -> None:
        if is_event:
            recent = self._recent_events
            recent.pop(key, None)
            recent[key] = text
            while len(recent) > self._recent_limit:
                recent.popitem(last=False)
        else:
            self._latest[key] = text
        for subscriber in self._subscribers.values():
            subscriber._offer(key, text, is_event)

    def forget(self, key: str, *, mirror: bool = True) -> None:
        """Drop `key`'s latest state from future snapshots; `mirror=False` (from elsewhere) tells no mirror."""
        self._latest.pop(key, None)
        if not mirror:
            return
        for each_mirror in self._mirrors:
            try:
                each_mirror.mirror_forget(key)
            except Exception:
                log.exception("hub mirror %r failed on forget of %s", each_mirror, key)

    def add_mirror(self, mirror: HubMirror) -> None:
        """Tell `mirror` of every later local publish and forget, until `remove_mirror`."""
        self._mirrors.append(mirror)

    def remove_mirror(self, mirror: HubMirror) -> None:
        """Stop telling `mirror` (idempotent)."""
        self._mirrors = [m for m in self._mirrors if m is not mirror]

    def latest(self, key: str) -> str | None:
        """The serialised latest state of `key`, if any."""
        return self._latest.get(key)

    def recent_event(self, key: str) -> str | None:
        """The serialised latest version of a recent alert, if it is still among them."""
        return self._recent_events.get(key)

    def recent_events(self) -> list[str]:
        """The serialised recent alerts (latest version of each), oldest first."""
        return list(self._recent_events.values())

    def snapshot_text(self) -> str:
        """The serialised snapshot message: every latest state, then the recent alerts."""
        parts = ",".join(itertools.chain(self._latest.values(), self._recent_events.values()))
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
