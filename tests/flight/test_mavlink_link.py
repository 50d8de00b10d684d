"""MavlinkVehicleLink against a scripted PX4-like peer over loopback UDP."""

from __future__ import annotations

import asyncio
import contextlib
import math
import socket
from typing import Any

import pytest

from flight.errors import (
    CommandRejectedError,
    InvalidCommandError,
    LinkLostError,
    LinkTimeoutError,
    MissionTransferError,
    SafetyConfigError,
    UnsupportedConnectionError,
)
from flight.mavlink_link import LinkConfig, MavlinkVehicleLink, parse_connection_url
from flight.mission_items import MavCmd, MavFrame, MissionItem, MissionType
from flight.models import FlightMode, LandedState, LinkState, VehicleEventKind
from geofence import Altitude, AltitudeDatum, GeoPoint
from tests.flight.px4_peer import Px4Peer


def waypoints(n: int) -> list[MissionItem]:
    return [
        MissionItem(
            command=MavCmd.NAV_WAYPOINT,
            frame=MavFrame.GLOBAL_RELATIVE_ALT_INT,
            param2=2.0,
            x=473977420 + 100 * i,
            y=85455940 + 100 * i,
            z=40.0,
        )
        for i in range(n)
    ]


def fence_box(vertices: int = 4) -> list[MissionItem]:
    corners = [
        (473960000, 85430000),
        (473960000, 85480000),
        (473995000, 85480000),
        (473995000, 85430000),
    ]
    return [
        MissionItem(
            command=MavCmd.NAV_FENCE_POLYGON_VERTEX_INCLUSION,
            frame=MavFrame.GLOBAL_INT,
            param1=float(vertices),
            x=lat,
            y=lon,
            mission_type=MissionType.FENCE,
        )
        for lat, lon in corners[:vertices]
    ]


def sent(peer: Px4Peer, type_: str) -> list[Any]:
    return [m for m in peer.received if m.get_type() == type_]


async def fly(link: MavlinkVehicleLink, peer: Px4Peer) -> None:
    """Make the peer report itself armed and in the air."""
    peer.landed_state, peer.armed = 2, True
    await wait_for(lambda: link.state().landed_state == LandedState.IN_AIR and link.state().armed)


async def wait_for(cond: Any, timeout_s: float = 10.0) -> None:
    async with asyncio.timeout(timeout_s):
        while not cond():  # noqa: ASYNC110 - conditions on a peer's state have no event to await
            await asyncio.sleep(0.01)


# ---------------------------------------------------------------- URLs


@pytest.mark.parametrize(
    ("url", "scheme", "host", "port"),
    [
        ("udpin://127.0.0.1:24541", "udpin", "127.0.0.1", 24541),
        ("udpout://127.0.0.1:24580", "udpout", "127.0.0.1", 24580),
        ("tcp://localhost:5760", "tcp", "localhost", 5760),
        ("tcpout://localhost:5760", "tcp", "localhost", 5760),
    ],
)
def test_parse_connection_url_accepts_px4_forms(
    url: str, scheme: str, host: str, port: int
) -> None:
    ep = parse_connection_url(url)
    assert (ep.scheme, ep.host, ep.port) == (scheme, host, port)


@pytest.mark.parametrize(
    "url",
    [
        "serial:///dev/ttyUSB0:57600",
        "udp://127.0.0.1:1",
        "udpin://127.0.0.1",
        "udpout://0.0.0.0:24580",
        "http://x:1",
    ],
)
def test_parse_connection_url_refuses_unsupported_forms(url: str) -> None:
    with pytest.raises(UnsupportedConnectionError):
        parse_connection_url(url, "d9")


# ---------------------------------------------------------------- state and heartbeat


async def test_link_sends_gcs_heartbeat_and_decodes_state(
    link: MavlinkVehicleLink, peer: Px4Peer
) -> None:
    await wait_for(lambda: peer.gcs_heartbeats >= 1 and link.state().position is not None)
    hb = sent(peer, "HEARTBEAT")[0]
    assert (hb.type, hb.autopilot) == (6, 8)
    assert hb.get_srcSystem() == 245 and hb.get_srcComponent() == 190
    await wait_for(lambda: link.state().gps_satellites == 12)
    s = link.state()
    assert s.available and s.link == LinkState.CONNECTED
    assert s.mode == FlightMode.HOLD and not s.armed
    assert s.landed_state == LandedState.ON_GROUND
    assert s.position is not None and math.isclose(s.position.lat_deg, 47.397742)
    assert s.alt_amsl_m == pytest.approx(488.0)
    assert s.heading_deg == pytest.approx(90.0)
    assert s.ground_speed_mps == pytest.approx(5.0)
    assert s.battery_pct == 87 and s.battery_voltage_v == pytest.approx(16.2)
    assert s.gps_fix_type == 3
    assert link.sysid == 1


