"""The composition root: the whole service graph from settings alone, in dependency order."""

from __future__ import annotations

import dataclasses
import socket
from pathlib import Path

import pytest

from dfr.call_intake import CallIntake
from dfr.call_ledger import CallLedger
from dfr.dispatch.service import Dispatcher
from dfr.fleet import DEMO_FLEET_FILE
from dfr.flights import FlightService
from dfr.service import Run, Service, build_service
from dfr.settings import Settings
from dfr.video_service import FlightRecordingHook, VideoService

#: Each service after everything it is given at construction.
EXPECTED_ORDER = (
    "engine",
    "metrics",
    "clock",
    "hub",
    "bus",
    "leases",
    "airspace",
    "principals",
    "outbox",
    "ledger",
    "video",
    "cameras",
    "integrated_cameras",
    "recordings",
    "retention",
    "fleet",
    "camera_aim",
    "privacy",
    "flights",
    "dispatcher",
    "cad_units",
    "intake",
    "eido_subscriber",
    "keeper",
    "recovery",
)


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any socket opened while building the graph fails the test."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the service graph opened a network socket")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "bind", refuse)


async def test_the_graph_is_built_from_settings_alone_in_dependency_order(
    tmp_path: Path, no_network: None
) -> None:
    settings = Settings(mode="test", data_dir=tmp_path / "data", fleet_file=DEMO_FLEET_FILE)
    async with build_service(settings, run=Run.NONE) as service:
        assert service.construction_order == EXPECTED_ORDER
        assert service.default_agency_id == "cspd"
        assert isinstance(service.flights, FlightService)
        assert isinstance(service.dispatcher, Dispatcher)
        assert isinstance(service.ledger, CallLedger)
        assert isinstance(service.intake, CallIntake)
        assert isinstance(service.video, VideoService)
        assert isinstance(service.recordings, FlightRecordingHook)
        assert service.eido_subscriber is None  # none configured
        assert not service.flights.running and not service.dispatcher.running


async def test_every_service_is_reachable_from_the_container(
    tmp_path: Path, no_network: None
) -> None:
    settings = Settings(mode="test", data_dir=tmp_path / "data", fleet_file=DEMO_FLEET_FILE)
    async with build_service(settings, run=Run.NONE) as service:
        fields = {f.name for f in dataclasses.fields(Service)}
        assert set(EXPECTED_ORDER) <= fields
        for name in EXPECTED_ORDER:
            if name != "eido_subscriber":
                assert getattr(service, name) is not None, name


async def test_the_running_parts_start_and_stop_with_the_graph(tmp_path: Path) -> None:
    settings = Settings(mode="test", data_dir=tmp_path / "data")  # no fleet: no drone links
    async with build_service(settings, run=Run.ALL) as service:
        assert service.flights.running and service.dispatcher.running
    assert not service.flights.running and not service.dispatcher.running
