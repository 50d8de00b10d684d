"""End-to-end dispatch figures over real sockets: CAD POST -> mission started, and time to scene.

Phase 1 (time x1, so service timestamps are wall time): a simulated fleet of N drones (default 20) at
the three demo docks and `dfr serve`; calls are posted one at a time as the CAD would, each a burglary
in progress that the policy auto-launches. Measured per call: the CAD POST's answer (the call is
durable), the stored dispatch decision, the flight stored ("planned": decided and planned), each
launch step as the service timed it (its "mission started" note: fence and rally points — checked,
or uploaded when they changed —, mission upload, arm, mission start) and the flight event "mission
started" (the vehicle accepted AUTO.MISSION).

Phase 2 (time x`--speedup`, 4 drones): calls at 0.8-2.5 km; time from the mission start to on scene
(both in vehicle time) against the physical lower bound: climb to the planned altitude at the drone's
climb rate plus the straight horizontal distance at its cruise speed.

    python bench/e2e.py [--drones 20 --calls 20 --speedup 10 --scene-calls 4 --phase both]
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from pyproj import Geod

# Run as a script, bench/ is first on sys.path and its files would shadow packages of the same
# name; the repository root takes its place (bench.harness, tests).
_HERE = Path(__file__).resolve().parent
sys.path[:] = [str(_HERE.parent), *(p for p in sys.path if Path(p or ".").resolve() != _HERE)]

from bench.harness import DFR_SIM, free_tcp_port, free_udp_block  # noqa: E402

GEOD = Geod(ellps="WGS84")
DOCKS = [
    ("sand-creek", "Sand Creek Division", 38.8339, -104.7470, 1840.0),
    ("gold-hill", "Gold Hill Division", 38.8253, -104.8383, 1860.0),
    ("stetson-hills", "Stetson Hills Division", 38.8957, -104.7178, 1960.0),
]
# Scenes clear of the demo keep-outs, 0.8-2.5 km from a dock.
SCENES = [
    (38.8450, -104.7600),
    (38.8420, -104.8250),
    (38.9050, -104.7350),
    (38.8550, -104.7450),
    (38.8150, -104.8500),
    (38.8850, -104.7050),
]


def _fleet_toml(drones: int, base_port: int) -> str:
    lines = [
        'zones = ["package:geofence/data/colorado_springs/zones.geojson",',
        '  "package:geofence/data/colorado_springs/uasfm_kcos.geojson"]',
        '[agency]\nid = "cspd"\nname = "Colorado Springs Police Department"',
        'timezone = "America/Denver"',
        # Night operations approved (as the demo agency): the bench does not depend on the hour.
        "[policy]\nnight_waiver = true",
    ]
    for dock_id, name, lat, lon, alt in DOCKS:
        lines.append(
            f'[[docks]]\nid = "{dock_id}"\nname = "{name}"\nlat = {lat}\nlon = {lon}\n'
            f"alt_amsl_m = {alt}"
        )
    for i in range(drones):
        dock = DOCKS[i % len(DOCKS)][0]
        lines.append(
            f'[[drones]]\nid = "B{i + 1:02d}"\ndock = "{dock}"\n'
            f'mavlink_url = "udpin://127.0.0.1:{base_port + i}"\n'
            "cruise_speed_mps = 15.0\nclimb_rate_mps = 4.0\nendurance_s = 2400"
        )
    return "\n".join(lines) + "\n"


class Stack:
    """A simulated fleet and the service, as child processes on free ports."""

    def __init__(self, workdir: Path, drones: int, speedup: float) -> None:
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.speedup = speedup
        self.fleet_file = workdir / "fleet.toml"
        # Each drone's link port, and the simulator's side of it 40 above.
        base_port = free_udp_block(drones, start=33000, stop=45000, step=211, offsets=(0, 40))
        self.fleet_file.write_text(_fleet_toml(drones, base_port))
        self.data_dir = workdir / "data"
        self.port = free_tcp_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.procs: list[subprocess.Popen[bytes]] = []
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("DFR_")}

    def _dfr(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "dfr", *args]

    def token(self, role: str) -> str:
        out = subprocess.run(
            self._dfr(
                "token",
                "create",
                "--role",
                role,
                "--name",
                f"bench-{role}-{time.time_ns()}",
                "--data-dir",
                str(self.data_dir),
            ),
            capture_output=True,
            text=True,
            check=True,
            env=self.env,
            timeout=120,
        )
        return out.stdout.strip()

    def client(self, role: str) -> httpx.Client:
        """An HTTP client of the service holding a new token of `role`."""
        return httpx.Client(
            base_url=self.base, headers={"Authorization": f"Bearer {self.token(role)}"}, timeout=30
        )

    def start(self) -> None:
        sim = [
            *DFR_SIM,
            "fleet",
            "--fleet",
            str(self.fleet_file),
            "--speedup",
            str(self.speedup),
            "--gcs-base-port",
            "0",
            "--control-port",
            str(free_tcp_port()),
        ]
        self.procs.append(
            subprocess.Popen(
                sim, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=self.env
            )
        )
        env = {**self.env, "DFR_SPEEDUP": str(self.speedup), "DFR_WEATHER__STATIC_WIND_MPS": "3"}
        log = (self.workdir / "serve.log").open("wb")
        self.procs.append(
            subprocess.Popen(
                self._dfr(
                    "serve",
                    "--port",
                    str(self.port),
                    "--data-dir",
                    str(self.data_dir),
                    "--fleet",
                    str(self.fleet_file),
                ),
                stdout=log,
                stderr=log,
                env=env,
            )
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{self.base}/api/v1/health", timeout=2).status_code == 200:
                    return
            time.sleep(0.2)
        raise RuntimeError("the service did not start")

    def stop(self) -> None:
        for proc in reversed(self.procs):
            proc.send_signal(signal.SIGINT)
        for proc in self.procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


@contextlib.contextmanager
def running(workdir: Path, drones: int, speedup: float) -> Iterator[Stack]:
    stack = Stack(workdir, drones, speedup)
    try:
        stack.start()
        yield stack
    finally:
        stack.stop()


def _call(n: int, lat: float, lon: float) -> dict[str, Any]:
    return {
        "cad_incident_id": f"BENCH-{n:05d}",
        "agency": "cspd",
        "call_type": "BURGLARY",
        "call_type_text": "Burglary in progress",
        "priority": 1,
        "location": {"lat": lat, "lon": lon},
        "received_at": datetime.now(UTC).isoformat(),
        "status": "Active",
        "flags": {"in_progress": True, "outdoor": True},
    }


def _wait(fn: Any, timeout_s: float, *args: Any) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = fn(*args)
        if value is not None and value is not False:
            return value
        time.sleep(0.02)
    return None


def _decision_ready(client: httpx.Client, call_id: int) -> bool:
    return client.get(f"/api/v1/calls/{call_id}/decision").status_code == 200


def _flight_with(client: httpx.Client, call_id: int, marker: str) -> dict[str, Any] | None:
    flight = _flight_of(client, call_id)
    return flight if flight is not None and _event_at(flight, marker) else None


def _all_connected(client: httpx.Client, count: int) -> bool:
    drones = client.get("/api/v1/drones").json()["data"]
    return sum(1 for d in drones if d["live"] and d["live"]["link"] == "connected") == count


def _flight_of(client: httpx.Client, call_id: int) -> dict[str, Any] | None:
    for flight in client.get("/api/v1/flights", params={"limit": 500}).json()["data"]:
        if flight["call_id"] == call_id:
            detail: dict[str, Any] = client.get(f"/api/v1/flights/{flight['id']}").json()
            return detail
    return None


def _event_at(flight: dict[str, Any], prefix: str) -> datetime | None:
    for event in flight["events"]:
        if event["reason"].startswith(prefix) or event["to_state"] == prefix:
            return datetime.fromisoformat(event["at"].replace("Z", "+00:00"))
    return None


def _launch_steps(flight: dict[str, Any]) -> dict[str, float]:
    """The service's own timing of each launch step, from the "mission started" note."""
    for event in flight["events"]:
        reason = event["reason"]
        if reason.startswith("mission started") and "(" in reason:
            inside = reason[reason.index("(") + 1 : reason.rindex(")")]
            steps: dict[str, float] = {}
            for part in inside.split(";", 1)[-1].split(","):
                name, _, value = part.strip().rpartition(" ")
                if value == "ms" and name:
                    step, _, number = name.rpartition(" ")
                    with contextlib.suppress(ValueError):
                        steps[step] = float(number)
            return steps
    return {}


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def phase_dispatch(workdir: Path, drones: int, calls: int) -> None:
    with running(workdir / "p1", drones, 1.0) as stack:
        cad, desk = stack.client("cad"), stack.client("dispatcher")
        _wait(_all_connected, 60, desk, drones)
        post_ms: list[float] = []
        decision_ms: list[float] = []
        planned_ms: list[float] = []
        start_ms: list[float] = []
        steps: dict[str, list[float]] = {}
        for n in range(calls):
            lat, lon = SCENES[n % len(SCENES)]
            t0 = datetime.now(UTC)
            m0 = time.monotonic()
            answer = cad.post("/api/v1/cad/incidents", json=_call(n, lat, lon))
            post_ms.append((time.monotonic() - m0) * 1000)
            call_id = answer.json()["id"]
            if _wait(_decision_ready, 30, desk, call_id):
                decision_ms.append((time.monotonic() - m0) * 1000)
            flight = _wait(_flight_with, 60, desk, call_id, "mission started")
            if flight is None:
                print(f"call {n}: no mission start within 60 s")
                continue
            started = _event_at(flight, "mission started")
            planned = _event_at(flight, "planned")
            assert started is not None
            start_ms.append((started - t0).total_seconds() * 1000)
            if planned is not None:
                planned_ms.append((planned - t0).total_seconds() * 1000)
            for step, ms in _launch_steps(flight).items():
                steps.setdefault(step, []).append(ms)
        cad.close()
        desk.close()
    print(f"\n## CAD POST -> mission started ({drones} drones connected, {calls} calls, time x1)")
    rows = [
        ("CAD POST answered (call durable)", post_ms),
        ("decision visible (polled every 20 ms)", decision_ms),
        ("POST -> decided and flight planned", planned_ms),
        *((f"  step: {step}", values) for step, values in steps.items()),
        ("POST -> MISSION_START accepted", start_ms),
    ]
    for name, values in rows:
        if values:
            print(
                f"{name:40s} p50 {statistics.median(values):8.1f} ms   p99 {_pct(values, 0.99):8.1f} ms   n={len(values)}"
            )


