"""Docks and drones over HTTP: CRUD, and bad input refused with problem+json, nothing written."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from dfr.models import Role
from tests.dfr.conftest import TokenFactory

pytestmark = pytest.mark.databases

DOCK = {"id": "north", "name": "North Station", "lat": 38.95, "lon": -104.78, "alt_amsl_m": 2000}
DRONE = {"id": "D9", "dock_id": "north", "mavlink_url": "udpin://127.0.0.1:24599"}


def _counts(client: TestClient, headers: dict[str, str]) -> tuple[int, int]:
    docks = client.get("/api/v1/docks", headers=headers).json()["count"]
    drones = client.get("/api/v1/drones", headers=headers).json()["count"]
    return docks, drones


def _post_dock_body(
    client: TestClient, auth: TokenFactory, content: str, content_type: str = "application/json"
) -> httpx.Response:
    """POST /docks as an admin with a raw body."""
    response: httpx.Response = client.post(
        "/api/v1/docks", content=content, headers={**auth(Role.ADMIN), "Content-Type": content_type}
    )
    return response


def test_demo_fleet_is_loaded_at_start(client: TestClient, auth: TokenFactory) -> None:
    docks = client.get("/api/v1/docks", headers=auth(Role.DISPATCHER)).json()
    drones = client.get("/api/v1/drones", headers=auth(Role.PILOT)).json()
    assert docks["count"] == 3 and drones["count"] == 4
    assert {d["agency_id"] for d in drones["data"]} == {"cspd"}


def test_admin_creates_updates_and_deletes_a_dock_and_drone(
    client: TestClient, auth: TokenFactory
) -> None:
    admin = auth(Role.ADMIN)
    assert client.post("/api/v1/docks", json=DOCK, headers=admin).status_code == 201
    created = client.post("/api/v1/drones", json=DRONE, headers=admin)
    assert created.status_code == 201, created.text
    assert created.json()["name"] == "D9" and created.json()["agency_id"] == "cspd"
    patched = client.patch(
        "/api/v1/drones/D9", json={"cruise_speed_mps": 12.5, "in_maintenance": True}, headers=admin
    )
    assert patched.json()["cruise_speed_mps"] == 12.5 and patched.json()["in_maintenance"]
    assert client.get("/api/v1/drones/D9", headers=admin).json()["cruise_speed_mps"] == 12.5
    assert client.delete("/api/v1/docks/north", headers=admin).status_code == 409
    assert client.delete("/api/v1/drones/D9", headers=admin).status_code == 204
    assert client.delete("/api/v1/docks/north", headers=admin).status_code == 204
    assert client.get("/api/v1/docks/north", headers=admin).status_code == 404


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/v1/docks", {**DOCK, "lat": 95}, "lat"),
        ("/api/v1/docks", {**DOCK, "lon": -181}, "lon"),
        ("/api/v1/docks", {**DOCK, "name": "Sand Creek Division"}, "name"),
        ("/api/v1/docks", {**DOCK, "id": "sand-creek"}, "id"),
        ("/api/v1/docks", {**DOCK, "id": "bad id with spaces"}, "id"),
        ("/api/v1/docks", {**DOCK, "surprise": 1}, "surprise"),
        (
            "/api/v1/drones",
            {**DRONE, "dock_id": "sand-creek", "cruise_speed_mps": -3},
            "cruise_speed_mps",
        ),
        ("/api/v1/drones", {**DRONE, "dock_id": "sand-creek", "name": "Sand Creek 1"}, "name"),
        ("/api/v1/drones", {**DRONE, "dock_id": "sand-creek", "endurance_s": 0}, "endurance_s"),
    ],
)
def test_bad_fleet_input_is_refused_naming_the_field_and_nothing_is_written(
    client: TestClient, auth: TokenFactory, path: str, body: dict[str, Any], field: str
) -> None:
    admin = auth(Role.ADMIN)
    before = _counts(client, admin)
    response = client.post(path, json=body, headers=admin)
    assert response.status_code in (409, 422), response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["status"] == response.status_code
    assert any(e["field"] == field for e in problem.get("errors", [])) or field in problem["detail"]
    assert _counts(client, admin) == before


def test_a_drone_at_an_unknown_dock_is_refused(client: TestClient, auth: TokenFactory) -> None:
    response = client.post(
        "/api/v1/drones", json={**DRONE, "dock_id": "atlantis"}, headers=auth(Role.ADMIN)
    )
    assert response.status_code == 404
    assert "atlantis" in response.json()["detail"]


def test_nan_longitude_is_refused(client: TestClient, auth: TokenFactory) -> None:
    raw = '{"id": "n", "name": "N", "lat": 38.9, "lon": NaN}'
    response = _post_dock_body(client, auth, raw)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "lon"


def test_malformed_json_is_refused_as_problem(client: TestClient, auth: TokenFactory) -> None:
    response = _post_dock_body(client, auth, '{"id": ')
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "body"
    assert "malformed JSON" in response.json()["detail"] or "JSON" in response.json()["detail"]


def test_wrong_content_type_is_refused_with_415(client: TestClient, auth: TokenFactory) -> None:
    response = _post_dock_body(client, auth, "id=x", "text/plain")
    assert response.status_code == 415
    assert response.headers["content-type"].startswith("application/problem+json")


def test_an_oversized_body_is_refused_with_413(client: TestClient, auth: TokenFactory) -> None:
    response = _post_dock_body(client, auth, "x" * 2_000_000)
    assert response.status_code == 413


def test_non_admin_cannot_create_a_dock(client: TestClient, auth: TokenFactory) -> None:
    assert client.post("/api/v1/docks", json=DOCK, headers=auth(Role.DISPATCHER)).status_code == 403
