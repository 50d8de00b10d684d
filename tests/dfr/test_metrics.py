"""`GET /metrics`: counts that move with the service's work, state read at scrape time, access rule."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import os
from collections.abc import AsyncIterator, Callable, Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from dfr.auth import create_token
from dfr.db import session_scope
from dfr.log_format import JsonFormatter
from dfr.main import create_app
from dfr.metrics import Metrics
from dfr.models import Role
from dfr.service import Run
from dfr.settings import CadSettings, MetricsSettings, Settings
from geofence import destination
from simulator.cad import SimulatedCad
from tests.conftest import free_tcp_port
from tests.dfr.conftest import TokenFactory, one_agency_fleet
from tests.dfr.flight_rig import DOCK, rig

FIXTURES = Path(__file__).parents[1] / "cad_bridge" / "fixtures"
CAD_TOKEN = "sim-cad-token"
CALLS = 5

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def samples(text: str) -> Samples:
    """Every sample of a scrape by name and labels."""
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(scraped: Samples, name: str, **labels: str) -> float:
    return scraped.get((name, frozenset(labels.items())), 0.0)


def total(scraped: Samples, name: str) -> float:
    return sum(v for (n, _), v in scraped.items() if n == name)


@contextlib.asynccontextmanager
async def serving(app: FastAPI) -> AsyncIterator[str]:
    """`app` (lifespan included) under uvicorn on a free loopback port in this loop."""
    port = free_tcp_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    task = asyncio.create_task(server.serve())
    try:
        async with asyncio.timeout(60):
            while not server.started:
                assert not task.done(), "the service did not start"
                await asyncio.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


async def eventually(check: Callable[[], Any], timeout_s: float = 30.0) -> Any:
    """Poll `check` (a coroutine function) until it returns something truthy."""
    async with asyncio.timeout(timeout_s):
        while True:
            result = await check()
            if result:
                return result
            await asyncio.sleep(0.1)


def plain_call(incident: str) -> dict[str, Any]:
    body: dict[str, Any] = json.loads((FIXTURES / "plain" / "suspicious_person.json").read_text())
    body["cad_incident_id"] = incident
    return body


@pytest.fixture
async def cad() -> AsyncIterator[SimulatedCad]:
    server = SimulatedCad(token=CAD_TOKEN)
    await server.start()
    yield server
    await server.close()


@pytest.mark.integration
async def test_a_scrape_counts_the_calls_decisions_and_cad_deliveries(
    tmp_path: Path, cad: SimulatedCad
) -> None:
    settings = Settings(
        mode="test",
        data_dir=tmp_path / "data",
        fleet_file=one_agency_fleet(tmp_path),
        cad=CadSettings(base_url=cad.base_url, token=CAD_TOKEN, timeout_s=2.0),
    )
    app = create_app(settings, run=Run.DISPATCH | Run.CAD)
    async with serving(app) as base:
        with session_scope(app.state.service.engine) as session:
            token = {r: create_token(session, f"test-{r}", r)[1] for r in Role}

        def as_role(role: Role) -> dict[str, str]:
            return {"Authorization": f"Bearer {token[role]}"}

        async with httpx.AsyncClient(base_url=base, timeout=30) as client:

            async def scrape() -> Samples:
                r = await client.get("/metrics", headers=as_role(Role.ADMIN))
                assert r.status_code == 200, r.text
                assert r.headers["content-type"].startswith("text/plain")
                return samples(r.text)

            before = await scrape()
            assert value(before, "dfr_calls_received_total", outcome="created") == 0
            ids = []
            for n in range(CALLS):
                r = await client.post(
                    "/api/v1/cad/incidents", json=plain_call(f"M-{n}"), headers=as_role(Role.CAD)
                )
                assert r.status_code == 202, r.text
                ids.append(r.json()["id"])
            again = await client.post(
                "/api/v1/cad/incidents", json=plain_call("M-0"), headers=as_role(Role.CAD)
            )
            assert again.status_code == 202 and not again.json()["created"]
            note = await client.post(
                f"/api/v1/calls/{ids[0]}/notes",
                json={"text": "metrics note"},
                headers=as_role(Role.DISPATCHER),
            )
            assert note.status_code == 201, note.text

            async def settled() -> Samples | None:
                s = await scrape()
                decided = value(s, "dfr_decision_seconds_count") >= CALLS
                delivered = value(s, "dfr_outbox_delivery_seconds_count") >= 1
                drained = value(s, "dfr_outbox_pending") == 0
                return s if decided and delivered and drained else None

            scraped = await eventually(settled)
    assert value(scraped, "dfr_calls_received_total", outcome="created") == CALLS
    assert value(scraped, "dfr_calls_received_total", outcome="unchanged") == 1
    assert value(scraped, "dfr_decision_seconds_sum") > 0
    assert value(scraped, "dfr_launches_total", kind="call") == 0
    assert total(scraped, "dfr_flights") == 0
    assert value(scraped, "dfr_stream_clients") == 0
    assert any(e.body for e in cad.state.events)


@pytest.mark.integration
@pytest.mark.sim
@pytest.mark.timeout(240)
async def test_flights_links_and_launches_after_a_launch_with_its_log_line(
    tmp_path: Path,
) -> None:
    lines = io.StringIO()
    handler = logging.StreamHandler(lines)
    handler.setFormatter(JsonFormatter(instance_id="test-instance"))
    flights_log = logging.getLogger("dfr.flights")
    flights_log.addHandler(handler)
    previous_level = flights_log.level
    flights_log.setLevel(logging.INFO)
    try:
        async with rig(tmp_path) as r:
            admin = r.http[Role.ADMIN]
            call_id = await r.post_call("METRICS-1", destination(DOCK, 90.0, 800.0), "SUSP", 3)
            launched = await r.launch(call_id)
            assert launched.status_code == 202, launched.text
            flight_id = int(launched.json()["flight_id"])
            response = await admin.get("http://dfr/metrics")
            assert response.status_code == 200, response.text
            scraped = samples(response.text)
    finally:
        flights_log.removeHandler(handler)
        flights_log.setLevel(previous_level)
    assert value(scraped, "dfr_launches_total", kind="call") == 1
    assert value(scraped, "dfr_launches_total", kind="pilot") == 0
    assert total(scraped, "dfr_flights") == 1
    assert value(scraped, "dfr_links", state="connected") == 1
    assert value(scraped, "dfr_mavlink_messages_received_total", drone_id="D1") > 0
    assert value(scraped, "dfr_decision_seconds_count") >= 1
    assert value(scraped, "dfr_calls_received_total", outcome="created") == 1
    launch_lines = [
        entry
        for entry in map(json.loads, lines.getvalue().splitlines())
        if entry["message"].startswith(f"flight {flight_id} launched")
    ]
    assert len(launch_lines) == 1
    assert launch_lines[0]["flight_id"] == flight_id
    assert launch_lines[0]["call_id"] == call_id
    assert launch_lines[0]["drone_id"] == "D1"
    assert launch_lines[0]["instance_id"] == "test-instance"


@pytest.mark.databases
def test_metrics_need_an_admin_token(client: TestClient, auth: TokenFactory) -> None:
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer dfr_nope"}).status_code == 401
    assert client.get("/metrics", headers=auth(Role.DISPATCHER)).status_code == 403
    ok = client.get("/metrics", headers=auth(Role.ADMIN))
    assert ok.status_code == 200
    assert "dfr_calls_received_total" in ok.text


@pytest.mark.databases
def test_metrics_are_open_when_configured_public(settings: Settings) -> None:
    public = settings.model_copy(update={"metrics": MetricsSettings(public=True)})
    with TestClient(create_app(public, run=Run.NONE)) as client:
        r = client.get("/metrics")
    assert r.status_code == 200
    assert "dfr_outbox_pending" in r.text


def test_metrics_are_not_in_the_api_description(app: FastAPI) -> None:
    assert "/metrics" not in app.openapi()["paths"]


def test_two_services_in_one_process_count_apart() -> None:
    first, second = Metrics(), Metrics()
    first.calls_created.inc()
    assert first.registry is not second.registry
    assert second.registry.get_sample_value("dfr_calls_received_total", {"outcome": "created"}) == 0


@pytest.mark.databases
def test_health_names_the_instance_and_its_running_parts(
    client: TestClient, settings: Settings
) -> None:
    body: Mapping[str, Any] = client.get("/api/v1/health").json()
    assert body["status"] == "ok" and body["database"] == "ok"
    assert body["instance_id"] == settings.instance_id
    assert body["dependencies"] == {
        "database": "ok",
        "bus": "in-process",
        "flights": "stopped",
        "dispatch": "stopped",
        "cad_delivery": "stopped",
        "eido_subscription": "not configured",
        "recordings": "stopped",
    }
    assert body["drones_linked"] == 0 and body["drones_connected"] == 0


def test_the_instance_id_comes_from_the_environment_or_host_and_pid(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    default = Settings(mode="test", data_dir=tmp_path)
    assert default.instance_id.endswith(f"-{os.getpid()}")
    monkeypatch.setenv("DFR_INSTANCE_ID", "dfr-a")
    assert Settings(mode="test", data_dir=tmp_path).instance_id == "dfr-a"
