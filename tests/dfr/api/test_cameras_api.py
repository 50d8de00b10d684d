"""The camera registry over HTTP with a real SMTP sink: register, confirm, request footage, upload.

Each owner acts only through the links the sink received; bad input is refused with a problem
document and nothing is stored.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlmodel import Session, func, select

from dfr.models import AuditEntry, CameraRegistration, ClipUpload, FootageClip, FootageLink, Role
from dfr.settings import CameraSettings, DatabaseSettings, Settings, SmtpSettings
from geofence import GeoPoint, destination
from tests.cameras.clips import tiny_mp4
from tests.dfr.conftest import TokenFactory

SCENE = GeoPoint(38.8420, -104.7600)
#: Small enough that a tiny clip travels in several chunks.
CHUNK_BYTES = 1024
MAX_CLIP_BYTES = 200_000


@pytest.fixture
def settings(tmp_path: Path, fleet_file: Path, db_backend: str, database_url: str) -> Settings:
    database = DatabaseSettings(url=database_url if db_backend == "postgresql" else None)
    return Settings(
        mode="test",
        data_dir=tmp_path / "data",
        fleet_file=fleet_file,
        database=database,
        smtp=SmtpSettings(sink=True),
        cameras=CameraSettings(
            chunk_bytes=CHUNK_BYTES, max_clip_bytes=MAX_CLIP_BYTES, registrations_per_hour=20
        ),
    )


@dataclass(frozen=True)
class _Raw:
    """Coordinates a GeoPoint would refuse, as a form would send them."""

    lat_deg: float
    lon_deg: float


@dataclass
class Registry:
    """A resident's and an analyst's steps against the running service."""

    client: TestClient
    auth: TokenFactory
    app: FastAPI

    def mail(self) -> list[dict[str, Any]]:
        response = self.client.get("/api/v1/demo/mail", headers=self.auth(Role.TESTER))
        assert response.status_code == 200, response.text
        return list(response.json()["data"])

    def mail_to(self, email: str) -> list[dict[str, Any]]:
        return [m for m in self.mail() if email in m["to"]]

    def link(self, email: str, kind: str) -> str:
        """The newest link token of `kind` (confirm, manage, token) emailed to `email`."""
        for mail in self.mail_to(email):
            found = re.search(rf"[#&]{kind}=(dfrl_[A-Za-z0-9_-]+)", mail["body"])
            if found:
                return found.group(1)
        raise AssertionError(f"no {kind} link emailed to {email}")

    def register(self, email: str, at: GeoPoint | _Raw, **extra: Any) -> Any:
        body = {
            "owner_name": email.split("@")[0],
            "email": email,
            "lat": at.lat_deg,
            "lon": at.lon_deg,
        }
        return self.client.post("/api/v1/public/camera-registrations", json={**body, **extra})

    def registered(self, email: str, at: GeoPoint, **extra: Any) -> int:
        response = self.register(email, at, **extra)
        assert response.status_code == 202, response.text
        confirmed = self.client.post(
            "/api/v1/public/camera-registration/confirm",
            headers={"X-Link-Token": self.link(email, "confirm")},
        )
        assert confirmed.status_code == 200, confirmed.text
        assert confirmed.json()["status"] == "active"
        return int(response.json()["id"])

    def call(self, incident: str, at: GeoPoint = SCENE) -> int:
        response = self.client.post(
            "/api/v1/cad/incidents",
            headers=self.auth(Role.CAD),
            json={
                "cad_incident_id": incident,
                "call_type": "BURG",
                "call_type_text": "Burglary",
                "priority": 2,
                "location": {
                    "lat": at.lat_deg,
                    "lon": at.lon_deg,
                    "address": "1200 N Academy Blvd",
                },
                "received_at": datetime.now(UTC).isoformat(),
                "status": "Active",
            },
        )
        assert response.status_code in (201, 202), response.text
        return int(response.json()["id"])

    def request_footage(self, call_id: int) -> Any:
        now = datetime.now(UTC)
        return self.client.post(
            f"/api/v1/calls/{call_id}/footage-requests",
            headers=self.auth(Role.ANALYST),
            json={
                "window_start": (now - timedelta(hours=1)).isoformat(),
                "window_end": now.isoformat(),
                "message": "A burglary on the 1200 block; please check 10:00-11:00.",
                "radius_m": 300,
            },
        )

    def upload(self, token: str, request_id: int, data: bytes, name: str = "porch.mp4") -> Any:
        headers = {"X-Link-Token": token}
        started = self.client.post(
            "/api/v1/public/footage/uploads",
            headers=headers,
            json={"request_id": request_id, "file_name": name, "size_bytes": len(data)},
        )
        if started.status_code != 201:
            return started
        upload_id = started.json()["upload_id"]
        chunk = started.json()["chunk_bytes"]
        for offset in range(0, len(data), chunk):
            put = self.client.put(
                f"/api/v1/public/footage/uploads/{upload_id}/chunks",
                params={"offset": offset},
                headers=headers,
                files={
                    "chunk": ("blob", data[offset : offset + chunk], "application/octet-stream")
                },
            )
            assert put.status_code == 200, put.text
        return self.client.post(
            f"/api/v1/public/footage/uploads/{upload_id}/complete", headers=headers
        )

    def count(self, table: type[Any]) -> int:
        with Session(self.app.state.service.engine) as session:
            return int(session.exec(select(func.count()).select_from(table)).one())


@pytest.fixture
def registry(client: TestClient, auth: TokenFactory, app: FastAPI) -> Registry:
    return Registry(client, auth, app)


def _problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["detail"]
    return body


@pytest.mark.databases
def test_footage_loop_emails_owners_in_range_takes_a_clip_and_keeps_its_custody(
    registry: Registry, tmp_path: Path
) -> None:
    north_100m = destination(SCENE, 0.0, 100.0)
    facing = registry.registered("ann@example.org", north_100m, facing_deg=180.0, fov_deg=90.0)
    unknown = registry.registered("bob@example.org", destination(SCENE, 90.0, 200.0))
    registry.registered("far@example.org", destination(SCENE, 0.0, 2000.0))
    registry.registered("away@example.org", north_100m, facing_deg=0.0, fov_deg=60.0)
    # Pending (unconfirmed) registrations are not on the map.
    assert registry.register("late@example.org", SCENE).status_code == 202
    on_map = registry.client.get("/api/v1/cameras", headers=registry.auth(Role.DISPATCHER))
    assert on_map.json()["count"] == 4
    assert "email" not in on_map.json()["data"][0]

    call_id = registry.call("CAM-1")
    near = registry.client.get(
        f"/api/v1/calls/{call_id}/cameras",
        params={"radius_m": 300},
        headers=registry.auth(Role.ANALYST),
    ).json()
    assert [c["id"] for c in near["data"]] == [facing, unknown]

    created = registry.request_footage(call_id)
    assert created.status_code == 201, created.text
    request_id = created.json()["id"]
    assert len(created.json()["links"]) == 2
    for email, expected in [("ann", 1), ("bob", 1), ("far", 0), ("away", 0)]:
        asked = [m for m in registry.mail_to(f"{email}@example.org") if "footage" in m["subject"]]
        assert len(asked) == expected, email

    clip_bytes = tiny_mp4(tmp_path / "porch.mp4").read_bytes()
    assert len(clip_bytes) > 2 * CHUNK_BYTES  # arrives in several chunks
    token = registry.link("ann@example.org", "token")
    info = registry.client.get("/api/v1/public/footage/link", headers={"X-Link-Token": token})
    assert info.status_code == 200 and info.json()["request_id"] == request_id
    done = registry.upload(token, request_id, clip_bytes)
    assert done.status_code == 201, done.text
    clip = done.json()
    assert clip["sha256"] == hashlib.sha256(clip_bytes).hexdigest()
    assert clip["codec"] == "mpeg4" and clip["duration_s"] > 0
    assert clip["call_id"] == call_id and clip["request_id"] == request_id
    assert "ann" in clip["uploaded_by"]

    footage = registry.client.get(
        f"/api/v1/calls/{call_id}/footage", headers=registry.auth(Role.DISPATCHER)
    ).json()
    assert [c["sha256"] for c in footage["clips"]] == [clip["sha256"]]
    download = registry.client.get(
        f"/api/v1/footage-clips/{clip['id']}/file", headers=registry.auth(Role.ANALYST)
    )
    assert download.status_code == 200
    assert hashlib.sha256(download.content).hexdigest() == clip["sha256"]
    assert download.headers["x-content-sha256"] == clip["sha256"]
    notes = registry.client.get(f"/api/v1/calls/{call_id}", headers=registry.auth(Role.DISPATCHER))
    assert any(clip["sha256"] in n["text"] for n in notes.json()["notes"])

    # A second case: the first link refuses it; its own link works.
    second = registry.call("CAM-2", destination(SCENE, 0.0, 20.0))
    other = registry.request_footage(second)
    assert other.status_code == 201
    refused = registry.upload(token, other.json()["id"], clip_bytes)
    assert "another case" in _problem(refused, 403)["detail"]

    # Revoked and expired links refuse.
    bob_links = [link for link in created.json()["links"] if link["registration_id"] == unknown]
    revoked = registry.client.post(
        f"/api/v1/footage-links/{bob_links[0]['id']}/revoke", headers=registry.auth(Role.ANALYST)
    )
    assert revoked.status_code == 200 and revoked.json()["state"] == "revoked"
    bob_token = next(
        re.search(r"token=(dfrl_[A-Za-z0-9_-]+)", m["body"]).group(1)  # type: ignore[union-attr]
        for m in registry.mail_to("bob@example.org")
        if f"request={request_id}&" in m["body"]
    )
    assert "revoked" in _problem(registry.upload(bob_token, request_id, clip_bytes), 403)["detail"]
    with Session(registry.app.state.service.engine) as session:
        session.exec(
            update(FootageLink).values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
        session.commit()
    assert "expired" in _problem(registry.upload(token, request_id, clip_bytes), 403)["detail"]

    with Session(registry.app.state.service.engine) as session:
        actions = [a.action for a in session.exec(select(AuditEntry)).all()]
    assert actions.count("cameras.footage_request_sent") == 2
    assert actions.count("cameras.clip_received") == 1
    assert actions.count("cameras.link_revoked") == 1
    assert actions.count("cameras.clip_download") == 1


def test_bad_uploads_and_tokens_are_refused_and_store_nothing(
    registry: Registry, tmp_path: Path
) -> None:
    registry.registered("ann@example.org", destination(SCENE, 0.0, 50.0))
    call_id = registry.call("CAM-3")
    request_id = registry.request_footage(call_id).json()["id"]
    token = registry.link("ann@example.org", "token")
    clip = tiny_mp4(tmp_path / "c.mp4").read_bytes()

    not_video = registry.upload(token, request_id, b"MZ this is no video " * 400, "clip.mp4")
    assert "not a video" in _problem(not_video, 422)["detail"]
    assert (
        _problem(registry.upload(token, request_id, b""), 422)["errors"][0]["field"] == "size_bytes"
    )
    headers = {"X-Link-Token": token}
    oversized = registry.client.post(
        "/api/v1/public/footage/uploads",
        headers=headers,
        json={"request_id": request_id, "file_name": "big.mp4", "size_bytes": MAX_CLIP_BYTES + 1},
    )
    _problem(oversized, 413)
    for name in ("../../etc/passwd.mp4", "dir/clip.mp4", "C:\\clip.mp4", "clip.exe"):
        body = _problem(registry.upload(token, request_id, clip, name), 422)
        assert body["errors"][0]["field"] == "file_name", name
    forged = "dfrl_" + "A" * 43
    _problem(registry.upload(forged, request_id, clip), 403)
    _problem(registry.upload("not-even-a-token", request_id, clip), 403)
    assert registry.count(FootageClip) == 0
    assert registry.count(ClipUpload) == 0
    footage_dir = Path(registry.app.state.service.settings.data_dir) / "evidence" / "footage"
    assert not footage_dir.exists() or not any(footage_dir.rglob("*.*"))
    assert not any((footage_dir.parent / "incoming").glob("*"))

    # A stored clip altered afterwards is refused on download (its SHA-256 no longer matches).
    done = registry.upload(token, request_id, clip)
    assert done.status_code == 201, done.text
    with Session(registry.app.state.service.engine) as session:
        stored = session.get(FootageClip, done.json()["id"])
        assert stored is not None
        (footage_dir.parent / stored.stored_path).write_bytes(clip[:-1] + b"\x00")
    tampered = registry.client.get(
        f"/api/v1/footage-clips/{done.json()['id']}/file", headers=registry.auth(Role.ANALYST)
    )
    assert "no longer matches" in _problem(tampered, 409)["detail"]

    # A chunk past the declared size is refused too.
    started = registry.client.post(
        "/api/v1/public/footage/uploads",
        headers=headers,
        json={"request_id": request_id, "file_name": "c.mp4", "size_bytes": 10},
    ).json()
    too_long = registry.client.put(
        f"/api/v1/public/footage/uploads/{started['upload_id']}/chunks",
        headers=headers,
        files={"chunk": ("blob", b"x" * 11, "application/octet-stream")},
    )
    _problem(too_long, 413)


def test_registration_refuses_bad_input_and_reuse_and_owners_manage_it_by_link(
    registry: Registry,
) -> None:
    before = registry.count(CameraRegistration)
    for lat, lon, field in [(95.0, -104.7, "lat"), (38.8, -200.0, "lon"), (0.0, 0.0, "lat")]:
        body = _problem(registry.register("ann@example.org", _Raw(lat, lon)), 422)
        assert body["errors"][0]["field"] == field
    _problem(registry.register("no-at-sign", SCENE), 422)
    _problem(registry.register("ann@example.org", SCENE, records=["bedroom"]), 422)
    assert registry.count(CameraRegistration) == before
    assert registry.mail() == []

    registry.registered("ann@example.org", SCENE)
    reused = registry.client.post(
        "/api/v1/public/camera-registration/confirm",
        headers={"X-Link-Token": registry.link("ann@example.org", "confirm")},
    )
    assert "not valid" in _problem(reused, 403)["detail"]

    # The owner views, edits and deletes through the private link.
    headers = {"X-Link-Token": registry.link("ann@example.org", "manage")}
    seen = registry.client.get("/api/v1/public/camera-registration", headers=headers)
    assert seen.status_code == 200 and seen.json()["email"] == "ann@example.org"
    edited = registry.client.patch(
        "/api/v1/public/camera-registration",
        headers=headers,
        json={"facing_deg": 90.0, "fov_deg": 100.0, "records": ["street", "driveway"]},
    )
    assert edited.status_code == 200 and edited.json()["facing_deg"] == 90.0
    _problem(
        registry.client.patch(
            "/api/v1/public/camera-registration", headers=headers, json={"lat": 123.0}
        ),
        422,
    )
    deleted = registry.client.delete("/api/v1/public/camera-registration", headers=headers)
    assert deleted.status_code == 204
    assert registry.count(CameraRegistration) == 0
    _problem(registry.client.get("/api/v1/public/camera-registration", headers=headers), 403)

    # A registration throttle per client address (20 an hour here; 1 was used above).
    statuses = [
        registry.register(f"r{i}@example.org", destination(SCENE, 0.0, 10.0 * i + 10)).status_code
        for i in range(20)
    ]
    assert statuses[:19] == [202] * 19
    assert statuses[19] == 429
