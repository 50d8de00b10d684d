"""Retention: holds keep a recording; the purge deletes what is due, audits each deletion, and what
remains (recordings and the audit chain) still verifies."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from dfr.audit import append_audit, event_row, record_event, verify_chain
from dfr.cli import app as cli
from dfr.models import AuditEntry, Flight, Role, TrackPoint, utcnow
from dfr.retention import RetentionJob
from dfr.retention_policy import RetentionPolicy
from dfr.settings import Settings
from tests.dfr.conftest import TokenFactory
from tests.dfr.retention_rig import RETENTION_FLEET, make_recording, make_snapshot

pytestmark = pytest.mark.databases


@pytest.fixture
def fleet_file(tmp_path: Path) -> Path:
    path = tmp_path / "fleet.toml"
    path.write_text(RETENTION_FLEET)
    return path


def _flights(engine: Engine, count: int) -> list[int]:
    """`count` ended flights of drone D1, each with a flight path of 3 points recorded now."""
    now = utcnow()
    with Session(engine) as session:
        flights = [Flight(drone_id="D1", state="completed", created_by="t") for _ in range(count)]
        session.add_all(flights)
        session.flush()
        ids = [int(f.id) for f in flights if f.id is not None]
        for flight_id in ids:
            session.add_all(
                TrackPoint(
                    flight_id=flight_id,
                    at=now + timedelta(seconds=i),
                    lat=38.8,
                    lon=-104.7,
                    alt_amsl_m=1900.0,
                )
                for i in range(3)
            )
        session.commit()
    return ids


def _audit(engine: Engine, action: str) -> list[AuditEntry]:
    with Session(engine) as session:
        query = select(AuditEntry).where(AuditEntry.action == action)
        return list(session.exec(query.order_by(col(AuditEntry.id))).all())


def _cli(settings: Settings, *args: str) -> tuple[int, str]:
    env = {"DFR_DATABASE__URL": settings.database.url} if settings.database.url else {}
    result = CliRunner().invoke(cli, list(args), env=env)
    return result.exit_code, result.stdout


def _tamper_one_row(engine: Engine, row_id: int) -> None:
    """What someone with the database's owner rights could do: lift the trigger, edit a row."""
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.execute(text("DROP TRIGGER audit_log_no_update"))
        else:
            conn.execute(text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only"))
        conn.execute(
            text("UPDATE audit_log SET detail = 'nothing happened' WHERE id = :id"), {"id": row_id}
        )


def test_purge_two_days_on_deletes_unheld_recordings_keeps_the_held_one_and_chains_verify(
    client: TestClient, app: FastAPI, auth: TokenFactory, settings: Settings
) -> None:
    service = app.state.service
    engine, data_dir = service.engine, settings.data_dir
    gone_id, snapped_id, held_id = _flights(engine, 3)
    started = utcnow() - timedelta(minutes=5)
    gone = make_recording(data_dir, gone_id, started)
    snapped = make_recording(data_dir, snapped_id, started)
    still = make_snapshot(snapped, snapped_id, started)
    held = make_recording(data_dir, held_id, started, segments=3)
    analyst = auth(Role.ANALYST)

    # Holds: placed with a reason and case number; one released again (it no longer keeps).
    hold = client.post(
        f"/api/v1/recordings/{held_id}/holds",
        json={"reason": "evidence: burglary suspect", "case_number": "24-001234"},
        headers=analyst,
    )
    assert hold.status_code == 201, hold.text
    assert hold.json()["active"] and hold.json()["case_number"] == "24-001234"
    other = client.post(
        f"/api/v1/recordings/{snapped_id}/holds", json={"reason": "training"}, headers=analyst
    ).json()
    release = f"/api/v1/recordings/{snapped_id}/holds/{other['id']}/release"
    released = client.post(release, json={"reason": "training set chosen"}, headers=analyst)
    assert released.status_code == 200 and released.json()["released_by"] == "test-analyst"
    again = client.post(release, json={"reason": "twice"}, headers=analyst)
    assert again.status_code == 409
    listed = client.get(f"/api/v1/recordings/{snapped_id}/holds", headers=analyst).json()
    assert (listed["count"], listed["held"]) == (1, False)
    for refused, status in (
        (client.post("/api/v1/recordings/999/holds", json={"reason": "x"}, headers=analyst), 404),
        (client.post(f"/api/v1/recordings/{gone_id}/holds", json={}, headers=analyst), 422),
        (
            client.post(
                f"/api/v1/recordings/{gone_id}/holds",
                json={"reason": "x"},
                headers=auth(Role.PILOT),
            ),
            403,
        ),
    ):
        assert refused.status_code == status, refused.text
        assert refused.headers["content-type"].startswith("application/problem+json")
    assert [r.target for r in _audit(engine, "recording.hold")] == [
        f"recording {held_id}",
        f"recording {snapped_id}",
    ]

    # The service's purge job, its clock moved two days on (recordings_days = 1).
    job = service.retention
    assert job.policy.recordings_days == 1
    job.now = lambda: utcnow() + timedelta(days=2)
    dry = job.purge(dry_run=True)
    assert {i.target for i in dry.purged} >= {f"recording {gone_id}", f"recording {snapped_id}"}
    assert gone.exists() and not _audit(engine, "retention.purge.recording")

    report = job.purge()
    assert report.failed == [] and report.kept_under_hold == [held_id]
    assert sorted((i.kind, i.target) for i in report.purged) == sorted(
        [
            ("recording", f"recording {gone_id}"),
            ("recording", f"recording {snapped_id}"),
            ("snapshot", f"snapshot {snapped_id}/{still.stem}"),
            ("telemetry", f"flight {gone_id}"),
            ("telemetry", f"flight {snapped_id}"),
        ]
    )
    assert not gone.exists() and not snapped.exists()
    assert sorted(p.name for p in held.iterdir()) == [
        "manifest.json",
        "seg_00000.mp4",
        "seg_00001.mp4",
        "seg_00002.mp4",
    ]
    rows = _audit(engine, "retention.purge.recording")
    heads = {i.target: i.sha256 for i in report.purged if i.kind == "recording"}
    assert {r.target for r in rows} == set(heads)
    assert all(f"manifest head={heads[r.target]}" in r.detail for r in rows)
    assert len(_audit(engine, "retention.purge.snapshot")) == 1
    with Session(engine) as session:
        left = session.exec(select(TrackPoint.flight_id)).all()
    assert sorted(set(left)) == [held_id]  # the held flight's path is kept too

    # A second purge finds nothing more; the held recording verifies.
    assert job.purge().purged == []
    code, out = _cli(settings, "recordings", "verify", str(held))
    assert code == 0 and json.loads(out)["segments_checked"] == 3

    # The audit chain verifies, then fails at the one row changed in the database.
    data = ["--data-dir", str(data_dir)]
    code, out = _cli(settings, "audit", "verify", *data)
    assert code == 0, out
    assert json.loads(out)["ok"] and json.loads(out)["rows_checked"] >= 6
    changed = rows[0].id
    assert changed is not None
    _tamper_one_row(engine, changed)
    code, out = _cli(settings, "audit", "verify", *data)
    assert code == 1
    assert json.loads(out)["first_bad_id"] == changed
    assert "changed" in json.loads(out)["problem"]


def test_cli_purge_dry_run_lists_what_would_go_and_the_purge_deletes_it(
    client: TestClient, app: FastAPI, settings: Settings, fleet_file: Path
) -> None:
    engine = app.state.service.engine
    (flight_id,) = _flights(engine, 1)
    old = make_recording(settings.data_dir, flight_id, utcnow() - timedelta(days=3))
    args = ["recordings", "purge", "--data-dir", str(settings.data_dir), "--fleet", str(fleet_file)]
    code, out = _cli(settings, *args, "--dry-run")
    assert code == 0, out
    report = json.loads(out)
    assert report["dry_run"] and [i["target"] for i in report["purged"]] == [
        f"recording {flight_id}"
    ]
    assert old.exists() and not _audit(engine, "retention.purge.recording")
    code, out = _cli(settings, *args)
    assert code == 0, out
    assert not old.exists() and len(_audit(engine, "retention.purge.recording")) == 1


def test_the_illinois_preset_keeps_recordings_30_days_and_the_audit_floor_is_365() -> None:
    policy = RetentionPolicy(preset="illinois").effective()
    assert (policy.recordings_days, policy.snapshots_days) == (30, 30)
    assert RetentionPolicy(preset="illinois", recordings_days=7).effective().recordings_days == 7
    with pytest.raises(ValueError, match="365"):
        RetentionPolicy(audit_days=364)


def test_purge_never_deletes_audit_rows_younger_than_the_floor(
    engine: Engine, tmp_path: Path
) -> None:
    old_at = utcnow() - timedelta(days=400)
    with engine.begin() as conn:
        append_audit(
            conn,
            [event_row(actor="a", role="admin", action="old", target="t", at=old_at)] * 3,
        )
    record_event(engine, actor="a", role="admin", action="young", target="t")
    # A clock moved ten years on, asking for the floor: only rows past 365 real days go.
    job = RetentionJob(
        engine,
        tmp_path,
        RetentionPolicy(audit_days=365),
        now=lambda: utcnow() + timedelta(days=3650),
    )
    report = job.purge()
    assert [(i.kind, i.rows) for i in report.purged] == [("audit", 3)]
    assert [r.action for r in _audit(engine, "young")] == ["young"]
    chain = verify_chain(engine)
    assert chain.ok and chain.first_seq == 4, chain
    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_log WHERE action = 'young'"))
    # Removing the oldest rows left (as no purge did) is found, although no link is broken.
    first_left = _audit(engine, "young")[0].id
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.execute(text("DROP TRIGGER audit_log_no_delete"))
        else:
            conn.execute(text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only"))
        conn.execute(text("DELETE FROM audit_log WHERE id = :id"), {"id": first_left})
    cut = verify_chain(engine)
    assert not cut.ok and "no audit purge removed them" in (cut.problem or ""), cut


def test_the_service_job_purges_as_soon_as_it_runs(engine: Engine, tmp_path: Path) -> None:
    directory = make_recording(tmp_path, 41, utcnow())
    job = RetentionJob(
        engine,
        tmp_path,
        RetentionPolicy(recordings_days=1),
        now=lambda: utcnow() + timedelta(days=2),
    )

    async def run_until_purged() -> None:
        async with job:
            await job.ran.wait()

    asyncio.run(asyncio.wait_for(run_until_purged(), timeout=60))
    assert not directory.exists() and job.last_report is not None
    (row,) = _audit(engine, "retention.purge.recording")
    assert row.target == "recording 41" and row.actor == "retention"
