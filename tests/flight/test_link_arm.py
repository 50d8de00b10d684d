"""Arming against a PX4-like peer: our GCS heartbeat comes first, a pre-arm check that clears is waited out."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from flight.clock import SystemClock
from flight.errors import CommandRejectedError
from flight.mavlink_link import LinkConfig, MavlinkVehicleLink
from flight.models import VehicleId
from tests.conftest import free_udp_ports
from tests.flight.px4_peer import Px4Peer


def arm_commands(peer: Px4Peer) -> list[Any]:
    return [m for m in peer.received if m.get_type() == "COMMAND_LONG" and m.command == 400]


async def test_the_gcs_heartbeat_goes_out_as_soon_as_the_vehicle_is_heard(peer: Px4Peer) -> None:
    (port,) = free_udp_ports(1)
    # A heartbeat period far longer than the test: only the greeting can reach the vehicle.
    config = LinkConfig(heartbeat_period_s=600.0)
    link = MavlinkVehicleLink(
        VehicleId("d1"), f"udpin://127.0.0.1:{port}", config=config, clock=SystemClock()
    )
    async with link:
        await asyncio.sleep(0.05)  # the loop's first heartbeat goes nowhere: no vehicle yet
        await peer.start(("127.0.0.1", port))
        await link.wait_connected(timeout_s=10.0)
        async with asyncio.timeout(5):
            while peer.gcs_heartbeats == 0:  # noqa: ASYNC110
                await asyncio.sleep(0.01)
        first = next(i for i, m in enumerate(peer.received) if m.get_type() == "HEARTBEAT")
        assert first == 0, [m.get_type() for m in peer.received[:3]]


async def test_arm_refused_temporarily_is_retried_until_the_check_clears(
    link: MavlinkVehicleLink, peer: Px4Peer
) -> None:
    peer.refuse_arm_times = 2
    ack = await link._commands.arm()
    assert ack.result == 0 and peer.armed
    assert len(arm_commands(peer)) == 3


@pytest.mark.parametrize("link_config", [LinkConfig(arm_retry_window_s=0.6, arm_retry_s=0.1)])
async def test_arm_still_refused_after_the_window_fails_with_the_vehicles_reason(
    link: MavlinkVehicleLink, peer: Px4Peer
) -> None:
    peer.refuse_arm_times = 10_000
    with pytest.raises(CommandRejectedError) as info:
        await link._commands.arm()
    assert info.value.result_name == "TEMPORARILY_REJECTED"
    assert "No connection to the GCS" in str(info.value)
    assert 2 <= len(arm_commands(peer)) <= 8
    assert not peer.armed


async def test_arm_denied_is_not_retried(link: MavlinkVehicleLink, peer: Px4Peer) -> None:
    peer.command_results[400] = 2
    peer.command_texts[400] = "Arming denied: throttle not centered"
    with pytest.raises(CommandRejectedError) as info:
        await link._commands.arm()
    assert info.value.result_name == "DENIED"
    assert "throttle not centered" in str(info.value)
    assert len(arm_commands(peer)) == 1
