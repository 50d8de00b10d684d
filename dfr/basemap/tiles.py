"""Tiles out of a PMTiles archive, cheaply: directories and recent tiles cached, the file read by offset.

The archive is opened once per file version (path, size, modification time), so a basemap rebuilt
in place by `dfr map build` is picked up by the next request without a restart. Reads use
`os.pread` on one descriptor, safe from the worker threads that serve tiles.
"""

from __future__ import annotations

import gzip
import json
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pmtiles.tile import (
    Compression,
    Entry,
    MagicNumberNotFound,
    SpecVersionUnsupported,
    TileType,
    deserialize_directory,
    deserialize_header,
    find_tile,
    zxy_to_tileid,
)

from dfr.basemap.errors import BasemapArchiveError

__all__ = ["MAX_ZOOM", "TILE_FORMATS", "ArchiveInfo", "TileArchive", "TileArchives", "valid_tile"]

#: The deepest zoom PMTiles (and any web map) addresses.
MAX_ZOOM = 30
#: Tile type -> (URL extension, media type).
TILE_FORMATS: dict[TileType, tuple[str, str]] = {
    TileType.MVT: ("mvt", "application/vnd.mapbox-vector-tile"),
    TileType.PNG: ("png", "image/png"),
    TileType.JPEG: ("jpg", "image/jpeg"),
    TileType.WEBP: ("webp", "image/webp"),
    TileType.AVIF: ("avif", "image/avif"),
}
_HEADER_BYTES = 127
_MAX_DIRECTORY_DEPTH = 4
_CACHED_DIRECTORIES = 64
_CACHED_TILE_BYTES = 32 * 1_048_576


def valid_tile(z: int, x: int, y: int) -> bool:
    """Whether z/x/y names a tile of the web map at all."""
    return 0 <= z <= MAX_ZOOM and 0 <= x < (1 << z) and 0 <= y < (1 << z)


@dataclass(frozen=True, slots=True)
class ArchiveInfo:
    """What the console needs to know of an archive: format, zooms, extent, credit."""

    extension: str
    media_type: str
    vector: bool
    min_zoom: int
    max_zoom: int
    west_deg: float
    south_deg: float
    east_deg: float
    north_deg: float
    center_lat_deg: float
    center_lon_deg: float
    attribution: str
    layers: tuple[str, ...]


