"""Every route refuses a missing token (401) and a role it does not admit (403)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, APIWebSocketRoute
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from dfr.auth import (
    PUBLIC_PATHS,
    WS_FORBIDDEN,
    WS_UNAUTHENTICATED,
    declared_roles,
    is_public_path,
)
from dfr.main import API_PREFIX, ROUTERS
from dfr.models import Role
from tests.dfr.conftest import TokenFactory

pytestmark = pytest.mark.databases


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", path)


def _api_routes(app: FastAPI) -> list[tuple[str, str, frozenset[Role] | None]]:
    routes: list[tuple[str, str, frozenset[Role] | None]] = []
    for route in (r for router in ROUTERS for r in router.routes):
        if isinstance(route, APIRoute):
            roles = declared_roles(route.dependant)
            path = API_PREFIX + route.path
            routes.extend((m, path, roles) for m in sorted(route.methods - {"HEAD", "OPTIONS"}))
    return routes


def test_the_walked_table_covers_every_route_in_the_openapi_description(app: FastAPI) -> None:
    walked = {(m, p) for m, p, _ in _api_routes(app)}
    described = {
        (method.upper(), path)
        for path, ops in app.openapi()["paths"].items()
        for method in ops
        if method.upper() not in ("HEAD", "OPTIONS")
    }
    assert described <= walked, f"routes outside ROUTERS: {described - walked}"


#: Routes meant for every role (still refused without a token): who am I.
EVERY_ROLE_ROUTES = frozenset({("GET", API_PREFIX + "/me")})


def _ws_routes() -> list[tuple[str, frozenset[Role] | None]]:
    return [
        (API_PREFIX + route.path, declared_roles(route.dependant))
        for router in ROUTERS
        for route in router.routes
        if isinstance(route, APIWebSocketRoute)
    ]


def _ws_close_code(client: TestClient, path: str, **kwargs: Any) -> int | None:
    try:
        with client.websocket_connect(path, **kwargs) as ws:
            ws.receive_text()
    except WebSocketDisconnect as exc:
        return exc.code
    return None


def test_every_websocket_route_closes_4401_without_a_token(client: TestClient) -> None:
    assert _ws_routes(), "the stream is a WebSocket route"
    for path, _ in _ws_routes():
        assert _ws_close_code(client, _concrete(path)) == WS_UNAUTHENTICATED, path
        assert _ws_close_code(client, _concrete(path) + "?token=dfr_nope") == WS_UNAUTHENTICATED


def test_every_websocket_route_closes_4403_for_a_role_it_does_not_admit(
    client: TestClient, auth: TokenFactory
) -> None:
    for path, roles in _ws_routes():
        assert roles is not None, path
        wrong = sorted(set(Role) - roles)
        assert wrong, f"WS {path} admits every role; declare a narrower set"
        token = auth(wrong[0])["Authorization"].removeprefix("Bearer ")
        headers = {"Authorization": f"Bearer {token}"}
        assert _ws_close_code(client, _concrete(path), headers=headers) == WS_FORBIDDEN
        code = _ws_close_code(client, _concrete(path), subprotocols=["bearer", token])
        assert code == WS_FORBIDDEN, path


def test_every_route_is_public_by_list_or_declares_roles(app: FastAPI) -> None:
    undeclared = [
        f"{m} {p}" for m, p, roles in _api_routes(app) if roles is None and not is_public_path(p)
    ]
    assert not undeclared, f"routes without a role declaration: {undeclared}"
    assert len(_api_routes(app)) >= 15


def test_every_route_refuses_a_missing_token(client: TestClient, app: FastAPI) -> None:
    checked = 0
    for method, path, roles in _api_routes(app):
        if roles is None:
            continue
        response = client.request(method, _concrete(path))
        assert response.status_code == 401, f"{method} {path}: {response.status_code}"
        assert response.headers["content-type"].startswith("application/problem+json")
        checked += 1
    assert checked > 0


def test_every_route_refuses_a_role_it_does_not_admit(
    client: TestClient, app: FastAPI, auth: TokenFactory
) -> None:
    checked = 0
    for method, path, roles in _api_routes(app):
        if roles is None or (method, path) in EVERY_ROLE_ROUTES:
            continue
        wrong = sorted(set(Role) - roles)
        assert wrong, f"{method} {path} admits every role; declare a narrower set"
        response = client.request(method, _concrete(path), headers=auth(wrong[0]))
        assert response.status_code == 403, f"{method} {path} as {wrong[0]}: {response.status_code}"
        checked += 1
    assert checked > 0


def test_an_unknown_token_is_refused(client: TestClient) -> None:
    response = client.get("/api/v1/drones", headers={"Authorization": "Bearer dfr_nope"})
    assert response.status_code == 401


def test_a_revoked_token_is_refused(client: TestClient, auth: TokenFactory) -> None:
    admin = auth(Role.ADMIN)
    created = client.post("/api/v1/tokens", json={"name": "temp", "role": "pilot"}, headers=admin)
    assert created.status_code == 201
    pilot = {"Authorization": f"Bearer {created.json()['token']}"}
    assert client.get("/api/v1/drones", headers=pilot).status_code == 200
    assert client.delete(f"/api/v1/tokens/{created.json()['id']}", headers=admin).status_code == 200
    assert client.get("/api/v1/drones", headers=pilot).status_code == 401


def test_websocket_routes_declare_roles_too() -> None:
    for route in (r for router in ROUTERS for r in router.routes):
        if isinstance(route, APIWebSocketRoute):
            assert declared_roles(route.dependant) is not None, route.path


@pytest.mark.parametrize("path", sorted(PUBLIC_PATHS - {"/docs/oauth2-redirect", "/redoc"}))
def test_public_paths_answer_without_a_token(client: TestClient, path: str) -> None:
    assert client.get(path).status_code == 200
