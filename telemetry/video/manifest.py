"""Per-flight recording manifest: each MP4 segment's SHA-256, chained by hash, and its verification.

`chain[i] = sha256(chain[i-1] + "|" + canonical JSON of segment i without its chain)`, starting from
`sha256("dfr-video-manifest/1|<flight_id>|<stream_key>")`. Changing, removing, reordering or
inserting a segment, or editing any listed field, breaks the chain from that segment on. Anyone who
can rewrite every file can also rebuild the chain, so the service also writes `head` to its audit
log each time a segment closes: comparing the two detects a rewritten manifest.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from telemetry.video.errors import ManifestError

MANIFEST_NAME = "manifest.json"
MANIFEST_FORMAT = "dfr-video-manifest/1"
_HASH_CHUNK_BYTES = 1 << 20


class SegmentEntry(BaseModel):
    """One closed MP4 segment."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    index: int
    file: str
    bytes: int
    sha256: str
    started_at: str  # ISO 8601 UTC
    ended_at: str
    frames: int
    prev_chain: str
    chain: str


class Manifest(BaseModel):
    """All segments of one flight's recording of one stream."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    format: str = MANIFEST_FORMAT
    flight_id: str
    stream_key: str
    created_at: str
    segments: tuple[SegmentEntry, ...] = ()
    head: str


class VerifyReport(BaseModel):
    """The outcome of re-checking a recording."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    ok: bool
    segments_checked: int
    first_bad_segment: int | None
    problems: tuple[str, ...]
    head: str | None


def genesis_hash(flight_id: str, stream_key: str) -> str:
    """The chain value before the first segment."""
    return hashlib.sha256(f"{MANIFEST_FORMAT}|{flight_id}|{stream_key}".encode()).hexdigest()


def chain_hash(prev_chain: str, fields: dict[str, object]) -> str:
    """The chain value of a segment given its fields (without `chain`)."""
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(f"{prev_chain}|{canonical}".encode()).hexdigest()


def file_sha256(path: Path) -> str:
    """SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_HASH_CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def new_manifest(flight_id: str, stream_key: str, created_at: str) -> Manifest:
    """An empty manifest."""
    return Manifest(
        flight_id=flight_id,
        stream_key=stream_key,
        created_at=created_at,
        head=genesis_hash(flight_id, stream_key),
    )


def with_segment(
    manifest: Manifest,
    *,
    file: str,
    size_bytes: int,
    sha256: str,
    started_at: str,
    ended_at: str,
    frames: int,
) -> Manifest:
    """`manifest` with one more segment appended and the chain extended."""
    fields: dict[str, object] = {
        "index": len(manifest.segments),
        "file": file,
        "bytes": size_bytes,
        "sha256": sha256,
        "started_at": started_at,
        "ended_at": ended_at,
        "frames": frames,
        "prev_chain": manifest.head,
    }
    entry = SegmentEntry.model_validate({**fields, "chain": chain_hash(manifest.head, fields)})
    return manifest.model_copy(
        update={"segments": (*manifest.segments, entry), "head": entry.chain}
    )


def write_manifest(directory: Path, manifest: Manifest) -> None:
    """Atomically replace the manifest (a failed write leaves the previous one intact)."""
    target = directory / MANIFEST_NAME
    tmp = directory / (MANIFEST_NAME + ".tmp")
    data = manifest.model_dump_json(indent=2).encode()
    with tmp.open("wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, target)


def read_manifest(directory: Path) -> Manifest:
    """Load a manifest (ManifestError if missing or malformed)."""
    path = directory / MANIFEST_NAME
    try:
        return Manifest.model_validate_json(path.read_bytes())
    except FileNotFoundError as exc:
        raise ManifestError(f"no {MANIFEST_NAME} in {directory}") from exc
    except ValidationError as exc:
        raise ManifestError(f"{path} is not a valid manifest: {exc}") from exc


def verify_recording(directory: Path) -> VerifyReport:
    """Re-hash every segment and re-check the chain; reports the first bad segment."""
    try:
        manifest = read_manifest(directory)
    except ManifestError as exc:
        return VerifyReport(
            ok=False, segments_checked=0, first_bad_segment=None, problems=(str(exc),), head=None
        )
    problems: list[str] = []
    first_bad: int | None = None
    prev = genesis_hash(manifest.flight_id, manifest.stream_key)
    if manifest.format != MANIFEST_FORMAT:
        problems.append(f"unknown manifest format {manifest.format!r}")
    for position, entry in enumerate(manifest.segments):
        reason = _check_segment(directory, position, entry, prev)
        if reason is not None:
            problems.append(f"segment {position} ({entry.file}): {reason}")
            if first_bad is None:
                first_bad = position
        prev = entry.chain
    if manifest.head != prev:
        problems.append("manifest head does not match the last segment's chain")
    listed = {entry.file for entry in manifest.segments}
    problems += [
        f"unlisted segment file {path.name}"
        for path in sorted(directory.glob("*.mp4"))
        if path.name not in listed
    ]
    return VerifyReport(
        ok=not problems,
        segments_checked=len(manifest.segments),
        first_bad_segment=first_bad,
        problems=tuple(problems),
        head=manifest.head,
    )


def _check_segment(directory: Path, position: int, entry: SegmentEntry, prev: str) -> str | None:
    if entry.index != position:
        return f"index {entry.index} out of order"
    if entry.prev_chain != prev:
        return "prev_chain does not continue the chain"
    fields = entry.model_dump(exclude={"chain"})
    if chain_hash(prev, fields) != entry.chain:
        return "chain hash does not match the entry"
    path = directory / entry.file
    if Path(entry.file).name != entry.file or not path.is_file():
        return "file missing"
    if path.stat().st_size != entry.bytes:
        return f"size {path.stat().st_size} != {entry.bytes} bytes"
    if file_sha256(path) != entry.sha256:
        return "SHA-256 mismatch (content changed)"
    return None