async def test_states_stream_yields_snapshots_and_releases_subscription(
    link: MavlinkVehicleLink,
) -> None:
    got = []
    async with asyncio.timeout(10):
        async with contextlib.aclosing(link.states()) as stream:
            async for s in stream:
                got.append(s)
                if len(got) == 3:
                    break
    assert all(s.vehicle_id == "d1" for s in got)
    assert link._fanout.state_readers == 0


# ---------------------------------------------------------------- commands


async def test_hold_is_do_set_mode_auto_loiter_not_pause_continue(
    link: MavlinkVehicleLink, peer: Px4Peer
) -> None:
    peer.custom_main, peer.custom_sub = 4, 4
    ack = await link.hold()
    assert ack.result == 0 and ack.command == "hold"
    cmds = sent(peer, "COMMAND_LONG")
    assert [c.command for c in cmds] == [176]
    assert (cmds[0].param1, cmds[0].param2, cmds[0].param3) == (1, 4, 3)
    assert all(c.command != 193 for c in cmds)


async def test_rejected_command_carries_result_and_statustext(
    link: MavlinkVehicleLink, peer: Px4Peer
) -> None:
    peer.command_results[400] = 1
    peer.command_texts[400] = "Preflight Fail: No connection to the GCS"
    with pytest.raises(CommandRejectedError) as info:
        await link._commands.command("arm", 400, (1, 0, 0, 0, 0, 0, 0))
    err = info.value
    assert err.vehicle_id == "d1" and err.command == "arm"
    assert err.result == 1 and err.result_name == "TEMPORARILY_REJECTED"
    assert "No connection to the GCS" in err.detail


async def test_unanswered_command_retries_then_times_out(
    link: MavlinkVehicleLink, peer: Px4Peer
) -> None:
    await fly(link, peer)
    peer.answer_commands = False
    with pytest.raises(LinkTimeoutError) as info:
        await link.land()
    assert info.value.operation == "land"
    lands = [c for c in sent(peer, "COMMAND_LONG") if c.command == 21]
    assert len(lands) == 4
    assert [c.confirmation for c in lands] == [0, 1, 2, 3]


async def test_goto_sends_reposition_command_int_in_amsl(
    link: MavlinkVehicleLink, peer: Px4Peer
) -> None:
    await fly(link, peer)
    await wait_for(lambda: link.state().alt_amsl_m is not None)
    await link.goto(GeoPoint(47.4, 8.55), Altitude(40.0, AltitudeDatum.TAKEOFF), speed_mps=8.0)
    cmd = sent(peer, "COMMAND_INT")[-1]
    assert cmd.command == 192 and cmd.frame == 5
    assert (cmd.x, cmd.y) == (474000000, 85500000)
    assert cmd.z == pytest.approx(
        488.0 + 40.0
    )  # home AMSL from GLOBAL_POSITION_INT alt - relative_alt
    assert cmd.param1 == 8.0 and cmd.param2 == 1.0


async def test_orbit_sends_do_orbit_and_refuses_bad_radius_before_sending(
    link: MavlinkVehicleLink, peer: Px4Peer
) -> None:
    await fly(link, peer)
    with pytest.raises(InvalidCommandError):
        await link.orbit(GeoPoint(47.4, 8.55), radius_m=1.0, speed_mps=5.0)
    with pytest.raises(InvalidCommandError):
        await link.orbit(GeoPoint(47.4, 8.55), radius_m=50.0, speed_mps=math.nan)
    assert not sent(peer, "COMMAND_INT")
    await link.orbit(GeoPoint(47.4, 8.55), radius_m=50.0, speed_mps=5.0)
    cmd = sent(peer, "COMMAND_INT")[-1]
    assert cmd.command == 34 and cmd.param1 == 50.0 and cmd.param2 == 5.0
    assert math.isnan(cmd.z)


