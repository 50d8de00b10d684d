"""Raw pymavlink protocol tests: the simulated drone answers like PX4 on the edge cases."""

from __future__ import annotations

import math
import struct

import pytest
from pymavlink.dialects.v20 import common as M  # noqa: N812

from simulator.vehicle import FlightMode, SimFleet, custom_mode

from .conftest import HOME, RawClient

pytestmark = [pytest.mark.sim, pytest.mark.timeout(120)]
Sim = tuple[SimFleet, RawClient]


def _wp(
    seq: int,
    dlat: float,
    dlon: float,
    alt: float = 20.0,
    cmd: int = 16,
    frame: int = 6,
    mission_type: int = 0,
) -> object:
    return M.MAVLink_mission_item_int_message(
        1,
        1,
        seq,
        frame,
        cmd,
        0,
        1,
        0.0,
        2.0,
        0.0,
        math.nan,
        int((HOME[0] + dlat) * 1e7),
        int((HOME[1] + dlon) * 1e7),
        alt,
        mission_type,
    )


async def upload(rc: RawClient, items: list[object], mission_type: int = 0) -> int:
    """Upload like MAVSDK: answer a non-INT request with MISSION_ACK UNSUPPORTED, send only ITEM_INT."""
    rc.send(M.MAVLink_mission_count_message(1, 1, len(items), mission_type))
    while True:
        m = await rc.wait_for(
            "ANY",
            lambda m: m.get_type() in ("MISSION_REQUEST", "MISSION_REQUEST_INT", "MISSION_ACK"),
        )
        if m.get_type() == "MISSION_ACK":
            return int(m.type)
        assert m.mission_type == mission_type
        if m.get_type() == "MISSION_REQUEST":
            rc.send(M.MAVLink_mission_ack_message(1, 1, 3, mission_type))
        else:
            rc.send(items[m.seq])


async def test_heartbeat_encodes_px4_identity_and_hold_mode(sim: Sim) -> None:
    _, rc = sim
    hb = await rc.wait_for("HEARTBEAT", lambda m: m.get_srcComponent() == 1)
    assert (hb.type, hb.autopilot, hb.mavlink_version) == (2, 12, 3)
    assert hb.custom_mode == 0x03040000 == custom_mode(FlightMode.LOITER)
    assert hb.base_mode == 29
    assert hb.system_status == 3
    assert hb.get_srcSystem() == 1 and hb.get_header().mlen > 0
    assert custom_mode(FlightMode.MISSION) == 67371008 and custom_mode(FlightMode.RTL) == 84148224


async def test_first_request_after_boot_is_non_int_then_int_after_unsupported_ack(sim: Sim) -> None:
    _, rc = sim
    assert await upload(rc, [_wp(0, 0.001, 0.0), _wp(1, 0.002, 0.0)]) == 0
    # second upload on the same link: INT from the start
    rc.send(M.MAVLink_mission_count_message(1, 1, 1, 0))
    req = await rc.wait_for("MISSION_REQUEST_INT", lambda r: r.seq == 0)
    rc.send(_wp(0, 0.001, 0.001))
    assert (await rc.wait_for("MISSION_ACK")).type == 0
    assert req.mission_type == 0


async def test_lost_item_is_re_requested_after_retry_timeout(sim: Sim) -> None:
    fleet, rc = sim
    rc.int_mode = True  # type: ignore[attr-defined]
    rc.send(M.MAVLink_mission_count_message(1, 1, 2, 0))
    await rc.wait_for("MISSION_REQUEST", lambda r: r.seq == 0)
    rc.send(M.MAVLink_mission_ack_message(1, 1, 3, 0))
    await rc.wait_for("MISSION_REQUEST_INT", lambda r: r.seq == 0)
    # we "lose" the item: the vehicle asks again for seq 0
    again = await rc.wait_for("MISSION_REQUEST_INT", lambda r: r.seq == 0)
    assert again.seq == 0
    rc.send(_wp(0, 0.001, 0.0))
    await rc.wait_for("MISSION_REQUEST_INT", lambda r: r.seq == 1)
    rc.send(_wp(1, 0.002, 0.0))
    assert (await rc.wait_for("MISSION_ACK")).type == 0
    assert len(fleet.drone(0).plans.mission) == 2


