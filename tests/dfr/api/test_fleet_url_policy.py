"""A drone's `mavlink_url` and `video_url` over the admin API: only schemes the link and the video
ingest open, hosts on loopback or the agency's networks (never link-local or cloud metadata), and no
two drones on one port; refusals are problem+json naming the field, and nothing is written."""

from __future__ import annotations

from ipaddress import IPv4Network
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from dfr.models import Role
from dfr.settings import FleetSettings, Settings
from tests.dfr.conftest import TokenFactory, one_agency_fleet

D1_MAVLINK = "udpin://127.0.0.1:24540"
D1_VIDEO = "udp://127.0.0.1:25600"
NEW = {"id": "N1", "dock_id": "hq", "mavlink_url": "udpin://127.0.0.1:24601"}


@pytest.fixture
def fleet_file(tmp_path: Path) -> Path:
    """One dock and two drones (no zones: the service starts quicker)."""
    path = one_agency_fleet(tmp_path)
    with path.open("a") as file:
        file.write(
            '[[docks]]\nid = "hq"\nname = "HQ"\nlat = 38.83\nlon = -104.75\n'
            f'[[drones]]\nid = "D1"\ndock = "hq"\nmavlink_url = "{D1_MAVLINK}"\n'
            f'video_url = "{D1_VIDEO}"\n'
            '[[drones]]\nid = "D2"\ndock = "hq"\nmavlink_url = "udpin://127.0.0.1:24541"\n'
        )
    return path


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The service with its agency's drones on 10.20.0.0/16 (and loopback)."""
    fleet = FleetSettings(allowed_networks=(IPv4Network("10.20.0.0/16"),))
    return settings.model_copy(update={"fleet": fleet})


def _drones(client: TestClient, admin: dict[str, str]) -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = client.get("/api/v1/drones", headers=admin).json()["data"]
    return data


def _assert_problem(response: Any, status: int, field: str, *words: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    fields = [e.get("field") for e in problem.get("errors", [])]
    assert field in fields or field in problem["detail"], problem
    text = problem["detail"] + " ".join(str(e.get("reason", "")) for e in problem.get("errors", []))
    for word in words:
        assert word in text, (word, problem)


def test_urls_a_drone_cannot_use_are_refused_naming_the_field_and_nothing_is_written(
    client: TestClient, auth: TokenFactory
) -> None:
    admin = auth(Role.ADMIN)
    before = _drones(client, admin)
    refused = [
        ({"mavlink_url": "file:///etc/passwd"}, "mavlink_url", "unsupported"),
        ({"mavlink_url": "serial:///dev/ttyUSB0"}, "mavlink_url", "serial"),
        ({"mavlink_url": "udp://127.0.0.1:24601"}, "mavlink_url", "unsupported"),
        ({"mavlink_url": "udpout://169.254.169.254:14550"}, "mavlink_url", "metadata"),
        ({"mavlink_url": "tcp://[::ffff:169.254.169.254]:80"}, "mavlink_url", "link-local"),
        ({"mavlink_url": "tcp://drone.example.com:5760"}, "mavlink_url", "IP address"),
        ({"mavlink_url": "tcp://8.8.8.8:5760"}, "mavlink_url", "10.20.0.0/16"),
        ({"mavlink_url": "udpout://192.168.1.20:14550"}, "mavlink_url", "allowed networks"),
        ({"video_url": "http://169.254.169.254/latest/meta-data/"}, "video_url", "udp://"),
        ({"video_url": "file:///etc/passwd"}, "video_url", "unsupported"),
        ({"video_url": "udp://[fe80::1]:5600"}, "video_url", "link-local"),
        ({"video_url": "udp://100.100.100.200:5600"}, "video_url", "metadata"),
    ]
    for change, field, word in refused:
        created = client.post("/api/v1/drones", json={**NEW, **change}, headers=admin)
        _assert_problem(created, 422, field, word)
        patched = client.patch("/api/v1/drones/D2", json=change, headers=admin)
        _assert_problem(patched, 422, field, word)
    assert _drones(client, admin) == before


def test_a_second_drone_on_a_port_already_bound_is_refused_naming_the_other_drone(
    client: TestClient, auth: TokenFactory
) -> None:
    admin = auth(Role.ADMIN)
    before = _drones(client, admin)
    clashes = [
        ({"mavlink_url": D1_MAVLINK}, "mavlink_url", "UDP port 24540"),
        ({"mavlink_url": "udpin://0.0.0.0:24540"}, "mavlink_url", "UDP port 24540"),
        ({"video_url": D1_VIDEO}, "video_url", "UDP port 25600"),
        ({"video_url": "25600"}, "video_url", "UDP port 25600"),
        # the video ingest listens on loopback: one drone's video may not take another's link port
        ({"video_url": "udp://0.0.0.0:24540"}, "video_url", "mavlink_url"),
    ]
    for change, field, words in clashes:
        created = client.post("/api/v1/drones", json={**NEW, **change}, headers=admin)
        _assert_problem(created, 409, field, "'D1'", words)
        patched = client.patch("/api/v1/drones/D2", json=change, headers=admin)
        _assert_problem(patched, 409, field, "'D1'", words)
    assert _drones(client, admin) == before
    # A drone keeps its own ports; a drone elsewhere on the agency's network is accepted.
    same = {"mavlink_url": D1_MAVLINK, "video_url": D1_VIDEO}
    assert client.patch("/api/v1/drones/D1", json=same, headers=admin).status_code == 200
    remote = {**NEW, "mavlink_url": "udpout://10.20.3.4:14550", "video_url": "udp://0.0.0.0:25650"}
    assert client.post("/api/v1/drones", json=remote, headers=admin).status_code == 201
    twin = {**NEW, "id": "N2", "name": "N2", "mavlink_url": "udpout://10.20.3.4:14550"}
    _assert_problem(
        client.post("/api/v1/drones", json=twin, headers=admin), 409, "mavlink_url", "'N1'"
    )
