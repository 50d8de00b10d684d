"""LanedTransport against a real HTTP server on loopback: bounded connections, lanes always given back."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from cad_bridge import LanedTransport
from tests.cad_bridge.http_sink import SlowServer

pytestmark = pytest.mark.integration


@pytest.fixture
async def server() -> AsyncIterator[SlowServer]:
    state = SlowServer()
    srv = await asyncio.start_server(state.handle, "127.0.0.1", 0)
    state.port = srv.sockets[0].getsockname()[1]
    async with srv:
        yield state


async def _post(client: httpx.AsyncClient, port: int, i: int) -> int:
    response = await client.post(f"http://127.0.0.1:{port}/events/{i}", content=b'{"n": 1}')
    return response.status_code


async def test_requests_at_once_share_at_most_the_lanes_connections(server: SlowServer) -> None:
    transport = LanedTransport(3)
    async with httpx.AsyncClient(transport=transport) as client:
        statuses = await asyncio.gather(*(_post(client, server.port, i) for i in range(12)))
        assert transport.free_lanes == 3
    assert statuses == [202] * 12
    # Three lanes, each one kept-alive connection, reused for the four rounds.
    assert server.connections == 3
    assert server.most_open == 3


async def test_a_failed_request_gives_its_lane_back(server: SlowServer) -> None:
    server.close_first = 2
    transport = LanedTransport(2)
    async with httpx.AsyncClient(transport=transport) as client:
        results = await asyncio.gather(
            *(_post(client, server.port, i) for i in range(2)), return_exceptions=True
        )
        assert all(isinstance(r, httpx.TransportError) for r in results), results
        assert transport.free_lanes == 2
        assert await _post(client, server.port, 3) == 202
        assert transport.free_lanes == 2


async def test_a_request_cut_by_its_timeout_gives_its_lane_back(server: SlowServer) -> None:
    server.delay_s = 5.0
    transport = LanedTransport(1)
    async with httpx.AsyncClient(transport=transport) as client:
        with pytest.raises(httpx.ReadTimeout):
            await client.post(f"http://127.0.0.1:{server.port}/slow", content=b"{}", timeout=0.2)
        assert transport.free_lanes == 1
        server.delay_s = 0.0
        assert await _post(client, server.port, 1) == 202


async def test_a_request_waiting_for_a_lane_can_be_cancelled(server: SlowServer) -> None:
    server.delay_s = 0.5
    transport = LanedTransport(1)
    async with httpx.AsyncClient(transport=transport) as client:
        first = asyncio.create_task(_post(client, server.port, 1))
        await asyncio.sleep(0.1)
        waiting = asyncio.create_task(_post(client, server.port, 2))
        await asyncio.sleep(0.05)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        assert await first == 202
        assert transport.free_lanes == 1
    assert server.answered == 1


def test_zero_lanes_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        LanedTransport(0)
