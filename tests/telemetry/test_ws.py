"""The stream endpoint over a real ASGI WebSocket (TestClient), with an injected authorizer."""

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI, WebSocket, WebSocketException
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from telemetry import Hub, make_router
from tests.telemetry.factories import alert_msg, drone_msg


class _Viewer:
    name = "viewer"


async def _authorize(websocket: WebSocket) -> _Viewer:
    # The dfr authorizer resolves real tokens; here one fixed token stands for a valid one.
    if websocket.query_params.get("token") != "good":
        await websocket.accept()
        raise WebSocketException(code=4401, reason="no")
    return _Viewer()


@pytest.fixture
def hub() -> Hub:
    return Hub(batch_interval_s=0, max_subscribers=2)


@pytest.fixture
def client(hub: Hub) -> Iterator[TestClient]:
    app = FastAPI()
    app.include_router(make_router(hub, _authorize), prefix="/api/v1")
    with TestClient(app) as test_client:
        yield test_client


def _frame(ws: Any) -> list[dict[str, Any]]:
    decoded = json.loads(ws.receive_text())
    assert isinstance(decoded, list)
    return decoded


def test_a_client_gets_the_snapshot_then_live_changes(client: TestClient, hub: Hub) -> None:
    hub.publish(drone_msg("D1", step=1))
    with client.websocket_connect("/api/v1/stream?token=good") as ws:
        [snapshot] = _frame(ws)
        assert [m["key"] for m in snapshot["data"]["messages"]] == ["drone:D1"]
        assert client.portal is not None
        client.portal.call(hub.publish, drone_msg("D1", step=2))
        client.portal.call(hub.publish, alert_msg(1))
        keys: list[str] = []
        while len(keys) < 2:
            keys += [m["key"] for m in _frame(ws)]
        assert keys == ["drone:D1", "alert:a1"]
    assert _eventually_zero(client, hub)


def _eventually_zero(client: TestClient, hub: Hub) -> bool:
    assert client.portal is not None
    for _ in range(1000):
        if client.portal.call(lambda: hub.subscriber_count) == 0:
            return True
    return False


def test_the_bearer_subprotocol_is_echoed(client: TestClient) -> None:
    with client.websocket_connect("/api/v1/stream?token=good", subprotocols=["bearer", "x"]) as ws:
        assert ws.accepted_subprotocol == "bearer"
        assert _frame(ws)[0]["type"] == "snapshot"


def test_a_refused_client_gets_the_authorizers_close_code(client: TestClient) -> None:
    with pytest.raises(WebSocketDisconnect) as info:
        with client.websocket_connect("/api/v1/stream?token=bad") as ws:
            ws.receive_text()
    assert info.value.code == 4401


def test_a_client_over_the_limit_is_told_to_come_back_later(client: TestClient) -> None:
    with (
        client.websocket_connect("/api/v1/stream?token=good") as first,
        client.websocket_connect("/api/v1/stream?token=good") as second,
    ):
        _frame(first)
        _frame(second)
        with pytest.raises(WebSocketDisconnect) as info:
            with client.websocket_connect("/api/v1/stream?token=good") as third:
                third.receive_text()
        assert info.value.code == 1013


def test_closing_the_hub_closes_clients_going_away(client: TestClient, hub: Hub) -> None:
    with client.websocket_connect("/api/v1/stream?token=good") as ws:
        _frame(ws)
        assert client.portal is not None
        client.portal.call(hub.close)
        with pytest.raises(WebSocketDisconnect) as info:
            ws.receive_text()
        assert info.value.code == 1001
