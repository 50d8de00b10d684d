"""Forged frames reaching the link (spoofed from the vehicle's own address) change nothing.

The clock runs x5 so the peer's heartbeat every 0.2 s is PX4's 1 Hz in vehicle time, and the hold
windows pass in a fifth of the wall time.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest
from pymavlink.dialects.v20 import common as mavlink

from flight.clock import SystemClock
from flight.contradiction import PlausibilityLimits
from flight.mavlink_link import LinkConfig, MavlinkVehicleLink
from flight.models import LandedState, VehicleEvent, VehicleEventKind, VehicleId, VehicleState
from flight.state import FlightPhase, FlightStateMachine
from flight.tracker import FlightTracker
from geofence import GeoPoint
from tests.conftest import free_udp_ports
from tests.flight.px4_peer import Px4Peer

SPEED = 5.0
NEW_YORK = GeoPoint(40.7128, -74.0060)
ARMED_FLAGS = 1 | 16 | 8 | 4 | 128
HOLD_MODE = 4 << 16 | 3 << 24


@pytest.fixture
async def fast_link(peer: Px4Peer) -> AsyncIterator[tuple[MavlinkVehicleLink, list[VehicleEvent]]]:
    (port,) = free_udp_ports(1)
    clock = SystemClock(speed=SPEED)
    # Vehicle-time link timers, so the x5 clock does not make the peer's heartbeats late.
    config = LinkConfig(degraded_after_s=10.0, lost_after_s=20.0)
    lk = MavlinkVehicleLink(
        VehicleId("d1"), f"udpin://127.0.0.1:{port}", config=config, clock=clock
    )
    events: list[VehicleEvent] = []
    lk.add_listener(lambda _s: None, events.append)
    async with lk:
        await peer.start(("127.0.0.1", port))
        await lk.wait_connected(timeout_s=10.0)
        yield lk, events


class Forger:
    """Frames with the vehicle's system id, sent from the vehicle's own address (spoofed UDP)."""

    def __init__(self, peer: Px4Peer) -> None:
        self.peer = peer
        self.mav = mavlink.MAVLink(None, peer.sysid, peer.compid)

    def send(self, msg: mavlink.MAVLink_message) -> None:
        self.peer.send_raw(msg.pack(self.mav))
        self.mav.seq = (self.mav.seq + 1) % 256

    def disarmed_heartbeat(self) -> None:
        self.send(self.mav.heartbeat_encode(2, 12, ARMED_FLAGS & ~128, HOLD_MODE, 3, 3))

    def new_york(self) -> None:
        self.send(
            self.mav.global_position_int_encode(0, 407128000, -740060000, 10000, 0, 0, 0, 0, 0)
        )

    def battery_1_pct(self) -> None:
        self.send(self.mav.battery_status_encode(0, 0, 0, 0, [14000] + [65535] * 9, -1, -1, -1, 1))


async def flood(send: Callable[[], None], duration_s: float, period_s: float = 0.01) -> None:
    end = asyncio.get_running_loop().time() + duration_s
    while asyncio.get_running_loop().time() < end:
        send()
        await asyncio.sleep(period_s)


async def until(pred: Callable[[], bool], timeout_s: float = 5.0) -> None:
    async with asyncio.timeout(timeout_s):
        while not pred():  # noqa: ASYNC110
            await asyncio.sleep(0.01)


def contradictions(events: list[VehicleEvent]) -> dict[str, VehicleEvent]:
    return {e.extra["check"]: e for e in events if e.kind == VehicleEventKind.CONTRADICTION}


async def test_a_launch_under_forged_disarmed_heartbeats_is_not_aborted_and_raises_an_alert(
    fast_link: tuple[MavlinkVehicleLink, list[VehicleEvent]], peer: Px4Peer
) -> None:
    link, events = fast_link
    peer.armed = True
    await until(lambda: link.state().armed)
    clock = SystemClock(speed=SPEED)
    tracker = FlightTracker(
        FlightStateMachine("f1", link.vehicle_id, clock, phase=FlightPhase.ARMED), clock
    )
    forger = Forger(peer)
    phases: list[FlightPhase] = []

    async def observe() -> None:
        while True:
            tracker.observe(link.state())
            phases.append(tracker.phase)
            await asyncio.sleep(0.02)

    watcher = asyncio.create_task(observe())
    try:
        # 1.2 s of wall time is 6 s of vehicle time: six of the vehicle's own heartbeats.
        await flood(forger.disarmed_heartbeat, 1.2)
        assert set(phases) == {FlightPhase.ARMED} and link.state().armed
        assert "armed" in contradictions(events)
        assert link._telemetry.held_reports > 50
        # The vehicle really disarms (auto-disarm on the pad): the flight is aborted as before,
        # once the suspicious channel has seen it long enough.
        link._telemetry.gate.limits = PlausibilityLimits(suspicious_confirm_s=2.0)
        peer.armed = False
        await until(lambda: tracker.phase == FlightPhase.ABORTED)
        assert tracker.machine.abort_reason == "vehicle disarmed before take-off"
    finally:
        watcher.cancel()


async def test_forged_position_battery_and_disarm_in_the_air_change_nothing(
    fast_link: tuple[MavlinkVehicleLink, list[VehicleEvent]], peer: Px4Peer
) -> None:
    link, events = fast_link
    peer.armed, peer.landed_state, peer.rel_alt_mm = True, 2, 50_000
    await until(lambda: link.state().armed and link.state().landed_state == LandedState.IN_AIR)
    await until(lambda: link.state().battery_pct == 87)
    before = link.state()
    # Held beyond the flood: the link decodes positions at its state rate, so a forger sending
    # faster than the vehicle wins most slots and could outlast the default hold (signing stops it).
    link._telemetry.gate.limits = PlausibilityLimits(confirm_s=20.0)
    forger = Forger(peer)

    def forge() -> None:
        forger.disarmed_heartbeat()
        forger.battery_1_pct()

    seen: list[VehicleState] = []
    remove = link.add_listener(seen.append, lambda _e: None)
    try:
        await asyncio.gather(
            flood(forge, 0.8, period_s=0.02), flood(forger.new_york, 0.8, period_s=0.005)
        )
    finally:
        remove()
    after = link.state()
    assert after.armed and after.battery_pct == 87
    assert after.position is not None and before.position is not None
    assert after.position.distance_m(before.position) < 1.0
    assert all(s.armed and s.battery_pct == 87 for s in seen)
    assert all(s.position is None or s.position.lat_deg > 47.0 for s in seen)
    found = contradictions(events)
    assert set(found) == {"armed", "position", "battery"}
    assert "disarmed reported while in the air" in found["armed"].detail
    assert "position jumped" in found["position"].detail
