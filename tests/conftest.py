"""Fixtures shared by every test package."""

from __future__ import annotations

import contextlib
import gc
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from simulator.scenarios import ports as scenario_ports
from tests.postgres import (
    DatabaseFactory,
    PostgresUnavailableError,
    start_local_postgres,
    stop_local_postgres,
)

DB_BACKENDS = ("sqlite", "postgresql")
_REQUIRE_POSTGRES = pytest.StashKey[bool]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("dfr databases")
    group.addoption(
        "--db",
        choices=(*DB_BACKENDS, "both"),
        default="both",
        help="database backends for tests marked `databases` (default both)",
    )
    group.addoption(
        "--postgres-url",
        default=os.environ.get("DFR_TEST_POSTGRES_URL"),
        help="an existing PostgreSQL server (URL allowed to CREATE DATABASE) instead of a private "
        "one started for the run; default $DFR_TEST_POSTGRES_URL",
    )


def pytest_configure(config: pytest.Config) -> None:
    # Read before any test runs: the tests clear DFR_* variables while they run.
    config.stash[_REQUIRE_POSTGRES] = os.environ.get("DFR_REQUIRE_POSTGRES") == "1"


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "db_backend" not in metafunc.fixturenames:
        return
    if metafunc.definition.get_closest_marker("databases") is None:
        return
    chosen = metafunc.config.getoption("--db")
    backends = DB_BACKENDS if chosen == "both" else (chosen,)
    metafunc.parametrize("db_backend", backends, indirect=True)


@pytest.fixture(scope="session")
def postgres_databases(request: pytest.FixtureRequest) -> Iterator[DatabaseFactory]:
    """Empty databases on the run's PostgreSQL server (started on first use)."""
    external = request.config.getoption("--postgres-url")
    if external:
        factory = DatabaseFactory(external)
        factory.wait_ready()
        yield factory
        return
    try:
        server = start_local_postgres()
    except PostgresUnavailableError as exc:
        if request.config.stash[_REQUIRE_POSTGRES]:
            pytest.fail(f"DFR_REQUIRE_POSTGRES=1 but {exc}")
        pytest.skip(str(exc))
    try:
        factory = DatabaseFactory(server.admin_url)
        factory.wait_ready()
        yield factory
    finally:
        stop_local_postgres(server)


@pytest.fixture
def db_backend(request: pytest.FixtureRequest) -> str:
    """The backend of this test: a `databases` test's parameter, else SQLite."""
    return str(getattr(request, "param", "sqlite"))


@pytest.fixture
def database_url(request: pytest.FixtureRequest, db_backend: str, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty database on this test's backend, dropped afterwards."""
    if db_backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'dfr.sqlite3'}"
        return
    factory: DatabaseFactory = request.getfixturevalue("postgres_databases")
    url = factory.create()
    yield url
    factory.drop(url)


@pytest.fixture(autouse=True)
def _clean_dfr_environ() -> Iterator[None]:
    """Tests build Settings explicitly; no DFR_* variable of the machine leaks in."""
    saved = {k: v for k, v in os.environ.items() if k.startswith("DFR_")}
    for key in saved:
        del os.environ[key]
    yield
    for key in [k for k in os.environ if k.startswith("DFR_")]:
        del os.environ[key]
    os.environ.update(saved)


def free_tcp_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now (never one of PX4's defaults)."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if not (14000 <= port <= 19000):
            return port


def free_udp_ports(n: int) -> list[int]:
    """`n` distinct UDP ports on 127.0.0.1 free right now, never in PX4's default ranges."""
    return scenario_ports.free_udp_ports(n)


@pytest.fixture(scope="session")
def nats_url() -> Iterator[str]:
    """The URL of the run's private NATS server on 127.0.0.1 (started on first use)."""
    from tests.nats_server import NatsUnavailableError, start_local_nats

    try:
        server = start_local_nats()
    except NatsUnavailableError as exc:
        pytest.fail(str(exc))
    try:
        yield server.url
    finally:
        server.stop()


@contextlib.contextmanager
def no_collection_pauses() -> Iterator[None]:
    """No cyclic garbage collection for the block (a service running in this test process).

    After hundreds of tests this process's heap is large, and a full collection over it pauses
    every thread for most of a second: at a x20 speed-up that is 15 s of vehicle time without a
    GCS heartbeat, a data-link-loss failsafe the test did not ask for. `dfr serve` freezes its
    start-up heap instead (dfr/server.py); here the block is short, so collection simply waits.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
