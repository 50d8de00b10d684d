from __future__ import annotations

import asyncio
import json
import zipfile
from pathlib import Path

import av
import pytest

from telemetry.video import RtpIngest
from telemetry.video.manifest import MANIFEST_NAME, verify_recording
from telemetry.video.recorder import RecordingState, StreamRecorder, export_recording
from telemetry.video.snapshot import snapshot_jpeg

from .conftest import wait_for


async def _record(ingest: RtpIngest, directory: Path, segments: int) -> StreamRecorder:
    recorder = StreamRecorder(ingest, directory, flight_id="flight-7", segment_s=0.5)
    task = asyncio.create_task(recorder.run())
    await wait_for(lambda: recorder.status().segments >= segments, 60)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    return recorder


@pytest.mark.integration
async def test_recording_segments_verify_and_one_changed_byte_is_found(
    ingest: RtpIngest, tmp_path: Path
) -> None:
    recorder = await _record(ingest, tmp_path / "rec", 3)
    assert recorder.status().state is RecordingState.STOPPED
    report = verify_recording(tmp_path / "rec")
    assert report.ok and report.segments_checked >= 3, report
    manifest = json.loads((tmp_path / "rec" / MANIFEST_NAME).read_text())
    second = tmp_path / "rec" / manifest["segments"][1]["file"]
    with av.open(str(second)) as container:  # a real, decodable MP4 (no transcoding happened)
        assert sum(1 for _ in container.decode(video=0)) == manifest["segments"][1]["frames"]
    data = bytearray(second.read_bytes())
    data[len(data) // 2] ^= 0x01
    second.write_bytes(bytes(data))
    report = verify_recording(tmp_path / "rec")
    assert not report.ok
    assert report.first_bad_segment == 1
    assert "SHA-256" in report.problems[0]


@pytest.mark.integration
async def test_editing_the_manifest_breaks_the_chain(ingest: RtpIngest, tmp_path: Path) -> None:
    await _record(ingest, tmp_path, 2)
    path = tmp_path / MANIFEST_NAME
    manifest = json.loads(path.read_text())
    manifest["segments"][0]["ended_at"] = "2000-01-01T00:00:00+00:00"
    path.write_text(json.dumps(manifest))
    report = verify_recording(tmp_path)
    assert report.first_bad_segment == 0 and "chain" in report.problems[0]


@pytest.mark.integration
async def test_export_holds_manifest_and_every_segment(ingest: RtpIngest, tmp_path: Path) -> None:
    await _record(ingest, tmp_path / "rec", 2)
    archive = export_recording(tmp_path / "rec", tmp_path / "export.zip")
    with zipfile.ZipFile(archive) as zf:
        names = set(zf.namelist())
        zf.extractall(tmp_path / "copy")
    assert MANIFEST_NAME in names and len(names) >= 3
    assert verify_recording(tmp_path / "copy").ok


@pytest.mark.integration
async def test_an_interrupted_recording_is_continued_in_the_same_chain(
    ingest: RtpIngest, tmp_path: Path
) -> None:
    directory = tmp_path / "rec"
    before = (await _record(ingest, directory, 2)).status().segments
    # What a killed service leaves: the open segment, never closed nor listed.
    (directory / f"seg_{before:05d}.mp4.partial").write_bytes(b"half a segment")
    resumed = StreamRecorder(ingest, directory, flight_id="flight-7", segment_s=0.5, resume=True)
    task = asyncio.create_task(resumed.run())
    await wait_for(lambda: resumed.status().segments >= before + 2, 60)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    report = verify_recording(directory)
    assert report.ok and report.segments_checked >= before + 2, report
    kept = directory / f"seg_{before:05d}.mp4.partial.interrupted"
    assert kept.read_bytes() == b"half a segment"


@pytest.mark.integration
async def test_a_recording_that_no_longer_verifies_is_not_continued(
    ingest: RtpIngest, tmp_path: Path
) -> None:
    await _record(ingest, tmp_path, 1)
    first = tmp_path / json.loads((tmp_path / MANIFEST_NAME).read_text())["segments"][0]["file"]
    first.write_bytes(first.read_bytes()[:-1])
    manifest_before = (tmp_path / MANIFEST_NAME).read_bytes()
    resumed = StreamRecorder(ingest, tmp_path, flight_id="flight-7", resume=True)
    await asyncio.wait_for(resumed.run(), 30)
    status = resumed.status()
    assert status.state is RecordingState.FAILED
    assert status.error is not None and "does not verify" in status.error
    assert (tmp_path / MANIFEST_NAME).read_bytes() == manifest_before


@pytest.mark.integration
async def test_a_recording_is_never_continued_without_asking(
    ingest: RtpIngest, tmp_path: Path
) -> None:
    await _record(ingest, tmp_path, 1)
    again = StreamRecorder(ingest, tmp_path, flight_id="flight-7")
    await asyncio.wait_for(again.run(), 30)
    assert again.status().state is RecordingState.FAILED
    assert "already holds a recording" in (again.status().error or "")


def test_verify_reports_missing_manifest(tmp_path: Path) -> None:
    report = verify_recording(tmp_path)
    assert not report.ok and "manifest" in report.problems[0]


@pytest.mark.integration
async def test_recorder_fails_cleanly_when_it_cannot_write(
    ingest: RtpIngest, tmp_path: Path
) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    recorder = StreamRecorder(ingest, blocker / "rec", flight_id="f")
    await asyncio.wait_for(recorder.run(), 30)
    status = recorder.status()
    assert status.state is RecordingState.FAILED and status.error
    assert ingest.status().viewers == 0


@pytest.mark.integration
async def test_snapshot_is_a_jpeg_of_the_live_picture(
    ingest: RtpIngest,
) -> None:
    await wait_for(lambda: len(ingest.current_gop()) >= 2)
    jpeg = snapshot_jpeg(ingest.current_gop())
    assert jpeg[:2] == b"\xff\xd8" and jpeg[-2:] == b"\xff\xd9"
