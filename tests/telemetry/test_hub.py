import asyncio
import contextlib
import json
from typing import Any

import pytest

from telemetry import Hub, InvalidMessageError, StreamMessage, SubscriberLimitError, call_message
from tests.telemetry.factories import T0, alert_msg, drone_msg


def _decode(batch: list[str]) -> list[dict[str, Any]]:
    return [json.loads(text) for text in batch]


async def _next(sub: Any) -> list[dict[str, Any]]:
    async with asyncio.timeout(10):
        return _decode(await sub.next_batch())


async def test_a_subscription_starts_with_a_snapshot_of_the_latest_state_per_key() -> None:
    hub = Hub(batch_interval_s=0)
    hub.publish(drone_msg("D1", step=1))
    hub.publish(drone_msg("D1", step=2))
    hub.publish(drone_msg("D2", step=1))
    hub.publish(alert_msg(1))
    async with hub.subscribe() as sub:
        [snapshot] = await _next(sub)
    assert snapshot["type"] == "snapshot" and snapshot["v"] == 1
    inner = snapshot["data"]["messages"]
    assert [m["key"] for m in inner] == ["drone:D1", "drone:D2", "alert:a1"]
    assert inner[0]["data"]["lat"] == pytest.approx(38.8339 + 2e-5)


async def test_frames_of_one_drone_coalesce_to_the_newest_for_a_reader_behind() -> None:
    hub = Hub(batch_interval_s=0)
    async with hub.subscribe() as sub:
        await _next(sub)  # snapshot
        for step in range(50):
            hub.publish(drone_msg("D1", step=step))
            hub.publish(drone_msg("D2", step=step))
        batch = await _next(sub)
        assert [m["key"] for m in batch] == ["drone:D1", "drone:D2"]
        assert batch[0]["data"]["last_seen"] == "2025-06-01T15:00:04.900000Z"
        assert sub.stats().coalesced == 98


async def test_alerts_keep_their_order_and_the_oldest_go_first_when_full() -> None:
    hub = Hub(queue_size=5, batch_interval_s=0)
    async with hub.subscribe() as sub:
        await _next(sub)
        for n in range(8):
            hub.publish(alert_msg(n))
        batch = await _next(sub)
        assert [m["data"]["text"] for m in batch] == ["#3", "#4", "#5", "#6", "#7"]
        assert sub.stats().dropped == 3


async def test_a_state_makes_room_by_dropping_the_oldest_alert() -> None:
    hub = Hub(queue_size=2, batch_interval_s=0)
    async with hub.subscribe() as sub:
        await _next(sub)
        hub.publish(alert_msg(1))
        hub.publish(alert_msg(2))
        hub.publish(drone_msg("D1"))
        assert [m["key"] for m in await _next(sub)] == ["alert:a2", "drone:D1"]


async def test_a_reader_flooded_with_distinct_states_is_resynced_with_a_snapshot() -> None:
    hub = Hub(queue_size=3, batch_interval_s=0)
    async with hub.subscribe() as sub:
        await _next(sub)
        for n in range(1, 6):
            hub.publish(call_message(n, {"priority": 1}, T0))
        [snapshot] = await _next(sub)
        assert snapshot["type"] == "snapshot"
        assert [m["key"] for m in snapshot["data"]["messages"]] == [
            f"call:{n}" for n in range(1, 6)
        ]
        assert sub.stats().resyncs == 1
        hub.publish(call_message(6, {}, T0))
        assert [m["key"] for m in await _next(sub)] == ["call:6"]


async def test_a_stalled_reader_stays_bounded_while_another_gets_every_drone() -> None:
    hub = Hub(queue_size=256, batch_interval_s=0)
    stalled = hub.subscribe("stalled")
    live = hub.subscribe("live")
    await _next(stalled)
    await _next(live)
    seen: dict[str, float] = {}
    for step in range(200):
        for d in range(100):
            hub.publish(drone_msg(f"D{d}", step=step))
        hub.publish(alert_msg(step))
        for m in await _next(live):
            if m["type"] == "drone":
                seen[m["key"]] = m["data"]["lat"]
        assert stalled.stats().pending <= 256
    assert len(seen) == 100
    assert seen["drone:D42"] == pytest.approx(38.8339 + 199e-5)
    assert stalled.stats().dropped > 0
    live.close()
    stalled.close()
    assert hub.subscriber_count == 0


async def test_batches_are_spaced_by_the_batch_interval() -> None:
    now = [100.0]
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    hub = Hub(batch_interval_s=0.05, monotonic=lambda: now[0], sleep=sleep)
    async with hub.subscribe() as sub:
        await _next(sub)
        hub.publish(drone_msg("D1", step=1))
        await _next(sub)
        assert slept == [pytest.approx(0.05)]
        now[0] += 1.0
        hub.publish(drone_msg("D1", step=2))
        await _next(sub)
        assert slept == [pytest.approx(0.05)]


async def test_publish_refuses_a_snapshot() -> None:
    hub = Hub()
    message = StreamMessage(type="snapshot", at=T0, key="snapshot", data={"messages": []})
    with pytest.raises(InvalidMessageError):
        hub.publish(message)


async def test_closing_the_hub_ends_a_waiting_reader() -> None:
    hub = Hub(batch_interval_s=0)
    sub = hub.subscribe()
    first_batch = asyncio.Event()
    batches = 0

    async def read() -> None:
        nonlocal batches
        async for _ in sub:
            batches += 1
            first_batch.set()

    async with asyncio.timeout(10), asyncio.TaskGroup() as tasks:
        tasks.create_task(read())
        await first_batch.wait()
        hub.close()
    assert batches == 1
    assert sub.closed and hub.subscriber_count == 0


async def test_leaving_the_loop_releases_the_subscription() -> None:
    hub = Hub(batch_interval_s=0)
    batches = hub.subscribe().__aiter__()
    async with contextlib.aclosing(batches):
        async for _ in batches:
            assert hub.subscriber_count == 1
            break
    assert hub.subscriber_count == 0


async def test_the_subscriber_limit_is_enforced() -> None:
    hub = Hub(max_subscribers=2)
    hub.subscribe()
    kept = hub.subscribe()
    with pytest.raises(SubscriberLimitError):
        hub.subscribe()
    kept.close()
    hub.subscribe()


async def test_forgotten_keys_leave_future_snapshots() -> None:
    hub = Hub(batch_interval_s=0)
    hub.publish(call_message(1, {}, T0))
    hub.forget("call:1")
    async with hub.subscribe() as sub:
        [snapshot] = await _next(sub)
    assert snapshot["data"]["messages"] == []