class TileArchive:
    """One open PMTiles file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            # A file object, not a bare descriptor: an archive dropped while read is closed by the
            # collector once its last reader is done.
            self._file = path.open("rb")
        except OSError as exc:
            raise BasemapArchiveError(f"cannot open basemap {path}: {exc.strerror}") from exc
        self._lock = threading.Lock()
        self._directories: OrderedDict[tuple[int, int], list[Entry]] = OrderedDict()
        self._tiles: OrderedDict[tuple[int, int, int], bytes | None] = OrderedDict()
        self._tile_bytes = 0
        try:
            stat = os.fstat(self._file.fileno())
            #: Names this version of the file (an HTTP ETag prefix).
            self.version = f"{stat.st_mtime_ns:x}-{stat.st_size:x}"
            head = os.pread(self._file.fileno(), _HEADER_BYTES, 0)
            if len(head) < _HEADER_BYTES:
                raise ValueError("shorter than a PMTiles header")
            self._header = deserialize_header(head)
            if self._header["tile_type"] not in TILE_FORMATS:
                raise BasemapArchiveError(f"basemap {path}: unknown tile type")
            if self._header["internal_compression"] != Compression.GZIP:
                # The pmtiles reader decodes gzip directories only (what every writer makes).
                raise BasemapArchiveError(f"basemap {path}: directories are not gzip-compressed")
            self.info = self._describe()
        except (MagicNumberNotFound, SpecVersionUnsupported, ValueError, IndexError) as exc:
            self._file.close()
            raise BasemapArchiveError(f"{path} is not a PMTiles v3 archive") from exc
        except BaseException:
            self._file.close()
            raise

    @property
    def gzipped(self) -> bool:
        """Whether tiles are stored gzip-compressed (tippecanoe's default for vector tiles)."""
        return self._header["tile_compression"] == Compression.GZIP

    def _read(self, offset: int, length: int) -> bytes:
        data = os.pread(self._file.fileno(), length, offset)
        if len(data) != length:
            raise BasemapArchiveError(f"basemap {self.path} is truncated")
        return data

    def _describe(self) -> ArchiveInfo:
        header = self._header
        metadata = self._metadata()
        extension, media_type = TILE_FORMATS[header["tile_type"]]
        layers = tuple(
            str(layer.get("id"))
            for layer in metadata.get("vector_layers", [])
            if isinstance(layer, dict) and layer.get("id")
        )
        return ArchiveInfo(
            extension=extension,
            media_type=media_type,
            vector=header["tile_type"] == TileType.MVT,
            min_zoom=header["min_zoom"],
            max_zoom=header["max_zoom"],
            west_deg=header["min_lon_e7"] / 1e7,
            south_deg=header["min_lat_e7"] / 1e7,
            east_deg=header["max_lon_e7"] / 1e7,
            north_deg=header["max_lat_e7"] / 1e7,
            center_lat_deg=header["center_lat_e7"] / 1e7,
            center_lon_deg=header["center_lon_e7"] / 1e7,
            attribution=str(metadata.get("attribution") or ""),
            layers=layers,
        )

    def _metadata(self) -> dict[str, Any]:
        header = self._header
        if not header["metadata_length"]:
            return {}
        raw = self._read(header["metadata_offset"], header["metadata_length"])
        if header["internal_compression"] == Compression.GZIP:
            raw = gzip.decompress(raw)
        try:
            metadata = json.loads(raw)
        except ValueError:
            return {}
        return metadata if isinstance(metadata, dict) else {}

    def _directory(self, offset: int, length: int) -> list[Entry]:
        key = (offset, length)
        with self._lock:
            entries = self._directories.get(key)
            if entries is not None:
                self._directories.move_to_end(key)
                return entries
        entries = deserialize_directory(self._read(offset, length))
        with self._lock:
            self._directories[key] = entries
            while len(self._directories) > _CACHED_DIRECTORIES:
                self._directories.popitem(last=False)
        return entries

    def _lookup(self, z: int, x: int, y: int) -> bytes | None:
        tile_id = zxy_to_tileid(z, x, y)
        offset, length = self._header["root_offset"], self._header["root_length"]
        for _ in range(_MAX_DIRECTORY_DEPTH):
            entry = find_tile(self._directory(offset, length), tile_id)
            if entry is None:
                return None
            if entry.run_length > 0:
                return self._read(self._header["tile_data_offset"] + entry.offset, entry.length)
            offset = self._header["leaf_directory_offset"] + entry.offset
            length = entry.length
        return None

    def tile(self, z: int, x: int, y: int) -> bytes | None:
        """The tile's bytes as stored (see `gzipped`), or None where the archive has none."""
        if not valid_tile(z, x, y):
            return None
        key = (z, x, y)
        with self._lock:
            if key in self._tiles:
                self._tiles.move_to_end(key)
                return self._tiles[key]
        data = self._lookup(z, x, y)
        with self._lock:
            if key not in self._tiles:
                self._tiles[key] = data
                self._tile_bytes += len(data or b"")
            while self._tile_bytes > _CACHED_TILE_BYTES and self._tiles:
                _, dropped = self._tiles.popitem(last=False)
                self._tile_bytes -= len(dropped or b"")
        return data

    def close(self) -> None:
        """Close the file (tiles read after this fail)."""
        self._file.close()


class TileArchives:
    """Open archives by path, reopened when the file on disk changes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: dict[Path, tuple[tuple[int, int, int], TileArchive]] = {}

    def get(self, path: Path) -> TileArchive:
        """The archive at `path` as it is on disk now."""
        try:
            stat = path.stat()
        except OSError as exc:
            raise BasemapArchiveError(f"basemap {path} is missing: {exc.strerror}") from exc
        identity = (stat.st_ino, stat.st_size, stat.st_mtime_ns)
        with self._lock:
            held = self._open.get(path)
            if held is not None and held[0] == identity:
                return held[1]
            archive = TileArchive(path)
            self._open[path] = (identity, archive)
        # The replaced version may still be read by a request in flight: it is left to the
        # collector rather than closed under that reader.
        return archive

    def close(self) -> None:
        """Close every archive."""
        with self._lock:
            for _, archive in self._open.values():
                archive.close()
            self._open.clear()
