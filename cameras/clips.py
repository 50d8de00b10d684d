"""Uploaded clips: file names and sizes admitted, SHA-256 of the bytes, and a PyAV probe."""

from __future__ import annotations

import hashlib
import unicodedata
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath

import av

from cameras.errors import CameraInputError, ClipTooLargeError

#: Containers an owner may upload (by file name; the probe decides whether it is video).
CLIP_EXTENSIONS = frozenset({".mp4", ".mov", ".avi", ".mkv"})
MAX_FILE_NAME_CHARS = 200
_HASH_BLOCK_BYTES = 1 << 20


@dataclass(frozen=True, slots=True)
class ClipProbe:
    """What PyAV reads from a clip's first video stream."""

    duration_s: float
    codec: str
    width: int
    height: int
    container: str


def checked_file_name(name: str) -> str:
    """The clip's file name if it is a plain name with a video extension, else CameraInputError."""
    normal = unicodedata.normalize("NFC", name)
    if not normal or len(normal) > MAX_FILE_NAME_CHARS:
        raise CameraInputError(f"must be 1 to {MAX_FILE_NAME_CHARS} characters", field="file_name")
    if any(unicodedata.category(c).startswith("C") for c in normal):
        raise CameraInputError("must not contain control characters", field="file_name")
    plain = PurePosixPath(normal).name == normal and PureWindowsPath(normal).name == normal
    if not plain or normal in (".", "..") or normal.startswith(".") or ".." in normal:
        raise CameraInputError(
            "must be a plain file name, not a path (no /, \\, .. or drive)", field="file_name"
        )
    suffix = PurePosixPath(normal).suffix.lower()
    if suffix not in CLIP_EXTENSIONS:
        raise CameraInputError(
            f"must end in one of {', '.join(sorted(CLIP_EXTENSIONS))}", field="file_name"
        )
    return normal


def checked_size(size_bytes: int, max_bytes: int) -> int:
    """The declared size if it is 1 up to `max_bytes`, else CameraInputError / ClipTooLargeError."""
    if size_bytes <= 0:
        raise CameraInputError("the file is empty (0 bytes)", field="size_bytes")
    if size_bytes > max_bytes:
        raise ClipTooLargeError(
            f"the file is {size_bytes} bytes; the limit is {max_bytes} bytes", field="size_bytes"
        )
    return size_bytes


def sha256_of(path: Path) -> str:
    """The SHA-256 of the file's bytes, hex (blocking: call from a worker thread)."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(_HASH_BLOCK_BYTES):
            digest.update(block)
    return digest.hexdigest()


def probe_clip(path: Path) -> ClipProbe:
    """Duration and codec of the clip's video stream, or CameraInputError when it is not video."""
    try:
        with av.open(str(path), mode="r") as container:
            video = next(iter(container.streams.video), None)
            if video is None:
                raise CameraInputError("the file holds no video stream", field="file")
            duration_s = 0.0
            if video.duration is not None and video.time_base is not None:
                duration_s = float(video.duration * video.time_base)
            elif container.duration is not None:
                duration_s = container.duration / av.time_base
            codec = video.codec_context.name or "unknown"
            return ClipProbe(
                duration_s=round(max(duration_s, 0.0), 3),
                codec=str(codec),
                width=int(video.codec_context.width or 0),
                height=int(video.codec_context.height or 0),
                container=str(container.format.name),
            )
    except av.FFmpegError as exc:
        raise CameraInputError("the file is not a video PyAV can read", field="file") from exc
