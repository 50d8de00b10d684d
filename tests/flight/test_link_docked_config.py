"""What a docked vehicle already holds is not sent again at launch: failsafe parameters confirmed
at connect, fence and rally points verified earlier on the connection (the same shapes in any order)."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

from flight.mavlink_link import LinkConfig, MavlinkVehicleLink
from flight.mission_items import MavCmd, MavFrame, MissionItem, MissionType
from flight.mission_transfer import plan_content
from flight.models import LinkState
from tests.flight.px4_peer import Px4Peer, _i2f
from tests.flight.test_mavlink_link import fence_box, wait_for, waypoints


def sent(peer: Px4Peer, type_: str, mtype: int | None = None) -> list[Any]:
    return [
        m
        for m in peer.received
        if m.get_type() == type_ and (mtype is None or getattr(m, "mission_type", 0) == mtype)
    ]


async def test_failsafe_parameters_are_confirmed_at_connect_and_not_written_at_arm(
    link: MavlinkVehicleLink, peer: Px4Peer
) -> None:
    await wait_for(lambda: link._params.safety_confirmed)
    sets_at_connect = len(sent(peer, "PARAM_SET"))
    assert sets_at_connect == len(LinkConfig().safety.params())
    ack = await link.arm()
    assert ack.result == 0 and peer.armed
    assert len(sent(peer, "PARAM_SET")) == sets_at_connect


async def test_a_failsafe_parameter_changed_by_another_station_is_written_again_before_arming(
    link: MavlinkVehicleLink, peer: Px4Peer
) -> None:
    await wait_for(lambda: link._params.safety_confirmed)
    # PX4 announces a parameter someone set on every link.
    peer.params["NAV_DLL_ACT"] = (_i2f(0), 6)
    peer.send(peer.mav.param_value_encode(b"NAV_DLL_ACT", _i2f(0), 6, 1, 0))
    await wait_for(lambda: not link._params.safety_confirmed)
    before = len(sent(peer, "PARAM_SET"))
    await link.arm()
    assert len(sent(peer, "PARAM_SET")) > before
    assert peer.params["NAV_DLL_ACT"][0] == _i2f(2)


async def test_a_fence_already_verified_is_only_counted_and_a_new_one_uploaded(
    link: MavlinkVehicleLink, peer: Px4Peer
) -> None:
    fence = MissionType.FENCE.value
    await link.upload_fence(fence_box())
    assert len(sent(peer, "MISSION_COUNT", fence)) == 1
    downloads = len(sent(peer, "MISSION_REQUEST_LIST", fence))

    await link.upload_fence(fence_box())  # the same fence: counted, not sent
    assert len(sent(peer, "MISSION_COUNT", fence)) == 1
    assert len(sent(peer, "MISSION_REQUEST_LIST", fence)) == downloads + 1

    other = fence_box()
    other[0] = dataclasses.replace(other[0], x=other[0].x + 10)
    await link.upload_fence(other)  # another fence: sent and verified
    assert len(sent(peer, "MISSION_COUNT", fence)) == 2


async def test_a_fence_asked_for_while_the_same_one_is_being_sent_is_sent_once(
    link: MavlinkVehicleLink, peer: Px4Peer
) -> None:
    # The fence put on at connect is still being verified when a launch asks for the same one.
    await asyncio.gather(link.upload_fence(fence_box()), link.upload_fence(fence_box()))
    assert len(sent(peer, "MISSION_COUNT", MissionType.FENCE.value)) == 1


async def test_after_a_link_loss_the_fence_is_sent_again(
    link: MavlinkVehicleLink, peer: Px4Peer
) -> None:
    fence = MissionType.FENCE.value
    await link.upload_fence(fence_box())
    link._cfg = LinkConfig(lost_after_s=0.6, degraded_after_s=0.3)
    peer.heartbeat = False
    await wait_for(lambda: link.link_state == LinkState.LOST)
    peer.heartbeat = True
    await wait_for(lambda: link.link_state == LinkState.CONNECTED)
    await link.upload_fence(fence_box())
    assert len(sent(peer, "MISSION_COUNT", fence)) == 2


async def test_the_mission_itself_is_always_sent(link: MavlinkVehicleLink, peer: Px4Peer) -> None:
    for _ in range(2):
        await link.upload_mission(waypoints(3))
    assert len(sent(peer, "MISSION_COUNT", MissionType.MISSION.value)) == 2


def test_the_same_fence_shapes_in_another_order_are_the_same_fence() -> None:
    vertices = 3

    def poly(lat0: int) -> list[MissionItem]:
        return [
            MissionItem(
                command=MavCmd.NAV_FENCE_POLYGON_VERTEX_EXCLUSION,
                frame=MavFrame.GLOBAL_INT,
                param1=float(vertices),
                x=lat0 + 1000 * k,
                y=85430000 + 700 * k * k,
                mission_type=MissionType.FENCE,
            )
            for k in range(vertices)
        ]

    a, b = poly(473960000), poly(473990000)
    assert plan_content(a + b, MissionType.FENCE) == plan_content(b + a, MissionType.FENCE)
    assert plan_content(a + b, MissionType.FENCE) != plan_content(a + a, MissionType.FENCE)
