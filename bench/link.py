"""Benchmark of the fleet link: CPU, RSS, mission upload and command round trip for N drones.

    python bench/link.py                       # 50 and 200 drones, PX4 "Normal" (GCS) stream rates
    python bench/link.py --drones 50 --profile onboard
    python bench/link.py --drones 50 --compare-mavsdk

Telemetry comes from a generator in a child process (so its CPU is not counted): per drone one UDP
socket sending PX4's default stream set at the chosen profile's rates (PX4_WIRE.md §1.3), answering
COMMAND_LONG with COMMAND_ACK, PARAM_SET/READ with PARAM_VALUE and running the mission upload and
download protocol (first request non-INT, as PX4). The service side is one `FleetLink`.

Baselines measured in the same run: the same datagrams consumed by a bare receiver that runs
`MAVLink.parse_buffer` (decode everything, what mavutil does) and, with --compare-mavsdk, by one
mavsdk 4.1 `Mavsdk` instance with one udpin connection per drone subscribed to position.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil
from pymavlink.dialects.v20 import common as mavlink

# Run as a script, bench/ is first on sys.path and its files would shadow packages of the same
# name; the repository root takes its place (bench.harness, tests).
_HERE = Path(__file__).resolve().parent
sys.path[:] = [str(_HERE.parent), *(p for p in sys.path if Path(p or ".").resolve() != _HERE)]

from bench.harness import DFR_SIM, cpu_seconds, free_udp_block  # noqa: E402
from flight import FleetLink, LinkConfig, MavCmd, MissionItem, VehicleId  # noqa: E402

# (message, Hz) per profile; PX4 mavlink_main.cpp configure_streams_to_default
PROFILES: dict[str, list[tuple[str, float]]] = {
    "normal": [
        ("HEARTBEAT", 1),
        ("GLOBAL_POSITION_INT", 5),
        ("ATTITUDE", 15),
        ("ATTITUDE_QUATERNION", 10),
        ("SYS_STATUS", 1),
        ("BATTERY_STATUS", 0.5),
        ("EXTENDED_SYS_STATE", 1),
        ("GPS_RAW_INT", 5),
        ("VFR_HUD", 4),
        ("LOCAL_POSITION_NED", 1),
        ("ALTITUDE", 1),
        ("MISSION_CURRENT", 1),
        ("HOME_POSITION", 0.5),
    ],
    "onboard": [
        ("HEARTBEAT", 1),
        ("GLOBAL_POSITION_INT", 50),
        ("ATTITUDE", 100),
        ("ATTITUDE_QUATERNION", 50),
        ("SYS_STATUS", 5),
        ("BATTERY_STATUS", 0.5),
        ("EXTENDED_SYS_STATE", 5),
        ("GPS_RAW_INT", 10),
        ("VFR_HUD", 10),
        ("LOCAL_POSITION_NED", 30),
        ("ALTITUDE", 10),
        ("MISSION_CURRENT", 1),
        ("HOME_POSITION", 0.5),
        ("HIGHRES_IMU", 50),
        ("ODOMETRY", 30),
    ],
}


def free_base_port(n: int, start: int = 30000) -> int:
    """A base port with n consecutive free UDP ports, outside PX4's default ranges."""
    return free_udp_block(n, start=start, step=500)


# ----------------------------------------------------------------------------- generator (child)