async def test_item_with_bad_sequence_is_ignored_and_expected_item_re_requested(sim: Sim) -> None:
    fleet, rc = sim
    rc.int_mode = True  # type: ignore[attr-defined]
    rc.send(M.MAVLink_mission_item_int_message(1, 1, 0, 6, 16, 0, 1, 0, 0, 0, 0, 1, 1, 10.0, 0))
    ack = await rc.wait_for("MISSION_ACK")
    assert ack.type == 1  # no transfer in progress -> ERROR
    rc.send(M.MAVLink_mission_count_message(1, 1, 2, 0))
    # PX4 switched this link to INT mode when it received MISSION_ITEM_INT
    await rc.wait_for("MISSION_REQUEST_INT", lambda r: r.seq == 0)
    rc.send(_wp(1, 0.002, 0.0))  # out of sequence
    req = await rc.wait_for("MISSION_REQUEST_INT")
    assert req.seq == 0
    assert fleet.drone(0).plans.mission == []


@pytest.mark.parametrize(
    ("item", "mission_type", "result"),
    [
        (
            _wp(0, 0.0, 0.0, cmd=5001, frame=5, mission_type=1),
            1,
            1,
        ),  # polygon vertex count 0 < 3 -> ERROR
        (_wp(0, 0.0, 0.0, cmd=31337), 0, 3),  # unknown command -> UNSUPPORTED
        (_wp(0, 0.0, 0.0, frame=1), 0, 2),  # local NED frame -> UNSUPPORTED_FRAME
        (_wp(0, 0.0, 0.0, alt=math.nan), 0, 12),  # NaN altitude -> INVALID_PARAM7
        (_wp(0, 0.0, 0.0, cmd=5001, frame=5), 0, 1),  # fence vertex in a mission upload -> ERROR
    ],
)
async def test_refused_item_gets_px4_mission_result_and_changes_nothing(
    sim: Sim, item: object, mission_type: int, result: int
) -> None:
    fleet, rc = sim
    assert await upload(rc, [item], mission_type) == result
    d = fleet.drone(0)
    assert d.plans.mission == [] and d.plans.fence == []


async def test_fence_polygon_with_two_vertices_is_refused(sim: Sim) -> None:
    fleet, rc = sim
    vertices = [
        M.MAVLink_mission_item_int_message(
            1,
            1,
            i,
            5,
            5001,
            0,
            1,
            2.0,
            0,
            0,
            0,
            int((HOME[0] + i * 1e-3) * 1e7),
            int(HOME[1] * 1e7),
            0.0,
            1,
        )
        for i in range(2)
    ]
    assert await upload(rc, vertices, 1) == 1
    assert fleet.drone(0).plans.fence == []


async def test_too_many_items_is_no_space(sim: Sim) -> None:
    _, rc = sim
    rc.send(M.MAVLink_mission_count_message(1, 1, 9, 2))
    assert (await rc.wait_for("MISSION_ACK")).type == 4


async def test_download_returns_uploaded_fence_as_item_int_with_type(sim: Sim) -> None:
    _, rc = sim
    circle = M.MAVLink_mission_item_int_message(
        1, 1, 0, 5, 5003, 0, 1, 150.0, 0, 0, 0, int(HOME[0] * 1e7), int(HOME[1] * 1e7), 0.0, 1
    )
    assert await upload(rc, [circle], 1) == 0
    rc.send(M.MAVLink_mission_request_list_message(1, 1, 1))
    count = await rc.wait_for("MISSION_COUNT")
    assert (count.count, count.mission_type) == (1, 1)
    rc.send(M.MAVLink_mission_request_int_message(1, 1, 0, 1))
    item = await rc.wait_for("MISSION_ITEM_INT")
    assert (item.command, item.param1, item.mission_type) == (5003, 150.0, 1)
    rc.send(M.MAVLink_mission_ack_message(1, 1, 0, 1))
    rc.send(M.MAVLink_mission_clear_all_message(1, 1, 255))
    assert (await rc.wait_for("MISSION_ACK")).type == 0


async def test_a_mission_start_refused_after_an_upload_says_why_and_is_then_accepted(
    sim: Sim,
) -> None:
    fleet, rc = sim
    rc.heartbeat()
    assert await upload(rc, [_wp(0, 0.0005, 0.0), _wp(1, 0.001, 0.0)]) == 0
    # Refused (as PX4 words it) only until the commander's next check, 0.1 s of vehicle time.
    for _ in range(200):
        ack = await rc.command(300, 0, 1)
        if ack.result == 0:
            break
        assert ack.result == 2
        await rc.wait_for("STATUSTEXT", lambda m: "Mission start denied" in m.text)
    assert ack.result == 0
    hb = await rc.wait_for(
        "HEARTBEAT", lambda m: m.get_srcComponent() == 1 and m.base_mode & 128, clear=True
    )
    assert hb.custom_mode == custom_mode(FlightMode.MISSION)
    cur = await rc.wait_for("MISSION_CURRENT", lambda m: m.mission_state == 3)
    assert cur.total == 2 and cur.mission_mode == 1


