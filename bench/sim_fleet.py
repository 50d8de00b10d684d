"""Bench: 100 simulated drones at 1x (CPU % of one core, RSS per drone) and the achievable speed-up for 4 drones.

Usage: python bench/sim_fleet.py [--drones 100] [--seconds 20] [--gcs]
Ports are free high ports (never PX4's defaults). A receiver socket per drone drains what it sends.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path

import psutil

# Run as a script, bench/ is first on sys.path and its files would shadow packages of the same
# name; the repository root takes its place (bench.harness, tests).
_HERE = Path(__file__).resolve().parent
sys.path[:] = [str(_HERE.parent), *(p for p in sys.path if Path(p or ".").resolve() != _HERE)]

from bench.harness import cpu_seconds, free_udp_block  # noqa: E402
from simulator.vehicle import FlightMode, SimFleet, build_fleet_config  # noqa: E402
from simulator.vehicle.navigator import Orbit  # noqa: E402

HOME = (47.397742, 8.545594, 488.0)


class _Sink(asyncio.DatagramProtocol):
    count = 0

    def datagram_received(self, data: bytes, addr: object) -> None:
        _Sink.count += 1


async def run(
    drones: int, seconds: float, speedup: float, gcs: bool, rss0: int
) -> dict[str, float]:
    # Above PX4's ranges, spread by pid so concurrent runs rarely probe the same ports; the client
    # and GCS blocks follow it, below 65536.
    start = 40000 + (os.getpid() % 1000) * 20
    api = free_udp_block(drones, start=start, step=drones + 1, stop=65436 - 3 * drones)
    client = api + drones + 50
    gcs_base = api + 2 * drones + 100 if gcs else None
    cfg = build_fleet_config(
        drones,
        [HOME],
        speedup=speedup,
        api_base_port=api,
        client_base_port=client,
        gcs_base_port=gcs_base,
        gcs_remote_port=client - 1,
    )
    loop = asyncio.get_running_loop()
    sinks = []
    for i in range(drones):
        t, _ = await loop.create_datagram_endpoint(_Sink, local_addr=("127.0.0.1", client + i))
        sinks.append(t)
    proc = psutil.Process()
    async with SimFleet(cfg) as fleet:
        for d in (
            fleet.drones
        ):  # every drone flies 50 m circles at 8 m/s, 30 m up, so physics and nav work
            now = fleet.clock.now_s()
            d.arm(now, True, "bench")
            d.nav.orbit = Orbit(0.0, 0.0, 50.0, 8.0, 30.0)
            d.set_mode(FlightMode.ORBIT, now)
        await asyncio.sleep(1.0)  # settle
        _Sink.count = 0
        cpu0 = cpu_seconds(proc)
        wall0 = time.perf_counter()
        sim0 = min(d.snapshot().time_s for d in fleet.drones)
        ticks0 = fleet.ticks
        await asyncio.sleep(seconds)
        cpu1 = cpu_seconds(proc)
        wall = time.perf_counter() - wall0
        sim = (
            min(d.snapshot().time_s for d in fleet.drones) - sim0
        )  # physics time actually simulated
        sent = sum(d.stats()["tx_messages"] for d in fleet.drones)
        phys_lag = max(fleet.clock.now_s() - d.snapshot().time_s for d in fleet.drones)
        flying = sum(1 for d in fleet.drones if d.snapshot().alt_rel_home_m > 5.0 and d.armed)
        ticks = fleet.ticks - ticks0
    for t in sinks:
        t.close()
    cpu = (cpu1 - cpu0) / wall * 100
    rss = proc.memory_info().rss
    return {
        "drones": drones,
        "speedup": speedup,
        "wall_s": wall,
        "sim_s": sim,
        "cpu_pct_one_core": cpu,
        "rss_mb": rss / 2**20,
        "rss_per_drone_mb": (rss - rss0) / 2**20 / drones,
        "msgs_received_per_s": _Sink.count / wall,
        "msgs_sent_total": sent,
        "ticks_per_wall_s": ticks / wall,
        "physics_lag_s": phys_lag,
        "flying": flying,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--drones", type=int, default=100)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--gcs", action="store_true", help="also run each drone's GCS link")
    args = ap.parse_args()
    rss0 = psutil.Process().memory_info().rss
    print(f"baseline RSS before fleet: {rss0 / 2**20:.1f} MB")
    r = asyncio.run(run(args.drones, args.seconds, 1.0, args.gcs, rss0))
    print(
        f"[1x] {r['drones']} drones for {r['wall_s']:.1f} s: CPU {r['cpu_pct_one_core']:.1f} % of one core "
        f"(target <= 50), RSS {r['rss_mb']:.1f} MB, {r['rss_per_drone_mb']:.2f} MB per drone (target <= 3), "
        f"{r['msgs_received_per_s']:.0f} msg/s delivered, {r['ticks_per_wall_s']:.1f} ticks/s, "
        f"physics lag {r['physics_lag_s']:.3f} s, {r['flying']} flying"
        + (" (GCS links on)" if args.gcs else "")
    )
    for speedup in (20.0, 50.0):
        s = asyncio.run(run(4, 10.0, speedup, False, rss0))
        ratio = s["sim_s"] / s["wall_s"]
        print(
            f"[{speedup:.0f}x] 4 drones: {s['sim_s']:.1f} sim s in {s['wall_s']:.1f} wall s = {ratio:.1f}x achieved "
            f"(target >= 20), CPU {s['cpu_pct_one_core']:.1f} %, physics lag {s['physics_lag_s']:.3f} s, "
            f"{s['msgs_received_per_s']:.0f} msg/s"
        )


if __name__ == "__main__":
    main()