def _build(mav: Any, name: str, t: float, i: int) -> Any:
    lat, lon = 473977420 + i * 1000, 85455940
    if name == "HEARTBEAT":
        return mav.heartbeat_encode(2, 12, 1 | 16 | 8 | 4, 4 << 16 | 3 << 24, 3, 3)
    if name == "GLOBAL_POSITION_INT":
        return mav.global_position_int_encode(
            int(t * 1000) & 0xFFFFFFFF, lat, lon, 488000, 0, 0, 0, 0, 9000
        )
    if name == "ATTITUDE":
        return mav.attitude_encode(int(t * 1000) & 0xFFFFFFFF, 0.01, 0.02, 1.5, 0, 0, 0)
    if name == "ATTITUDE_QUATERNION":
        return mav.attitude_quaternion_encode(int(t * 1000) & 0xFFFFFFFF, 1, 0, 0, 0, 0, 0, 0)
    if name == "SYS_STATUS":
        return mav.sys_status_encode(0, 0, 0, 500, 16200, -1, 87, 0, 0, 0, 0, 0, 0)
    if name == "BATTERY_STATUS":
        return mav.battery_status_encode(0, 1, 1, 2500, [16200] + [65535] * 9, -1, -1, -1, 87)
    if name == "EXTENDED_SYS_STATE":
        return mav.extended_sys_state_encode(0, 1)
    if name == "GPS_RAW_INT":
        return mav.gps_raw_int_encode(int(t * 1e6), 3, lat, lon, 488000, 80, 120, 0, 0, 12)
    if name == "VFR_HUD":
        return mav.vfr_hud_encode(0, 0, 90, 0, 488, 0)
    if name == "LOCAL_POSITION_NED":
        return mav.local_position_ned_encode(int(t * 1000) & 0xFFFFFFFF, 0, 0, 0, 0, 0, 0)
    if name == "ALTITUDE":
        return mav.altitude_encode(int(t * 1e6), 488, 488, 0, 0, 0, 0)
    if name == "MISSION_CURRENT":
        return mav.mission_current_encode(0, 0, 1, 0)
    if name == "HOME_POSITION":
        return mav.home_position_encode(lat, lon, 488000, 0, 0, 0, [1, 0, 0, 0], 0, 0, 0)
    if name == "HIGHRES_IMU":
        return mav.highres_imu_encode(int(t * 1e6), 0, 0, -9.8, 0, 0, 0, 0, 0, 0, 1013, 0, 0, 20, 0)
    if name == "ODOMETRY":
        return mav.odometry_encode(
            int(t * 1e6), 1, 12, 0, 0, 0, [1, 0, 0, 0], 0, 0, 0, 0, 0, 0, [0.0] * 21, [0.0] * 21
        )
    raise ValueError(name)


class _GenDrone(asyncio.DatagramProtocol):
    def __init__(self, i: int, dest: tuple[str, int]) -> None:
        self.i = i
        self.dest = dest
        self.mav = mavlink.MAVLink(None, i + 1, 1)
        self.rx = mavlink.MAVLink(None, 0, 0)
        self.transport: Any = None
        self.int_mode = False
        self.upload: dict[str, Any] | None = None
        self.stored: dict[int, list[Any]] = {}
        self.params: dict[str, tuple[float, int]] = {}

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def send(self, msg: Any) -> None:
        self.transport.sendto(msg.pack(self.mav), self.dest)
        self.mav.seq = (self.mav.seq + 1) % 256

    def datagram_received(self, data: bytes, addr: Any) -> None:
        for msg in self.rx.parse_buffer(data) or []:
            self.handle(msg)

    def request(self, seq: int, mtype: int) -> None:
        if self.int_mode:
            self.send(self.mav.mission_request_int_encode(245, 190, seq, mtype))
        else:
            self.send(self.mav.mission_request_encode(245, 190, seq, mtype))

    def handle(self, msg: Any) -> None:
        t = msg.get_type()
        if t == "COMMAND_LONG" or t == "COMMAND_INT":
            self.send(self.mav.command_ack_encode(msg.command, 0, 0, 0, 245, 190))
        elif t == "PARAM_SET":
            self.params[msg.param_id] = (msg.param_value, msg.param_type)
            self.send(
                self.mav.param_value_encode(
                    msg.param_id.encode(), msg.param_value, msg.param_type, 1, 0
                )
            )
        elif t == "PARAM_REQUEST_READ" and msg.param_id in self.params:
            v, ty = self.params[msg.param_id]
            self.send(self.mav.param_value_encode(msg.param_id.encode(), v, ty, 1, 0))
        elif t == "MISSION_COUNT":
            self.upload = {"type": msg.mission_type, "count": msg.count, "items": []}
            self.request(0, msg.mission_type)
        elif t == "MISSION_ACK" and self.upload is not None and msg.type == 3:
            self.int_mode = True
            self.request(len(self.upload["items"]), self.upload["type"])
        elif t == "MISSION_ITEM_INT" and self.upload is not None:
            self.int_mode = True
            up = self.upload
            if msg.seq == len(up["items"]):
                up["items"].append(msg)
            if len(up["items"]) == up["count"]:
                self.stored[up["type"]] = up["items"]
                self.upload = None
                self.send(self.mav.mission_ack_encode(245, 190, 0, up["type"]))
            else:
                self.request(len(up["items"]), up["type"])
        elif t == "MISSION_REQUEST_LIST":
            self.send(
                self.mav.mission_count_encode(
                    245, 190, len(self.stored.get(msg.mission_type, [])), msg.mission_type
                )
            )
        elif t == "MISSION_REQUEST_INT":
            items = self.stored.get(msg.mission_type, [])
            if msg.seq < len(items):
                it = items[msg.seq]
                self.send(
                    self.mav.mission_item_int_encode(
                        245,
                        190,
                        it.seq,
                        it.frame,
                        it.command,
                        it.current,
                        it.autocontinue,
                        it.param1,
                        it.param2,
                        it.param3,
                        it.param4,
                        it.x,
                        it.y,
                        it.z,
                        it.mission_type,
                    )
                )


