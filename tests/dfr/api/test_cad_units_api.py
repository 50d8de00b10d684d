"""Responders on the map: CAD's AVL feed in, units with their age out, EIDO units, the live stream."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from cad_bridge import pidf_point
from dfr.models import Role
from tests.dfr.conftest import TokenFactory, one_agency_fleet

pytestmark = pytest.mark.databases

URL = "/api/v1/cad/units"
EIDO = Path(__file__).parents[2] / "cad_bridge" / "fixtures" / "eido" / "burglary_in_progress.json"


@pytest.fixture
def fleet_file(tmp_path: Path) -> Path:
    """Agency cspd alone: no drones."""
    return one_agency_fleet(tmp_path)


def _at(seconds_ago: float) -> str:
    return (datetime.now(UTC) - timedelta(seconds=seconds_ago)).isoformat()


def _report(unit_id: str = "P-12", **fields: Any) -> dict[str, Any]:
    return {"unit_id": unit_id, "status": "enroute", "lat": 38.84, "lon": -104.76, **fields}


def _units(client: TestClient, auth: TokenFactory) -> dict[str, dict[str, Any]]:
    r = client.get(URL, headers=auth(Role.DISPATCHER))
    assert r.status_code == 200, r.text
    return {u["unit_id"]: u for u in r.json()["data"]}


def test_reports_are_stored_listed_with_their_age_and_published_to_the_stream(
    app: FastAPI, client: TestClient, auth: TokenFactory
) -> None:
    reports = [
        _report(
            " P-12 ",
            heading_deg=90,
            speed_mps=12.5,
            call_id="CS25-004411",
            reported_at=_at(5),
        ),
        _report("E-5", status="available", lat=38.85, lon=-104.70),
    ]
    r = client.post(URL, json=reports, headers=auth(Role.CAD))
    assert r.status_code == 202, r.text
    assert r.json() == {"accepted": 2, "ignored_stale": 0}

    units = _units(client, auth)
    assert set(units) == {"P-12", "E-5"}
    p12 = units["P-12"]
    assert (p12["status"], p12["lat"], p12["lon"]) == ("enroute", 38.84, -104.76)
    assert (p12["heading_deg"], p12["speed_mps"], p12["call_id"]) == (90, 12.5, "CS25-004411")
    assert 4 <= p12["age_s"] < 60 and p12["stale"] is False and p12["source"] == "avl"
    assert units["E-5"]["age_s"] < 5 and units["E-5"]["heading_deg"] is None

    snapshot = json.loads(app.state.service.hub.snapshot_text())["data"]["messages"]
    published = {m["key"]: m["data"] for m in snapshot if m["type"] == "unit"}
    assert set(published) == {"unit:P-12", "unit:E-5"}
    assert published["unit:P-12"]["status"] == "enroute"
    assert published["unit:P-12"]["lat"] == 38.84


def test_an_older_report_never_replaces_a_newer_one(
    app: FastAPI, client: TestClient, auth: TokenFactory
) -> None:
    newer = _report(status="on_scene", lat=38.80, reported_at=_at(10))
    assert client.post(URL, json=[newer], headers=auth(Role.CAD)).json()["accepted"] == 1
    published_before = app.state.service.hub.published

    older = _report(status="enroute", lat=38.70, reported_at=_at(30))
    r = client.post(URL, json=[older, _report("E-5", reported_at=_at(30))], headers=auth(Role.CAD))
    assert r.status_code == 202 and r.json() == {"accepted": 1, "ignored_stale": 1}
    p12 = _units(client, auth)["P-12"]
    assert (p12["status"], p12["lat"]) == ("on_scene", 38.80)
    assert app.state.service.hub.published == published_before + 1  # E-5 only

    # Within one post too: the later, older line of the same unit is ignored.
    batch = [_report(lat=38.81, reported_at=_at(2)), _report(lat=38.79, reported_at=_at(4))]
    assert client.post(URL, json=batch, headers=auth(Role.ADMIN)).json() == {
        "accepted": 1,
        "ignored_stale": 1,
    }
    assert _units(client, auth)["P-12"]["lat"] == 38.81


def test_a_position_older_than_two_minutes_is_stale(client: TestClient, auth: TokenFactory) -> None:
    reports = [_report("OLD-1", reported_at=_at(180)), _report("NEW-1", reported_at=_at(60))]
    assert client.post(URL, json=reports, headers=auth(Role.CAD)).status_code == 202
    units = _units(client, auth)
    assert units["OLD-1"]["stale"] is True and units["OLD-1"]["age_s"] >= 180
    assert units["NEW-1"]["stale"] is False
    recent = client.get(URL, params={"max_age_s": 120}, headers=auth(Role.ANALYST)).json()
    assert [u["unit_id"] for u in recent["data"]] == ["NEW-1"]
    assert recent["stale_after_s"] == 120


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ([_report(lat=91)], "lat"),
        ([_report(lon=-180.5)], "lon"),
        ('[{"unit_id": "P-1", "status": "busy", "lat": NaN, "lon": 1}]', "lat"),
        ([_report(unit_id="")], "unit_id"),
        ([_report(unit_id="x" * 65)], "unit_id"),
        ([_report(unit_id="Adam 12")], "unit_id"),
        ([_report(status="napping")], "status"),
        ([_report(heading_deg=361)], "heading_deg"),
        ([_report(speed_mps=-1)], "speed_mps"),
        ([_report(reported_at="2026-01-01T10:00:00")], "reported_at"),
        ([_report(reported_at="yesterday")], "reported_at"),
        ([_report(), _report("F-1", reported_at=_at(-600))], "reported_at"),
        ([_report(extra="x")], "extra"),
        ([], "body"),
        ([_report(f"U-{i}") for i in range(501)], "body"),
        ({"unit_id": "P-1"}, "body"),
        ([_report(call_id="")], "call_id"),
    ],
    ids=[
        "lat",
        "lon",
        "nan",
        "empty-id",
        "long-id",
        "space-in-id",
        "status",
        "heading",
        "speed",
        "no-offset",
        "not-a-time",
        "future",
        "unknown-field",
        "empty-list",
        "too-many",
        "not-a-list",
        "empty-call-id",
    ],
)
def test_bad_input_is_refused_with_problem_json_and_nothing_stored(
    app: FastAPI, client: TestClient, auth: TokenFactory, body: Any, field: str
) -> None:
    headers = {**auth(Role.CAD), "Content-Type": "application/json"}
    content = body if isinstance(body, str) else json.dumps(body)
    r = client.post(URL, content=content, headers=headers)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert field in r.text
    assert _units(client, auth) == {}
    assert "unit:" not in app.state.service.hub.snapshot_text()


@pytest.mark.parametrize("role", [Role.DISPATCHER, Role.PILOT, Role.ANALYST, Role.SUPERVISOR])
def test_only_cad_and_admin_may_post_positions(
    client: TestClient, auth: TokenFactory, role: Role
) -> None:
    assert client.post(URL, json=[_report()], headers=auth(role)).status_code == 403
    assert client.post(URL, json=[_report()]).status_code == 401
    assert _units(client, auth) == {}


def test_cad_may_not_read_the_units(client: TestClient, auth: TokenFactory) -> None:
    assert client.get(URL, headers=auth(Role.CAD)).status_code == 403
    for role in (Role.ADMIN, Role.PILOT, Role.ANALYST, Role.TESTER, Role.SUPERVISOR):
        assert client.get(URL, headers=auth(role)).status_code == 200


def _eido_with_units(at: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(EIDO.read_text())
    prologue = {
        "lastUpdateTimeStamp": at,
        "updatedByAgencyReference": {"$ref": "cspd.coloradosprings.gov"},
    }

    def unit(name: str, location: str | None, **fields: Any) -> dict[str, Any]:
        component: dict[str, Any] = {
            **prologue,
            "$id": f"unit-{name}",
            "emergencyResourceTypeCommonRegistryText": "LawEnforcement",
            "emergencyResourceName": name,
            "primaryUnitStatusRegistryText": "NotAvailable",
            "agentReference": [{"$ref": "calltaker.4@cspd.coloradosprings.gov"}],
            "resourceAttributeRegistryText": ["Other"],
            "secondaryUnitStatusRegistryText": [],
            **fields,
        }
        if location:
            component["unitLocationReference"] = {"$ref": location}
        return component

    document["locationComponent"].append(
        {
            **prologue,
            "$id": "loc-unit-2A12",
            "locationTypeDescriptionRegistryText": "UnitLocation",
            "locationByValue": pidf_point(38.871, -104.722),
        }
    )
    document["emergencyResourceComponent"] = [
        unit("2A12", "loc-unit-2A12", secondaryUnitStatusRegistryText=["Dispatched", "EnRoute"]),
        unit("2A14", None, secondaryUnitStatusRegistryText=["OnScene"]),  # no location: skipped
        unit(
            "D1",
            "loc-unit-2A12",
            emergencyResourceTypeCommonRegistryText="UnmannedAerialVehicle",
        ),  # a drone: shown from its telemetry instead
    ]
    return document


def test_an_eido_call_brings_its_units_with_a_status_and_location(
    client: TestClient, auth: TokenFactory
) -> None:
    at = datetime.now(UTC).isoformat()
    r = client.post("/api/v1/cad/incidents", json=_eido_with_units(at), headers=auth(Role.CAD))
    assert r.status_code == 202, r.text
    units = _units(client, auth)
    assert set(units) == {"2A12"}
    unit = units["2A12"]
    assert (unit["status"], unit["lat"], unit["lon"]) == ("enroute", 38.871, -104.722)
    assert unit["source"] == "eido" and unit["call_id"].startswith("urn:emergency:uid:incidentid")
    assert unit["stale"] is False

    # The AVL feed's newer position wins over the EIDO's; an EIDO re-sent later with an old
    # unit timestamp does not move it back.
    client.post(URL, json=[_report("2A12", status="on_scene")], headers=auth(Role.CAD))
    old = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
    assert (
        client.post(
            "/api/v1/cad/incidents", json=_eido_with_units(old), headers=auth(Role.CAD)
        ).status_code
        == 202
    )
    assert _units(client, auth)["2A12"]["status"] == "on_scene"
