"""Cluster bench: two `dfr serve` instances on one PostgreSQL and one NATS server.

Usage: python bench/cluster.py [--quick] [--trials 10 --calls 3000 --concurrency 64
                                --stream-clients 20 --stream-seconds 10]

Real processes on loopback, as tests/e2e/test_cluster.py sets them up: a private PostgreSQL
(tests/postgres.py), a private nats-server (tests/nats_server.py), `dfr-sim fleet` (the demo
fleet's 4 drones, time x20), `dfr-sim cad serve`, and two `dfr serve` instances ("alpha",
"bravo") sharing the database and the bus; each drone's link is held by one instance (a lease).

(1) Failover, `--trials` times: a pilot flight (POST /flights) 2.5 km out from Sand Creek (D1 and
    D2 in turn), en route; the instance holding the drone's lease is SIGKILLed. Measured from the
    kill: (a) the survivor holds the lease (the lease's `acquired_at` as the survivor's
    GET /cluster reports it; also when our 50 ms polling first saw it), (b) the first frame of
    that drone, on a WebSocket client of the survivor, whose position differs from the last one
    that client saw before the kill. Then the flight is sent home (rtl) through the survivor, the
    killed instance started again, and the next trial waits for two drones each.
Then both instances are restarted at time x1 (DFR_SPEEDUP=1; the fleet stays at x20), so that the
service's timestamps are wall time, and wait for two drones each again.
(2) Live stream: `--stream-clients` WebSocket clients all on one instance, then the same number
    spread over both; latency = receipt minus the message's `at` (stamped by the instance that
    published it; same host clock), split by whether the client's own instance links the drone
    (local) or the frame came over NATS from the other (remote).
(3) Durable CAD ingest: `--calls` plain JSON calls (unique ids, not in progress: no launches)
    POSTed to /api/v1/cad/incidents as the cad role with `--concurrency` requests in flight,
    all to one instance, then spread evenly (connection by connection) over both. Between the
    two the bench waits for the instances' CPU to settle (the calls' dispatch decisions run
    after the 202). Baseline in the same round: GET /api/v1/health on one instance, same load.
    Priorities 3-5 are above BURGLARY's limit of 2, so no call is flown (in_progress false alone
    does not stop an auto-launch at priority 1-2).

Nothing is asserted; figures and ratios against the baseline of the same run are printed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import secrets
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

# Run as a script, bench/ is first on sys.path and its files would shadow packages of the same
# name; the repository root takes its place (bench.harness, tests).
_HERE = Path(__file__).resolve().parent
sys.path[:] = [str(_HERE.parent), *(p for p in sys.path if Path(p or ".").resolve() != _HERE)]

import httpx  # noqa: E402
import psutil  # noqa: E402
import websockets  # noqa: E402
from websockets.sync.client import connect as ws_connect  # noqa: E402

from bench.cad import Connection  # noqa: E402
from bench.harness import DFR_SIM, pct  # noqa: E402
from simulator.scenarios.process import free_port, udp_port_free  # noqa: E402
from tests.e2e.conftest import (  # noqa: E402
    DRONE_IDS,
    ROLES,
    SPEEDUP,
    Child,
    Stack,
    _wait_answering,
    demo_fleet_copy,
    wait_for,
)
from tests.e2e.geo import destination  # noqa: E402
from tests.nats_server import start_local_nats  # noqa: E402
from tests.postgres import DatabaseFactory, start_local_postgres, stop_local_postgres  # noqa: E402

INSTANCES = ("alpha", "bravo")
SAND_CREEK = (38.8339, -104.7470)
#: (drone, bearing from Sand Creek): both routes are clear of every demo zone (the e2e tests fly them).
FLIGHTS = (("D1", 0.0), ("D2", 330.0))
GOAL_FAILOVER_S = 5.0
GOAL_INGEST_PER_S = 1000.0
_AVOIDED = range(5000, 20000)


def _port(used: set[int], kind: Any = None) -> int:
    import socket

    while True:
        port = free_port(kind or socket.SOCK_STREAM, avoid=used)
        if port not in _AVOIDED:
            return port


def _udp_pair(used: set[int]) -> int:
    """A client port P with P+40 free too (the simulated vehicle binds P+40 like PX4 SITL)."""
    import socket

    for _ in range(200):
        port = _port(used, socket.SOCK_DGRAM)
        if port + 40 <= 65535 and port + 40 not in used and udp_port_free(port + 40):
            used.update({port, port + 40})
            return port
    raise RuntimeError("no free pair of UDP ports")


def _parse(at: str) -> float:
    return datetime.fromisoformat(at.replace("Z", "+00:00")).timestamp()


def _create_tokens(url: str) -> dict[str, str]:
    from dfr.db import make_engine, session_scope, upgrade_schema
    from dfr.models import Role
    from dfr.tokens import create_token

    upgrade_schema(url)
    engine = make_engine(url)
    try:
        with session_scope(engine) as session:
            return {role: create_token(session, f"bench-{role}", Role(role))[1] for role in ROLES}
    finally:
        engine.dispose()


class Cluster:
    """PostgreSQL, NATS, fleet, CAD and two instances; `close` ends every process."""

    def __init__(self, work: Path) -> None:
        self.work = work
        self.stacks: dict[str, Stack] = {}
        self.children: list[Child] = []
        self.pg: Any = None
        self.nats: Any = None

    def start(self) -> None:
        used: set[int] = set()
        ports = {d: _udp_pair(used) for d in DRONE_IDS}
        fleet_file = self.work / "fleet.toml"
        fleet_file.write_text(demo_fleet_copy(ports), encoding="utf-8")
        self.pg = start_local_postgres()
        factory = DatabaseFactory(self.pg.admin_url)
        factory.wait_ready()
        url = factory.create()
        self.nats = start_local_nats()
        cad_port, control_port = _port(used), _port(used)
        tokens = _create_tokens(url)
        cad_secret = secrets.token_urlsafe(16)
        tokens["_cad_secret"] = cad_secret
        for name in INSTANCES:
            data_dir = self.work / f"data-{name}"
            data_dir.mkdir()
            (self.work / name).mkdir()
            self.stacks[name] = Stack(
                work_dir=self.work / name,
                fleet_file=fleet_file,
                data_dir=data_dir,
                service_port=_port(used),
                cad_port=cad_port,
                control_port=control_port,
                tokens=dict(tokens),
                service_env={
                    "DFR_INSTANCE_ID": name,
                    "DFR_DATABASE__URL": url,
                    "DFR_BUS__URL": self.nats.url,
                    "DFR_FLIGHT__DLL_TIMEOUT_S": "300",
                },
            )
        cad = Child(
            "dfr-sim cad",
            [*DFR_SIM, "cad", "serve", "--port", str(cad_port), "--cad-token", cad_secret],
            self.work / "cad.log",
        )
        fleet = Child(
            "dfr-sim fleet",
            [
                *DFR_SIM,
                "fleet",
                "--fleet",
                str(fleet_file),
                "--speedup",
                f"{SPEEDUP:g}",
                "--gcs-base-port",
                "0",
                "--control-port",
                str(control_port),
                "--seed",
                "1",
            ],
            self.work / "fleet.log",
        )
        self.children += [cad, fleet]
        cad.start()
        fleet.start()
        _wait_answering(cad, f"http://127.0.0.1:{cad_port}/events")
        _wait_answering(fleet, f"http://127.0.0.1:{control_port}/drones")
        for stack in self.stacks.values():
            stack.start_service()
        self.wait_balanced("alpha")

    def wait_balanced(self, via: str, timeout_s: float = 60.0) -> None:
        wait_for(
            lambda: sorted(self.holders(via).values()) == ["alpha", "alpha", "bravo", "bravo"],
            timeout_s,
            "the four drones shared two and two",
            0.5,
            lambda: str(self.holders(via)),
        )
        for stack in self.stacks.values():
            stack.wait_links_up()

    def close(self) -> None:
        for stack in self.stacks.values():
            with contextlib.suppress(Exception):
                stack.close()
        for child in reversed(self.children):
            with contextlib.suppress(Exception):
                child.stop()
        if self.nats is not None:
            with contextlib.suppress(Exception):
                self.nats.stop()
        if self.pg is not None:
            with contextlib.suppress(Exception):
                stop_local_postgres(self.pg)

    def view(self, name: str) -> dict[str, Any]:
        response = self.stacks[name].api("admin").get("/cluster")
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        return body

    def holders(self, via: str) -> dict[str, str]:
        """drone id -> instance holding its link, as `via` sees the leases."""
        try:
            view = self.view(via)
        except httpx.HTTPError:
            return {}
        out = {}
        for instance in view["instances"]:
            if instance["alive"]:
                for drone in instance["drones"]:
                    out[drone] = instance["id"]
        return out

    def stream_url(self, name: str) -> str:
        stack = self.stacks[name]
        return f"ws://127.0.0.1:{stack.service_port}/api/v1/stream?token={stack.tokens['tester']}"


# --- (1) failover ------------------------------------------------------------------------------


class Watcher:
    """A WebSocket client of one instance recording (receipt time, lat, lon) of one drone's frames."""

    def __init__(self, url: str, drone_id: str) -> None:
        self._url, self._drone_id = url, drone_id
        self.positions: list[tuple[float, float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Watcher:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10.0)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                with ws_connect(self._url, open_timeout=5.0, close_timeout=1.0) as ws:
                    while not self._stop.is_set():
                        try:
                            raw = ws.recv(timeout=0.5)
                        except TimeoutError:
                            continue
                        self._take(json.loads(raw), time.time())
            except Exception:
                self._stop.wait(0.2)

    def _take(self, batch: list[dict[str, Any]], received: float) -> None:
        for message in batch:
            inner = message["data"]["messages"] if message["type"] == "snapshot" else [message]
            for m in inner:
                data = m.get("data") or {}
                if m["type"] == "drone" and data.get("drone_id") == self._drone_id:
                    if data.get("lat") is not None:
                        self.positions.append((received, float(data["lat"]), float(data["lon"])))


def failover_trial(cluster: Cluster, trial: int) -> dict[str, float]:
    drone, bearing = FLIGHTS[trial % len(FLIGHTS)]
    holder = cluster.holders("alpha")[drone]
    survivor_name = next(n for n in INSTANCES if n != holder)
    survivor, dying = cluster.stacks[survivor_name], cluster.stacks[holder]
    target = destination(*SAND_CREEK, bearing, 2500.0)
    with Watcher(cluster.stream_url(survivor_name), drone) as watcher:
        flight_id = dying.start_pilot_flight(drone, *target)
        survivor.wait_flight_state(flight_id, "en_route", 90)
        # The survivor's client sees the drone (linked by the other instance) move.
        wait_for(
            lambda: (
                len({(la, lo) for t, la, lo in watcher.positions if t > time.time() - 1.0}) >= 2
            ),
            30,
            "the survivor's client seeing the drone move",
            0.1,
        )
        _, last_lat, last_lon = watcher.positions[-1]
        killed_at = time.time()
        dying.kill_service()

        def taken() -> dict[str, Any] | None:
            try:
                view = cluster.view(survivor_name)
            except httpx.HTTPError:
                return None
            row = next(r for r in view["leases"] if r["resource"] == f"drone:{drone}")
            return row if row["holder"] == survivor_name and not row["expired"] else None

        row = wait_for(taken, 30, f"{survivor_name} holding {drone}", 0.05)
        seen_s = time.time() - killed_at
        lease_s = _parse(row["acquired_at"]) - killed_at

        def moved() -> float | None:
            for t, la, lo in list(watcher.positions):
                if t > killed_at and (la, lo) != (last_lat, last_lon):
                    return t
            return None

        moved_at = wait_for(moved, 30, f"a new position of {drone} on {survivor_name}", 0.05)
    # Home through the survivor (retried until it has adopted the flight).
    wait_for(
        lambda: survivor.command(flight_id, "rtl").status_code == 200,
        60,
        f"rtl of flight {flight_id} accepted by {survivor_name}",
        0.5,
    )
    done = survivor.wait_flight_state(flight_id, {"completed", "aborted"}, 240)
    dying.start_service()
    cluster.wait_balanced(survivor_name, 90)
    return {
        "lease_s": lease_s,
        "lease_seen_s": seen_s,
        "position_s": moved_at - killed_at,
        "completed": float(done["state"] == "completed"),
        "drone": float(DRONE_IDS.index(drone)),
        "killed": float(INSTANCES.index(holder)),
    }


def bench_failover(cluster: Cluster, trials: int) -> dict[str, Any]:
    print(f"\n== failover: {trials} trials, kill -9 of the lease holder of a flying drone ==")
    rows: list[dict[str, float]] = []
    failures: list[str] = []
    for i in range(trials):
        try:
            r = failover_trial(cluster, i)
        except Exception as exc:  # a failed trial is reported, and the cluster made whole again
            failures.append(f"trial {i + 1}: {type(exc).__name__}: {exc}"[:300])
            print(f"  trial {i + 1}: FAILED {failures[-1]}", flush=True)
            for stack in cluster.stacks.values():
                if stack.service is None or not stack.service.running:
                    with contextlib.suppress(Exception):
                        stack.start_service()
            with contextlib.suppress(Exception):
                cluster.wait_balanced("alpha", 90)
            continue
        rows.append(r)
        print(
            f"  trial {i + 1}: {DRONE_IDS[int(r['drone'])]} killed {INSTANCES[int(r['killed'])]}: "
            f"lease {r['lease_s']:.2f} s (polled {r['lease_seen_s']:.2f} s), "
            f"new position on the survivor's stream {r['position_s']:.2f} s, "
            f"flight {'completed' if r['completed'] else 'aborted'}",
            flush=True,
        )
    lease = [r["lease_s"] for r in rows]
    seen = [r["lease_seen_s"] for r in rows]
    pos = [r["position_s"] for r in rows]
    if rows:
        print(
            f"  kill -> survivor holds the lease: p50 {pct(lease, 0.5):.2f} s, max {max(lease):.2f} s "
            f"(polled p50 {pct(seen, 0.5):.2f}, max {max(seen):.2f}); goal {GOAL_FAILOVER_S:g} s, "
            f"max/goal {max(lease) / GOAL_FAILOVER_S:.2f}"
        )
        print(
            f"  kill -> new position on the survivor's stream: p50 {pct(pos, 0.5):.2f} s, "
            f"max {max(pos):.2f} s; goal {GOAL_FAILOVER_S:g} s, max/goal {max(pos) / GOAL_FAILOVER_S:.2f}"
        )
    return {"rows": rows, "failures": failures}


# --- (2) live stream ---------------------------------------------------------------------------


async def _stream_client(
    url: str,
    instance: str,
    holders: dict[str, str],
    out: dict[str, list[float]],
    stop: asyncio.Event,
    counts: list[int],
) -> None:
    async with websockets.connect(url, open_timeout=10, max_size=None) as ws:
        while not stop.is_set():
            try:
                async with asyncio.timeout(0.5):
                    raw = await ws.recv()
            except TimeoutError:
                continue
            received = time.time()
            for m in json.loads(raw):
                if m["type"] != "drone":
                    continue
                counts[0] += 1
                drone = m["data"].get("drone_id")
                side = "local" if holders.get(drone) == instance else "remote"
                out[side].append((received - _parse(m["at"])) * 1000)


async def _stream_phase(
    cluster: Cluster, placement: list[str], seconds: float, holders: dict[str, str]
) -> tuple[dict[str, list[float]], int]:
    out: dict[str, list[float]] = {"local": [], "remote": []}
    counts = [0]
    stop = asyncio.Event()
    tasks = [
        asyncio.create_task(
            _stream_client(cluster.stream_url(name), name, holders, out, stop, counts)
        )
        for name in placement
    ]
    await asyncio.sleep(2.0)  # connected, snapshots taken
    out["local"].clear()
    out["remote"].clear()
    counts[0] = 0
    await asyncio.sleep(seconds)
    stop.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    return out, counts[0]


def bench_stream(cluster: Cluster, clients: int, seconds: float) -> dict[str, Any]:
    print(f"\n== live stream: {clients} clients, {seconds:g} s per placement, 4 drones on docks ==")
    holders = cluster.holders("alpha")
    results: dict[str, Any] = {}
    placements = {
        "one instance (alpha)": ["alpha"] * clients,
        "spread over two": [INSTANCES[i % 2] for i in range(clients)],
    }
    for label, placement in placements.items():
        out, frames = asyncio.run(_stream_phase(cluster, placement, seconds, holders))
        both = out["local"] + out["remote"]
        results[label] = {"out": out, "frames": frames}
        print(
            f"  {label}: {frames / seconds:.0f} drone frames/s received in all; latency p50 "
            f"{pct(both, 0.5):.1f} ms, p99 {pct(both, 0.99):.1f} ms (local drones p50/p99 "
            f"{pct(out['local'], 0.5):.1f}/{pct(out['local'], 0.99):.1f} ms, via NATS "
            f"{pct(out['remote'], 0.5):.1f}/{pct(out['remote'], 0.99):.1f} ms)",
            flush=True,
        )
    return results


# --- (3) durable CAD ingest --------------------------------------------------------------------


def _call_docs(prefix: str, n: int) -> list[bytes]:
    import random

    rng = random.Random(prefix)
    out = []
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    for i in range(n):
        lat = 38.80 + rng.random() * 0.12
        lon = -104.85 + rng.random() * 0.15
        body = {
            "cad_incident_id": f"{prefix}-{i:06d}",
            "agency": "cspd",
            "call_type": "BURGLARY",
            "call_type_text": "BURGLARY bench call",
            "priority": rng.randint(3, 5),  # above BURGLARY's limit 2: never flown
            "location": {"lat": lat, "lon": lon, "address": f"{i} Bench St"},
            "received_at": now,
            "status": "Active",
            "notes": [],
            "flags": {"in_progress": False, "weapons": False, "outdoor": True},
        }
        out.append(json.dumps(body).encode())
    return out


async def _ingest(
    ports: list[int], token: str, docs: list[bytes], concurrency: int, *, health: bool = False
) -> tuple[float, list[float], dict[int, int], dict[int, str]]:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    queue = iter(docs)
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    samples: dict[int, str] = {}

    async def worker(k: int) -> None:
        conn = Connection(ports[k % len(ports)])
        try:
            for body in queue:
                t0 = time.perf_counter()
                if health:
                    status, answer = await conn.request("GET", "/api/v1/health", b"", headers)
                    status = 202 if status == 200 else status
                else:
                    status, answer = await conn.request(
                        "POST", "/api/v1/cad/incidents", body, headers
                    )
                latencies.append((time.perf_counter() - t0) * 1000)
                statuses[status] = statuses.get(status, 0) + 1
                if status != 202:
                    samples.setdefault(status, answer.decode(errors="replace")[:300])
        finally:
            conn.close()

    start = time.perf_counter()
    await asyncio.gather(*(worker(k) for k in range(concurrency)))
    return time.perf_counter() - start, latencies, statuses, samples


def _settle(cluster: Cluster, limit_s: float = 120.0) -> float:
    """Wait until both instances use < 25 % of a core over a second; returns the wait."""
    procs = [
        psutil.Process(stack.service.proc.pid)
        for stack in cluster.stacks.values()
        if stack.service is not None and stack.service.proc is not None
    ]
    start = time.monotonic()
    while time.monotonic() - start < limit_s:
        for p in procs:
            p.cpu_percent(None)
        time.sleep(1.0)
        if all(p.cpu_percent(None) < 25.0 for p in procs):
            break
    return time.monotonic() - start


def bench_ingest(cluster: Cluster, calls: int, concurrency: int, rounds: int) -> dict[str, Any]:
    print(
        f"\n== durable CAD ingest on PostgreSQL: {calls} calls per measure, {concurrency} in flight, "
        f"{rounds} round(s) of 1 instance then 2 =="
    )
    token = cluster.stacks["alpha"].tokens["cad"]
    run = secrets.token_hex(3)
    ports = {name: cluster.stacks[name].service_port for name in INSTANCES}
    rates: dict[str, list[float]] = {"1 instance": [], "2 instances": []}
    for r in range(rounds):
        _settle(cluster)
        elapsed, lat, statuses, _ = asyncio.run(
            _ingest([ports["alpha"]], token, [b""] * calls, concurrency, health=True)
        )
        print(
            f"  round {r + 1}, baseline GET /api/v1/health on alpha: "
            f"{statuses.get(202, 0) / elapsed:.0f} req/s, p50 {pct(lat, 0.5):.1f} ms",
            flush=True,
        )
        for label, targets in (("1 instance", ["alpha"]), ("2 instances", list(INSTANCES))):
            waited = _settle(cluster)
            docs = _call_docs(f"BENCH-{run}-{r}-{len(targets)}", calls)
            elapsed, lat, statuses, samples = asyncio.run(
                _ingest([ports[t] for t in targets], token, docs, concurrency)
            )
            ok = statuses.get(202, 0)
            rate = ok / elapsed
            rates[label].append(rate)
            print(
                f"  round {r + 1}, {label}: {rate:.0f} calls/s answered 202 ({ok} of {calls}; "
                f"statuses {statuses}), p50 {pct(lat, 0.5):.1f} ms, p95 {pct(lat, 0.95):.1f} ms "
                f"(waited {waited:.0f} s for the instances to settle first)",
                flush=True,
            )
            for status, body in samples.items():
                print(f"    e.g. {status}: {body}")
    one, two = max(rates["1 instance"]), max(rates["2 instances"])
    print(
        f"  best of rounds: 1 instance {one:.0f}/s, 2 instances {two:.0f}/s, ratio {two / one:.2f}x; "
        f"goal >= {GOAL_INGEST_PER_S:g}/s: {'met' if two >= GOAL_INGEST_PER_S else 'not met'}"
    )
    return rates


def restart_at_real_time(cluster: Cluster) -> None:
    """Both instances again with DFR_SPEEDUP=1: the stream's `at` stamps are then wall time."""
    for name in INSTANCES:
        stack = cluster.stacks[name]
        stack.service_env["DFR_SPEEDUP"] = "1"
        stack.close()
        stack.start_service()
    cluster.wait_balanced("alpha", 120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 trials, 500 calls, 5 s stream")
    parser.add_argument("--trials", type=int)
    parser.add_argument("--calls", type=int)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--rounds", type=int, help="ingest rounds (1 instance, then 2)")
    parser.add_argument("--stream-clients", type=int, default=20)
    parser.add_argument("--stream-seconds", type=float)
    parser.add_argument("--skip", default="", help="comma list of failover,stream,ingest to skip")
    args = parser.parse_args()
    trials = args.trials or (3 if args.quick else 10)
    calls = args.calls or (500 if args.quick else 3000)
    seconds = args.stream_seconds or (5.0 if args.quick else 10.0)
    skip = set(filter(None, args.skip.split(",")))

    print(
        f"load average at start: {' '.join(f'{x:.2f}' for x in psutil.getloadavg())}, "
        f"{psutil.cpu_count()} cores"
    )
    work = Path(tempfile.mkdtemp(prefix="dfr-bench-cluster-"))
    cluster = Cluster(work)
    t0 = time.monotonic()
    try:
        cluster.start()
        print(f"cluster up in {time.monotonic() - t0:.1f} s (logs in {work})", flush=True)
        if "failover" not in skip:
            result = bench_failover(cluster, trials)
            for failure in result["failures"]:
                print(f"  {failure}")
        # x1 from here: the stream's `at` stamps are then wall time. The stream runs before the
        # ingest, whose thousands of calls would make every new client's snapshot megabytes.
        restart_at_real_time(cluster)
        if "stream" not in skip:
            bench_stream(cluster, args.stream_clients, seconds)
        if "ingest" not in skip:
            bench_ingest(cluster, calls, args.concurrency, args.rounds or (1 if args.quick else 2))
    finally:
        cluster.close()
    print(
        f"\nload average at end: {' '.join(f'{x:.2f}' for x in psutil.getloadavg())}; "
        f"total {time.monotonic() - t0:.0f} s"
    )


if __name__ == "__main__":
    main()