async def generate(n: int, base_port: int, profile: str, duration_s: float) -> None:
    loop = asyncio.get_running_loop()
    drones = []
    for i in range(n):
        _, proto = await loop.create_datagram_endpoint(
            functools.partial(_GenDrone, i, ("127.0.0.1", base_port + i)),
            local_addr=("127.0.0.1", 0),
        )
        drones.append(proto)
    streams = PROFILES[profile]
    next_at = {name: 0.0 for name, _ in streams}
    t0 = time.monotonic()
    tick = 0.01
    while time.monotonic() - t0 < duration_s:
        now = time.monotonic() - t0
        for name, hz in streams:
            if now >= next_at[name]:
                next_at[name] += 1.0 / hz
                for d in drones:
                    d.send(_build(d.mav, name, now, d.i))
        await asyncio.sleep(tick)


# ----------------------------------------------------------------------------- measurement


async def measure_cpu(window_s: float) -> float:
    c0, w0 = cpu_seconds(), time.monotonic()
    await asyncio.sleep(window_s)
    return 100.0 * (cpu_seconds() - c0) / (time.monotonic() - w0)


def spawn_generator(n: int, base: int, profile: str, duration_s: float) -> subprocess.Popen[bytes]:
    """Telemetry source in a child process: our generator, or the simulator (`--profile sim`)."""
    if profile == "sim":
        # dfr-sim fleet: PX4-like drones at PX4's onboard-link rates; drone i sends to base + i.
        api = free_base_port(n + 1, start=base + 1000)
        return subprocess.Popen(
            [
                *DFR_SIM,
                "fleet",
                "--drones",
                str(n),
                "--api-base-port",
                str(api),
                "--client-base-port",
                str(base),
                "--gcs-base-port",
                "0",
                "--control-port",
                str(api + n),
                "--home",
                "47.397742,8.545594,488",
            ],
            stdout=subprocess.DEVNULL,
        )
    return subprocess.Popen(
        [sys.executable, __file__, "_generate", str(n), str(base), profile, str(duration_s)]
    )


