"""Fixtures for link tests: a link on a free loopback UDP port and a scripted PX4-like peer."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from flight.clock import SystemClock
from flight.mavlink_link import LinkConfig, MavlinkVehicleLink
from flight.models import VehicleId
from tests.conftest import free_udp_ports
from tests.flight.px4_peer import Px4Peer


@pytest.fixture
def link_config() -> LinkConfig:
    return LinkConfig()


@pytest.fixture
async def peer() -> AsyncIterator[Px4Peer]:
    p = Px4Peer()
    yield p
    await p.stop()


@pytest.fixture
async def link(peer: Px4Peer, link_config: LinkConfig) -> AsyncIterator[MavlinkVehicleLink]:
    (port,) = free_udp_ports(1)
    lk = MavlinkVehicleLink(
        VehicleId("d1"), f"udpin://127.0.0.1:{port}", config=link_config, clock=SystemClock()
    )
    async with lk:
        await peer.start(("127.0.0.1", port))
        await lk.wait_connected(timeout_s=10.0)
        yield lk
