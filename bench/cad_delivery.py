"""CAD delivery bench: CPU per event the outbox's adapter spends posting notes, by client transport.

Usage: python bench/cad_delivery.py [--events 4000 --parallel 1,4,16]

The adapter (`PlainJsonCadAdapter.deliver`, what the outbox calls per event) posts notes to a
minimal HTTP/1.1 server in its own process on loopback (202 at once), `--parallel` deliveries at a
time as the outbox does for that many incidents. Measured: this process's CPU per delivered event
and events/s, for (a) one httpx client with its default pool (the baseline, what the service used
before) and (b) the same client over `LanedTransport` (one connection per parallel delivery), in the
same run. The server's CPU is not counted.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

_HERE = Path(__file__).resolve().parent
sys.path[:] = [str(_HERE.parent), *(p for p in sys.path if Path(p or ".").resolve() != _HERE)]

import httpx  # noqa: E402

from bench.harness import ROOT, free_tcp_port, wait_listening  # noqa: E402
from cad_bridge import EventKind, LanedTransport, OutboundEvent, PlainJsonCadAdapter  # noqa: E402


def _event(i: int) -> OutboundEvent:
    return OutboundEvent(
        event_id=f"ev-{i}",
        agency="cspd",
        cad_incident_id=f"2026-{i:07d}",
        kind=EventKind.NOTE,
        at=datetime.now(UTC),
        author="dfr",
        text="DFR recommends D1 (1.4 km, ETA 95 s); eligible under policy cspd-2026",
    )


async def _deliver_all(
    client: httpx.AsyncClient, port: int, events: int, parallel: int
) -> tuple[float, float]:
    adapter = PlainJsonCadAdapter(client, f"http://127.0.0.1:{port}")
    gate = asyncio.Semaphore(parallel)

    async def one(i: int) -> None:
        async with gate:
            await adapter.deliver(_event(i))

    await asyncio.gather(*(one(i) for i in range(200)))  # connections open, code warm
    cpu0, wall0 = time.process_time(), time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(events)))
    return (time.process_time() - cpu0) / events, events / (time.perf_counter() - wall0)


async def _measure(port: int, events: int, parallel: int, laned: bool) -> tuple[float, float]:
    transport = LanedTransport(parallel) if laned else None
    async with httpx.AsyncClient(transport=transport) as client:
        return await _deliver_all(client, port, events, parallel)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=4000)
    parser.add_argument("--parallel", default="1,4,16")
    args = parser.parse_args()
    port = free_tcp_port()
    sink = [sys.executable, "-m", "tests.cad_bridge.http_sink", str(port)]
    server = subprocess.Popen(sink, cwd=ROOT)
    try:
        wait_listening(server, port)
        print(f"CAD delivery, {args.events} notes per measure, server in its own process")
        for parallel in (int(p) for p in args.parallel.split(",")):
            base_cpu, base_rate = asyncio.run(_measure(port, args.events, parallel, laned=False))
            lane_cpu, lane_rate = asyncio.run(_measure(port, args.events, parallel, laned=True))
            print(
                f"  {parallel:>3} at once: (a) one pool {base_cpu * 1e6:.0f} us CPU/event, "
                f"{base_rate:.0f} events/s; (b) lanes {lane_cpu * 1e6:.0f} us CPU/event, "
                f"{lane_rate:.0f} events/s; (b)/(a) CPU {lane_cpu / base_cpu:.2f}x",
                flush=True,
            )
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