async def bench_link(n: int, profile: str, window_s: float) -> dict[str, float]:
    base = free_base_port(n)
    gen = spawn_generator(n, base, profile, duration_s=window_s + 120)
    try:
        async with FleetLink(config=LinkConfig()) as fleet:
            for i in range(n):
                fleet.add_vehicle(VehicleId(f"d{i}"), f"udpin://127.0.0.1:{base + i}", sysid=i + 1)
            async with asyncio.timeout(60):
                while fleet.connected_count() < n:  # noqa: ASYNC110 - polling a count
                    await asyncio.sleep(0.2)
            link0 = fleet.vehicle(VehicleId("d0"))
            m0 = sum(fleet.vehicle(VehicleId(f"d{i}")).health().messages_received for i in range(n))
            async with contextlib.aclosing(fleet.states()) as stream:
                consumer_count = 0

                async def consume() -> None:
                    nonlocal consumer_count
                    async for _ in stream:
                        consumer_count += 1

                async with asyncio.TaskGroup() as tg:
                    task = tg.create_task(consume())
                    cpu_pct = await measure_cpu(window_s)
                    task.cancel()
            m1 = sum(fleet.vehicle(VehicleId(f"d{i}")).health().messages_received for i in range(n))
            rss_mb = psutil.Process().memory_info().rss / 1e6
            rtts = []
            for _ in range(50):
                t = time.perf_counter()
                await link0.hold()
                rtts.append((time.perf_counter() - t) * 1000)
            items = [
                MissionItem(command=MavCmd.NAV_WAYPOINT, x=473977420 + k * 100, y=85455940, z=40.0)
                for k in range(20)
            ]
            up_only, up_verify = [], []
            for _ in range(20):
                t = time.perf_counter()
                # The transfer alone, without the verifying download upload_mission adds.
                await link0._missions._upload(items, items[0].mission_type, "upload mission")
                up_only.append((time.perf_counter() - t) * 1000)
                t = time.perf_counter()
                await link0.upload_mission(items)
                up_verify.append((time.perf_counter() - t) * 1000)
            return {
                "cpu_pct": cpu_pct,
                "msgs_per_s": (m1 - m0) / window_s,
                "states_per_s": consumer_count / window_s,
                "rss_mb": rss_mb,
                "cmd_p50_ms": statistics.median(rtts),
                "upload20_p50_ms": statistics.median(up_only),
                "upload20_verify_p50_ms": statistics.median(up_verify),
            }
    finally:
        gen.terminate()
        gen.wait(10)


async def bench_parse_all(n: int, profile: str, window_s: float) -> dict[str, float]:
    """Baseline: a bare receiver decoding every message with MAVLink.parse_buffer."""
    base = free_base_port(n)
    gen = spawn_generator(n, base, profile, duration_s=window_s + 30)
    loop = asyncio.get_running_loop()
    count = 0

    class Rx(asyncio.DatagramProtocol):
        def __init__(self) -> None:
            self.mav = mavlink.MAVLink(None, 245, 190)

        def datagram_received(self, data: bytes, addr: Any) -> None:
            nonlocal count
            count += len(self.mav.parse_buffer(data) or [])

    transports = []
    try:
        for i in range(n):
            tr, _ = await loop.create_datagram_endpoint(Rx, local_addr=("127.0.0.1", base + i))
            transports.append(tr)
        await asyncio.sleep(2.0)
        c0 = count
        cpu_pct = await measure_cpu(window_s)
        return {"cpu_pct": cpu_pct, "msgs_per_s": (count - c0) / window_s}
    finally:
        for tr in transports:
            tr.close()
        gen.terminate()
        gen.wait(10)


