"""What the benchmark scripts share: free loopback ports, service child processes, figures.

The scripts run as `python bench/<name>.py`; each puts the repository root first on sys.path and
takes bench/ off it (its scripts are named like our packages), then imports `bench.harness`.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
#: `dfr-sim` run by this interpreter (the bench needs no installed entry point).
DFR_SIM = [sys.executable, "-c", "from simulator.cli import main; main()"]
#: Ports PX4 SITL and its ground stations use by default; a bench never takes one.
_PX4_PORTS = range(14000, 19001)


def free_tcp_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now, outside PX4's ranges."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if port not in _PX4_PORTS:
            return port


def free_udp_block(
    count: int, *, start: int, step: int, stop: int = 60000, offsets: Sequence[int] = (0,)
) -> int:
    """A base port such that base + offset + i (i < count) are all free UDP ports, for each offset."""
    for base in range(start, stop, step):
        socks: list[socket.socket] = []
        try:
            for offset in offsets:
                for i in range(count):
                    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                    socks.append(s)
                    s.bind(("127.0.0.1", base + offset + i))
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError(f"no {count} free UDP ports from {start} to {stop}")


def wait_listening(process: subprocess.Popen[bytes], port: int, timeout_s: float = 60) -> None:
    """Return once `process` accepts TCP on 127.0.0.1:`port`; kill it if it exits or times out."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                raise RuntimeError("the service did not start") from None
            time.sleep(0.1)


def service_token(data_dir: Path, role: str, name: str, *, agency: str | None = None) -> str:
    """A bearer token of `role` in a fresh service database under `data_dir` (with `agency`)."""
    from dfr.auth import create_token
    from dfr.db import make_engine, session_scope, upgrade_schema
    from dfr.fleet import ensure_agency
    from dfr.models import Role

    url = f"sqlite:///{data_dir / 'dfr.sqlite3'}"
    upgrade_schema(url)
    engine = make_engine(url)
    with session_scope(engine) as session:
        if agency is not None:
            ensure_agency(session, agency, agency.upper())
        _, token = create_token(session, name, Role(role))
    engine.dispose()
    return token


def pct(values: Sequence[float], q: float) -> float:
    """The q-quantile (0..1, nearest rank below) of `values`, NaN if there are none."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def cpu_seconds(process: psutil.Process | None = None) -> float:
    """User + system CPU seconds of `process` (default: this one), 0 if it is gone."""
    try:
        times = (process or psutil.Process()).cpu_times()
    except psutil.NoSuchProcess:
        return 0.0
    return float(times.user + times.system)
