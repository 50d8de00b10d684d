"""The simulated CAD: generator realism, documents, event recording, outage switch, CLI."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator

import httpx
import pytest

from cad_bridge import CallTypeMapper, parse_eido, validate_eido
from simulator.cad import (
    CallGenerator,
    SimulatedCad,
    eido_document,
    plain_document,
    within_reach,
)


def test_generator_is_reproducible_and_mixes_in_and_out_of_reach() -> None:
    first = [CallGenerator(seed=7).next_incident() for _ in range(1)]
    a = CallGenerator(seed=7)
    b = CallGenerator(seed=7)
    calls_a = [a.next_incident() for _ in range(200)]
    calls_b = [b.next_incident() for _ in range(200)]
    assert [(c.call_type, c.lat, c.lon) for c in calls_a] == [
        (c.call_type, c.lat, c.lon) for c in calls_b
    ]
    assert first[0].incident_id == calls_a[0].incident_id
    reach = [within_reach(c.lat, c.lon) for c in calls_a]
    assert 0.5 < sum(reach) / len(reach) < 0.9
    assert all(1 <= c.priority <= 5 for c in calls_a)
    assert len({c.call_type for c in calls_a}) >= 8


def test_generated_eido_documents_validate_against_the_nena_schema() -> None:
    generator = CallGenerator(seed=2)
    for _ in range(25):
        incident = generator.next_incident()
        doc = eido_document(incident)
        validate_eido(doc)
        call = parse_eido(doc, agency="cspd", mapper=CallTypeMapper())
        assert call.priority == incident.priority
        assert call.location.lat_deg == pytest.approx(incident.lat)


def test_plain_documents_carry_every_field() -> None:
    doc = plain_document(CallGenerator(seed=1).next_incident(), agency="cspd")
    assert set(doc) >= {
        "cad_incident_id",
        "call_type",
        "priority",
        "location",
        "received_at",
        "status",
        "notes",
        "flags",
        "agency",
    }


@pytest.fixture
async def cad() -> AsyncIterator[SimulatedCad]:
    server = SimulatedCad(strict_incidents=True)
    await server.start()
    yield server
    await server.close()


@pytest.mark.integration
async def test_events_need_an_idempotency_key_and_a_known_incident(cad: SimulatedCad) -> None:
    cad.add_incident(CallGenerator(seed=1).next_incident())
    known = next(iter(cad.state.incidents))
    async with httpx.AsyncClient(base_url=cad.base_url) as client:
        body = {"event_id": "k1", "kind": "note"}
        assert (await client.post(f"/incidents/{known}/events", json=body)).status_code == 400
        ok = await client.post(
            f"/incidents/{known}/events", json=body, headers={"Idempotency-Key": "k1"}
        )
        assert ok.status_code == 200
        again = await client.post(
            f"/incidents/{known}/events", json=body, headers={"Idempotency-Key": "k1"}
        )
        assert again.json()["duplicate"] is True
        unknown = await client.post(
            "/incidents/nope/events", json={"event_id": "k2"}, headers={"Idempotency-Key": "k2"}
        )
        assert unknown.status_code == 404
        events = (await client.get("/events")).json()
    assert events["count"] == 1 and events["duplicates"] == 1


@pytest.mark.integration
async def test_outage_switch_over_http_refuses_then_comes_back(cad: SimulatedCad) -> None:
    async with httpx.AsyncClient(base_url=cad.base_url) as client:
        r = await client.post("/control/outage", json={"mode": "503"})
        assert r.json() == {"mode": "503"}
        assert (await client.post("/incidents/x/events", json={})).status_code == 503
        # Long enough that a busy machine still sees the listener closed before it comes back.
        await client.post("/control/outage", json={"mode": "refuse", "duration_s": 3.0})
    # A new connection per request: "refused" is about connecting, not a kept-alive socket.
    no_keepalive = httpx.Limits(max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=cad.base_url, limits=no_keepalive) as fresh:
        refused = back = False
        async with asyncio.timeout(30):
            while not back:
                try:
                    await fresh.get("/events")
                    back = refused
                except httpx.ConnectError:
                    refused = True
                except (httpx.RemoteProtocolError, httpx.ReadError):
                    pass  # accepted just as the listener closed, then reset or cut short
                await asyncio.sleep(0.01)
        assert (await fresh.get("/events")).status_code == 200


def test_cli_help_lists_serve_and_generate() -> None:
    out = subprocess.run(
        [sys.executable, "-c", "from simulator.cli import main; main()", "cad", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0
    assert "serve" in out.stdout and "generate" in out.stdout