async def test_change_speed_rtl_land_disarm_are_acknowledged(
    link: MavlinkVehicleLink, peer: Px4Peer
) -> None:
    await fly(link, peer)
    assert (await link.change_speed(7.5)).result == 0
    assert (await link.return_to_launch()).result == 0
    assert (peer.custom_main, peer.custom_sub) == (4, 5)
    assert (await link.land()).result == 0
    assert (await link.disarm()).result == 0
    cmds = [(c.command, c.param1, c.param2) for c in sent(peer, "COMMAND_LONG") if c.command != 512]
    assert cmds[0] == (178, 1.0, 7.5)
    assert cmds[1][0] == 176 and cmds[2][0] == 21 and cmds[3] == (400, 0.0, 0.0)


async def test_start_mission_retries_while_px4_denies_a_fresh_upload(
    link: MavlinkVehicleLink, peer: Px4Peer
) -> None:
    peer.deny_mission_start_times = 2
    ack = await link.start_mission()
    assert ack.result == 0
    assert (peer.custom_main, peer.custom_sub) == (4, 4)
    assert len([c for c in sent(peer, "COMMAND_LONG") if c.command == 176]) == 3


@pytest.mark.parametrize("link_config", [LinkConfig(mission_start_window_s=0.5)])
async def test_start_mission_gives_up_after_window(peer: Px4Peer, link: MavlinkVehicleLink) -> None:
    peer.deny_mission_start_times = 10_000
    with pytest.raises(CommandRejectedError) as info:
        await link.start_mission()
    assert "No valid mission" in info.value.detail


# ---------------------------------------------------------------- mission transfer


async def test_mission_upload_answers_first_non_int_request_with_unsupported(
    link: MavlinkVehicleLink, peer: Px4Peer
) -> None:
    items = waypoints(5)
    await link.upload_mission(items)
    acks = sent(peer, "MISSION_ACK")
    assert acks[0].type == 3  # UNSUPPORTED switches PX4 to MISSION_REQUEST_INT
    stored = peer.storage[0]
    assert [s.x for s in stored] == [i.x for i in items]
    assert sent(peer, "MISSION_ITEM_INT")[0].current == 1
    assert sent(peer, "MISSION_REQUEST_LIST")  # verified by download


async def test_mission_upload_survives_a_lost_item(link: MavlinkVehicleLink, peer: Px4Peer) -> None:
    peer.drop_first_request_of = {2}
    await link.upload_mission(waypoints(4))
    assert len(peer.storage[0]) == 4
    assert [m.seq for m in sent(peer, "MISSION_ITEM_INT") if m.mission_type == 0].count(2) >= 2


async def test_fence_upload_rejected_by_vehicle_raises_with_result(
    link: MavlinkVehicleLink, peer: Px4Peer
) -> None:
    with pytest.raises(MissionTransferError) as info:
        await link.upload_fence(fence_box(vertices=2))  # PX4: polygon needs >= 3 vertices
    assert info.value.result == 1 and info.value.reason == "ERROR"
    assert 1 not in peer.storage


async def test_fence_and_rally_upload_then_download_round_trip(
    link: MavlinkVehicleLink, peer: Px4Peer
) -> None:
    fence = fence_box()
    await link.upload_fence(fence)
    rally = [
        MissionItem(
            command=MavCmd.NAV_RALLY_POINT,
            x=473970000,
            y=85450000,
            z=30.0,
            mission_type=MissionType.RALLY,
        )
    ]
    await link.upload_rally(rally)
    back = await link.download_mission(MissionType.FENCE)
    assert [b.x for b in back] == [f.x for f in fence]
    assert all(b.mission_type == MissionType.FENCE for b in back)


async def test_upload_mismatch_on_download_is_an_error(
    link: MavlinkVehicleLink, peer: Px4Peer
) -> None:
    peer.mangle_download = True
    with pytest.raises(MissionTransferError) as info:
        await link.upload_mission(waypoints(2))
    assert info.value.reason == "verify"


async def test_upload_refuses_items_of_another_type_before_sending(
    link: MavlinkVehicleLink, peer: Px4Peer
) -> None:
    with pytest.raises(InvalidCommandError):
        await link.upload_mission(fence_box())
    assert not sent(peer, "MISSION_COUNT")


async def test_download_mission_for_adoption_and_clear(
    link: MavlinkVehicleLink, peer: Px4Peer
) -> None:
    items = waypoints(3)
    await link.upload_mission(items)
    got = await link.download_mission()
    assert all(a.same_on_wire(b) for a, b in zip(items, got, strict=True))
    await link.clear_mission()
    assert await link.download_mission() == []