def phase_scene(workdir: Path, speedup: float, scene_calls: int) -> None:
    ratios: list[float] = []
    with running(workdir / "p2", 4, speedup) as stack:
        cad, desk = stack.client("cad"), stack.client("dispatcher")
        _wait(_all_connected, 60, desk, 4)
        call_ids = []
        for n in range(scene_calls):
            lat, lon = SCENES[n % len(SCENES)]
            call_ids.append(
                cad.post("/api/v1/cad/incidents", json=_call(1000 + n, lat, lon)).json()["id"]
            )
            time.sleep(0.5)
        for call_id in call_ids:
            flight = _wait(_flight_with, 600 / speedup + 60, desk, call_id, "on_scene")
            if flight is None:
                print(f"call {call_id}: not on scene in time")
                continue
            started = _event_at(flight, "mission started")
            on_scene = _event_at(flight, "on_scene")
            assert started is not None and on_scene is not None
            drone = desk.get(f"/api/v1/drones/{flight['drone_id']}").json()
            dock = next(d for d in DOCKS if d[0] == drone["dock_id"])
            _, _, dist = GEOD.inv(dock[3], dock[2], flight["target_lon"], flight["target_lat"])
            alts = [
                f["properties"]["alt_agl_m"]
                for f in flight["route"]["features"]
                if f["properties"].get("phase") == "out"
            ]
            bound = (
                max(alts) / drone["climb_rate_mps"]
                + (dist - flight["orbit_radius_m"]) / drone["cruise_speed_mps"]
            )
            took = (on_scene - started).total_seconds()
            ratios.append(took / bound)
            print(
                f"call {call_id}: {dist:6.0f} m, on scene after {took:6.1f} s (vehicle time), lower bound {bound:6.1f} s, ratio {took / bound:4.2f}"
            )
        cad.close()
        desk.close()
    if ratios:
        print(
            f"time to scene / physical lower bound: mean {statistics.mean(ratios):.2f}, max {max(ratios):.2f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--drones", type=int, default=20)
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--speedup", type=float, default=10.0)
    parser.add_argument("--scene-calls", type=int, default=4)
    parser.add_argument(
        "--phase", choices=("dispatch", "scene", "both"), default="both", help="which phase to run"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="dfr-bench-e2e-") as tmp:
        if args.phase in ("dispatch", "both"):
            phase_dispatch(Path(tmp), args.drones, min(args.calls, args.drones))
        if args.phase in ("scene", "both"):
            phase_scene(Path(tmp), args.speedup, min(args.scene_calls, 4))


if __name__ == "__main__":
    main()