async def test_arming_refused_without_gcs_link_when_dll_action_set(sim: Sim) -> None:
    fleet, rc = sim
    value = struct.unpack("<f", struct.pack("<i", 2))[0]
    rc.send(M.MAVLink_param_set_message(1, 1, b"NAV_DLL_ACT", value, 6))
    pv = await rc.wait_for("PARAM_VALUE", lambda m: m.param_id == "NAV_DLL_ACT")
    assert struct.unpack("<i", struct.pack("<f", pv.param_value))[0] == 2
    ack = await rc.command(400, 1)
    assert ack.result == 1  # TEMPORARILY_REJECTED
    text = await rc.wait_for("STATUSTEXT", lambda m: "GCS" in m.text)
    assert text.severity == 2 and text.text.endswith("\t")
    assert not fleet.drone(0).armed
    rc.heartbeat()
    assert (await rc.command(400, 1)).result == 0
    assert fleet.drone(0).armed


async def test_do_pause_continue_and_unknown_commands_are_unsupported(sim: Sim) -> None:
    _, rc = sim
    assert (await rc.command(193, 0)).result == 3
    assert (await rc.command(31000, 1)).result == 3


async def test_do_set_mode_unknown_auto_sub_mode_denied_and_rtl_on_ground_accepted(
    sim: Sim,
) -> None:
    _, rc = sim
    assert (await rc.command(176, 1, 4, 42)).result == 2
    assert (await rc.command(176, 1, 4, 5)).result == 0
    hb = await rc.wait_for(
        "HEARTBEAT",
        lambda m: m.get_srcComponent() == 1 and m.custom_mode == custom_mode(FlightMode.RTL),
    )
    assert hb.base_mode & 1


async def test_garbage_broken_frames_and_mavlink1_never_stop_the_link(sim: Sim) -> None:
    fleet, rc = sim
    rc.send_raw(b"\x00\xff garbage \xfd\x09")
    good = M.MAVLink_command_long_message(1, 1, 193, 0, 0, 0, 0, 0, 0, 0, 0).pack(rc.mav)
    rc.send_raw(good[:-3])  # truncated
    rc.send_raw(good[:-2] + bytes([good[-2] ^ 0xFF, good[-1]]))  # wrong CRC
    rc.send_raw(
        b"\xfd\x05\x00\x00\x01\xff\xbe\x39\x30\x00" + b"\x01" * 5 + b"\x00\x00"
    )  # unknown msg id
    v1 = M.MAVLink(None, 255, 190)
    rc.send_raw(
        M.MAVLink_command_long_message(1, 1, 193, 0, 0, 0, 0, 0, 0, 0, 0).pack(
            v1, force_mavlink1=True
        )
    )
    ack = await rc.wait_for("COMMAND_ACK", lambda m: m.command == 193)
    assert ack.result == 3
    assert fleet.drone(0).stats()["rx_errors"] >= 1
    assert (await rc.command(512, 148)).result == 0
    version = await rc.wait_for("AUTOPILOT_VERSION")
    assert version.capabilities & 4 and version.capabilities & 8


async def test_set_message_interval_and_request_message(sim: Sim) -> None:
    _, rc = sim
    assert (await rc.command(511, 245, -1)).result == 0
    assert (await rc.command(511, 9999, 1e6)).result == 4
    assert (await rc.command(512, 242)).result == 0
    home = await rc.wait_for("HOME_POSITION")
    assert abs(home.latitude / 1e7 - HOME[0]) < 1e-6


async def test_camera_component_answers_video_stream_information(sim: Sim) -> None:
    fleet, rc = sim
    ack = await rc.command(512, 269, 0, target_comp=100)
    assert ack.result == 0 and ack.get_srcComponent() == 100
    info = await rc.wait_for("VIDEO_STREAM_INFORMATION")
    assert info.type == 1 and info.uri == str(fleet.drone(0).cfg.video_port)
    assert (await rc.command(512, 259, target_comp=100)).result == 0
    cam = await rc.wait_for("CAMERA_INFORMATION")
    assert cam.flags & 256


async def test_timesync_request_is_answered_with_the_vehicle_time_and_the_echoed_ts1(
    sim: Sim,
) -> None:
    _, rc = sim
    rc.send(M.MAVLink_timesync_message(0, 123_456_789))
    reply = await rc.wait_for("TIMESYNC", lambda m: m.ts1 == 123_456_789)
    assert reply.tc1 > 0
