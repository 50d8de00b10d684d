"""Reading a PMTiles archive: a raster archive, a broken file, a tile URL, and what the console is told."""

from __future__ import annotations

import zlib
from pathlib import Path

import pytest
from pmtiles.tile import Compression, TileType, zxy_to_tileid
from pmtiles.writer import write

from dfr.basemap import NO_BASEMAP_HINT, BasemapArchiveError, TileArchives, basemap_config
from dfr.settings import MapSettings

#: The smallest valid PNG: one transparent pixel (a raster tile's bytes as stored).
PNG_1PX = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
    b"\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\x00\x01\x00\x00\x05\x00\x01\r\n-\xb4"
    b"\x00\x00\x00\x00IEND\xaeB`\x82"
)


def raster_archive(path: Path) -> Path:
    """A PNG PMTiles archive holding tiles 0/0/0 and 1/0/0 around the demo city's longitude."""
    with write(str(path)) as writer:
        writer.write_tile(zxy_to_tileid(0, 0, 0), PNG_1PX)
        # Other bytes than 0/0/0's: the writer would store equal tiles as one run.
        writer.write_tile(zxy_to_tileid(1, 0, 0), PNG_1PX + b"1")
        writer.finalize(
            {
                "tile_type": TileType.PNG,
                "tile_compression": Compression.NONE,
                "min_lon_e7": -1050000000,
                "min_lat_e7": 385000000,
                "max_lon_e7": -1045000000,
                "max_lat_e7": 390000000,
                "center_zoom": 1,
                "center_lon_e7": -1047500000,
                "center_lat_e7": 388300000,
            },
            {"attribution": "City aerial imagery"},
        )
    return path


def test_a_raster_archive_is_served_as_png_and_drawn_as_raster_with_its_credit(
    tmp_path: Path,
) -> None:
    archive = raster_archive(tmp_path / "aerial.pmtiles")
    archives = TileArchives()
    try:
        opened = archives.get(archive)
        assert (opened.info.extension, opened.info.media_type) == ("png", "image/png")
        assert not opened.gzipped
        assert opened.tile(0, 0, 0) == PNG_1PX
        assert opened.tile(1, 0, 0) == PNG_1PX + b"1"
        assert opened.tile(1, 1, 1) is None
        assert opened.tile(1, 2, 0) is None  # not a tile of the web map
        config = basemap_config(MapSettings(basemap=str(archive)), archives)
    finally:
        archives.close()
    assert config.kind == "raster"
    assert config.url == "/tiles/{z}/{x}/{y}.png"
    assert config.attribution == "City aerial imagery"
    assert (config.min_zoom, config.max_zoom) == (0, 1)


def test_a_file_that_is_not_pmtiles_is_refused_and_the_console_is_told_why(
    tmp_path: Path,
) -> None:
    broken = tmp_path / "broken.pmtiles"
    archives = TileArchives()
    for content in (b"PMTiles", zlib.compress(bytes(range(256)) * 8)):
        broken.write_bytes(content)
        with pytest.raises(BasemapArchiveError, match="not a PMTiles"):
            archives.get(broken)
    config = basemap_config(MapSettings(basemap=str(broken)), archives)
    assert config.kind == "none"
    assert "cannot be read" in config.hint
    assert NO_BASEMAP_HINT in config.hint


def test_a_tile_url_is_drawn_as_it_says_with_a_credit_naming_its_host() -> None:
    archives = TileArchives()
    raster = basemap_config(
        MapSettings(basemap="https://tiles.example.org/{z}/{x}/{y}.png", max_zoom=18), archives
    )
    assert (raster.kind, raster.max_zoom, raster.bounds) == ("raster", 18, None)
    assert raster.attribution == "Map tiles: tiles.example.org"
    vector = basemap_config(
        MapSettings(
            basemap="https://tiles.example.org/city/{z}/{x}/{y}.mvt", attribution="City GIS"
        ),
        archives,
    )
    assert (vector.kind, vector.attribution) == ("vector", "City GIS")
