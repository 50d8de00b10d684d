"""Clip names, sizes, hashes and the PyAV probe."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from cameras import (
    CameraInputError,
    ClipTooLargeError,
    checked_file_name,
    checked_size,
    probe_clip,
    sha256_of,
)
from tests.cameras.clips import tiny_mp4


@pytest.mark.parametrize(
    "name",
    [
        "../evil.mp4",
        "a/b.mp4",
        "C:\\x.mp4",
        "..\\x.mp4",
        ".hidden.mp4",
        "clip.exe",
        "x.mp4\x00.txt",
        "",
    ],
)
def test_a_path_like_or_non_video_file_name_is_refused(name: str) -> None:
    with pytest.raises(CameraInputError) as refused:
        checked_file_name(name)
    assert refused.value.field == "file_name"


@pytest.mark.parametrize("name", ["porch.mp4", "Driveway 2026-12-02.MOV", "cam.avi", "c.mkv"])
def test_a_plain_video_file_name_is_kept(name: str) -> None:
    assert checked_file_name(name) == name


def test_an_empty_or_oversized_file_is_refused() -> None:
    with pytest.raises(CameraInputError, match="empty"):
        checked_size(0, 100)
    with pytest.raises(ClipTooLargeError):
        checked_size(101, 100)
    assert checked_size(100, 100) == 100


def test_a_generated_mp4_is_probed_for_duration_and_codec(tmp_path: Path) -> None:
    clip = tiny_mp4(tmp_path / "c.mp4")
    probe = probe_clip(clip)
    assert probe.codec == "mpeg4"
    assert 0.5 <= probe.duration_s <= 1.5
    assert (probe.width, probe.height) == (64, 64)
    assert sha256_of(clip) == hashlib.sha256(clip.read_bytes()).hexdigest()


def test_a_file_that_is_not_video_is_refused_by_the_probe(tmp_path: Path) -> None:
    fake = tmp_path / "fake.mp4"
    fake.write_bytes(b"this is not a video at all " * 100)
    with pytest.raises(CameraInputError, match="not a video"):
        probe_clip(fake)
