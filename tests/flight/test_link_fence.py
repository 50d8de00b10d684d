"""A link's fence: once it refuses (another instance holds the link), nothing commanding is sent."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from flight import (
    LinkConfig,
    MavlinkVehicleLink,
    MissionType,
    NotLinkHolderError,
    SystemClock,
    VehicleId,
)
from tests.conftest import free_udp_ports
from tests.flight.px4_peer import Px4Peer
from tests.flight.test_mavlink_link import fence_box, waypoints


class _Lease:
    """A fence whose lease can be lost, noting each operation it was asked about."""

    def __init__(self) -> None:
        self.held = True
        self.asked: list[str] = []

    async def __call__(self, operation: str) -> None:
        self.asked.append(operation)
        if not self.held:
            raise NotLinkHolderError("d1", operation)


COMMANDING = {"COMMAND_LONG", "COMMAND_INT", "MISSION_COUNT", "MISSION_CLEAR_ALL", "PARAM_SET"}


async def test_after_the_lease_is_lost_no_command_mission_or_parameter_reaches_the_vehicle(
    peer: Px4Peer,
) -> None:
    (port,) = free_udp_ports(1)
    lease = _Lease()
    # No failsafe parameters at connect: the lease is asked only for what the test commands.
    link = MavlinkVehicleLink(
        VehicleId("d1"),
        f"udpin://127.0.0.1:{port}",
        clock=SystemClock(),
        fence=lease,
        config=LinkConfig(prepare_at_connect=False),
    )
    async with link:
        await peer.start(("127.0.0.1", port))
        await link.wait_connected(timeout_s=10.0)
        await link.hold()  # held: sent and acknowledged
        assert lease.asked == ["hold"]
        assert [m.command for m in peer.received if m.get_type() == "COMMAND_LONG"] == [176]

        lease.held = False
        before = [m for m in peer.received if m.get_type() in COMMANDING]
        attempts: list[Callable[[], Awaitable[object]]] = [
            link.arm,
            link.disarm,
            lambda: link.upload_mission(waypoints(3)),
            lambda: link.upload_fence(fence_box()),
            lambda: link.clear_mission(MissionType.MISSION),
            lambda: link.set_param("NAV_DLL_ACT", 2),
        ]
        for attempt in attempts:
            with pytest.raises(NotLinkHolderError):
                await attempt()
        after = [m for m in peer.received if m.get_type() in COMMANDING]
        assert after == before
        # Reading is not commanding: the vehicle's state and parameters can still be read.
        assert await link.get_param("NAV_DLL_ACT") is not None
