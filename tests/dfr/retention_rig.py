"""Recordings on disk as the recorder leaves them (hash-chained manifest, segments, snapshots)."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta
from pathlib import Path

from telemetry.video.manifest import new_manifest, with_segment, write_manifest

RETENTION_FLEET = """\
[agency]
id = "cspd"
name = "Colorado Springs PD"

[retention]
recordings_days = 1
snapshots_days = 1
telemetry_days = 1

[[docks]]
id = "sand-creek"
name = "Sand Creek Division"
lat = 38.8339
lon = -104.7470
alt_amsl_m = 1840.0
response_radius_m = 3218.7

[[drones]]
id = "D1"
dock = "sand-creek"
mavlink_url = "udpin://127.0.0.1:24541"
"""


def make_recording(
    data_dir: Path, flight_id: int, started_at: datetime, *, segments: int = 2
) -> Path:
    """A flight's recording of `segments` 1 s segments from `started_at`; its directory."""
    directory = data_dir / "recordings" / f"flight-{flight_id}"
    directory.mkdir(parents=True)
    manifest = new_manifest(str(flight_id), f"drone-{flight_id}", started_at.isoformat())
    for index in range(segments):
        name = f"seg_{index:05d}.mp4"
        data = f"flight {flight_id} segment {index}".encode() * 64
        (directory / name).write_bytes(data)
        manifest = with_segment(
            manifest,
            file=name,
            size_bytes=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
            started_at=(started_at + timedelta(seconds=index)).isoformat(),
            ended_at=(started_at + timedelta(seconds=index + 1)).isoformat(),
            frames=30,
        )
    write_manifest(directory, manifest)
    return directory


def make_snapshot(directory: Path, flight_id: int, at: datetime) -> Path:
    """A snapshot (still and record) beside a recording; the still's path."""
    snapshots = directory / "snapshots"
    snapshots.mkdir(exist_ok=True)
    snapshot_id = at.strftime("%Y%m%dT%H%M%S%fZ")
    still = b"\xff\xd8still\xff\xd9"
    (snapshots / f"{snapshot_id}.jpg").write_bytes(still)
    record = {
        "id": snapshot_id,
        "at": at.isoformat(),
        "flight_id": flight_id,
        "sha256": hashlib.sha256(still).hexdigest(),
        "note": "suspect vehicle",
    }
    (snapshots / f"{snapshot_id}.json").write_text(json.dumps(record))
    return snapshots / f"{snapshot_id}.jpg"
