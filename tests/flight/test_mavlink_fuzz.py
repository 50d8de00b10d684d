"""A million mutated MAVLink frames at the service's vehicle link: nothing escapes, nothing invalid lands.

The frames go in through the link's own UDP receive path (`datagram_received`, batched 40 frames a
datagram as PX4 packs its streams), in-process so a million fit in seconds, then a slice over a real
loopback socket to a running link. Invalid frames (bad CRC, another system, unknown ids, garbage,
cut short) must change no state and reach no handler; frames with a correct CRC around random
payloads (NaN floats, extreme integers) may change state, but only to values within range.
"""

from __future__ import annotations

import asyncio
import math
import socket
import time
from collections.abc import Iterable
from dataclasses import fields, replace
from typing import Any

import pytest

from flight import mavlink_wire as wire
from flight.clock import SystemClock
from flight.link_config import LinkConfig
from flight.mavlink_link import MavlinkVehicleLink
from flight.models import LinkState, VehicleId, VehicleState
from tests.conftest import free_udp_ports
from tests.mavlink_fuzz import INVALID_LAST, FrameFuzzer, Mutation, encoder

SEED = 18
SYSID = 1
SOURCE = ("127.0.0.1", 47001)
INVALID_FRAMES = 600_000
MIXED_FRAMES = 400_000
UDP_FRAMES = 20_000

#: VehicleState fields that are the link's own figures or time, not something the vehicle reported.
_LINK_FIELDS = frozenset({"time", "last_seen", "link", "available", "packet_loss_pct", "rtt_ms"})

INVALID_WEIGHTS = {
    Mutation.BIT_FLIP: 0.45,
    Mutation.RANDOM_ID: 0.15,
    Mutation.OTHER_SYSTEM: 0.25,
    Mutation.GARBAGE: 0.15,
}
MIXED_WEIGHTS = {
    Mutation.VALID: 0.12,
    Mutation.RANDOM_PAYLOAD: 0.06,
    Mutation.RANDOM_KNOWN_ID: 0.04,
    Mutation.BIT_FLIP: 0.28,
    Mutation.LENGTH: 0.05,
    Mutation.TRUNCATED: 0.05,
    Mutation.RANDOM_ID: 0.1,
    Mutation.OTHER_SYSTEM: 0.15,
    Mutation.GARBAGE: 0.1,
    Mutation.MAVLINK1: 0.05,
}


def base_frames() -> list[bytes]:
    """Realistic frames of every message the link decodes, as PX4 sends them (armed, in the air)."""
    m = encoder(SYSID, 1)
    msgs: list[Any] = [
        m.heartbeat_encode(2, 12, 1 | 128, 4 << 16 | 3 << 24, 4, 3),
        m.sys_status_encode(0, 0, 0, 500, 16200, -1, 87, 0, 0, 0, 0, 0, 0),
        m.param_value_encode(b"NAV_DLL_ACT", 2.0, 6, 900, 12),
        m.gps_raw_int_encode(0, 3, 473977420, 85455940, 488000, 80, 120, 0, 0, 12),
        m.global_position_int_encode(1000, 473977420, 85455940, 538000, 50000, 300, 400, 0, 9000),
        m.mission_request_encode(245, 190, 3, 0),
        m.mission_current_encode(3, 7, 3, 1),
        m.mission_count_encode(245, 190, 7, 0),
        m.mission_item_reached_encode(2),
        m.mission_ack_encode(245, 190, 0, 0),
        m.mission_request_int_encode(245, 190, 4, 0),
        m.mission_item_int_encode(
            245, 190, 1, 6, 16, 0, 1, 0, 2, 0, math.nan, 473977420, 85455940, 40.0, 0
        ),
        m.vfr_hud_encode(12.0, 11.5, 90, 40, 50.0, 0.2),
        m.command_ack_encode(400, 0),
        m.timesync_encode(0, 123456789),
        m.battery_status_encode(0, 0, 0, 2500, [16200] + [65535] * 9, 900, -1, -1, 87),
        m.home_position_encode(473977420, 85455940, 488000, 0, 0, 0, [1, 0, 0, 0], 0, 0, 0),
        m.extended_sys_state_encode(0, 2),
        m.statustext_encode(4, b"Failsafe: datalink lost\t"),
        m.attitude_encode(1000, 0.1, 0.0, 1.5, 0.0, 0.0, 0.0),  # decoded by nobody: only counted
    ]
    return [msg.pack(m) for msg in msgs]


