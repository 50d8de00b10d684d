"""Fixtures for the service: a database, settings on a temporary data dir, an app, a client and tokens."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from dfr.auth import create_token
from dfr.db import make_engine, session_scope, upgrade_schema
from dfr.fleet import DEMO_FLEET_FILE, ensure_agency
from dfr.main import create_app
from dfr.models import Role
from dfr.service import Run
from dfr.settings import DatabaseSettings, Settings


def migrated_engine(path: Path) -> Engine:
    """An engine on a SQLite file at `path`, migrated to the latest schema."""
    url = f"sqlite:///{path}"
    upgrade_schema(url)
    return make_engine(url)


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """A migrated database holding one agency, cspd (on each backend in a `databases` module)."""
    upgrade_schema(database_url)
    engine = make_engine(database_url)
    with session_scope(engine) as session:
        ensure_agency(session, "cspd", "CSPD")
    yield engine
    engine.dispose()


@pytest.fixture
def fleet_file() -> Path:
    """The fleet file the service starts with; a module may override it."""
    return DEMO_FLEET_FILE


def one_agency_fleet(directory: Path) -> Path:
    """A fleet file in `directory` with agency cspd and no docks or drones."""
    path = directory / "fleet.toml"
    path.write_text('[agency]\nid = "cspd"\nname = "Colorado Springs PD"\n')
    return path


@pytest.fixture
def settings(tmp_path: Path, fleet_file: Path, db_backend: str, database_url: str) -> Settings:
    # SQLite stays the default file in the data dir; PostgreSQL is the test's own database.
    database = DatabaseSettings(url=database_url if db_backend == "postgresql" else None)
    return Settings(
        mode="test", data_dir=tmp_path / "data", fleet_file=fleet_file, database=database
    )


@pytest.fixture
def app(settings: Settings) -> FastAPI:
    return create_app(settings, run=Run.NONE)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client


TokenFactory = Callable[[Role], dict[str, str]]


@pytest.fixture
def auth(app: FastAPI, client: TestClient) -> TokenFactory:
    """Authorization headers for a new token of the given role."""
    made: dict[Role, dict[str, str]] = {}

    def headers(role: Role) -> dict[str, str]:
        if role not in made:
            with session_scope(app.state.service.engine) as session:
                _, secret = create_token(session, f"test-{role.value}", role)
            made[role] = {"Authorization": f"Bearer {secret}"}
        return made[role]

    return headers