async def test_upload_without_answer_times_out(link: MavlinkVehicleLink, peer: Px4Peer) -> None:
    peer.reject_mission_type = {}
    peer.on_message = None
    orig = peer._mission_count
    peer._mission_count = lambda msg: None  # type: ignore[method-assign]
    with pytest.raises(MissionTransferError) as info:
        await link.upload_mission(waypoints(2))
    assert info.value.reason == "timeout"
    assert len(sent(peer, "MISSION_COUNT")) == 6
    peer._mission_count = orig  # type: ignore[method-assign]


# ---------------------------------------------------------------- safety configuration and params


@pytest.mark.parametrize("link_config", [LinkConfig(prepare_at_connect=False)])
async def test_arm_sets_and_reads_back_failsafe_params_bytewise(
    link: MavlinkVehicleLink, peer: Px4Peer
) -> None:
    ack = await link.arm()
    assert ack.result == 0 and peer.armed
    arm_index = next(
        i
        for i, m in enumerate(peer.received)
        if m.get_type() == "COMMAND_LONG" and m.command == 400
    )
    last_param = max(i for i, m in enumerate(peer.received) if m.get_type() == "PARAM_REQUEST_READ")
    assert last_param < arm_index  # read back before arming
    sets = {m.param_id: m for m in sent(peer, "PARAM_SET")}
    assert set(sets) == {
        "NAV_DLL_ACT",
        "COM_DL_LOSS_T",
        "GF_ACTION",
        "RTL_RETURN_ALT",
        "COM_LOW_BAT_ACT",
    }
    assert sets["NAV_DLL_ACT"].param_type == 6
    assert await link.get_param("NAV_DLL_ACT") == 2
    assert await link.get_param("COM_DL_LOSS_T") == 10
    assert await link.get_param("RTL_RETURN_ALT") == pytest.approx(60.0)


@pytest.mark.parametrize("link_config", [LinkConfig(prepare_at_connect=False)])
async def test_vehicle_refusing_failsafe_param_is_not_armed(
    link: MavlinkVehicleLink, peer: Px4Peer
) -> None:
    peer.param_overrides = {"NAV_DLL_ACT": 0}
    with pytest.raises(SafetyConfigError) as info:
        await link.arm()
    assert info.value.param == "NAV_DLL_ACT" and info.value.got == 0
    assert not [c for c in sent(peer, "COMMAND_LONG") if c.command == 400]
    assert not peer.armed


async def test_silent_param_protocol_refuses_launch(
    link: MavlinkVehicleLink, peer: Px4Peer
) -> None:
    peer.answer_params = False
    with pytest.raises(SafetyConfigError) as info:
        await link.apply_safety_config()
    assert info.value.got is None


# ---------------------------------------------------------------- link health and bad input


async def test_lost_heartbeat_marks_link_lost_and_refuses_commands(
    peer: Px4Peer, link: MavlinkVehicleLink
) -> None:
    await fly(link, peer)
    events = []

    async def collect() -> None:
        async for e in link.events():
            events.append(e)  # noqa: PERF401 - collects until cancelled

    link._cfg = LinkConfig(lost_after_s=0.6, degraded_after_s=0.3)
    async with asyncio.TaskGroup() as tg:
        task = tg.create_task(collect())
        await asyncio.sleep(0)
        peer.heartbeat = False
        await wait_for(lambda: link.link_state == LinkState.LOST)
        assert not link.state().available and link.state().last_seen is not None
        n_before = len(peer.received)
        with pytest.raises(LinkLostError):
            await link.return_to_launch()
        with pytest.raises(LinkLostError):
            await link.upload_mission(waypoints(1))
        assert not [
            m for m in peer.received[n_before:] if m.get_type() in ("COMMAND_LONG", "MISSION_COUNT")
        ]
        peer.heartbeat = True
        await wait_for(lambda: link.link_state == LinkState.CONNECTED)
        task.cancel()
    kinds = [e.detail for e in events if e.kind == VehicleEventKind.LINK]
    assert any("-> lost" in d for d in kinds) and any(
        d.startswith("lost -> connected") for d in kinds
    )


