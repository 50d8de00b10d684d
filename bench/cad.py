"""CAD bench: durable call ingest rate (SQLite WAL) and outbound delivery latency with CAD up.

Usage: python bench/cad.py [--calls 3000] [--batch 200] [--notes 200]
Bounded in count; prints figures and ratios against a raw-sqlite baseline measured in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
from sqlmodel import Session

from cad_bridge import CallTypeMapper, OutboxDelivery, PlainJsonCadAdapter, parse_call
from dfr.cad_ingest import ingest_call, store_call
from dfr.db import make_engine, upgrade_schema
from dfr.fleet import ensure_agency
from dfr.outbox import SqlOutboxStore, add_note
from simulator.cad import CallGenerator, SimulatedCad, plain_document


def _documents(n: int) -> list[bytes]:
    gen = CallGenerator(seed=5)
    return [
        json.dumps(plain_document(gen.next_incident(), agency="cspd")).encode() for _ in range(n)
    ]


def _engine(directory: Path) -> tuple[object, str]:
    url = f"sqlite:///{directory / 'bench.sqlite3'}"
    upgrade_schema(url)
    engine = make_engine(url)
    with Session(engine) as session:
        ensure_agency(session, "cspd", "CSPD")
        session.commit()
    return engine, url


def bench_baseline(directory: Path, n: int) -> float:
    """Raw sqlite3 (WAL, synchronous=NORMAL) insert of the JSON text, one commit per row."""
    db = sqlite3.connect(directory / "raw.sqlite3")
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, k TEXT UNIQUE, doc TEXT)")
    docs = _documents(n)
    start = time.perf_counter()
    for i, doc in enumerate(docs):
        db.execute("INSERT INTO t (k, doc) VALUES (?, ?)", (str(i), doc.decode()))
        db.commit()
    rate = n / (time.perf_counter() - start)
    db.close()
    return rate


def bench_ingest(directory: Path, n: int, batch: int) -> tuple[float, float]:
    """Parse + validate + store, one transaction per call, then `batch` calls per transaction."""
    mapper = CallTypeMapper()
    docs = _documents(2 * n)
    engine, _ = _engine(directory)
    start = time.perf_counter()
    for body in docs[:n]:
        store_call(engine, parse_call(body, default_agency="cspd", mapper=mapper))  # type: ignore[arg-type]
    single = n / (time.perf_counter() - start)
    start = time.perf_counter()
    rest = docs[n:]
    for i in range(0, len(rest), batch):
        with Session(engine) as session:  # type: ignore[call-overload]
            for body in rest[i : i + batch]:
                ingest_call(session, parse_call(body, default_agency="cspd", mapper=mapper))
            session.commit()
    batched = n / (time.perf_counter() - start)
    return single, batched


async def bench_delivery(directory: Path, notes: int) -> list[float]:
    """Commit a note (outbox row in the same transaction) -> CAD has it; milliseconds each."""
    engine, _ = _engine(directory)
    doc = parse_call(_documents(1)[0], default_agency="cspd", mapper=CallTypeMapper())
    call_id = store_call(engine, doc).call_id  # type: ignore[arg-type]
    cad = SimulatedCad()
    await cad.start()
    latencies: list[float] = []
    async with httpx.AsyncClient() as client:
        adapter = PlainJsonCadAdapter(client, cad.base_url)
        delivery = OutboxDelivery(SqlOutboxStore(engine), lambda _a: adapter)  # type: ignore[arg-type]
        task = asyncio.create_task(delivery.run())
        try:
            for i in range(notes):

                def write(k: int = i) -> datetime:
                    with Session(engine) as session:  # type: ignore[call-overload]
                        add_note(session, call_id, author="bench", text=f"n{k}")
                        session.commit()
                    return datetime.now(UTC)

                committed = await asyncio.to_thread(write)
                delivery.notify()
                async with asyncio.timeout(30):
                    while True:
                        if len(cad.state.events) > i:
                            break
                        await asyncio.sleep(0.0005)
                received = cad.state.events[i].received_at
                latencies.append((received - committed).total_seconds() * 1000)
        finally:
            delivery.stop()
            await task
            await cad.close()
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--notes", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        baseline = bench_baseline(directory, args.calls)
        single, batched = bench_ingest(directory, args.calls, args.batch)
        (directory / "d").mkdir()
        latencies = asyncio.run(bench_delivery(directory / "d", args.notes))
    q = statistics.quantiles(latencies, n=20)
    print(f"baseline raw sqlite3 insert+commit:      {baseline:8.0f} rows/s")
    print(
        f"ingest, 1 call per transaction:          {single:8.0f} calls/s  ({single / baseline:.2f}x baseline)"
    )
    print(
        f"ingest, {args.batch} calls per transaction:      {batched:8.0f} calls/s  ({batched / baseline:.2f}x baseline)"
    )
    print(
        f"delivery latency commit->CAD ({args.notes} notes): p50 {statistics.median(latencies):.1f} ms, p95 {q[18]:.1f} ms"
    )


if __name__ == "__main__":
    main()
