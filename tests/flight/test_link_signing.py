"""MAVLink 2 signing and address binding of the vehicle link, against the signed simulator over UDP."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from pymavlink.dialects.v20 import common as mavlink

from flight.clock import SystemClock
from flight.fleet import FleetLink
from flight.link_transport import MavlinkTransport, parse_connection_url
from flight.mavlink_link import LinkConfig, MavlinkVehicleLink
from flight.models import LinkState, VehicleEventKind, VehicleId
from flight.signing import FrameRejection, LinkSigning, SigningSetup, signing_timestamp
from flight.state import FlightPhase, FlightStateMachine
from flight.tracker import FlightTracker
from geofence import GeoPoint, destination
from simulator.vehicle import SimFleet, build_fleet_config, with_signing_dir
from tests.conftest import free_udp_ports
from tests.flight.test_link_sim import fence, mission, track_until

pytestmark = pytest.mark.sim

SPEEDUP = 10.0
HOME = (47.397742, 8.545594, 488.0)
VID = VehicleId("d1")
KEY = bytes(range(32))
OTHER_KEY = bytes(range(100, 132))


@dataclass
class Rig:
    sim: SimFleet
    link: MavlinkVehicleLink
    client_port: int
    api_port: int


@contextlib.asynccontextmanager
async def rig(
    *,
    sim_key: bytes | None = KEY,
    link_signing: SigningSetup | None = None,
    signing_dir: Path | None = None,
    wait_position: bool = True,
) -> AsyncIterator[Rig]:
    api, client, video = free_udp_ports(3)
    cfg = build_fleet_config(
        1,
        [HOME],
        speedup=SPEEDUP,
        api_base_port=api,
        client_base_port=client,
        gcs_base_port=None,
        video_base_port=video,
    )
    cfg = replace(cfg, drones=tuple(replace(d, signing_key=sim_key) for d in cfg.drones))
    if signing_dir is not None:
        cfg = with_signing_dir(cfg, signing_dir)
    setup = link_signing if link_signing is not None else SigningSetup(key=KEY)
    config = LinkConfig(lost_after_s=8.0, degraded_after_s=4.0, signing=setup)
    clock = SystemClock(speed=SPEEDUP)
    async with SimFleet(cfg) as sim, FleetLink(config=config, clock=clock) as fleet:
        link = fleet.add_vehicle(VID, f"udpin://127.0.0.1:{client}", sysid=1)
        if wait_position:
            await link.wait_connected(timeout_s=30)
            async with asyncio.timeout(30):
                while link.state().position is None:  # noqa: ASYNC110
                    await asyncio.sleep(0.02)
        yield Rig(sim, link, client, api)


class Forger:
    """Another socket on the network sending frames as the drone (system id 1, component 1)."""

    def __init__(self, key: bytes | None = None) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.setblocking(False)
        self.mav = mavlink.MAVLink(None, 1, 1)
        if key is not None:
            self.mav.signing.secret_key = key
            self.mav.signing.sign_outgoing = True
            self.mav.signing.timestamp = signing_timestamp(time.time()) + 10

    def send(self, msg: Any, port: int) -> None:
        self.sock.sendto(msg.pack(self.mav), ("127.0.0.1", port))
        self.mav.seq = (self.mav.seq + 1) % 256

    def heartbeat(self, armed: bool) -> Any:
        base = 1 | 4 | 8 | 16 | (128 if armed else 0)
        return self.mav.heartbeat_encode(2, 12, base, (4 << 16) | (3 << 24), 3, 3)

    def battery(self) -> Any:
        return self.mav.battery_status_encode(
            0, 0, 0, 2500, [65535] * 10, -1, -1, -1, 1, 0, 0, [0] * 4, 0, 0
        )

    def position(self) -> Any:  # New York, 100 m up
        return self.mav.global_position_int_encode(
            0, 407127760, -740059740, 100000, 100000, 0, 0, 0, 0
        )

    def received(self) -> int:
        n = 0
        with contextlib.suppress(BlockingIOError):
            while self.sock.recv(65535):
                n += 1
        return n

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def forger() -> Iterator[Forger]:
    f = Forger()
    yield f
    f.close()


# ---------------------------------------------------------------------------- frame checks (unit)


def _signed_frame(key: bytes, timestamp: int, link_id: int = 0) -> bytes:
    mav = mavlink.MAVLink(None, 1, 1)
    mav.signing.secret_key = key
    mav.signing.sign_outgoing = True
    mav.signing.link_id = link_id
    mav.signing.timestamp = timestamp
    return bytes(mav.heartbeat_encode(2, 12, 0, 0, 3, 3).pack(mav))


def test_a_replayed_frame_and_a_new_stream_older_than_a_minute_are_refused() -> None:
    now_s = 1_800_000_000.0
    signing = LinkSigning(SigningSetup(key=KEY), wall_clock=lambda: now_s)
    fresh = _signed_frame(KEY, signing_timestamp(now_s))
    assert signing.check(fresh, 1, 1) is None
    assert signing.check(fresh, 1, 1) == FrameRejection.REPLAY
    old = _signed_frame(KEY, signing_timestamp(now_s - 61.0), link_id=7)
    assert signing.check(old, 1, 1) == FrameRejection.STALE
    recent = _signed_frame(KEY, signing_timestamp(now_s - 59.0), link_id=8)
    assert signing.check(recent, 1, 1) is None


def test_unsigned_and_wrongly_signed_frames_are_refused_when_signing_is_required() -> None:
    signing = LinkSigning(SigningSetup(key=KEY))
    plain = bytes(
        mavlink.MAVLink(None, 1, 1)
        .heartbeat_encode(2, 12, 0, 0, 3, 3)
        .pack(mavlink.MAVLink(None, 1, 1))
    )
    now = signing_timestamp(time.time())
    assert signing.check(plain, 1, 1) == FrameRejection.UNSIGNED
    assert signing.check(_signed_frame(OTHER_KEY, now), 1, 1) == FrameRejection.BAD_SIGNATURE
    tampered = bytearray(_signed_frame(KEY, now))
    tampered[12] ^= 0x80  # a payload bit of a validly signed frame
    assert signing.check(bytes(tampered), 1, 1) == FrameRejection.BAD_SIGNATURE
    optional = LinkSigning(SigningSetup(key=KEY, required=False))
    assert optional.check(plain, 1, 1) is None
    assert optional.check(_signed_frame(OTHER_KEY, now), 1, 1) == FrameRejection.BAD_SIGNATURE


def test_signing_setup_never_shows_its_keys() -> None:
    setup = SigningSetup(key=KEY, pending_key=OTHER_KEY)
    assert KEY.hex() not in repr(setup) and str(KEY) not in repr(setup)
    with pytest.raises(ValueError, match="32 bytes"):
        SigningSetup(key=b"short")


# ---------------------------------------------------------------------------- over UDP


async def test_forged_heartbeat_battery_and_position_change_nothing_and_are_counted(
    forger: Forger,
) -> None:
    async with rig() as r:
        before = r.link.state()
        assert before.battery_pct is not None and before.battery_pct > 50
        for _ in range(30):
            forger.send(forger.heartbeat(armed=True), r.client_port)
            forger.send(forger.battery(), r.client_port)
            forger.send(forger.position(), r.client_port)
        await asyncio.sleep(0.3)
        after = r.link.state()
        assert not after.armed
        assert after.battery_pct is not None and after.battery_pct > 50
        assert after.position is not None and abs(after.position.lat_deg - HOME[0]) < 0.01
        assert r.link.frames_rejected() == {"address": 90}
        assert r.link.bound_address is not None and r.link.bound_address[1] == r.api_port
        assert forger.received() == 0  # no HEARTBEAT, TIMESYNC or command went to the forger
        assert r.link.link_state == LinkState.CONNECTED


async def test_forged_commands_to_the_signed_vehicle_are_refused(forger: Forger) -> None:
    async with rig() as r:
        drone = r.sim.drone(0)
        arm = forger.mav.command_long_encode(1, 1, 400, 0, 1, 21196, 0, 0, 0, 0, 0)
        for _ in range(5):
            forger.send(arm, r.api_port)
        await asyncio.sleep(0.2)
        assert not drone.snapshot().armed
        assert drone.links[0].rx_rejected == 5
        assert forger.received() == 0  # the vehicle's replies still go to the service


async def test_a_validly_signed_frame_from_another_address_is_refused_once_bound() -> None:
    thief = Forger(key=KEY)  # knows the key, but is not where the vehicle is
    try:
        async with rig() as r:
            thief.send(thief.heartbeat(armed=True), r.client_port)
            await asyncio.sleep(0.2)
            assert r.link.frames_rejected() == {"address": 1}
            assert not r.link.state().armed
    finally:
        thief.close()


async def test_unsigned_frames_never_bind_a_link_that_requires_signing(forger: Forger) -> None:
    async with rig(wait_position=False) as r:
        async with asyncio.timeout(10):
            while r.link.local_port() is None:  # noqa: ASYNC110
                await asyncio.sleep(0.005)
        # The forger talks first (the vehicle's first datagram may already be in flight).
        for _ in range(10):
            forger.send(forger.heartbeat(armed=True), r.client_port)
        await r.link.wait_connected(timeout_s=30)
        assert r.link.bound_address is not None and r.link.bound_address[1] == r.api_port
        assert (
            r.link.frames_rejected().get("unsigned", 0) + r.link.frames_rejected().get("address", 0)
            == 10
        )
        assert forger.received() == 0


def test_a_frame_with_a_broken_checksum_never_binds_an_unsigned_link() -> None:
    received: list[Any] = []
    transport = MavlinkTransport(
        VID,
        parse_connection_url("udpin://127.0.0.1:1", VID),
        LinkConfig(signing=None),
        lambda msg, sysid, compid: received.append(msg),
        target_sysid=1,
    )
    sender = mavlink.MAVLink(None, 1, 1)
    broken = bytearray(sender.heartbeat_encode(2, 12, 128, 0, 4, 3).pack(sender))
    broken[-1] ^= 0xFF
    transport.datagram_received(bytes(broken), ("127.0.0.1", 6666))
    assert transport.bound_address is None and received == []
    transport.datagram_received(
        bytes(sender.heartbeat_encode(2, 12, 0, 0, 3, 3).pack(sender)), ("127.0.0.1", 5555)
    )
    assert transport.bound_address == ("127.0.0.1", 5555) and len(received) == 1


async def test_rejections_beyond_the_threshold_raise_one_warning_per_window(
    forger: Forger,
) -> None:
    async with rig() as r:
        warnings: list[str] = []

        async def watch() -> None:
            async for e in r.link.events():
                if e.kind == VehicleEventKind.STATUSTEXT and e.extra.get("source") == "link":
                    warnings.append(e.detail)  # noqa: PERF401 (the task is cancelled, not ended)

        task = asyncio.create_task(watch())
        await asyncio.sleep(0.05)
        for _ in range(100):
            forger.send(forger.heartbeat(armed=False), r.client_port)
        await asyncio.sleep(0.3)
        task.cancel()
        assert len(warnings) == 1 and "rejected" in warnings[0]


async def test_first_key_is_provisioned_with_setup_signing_and_both_sides_sign() -> None:
    async with rig(sim_key=None, link_signing=SigningSetup(required=True)) as r:
        vehicle = r.sim.drone(0).links[0].signing
        assert vehicle is not None and not vehicle.enabled
        await r.link.provision_signing_key(KEY, timeout_s=20)
        assert vehicle.key == KEY
        assert r.link.signing is not None and r.link.signing.key == KEY
        # Frames we sent between the vehicle taking the key and our seeing it sign are refused
        # (some still in flight when the key is confirmed).
        await asyncio.sleep(0.1)
        rx_before = r.link.health().messages_received
        refused_by_vehicle = r.sim.drone(0).links[0].rx_rejected
        await asyncio.sleep(0.3)
        assert r.link.health().messages_received > rx_before  # signed traffic accepted
        assert r.sim.drone(0).links[0].rx_rejected == refused_by_vehicle
        assert (await r.link.hold()).result == 0  # our signed command is taken


async def test_rotation_sends_the_new_key_signed_under_the_old_and_both_switch(
    tmp_path: Path,
) -> None:
    async with rig(signing_dir=tmp_path) as r:
        await r.link.provision_signing_key(OTHER_KEY, timeout_s=20)
        vehicle = r.sim.drone(0).links[0].signing
        assert vehicle is not None and vehicle.key == OTHER_KEY
        assert (await r.link.hold()).result == 0
    # The vehicle kept the new key on its storage, as PX4 does.
    (key_file,) = os.listdir(tmp_path)
    with open(os.path.join(tmp_path, key_file), "rb") as f:  # noqa: ASYNC230
        assert f.read()[:32] == OTHER_KEY
    assert os.stat(os.path.join(tmp_path, key_file)).st_mode & 0o777 == 0o600


async def test_a_vehicle_with_an_unknown_key_is_never_connected() -> None:
    async with rig(sim_key=OTHER_KEY, wait_position=False) as r:
        await asyncio.sleep(0.5)
        assert r.link.link_state != LinkState.CONNECTED
        assert r.link.frames_rejected().get("bad_signature", 0) > 0
        assert r.link.state().position is None


async def test_a_launch_under_a_flood_of_forged_disarmed_heartbeats_flies_normally(
    forger: Forger,
) -> None:
    async with rig() as r:
        clock = SystemClock(speed=SPEEDUP)
        target = destination(GeoPoint(HOME[0], HOME[1]), 45.0, 300.0)
        tracker = FlightTracker(
            FlightStateMachine("f1", VID, clock),
            clock,
            on_scene_seq=2,
            target=target,
            on_scene_radius_m=60.0,
        )
        stop = asyncio.Event()

        async def flood() -> None:
            while not stop.is_set():
                for _ in range(5):
                    forger.send(forger.heartbeat(armed=False), r.client_port)
                await asyncio.sleep(0.005)

        flooding = asyncio.create_task(flood())
        try:
            tracker.begin_upload(r.link.state())
            await r.link.upload_fence(fence())
            await r.link.upload_mission(mission())
            await r.link.arm()
            tracker.note_command("start_mission")
            await r.link.start_mission()
            phases = await track_until(
                r.link, tracker, {FlightPhase.EN_ROUTE, FlightPhase.ABORTED}, timeout_s=60
            )
        finally:
            stop.set()
            await flooding
        assert phases == [FlightPhase.ARMED, FlightPhase.EN_ROUTE]
        assert r.sim.drone(0).snapshot().armed and r.link.state().armed
        assert r.link.frames_rejected()["address"] >= 20
        assert forger.received() == 0


async def test_after_link_loss_only_a_signed_frame_may_move_the_link_to_a_new_address(
    forger: Forger,
) -> None:
    mover = Forger(key=KEY)  # the vehicle coming back from another address (a new radio)
    try:
        async with rig() as r:
            r.sim.drone(0).fault_link_cut(60.0, inbound=True, outbound=True)
            async with asyncio.timeout(10):
                while r.link.link_state != LinkState.LOST:  # noqa: ASYNC110
                    await asyncio.sleep(0.02)
            forger.send(forger.heartbeat(armed=True), r.client_port)
            await asyncio.sleep(0.1)
            assert r.link.frames_rejected() == {"unsigned": 1}
            assert r.link.bound_address is not None and r.link.bound_address[1] == r.api_port
            # Its clock went on while it was away: a timestamp above its stream's last one.
            mover.mav.signing.timestamp = signing_timestamp(time.time()) + 1000
            mover.send(mover.heartbeat(armed=False), r.client_port)
            await asyncio.sleep(0.1)
            moved_to = mover.sock.getsockname()[1]
            assert r.link.bound_address is not None and r.link.bound_address[1] == moved_to
            assert forger.received() == 0
    finally:
        mover.close()
