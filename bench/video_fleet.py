"""CPU cost of `dfr-sim fleet --camera` (the demo fleet's 4 drones), against the same fleet without cameras.

Runs each variant as a child process on free loopback ports (never PX4's), samples its CPU time over
`--seconds`, and prints both figures and their ratio. Bounded: two runs of `--seconds` each.
"""

from __future__ import annotations

import argparse
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

# Run as a script, bench/ is first on sys.path and its files would shadow packages of the same
# name; the repository root takes its place (bench.harness, tests).
_HERE = Path(__file__).resolve().parent
sys.path[:] = [str(_HERE.parent), *(p for p in sys.path if Path(p or ".").resolve() != _HERE)]

from bench.harness import DFR_SIM, cpu_seconds  # noqa: E402
from dfr.fleet import DEMO_FLEET_FILE  # noqa: E402


def _free_udp_port(used: set[int], offset: int = 0) -> int:
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if port >= 20000 and port + offset < 65536 and not {port, port + offset} & used:
            used.update({port, port + offset})
            return port


def _fleet_file(directory: Path) -> Path:
    used: set[int] = set()
    text = DEMO_FLEET_FILE.read_text(encoding="utf-8")
    text = re.sub(
        r"udpin://127\.0\.0\.1:\d+", lambda _: f"udpin://127.0.0.1:{_free_udp_port(used, 40)}", text
    )
    text = re.sub(
        r"udp://127\.0\.0\.1:\d+", lambda _: f"udp://127.0.0.1:{_free_udp_port(used)}", text
    )
    path = directory / "fleet.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _cpu_percent(argv: list[str], warmup_s: float, seconds: float) -> float:
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(warmup_s)
        if proc.poll() is not None:
            raise SystemExit(f"{argv} exited early")
        p = psutil.Process(proc.pid)
        before, t0 = cpu_seconds(p), time.monotonic()
        time.sleep(seconds)
        return 100.0 * (cpu_seconds(p) - before) / (time.monotonic() - t0)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def main() -> None:
    """Measure and print."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--camera-size", default="640x360")
    parser.add_argument("--camera-fps", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        fleet = _fleet_file(Path(tmp))
        control = str(_free_udp_port(set()))
        base = [*DFR_SIM, "fleet", "--fleet", str(fleet), "--speedup", "5"]
        base += ["--gcs-base-port", "0", "--control-port", control]
        camera = ["--camera", "--camera-size", args.camera_size]
        camera += ["--camera-fps", str(args.camera_fps)]
        plain = _cpu_percent(base, 4.0, args.seconds)
        with_camera = _cpu_percent(base + camera, 4.0, args.seconds)
    sys.stdout.write(
        f"4 simulated drones, speed-up 5, {args.seconds:g} s sampled\n"
        f"  without cameras: {plain:5.1f} % of one core\n"
        f"  with cameras ({args.camera_size} @ {args.camera_fps} fps): {with_camera:5.1f} %"
        f" of one core (x{with_camera / max(plain, 0.1):.1f}; cameras add"
        f" {with_camera - plain:.1f} %, {(with_camera - plain) / 4:.1f} % per drone)\n"
    )


if __name__ == "__main__":
    main()
