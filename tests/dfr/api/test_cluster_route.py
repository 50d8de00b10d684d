"""GET /api/v1/cluster: the instances, the drones each holds, the leases, bus and database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from dfr.cluster.leases import LeaseStore, drone_resource
from dfr.models import Role
from tests.dfr.conftest import TokenFactory

pytestmark = pytest.mark.databases


def test_the_cluster_view_shows_who_holds_which_drone_and_who_is_gone(
    app: FastAPI, client: TestClient, auth: TokenFactory
) -> None:
    engine = app.state.service.engine
    now = datetime.now(UTC)
    alpha, gone = LeaseStore(engine, "alpha", 3.0), LeaseStore(engine, "gone", 3.0)
    gone.heartbeat(now - timedelta(seconds=60), "nats")
    assert gone.acquire(drone_resource("D2"), now - timedelta(seconds=60)) == 1
    alpha.heartbeat(now, "nats")
    assert alpha.acquire(drone_resource("D1"), now) == 1

    response = client.get("/api/v1/cluster", headers=auth(Role.ADMIN))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["bus"] == "in-process" and body["database"] == "ok"
    instances = {i["id"]: i for i in body["instances"]}
    assert instances["alpha"]["alive"] and instances["alpha"]["drones"] == ["D1"]
    assert not instances["gone"]["alive"] and instances["gone"]["drones"] == []
    leases = {row["resource"]: row for row in body["leases"]}
    assert leases["drone:D1"]["holder"] == "alpha" and not leases["drone:D1"]["expired"]
    assert leases["drone:D2"]["expired"]


def test_only_an_admin_sees_the_cluster(client: TestClient, auth: TokenFactory) -> None:
    response = client.get("/api/v1/cluster", headers=auth(Role.DISPATCHER))
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("application/problem+json")
