"""A stalled process is not a lost link: the link counts silence only while it runs (x5 clock)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from flight.clock import SystemClock
from flight.mavlink_link import LinkConfig, MavlinkVehicleLink
from flight.models import LinkState, VehicleEvent, VehicleEventKind, VehicleId
from tests.conftest import free_udp_ports
from tests.flight.px4_peer import Px4Peer

SPEEDUP = 5.0


@pytest.fixture
async def fast_link(peer: Px4Peer) -> AsyncIterator[tuple[MavlinkVehicleLink, list[str]]]:
    (port,) = free_udp_ports(1)
    link = MavlinkVehicleLink(
        VehicleId("d1"), f"udpin://127.0.0.1:{port}", clock=SystemClock(speed=SPEEDUP)
    )
    changes: list[str] = []

    def on_event(event: VehicleEvent) -> None:
        if event.kind == VehicleEventKind.LINK:
            changes.append(str(event.extra.get("state")))

    async with link:
        link.add_listener(lambda _: None, on_event)
        await peer.start(("127.0.0.1", port))
        await link.wait_connected(timeout_s=10.0)
        yield link, changes


async def until(link: MavlinkVehicleLink, state: LinkState) -> None:
    async with asyncio.timeout(5):
        while link.link_state != state:  # noqa: ASYNC110
            await asyncio.sleep(0.02)


async def test_a_one_second_stall_of_the_process_at_x5_is_not_a_lost_link(
    fast_link: tuple[MavlinkVehicleLink, list[str]],
) -> None:
    link, changes = fast_link
    await asyncio.sleep(0.3)
    time.sleep(1.0)  # noqa: ASYNC251 - the stall under test: nothing in this loop runs meanwhile
    await asyncio.sleep(0.5)
    assert "lost" not in changes, changes
    assert link.link_state == LinkState.CONNECTED


async def test_a_real_silence_is_a_lost_link_and_its_end_a_connected_one(
    fast_link: tuple[MavlinkVehicleLink, list[str]], peer: Px4Peer
) -> None:
    link, changes = fast_link
    peer.heartbeat = False
    await until(link, LinkState.LOST)
    peer.heartbeat = True
    await until(link, LinkState.CONNECTED)
    assert changes[-2:] == ["lost", "connected"], changes


async def test_with_a_wall_time_floor_a_short_real_silence_at_x5_is_not_a_lost_link(
    peer: Px4Peer,
) -> None:
    (port,) = free_udp_ports(1)
    # 3.5 vehicle seconds is 0.7 s of wall time at x5; the floor asks for 1.5 s of it as well.
    config = LinkConfig(lost_after_wall_s=1.5, prepare_at_connect=False)
    link = MavlinkVehicleLink(
        VehicleId("d1"),
        f"udpin://127.0.0.1:{port}",
        clock=SystemClock(speed=SPEEDUP),
        config=config,
    )
    async with link:
        await peer.start(("127.0.0.1", port))
        await link.wait_connected(timeout_s=10.0)
        peer.heartbeat = False  # a vehicle process stalled for 1 s: 5 s of vehicle time
        await asyncio.sleep(1.0)
        assert link.link_state != LinkState.LOST
        peer.heartbeat = True
        await until(link, LinkState.CONNECTED)
        peer.heartbeat = False  # a real cut: longer than the floor
        await until(link, LinkState.LOST)