async def bench_mavsdk(n: int, profile: str, window_s: float) -> dict[str, float]:
    """mavsdk 4.1 (ctypes over the C++ core): one Mavsdk, one udpin connection per drone."""
    from mavsdk.asyncio import ComponentType, Configuration, Mavsdk
    from mavsdk.asyncio.plugins.telemetry import TelemetryAsync

    base = free_base_port(n)
    gen = spawn_generator(n, base, profile, duration_s=window_s + 120)
    received = 0
    try:
        sdk = Mavsdk(Configuration.create_with_component_type(ComponentType.GROUND_STATION))
        async with sdk:
            for i in range(n):
                await sdk.add_any_connection(f"udpin://127.0.0.1:{base + i}")
            async with asyncio.timeout(60):
                while len(await sdk.get_systems()) < n:  # noqa: ASYNC110 - polling a count
                    await asyncio.sleep(0.5)
            systems = await sdk.get_systems()

            async def follow(system: Any) -> None:
                nonlocal received
                telem = TelemetryAsync(system)
                async for _ in telem.subscribe_position():
                    received += 1

            async with asyncio.TaskGroup() as tg:
                tasks = [tg.create_task(follow(s)) for s in systems]
                await asyncio.sleep(2.0)
                r0 = received
                cpu_pct = await measure_cpu(window_s)
                r1 = received
                threads = psutil.Process().num_threads()
                rss_mb = psutil.Process().memory_info().rss / 1e6
                for t in tasks:
                    t.cancel()
        return {
            "cpu_pct": cpu_pct,
            "positions_per_s": (r1 - r0) / window_s,
            "threads": threads,
            "rss_mb": rss_mb,
        }
    finally:
        gen.terminate()
        gen.wait(10)


def run_in_child(kind: str, n: int, profile: str, window_s: float) -> dict[str, float]:
    """Each measurement in a fresh process, so RSS and CPU are not mixed."""
    out = subprocess.run(
        [sys.executable, __file__, "_measure", kind, str(n), profile, str(window_s)],
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    return dict(eval(out.stdout.strip().splitlines()[-1]))  # noqa: S307 - our own child's repr


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--drones", type=int, nargs="*", default=[50, 200])
    parser.add_argument("--profile", choices=[*sorted(PROFILES), "sim"], default="normal")
    parser.add_argument("--window-s", type=float, default=10.0)
    parser.add_argument("--compare-mavsdk", action="store_true")
    args = parser.parse_args()
    for n in args.drones:
        if not 1 <= n <= 500:
            parser.error("--drones must be 1..500")
        print(f"== {n} drones, profile {args.profile}, window {args.window_s:.0f} s ==")
        link = run_in_child("link", n, args.profile, args.window_s)
        base = run_in_child("parse_all", n, args.profile, args.window_s)
        print(
            f"link: CPU {link['cpu_pct']:.1f} % of one core, {link['msgs_per_s']:.0f} msg/s in, "
            f"{link['states_per_s']:.0f} states/s out, RSS {link['rss_mb']:.0f} MB"
        )
        print(
            f"      command round trip p50 {link['cmd_p50_ms']:.2f} ms, mission upload 20 items p50 "
            f"{link['upload20_p50_ms']:.1f} ms ({link['upload20_verify_p50_ms']:.1f} ms with download+compare)"
        )
        print(
            f"baseline parse_buffer-all: CPU {base['cpu_pct']:.1f} % at {base['msgs_per_s']:.0f} msg/s "
            f"-> link/baseline CPU ratio {link['cpu_pct'] / max(base['cpu_pct'], 0.01):.2f}"
        )
        if args.compare_mavsdk:
            try:
                sdk = run_in_child("mavsdk", n, args.profile, args.window_s)
                print(
                    f"mavsdk 4.1: CPU {sdk['cpu_pct']:.1f} %, {sdk['positions_per_s']:.0f} positions/s, "
                    f"{sdk['threads']:.0f} threads, RSS {sdk['rss_mb']:.0f} MB "
                    f"-> link/mavsdk CPU ratio {link['cpu_pct'] / max(sdk['cpu_pct'], 0.01):.2f}"
                )
            except subprocess.SubprocessError as exc:
                print(f"mavsdk 4.1: failed ({exc})")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "_generate":
        asyncio.run(generate(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], float(sys.argv[5])))
    elif len(sys.argv) > 1 and sys.argv[1] == "_measure":
        kind, n, profile, window = sys.argv[2], int(sys.argv[3]), sys.argv[4], float(sys.argv[5])
        fn = {"link": bench_link, "parse_all": bench_parse_all, "mavsdk": bench_mavsdk}[kind]
        print(repr(asyncio.run(fn(n, profile, window))))
    else:
        main()
