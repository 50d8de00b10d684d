"""`/tiles/{z}/{x}/{y}.mvt` serves the PMTiles basemap built by `dfr map build`; `/me` tells the console."""

from __future__ import annotations

import math
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from dfr.fleet import DEMO_FLEET_FILE
from dfr.main import create_app
from dfr.models import Role
from dfr.security_headers import content_security_policy
from dfr.service import Run
from dfr.settings import MapSettings, Settings
from tests.dfr.basemap_area import (
    CENTER_LAT_DEG,
    CENTER_LON_DEG,
    STREET_NAMES,
    build_demo_basemap,
    decode_tile,
    names_in,
)
from tests.dfr.console.conftest import LiveService, serving

pytestmark = [pytest.mark.integration]


def tile_of(lat_deg: float, lon_deg: float, z: int) -> tuple[int, int]:
    """The web-map tile x, y holding a point at zoom z."""
    n = 1 << z
    x = int((lon_deg + 180.0) / 360.0 * n)
    y = int((1.0 - math.asinh(math.tan(math.radians(lat_deg))) / math.pi) / 2.0 * n)
    return x, y


@pytest.fixture(scope="module")
def basemap(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_demo_basemap(tmp_path_factory.mktemp("tiles"))


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory, basemap: Path
) -> Iterator[tuple[LiveService, Path]]:
    """One service for the module (starting one is the slow part), on its own copy of the basemap."""
    directory = tmp_path_factory.mktemp("served")
    archive = directory / "area.pmtiles"
    shutil.copy(basemap, archive)
    with pytest.MonkeyPatch.context() as env:
        for name in [k for k in os.environ if k.startswith("DFR_")]:
            env.delenv(name)
        settings = Settings(
            mode="test",
            data_dir=directory / "data",
            fleet_file=DEMO_FLEET_FILE,
            map=MapSettings(basemap=str(archive)),
        )
    with serving(create_app(settings, run=Run.NONE), "dfr-tiles-service") as service:
        yield service, archive


def test_a_tile_over_the_demo_city_is_a_gzip_vector_tile_naming_its_streets(
    served: tuple[LiveService, Path],
) -> None:
    service, _ = served
    x, y = tile_of(CENTER_LAT_DEG, CENTER_LON_DEG, 13)
    response = httpx.get(f"{service.base_url}/tiles/13/{x}/{y}.mvt")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/vnd.mapbox-vector-tile"
    assert response.headers["content-encoding"] == "gzip"
    assert "max-age" in response.headers["cache-control"]
    tile = decode_tile(response.content)
    assert names_in(tile, "roads") == set(STREET_NAMES)
    assert {"buildings", "water", "landuse"} <= set(tile)


def test_a_client_without_gzip_gets_the_tile_uncompressed(
    served: tuple[LiveService, Path],
) -> None:
    service, _ = served
    x, y = tile_of(CENTER_LAT_DEG, CENTER_LON_DEG, 13)
    with httpx.Client(headers={"Accept-Encoding": "identity"}) as client:
        response = client.get(f"{service.base_url}/tiles/13/{x}/{y}.mvt")
    assert response.status_code == 200
    assert "content-encoding" not in response.headers
    assert response.content[:2] != b"\x1f\x8b"
    assert names_in(decode_tile(response.content), "roads") == set(STREET_NAMES)


def test_an_unchanged_tile_is_not_sent_again_and_a_rebuilt_basemap_is_served_at_once(
    served: tuple[LiveService, Path], basemap: Path, tmp_path: Path
) -> None:
    service, archive = served
    x, y = tile_of(CENTER_LAT_DEG, CENTER_LON_DEG, 12)
    url = f"{service.base_url}/tiles/12/{x}/{y}.mvt"
    first = httpx.get(url)
    etag = first.headers["etag"]
    assert httpx.get(url, headers={"If-None-Match": etag}).status_code == 304
    # Rebuilt in place (another version of the file): a new tag, no restart.
    rebuilt = build_demo_basemap(tmp_path / "rebuild")
    shutil.copy(rebuilt, archive.with_suffix(".new"))
    archive.with_suffix(".new").replace(archive)
    again = httpx.get(url, headers={"If-None-Match": etag})
    assert again.status_code == 200
    assert again.headers["etag"] != etag


def test_a_tile_of_the_web_map_outside_the_basemap_is_empty(
    served: tuple[LiveService, Path],
) -> None:
    service, _ = served
    x, y = tile_of(51.5, -0.12, 12)
    response = httpx.get(f"{service.base_url}/tiles/12/{x}/{y}.mvt")
    assert response.status_code == 204
    assert response.content == b""


@pytest.mark.parametrize(
    "path",
    [
        "/tiles/3/8/0.mvt",  # x beyond 2^z
        "/tiles/3/0/-1.mvt",
        "/tiles/31/0/0.mvt",  # deeper than any web map
        "/tiles/16/13699/25086.mvt",  # deeper than the archive
        "/tiles/9/106/195.mvt",  # shallower than the archive
        "/tiles/13/1712/3135.png",  # not the archive's format
    ],
)
def test_a_tile_out_of_range_is_a_404_problem(served: tuple[LiveService, Path], path: str) -> None:
    service, _ = served
    response = httpx.get(service.base_url + path)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == 404


def test_the_console_is_told_to_draw_the_served_vector_basemap_with_its_credit(
    served: tuple[LiveService, Path],
) -> None:
    service, _ = served
    with service.http(Role.DISPATCHER) as client:
        basemap = client.get("/api/v1/me").json()["console"]["basemap"]
    assert basemap["kind"] == "vector"
    assert basemap["url"] == "/tiles/{z}/{x}/{y}.mvt"
    assert basemap["attribution"] == "© OpenStreetMap contributors"
    assert (basemap["min_zoom"], basemap["max_zoom"]) == (10, 15)
    west, south, east, north = basemap["bounds"]
    assert west < CENTER_LON_DEG < east and south < CENTER_LAT_DEG < north


def test_without_a_basemap_tiles_are_404_and_the_console_gets_the_hint(tmp_path: Path) -> None:
    settings = Settings(mode="test", data_dir=tmp_path / "data", fleet_file=DEMO_FLEET_FILE)
    with serving(create_app(settings, run=Run.NONE), "dfr-tiles-none") as service:
        response = httpx.get(f"{service.base_url}/tiles/13/1712/3135.mvt")
        with service.http(Role.DISPATCHER) as client:
            basemap = client.get("/api/v1/me").json()["console"]["basemap"]
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert basemap["kind"] == "none"
    assert "DFR_MAP__BASEMAP" in basemap["hint"]


def test_a_remote_basemap_adds_only_its_origin_to_the_policy() -> None:
    vector = content_security_policy(None, "https://tiles.example.org/city/{z}/{x}/{y}.mvt")
    assert "connect-src 'self' ws: wss: https://tiles.example.org" in vector
    assert "img-src 'self' data: blob:;" in vector
    raster = content_security_policy(None, "https://{s}.tiles.example.org/{z}/{x}/{y}.png")
    assert "img-src 'self' data: blob: https://*.tiles.example.org" in raster
    assert "connect-src 'self' ws: wss:;" in raster
    assert content_security_policy(None, "/srv/area.pmtiles") == content_security_policy()
