"""A private, throwaway PostgreSQL server for a test run, and one empty database per test that asks.

The server lives in a temporary directory, listens on 127.0.0.1 only (trust authentication) on a
free port outside 5000-19999 (so never 5432 nor one of PX4 SITL's ports), and is stopped at the end
of the run. `--postgres-url` / `DFR_TEST_POSTGRES_URL` names an existing server instead: its URL
must allow CREATE DATABASE.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

#: Test ports stay out of this band: it holds PostgreSQL's default 5432 and every PX4 SITL port.
_AVOIDED_PORTS = range(5000, 20000)
_START_TIMEOUT_S = 60.0


class PostgresUnavailableError(RuntimeError):
    """No PostgreSQL binaries on this machine (and no external server named)."""


def _major_version(initdb: str) -> int:
    name = Path(initdb).parent.parent.name
    return int(name) if name.isdigit() else 0


def _binary_dir() -> Path:
    """The newest `/usr/lib/postgresql/<n>/bin` holding initdb, else the one on PATH."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=_major_version)
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("initdb")
    if on_path:
        return Path(on_path).resolve().parent
    raise PostgresUnavailableError(
        "PostgreSQL is not installed (no initdb): run scripts/setup-system.sh as root"
    )


def free_tcp_port_outside_px4() -> int:
    for _ in range(200):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if port not in _AVOIDED_PORTS:
            return port
    raise RuntimeError("no free TCP port outside 5000-19999")


def _as_user(argv: list[str]) -> list[str]:
    # PostgreSQL refuses to run as root; CI runs the suite as root.
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *argv]
    return argv


@dataclass
class LocalPostgres:
    """A PostgreSQL server initialised in `root` and run by pg_ctl until `stop`."""

    root: Path
    bin_dir: Path
    port: int = field(default_factory=free_tcp_port_outside_px4)

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def admin_url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        self._run(
            str(self.bin_dir / "initdb"),
            "-D",
            str(self.data_dir),
            "-U",
            "postgres",
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
        )
        (self.data_dir / "pg_hba.conf").write_text(
            "local all all trust\nhost all all 127.0.0.1/32 trust\n"
        )
        with (self.data_dir / "postgresql.conf").open("a") as conf:
            # Durability is worthless for a throwaway server; skipping fsync keeps CREATE DATABASE fast.
            conf.write(
                f"listen_addresses = '127.0.0.1'\nport = {self.port}\n"
                f"unix_socket_directories = '{self.root}'\n"
                "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
                "max_connections = 200\n"
            )
        self._run(
            str(self.bin_dir / "pg_ctl"),
            "-D",
            str(self.data_dir),
            "-l",
            str(self.root / "server.log"),
            "-w",
            "-t",
            str(int(_START_TIMEOUT_S)),
            "start",
        )

    def stop(self) -> None:
        if (self.data_dir / "postmaster.pid").exists():
            self._run(str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), "-m", "fast", "stop")

    def _run(self, *argv: str) -> None:
        done = subprocess.run(
            _as_user(list(argv)), capture_output=True, text=True, timeout=_START_TIMEOUT_S
        )
        if done.returncode != 0:
            log = self.root / "server.log"
            tail = log.read_text()[-2000:] if log.exists() else ""
            raise RuntimeError(f"{argv[0]} failed: {done.stderr or done.stdout}\n{tail}")


def start_local_postgres() -> LocalPostgres:
    """Initialise and start a private server in a new directory under the system temp dir."""
    # Not under pytest's tmp_path: its parents are private to root, and the server runs as postgres.
    bin_dir = _binary_dir()
    root = Path(tempfile.mkdtemp(prefix="dfr-pg-"))
    server = LocalPostgres(root=root, bin_dir=bin_dir)
    try:
        server.start()
    except BaseException:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)
        raise
    return server


def stop_local_postgres(server: LocalPostgres) -> None:
    server.stop()
    shutil.rmtree(server.root, ignore_errors=True)


@dataclass
class DatabaseFactory:
    """Creates uniquely named empty databases on a server and drops them again."""

    admin_url: str

    def create(self) -> str:
        """The SQLAlchemy URL of a new, empty database."""
        # Unique across runs too: several runs may share one external server.
        name = f"dfr_test_{uuid.uuid4().hex[:16]}"
        self._execute(f'CREATE DATABASE "{name}"')
        url = make_url(self.admin_url).set(drivername="postgresql+psycopg", database=name)
        return url.render_as_string(hide_password=False)

    def drop(self, url: str) -> None:
        name = make_url(url).database
        # FORCE: an engine a test forgot to dispose must not keep the database alive.
        self._execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def wait_ready(self) -> None:
        deadline = time.monotonic() + _START_TIMEOUT_S
        while True:
            try:
                self._execute("SELECT 1")
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def _execute(self, sql: str) -> None:
        url = make_url(self.admin_url).set(drivername="postgresql")
        with psycopg.connect(url.render_as_string(hide_password=False), autocommit=True) as conn:
            conn.execute(sql.encode())
