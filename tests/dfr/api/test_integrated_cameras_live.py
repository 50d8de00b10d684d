"""`GET /api/v1/integrated-cameras/live` lists an integrated camera exactly while the WHEP route
would answer for it: live allowed, not unplugged, and a call within the owner's rules open nearby."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from dfr.models import Role
from dfr.settings import DatabaseSettings, Settings, SmtpSettings
from geofence import GeoPoint, destination
from tests.dfr.conftest import TokenFactory

pytestmark = pytest.mark.databases

SHOP = GeoPoint(38.8420, -104.7600)
LIVE = "/api/v1/integrated-cameras/live"


@pytest.fixture
def settings(tmp_path: Path, fleet_file: Path, db_backend: str, database_url: str) -> Settings:
    database = DatabaseSettings(url=database_url if db_backend == "postgresql" else None)
    return Settings(
        mode="test",
        data_dir=tmp_path / "data",
        fleet_file=fleet_file,
        database=database,
        smtp=SmtpSettings(sink=True),
    )


def _camera(client: TestClient, auth: TokenFactory, name: str, at: GeoPoint, **rules: Any) -> int:
    response = client.post(
        "/api/v1/integrated-cameras",
        headers=auth(Role.ADMIN),
        json={
            "name": name,
            "owner_email": "shop@example.org",
            "lat": at.lat_deg,
            "lon": at.lon_deg,
            "stream_url": "udp://127.0.0.1:5999",
            "radius_m": 500,
            **rules,
        },
    )
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def _call(
    client: TestClient, auth: TokenFactory, incident: str, priority: int, status: str = "Active"
) -> int:
    at = destination(SHOP, 45.0, 120.0)
    response = client.post(
        "/api/v1/cad/incidents",
        headers=auth(Role.CAD),
        json={
            "cad_incident_id": incident,
            "call_type": "ROBB",
            "call_type_text": "Robbery",
            "priority": priority,
            "location": {"lat": at.lat_deg, "lon": at.lon_deg, "address": "Shop"},
            "received_at": datetime.now(UTC).isoformat(),
            "status": status,
        },
    )
    assert response.status_code == 202, response.text
    return int(response.json()["id"])


def _live(client: TestClient, auth: TokenFactory) -> list[dict[str, Any]]:
    response = client.get(LIVE, headers=auth(Role.ANALYST))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["count"] == len(body["data"])
    return list(body["data"])


def _whep_status(client: TestClient, auth: TokenFactory, camera_id: int) -> int:
    response = client.post(
        f"/api/v1/integrated-cameras/{camera_id}/live/whep",
        headers={**auth(Role.ANALYST), "Content-Type": "application/sdp"},
        content="v=0\r\n",
    )
    return response.status_code


def test_live_listing_follows_the_owners_rules_and_the_open_calls(
    client: TestClient, auth: TokenFactory
) -> None:
    shop = _camera(
        client, auth, "Corner Shop", SHOP, feed="front door", live_allowed=True, max_priority=2
    )
    _camera(client, auth, "No live", SHOP, live_allowed=False, max_priority=5)
    _camera(client, auth, "Far away", destination(SHOP, 0.0, 3000.0), live_allowed=True)
    assert _live(client, auth) == []

    # A call less urgent than the owner's limit does not qualify.
    _call(client, auth, "SHOP-LOW", 3)
    assert _live(client, auth) == []
    assert _whep_status(client, auth, shop) == 403

    robbery = _call(client, auth, "SHOP-ROBBERY", 2)
    assert _live(client, auth) == [
        {"id": shop, "name": "Corner Shop", "feed": "front door", "call_id": robbery}
    ]
    for role in (Role.ADMIN, Role.ANALYST):
        assert client.get(LIVE, headers=auth(role)).status_code == 200
    for role in (Role.DISPATCHER, Role.PILOT, Role.TESTER):
        assert client.get(LIVE, headers=auth(role)).status_code == 403
    assert client.get(LIVE).status_code == 401

    # The call closes: no live view.
    _call(client, auth, "SHOP-ROBBERY", 2, status="Closed")
    assert _live(client, auth) == []
    assert _whep_status(client, auth, shop) == 403

    # Another qualifying call, then the admin unplugs the camera: never listed again.
    _call(client, auth, "SHOP-ASSAULT", 1)
    assert [c["id"] for c in _live(client, auth)] == [shop]
    unplugged = client.post(f"/api/v1/integrated-cameras/{shop}/unplug", headers=auth(Role.ADMIN))
    assert unplugged.status_code == 200, unplugged.text
    assert _live(client, auth) == []
    assert _whep_status(client, auth, shop) == 403