async def test_malformed_bytes_are_counted_and_ignored(
    link: MavlinkVehicleLink, peer: Px4Peer
) -> None:
    good = peer.mav.statustext_encode(6, b"hello\t").pack(peer.mav)
    corrupt = bytearray(good)
    corrupt[-1] ^= 0xFF  # bad CRC
    peer.send_raw(bytes(corrupt))
    await wait_for(lambda: link.health().bad_frames >= 1)
    peer.send_raw(b"\xfd\x05garbage" + bytes(range(256)) + b"\x00\xfe")
    peer.send_raw(b"\xfe")
    assert link.link_state == LinkState.CONNECTED
    assert (await link.hold()).result == 0


async def test_statustext_and_mode_changes_become_events(
    link: MavlinkVehicleLink, peer: Px4Peer
) -> None:
    got: list[Any] = []

    async def collect() -> None:
        async for e in link.events():
            got.append(e)  # noqa: PERF401 - collects until cancelled

    async with asyncio.TaskGroup() as tg:
        task = tg.create_task(collect())
        await asyncio.sleep(0.05)
        peer.statustext("Failsafe activated: Geofence violated", severity=2)
        peer.custom_main, peer.custom_sub = 4, 5
        peer.send_heartbeat()
        await wait_for(
            lambda: (
                any(e.kind == VehicleEventKind.MODE for e in got)
                and any(e.kind == VehicleEventKind.STATUSTEXT for e in got)
            )
        )
        task.cancel()
    text = next(e for e in got if e.kind == VehicleEventKind.STATUSTEXT)
    assert text.detail == "Failsafe activated: Geofence violated" and text.severity == 2
    assert link.state().mode == FlightMode.RTL


async def test_link_advances_its_sequence_number_per_frame(
    link: MavlinkVehicleLink, peer: Px4Peer
) -> None:
    await link.hold()
    await link.hold()
    seqs = [m.get_seq() for m in peer.received]
    assert len(seqs) >= 2
    assert all((b - a) % 256 == 1 for a, b in zip(seqs, seqs[1:], strict=False))


async def test_in_flight_commands_to_a_landed_drone_are_refused_unsent(
    link: MavlinkVehicleLink, peer: Px4Peer
) -> None:
    await wait_for(lambda: link.state().landed_state == LandedState.ON_GROUND)
    for call in (
        link.return_to_launch(),
        link.land(),
        link.resume(),
        link.change_speed(5.0),
        link.goto(GeoPoint(47.4, 8.55), Altitude(500.0, AltitudeDatum.AMSL)),
        link.orbit(GeoPoint(47.4, 8.55), 50.0, 5.0),
    ):
        with pytest.raises(InvalidCommandError, match="landed"):
            await call
    # only the link's own HOME_POSITION requests (REQUEST_MESSAGE 512) may have gone out
    assert all(c.command == 512 for c in sent(peer, "COMMAND_LONG"))
    assert not sent(peer, "COMMAND_INT")


async def test_mavlink1_frames_are_understood(link: MavlinkVehicleLink, peer: Px4Peer) -> None:
    # PX4 may talk MAVLink 1 until it hears MAVLink 2 from the GCS.
    msg = peer.mav.statustext_encode(6, b"v1 hello\t")
    peer.send_raw(msg.pack(peer.mav, force_mavlink1=True))
    await wait_for(lambda: any(text == "v1 hello" for _t, _s, text in link._telemetry.statustexts))


async def test_other_systems_on_the_port_are_ignored(
    link: MavlinkVehicleLink, peer: Px4Peer
) -> None:
    from pymavlink.dialects.v20 import common as mavlink

    other = mavlink.MAVLink(None, 42, 1)
    intruder = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    intruder.bind(("127.0.0.1", 0))
    intruder.sendto(
        other.heartbeat_encode(2, 12, 1, 0, 4, 3).pack(other), ("127.0.0.1", link.local_port() or 0)
    )
    intruder.close()
    # Another autopilot (sysid 42) in RTL on the same port must not change our vehicle's state.
    peer.send_raw(other.heartbeat_encode(2, 12, 1 | 128, 4 << 16 | 5 << 24, 4, 3).pack(other))
    peer.send_raw(other.statustext_encode(2, b"not ours").pack(other))
    await link.hold()  # a round trip after the foreign frames
    assert link.state().mode == FlightMode.HOLD and not link.state().armed
    assert all(text != "not ours" for _t, _s, text in link._telemetry.statustexts)