def fuzzer() -> FrameFuzzer:
    return FrameFuzzer(SEED, SYSID, 1, sorted(wire.WANTED), base_frames())


def reported(state: VehicleState) -> dict[str, Any]:
    """What the vehicle reported, without the link's own figures."""
    return {f.name: getattr(state, f.name) for f in fields(state) if f.name not in _LINK_FIELDS}


def out_of_range(state: VehicleState) -> list[str]:
    """The fields of `state` outside the values a vehicle can report."""
    bad: list[str] = []

    def check(name: str, value: float | None, lo: float, hi: float) -> None:
        if value is not None and not (math.isfinite(value) and lo <= value <= hi):
            bad.append(f"{name}={value!r}")

    for name, point in (("position", state.position), ("home", state.home)):
        if point is not None:
            check(f"{name}.lat", point.lat_deg, -90.0, 90.0)
            check(f"{name}.lon", point.lon_deg, -180.0, 180.0)
    check("alt_amsl_m", state.alt_amsl_m, -1_000.0, 20_000.0)
    check("alt_agl_m", state.alt_agl_m, -20_000.0, 20_000.0)
    check("home_alt_amsl_m", state.home_alt_amsl_m, -1_000.0, 20_000.0)
    check("heading_deg", state.heading_deg, 0.0, 360.0)
    check("ground_speed_mps", state.ground_speed_mps, 0.0, 500.0)
    check("climb_rate_mps", state.climb_rate_mps, -400.0, 400.0)
    check("battery_pct", state.battery_pct, 0.0, 100.0)
    check("battery_voltage_v", state.battery_voltage_v, 0.0, 1_000.0)
    return bad


def unopened_link() -> MavlinkVehicleLink:
    (port,) = free_udp_ports(1)
    # Fed directly with no event loop running: nothing may go out, so no parameters at connect.
    return MavlinkVehicleLink(
        VehicleId("d1"),
        f"udpin://127.0.0.1:{port}",
        sysid=SYSID,
        clock=SystemClock(),
        config=LinkConfig(prepare_at_connect=False),
    )


def feed(link: MavlinkVehicleLink, datagrams: Iterable[bytes]) -> int:
    """Each datagram into the link's UDP receive path; returns how many were fed."""
    receive = link._transport.datagram_received
    n = 0
    for datagram in datagrams:
        receive(datagram, SOURCE)
        n += 1
    return n


def settle(link: MavlinkVehicleLink) -> None:
    """The vehicle's ordinary frames, repeated past every rate limit: a known state to start from."""
    frames = base_frames()
    for _ in range(3):
        feed(link, ([b"".join(frames)]))
        time.sleep(1.0 / link._cfg.state_rate_hz)


