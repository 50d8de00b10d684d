"""Instances starting together on one empty PostgreSQL database take turns migrating it."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from dfr.db import make_engine
from dfr.fleet import DEMO_FLEET_FILE
from dfr.runtime import bootstrap_database
from tests.postgres import DatabaseFactory


def test_instances_bootstrapping_one_empty_database_at_once_all_start(
    postgres_databases: DatabaseFactory,
) -> None:
    url = postgres_databases.create()
    engines = [make_engine(url) for _ in range(3)]
    try:
        with ThreadPoolExecutor(3) as pool:
            results = list(pool.map(lambda e: bootstrap_database(e, url, DEMO_FLEET_FILE), engines))
    finally:
        for engine in engines:
            engine.dispose()
        postgres_databases.drop(url)
    assert {agency for agency, _ in results} == {"cspd"}
