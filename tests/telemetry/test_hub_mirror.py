"""Hub mirrors see local publishes and forgets; injected messages reach readers but no mirror."""

import asyncio
import json
from typing import Any

import pytest

from telemetry import Hub, InvalidMessageError, call_message
from tests.telemetry.factories import T0, alert_msg, drone_msg


class RecordingMirror:
    """Remembers what a hub told it."""

    def __init__(self) -> None:
        self.published: list[tuple[str, str, bool]] = []
        self.forgotten: list[str] = []

    def mirror_publish(self, key: str, text: str, is_event: bool) -> None:
        self.published.append((key, text, is_event))

    def mirror_forget(self, key: str) -> None:
        self.forgotten.append(key)


class FailingMirror:
    def mirror_publish(self, key: str, text: str, is_event: bool) -> None:
        raise RuntimeError("mirror down")

    def mirror_forget(self, key: str) -> None:
        raise RuntimeError("mirror down")


async def _next(sub: Any) -> list[dict[str, Any]]:
    async with asyncio.timeout(10):
        return [json.loads(text) for text in await sub.next_batch()]


async def test_a_mirror_gets_each_local_publish_as_the_text_subscribers_get() -> None:
    hub = Hub(batch_interval_s=0)
    mirror = RecordingMirror()
    hub.add_mirror(mirror)
    state, alert = drone_msg("D1"), alert_msg(1)
    hub.publish(state)
    hub.publish(alert)
    assert mirror.published == [
        ("drone:D1", state.to_json(), False),
        ("alert:a1", alert.to_json(), True),
    ]
    assert hub.latest("drone:D1") == state.to_json()


async def test_a_mirror_is_told_of_a_local_forget_but_not_of_one_from_elsewhere() -> None:
    hub = Hub(batch_interval_s=0)
    mirror = RecordingMirror()
    hub.add_mirror(mirror)
    hub.forget("call:1")
    hub.forget("call:2", mirror=False)
    assert mirror.forgotten == ["call:1"]


async def test_an_injected_state_reaches_readers_and_snapshots_but_no_mirror() -> None:
    hub = Hub(batch_interval_s=0)
    mirror = RecordingMirror()
    hub.add_mirror(mirror)
    text = call_message(7, {"priority": 1}, T0).to_json()
    async with hub.subscribe() as sub:
        await _next(sub)  # snapshot
        hub.publish_text("call:7", text, False)
        [got] = await _next(sub)
    assert got["key"] == "call:7" and got["data"]["priority"] == 1
    assert hub.latest("call:7") == text
    assert mirror.published == []
    assert hub.injected == 1 and hub.published == 0
    async with hub.subscribe() as late:
        [snapshot] = await _next(late)
    assert [m["key"] for m in snapshot["data"]["messages"]] == ["call:7"]


async def test_injected_alerts_keep_their_order_and_join_the_recent_alerts() -> None:
    hub = Hub(batch_interval_s=0)
    async with hub.subscribe() as sub:
        await _next(sub)
        for n in range(3):
            hub.publish_text(f"alert:a{n}", alert_msg(n).to_json(), True)
        batch = await _next(sub)
    assert [m["data"]["text"] for m in batch] == ["#0", "#1", "#2"]
    assert '"#2"' in hub.snapshot_text()


async def test_publish_text_refuses_the_snapshot_key_and_a_text_that_is_no_object() -> None:
    hub = Hub()
    with pytest.raises(InvalidMessageError):
        hub.publish_text("snapshot", "{}", False)
    with pytest.raises(InvalidMessageError):
        hub.publish_text("drone:D1", "[1]", False)


async def test_a_removed_mirror_hears_nothing_more() -> None:
    hub = Hub()
    mirror = RecordingMirror()
    hub.add_mirror(mirror)
    hub.remove_mirror(mirror)
    hub.remove_mirror(mirror)
    hub.publish(drone_msg("D1"))
    assert mirror.published == []


async def test_a_failing_mirror_neither_stops_the_publish_nor_the_other_mirrors(
    caplog: pytest.LogCaptureFixture,
) -> None:
    hub = Hub(batch_interval_s=0)
    after = RecordingMirror()
    hub.add_mirror(FailingMirror())
    hub.add_mirror(after)
    hub.publish(drone_msg("D1"))
    hub.forget("drone:D1")
    assert [key for key, _, _ in after.published] == ["drone:D1"]
    assert after.forgotten == ["drone:D1"]
    assert "hub mirror" in caplog.text
