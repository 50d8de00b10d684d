"""Zones over HTTP: import (all or nothing, every format), list with time windows, delete, route previews."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from dfr.models import Role
from tests.dfr.conftest import TokenFactory

pytestmark = pytest.mark.databases

SAMPLES = Path(__file__).resolve().parents[2] / "geofence" / "samples"
KCOS_INSIDE = {"lat": 38.8058, "lon": -104.7008}  # Colorado Springs airport
SAND_CREEK = {"lat": 38.8339, "lon": -104.7470}


def _zone_ids(client: TestClient, headers: dict[str, str], **params: Any) -> set[str]:
    body = client.get("/api/v1/zones", headers=headers, params=params).json()
    assert body["type"] == "FeatureCollection"
    return {f["properties"]["id"] for f in body["features"]}


def _square(zone_id: str, lon: float, lat: float, d: float = 0.002) -> dict[str, Any]:
    ring = [[lon, lat], [lon + d, lat], [lon + d, lat + d], [lon, lat + d], [lon, lat]]
    return {
        "type": "Feature",
        "geometry": {"type": "Polygon", "coordinates": [ring]},
        "properties": {"id": zone_id, "kind": "exclusion", "name": zone_id},
    }


def _plan(
    client: TestClient,
    headers: dict[str, str],
    start: dict[str, float],
    to: dict[str, float],
    **extra: str,
) -> httpx.Response:
    """POST /routes/plan from `start` to `to`; the response."""
    response: httpx.Response = client.post(
        "/api/v1/routes/plan", json={"from": start, "to": to, **extra}, headers=headers
    )
    return response


def test_the_demo_fleet_loads_the_colorado_springs_zones(
    client: TestClient, auth: TokenFactory
) -> None:
    ids = _zone_ids(client, auth(Role.DISPATCHER))
    assert "kcos-airport" in ids and len(ids) > 100  # keep-outs plus the UASFM ceiling grid


def test_import_geojson_then_delete(client: TestClient, auth: TokenFactory) -> None:
    admin = auth(Role.ADMIN)
    doc = {"type": "FeatureCollection", "features": [_square("test-park", -104.80, 38.86)]}
    response = client.post(
        "/api/v1/zones/import",
        content=json.dumps(doc),
        headers={**admin, "Content-Type": "application/geo+json"},
    )
    assert response.status_code == 201, response.text
    assert response.json() == {"imported": 1, "ids": ["test-park"], "derived_ids": []}
    assert "test-park" in _zone_ids(client, admin)
    assert client.delete("/api/v1/zones/test-park", headers=admin).status_code == 204
    assert "test-park" not in _zone_ids(client, admin)
    assert client.delete("/api/v1/zones/test-park", headers=admin).status_code == 404


def test_a_document_with_one_bad_zone_imports_nothing(
    client: TestClient, auth: TokenFactory
) -> None:
    admin = auth(Role.ADMIN)
    bowtie = _square("bowtie", -104.79, 38.87)
    ring = bowtie["geometry"]["coordinates"][0]
    ring[1], ring[2] = ring[2], ring[1]  # self-intersecting
    doc = {"type": "FeatureCollection", "features": [_square("good-one", -104.80, 38.86), bowtie]}
    before = _zone_ids(client, admin)
    response = client.post(
        "/api/v1/zones/import",
        content=json.dumps(doc),
        headers={**admin, "Content-Type": "application/json"},
    )
    assert response.status_code == 422
    assert "bowtie" in response.json()["detail"]
    assert _zone_ids(client, admin) == before


def test_every_published_format_imports(client: TestClient, auth: TokenFactory) -> None:
    admin = auth(Role.ADMIN)
    for sample, fmt, media in [
        ("ed269_portugal_style.json", "ed269", "application/json"),
        ("ed318_geozones.json", "ed318", "application/json"),
        ("uasfm_cells.csv", "uasfm", "text/csv"),
    ]:
        response = client.post(
            f"/api/v1/zones/import?format={fmt}",
            content=(SAMPLES / sample).read_bytes(),
            headers={**admin, "Content-Type": media},
        )
        assert response.status_code == 201, f"{sample}: {response.text}"
        assert response.json()["imported"] > 0


def test_import_needs_the_admin_role(client: TestClient, auth: TokenFactory) -> None:
    doc = {"type": "FeatureCollection", "features": [_square("x", -104.80, 38.86)]}
    response = client.post("/api/v1/zones/import", json=doc, headers=auth(Role.DISPATCHER))
    assert response.status_code == 403


def test_route_plan_over_a_clear_way_is_about_the_straight_distance(
    client: TestClient, auth: TokenFactory
) -> None:
    response = _plan(client, auth(Role.DISPATCHER), SAND_CREEK, {"lat": 38.845, "lon": -104.76})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["type"] == "FeatureCollection"
    assert 1500 < body["properties"]["length_m"] < 1800


def test_route_plan_for_a_drone_gives_eta_and_energy(
    client: TestClient, auth: TokenFactory
) -> None:
    response = _plan(
        client, auth(Role.PILOT), SAND_CREEK, {"lat": 38.845, "lon": -104.76}, drone_id="D1"
    )
    assert response.status_code == 200, response.text
    summary = response.json()["properties"]
    assert summary["eta_s"] > 0 and summary["energy_wh"]["out_wh"] > 0


def test_a_target_inside_the_airport_gets_a_standoff_with_the_reason(
    client: TestClient, auth: TokenFactory
) -> None:
    response = _plan(client, auth(Role.DISPATCHER), SAND_CREEK, KCOS_INSIDE)
    assert response.status_code == 200, response.text
    standoff = response.json()["properties"]["standoff"]
    assert standoff is not None
    assert "Colorado Springs Airport" in standoff["reason"]
    assert standoff["distance_to_target_m"] > 500


def test_a_target_outside_the_operating_area_is_refused_with_the_reason(
    client: TestClient, auth: TokenFactory
) -> None:
    response = _plan(client, auth(Role.DISPATCHER), SAND_CREEK, {"lat": 39.5, "lon": -104.7})
    assert response.status_code == 422
    assert any("operating area" in e["reason"] for e in response.json()["errors"])


def test_a_route_plan_with_impossible_coordinates_is_refused(
    client: TestClient, auth: TokenFactory
) -> None:
    response = _plan(client, auth(Role.DISPATCHER), {"lat": 95, "lon": 0}, SAND_CREEK)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "from.lat"


def test_geojson_without_feature_ids_imports_and_a_reimport_updates_the_same_zones(
    client: TestClient, auth: TokenFactory
) -> None:
    admin = auth(Role.ADMIN)
    named = _square("unused", -104.80, 38.86)
    del named["properties"]["id"]
    named["properties"]["name"] = "Quail Lake"
    unnamed = _square("unused", -104.79, 38.87)
    del unnamed["properties"]["id"]
    del unnamed["properties"]["name"]
    doc = {"type": "FeatureCollection", "features": [named, unnamed]}
    headers = {**admin, "Content-Type": "application/geo+json"}
    before = _zone_ids(client, admin)
    first = client.post("/api/v1/zones/import", content=json.dumps(doc), headers=headers)
    assert first.status_code == 201, first.text
    body = first.json()
    derived = body["derived_ids"]
    assert [(d["feature"], d["derived_from"]) for d in derived] == [(0, "name"), (1, "geometry")]
    assert derived[0]["id"] == "name-quail-lake"
    assert sorted(body["ids"]) == sorted(d["id"] for d in derived)
    named["properties"]["reason"] = "event"
    again = client.post("/api/v1/zones/import", content=json.dumps(doc), headers=headers)
    assert again.status_code == 201, again.text
    assert again.json()["derived_ids"] == derived
    after = client.get("/api/v1/zones", headers=admin).json()["features"]
    assert _zone_ids(client, admin) == before | {d["id"] for d in derived}
    quail = [f for f in after if f["properties"]["id"] == "name-quail-lake"]
    assert len(quail) == 1 and quail[0]["properties"]["reason"] == "event"
