"""A small OpenStreetMap XML extract around the demo city (38.83, -104.75), written by the tests."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

import mapbox_vector_tile

#: Centre of the area (the demo city) and the box the tests build.
CENTER_LAT_DEG = 38.83
CENTER_LON_DEG = -104.75
BBOX = "-104.78,38.81,-104.72,38.85"
#: name -> (highway class, [(lat, lon), ...]): two avenues across two boulevards.
STREETS: dict[str, tuple[str, list[tuple[float, float]]]] = {
    "Pikes Peak Avenue": ("primary", [(38.8340, -104.7700), (38.8340, -104.7300)]),
    "Galley Road": (
        "residential",
        [(38.8260, -104.7700), (38.8262, -104.7500), (38.8260, -104.7300)],
    ),
    "Academy Boulevard": ("secondary", [(38.8150, -104.7600), (38.8450, -104.7600)]),
    "Union Boulevard": (
        "tertiary",
        [(38.8150, -104.7420), (38.8300, -104.7410), (38.8450, -104.7420)],
    ),
}
STREET_NAMES = tuple(STREETS)
#: A road far outside the box: the build must leave it out.
OUTSIDE_STREET = ("Faraway Lane", [(39.50, -105.50), (39.51, -105.50)])


def _closed(ring: list[tuple[float, float]]) -> list[tuple[float, float]]:
    return [*ring, ring[0]]


def write_demo_streets(path: Path) -> Path:
    """Write the extract to `path` (.osm): the streets, a building, a park and a pond."""
    nodes: list[str] = []
    ways: list[str] = []
    next_id = [1]

    def node(lat: float, lon: float) -> int:
        ident = next_id[0]
        next_id[0] += 1
        nodes.append(f'  <node id="{ident}" version="1" lat="{lat:.7f}" lon="{lon:.7f}"/>')
        return ident

    def way(
        points: list[tuple[float, float]], tags: dict[str, str], *, closed: bool = False
    ) -> None:
        refs = [node(lat, lon) for lat, lon in points]
        if closed:
            refs.append(refs[0])
        ident = 1000 + len(ways)
        body = "".join(f'<nd ref="{r}"/>' for r in refs)
        body += "".join(f"<tag k={quoteattr(k)} v={quoteattr(v)}/>" for k, v in tags.items())
        ways.append(f'  <way id="{ident}" version="1">{body}</way>')

    for name, (kind, points) in STREETS.items():
        way(points, {"highway": kind, "name": name})
    way(OUTSIDE_STREET[1], {"highway": "residential", "name": OUTSIDE_STREET[0]})
    way(
        [(38.8300, -104.7560), (38.8300, -104.7540), (38.8315, -104.7540), (38.8315, -104.7560)],
        {"building": "yes", "name": "Station 4"},
        closed=True,
    )
    way(
        [(38.8360, -104.7580), (38.8360, -104.7450), (38.8420, -104.7450), (38.8420, -104.7580)],
        {"leisure": "park", "name": "Memorial Park"},
        closed=True,
    )
    way(
        [(38.8200, -104.7550), (38.8200, -104.7500), (38.8230, -104.7500), (38.8230, -104.7550)],
        {"natural": "water", "name": "Prospect Lake"},
        closed=True,
    )
    text = "\n".join(
        [
            '<?xml version="1.0" encoding="UTF-8"?>',
            '<osm version="0.6" generator="dfr tests">',
            *nodes,
            *ways,
            "</osm>",
            "",
        ]
    )
    path.write_text(text, encoding="utf-8")
    return path


def build_demo_basemap(directory: Path) -> Path:
    """The demo area's basemap, built by `dfr map build` from the extract (written to `directory`)."""
    from typer.testing import CliRunner

    from dfr.cli import app

    directory.mkdir(parents=True, exist_ok=True)
    extract = write_demo_streets(directory / "demo.osm")
    output = directory / "demo.pmtiles"
    args = ["map", "build", "--osm", str(extract), "--bbox", BBOX, "-o", str(output)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    return output


def decode_tile(data: bytes) -> dict[str, Any]:
    """An MVT tile (gzip or not) decoded by an independent reader: layer -> its features."""
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    decoded: dict[str, Any] = mapbox_vector_tile.decode(data)
    return decoded


def names_in(tile: dict[str, Any], layer: str) -> set[str]:
    """The `name` of every feature of a decoded tile's layer."""
    features = tile.get(layer, {}).get("features", [])
    return {f["properties"]["name"] for f in features if "name" in f["properties"]}
