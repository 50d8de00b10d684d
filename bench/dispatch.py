"""Dispatch decision time for a fleet of drones: the full policy against a trivial nearest-drone pick.

    python bench/dispatch.py [--drones 20 --calls 5000 --seed 7]

Each decision evaluates every rule for the call and every drone (call type, weather, availability,
launch battery, radius, round-trip energy, civil twilight, airspace, altitude, TFR) from precomputed
route facts, as the service does after planning. The baseline, timed in the same run on the same
calls, only picks the nearest docked drone by geodesic distance. Bounded by --calls.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

# Run as a script, bench/ is first on sys.path and its files would shadow packages of the same
# name; the repository root takes its place (bench.harness, tests).
_HERE = Path(__file__).resolve().parent
sys.path[:] = [str(_HERE.parent), *(p for p in sys.path if Path(p or ".").resolve() != _HERE)]

from bench.harness import pct  # noqa: E402
from dfr.dispatch import (  # noqa: E402
    AgencyPolicy,
    Assignment,
    CallFacts,
    DispatchDecision,
    DockFacts,
    DroneFacts,
    RouteFacts,
    WeatherFacts,
    evaluate,
    plan_route_facts,
)
from geofence import GeoPoint, colorado_springs_airspace, distance_m  # noqa: E402
from tests.dfr.dispatch.builders import (  # noqa: E402
    DENVER,
    GOLD_HILL,
    SAND_CREEK,
    call_at,
    drone,
    open_route,
)

STETSON_HILLS = DockFacts(
    "stetson-hills", "Stetson Hills Division", GeoPoint(38.8957, -104.7178), 3218.7
)
DOCKS = (SAND_CREEK, GOLD_HILL, STETSON_HILLS)
CALL_TYPES = ("BURGLARY", "ROBBERY", "SHOTS", "SUSP", "WELFARE", "MVA", "NONEMERG", "ALARM")


def fleet(count: int, rng: random.Random) -> list[DroneFacts]:
    """Demo-fleet drones spread over the docks; some busy, low, off-link or in maintenance."""
    drones = []
    for i in range(count):
        dock = DOCKS[i % len(DOCKS)]
        busy = rng.random() < 0.15
        drones.append(
            drone(
                f"D{i + 1}",
                dock,
                name=f"{dock.name.split()[0]} {i + 1}",
                battery_pct=rng.uniform(25.0, 100.0),
                link_up=rng.random() > 0.05,
                docked=not busy,
                in_maintenance=rng.random() < 0.05,
                assignment=Assignment("C0", priority=4) if busy else None,
            )
        )
    return drones


def calls(count: int, rng: random.Random) -> list[CallFacts]:
    """Calls 100 m to 4.5 km from a random dock."""
    out = []
    for i in range(count):
        dock = rng.choice(DOCKS)
        bearing_deg, distance = rng.uniform(0, 360), rng.uniform(100, 4500)
        out.append(
            call_at(
                distance,
                dock=dock,
                bearing_deg=bearing_deg,
                call_id=f"C{i + 1}",
                call_type=rng.choice(CALL_TYPES),
                priority=rng.randint(1, 4),
                in_progress=rng.random() < 0.5,
            )
        )
    return out


def routes_for(call: CallFacts, drones: Sequence[DroneFacts]) -> dict[str, RouteFacts]:
    # What the planner would hand over: length, plan time and energy, ceiling.
    out = {}
    for d in drones:
        length = distance_m(d.dock.location, call.location) * 1.05
        out[d.drone_id] = open_route(
            length_m=length,
            cruise_alt_agl_m=90.0,
            plan_eta_s=22.5 + length / 15.0,
            plan_energy_wh=(220.0 * 2 * length / 15.0 + 250.0 * (45.0 + 300.0)) / 3600.0,
            plan_on_scene_s=300.0,
        )
    return out


def nearest_docked(call: CallFacts, drones: Sequence[DroneFacts]) -> str | None:
    best, best_d = None, float("inf")
    for d in drones:
        if not d.docked:
            continue
        dist = distance_m(d.dock.location, call.location)
        if dist < best_d:
            best, best_d = d.drone_id, dist
    return best


def timed(fn: Callable[[], object]) -> tuple[float, float]:
    """(wall ms, this thread's CPU ms): CPU time leaves out waits for a core on a busy machine."""
    wall, cpu = time.perf_counter_ns(), time.thread_time_ns()
    fn()
    return (time.perf_counter_ns() - wall) / 1e6, (time.thread_time_ns() - cpu) / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--drones", type=int, default=20)
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--planned-calls",
        type=int,
        default=100,
        help="also time this many decisions that plan every route on the demo airspace (0: skip)",
    )
    args = parser.parse_args()
    rng = random.Random(args.seed)
    drones = fleet(args.drones, rng)
    workload = calls(max(1, min(args.calls, 100_000)), rng)
    routes = [routes_for(c, drones) for c in workload]
    agency = AgencyPolicy()
    start = datetime(2026, 6, 21, 14, 0, tzinfo=UTC)
    # Calls 17 s apart across one day from 08:00 MDT: daylight, twilight and night all occur.
    times = [start + timedelta(seconds=i * 17) for i in range(len(workload))]
    weathers = [WeatherFacts(t, "static", 5.0, 8.0, 16_000.0, (), 5000.0) for t in times]

    def decide(i: int, plan: Callable[[DroneFacts], RouteFacts] | None = None) -> DispatchDecision:
        return evaluate(
            workload[i],
            drones,
            routes=routes[i] if plan is None else plan,
            weather=weathers[i],
            agency=agency,
            now=times[i],
            tz=DENVER,
        )

    for i in range(min(100, len(workload))):  # warm-up: imports, caches
        decide(i)
        nearest_docked(workload[i], drones)
    policy_ms: list[float] = []
    policy_cpu_ms: list[float] = []
    baseline_ms: list[float] = []
    eligible = 0
    for i, call in enumerate(workload):  # interleaved so machine load hits both alike
        wall, cpu = timed(lambda i=i: decide(i))
        policy_ms.append(wall)
        policy_cpu_ms.append(cpu)
        baseline_ms.append(timed(lambda call=call: nearest_docked(call, drones))[0])
    for i in range(len(workload)):
        eligible += decide(i).eligible
    p50, p99 = pct(policy_ms, 0.50), pct(policy_ms, 0.99)
    b50, b99 = pct(baseline_ms, 0.50), pct(baseline_ms, 0.99)
    print(f"dispatch decision, {len(drones)} drones, {len(workload)} calls ({eligible} eligible)")
    print(
        f"  policy   p50 {p50:.3f} ms  p99 {p99:.3f} ms  mean {statistics.fmean(policy_ms):.3f} ms  max {max(policy_ms):.3f} ms"
    )
    print(
        f"  policy CPU p50 {pct(policy_cpu_ms, 0.5):.3f} ms  p99 {pct(policy_cpu_ms, 0.99):.3f} ms"
        "  (thread CPU time: without waiting for a core)"
    )
    print(f"  baseline p50 {b50:.3f} ms  p99 {b99:.3f} ms  (nearest docked drone only)")
    print(f"  ratio policy/baseline: p50 {p50 / b50:.1f}x  p99 {p99 / b99:.1f}x")
    print(f"  target p99 <= 10 ms: {'met' if p99 <= 10.0 else 'NOT met'}")
    planned = min(args.planned_calls, len(workload), 1000)
    if planned > 0:
        airspace = colorado_springs_airspace()
        planned_ms: list[float] = []
        for i in range(planned):

            def plan(d: DroneFacts, i: int = i) -> RouteFacts:
                return plan_route_facts(
                    d.dock.location,
                    workload[i].location,
                    airspace,
                    d,
                    times[i],
                    on_scene_min=agency.on_scene_min,
                )[0]

            planned_ms.append(timed(lambda i=i, plan=plan: decide(i, plan))[0])
        print(
            f"  with route planning inside (demo airspace, {planned} calls): "
            f"p50 {pct(planned_ms, 0.5):.1f} ms  p99 {pct(planned_ms, 0.99):.1f} ms"
            "  (planning only for drones that could take the call)"
        )


if __name__ == "__main__":
    main()
