"""Records an ingested H.264 stream to MP4 segments without transcoding, hash-chained per flight.

Segments start on a keyframe once `segment_s` of video is in the current file, and on every stream
restart. A segment is written as `seg_NNNNN.mp4.partial`, renamed when closed, hashed and appended
to the manifest (atomically replaced), so a crash or a full disk loses at most the open segment and
never corrupts what was already recorded. On a write error the recorder stops in state FAILED with
the reason; the stream and its viewers are unaffected (the recorder is just one more subscriber).
"""

from __future__ import annotations

import asyncio
import enum
import logging
import os
import threading
import zipfile
from collections.abc import Callable
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from telemetry.video.errors import RecordingError
from telemetry.video.ingest import RtpIngest
from telemetry.video.manifest import (
    MANIFEST_NAME,
    Manifest,
    file_sha256,
    new_manifest,
    read_manifest,
    verify_recording,
    with_segment,
    write_manifest,
)
from telemetry.video.rtp import NAL_PPS, NAL_SPS, START_CODE, AccessUnit

log = logging.getLogger(__name__)

_TIME_BASE = Fraction(1, 90_000)


class RecordingState(enum.StrEnum):
    """Recorder lifecycle."""

    WAITING = "waiting"  # no keyframe yet
    RECORDING = "recording"
    STOPPED = "stopped"
    FAILED = "failed"


