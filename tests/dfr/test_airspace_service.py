"""The service's airspace: routing structures are built ahead, off the event loop, not by a decision."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlmodel import Session

from dfr.airspace import AirspaceService, read_zone_source
from dfr.fleet import DEMO_FLEET_FILE, apply_fleet_file, read_fleet_file
from dfr.runtime import AIRSPACE_PREPARE_PERIOD_S, bootstrap_airspace, keep_airspace_prepared
from flight import SystemClock
from tests.dfr.conftest import migrated_engine


def _demo_airspace(tmp_path: Path) -> AirspaceService:
    engine = migrated_engine(tmp_path / "airspace.sqlite3")
    fleet = read_fleet_file(DEMO_FLEET_FILE)
    with Session(engine) as session:
        apply_fleet_file(session, fleet)
        session.commit()
    service = AirspaceService(engine, fleet.agency.id, 120.0)
    documents = [read_zone_source(z, DEMO_FLEET_FILE.parent) for z in fleet.zones]
    bootstrap_airspace(engine, service, documents)
    return service


def test_prepare_builds_the_visibility_graph_of_each_time_given(tmp_path: Path) -> None:
    service = _demo_airspace(tmp_path)
    # Saturday 19:30 in Denver: the stadium TFR is active; Saturday noon it is not.
    game_night = datetime(2026, 11, 22, 2, 30, tzinfo=UTC)
    noon = datetime(2026, 11, 21, 19, 0, tzinfo=UTC)
    service.prepare(game_night, noon)
    airspace = service.airspace()
    for at in (game_night, noon):
        assert airspace._snapshot(at).field._graph is not None  # built, not waiting for a plan
    assert airspace._snapshot(game_night) is not airspace._snapshot(noon)


def test_prepare_without_zones_does_nothing(tmp_path: Path) -> None:
    service = AirspaceService(migrated_engine(tmp_path / "empty.sqlite3"), "nobody", 120.0)
    service.load()
    service.prepare(datetime.now(UTC))  # no operating area: nothing to build, no error


class _Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[datetime, ...]] = []

    def prepare(self, *at: datetime) -> None:
        self.calls.append(at)


async def test_the_service_prepares_now_and_one_period_ahead_in_service_time() -> None:
    recorder = _Recorder()
    clock = SystemClock(speed=20.0)
    task = asyncio.create_task(keep_airspace_prepared(recorder, clock))  # type: ignore[arg-type]
    try:
        async with asyncio.timeout(10):
            while not recorder.calls:  # noqa: ASYNC110 - the call lands on a worker thread
                await asyncio.sleep(0.01)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    now, ahead = recorder.calls[0]
    assert ahead - now == timedelta(seconds=AIRSPACE_PREPARE_PERIOD_S)