def test_a_million_mutated_frames_change_nothing_invalid_and_leave_values_in_range(
    caplog: pytest.LogCaptureFixture,
) -> None:
    link = unopened_link()
    settle(link)
    dispatched: list[int] = []
    handler = link._transport._on_message

    def spy(msg: Any, sysid: int, compid: int) -> None:
        dispatched.append(msg.get_msgId())
        handler(msg, sysid, compid)

    link._transport._on_message = spy
    before = link.state()
    assert before.armed and before.position is not None and before.battery_pct == 87

    fz = fuzzer()
    cpu0 = time.process_time()
    t0 = time.perf_counter()
    last = {Mutation.TRUNCATED: 0.5, Mutation.LONGER: 0.5}
    feed(link, fz.datagrams(INVALID_FRAMES, INVALID_WEIGHTS, last=last))
    invalid_s = time.perf_counter() - t0
    assert set(fz.counts) <= {*INVALID_WEIGHTS, *INVALID_LAST}
    assert dispatched == []
    assert reported(link.state()) == reported(before)

    published: list[VehicleState] = []
    link.add_listener(published.append, lambda _e: None)
    t0 = time.perf_counter()
    feed(link, fz.datagrams(MIXED_FRAMES, MIXED_WEIGHTS))
    mixed_s = time.perf_counter() - t0
    total = sum(fz.counts.values())
    print(
        f"\n{total} mutated frames at the link: {INVALID_FRAMES} invalid in {invalid_s:.1f} s, "
        f"{MIXED_FRAMES} mixed in {mixed_s:.1f} s ({time.process_time() - cpu0:.1f} s CPU in all); "
        f"{len(dispatched)} decoded and handled, "
        f"{link._transport.bad_frames} bad frames, {link._telemetry.invalid_reports} invalid "
        f"reports, {link._telemetry.held_reports} held; {sorted(fz.counts.items())}"
    )
    assert total >= 1_000_000
    assert len(dispatched) > 10_000  # the random payloads did reach the handlers
    assert [r.getMessage() for r in caplog.records if r.levelname == "ERROR"] == []
    for state in [*published, link.state()]:
        assert out_of_range(state) == [], state

    # The link still understands its vehicle.
    m = encoder(SYSID, 1)
    m.seq = 200
    heartbeat = m.heartbeat_encode(2, 12, 1, 4 << 16 | 5 << 24, 3, 3).pack(m)
    feed(link, ([heartbeat]))
    assert str(link.state().mode) == "AUTO.RTL"


async def test_twenty_thousand_mutated_frames_over_udp_leave_a_running_link_working() -> None:
    (port,) = free_udp_ports(1)
    link = MavlinkVehicleLink(VehicleId("d1"), f"udpin://127.0.0.1:{port}", sysid=SYSID)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.setblocking(False)
    loop = asyncio.get_running_loop()
    async with link:
        vehicle = b"".join(base_frames())
        async with asyncio.timeout(5.0):
            while link.link_state != LinkState.CONNECTED:  # the link opens its socket first
                sock.sendto(vehicle, ("127.0.0.1", port))
                await asyncio.sleep(0.05)
        cpu0, t0 = time.process_time(), time.perf_counter()
        fz = replace(fuzzer(), seed=SEED + 1)
        sent = 0
        counted = link.health().messages_received
        for datagram in fz.datagrams(UDP_FRAMES, MIXED_WEIGHTS, frames_per_datagram=20):
            await loop.sock_sendto(sock, datagram, ("127.0.0.1", port))
            sent += 1
            # The link reads a datagram per turn of the loop: a full socket buffer would drop.
            await asyncio.sleep(0)
        assert sum(fz.counts.values()) >= UDP_FRAMES
        # Still the vehicle's link: its next heartbeat (after every fuzzed datagram) is heard.
        m = encoder(SYSID, 1)
        m.seq = 100
        sock.sendto(
            m.heartbeat_encode(2, 12, 1, 4 << 16 | 6 << 24, 3, 3).pack(m), ("127.0.0.1", port)
        )
        async with asyncio.timeout(5.0):
            while str(link.state().mode) != "AUTO.LAND":  # noqa: ASYNC110
                await asyncio.sleep(0.01)
        health = link.health()
        print(
            f"\n{sum(fz.counts.values())} mutated frames over UDP in {sent} datagrams, "
            f"{time.perf_counter() - t0:.1f} s ({time.process_time() - cpu0:.1f} s CPU); "
            f"{health.messages_received - counted} frames counted, {health.bad_frames} bad"
        )
        assert health.messages_received - counted > UDP_FRAMES // 10  # they did arrive
        assert link.link_state in (LinkState.CONNECTED, LinkState.DEGRADED)
        assert out_of_range(link.state()) == []
    sock.close()
