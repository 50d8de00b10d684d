"""Stream latency and memory: publisher in the service -> WebSocket clients, over real loopback.

    python bench/e2e_stream.py            # 100 drones x 10 Hz, 200 clients, one client stalled 60 s
    python bench/e2e_stream.py --short    # CI size: 20 drones, 20 clients, 10 s stall

The service runs in a child process (real uvicorn on 127.0.0.1, a free port) with a component that
publishes drone frames, staggered over each period like real links. Latency = client receive time -
the frame's `last_seen` (set at publish; same host clock). Phase 1 measures a single client (the
baseline); phase 2 the full client count; phase 3 stops reading on one extra client while the
others go on, and prints the service's RSS over time. Every phase is bounded in time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil
import websockets

# Run as a script, bench/ is first on sys.path and its files would shadow packages of the same
# name; the repository root takes its place (bench.harness, tests).
_HERE = Path(__file__).resolve().parent
sys.path[:] = [str(_HERE.parent), *(p for p in sys.path if Path(p or ".").resolve() != _HERE)]

from bench.harness import ROOT, free_tcp_port, pct, service_token, wait_listening  # noqa: E402

# --- service side ------------------------------------------------------------------------------


def serve(port: int, data_dir: Path, drones: int, rate_hz: float) -> None:
    import uvicorn

    from dfr.fleet import DEMO_FLEET_FILE
    from dfr.main import create_app
    from dfr.service import Run, Service
    from dfr.settings import Settings
    from telemetry import DroneFrame, drone_message

    def publisher(service: Service) -> Any:
        @asynccontextmanager
        async def run() -> AsyncIterator[None]:
            hub = service.hub
            slots = 10
            period_s = 1.0 / rate_hz

            async def loop() -> None:
                step = 0
                start = time.monotonic()
                while True:
                    # Publish one tenth of the drones per slot, so frames arrive spread out.
                    slot = step % slots
                    for d in range(slot, drones, slots):
                        now = datetime.now(UTC)
                        frame = DroneFrame(
                            drone_id=f"B{d}",
                            available=True,
                            last_seen=now,
                            lat=38.8 + d * 1e-3,
                            lon=-104.75 + (step % 1000) * 1e-5,
                            alt_agl_m=60.0,
                            heading_deg=90.0,
                            ground_speed_mps=12.0,
                            battery_pct=80.0,
                            mode="AUTO.MISSION",
                            armed=True,
                            link="connected",
                        )
                        hub.publish(drone_message(frame, now))
                    step += 1
                    delay = start + step * period_s / slots - time.monotonic()
                    await asyncio.sleep(max(delay, 0))

            async with asyncio.TaskGroup() as tasks:
                task = tasks.create_task(loop())
                try:
                    yield
                finally:
                    task.cancel()

        return run()

    settings = Settings(mode="test", data_dir=data_dir, fleet_file=DEMO_FLEET_FILE)
    # The stream alone: no links, decisions or CAD delivery beside the publisher.
    app = create_app(settings, run=Run.NONE, companions=[publisher])
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


# --- client side -------------------------------------------------------------------------------


class Client:
    """One stream reader; a probe parses every frame for latency, the others only take frames."""

    def __init__(self, url: str, token: str, *, probe: bool) -> None:
        self.url = url
        self.token = token
        self.probe = probe
        self.latencies_ms: list[float] = []
        self.frames = 0
        self.recording = False
        self.closed: str | None = None

    async def run(self, stop: asyncio.Event) -> None:
        protocols = [websockets.Subprotocol("bearer"), websockets.Subprotocol(self.token)]
        try:
            async with websockets.connect(
                self.url, subprotocols=protocols, open_timeout=30, max_size=2**24
            ) as ws:
                while not stop.is_set():
                    try:
                        async with asyncio.timeout(1.0):
                            raw = await ws.recv()
                    except TimeoutError:
                        continue
                    self.frames += 1
                    if self.probe and self.recording:
                        self._sample(raw, time.time())
        except websockets.ConnectionClosed as exc:
            self.closed = str(exc)

    def _sample(self, raw: str | bytes, received: float) -> None:
        for message in json.loads(raw):
            if message["type"] == "drone":
                seen = datetime.fromisoformat(message["data"]["last_seen"]).timestamp()
                self.latencies_ms.append((received - seen) * 1000)


async def measure(clients: list[Client], seconds: float) -> list[float]:
    for c in clients:
        c.latencies_ms.clear()
        c.recording = True
    await asyncio.sleep(seconds)
    for c in clients:
        c.recording = False
    return [x for c in clients for x in c.latencies_ms]


def start_service(args: argparse.Namespace) -> tuple[subprocess.Popen[bytes], int, str]:
    """The service child process, its port and a tester token."""
    data_dir = Path(tempfile.mkdtemp(prefix="dfr-bench-stream-"))
    token = service_token(data_dir, "tester", "bench")
    port = free_tcp_port()
    server = subprocess.Popen(
        [
            sys.executable,
            __file__,
            "--serve",
            str(port),
            "--data-dir",
            str(data_dir),
            "--drones",
            str(args.drones),
            "--rate-hz",
            str(args.rate_hz),
        ],
        cwd=ROOT,
    )
    wait_listening(server, port)
    return server, port, token


async def bench(args: argparse.Namespace, port: int, token: str, proc: psutil.Process) -> None:
    """The three phases against the running service."""
    url = f"ws://127.0.0.1:{port}/api/v1/stream"
    stop = asyncio.Event()
    print(
        f"stream bench: {args.drones} drones x {args.rate_hz:g} Hz, {args.clients} clients, "
        f"measure {args.seconds:g} s per phase, stall {args.stall_s:g} s"
    )
    async with asyncio.TaskGroup() as tasks:
        first = Client(url, token, probe=True)
        tasks.create_task(first.run(stop))
        await asyncio.sleep(2)
        base = await measure([first], args.seconds)
        print(
            f"baseline (1 client): p50 {pct(base, 0.5):.1f} ms  p99 {pct(base, 0.99):.1f} ms  "
            f"n={len(base)}"
        )
        clients = [first] + [
            Client(url, token, probe=i < args.probes - 1) for i in range(args.clients - 1)
        ]
        for c in clients[1:]:
            tasks.create_task(c.run(stop))
        await asyncio.sleep(3)
        loaded = await measure(clients, args.seconds)
        probes = sum(c.probe for c in clients)
        expected = args.drones * args.rate_hz * args.seconds * probes
        print(
            f"{len(clients)} clients ({probes} probes): p50 {pct(loaded, 0.5):.1f} ms  p99 {pct(loaded, 0.99):.1f} ms  "
            f"n={len(loaded)} ({100 * len(loaded) / expected:.0f}% of published frames "
            f"seen by probes; the rest coalesced)  p99 ratio vs baseline "
            f"{pct(loaded, 0.99) / pct(base, 0.99):.1f}x"
        )
        print(
            f"service CPU/RSS: {proc.cpu_percent(interval=1.0):.0f}% "
            f"{proc.memory_info().rss / 2**20:.1f} MiB"
        )

        # A client that stops reading: never recv(), small queue so TCP backs up quickly.
        stalled = await websockets.connect(
            url,
            subprotocols=[websockets.Subprotocol("bearer"), websockets.Subprotocol(token)],
            max_queue=1,
            open_timeout=30,
            max_size=2**24,
        )
        rss: list[float] = []
        t0 = time.monotonic()
        during: list[float] = []
        for c in clients:
            c.latencies_ms.clear()
            c.recording = True
        while time.monotonic() - t0 < args.stall_s:
            rss.append(proc.memory_info().rss / 2**20)
            print(f"  t={time.monotonic() - t0:5.1f} s  service RSS {rss[-1]:.1f} MiB")
            await asyncio.sleep(args.stall_s / 10)
        for c in clients:
            c.recording = False
            during.extend(c.latencies_ms)
        print(
            f"while one client stalled: others p50 {pct(during, 0.5):.1f} ms  "
            f"p99 {pct(during, 0.99):.1f} ms; RSS first {rss[0]:.1f} last {rss[-1]:.1f} "
            f"max {max(rss):.1f} MiB (growth {rss[-1] - rss[0]:+.1f} MiB)"
        )
        state = "closed by the service" if stalled.close_code else "still connected"
        print(f"stalled client: {state} (close code {stalled.close_code})")
        await stalled.close()
        stop.set()
    dropped = [c.closed for c in clients if c.closed]
    print(f"reading clients closed during the run: {len(dropped)} {dropped[:1]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--drones", type=int, default=100)
    parser.add_argument("--rate-hz", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=10.0, help="measuring time per phase")
    parser.add_argument("--stall-s", type=float, default=60.0)
    parser.add_argument("--probes", type=int, default=20, help="clients that parse for latency")
    parser.add_argument("--short", action="store_true", help="CI size")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.data_dir, args.drones, args.rate_hz)
        return
    if args.short:
        args.drones, args.clients, args.seconds, args.stall_s = 20, 20, 4.0, 10.0
        args.probes = 5
    server, port, token = start_service(args)
    try:
        asyncio.run(bench(args, port, token, psutil.Process(server.pid)))
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
