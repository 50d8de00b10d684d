"""EIDO conveyance subscriber against the simulated CAD's publisher over a real WebSocket."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest

from cad_bridge import CallTypeMapper, EidoSubscriber, parse_eido
from cad_bridge.outbox import Backoff
from simulator.cad import CallGenerator, SimulatedCad

pytestmark = pytest.mark.integration


@pytest.fixture
async def cad() -> AsyncIterator[SimulatedCad]:
    server = SimulatedCad()
    await server.start()
    yield server
    await server.close()


async def _until(predicate: Any, timeout_s: float = 30.0) -> None:
    async with asyncio.timeout(timeout_s):
        while True:
            if predicate():
                return
            await asyncio.sleep(0.02)


async def test_events_are_stored_then_acknowledged_and_survive_a_terminate(
    cad: SimulatedCad,
) -> None:
    stored: list[str] = []
    fail_once = {"armed": True}

    async def store(document: dict[str, Any]) -> None:
        call = parse_eido(document, agency="cspd", mapper=CallTypeMapper())
        if fail_once["armed"]:
            fail_once["armed"] = False
            raise RuntimeError("database is locked")
        stored.append(call.cad_incident_id)

    generator = CallGenerator(seed=3)
    incidents = [generator.next_incident(datetime.now(UTC)) for _ in range(3)]
    subscriber = EidoSubscriber(cad.conveyance_url, store, backoff=Backoff(0.05, 0.2))
    task = asyncio.create_task(subscriber.run())
    try:
        await _until(lambda: subscriber.subscription_id is not None)
        for incident in incidents[:2]:
            cad.publisher.publish_incident(incident)
        await _until(lambda: len(stored) == 2)
        # The failed store was answered 500, so the publisher kept and resent that event.
        await _until(lambda: all(i.acked for i in cad.publisher.items))
        assert max(i.attempts for i in cad.publisher.items) == 2
        await cad.publisher.terminate_all()
        await _until(lambda: subscriber.connects >= 2 and subscriber.subscription_id is not None)
        cad.publisher.publish_incident(incidents[2])
        await _until(lambda: len(stored) == 3 and subscriber.events_acked == 3)
    finally:
        await subscriber.stop()
        await asyncio.wait_for(task, 30)
    assert len(set(stored)) == 3
    assert subscriber.events_acked == 3


async def test_the_subscriber_reconnects_after_the_cad_goes_away(cad: SimulatedCad) -> None:
    stored: list[dict[str, Any]] = []

    async def store(document: dict[str, Any]) -> None:
        stored.append(document)

    subscriber = EidoSubscriber(cad.conveyance_url, store, backoff=Backoff(0.05, 0.3))
    task = asyncio.create_task(subscriber.run())
    try:
        await _until(lambda: subscriber.subscription_id is not None)
        await cad.stop()
        await cad.start()
        cad.publisher.publish_incident(CallGenerator(seed=9).next_incident())
        await _until(lambda: len(stored) == 1)
    finally:
        await subscriber.stop()
        await asyncio.wait_for(task, 30)
    assert subscriber.connects >= 2
    assert json.dumps(stored[0]).count("eidoVersion") == 1