class RecordingStatus(BaseModel):
    """What the API shows about one recording."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    flight_id: str
    stream_key: str
    state: RecordingState
    segments: int
    bytes: int
    head: str
    error: str | None


def _nals(data: bytes) -> list[bytes]:
    return [part for part in data.split(START_CODE) if part]


def _now_utc() -> datetime:
    return datetime.now(UTC)


def _picture_size(unit: AccessUnit) -> tuple[int, int]:
    """Width and height of a keyframe, by decoding it once."""
    import av  # loaded on first use: see _SegmentFile

    ctx = av.CodecContext.create("h264", "r")
    frames = [*ctx.decode(av.Packet(unit.data)), *ctx.decode(None)]
    if not frames:
        raise RecordingError("the first keyframe could not be decoded")
    return frames[0].width, frames[0].height


class _SegmentFile:
    """One MP4 being written (blocking I/O: called from a worker thread)."""

    def __init__(self, path: Path, first: AccessUnit, size: tuple[int, int]) -> None:
        # PyAV loads here, in the recorder's worker thread, the first time a flight is recorded:
        # a service that never records does not pay its import at start-up.
        import av

        self.path = path
        self.frames = 0
        self.first_ts = first.timestamp_90khz
        self.last_ts = first.timestamp_90khz
        self._container: Any = av.open(str(path), "w", format="mp4")
        stream = self._container.add_stream("h264", rate=30)
        stream.width, stream.height = size
        stream.time_base = _TIME_BASE
        # The mp4 muxer converts Annex-B to avcC when extradata is Annex-B SPS/PPS.
        stream.codec_context.extradata = b"".join(
            START_CODE + nal for nal in _nals(first.data) if nal[0] & 0x1F in (NAL_SPS, NAL_PPS)
        )
        self._stream = stream

    def write(self, unit: AccessUnit) -> None:
        import av  # already loaded by __init__

        pts = unit.timestamp_90khz - self.first_ts
        packet = av.Packet(unit.data)
        packet.pts = packet.dts = pts
        packet.time_base = _TIME_BASE
        packet.stream = self._stream
        packet.is_keyframe = unit.keyframe
        self._container.mux(packet)
        self.frames += 1
        self.last_ts = unit.timestamp_90khz

    def close(self) -> None:
        self._container.close()


class StreamRecorder:
    """Records one stream for one flight into `directory` while `run()` is running.

    With `resume=True` a directory that already holds this flight's recording (the service was
    restarted mid-flight) is continued: new segments extend the same verified chain.
    """

    def __init__(
        self,
        ingest: RtpIngest,
        directory: Path,
        *,
        flight_id: str,
        segment_s: float = 10.0,
        now: Callable[[], datetime] = _now_utc,
        on_segment: Callable[[Manifest], None] | None = None,
        resume: bool = False,
    ) -> None:
        self._ingest = ingest
        self._resume = resume
        self.directory = directory
        self.flight_id = flight_id
        self._segment_90khz = int(segment_s * 90_000)
        self._now = now
        self._on_segment = on_segment
        self._state = RecordingState.WAITING
        self._error: str | None = None
        self._manifest: Manifest | None = None
        self._segment: _SegmentFile | None = None
        self._segment_started_at = ""
        self._generation: int | None = None
        self._size: tuple[int, int] | None = None
        # A cancelled run() closes the segment while its last write may still be in a worker
        # thread; libav crashes when a container is closed under a mux.
        self._segment_lock = threading.RLock()

    def status(self) -> RecordingStatus:
        """Current state and totals."""
        manifest = self._manifest
        return RecordingStatus(
            flight_id=self.flight_id,
            stream_key=self._ingest.stream_key,
            state=self._state,
            segments=0 if manifest is None else len(manifest.segments),
            bytes=0 if manifest is None else sum(s.bytes for s in manifest.segments),
            head="" if manifest is None else manifest.head,
            error=self._error,
        )

    async def run(self) -> None:
        """Record until cancelled; closes the open segment on the way out."""
        try:
            await asyncio.to_thread(self._open_directory)
            with self._ingest.subscribe(max_queue=300) as sub:
                while True:
                    unit = await sub.get()
                    await asyncio.to_thread(self._write, unit)
        except OSError as exc:
            self._fail(f"write failed: {exc}")
        except RecordingError as exc:
            self._fail(str(exc))
        finally:
            try:
                await asyncio.shield(asyncio.to_thread(self._close_segment))
            except (OSError, RecordingError) as exc:
                self._fail(f"closing the last segment failed: {exc}")
            if self._state is not RecordingState.FAILED:
                self._state = RecordingState.STOPPED

    def _fail(self, reason: str) -> None:
        log.error("recording of flight %s failed: %s", self.flight_id, reason)
        self._state = RecordingState.FAILED
        self._error = reason

    def _open_directory(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        if (self.directory / MANIFEST_NAME).exists():
            if not self._resume:
                raise RecordingError(f"{self.directory} already holds a recording")
            self._manifest = self._continue_chain()
            return
        self._manifest = new_manifest(
            self.flight_id, self._ingest.stream_key, self._now().isoformat()
        )
        write_manifest(self.directory, self._manifest)

    def _continue_chain(self) -> Manifest:
        """The manifest of an interrupted recording of this flight, checked before appending to it.

        A chain that no longer verifies is never extended: new segments would lend it credibility.
        The segment that was open when the recorder died has no closing index and is not in the
        chain; it is kept beside it (renamed, so the next segment cannot overwrite it).
        """
        report = verify_recording(self.directory)
        if not report.ok:
            raise RecordingError(
                f"{self.directory}: the earlier recording does not verify, so it is not continued: "
                + "; ".join(report.problems)
            )
        manifest = read_manifest(self.directory)
        if (manifest.flight_id, manifest.stream_key) != (self.flight_id, self._ingest.stream_key):
            raise RecordingError(
                f"{self.directory} holds flight {manifest.flight_id} from {manifest.stream_key}, "
                f"not flight {self.flight_id} from {self._ingest.stream_key}"
            )
        for partial in sorted(self.directory.glob("*.partial")):
            kept = partial.with_name(f"{partial.name}.interrupted")
            n = 1
            while kept.exists():
                n += 1
                kept = partial.with_name(f"{partial.name}.interrupted-{n}")
            os.replace(partial, kept)
            log.warning(
                "recording of flight %s: kept interrupted segment as %s", self.flight_id, kept
            )
        return manifest

    def _write(self, unit: AccessUnit) -> None:
        with self._segment_lock:
            segment = self._segment
            if segment is not None and (
                unit.generation != self._generation
                or (
                    unit.keyframe and unit.timestamp_90khz - segment.first_ts >= self._segment_90khz
                )
            ):
                self._close_segment()
                segment = None
            if segment is None:
                if not unit.keyframe:
                    return
                if self._size is None or unit.generation != self._generation:
                    self._size = _picture_size(unit)
                assert self._manifest is not None
                name = f"seg_{len(self._manifest.segments):05d}.mp4"
                segment = _SegmentFile(self.directory / (name + ".partial"), unit, self._size)
                self._segment = segment
                self._segment_started_at = self._now().isoformat()
                self._generation = unit.generation
                self._state = RecordingState.RECORDING
            segment.write(unit)

    def _close_segment(self) -> None:
        with self._segment_lock:
            segment, self._segment = self._segment, None
            if segment is None or self._manifest is None:
                return
            segment.close()
            final = segment.path.with_suffix("")  # drop ".partial"
            os.replace(segment.path, final)
            manifest = with_segment(
                self._manifest,
                file=final.name,
                size_bytes=final.stat().st_size,
                sha256=file_sha256(final),
                started_at=self._segment_started_at,
                ended_at=self._now().isoformat(),
                frames=segment.frames,
            )
            write_manifest(self.directory, manifest)
            self._manifest = manifest
            if self._on_segment is not None:
                self._on_segment(manifest)


def export_recording(directory: Path, archive: Path) -> Path:
    """A zip (stored, not recompressed) of the manifest and every listed segment."""
    manifest = read_manifest(directory)
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.write(directory / MANIFEST_NAME, MANIFEST_NAME)
        for entry in manifest.segments:
            zf.write(directory / entry.file, entry.file)
    return archive
