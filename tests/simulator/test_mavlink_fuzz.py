"""Mutated MAVLink frames at the simulated drone's link: it keeps flying and answering, its state sane.

The frames go in through the simulator link's UDP receive path (`datagram_received`, batched as a
GCS's datagrams would be) while the drone runs. pymavlink's parser decodes every frame it finds, so
this slice is smaller than the service link's million (see tests/flight/test_mavlink_fuzz.py).
"""

from __future__ import annotations

import asyncio
import math
import time
from typing import Any

import pytest
from pymavlink.dialects.v20 import common as M  # noqa: N812

from simulator.vehicle import SimDrone, SimFleet
from tests.mavlink_fuzz import FrameFuzzer, Mutation, encoder
from tests.simulator.vehicle.conftest import RawClient, sim_rig

SEED = 18
GCS_SYSID, GCS_COMPID = 245, 190
SOURCE = ("127.0.0.1", 47002)
INVALID_FRAMES = 60_000
MIXED_FRAMES = 90_000

#: What the simulated autopilot decodes and acts on.
TARGETS = sorted(
    {
        M.MAVLINK_MSG_ID_HEARTBEAT,
        M.MAVLINK_MSG_ID_COMMAND_LONG,
        M.MAVLINK_MSG_ID_COMMAND_INT,
        M.MAVLINK_MSG_ID_SET_MODE,
        M.MAVLINK_MSG_ID_PING,
        M.MAVLINK_MSG_ID_TIMESYNC,
        M.MAVLINK_MSG_ID_PARAM_REQUEST_READ,
        M.MAVLINK_MSG_ID_PARAM_SET,
        M.MAVLINK_MSG_ID_MISSION_COUNT,
        M.MAVLINK_MSG_ID_MISSION_ITEM,
        M.MAVLINK_MSG_ID_MISSION_ITEM_INT,
        M.MAVLINK_MSG_ID_MISSION_REQUEST_LIST,
        M.MAVLINK_MSG_ID_MISSION_REQUEST,
        M.MAVLINK_MSG_ID_MISSION_REQUEST_INT,
        M.MAVLINK_MSG_ID_MISSION_ACK,
        M.MAVLINK_MSG_ID_MISSION_CLEAR_ALL,
        M.MAVLINK_MSG_ID_MISSION_SET_CURRENT,
    }
)
INVALID_WEIGHTS = {Mutation.BIT_FLIP: 0.7, Mutation.RANDOM_ID: 0.1, Mutation.GARBAGE: 0.2}
MIXED_WEIGHTS = {
    Mutation.VALID: 0.1,
    Mutation.RANDOM_PAYLOAD: 0.1,
    Mutation.RANDOM_KNOWN_ID: 0.05,
    Mutation.BIT_FLIP: 0.4,
    Mutation.LENGTH: 0.05,
    Mutation.TRUNCATED: 0.05,
    Mutation.RANDOM_ID: 0.05,
    Mutation.OTHER_SYSTEM: 0.05,
    Mutation.GARBAGE: 0.1,
    Mutation.MAVLINK1: 0.05,
}


def base_frames() -> list[bytes]:
    """What a GCS sends a PX4 vehicle (sysid 1) while preparing a flight."""
    m = encoder(GCS_SYSID, GCS_COMPID)
    nan = math.nan
    msgs: list[Any] = [
        m.heartbeat_encode(6, 8, 0, 0, 4, 3),
        m.command_long_encode(1, 1, 512, 0, 242, 0, 0, 0, 0, 0, 0),
        m.command_int_encode(1, 1, 5, 192, 0, 0, -1, 1, 0, nan, 473977420, 85455940, 540.0),
        m.set_mode_encode(1, 1, 4 << 16 | 3 << 24),
        m.ping_encode(1000, 3, 0, 0),
        m.timesync_encode(0, 123456789),
        m.param_request_read_encode(1, 1, b"NAV_DLL_ACT", -1),
        m.param_set_encode(1, 1, b"RTL_RETURN_ALT", 60.0, 9),
        m.mission_count_encode(1, 1, 3, 0),
        m.mission_item_int_encode(1, 1, 0, 6, 16, 0, 1, 0, 2, 0, nan, 473977420, 85455940, 40.0, 0),
        m.mission_request_list_encode(1, 1, 0),
        m.mission_request_int_encode(1, 1, 0, 0),
        m.mission_ack_encode(1, 1, 0, 0),
        m.mission_set_current_encode(1, 1, 0),
    ]
    return [msg.pack(m) for msg in msgs]


