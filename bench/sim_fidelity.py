"""Phase times of the simulator against the PX4 SITL (SIH) reference flights.

Flies the two reference flights (a: 430 m NE, b: 1.5 km N; 121.92 m; DO_CHANGE_SPEED 12 m/s; RTL on
scene) on one simulated drone with a stepped clock and prints each phase next to PX4's, both as
recorded (wall clock) and in PX4's vehicle time (the SITL ran slower than real time in parts).

    python bench/sim_fidelity.py
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from simulator.vehicle.fidelity import LEG_A, LEG_B, FlightLog, fly_reference

REFERENCE = Path(__file__).parent.parent / "tests/simulator/vehicle/data/px4_reference_phases.json"
PHASES = {
    "takeoff_arm_to_cruise_alt": ("armed", "cruise_alt"),
    "leg_cruise_alt_to_on_scene": ("cruise_alt", "on_scene"),
    "rtl_transit_to_over_home": ("on_scene", "over_home"),
    "descent_over_home_to_10m": ("over_home", "at_10m"),
    "landing_10m_to_on_ground": ("at_10m", "on_ground"),
}


def main() -> None:
    """Print the table."""
    ref = json.loads(REFERENCE.read_text())["phases"]
    started = time.perf_counter()
    logs: dict[str, FlightLog] = {leg.name: fly_reference(leg) for leg in (LEG_A, LEG_B)}
    cpu_s = time.perf_counter() - started
    print(
        "| phase | flight | PX4 wall s | PX4 vehicle s | sim s | sim / PX4 vehicle | sim / PX4 wall |"
    )
    print("|---|---|---|---|---|---|---|")
    for phase, (start, end) in PHASES.items():
        for name, log in logs.items():
            r = ref[phase][name]
            wall, vehicle = r["wall_s"], r["wall_s"] * r["clock"]
            sim = log.phase_s(start, end)
            print(
                f"| {phase} | {name} | {wall:.1f} | {vehicle:.1f} | {sim:.1f} "
                f"| {sim / vehicle:.2f} | {sim / wall:.2f} |"
            )
    for name, log in logs.items():
        ev = log.events_s
        print(
            f"flight {name}: armed->airborne {ev['airborne'] - ev['armed']:.1f} s, "
            f"touchdown->ON_GROUND {ev['on_ground'] - ev['touchdown']:.1f} s, "
            f"RTL->ON_GROUND {ev['on_ground'] - ev['on_scene']:.1f} s"
        )
    print(f"both flights simulated in {cpu_s:.1f} s of CPU")


if __name__ == "__main__":
    main()
