"""Both outbound adapters against the simulated CAD over real HTTP, and the outcome rules."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from cad_bridge import (
    EVENT_CANCELLED,
    CadAdapter,
    CadRejectedError,
    CadUnavailableError,
    EidoCadAdapter,
    OutboundEvent,
    PlainJsonCadAdapter,
    UnitReport,
    validate_eido,
)
from simulator.cad import Outage, SimulatedCad
from tests.cad_bridge.factories import outbound_event

pytestmark = pytest.mark.integration


def _note(event_id: str) -> OutboundEvent:
    return outbound_event(
        "note",
        event_id=event_id,
        cad_incident_id="CS-1",
        author="dispatcher",
        text=f"note {event_id}",
    )


@pytest.fixture
async def cad() -> AsyncIterator[SimulatedCad]:
    server = SimulatedCad(token="cad-secret")
    await server.start()
    yield server
    await server.close()


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as c:
        yield c


def _adapters(client: httpx.AsyncClient, cad: SimulatedCad) -> list[CadAdapter]:
    return [
        PlainJsonCadAdapter(client, cad.base_url, token="cad-secret", timeout_s=2),
        EidoCadAdapter(client, cad.base_url, token="cad-secret", timeout_s=2),
    ]


async def test_both_adapters_satisfy_the_protocol(
    client: httpx.AsyncClient, cad: SimulatedCad
) -> None:
    for adapter in _adapters(client, cad):
        assert isinstance(adapter, CadAdapter)
        assert {"notes-out", "unit-status-out", "cancel-out"} <= adapter.capabilities


async def test_plain_events_arrive_with_idempotency_key_and_duplicates_count_once(
    client: httpx.AsyncClient, cad: SimulatedCad
) -> None:
    adapter = PlainJsonCadAdapter(client, cad.base_url, token="cad-secret")
    await adapter.deliver(_note("e-1"))
    await adapter.deliver(_note("e-1"))
    status = outbound_event(
        "unit_status",
        event_id="e-2",
        cad_incident_id="CS-1",
        unit=UnitReport(id="D1", status="EnRoute", eta_s=80),
    )
    await adapter.deliver(status)
    got = (await client.get(f"{cad.base_url}/events")).json()
    assert [e["idempotency_key"] for e in got["data"]] == ["e-1", "e-2"]
    assert got["duplicates"] == 1
    assert got["data"][1]["body"]["unit"] == {"id": "D1", "status": "EnRoute", "eta_s": 80.0}


async def test_eido_adapter_posts_schema_valid_documents(
    client: httpx.AsyncClient, cad: SimulatedCad
) -> None:
    adapter = EidoCadAdapter(client, cad.base_url, token="cad-secret")
    incident = "urn:emergency:uid:incidentid:cs-9:cspd.coloradosprings.gov"
    cancel = outbound_event(
        "cancel",
        event_id="c-1",
        cad_incident_id=incident,
        author="d",
        disposition=EVENT_CANCELLED,
        call_type="SUSP",
    )
    await adapter.deliver(cancel)
    event = (await client.get(f"{cad.base_url}/events")).json()["data"][0]
    assert event["incident_id"] == incident and event["format"] == "eido"
    validate_eido(event["body"])


async def test_503_and_refused_connections_are_retryable(
    client: httpx.AsyncClient, cad: SimulatedCad
) -> None:
    for adapter in _adapters(client, cad):
        await cad.set_outage(Outage.UNAVAILABLE)
        with pytest.raises(CadUnavailableError) as info:
            await adapter.deliver(_note("x"))
        assert info.value.status_code == 503
        await cad.set_outage(Outage.NONE)
    await cad.stop()
    for adapter in _adapters(client, cad):
        with pytest.raises(CadUnavailableError, match="unreachable"):
            await adapter.deliver(_note("y"))


async def test_a_hanging_cad_times_out_as_retryable(
    client: httpx.AsyncClient, cad: SimulatedCad
) -> None:
    await cad.set_outage(Outage.TIMEOUT, hang_s=30)
    adapter = PlainJsonCadAdapter(client, cad.base_url, token="cad-secret", timeout_s=0.3)
    with pytest.raises(CadUnavailableError, match="did not answer"):
        await adapter.deliver(_note("z"))
    await cad.set_outage(Outage.NONE)


async def test_a_wrong_token_is_a_dead_letter(client: httpx.AsyncClient, cad: SimulatedCad) -> None:
    adapter = PlainJsonCadAdapter(client, cad.base_url, token="wrong")
    with pytest.raises(CadRejectedError) as info:
        await adapter.deliver(_note("w"))
    assert info.value.status_code == 401


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (200, None),
        (201, None),
        (409, None),
        (400, CadRejectedError),
        (404, CadRejectedError),
        (429, CadUnavailableError),
        (500, CadUnavailableError),
        (502, CadUnavailableError),
    ],
)
async def test_status_codes_classify_as_delivered_dead_or_retry(
    status: int, outcome: type[Exception] | None
) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(status, text="answer")

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as mock:
        adapter = PlainJsonCadAdapter(mock, "http://cad.invalid", token="t")
        if outcome is None:
            await adapter.deliver(_note("k-1"))
        else:
            with pytest.raises(outcome):
                await adapter.deliver(_note("k-1"))
    assert seen[0].headers["Idempotency-Key"] == "k-1"
    assert seen[0].headers["Authorization"] == "Bearer t"
    assert seen[0].url.path == "/incidents/CS-1/events"
