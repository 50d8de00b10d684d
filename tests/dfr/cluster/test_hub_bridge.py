"""Two instances' hubs bridged over one bus show each other's live stream, echo-free."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from typing import Any

import pytest

from dfr.cluster import HubBridge, InProcessBus, LiveBus, NatsBus, live_subject
from telemetry import Hub, HubSubscription, call_message
from tests.telemetry.factories import T0, alert_msg, drone_msg

WAIT_S = 10.0


class Instance:
    """One instance's hub and its bridge."""

    def __init__(self, hub: Hub, bridge: HubBridge) -> None:
        self.hub = hub
        self.bridge = bridge


async def _start(stack: AsyncExitStack, bus: LiveBus, name: str) -> Instance:
    hub = Hub(batch_interval_s=0)
    bridge = await stack.enter_async_context(HubBridge(hub, bus, name))
    return Instance(hub, bridge)


@pytest.fixture(params=["in-process", "nats"])
async def bus_maker(request: pytest.FixtureRequest) -> AsyncIterator[Any]:
    """Makes the bus of one more instance: all share one InProcessBus, or one NATS server each."""
    async with AsyncExitStack() as stack:
        if request.param == "in-process":
            shared = await stack.enter_async_context(InProcessBus())

            async def make(name: str) -> LiveBus:
                return shared

        else:
            url: str = request.getfixturevalue("nats_url")

            async def make(name: str) -> LiveBus:
                return await stack.enter_async_context(NatsBus(url, name=name))

        yield stack, make


@pytest.fixture
async def pair(bus_maker: Any) -> tuple[Instance, Instance]:
    """Instances A and B, bridged."""
    stack, make = bus_maker
    a = await _start(stack, await make("A"), "A")
    b = await _start(stack, await make("B"), "B")
    # B's start-up sync with A is over: what follows is the steady state.
    await eventually(lambda: a.bridge.syncs_answered == 1)
    return a, b


async def _next(sub: HubSubscription) -> list[dict[str, Any]]:
    async with asyncio.timeout(WAIT_S):
        return [json.loads(text) for text in await sub.next_batch()]


async def eventually(check: Callable[[], bool]) -> None:
    """Wait until `check()` holds (polled: a hub has no event for a change of its latest states)."""
    async with asyncio.timeout(WAIT_S):
        for _ in itertools.count():
            if check():
                return
            await asyncio.sleep(0.02)


async def _until(sub: HubSubscription, key: str) -> list[dict[str, Any]]:
    """Every message `sub` yields up to and including one about `key`."""
    seen: list[dict[str, Any]] = []
    while not any(m["key"] == key for m in seen):
        seen.extend(await _next(sub))
    return seen


def _snapshot_keys(hub: Hub) -> list[str]:
    return [m["key"] for m in json.loads(hub.snapshot_text())["data"]["messages"]]


async def test_a_state_published_on_a_reaches_a_subscriber_on_b_once_and_is_not_echoed_on_a(
    pair: tuple[Instance, Instance],
) -> None:
    a, b = pair
    async with a.hub.subscribe() as on_a, b.hub.subscribe() as on_b:
        await _next(on_a), await _next(on_b)  # snapshots
        state = drone_msg("D1", step=3)
        a.hub.publish(state)
        a.hub.publish(call_message(1, {"priority": 1}, T0))  # a marker after it
        got_on_b = await _until(on_b, "call:1")
        got_on_a = await _until(on_a, "call:1")
        a.hub.publish(call_message(2, {"priority": 1}, T0))
        later_on_b = await _until(on_b, "call:2")
        later_on_a = await _until(on_a, "call:2")
    assert [m["key"] for m in got_on_b] == ["drone:D1", "call:1"]
    assert got_on_b[0] == json.loads(state.to_json())
    assert [m["key"] for m in got_on_a] == ["drone:D1", "call:1"]
    assert [m["key"] for m in later_on_b] == [m["key"] for m in later_on_a] == ["call:2"]
    assert a.bridge.messages_out == 3 and b.bridge.messages_in == 3
    assert b.bridge.messages_out == 0 and a.bridge.messages_in == 0
    assert a.hub.published == 3 and a.hub.injected == 0 and b.hub.injected == 3


async def test_alerts_from_a_reach_b_in_their_order(pair: tuple[Instance, Instance]) -> None:
    a, b = pair
    async with b.hub.subscribe() as on_b:
        await _next(on_b)
        for n in range(20):
            a.hub.publish(alert_msg(n))
        got = await _until(on_b, "alert:a19")
    assert [m["data"]["text"] for m in got] == [f"#{n}" for n in range(20)]


