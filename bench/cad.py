"""CAD bench: durable call ingest through the real HTTP route, and outbound delivery latency.

Usage: python bench/cad.py [--calls 20000 --eido-calls 2000 --clients 32 --seconds 60
                            --repost-share 0.2 --notes 200 --note-interval-ms 20]

(1) Ingest: the service runs in a child process (real uvicorn on 127.0.0.1, a free port, SQLite WAL
file); `--clients` keep-alive connections POST generated plain JSON calls to
`/api/v1/cad/incidents` as fast as they are answered, a share of them re-posts (identical or
updated) of earlier incidents. Bounded by `--calls` and `--seconds`. After the run the service is
killed with SIGKILL and the database is read back: every call answered 202 must be there.
Then the same with NENA EIDO documents (validated against the published schema).
Baselines in the same run: a raw `sqlite3` insert+commit loop (storage ceiling) and the same
clients on `GET /api/v1/health` (HTTP ceiling of this service on this machine).
(2) Delivery: commit of a note (outbox row in the same transaction) until the simulated CAD (its
own process, real HTTP on loopback) has recorded it, the worker woken when the note's transaction
commits; one note every `--note-interval-ms`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

# Run as a script, bench/ is first on sys.path and its files would shadow packages of the same
# name; the repository root takes its place (bench.harness, tests).
_HERE = Path(__file__).resolve().parent
sys.path[:] = [str(_HERE.parent), *(p for p in sys.path if Path(p or ".").resolve() != _HERE)]

from bench.harness import ROOT, free_tcp_port, service_token, wait_listening  # noqa: E402

AGENCY = "cspd"
URL = "/api/v1/cad/incidents"


def fleet_file(directory: Path) -> Path:
    path = directory / "fleet.toml"
    path.write_text(f'[agency]\nid = "{AGENCY}"\nname = "CSPD"\n')
    return path


# --- service side ------------------------------------------------------------------------------


def serve(port: int, data_dir: Path) -> None:
    import uvicorn

    from dfr.main import create_app
    from dfr.service import Run
    from dfr.settings import Settings

    settings = Settings(mode="test", data_dir=data_dir, fleet_file=fleet_file(data_dir))
    # The API and its database alone: no links, no decisions, no delivery to CAD.
    app = create_app(settings, run=Run.NONE)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def start_service(data_dir: Path) -> tuple[subprocess.Popen[bytes], int, str]:
    """The service child process, its port and a CAD token."""
    token = service_token(data_dir, "cad", "bench-cad", agency=AGENCY)
    port = free_tcp_port()
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve", str(port), "--data-dir", str(data_dir)], cwd=ROOT
    )
    wait_listening(server, port)
    return server, port, token


# --- client side: a minimal keep-alive HTTP/1.1 client (cheap, so the service is what is measured)


class Connection:
    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(
        self, method: str, path: str, body: bytes, headers: dict[str, str]
    ) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        assert self.reader is not None
        head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {len(body)}\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self.writer.write(head.encode() + b"\r\n" + body)
        async with asyncio.timeout(30):
            status_line = await self.reader.readline()
            length = 0
            while True:
                line = await self.reader.readline()
                if line in (b"\r\n", b""):
                    break
                name, _, value = line.decode("latin-1").partition(":")
                if name.lower() == "content-length":
                    length = int(value.strip())
            payload = await self.reader.readexactly(length)
        return int(status_line.split()[1]), payload

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def eido_documents(n: int, seed: int = 7) -> list[tuple[str, bytes]]:
    """(incident id, body): new calls as NENA EIDO 1.0 documents."""
    from simulator.cad import CallGenerator, eido_document

    gen = CallGenerator(seed=seed, prefix="EI")
    out: list[tuple[str, bytes]] = []
    for _ in range(n):
        incident = gen.next_incident()
        out.append((incident.incident_id, json.dumps(eido_document(incident)).encode()))
    return out


def documents(n: int, repost_share: float, seed: int = 5) -> list[tuple[str, bytes]]:
    """(incident id, body): new calls, with identical and updated re-posts of earlier ones mixed in."""
    from simulator.cad import CallGenerator, plain_document

    gen = CallGenerator(seed=seed)
    rng = random.Random(seed)
    sent: list[dict[str, Any]] = []
    out: list[tuple[str, bytes]] = []
    for _ in range(n):
        if sent and rng.random() < repost_share:
            doc = dict(rng.choice(sent))
            if rng.random() < 0.5:  # an update: priority and a new note
                doc["priority"] = rng.randint(1, 5)
                doc["notes"] = [*doc.get("notes", []), f"update {rng.randint(0, 10**6)}"]
        else:
            doc = plain_document(gen.next_incident(), agency=AGENCY)
            sent.append(doc)
        out.append((str(doc["cad_incident_id"]), json.dumps(doc).encode()))
    return out


async def load(
    port: int,
    token: str,
    requests: list[tuple[str, str, bytes]],
    clients: int,
    seconds: float,
) -> tuple[int, float, list[float], dict[int, int], set[str]]:
    """Send `requests` over `clients` connections; (answered, elapsed s, latencies ms, statuses, 2xx keys)."""
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    queue = iter(requests)
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    accepted: set[str] = set()
    stop_at = time.monotonic() + seconds

    async def worker() -> None:
        conn = Connection(port)
        try:
            for method, _key, body in queue:
                if time.monotonic() > stop_at:
                    return
                t0 = time.perf_counter()
                path = URL if method == "POST" else "/api/v1/health"
                status, answer = await conn.request(method, path, body, headers)
                latencies.append((time.perf_counter() - t0) * 1000)
                statuses[status] = statuses.get(status, 0) + 1
                if status == 202:
                    # The incident id the service says it committed (an EIDO's is its $id).
                    accepted.add(json.loads(answer)["cad_incident_id"])
        finally:
            conn.close()

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(clients)))
    elapsed = time.perf_counter() - start
    return len(latencies), elapsed, latencies, statuses, accepted


def stored_incidents(data_dir: Path) -> set[str]:
    db = sqlite3.connect(data_dir / "dfr.sqlite3")
    try:
        return {r[0] for r in db.execute("SELECT cad_incident_id FROM calls")}
    finally:
        db.close()


def bench_http(args: argparse.Namespace) -> dict[str, Any]:
    data_dir = Path(tempfile.mkdtemp(prefix="dfr-bench-cad-"))
    server, port, token = start_service(data_dir)
    docs = documents(args.calls, args.repost_share)
    try:
        warm = [("POST", k, b) for k, b in documents(50, 0.0, seed=99)]
        asyncio.run(load(port, token, warm, 4, 30))
        health = [("GET", "", b"")] * args.calls
        n_h, t_h, lat_h, _, _ = asyncio.run(load(port, token, health, args.clients, args.seconds))
        posts = [("POST", k, b) for k, b in docs]
        n, t, lat, statuses, accepted = asyncio.run(
            load(port, token, posts, args.clients, args.seconds)
        )
        eido = [("POST", k, b) for k, b in eido_documents(args.eido_calls)]
        n_e, t_e, lat_e, statuses_e, accepted_e = asyncio.run(
            load(port, token, eido, args.clients, args.seconds)
        )
    finally:
        server.send_signal(
            signal.SIGKILL
        )  # no clean shutdown: what was answered 202 must be on disk
        server.wait(30)
    stored = stored_incidents(data_dir)
    lost = (accepted | accepted_e) - stored
    return {
        "health_rps": n_h / t_h,
        "health_p50": statistics.median(lat_h),
        "calls": n,
        "rate": n / t,
        "p50": statistics.median(lat),
        "p95": statistics.quantiles(lat, n=20)[18],
        "statuses": statuses,
        "lost": len(lost),
        "accepted_incidents": len(accepted | accepted_e),
        "eido_calls": n_e,
        "eido_rate": n_e / t_e,
        "eido_p50": statistics.median(lat_e),
        "eido_statuses": statuses_e,
    }


def bench_raw_sqlite(directory: Path, n: int) -> float:
    """Raw sqlite3 (WAL, synchronous=NORMAL) insert of the JSON text, one commit per row."""
    db = sqlite3.connect(directory / "raw.sqlite3")
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, k TEXT UNIQUE, doc TEXT)")
    docs = documents(n, 0.0)
    start = time.perf_counter()
    for i, (_, doc) in enumerate(docs):
        db.execute("INSERT INTO t (k, doc) VALUES (?, ?)", (str(i), doc.decode()))
        db.commit()
    rate = n / (time.perf_counter() - start)
    db.close()
    return rate


# --- delivery --------------------------------------------------------------------------------------


def serve_cad(port: int) -> None:
    """The simulated CAD alone in this process (as a real CAD would be), on uvloop.

    On the default asyncio loop its accepted sockets keep Nagle on (the listening socket is made
    with proto 0, so asyncio's TCP_NODELAY is skipped): every answer then waits ~40 ms for our
    delayed ACK, which would be the CAD's cost, not DFR's.
    """
    import uvloop

    from simulator.cad import SimulatedCad

    async def run() -> None:
        cad = SimulatedCad(port=port)
        await cad.start()
        await asyncio.Event().wait()

    uvloop.run(run())


async def bench_delivery(directory: Path, port: int, notes: int, interval_s: float) -> list[float]:
    """Commit a note (outbox row in the same transaction) -> CAD has it; milliseconds each.

    The CAD runs in its own process; one note is committed every `interval_s` through the call
    ledger, which wakes the worker once the note's transaction has committed; CAD's receive times
    are read back from its event log at the end.
    """
    import httpx
    from sqlmodel import Session

    from cad_bridge import CallTypeMapper, OutboxDelivery, PlainJsonCadAdapter, parse_call
    from dfr.cad_ingest import store_call
    from dfr.call_ledger import CallLedger, HubPublisher
    from dfr.db import make_engine, upgrade_schema
    from dfr.fleet import ensure_agency
    from dfr.outbox import SqlOutboxStore
    from flight import SystemClock
    from telemetry import Hub

    url = f"sqlite:///{directory / 'delivery.sqlite3'}"
    upgrade_schema(url)
    engine = make_engine(url)
    with Session(engine) as session:
        ensure_agency(session, AGENCY, "CSPD")
        session.commit()
    doc = parse_call(documents(1, 0.0)[0][1], default_agency=AGENCY, mapper=CallTypeMapper())
    call_id = store_call(engine, doc).call_id
    base_url = f"http://127.0.0.1:{port}"
    committed: dict[str, datetime] = {}
    try:
        async with httpx.AsyncClient() as client:
            async with asyncio.timeout(60):
                while True:
                    try:
                        await client.get(f"{base_url}/events", timeout=1)
                        break
                    except httpx.TransportError:
                        await asyncio.sleep(0.1)
            adapter = PlainJsonCadAdapter(client, base_url)
            delivery = OutboxDelivery(SqlOutboxStore(engine), lambda _a: adapter)
            loop = asyncio.get_running_loop()
            ledger = CallLedger(
                publisher=HubPublisher(Hub(), loop),
                wake_outbox=delivery.notify,
                loop=loop,
                clock=SystemClock(),
            )
            task = asyncio.create_task(delivery.run())
            try:
                for i in range(notes):

                    def write(k: int = i) -> tuple[str, datetime]:
                        with Session(engine) as session:
                            _, item = ledger.add_note(
                                session, call_id, author="bench", text=f"n{k}"
                            )
                            session.commit()
                            return item.event_id, datetime.now(UTC)

                    event_id, at = await asyncio.to_thread(write)
                    committed[event_id] = at
                    await asyncio.sleep(interval_s)
                async with asyncio.timeout(60):
                    # The worker's count has no event to wait on; a bounded poll is enough here.
                    while delivery.delivered_count < notes:  # noqa: ASYNC110
                        await asyncio.sleep(0.05)
            finally:
                delivery.stop()
                await task
            log = (await client.get(f"{base_url}/events", timeout=10)).json()["data"]
    finally:
        engine.dispose()
    received = {e["idempotency_key"]: datetime.fromisoformat(e["received_at"]) for e in log}
    assert set(received) == set(committed), "CAD did not receive every note"
    return [(received[k] - at).total_seconds() * 1000 for k, at in committed.items()]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=20000)
    parser.add_argument("--eido-calls", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--repost-share", type=float, default=0.2)
    parser.add_argument("--notes", type=int, default=200)
    parser.add_argument("--note-interval-ms", type=float, default=20.0)
    parser.add_argument("--serve-cad", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.data_dir)
        return
    if args.serve_cad:
        serve_cad(args.serve_cad)
        return
    with tempfile.TemporaryDirectory() as tmp:
        raw = bench_raw_sqlite(Path(tmp), min(args.calls, 3000))
        http = bench_http(args)
        port = free_tcp_port()
        cad_proc = subprocess.Popen([sys.executable, __file__, "--serve-cad", str(port)], cwd=ROOT)
        try:
            latencies = asyncio.run(
                bench_delivery(Path(tmp), port, args.notes, args.note_interval_ms / 1000)
            )
        finally:
            cad_proc.kill()
            cad_proc.wait(30)
    q = statistics.quantiles(latencies, n=20)
    print(f"baseline raw sqlite3 insert+commit:  {raw:8.0f} rows/s")
    print(
        f"baseline GET /health, {args.clients} clients: {http['health_rps']:8.0f} req/s"
        f"  (p50 {http['health_p50']:.1f} ms)"
    )
    print(
        f"ingest POST {URL}, {args.clients} clients, {http['calls']} calls "
        f"({args.repost_share:.0%} re-posts): {http['rate']:8.0f} calls/s"
        f"  ({http['rate'] / http['health_rps']:.2f}x GET /health, {http['rate'] / raw:.2f}x raw sqlite3)"
        f"  latency p50 {http['p50']:.1f} ms, p95 {http['p95']:.1f} ms"
    )
    print(
        f"ingest of NENA EIDO documents (schema-validated), {http['eido_calls']} calls: "
        f"{http['eido_rate']:8.0f} calls/s  ({http['eido_rate'] / http['health_rps']:.2f}x GET /health)"
        f"  latency p50 {http['eido_p50']:.1f} ms; statuses {http['eido_statuses']}"
    )
    print(
        f"  plain statuses {http['statuses']}; after SIGKILL: {http['accepted_incidents']} accepted"
        f" incidents, {http['lost']} missing from the database"
    )
    print(
        f"delivery latency commit->CAD ({args.notes} notes): "
        f"p50 {statistics.median(latencies):.1f} ms, p95 {q[18]:.1f} ms"
    )


if __name__ == "__main__":
    if os.environ.get("PYTHONHASHSEED") is None:
        os.environ["PYTHONHASHSEED"] = "0"
    main()
