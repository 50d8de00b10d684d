"""`dfr map build`: an OpenStreetMap extract the test writes -> a PMTiles basemap with its streets."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from pmtiles.reader import MmapSource, Reader, all_tiles
from pmtiles.tile import TileType
from pydantic import ValidationError
from typer.testing import CliRunner

from dfr.basemap.build import BoundingBox
from dfr.basemap.errors import BasemapBuildError
from dfr.cli import app
from dfr.fleet import DEMO_FLEET_FILE
from dfr.settings import MapSettings
from tests.dfr.basemap_area import (
    BBOX,
    OUTSIDE_STREET,
    STREET_NAMES,
    build_demo_basemap,
    decode_tile,
    names_in,
    write_demo_streets,
)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_demo_basemap(tmp_path_factory.mktemp("basemap"))


def test_map_build_writes_a_vector_pmtiles_archive_of_the_box_with_osm_credit(built: Path) -> None:
    with built.open("rb") as f:
        reader = Reader(MmapSource(f))
        header, metadata = reader.header(), reader.metadata()
    assert header["tile_type"] == TileType.MVT
    assert (header["min_zoom"], header["max_zoom"]) == (10, 15)
    west, south, east, north = (float(v) for v in BBOX.split(","))
    assert west <= header["min_lon_e7"] / 1e7 and header["max_lon_e7"] / 1e7 <= east
    assert south <= header["min_lat_e7"] / 1e7 and header["max_lat_e7"] / 1e7 <= north
    assert metadata["attribution"] == "© OpenStreetMap contributors"
    assert {layer["id"] for layer in metadata["vector_layers"]} == {
        "roads",
        "buildings",
        "water",
        "landuse",
    }


def test_map_build_keeps_every_named_street_of_the_box_and_drops_one_outside(built: Path) -> None:
    names: set[str] = set()
    layers: set[str] = set()
    with built.open("rb") as f:
        for (z, _, _), data in all_tiles(MmapSource(f)):
            if z == 15:
                tile = decode_tile(data)
                layers |= set(tile)
                names |= names_in(tile, "roads")
    assert names == set(STREET_NAMES)
    assert OUTSIDE_STREET[0] not in names
    assert {"roads", "buildings", "water", "landuse"} <= layers


def test_map_build_refuses_a_malformed_box_and_writes_nothing(tmp_path: Path) -> None:
    extract = write_demo_streets(tmp_path / "demo.osm")
    output = tmp_path / "out.pmtiles"
    for bbox in ("1,2,3", "-104.72,38.81,-104.78,38.85", "a,b,c,d"):
        result = CliRunner().invoke(
            app, ["map", "build", "--osm", str(extract), "--bbox", bbox, "-o", str(output)]
        )
        assert result.exit_code == 2, result.output
        assert "--bbox" in result.output
    assert not output.exists()


def test_map_build_refuses_a_box_with_nothing_to_draw(tmp_path: Path) -> None:
    extract = write_demo_streets(tmp_path / "demo.osm")
    output = tmp_path / "out.pmtiles"
    args = ["map", "build", "--osm", str(extract), "--bbox", "10,10,10.1,10.1", "-o", str(output)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert "nothing to draw" in result.output
    assert not output.exists()


def test_bounding_box_reads_west_south_east_north() -> None:
    box = BoundingBox.parse(" -104.78, 38.81 ,-104.72,38.85")
    assert (box.west_deg, box.south_deg, box.east_deg, box.north_deg) == (
        -104.78,
        38.81,
        -104.72,
        38.85,
    )
    with pytest.raises(BasemapBuildError, match="south"):
        BoundingBox.parse("-104.78,89,-104.72,89.5")


def test_map_settings_refuse_a_missing_archive_and_a_url_without_tile_coordinates(
    tmp_path: Path,
) -> None:
    with pytest.raises(ValidationError, match="does not exist"):
        MapSettings(basemap=str(tmp_path / "missing.pmtiles"))
    with pytest.raises(ValidationError, match=r"\{z\}"):
        MapSettings(basemap="https://tiles.example.org/street.png")
    with pytest.raises(ValidationError, match=".pmtiles file or an http"):
        MapSettings(basemap=str(tmp_path / "area.mbtiles"))
    assert MapSettings(basemap=" ").basemap is None


def test_the_demo_basemap_is_built_offline_over_every_demo_dock_once(tmp_path: Path) -> None:
    from dfr.basemap.demo_area import DEMO_ATTRIBUTION, demo_basemap

    built = demo_basemap(tmp_path)
    assert built is not None
    with built.open("rb") as f:
        reader = Reader(MmapSource(f))
        header, metadata = reader.header(), reader.metadata()
        tiles = {zxy: data for zxy, data in all_tiles(MmapSource(f)) if zxy[0] == 13}
    assert metadata["attribution"] == DEMO_ATTRIBUTION
    docks = tomllib.loads(DEMO_FLEET_FILE.read_text())["docks"]
    assert docks
    for dock in docks:
        assert header["min_lat_e7"] / 1e7 < dock["lat"] < header["max_lat_e7"] / 1e7
        assert header["min_lon_e7"] / 1e7 < dock["lon"] < header["max_lon_e7"] / 1e7
    assert any("Aspen Street" in names_in(decode_tile(t), "roads") for t in tiles.values())
    stamp = built.stat().st_mtime_ns
    assert demo_basemap(tmp_path) == built
    assert built.stat().st_mtime_ns == stamp


def test_map_build_reads_an_osm_pbf_extract_as_geofabrik_ships_them(tmp_path: Path) -> None:
    import osmium

    xml = write_demo_streets(tmp_path / "demo.osm")
    pbf = tmp_path / "demo.osm.pbf"
    with osmium.SimpleWriter(str(pbf)) as writer:
        for obj in osmium.FileProcessor(str(xml)):
            writer.add(obj)
    output = tmp_path / "from-pbf.pmtiles"
    args = ["map", "build", "--osm", str(pbf), "--bbox", BBOX, "-o", str(output)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "roads 4" in result.output
    with output.open("rb") as f:
        names = set().union(
            *(
                names_in(decode_tile(d), "roads")
                for (z, _, _), d in all_tiles(MmapSource(f))
                if z == 15
            )
        )
    assert names == set(STREET_NAMES)