async def test_a_new_subscriber_on_b_gets_a_snapshot_with_as_latest_states(
    pair: tuple[Instance, Instance],
) -> None:
    a, b = pair
    async with b.hub.subscribe() as on_b:
        await _next(on_b)
        a.hub.publish(drone_msg("D1", step=1))
        a.hub.publish(drone_msg("D1", step=2))
        b.hub.publish(drone_msg("D2"))
        a.hub.publish(alert_msg(1))
        await _until(on_b, "alert:a1")
    async with b.hub.subscribe() as late:
        [snapshot] = await _next(late)
    by_key = {m["key"]: m for m in snapshot["data"]["messages"]}
    assert sorted(by_key) == ["alert:a1", "drone:D1", "drone:D2"]
    assert snapshot["data"]["messages"][-1]["key"] == "alert:a1"  # states first, then alerts
    assert by_key["drone:D1"] == json.loads(drone_msg("D1", step=2).to_json())


async def test_a_forget_on_a_removes_the_key_from_bs_snapshots(
    pair: tuple[Instance, Instance],
) -> None:
    a, b = pair
    async with b.hub.subscribe() as on_b:
        await _next(on_b)
        a.hub.publish(call_message(1, {"priority": 1}, T0))
        a.hub.publish(call_message(2, {"priority": 2}, T0))
        await _until(on_b, "call:2")
        assert _snapshot_keys(b.hub) == ["call:1", "call:2"]
        a.hub.forget("call:1")
        a.hub.publish(drone_msg("D1"))  # a marker after the forget
        await _until(on_b, "drone:D1")
    assert _snapshot_keys(b.hub) == ["call:2", "drone:D1"]
    assert _snapshot_keys(a.hub) == ["call:2", "drone:D1"]


async def test_messages_flow_both_ways_between_three_instances(bus_maker: Any) -> None:
    stack, make = bus_maker
    instances = [await _start(stack, await make(name), name) for name in ("A", "B", "C")]
    for n, instance in enumerate(instances):
        instance.hub.publish(call_message(n + 1, {"from": n}, T0))
    await eventually(lambda: all(len(_snapshot_keys(i.hub)) == 3 for i in instances))
    for instance in instances:
        assert sorted(_snapshot_keys(instance.hub)) == ["call:1", "call:2", "call:3"]


async def test_a_bridge_that_starts_late_gets_the_states_the_others_published(
    bus_maker: Any,
) -> None:
    stack, make = bus_maker
    a = await _start(stack, await make("A"), "A")
    a.hub.publish(drone_msg("D1", step=5))
    a.hub.publish(call_message(1, {"priority": 1}, T0))
    a.hub.publish(call_message(2, {"priority": 1}, T0))
    a.hub.forget("call:2")
    b = await _start(stack, await make("B"), "B")
    await eventually(lambda: len(_snapshot_keys(b.hub)) >= 2)
    assert sorted(_snapshot_keys(b.hub)) == ["call:1", "drone:D1"]
    assert b.hub.latest("drone:D1") == drone_msg("D1", step=5).to_json()
    assert a.bridge.syncs_answered == 1


async def test_an_envelope_that_is_not_one_is_counted_and_ignored(bus_maker: Any) -> None:
    stack, make = bus_maker
    bus = await make("B")
    b = await _start(stack, bus, "B")
    sender = bus if isinstance(bus, InProcessBus) else await make("X")
    for bad in (b"not json", b"{}", b'{"o":"X","op":"p","k":"drone:D1","e":false,"t":"[1]"}'):
        sender.publish(live_subject("drone:D1"), bad)
    sender.publish(
        live_subject("call:9"),
        json.dumps(
            {"o": "X", "op": "p", "k": "call:9", "e": False, "t": call_message(9, {}, T0).to_json()}
        ).encode(),
    )
    await eventually(lambda: b.hub.latest("call:9") is not None)
    assert b.bridge.malformed == 3 and b.bridge.messages_in == 1
    assert _snapshot_keys(b.hub) == ["call:9"]


async def test_after_the_bridge_ends_the_hub_neither_sends_nor_receives(
    pair: tuple[Instance, Instance],
) -> None:
    a, b = pair
    await b.bridge.__aexit__(None, None, None)
    b.hub.publish(drone_msg("D2"))
    a.hub.publish(drone_msg("D1"))
    await asyncio.sleep(0.2)
    assert b.bridge.messages_out == 0 and b.hub.latest("drone:D1") is None
    assert a.hub.latest("drone:D2") is None


def test_live_subjects_are_per_message_type() -> None:
    assert live_subject("drone:D1") == "dfr.live.drone"
    assert live_subject("alert:a-7") == "dfr.live.alert"