def fuzzer(seed: int) -> FrameFuzzer:
    # An unsigned SETUP_SIGNING to a vehicle without a key sets one, as on PX4: every later
    # unsigned frame would then be refused, so random ones are not made.
    avoid = frozenset({M.MAVLINK_MSG_ID_SETUP_SIGNING})
    return FrameFuzzer(seed, GCS_SYSID, GCS_COMPID, TARGETS, base_frames(), avoid=avoid)


async def feed(drone: SimDrone, datagrams: list[bytes]) -> None:
    """Into the drone's link, letting its simulation tick between batches."""
    receive = drone.links[0].datagram_received
    for n, datagram in enumerate(datagrams):
        receive(datagram, SOURCE)
        if n % 200 == 0:
            await asyncio.sleep(0)


def sane(drone: SimDrone) -> list[str]:
    """Fields of the drone's true state outside what a drone can be."""
    s = drone.snapshot()
    bad = [
        f"{name}={value!r}"
        for name, value in s.as_dict().items()
        if isinstance(value, float) and not math.isfinite(value)
    ]
    if not (-90.0 <= s.lat_deg <= 90.0 and -180.0 <= s.lon_deg <= 180.0):
        bad.append(f"position {s.lat_deg}, {s.lon_deg}")
    if not 0.0 <= s.battery_fraction <= 1.0:
        bad.append(f"battery {s.battery_fraction}")
    return bad


async def test_mutated_frames_at_the_simulated_drone_leave_it_running_and_sane(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with sim_rig() as (fleet, rc):
        drone = fleet.drone(0)
        link = drone.links[0]
        handled: list[str] = []
        handle = link._on_message

        def spy(lk: Any, msg: Any) -> None:
            handled.append(msg.get_type())
            handle(lk, msg)

        link._on_message = spy
        before = (drone.armed, drone.mode, len(drone.plans.mission), dict(drone.params._values))

        fz = fuzzer(SEED)
        t0, cpu0 = time.perf_counter(), time.process_time()
        await feed(drone, fz.datagrams(INVALID_FRAMES, INVALID_WEIGHTS))
        # Frames with a broken CRC reach no handler; an unknown id is passed on as unknown.
        assert {t for t in handled if not t.startswith("UNKNOWN_")} == set()
        after = (drone.armed, drone.mode, len(drone.plans.mission), dict(drone.params._values))
        assert after == before

        await feed(drone, fz.datagrams(MIXED_FRAMES, MIXED_WEIGHTS))
        total = sum(fz.counts.values())
        print(
            f"\n{total} mutated frames at the simulated drone in {time.perf_counter() - t0:.1f} s "
            f"({time.process_time() - cpu0:.1f} s CPU); {len(handled)} handled, "
            f"{link.rx_errors} bad; {sorted(fz.counts.items())}"
        )
        assert total >= INVALID_FRAMES + MIXED_FRAMES
        assert len(handled) > 10_000  # the random payloads did reach the handlers
        assert link.rx_rejected == 0
        errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
        assert errors == []
        assert sane(drone) == []
        await still_answers(fleet, rc)


async def still_answers(fleet: SimFleet, rc: RawClient) -> None:
    """The drone's clock runs on and it answers a GCS that talks to it again."""
    t0 = fleet.drone(0).snapshot().time_s
    rc.heartbeat()
    rc.send(M.MAVLink_param_request_read_message(1, 1, b"NAV_DLL_ACT", -1))
    await rc.wait_for(
        "PARAM_VALUE", lambda m: m.param_id == "NAV_DLL_ACT", timeout_s=10.0, clear=False
    )
    assert fleet.drone(0).snapshot().time_s > t0
